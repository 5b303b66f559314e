/**
 * KafkaJS 2.2.4 consumer groups against a real broker process (JoinGroup v5, SyncGroup v3,
 * OffsetCommit v5, OffsetFetch v4 on its side): consumers sharing a topic with the round-robin and a
 * range assignor, a consumer leaving mid-stream without committing, the group stopping and
 * restarting, the broker killed with SIGKILL under a running group, two groups, and the admin calls
 * (commitOffsets, fetchOffsets, describeGroups, listGroups, resetOffsets, deleteGroups).
 * Every record is counted in and out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, ConsumerConfig, Kafka as KafkaClient, PartitionAssigner, Producer } from 'kafkajs';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel, PartitionAssigners, AssignerProtocol } = kafkajs;

const partitionCount = 6;
const brokerArgs = ['--num-partitions', String(partitionCount), '--groups.initial-rebalance-delay-ms', '300', '--groups.min-session-timeout-ms', '1000'];

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];

function client(clientId: string): KafkaClient {
  return new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

before(async () => {
  broker = await startBrokerProcess({ args: brokerArgs });
  kafka = client('groups-kafkajs');
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
});

after(async () => {
  for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await broker.stop();
});

/** Kafka's range assignor (KafkaJS ships only round-robin): consecutive partitions per member, members sorted. */
const rangeAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'range',
  version: 0,
  async assign({ members, topics }) {
    const sorted = [...members].sort((left, right) => (left.memberId < right.memberId ? -1 : 1));
    const plan = new Map<string, Record<string, number[]>>(sorted.map((member) => [member.memberId, {}]));
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic).map((metadata) => metadata.partitionId).sort((left, right) => left - right);
      const share = Math.floor(partitions.length / sorted.length);
      const extra = partitions.length % sorted.length;
      let next = 0;
      sorted.forEach((member, index) => {
        const count = share + (index < extra ? 1 : 0);
        plan.get(member.memberId)![topic] = partitions.slice(next, next + count);
        next += count;
      });
    }
    return sorted.map((member) => ({ memberId: member.memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: plan.get(member.memberId)!, userData: Buffer.alloc(0) }) }));
  },
  protocol({ topics }) {
    return { name: 'range', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});

function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs, () => `--- broker log tail ---\n${broker.logs().split('\n').slice(-30).join('\n')}`);
}

const markerPrefix = 'marker';

/** Who received which record: value → names of the consumers that got it (markers kept apart). */
class Deliveries {
  readonly byValue = new Map<string, string[]>();
  readonly partitionsByConsumer = new Map<string, Set<number>>();
  readonly markers = new Set<string>();

  record(consumer: string, partition: number, value: string): void {
    if (value.startsWith(markerPrefix)) {
      this.markers.add(value);
      return;
    }
    const receivers = this.byValue.get(value) ?? [];
    receivers.push(consumer);
    this.byValue.set(value, receivers);
    if (!this.partitionsByConsumer.has(consumer)) this.partitionsByConsumer.set(consumer, new Set());
    this.partitionsByConsumer.get(consumer)!.add(partition);
  }

  has(values: readonly string[]): boolean {
    return values.every((value) => this.byValue.has(value));
  }

  countFor(consumer: string): number {
    let count = 0;
    for (const receivers of this.byValue.values()) count += receivers.filter((receiver) => receiver === consumer).length;
    return count;
  }

  duplicates(): string[] {
    return [...this.byValue].filter(([, receivers]) => receivers.length > 1).map(([value]) => value);
  }
}

async function produce(topic: string, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  for (let start = 0; start < count; start += 100) {
    const messages = values.slice(start, start + 100).map((value, index) => ({ partition: (start + index) % partitionCount, value }));
    await producer.send({ topic, acks: -1, messages });
  }
  return values;
}

/**
 * Writes a marker to every partition and waits until each of `deliveries` has them all: a record
 * delivered twice would have come before its partition's marker, so "nothing came twice" can be
 * checked at once afterwards.
 */
async function settle(topic: string, ...deliveries: readonly Deliveries[]): Promise<void> {
  const markers = await produce(topic, markerPrefix, partitionCount); // one per partition
  await waitFor(() => deliveries.every((delivered) => markers.every((marker) => delivered.markers.has(marker))), 'the markers after the records');
}

const metadataApi = rawApi(metadataRequest, metadataResponse);

/** Creates the topic with its partitions (auto-creation through a Metadata request). */
async function createTopic(topic: string): Promise<void> {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    await connection.call(metadataApi, 4, { topics: [{ name: topic, topicId: Buffer.alloc(16) }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  } finally {
    connection.destroy();
  }
  await waitFor(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.length === partitionCount, `topic ${topic}`);
}

function consumerConfig(groupId: string, overrides: Partial<ConsumerConfig> = {}): ConsumerConfig {
  return { groupId, sessionTimeout: 6000, rebalanceTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 }, ...overrides };
}

interface RunOptions {
  /** KafkaJS commits what eachMessage resolved after each batch (default); false: only explicit commits. */
  readonly autoCommit?: boolean;
  readonly onMessage?: (consumer: Consumer, partition: number, offset: string) => Promise<void>;
}

async function startConsumer(name: string, topic: string, deliveries: Deliveries, config: ConsumerConfig, options: RunOptions = {}): Promise<Consumer> {
  const consumer = client(name).consumer(config);
  consumers.push(consumer);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: options.autoCommit ?? true,
    eachMessage: async ({ partition, message }) => {
      deliveries.record(name, partition, message.value!.toString());
      await options.onMessage?.(consumer, partition, message.offset);
    },
  });
  return consumer;
}

async function stableWith(groupId: string, memberCount: number): Promise<void> {
  await waitFor(async () => {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.state === 'Stable' && groups[0].members.length === memberCount;
  }, `group ${groupId} stable with ${memberCount} members`);
}

async function stopAll(list: Consumer[]): Promise<void> {
  await Promise.all(list.map((consumer) => consumer.disconnect()));
}

async function committedTotal(groupId: string, topic: string): Promise<number> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets[0]!.partitions.reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
}

for (const [assignerName, assigner] of [
  ['round-robin', PartitionAssigners.roundRobin],
  ['range', rangeAssigner],
] as const) {
  test(`three consumers (${assignerName}) share a 6-partition topic: every record exactly once, two partitions each`, async () => {
    const topic = `share-${assignerName}`;
    const groupId = `share-${assignerName}`;
    await createTopic(topic);
    const deliveries = new Deliveries();
    const group = await Promise.all(['a', 'b', 'c'].map((name) => startConsumer(name, topic, deliveries, consumerConfig(groupId, { partitionAssigners: [assigner] }))));
    await stableWith(groupId, 3);
    const { groups } = await admin.describeGroups([groupId]);
    assert.equal(groups[0]!.protocol, assignerName === 'range' ? 'range' : 'RoundRobinAssigner');
    assert.deepEqual(
      groups[0]!.members.map((member) => member.clientHost),
      ['/127.0.0.1', '/127.0.0.1', '/127.0.0.1'],
      'each member shows the address it connected from, as Kafka writes it',
    );
    const values = await produce(topic, topic, 600);
    await waitFor(() => deliveries.has(values), 'every record');
    await settle(topic, deliveries);
    assert.deepEqual(deliveries.duplicates(), []);
    assert.equal(deliveries.byValue.size, 600);
    for (const name of ['a', 'b', 'c']) assert.equal(deliveries.partitionsByConsumer.get(name)?.size, 2, `${name} reads two partitions`);
    await waitFor(async () => (await committedTotal(groupId, topic)) === 600 + partitionCount, 'all offsets committed, the markers’ too');
    await stopAll(group);
  });
}

test('a consumer leaves with disconnect() without committing: its partitions move and nothing is skipped', async () => {
  const topic = 'leaver';
  const groupId = 'leaver';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const commitEach = async (consumer: Consumer, partition: number, offset: string) => {
    await consumer.commitOffsets([{ topic, partition, offset: String(Number(offset) + 1) }]);
  };
  const survivors = await Promise.all(['a', 'b'].map((name) => startConsumer(name, topic, deliveries, consumerConfig(groupId), { autoCommit: false, onMessage: commitEach })));
  // The leaver never commits.
  const leaver = await startConsumer('leaver', topic, deliveries, consumerConfig(groupId), { autoCommit: false });
  await stableWith(groupId, 3);
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  assert.ok(deliveries.countFor('leaver') > 0, 'the leaver read some records');
  await leaver.disconnect();
  await stableWith(groupId, 2);
  const second = await produce(topic, 'second', 300);
  await waitFor(() => [...first, ...second].every((value) => deliveries.byValue.get(value)?.some((receiver) => receiver !== 'leaver')), 'the survivors to read every record');
  // Records the leaver read (and never committed) come again to a survivor; no record came twice to the survivors.
  const survivorsTwice = [...deliveries.byValue].filter(([, receivers]) => receivers.filter((receiver) => receiver !== 'leaver').length > 1);
  assert.deepEqual(survivorsTwice, []);
  await stopAll(survivors);
});

test('the group stops and starts again: it resumes from its committed offsets', async () => {
  const topic = 'restart-group';
  const groupId = 'restart-group';
  await createTopic(topic);
  const before = new Deliveries();
  let group = await Promise.all(['a', 'b', 'c'].map((name) => startConsumer(name, topic, before, consumerConfig(groupId))));
  const first = await produce(topic, 'first', 300);
  await waitFor(() => before.has(first), 'the first records');
  await waitFor(async () => (await committedTotal(groupId, topic)) === 300, 'commits of the first records');
  await stopAll(group);
  const second = await produce(topic, 'second', 300);
  const afterRestart = new Deliveries();
  group = await Promise.all(['a', 'b', 'c'].map((name) => startConsumer(name, topic, afterRestart, consumerConfig(groupId))));
  await waitFor(() => afterRestart.has(second), 'the second records');
  await settle(topic, afterRestart);
  assert.deepEqual([...afterRestart.byValue.keys()].filter((value) => value.startsWith('first')), [], 'nothing committed comes again');
  assert.deepEqual(afterRestart.duplicates(), []);
  await stopAll(group);
});

test('the broker is killed with SIGKILL under a running group and restarted: the group resumes from its committed offsets', async () => {
  const topic = 'broker-crash';
  const groupId = 'broker-crash';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const group = await Promise.all(['a', 'b'].map((name) => startConsumer(name, topic, deliveries, consumerConfig(groupId))));
  await stableWith(groupId, 2);
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  await waitFor(async () => (await committedTotal(groupId, topic)) === 300, 'commits of the first records');
  await broker.kill9();
  broker = await broker.restart();
  await waitFor(async () => (await committedTotal(groupId, topic).catch(() => -1)) === 300, 'the committed offsets after the restart');
  const second = await produce(topic, 'second', 300);
  await waitFor(() => deliveries.has(second), 'the second records, after the consumers rejoined');
  await settle(topic, deliveries);
  assert.deepEqual(deliveries.duplicates().filter((value) => value.startsWith('first')), [], 'committed records are not read again');
  assert.equal(deliveries.byValue.size, 600);
  await stopAll(group);
});

test('two groups each receive every record', async () => {
  const topic = 'two-groups';
  await createTopic(topic);
  const x = new Deliveries();
  const y = new Deliveries();
  const group = [
    ...(await Promise.all(['x1', 'x2'].map((name) => startConsumer(name, topic, x, consumerConfig('group-x'))))),
    await startConsumer('y1', topic, y, consumerConfig('group-y')),
  ];
  const values = await produce(topic, 'both', 400);
  await waitFor(() => x.has(values) && y.has(values), 'both groups to read everything');
  await settle(topic, x, y);
  assert.deepEqual([x.duplicates(), y.duplicates()], [[], []]);
  assert.deepEqual([x.byValue.size, y.byValue.size], [400, 400]);
  await stopAll(group);
});

test('admin: commitOffsets, fetchOffsets, describeGroups, listGroups, resetOffsets, deleteGroups', async () => {
  const topic = 'admin-offsets';
  const groupId = 'admin-offsets';
  await createTopic(topic);
  await produce(topic, 'admin', 60); // ten per partition
  const deliveries = new Deliveries();
  const consumer = await startConsumer('only', topic, deliveries, consumerConfig(groupId), { autoCommit: false });
  await stableWith(groupId, 1);
  await consumer.commitOffsets([{ topic, partition: 0, offset: '4', metadata: 'four' } as { topic: string; partition: number; offset: string }]);
  const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.equal(fetched[0]!.partitions.find((partition) => partition.partition === 0)!.offset, '4');
  const { groups } = await admin.describeGroups([groupId]);
  assert.equal(groups[0]!.members.length, 1);
  const assigned = AssignerProtocol.MemberAssignment.decode(groups[0]!.members[0]!.memberAssignment)!;
  assert.deepEqual(assigned.assignment[topic]!.slice().sort(), [0, 1, 2, 3, 4, 5]);
  assert.ok((await admin.listGroups()).groups.some((listed) => listed.groupId === groupId && listed.protocolType === 'consumer'));
  await assert.rejects(admin.deleteGroups([groupId]), 'a group with members is not deleted');
  await consumer.disconnect();
  await admin.resetOffsets({ groupId, topic, earliest: true });
  const reset = await admin.fetchOffsets({ groupId, topics: [topic] });
  assert.ok(reset[0]!.partitions.every((partition) => partition.offset === '-2'), `earliest marks: ${JSON.stringify(reset)}`);
  const again = new Deliveries();
  const rereader = await startConsumer('rereader', topic, again, consumerConfig(groupId));
  await waitFor(() => again.byValue.size === 60, 'everything from the beginning again');
  await rereader.disconnect();
  const [deleted] = await admin.deleteGroups([groupId]);
  assert.equal(deleted!.errorCode, 0);
  assert.ok(!(await admin.listGroups()).groups.some((listed) => listed.groupId === groupId));
  assert.ok((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.every((partition) => partition.offset === '-1'));
});
