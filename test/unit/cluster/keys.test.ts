/**
 * The etcd values of the cluster metadata (src/cluster/keys.ts): the bytes written are the JSON of
 * docs/cluster.md (checked against hand-written JSON, not only round-tripped), and every field is
 * checked when read, so a malformed value is reported rather than trusted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brokerKey, clusterIdKey, decodeClusterId, decodeInterBrokerSecret, decodeRegistration, encodeClusterId, encodeInterBrokerSecret, encodeRegistration, interBrokerSecretKey, decodePartition, decodeProducerIdBlock, decodeTopic, encodePartition, encodeProducerIdBlock, encodeTopic, partitionKey, partitionOfKey, producerIdBlockKey, reassigning, targetReplicas, topicKey, topicOfKey, topicPartitionsPrefix } from '../../../src/cluster/keys.js';
import type { PartitionRecord } from '../../../src/cluster/keys.js';

const topicId = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

const topicJson = { formatVersion: 1, topicId: '00112233445566778899aabbccddeeff', partitionCount: 2, configs: { 'retention.ms': '60000' }, replicaAssignment: [[1, 2], [2, 3]] };
const partitionJson = { formatVersion: 1, replicas: [1, 2, 3], leader: 2, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 7 };

test('keys: topics and partitions under /osprey/, read back to their names', () => {
  assert.equal(topicKey('orders'), '/osprey/topics/orders');
  assert.equal(partitionKey('orders', 11), '/osprey/partitions/orders/11');
  assert.equal(topicPartitionsPrefix('a'), '/osprey/partitions/a/');
  assert.equal(topicOfKey('/osprey/topics/orders.eu_1-x'), 'orders.eu_1-x');
  assert.deepEqual(partitionOfKey('/osprey/partitions/orders/11'), { topic: 'orders', index: 11 });
  for (const key of ['/osprey/topics/', '/osprey/topics/a/b', '/osprey/brokers/1']) assert.equal(topicOfKey(key), null, key);
  for (const key of ['/osprey/partitions/orders/', '/osprey/partitions/orders/01', '/osprey/partitions/orders/-1', '/osprey/partitions/orders', '/osprey/partitions/a/b/1']) assert.equal(partitionOfKey(key), null, key);
});

test('topic value: written as documented, read field by field', () => {
  const encoded = encodeTopic({ topicId, partitionCount: 2, configs: new Map([['retention.ms', '60000']]), replicaAssignment: [[1, 2], [2, 3]] });
  assert.deepEqual(JSON.parse(encoded.toString('utf8')), topicJson);
  const decoded = decodeTopic(json(topicJson));
  assert.ok(!(decoded instanceof Error), String(decoded));
  assert.ok(decoded.topicId.equals(topicId));
  assert.equal(decoded.partitionCount, 2);
  assert.deepEqual([...decoded.configs], [['retention.ms', '60000']]);
  assert.deepEqual(decoded.replicaAssignment, [[1, 2], [2, 3]]);
});

test('topic value: every malformed field is refused, naming it', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ formatVersion: 2 }, /formatVersion 2 is not 1/],
    [{ topicId: 'ABCD' }, /topicId/],
    [{ topicId: '00112233445566778899AABBCCDDEEFF' }, /topicId/],
    [{ partitionCount: 0 }, /partitionCount/],
    [{ partitionCount: 1.5 }, /partitionCount/],
    [{ configs: [] }, /configs is not an object/],
    [{ configs: { 'retention.ms': 60000 } }, /config retention\.ms is not a string/],
    [{ replicaAssignment: [[1, 2]] }, /does not list every partition/],
    [{ replicaAssignment: [[1, 2], []] }, /replicaAssignment\[1\] is not a non-empty list/],
    [{ replicaAssignment: [[1, 1], [2, 3]] }, /replicaAssignment\[0\] names a broker twice/],
    [{ replicaAssignment: [[1, -2], [2, 3]] }, /replicaAssignment\[0\] holds something that is not a node id/],
  ];
  for (const [change, problem] of cases) {
    const decoded = decodeTopic(json({ ...topicJson, ...change }));
    assert.ok(decoded instanceof Error, `accepted ${JSON.stringify(change)}`);
    assert.match(decoded.message, problem);
  }
  assert.match(String(decodeTopic(Buffer.from('{"formatVersion":1'))), /not JSON/);
  assert.match(String(decodeTopic(json([topicJson]))), /not a JSON object/);
});

test('partition value: written as documented, read field by field', () => {
  const encoded = encodePartition({ replicas: [1, 2, 3], leader: 2, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 7 });
  assert.deepEqual(JSON.parse(encoded.toString('utf8')), partitionJson);
  assert.deepEqual(decodePartition(json(partitionJson)), { replicas: [1, 2, 3], leader: 2, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 7 });
  // Offline: leader -1, the ISR kept.
  assert.deepEqual(decodePartition(json({ ...partitionJson, leader: -1, isr: [2] })), { replicas: [1, 2, 3], leader: -1, leaderEpoch: 4, isr: [2], partitionEpoch: 7 });
});

test('partition value: a reassignment under way is written and read back; records without its fields read as none', () => {
  const moving = { replicas: [2, 3, 1], leader: 1, leaderEpoch: 4, isr: [1, 2], partitionEpoch: 8, addingReplicas: [3], removingReplicas: [1] };
  assert.deepEqual(JSON.parse(encodePartition(moving).toString('utf8')), { formatVersion: 1, ...moving });
  assert.deepEqual(decodePartition(encodePartition(moving)), moving);
  // Ended (empty lists): written without the fields, as records were before reassignment existed.
  assert.deepEqual(JSON.parse(encodePartition({ ...moving, addingReplicas: [], removingReplicas: [] }).toString('utf8')), { formatVersion: 1, replicas: [2, 3, 1], leader: 1, leaderEpoch: 4, isr: [1, 2], partitionEpoch: 8 });
  assert.equal(reassigning(decodePartition(json(partitionJson)) as PartitionRecord), false);
  assert.deepEqual(targetReplicas(moving), [2, 3]);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ addingReplicas: [4] }, /addingReplicas holds a broker that is not a replica/],
    [{ removingReplicas: 'x' }, /removingReplicas is not a list/],
    [{ addingReplicas: [1], removingReplicas: [1] }, /both being added and removed/],
    [{ removingReplicas: [1, 2, 3] }, /every replica is being removed/],
  ];
  for (const [change, problem] of cases) {
    const decoded = decodePartition(json({ ...partitionJson, ...change }));
    assert.ok(decoded instanceof Error, `accepted ${JSON.stringify(change)}`);
    assert.match(decoded.message, problem);
  }
});

test('partition value: every malformed field is refused, naming it', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ replicas: [] }, /replicas is not a non-empty list/],
    [{ leader: 4 }, /leader 4 is neither -1 nor one of the replicas/],
    [{ leader: '2' }, /leader "2" is neither/],
    [{ leader: 1 }, /the leader is not in the isr/],
    [{ leaderEpoch: -1 }, /leaderEpoch/],
    [{ partitionEpoch: 0.5 }, /partitionEpoch/],
    [{ isr: [] }, /isr is not a non-empty list/],
    [{ isr: [2, 4] }, /isr holds a broker that is not a replica/],
    [{ formatVersion: undefined }, /formatVersion undefined is not 1/],
  ];
  for (const [change, problem] of cases) {
    const decoded = decodePartition(json({ ...partitionJson, ...change }));
    assert.ok(decoded instanceof Error, `accepted ${JSON.stringify(change)}`);
    assert.match(decoded.message, problem);
  }
});

test('producer id block value: written as documented, read field by field', () => {
  assert.equal(producerIdBlockKey, '/osprey/producer-id-block');
  assert.deepEqual(JSON.parse(encodeProducerIdBlock({ nextProducerId: 5000 }).toString('utf8')), { formatVersion: 1, nextProducerId: 5000 });
  assert.deepEqual(decodeProducerIdBlock(json({ formatVersion: 1, nextProducerId: 0 })), { nextProducerId: 0 });
  for (const bad of [{ formatVersion: 2, nextProducerId: 5 }, { formatVersion: 1 }, { formatVersion: 1, nextProducerId: -1 }, { formatVersion: 1, nextProducerId: 1.5 }, { formatVersion: 1, nextProducerId: '5000' }, { formatVersion: 1, nextProducerId: 2 ** 53 }]) {
    assert.ok(decodeProducerIdBlock(json(bad)) instanceof Error, JSON.stringify(bad));
  }
});

test('cluster id value: written as documented, read back; anything but a non-empty id is refused', () => {
  assert.equal(clusterIdKey, '/osprey/cluster-id');
  assert.deepEqual(JSON.parse(encodeClusterId('Zx_3-a').toString('utf8')), { formatVersion: 1, clusterId: 'Zx_3-a' });
  assert.equal(decodeClusterId(json({ formatVersion: 1, clusterId: 'Zx_3-a' })), 'Zx_3-a');
  for (const clusterId of ['', 'a b', 'a/b', 7, null]) {
    const decoded = decodeClusterId(json({ formatVersion: 1, clusterId }));
    assert.ok(decoded instanceof Error, `${JSON.stringify(clusterId)} refused`);
    assert.match(decoded.message, /^cluster id: /);
  }
  assert.ok(decodeClusterId(json({ formatVersion: 2, clusterId: 'a' })) instanceof Error);
});

test('registration value: written as documented with and without amqpPort, read back; a bad amqpPort is refused', () => {
  assert.equal(brokerKey(2), '/osprey/brokers/2');
  const withAmqp = { nodeId: 2, host: '10.0.0.2', kafkaPort: 9092, amqpPort: 5672, rack: 'eu-1a', leaseTtlSeconds: 10 };
  assert.deepEqual(JSON.parse(encodeRegistration(withAmqp).toString('utf8')), { formatVersion: 1, ...withAmqp });
  assert.deepEqual(decodeRegistration(encodeRegistration(withAmqp)), withAmqp);
  // The AMQP listener off: no amqpPort field at all, and none read back (not even as undefined).
  const withoutAmqp = { nodeId: 3, host: 'broker-3', kafkaPort: 19092, rack: null, leaseTtlSeconds: 5 };
  assert.deepEqual(JSON.parse(encodeRegistration(withoutAmqp).toString('utf8')), { formatVersion: 1, ...withoutAmqp });
  const decoded = decodeRegistration(encodeRegistration(withoutAmqp));
  assert.deepEqual(decoded, withoutAmqp);
  assert.equal('amqpPort' in decoded, false);
  for (const port of [1, 65535]) assert.deepEqual(decodeRegistration(json({ formatVersion: 1, ...withAmqp, amqpPort: port })), { ...withAmqp, amqpPort: port });
  for (const amqpPort of [0, 70000, 65536, '5672', 1.5, -1, null]) {
    const refused = decodeRegistration(json({ formatVersion: 1, ...withAmqp, amqpPort }));
    assert.ok(refused instanceof Error, `accepted amqpPort ${JSON.stringify(amqpPort)}`);
    assert.equal(refused.message, `registration: amqpPort ${JSON.stringify(amqpPort)} is not a port`);
  }
});

test('inter-broker secret value: written as documented, read back; anything but 64 lowercase hex digits is refused', () => {
  assert.equal(interBrokerSecretKey, '/osprey/inter-broker-secret');
  const secret = '0123456789abcdef'.repeat(4);
  assert.deepEqual(JSON.parse(encodeInterBrokerSecret(secret).toString('utf8')), { formatVersion: 1, secret });
  assert.equal(decodeInterBrokerSecret(encodeInterBrokerSecret(secret)), secret);
  for (const bad of ['', secret.slice(1), `${secret}0`, secret.toUpperCase(), `${secret.slice(1)}g`, ` ${secret.slice(1)}`, 7, null]) {
    const refused = decodeInterBrokerSecret(json({ formatVersion: 1, secret: bad }));
    assert.ok(refused instanceof Error, `accepted ${JSON.stringify(bad)}`);
    assert.match(refused.message, /^inter-broker secret: not 64 hex digits$/);
  }
  assert.ok(decodeInterBrokerSecret(json({ formatVersion: 1 })) instanceof Error);
  assert.match(String(decodeInterBrokerSecret(json({ formatVersion: 2, secret }))), /formatVersion 2 is not 1/);
});
