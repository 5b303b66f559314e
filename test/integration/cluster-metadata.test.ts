/**
 * Topics and partition leadership in etcd (docs/cluster.md), on a real etcd and three real broker
 * processes: CreateTopics through KafkaJS's admin with a replication factor and with explicit
 * assignments, refusals answered with Kafka's codes (raw requests through our codecs), the same
 * Metadata from every broker, partition logs only where replicas are placed, KafkaJS producing to
 * leaders spread over the brokers and @platformatic/kafka reading every record back from them,
 * NOT_LEADER_OR_FOLLOWER from a broker that does not lead, deletion everywhere, and the controller
 * moving leadership when a leader is killed (to a live ISR member, offline otherwise, unclean when the
 * topic allows it) and giving it back when the old leader returns.
 *
 * Oracles: etcd's keys read directly and decoded field by field (keys.ts), the partition folders in
 * each broker's data directory, and what real clients get.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { decodeTopic, encodePartition, partitionKey, partitionsPrefix, topicKey, topicPartitionsPrefix } from '../../src/cluster/keys.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../src/protocol/kafka/messages/offset-for-leader-epoch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { assertSucceeded, osprey, ospreyJson } from '../helpers/osprey-cli.js';
import { PartitionReader } from '../helpers/partition-reader.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

const metadataApi = rawApi(metadataRequest, metadataResponse);
const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const offsetForLeaderEpochApi = rawApi(offsetForLeaderEpochRequest, offsetForLeaderEpochResponse);
const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);
const zeroTopicId = Buffer.alloc(16);

function admin(cluster: TestCluster, nodeId = 1) {
  const kafka = new Kafka({ clientId: 'osprey-cluster-metadata', brokers: [cluster.broker(nodeId).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
  return kafka.admin();
}

interface PartitionView {
  readonly partition: number;
  readonly errorCode: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: number[];
  readonly isr: number[];
  readonly offline: number[];
}

interface TopicView {
  readonly errorCode: number;
  readonly topicId: string;
  readonly partitions: PartitionView[];
}

/** What one broker's Metadata (v12) says of the cluster and of one topic. */
async function metadataOf(broker: BrokerProcess, topic: string): Promise<{ brokers: [number, string, number, string | null][]; controllerId: number; topic: TopicView }> {
  const metadata = await withConnection(broker, (connection) =>
    connection.call(metadataApi, 12, { topics: [{ topicId: zeroTopicId, name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }),
  );
  const entry = metadata.topics[0];
  assert.ok(entry, 'a topic answer');
  return {
    brokers: metadata.brokers.map((item): [number, string, number, string | null] => [item.nodeId, item.host, item.port, item.rack]),
    controllerId: metadata.controllerId,
    topic: {
      errorCode: entry.errorCode,
      topicId: entry.topicId.toString('hex'),
      partitions: entry.partitions
        .map((partition) => ({
          partition: partition.partitionIndex,
          errorCode: partition.errorCode,
          leader: partition.leaderId,
          leaderEpoch: partition.leaderEpoch,
          replicas: [...partition.replicaNodes],
          isr: [...partition.isrNodes],
          offline: [...partition.offlineReplicas],
        }))
        .sort((left, right) => left.partition - right.partition),
    },
  };
}

/** Waits until every listed broker answers the same view of the topic, accepted by `accept`; returns it. */
async function agreedTopic(cluster: TestCluster, topic: string, accept: (view: TopicView) => boolean, nodeIds: readonly number[] = [1, 2, 3]): Promise<TopicView> {
  let views: string[] = [];
  let agreed: TopicView | null = null;
  await waitUntil(
    async () => {
      const answers = await Promise.all(nodeIds.map((nodeId) => metadataOf(cluster.broker(nodeId), topic)));
      views = answers.map((answer) => JSON.stringify(answer.topic));
      const first = answers[0]?.topic;
      if (first === undefined || !views.every((view) => view === views[0]) || !accept(first)) return false;
      agreed = first;
      return true;
    },
    `brokers ${nodeIds.join(',')} to agree on topic ${topic}`,
    20_000,
    () => views.map((view, index) => `broker ${nodeIds[index]}: ${view}`).join('\n'),
  );
  // Set in the condition above (which control flow analysis does not follow).
  const result = agreed as TopicView | null;
  assert.ok(result);
  return result;
}

function hostsFolder(broker: BrokerProcess, topic: string, partition: number): boolean {
  return existsSync(join(broker.dataDir, `${topic}-${partition}`));
}

async function createRaw(broker: BrokerProcess, topic: { name: string; numPartitions: number; replicationFactor: number; assignments?: { partitionIndex: number; brokerIds: number[] }[] }) {
  const response = await withConnection(broker, (connection) =>
    connection.call(createTopicsApi, 7, { topics: [{ ...topic, assignments: topic.assignments ?? [], configs: [] }], timeoutMs: 10_000, validateOnly: false }),
  );
  const answer = response.topics[0];
  assert.ok(answer, 'a topic answer');
  return answer;
}

describe('a three-broker cluster: topics in etcd', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ racks: true });
  });
  after(async () => {
    await cluster.stop();
  });

  test('CreateTopics with replication factor 3 (KafkaJS admin): the same metadata from every broker, as etcd holds it', async () => {
    const client = admin(cluster, 2);
    await client.connect();
    try {
      assert.equal(await client.createTopics({ topics: [{ topic: 'replicated', numPartitions: 3, replicationFactor: 3 }] }), true);
    } finally {
      await client.disconnect();
    }
    // Followers catch up at once (the logs are empty) and the leaders add them to the ISR.
    const view = await agreedTopic(cluster, 'replicated', (topic) => topic.errorCode === ErrorCode.none && topic.partitions.length === 3 && topic.partitions.every((partition) => partition.isr.length === 3));
    const answers = await Promise.all([1, 2, 3].map((nodeId) => metadataOf(cluster.broker(nodeId), 'replicated')));
    for (const answer of answers) {
      assert.deepEqual(answer.brokers, [1, 2, 3].map((nodeId) => [nodeId, '127.0.0.1', cluster.broker(nodeId).port, `rack-${nodeId}`]));
      assert.equal(answer.controllerId, answers[0]?.controllerId);
      assert.ok([1, 2, 3].includes(answer.controllerId));
    }
    // Every replica is in sync (the leader first, then followers as they were added); the three leaders are the three brokers.
    for (const partition of view.partitions) {
      assert.deepEqual([...partition.replicas].sort(), [1, 2, 3]);
      assert.equal(partition.leader, partition.replicas[0]);
      assert.equal(partition.isr[0], partition.leader);
      assert.deepEqual([...partition.isr].sort(), [1, 2, 3]);
      assert.equal(partition.leaderEpoch, 0);
      assert.deepEqual(partition.offline, []);
    }
    assert.deepEqual(view.partitions.map((partition) => partition.leader).sort(), [1, 2, 3]);

    const topicEntry = await cluster.store.get(topicKey('replicated'));
    assert.ok(topicEntry, 'the topic key');
    const record = decodeTopic(topicEntry.value);
    assert.ok(!(record instanceof Error), String(record));
    assert.equal(record.topicId.toString('hex'), view.topicId);
    assert.deepEqual(record.replicaAssignment, view.partitions.map((partition) => partition.replicas));
    const states = await cluster.partitions('replicated');
    // One write per follower added to the ISR, the leader epoch kept.
    assert.deepEqual(states.map((state) => [state.leader, state.leaderEpoch, state.isr, state.partitionEpoch]), view.partitions.map((partition) => [partition.leader, 0, partition.isr, 2]));
    for (const broker of cluster.brokers.values()) for (const index of [0, 1, 2]) assert.ok(hostsFolder(broker, 'replicated', index), `${broker.dataDir} holds replicated-${index}`);

    const again = await createRaw(cluster.broker(3), { name: 'replicated', numPartitions: 1, replicationFactor: 1 });
    assert.equal(again.errorCode, ErrorCode.topicAlreadyExists);
  });

  test('explicit replica assignments are honoured; logs only where replicas are placed', async () => {
    const client = admin(cluster, 3);
    await client.connect();
    try {
      const created = await client.createTopics({
        topics: [{ topic: 'assigned', replicaAssignment: [{ partition: 0, replicas: [2, 3] }, { partition: 1, replicas: [3, 1] }] }],
      });
      assert.equal(created, true);
    } finally {
      await client.disconnect();
    }
    const view = await agreedTopic(cluster, 'assigned', (topic) => topic.partitions.length === 2 && topic.partitions.every((partition) => partition.isr.length === 2));
    assert.deepEqual(
      view.partitions.map((partition) => [partition.replicas, partition.leader, partition.isr]),
      [
        [[2, 3], 2, [2, 3]],
        [[3, 1], 3, [3, 1]],
      ],
    );
    assert.deepEqual([1, 2, 3].map((nodeId) => hostsFolder(cluster.broker(nodeId), 'assigned', 0)), [false, true, true]);
    assert.deepEqual([1, 2, 3].map((nodeId) => hostsFolder(cluster.broker(nodeId), 'assigned', 1)), [true, false, true]);
  });

  test('refused: replication factor 4 on three brokers, assignments to unknown brokers or of uneven size', async () => {
    const broker = cluster.broker(1);
    const tooMany = await createRaw(broker, { name: 'too-many-replicas', numPartitions: 2, replicationFactor: 4 });
    assert.equal(tooMany.errorCode, ErrorCode.invalidReplicationFactor);
    assert.match(tooMany.errorMessage ?? '', /replication factor 4 is larger than the 3 live brokers/);
    const unknownBroker = await createRaw(broker, { name: 'unknown-broker', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1, 9] }] });
    assert.equal(unknownBroker.errorCode, ErrorCode.invalidReplicaAssignment);
    assert.match(unknownBroker.errorMessage ?? '', /broker 9, which is not a live broker/);
    const uneven = await createRaw(broker, {
      name: 'uneven',
      numPartitions: -1,
      replicationFactor: -1,
      assignments: [
        { partitionIndex: 0, brokerIds: [1, 2] },
        { partitionIndex: 1, brokerIds: [3] },
      ],
    });
    assert.equal(uneven.errorCode, ErrorCode.invalidReplicaAssignment);
    for (const name of ['too-many-replicas', 'unknown-broker', 'uneven']) assert.equal(await cluster.store.get(topicKey(name)), null, `${name} not written`);
  });

  test('KafkaJS produces to six partitions led by three brokers; every record reads back from the leaders', async () => {
    const partitionCount = 6;
    const kafka = new Kafka({ clientId: 'osprey-cluster-producer', brokers: [cluster.broker(1).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    const client = kafka.admin();
    await client.connect();
    try {
      assert.equal(await client.createTopics({ topics: [{ topic: 'spread', numPartitions: partitionCount, replicationFactor: 2 }] }), true);
    } finally {
      await client.disconnect();
    }
    const view = await agreedTopic(cluster, 'spread', (topic) => topic.partitions.length === partitionCount);
    for (const nodeId of [1, 2, 3]) assert.equal(view.partitions.filter((partition) => partition.leader === nodeId).length, 2, `broker ${nodeId} leads two partitions`);

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const perPartition = 50;
    try {
      for (let round = 0; round < perPartition; round += 10) {
        const messages = [];
        for (let partition = 0; partition < partitionCount; partition++) {
          for (let offset = round; offset < round + 10; offset++) messages.push({ partition, key: `key-${partition}`, value: `p${partition}-r${offset}` });
        }
        await producer.send({ topic: 'spread', acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }

    const reader = new PartitionReader(cluster.broker(2).bootstrap, 'osprey-cluster-reader');
    try {
      for (let partition = 0; partition < partitionCount; partition++) {
        const contents = await reader.readPartition('spread', partition);
        assert.deepEqual(
          contents.records.map((record) => record.value?.toString('utf8')),
          Array.from({ length: perPartition }, (_, offset) => `p${partition}-r${offset}`),
          `partition ${partition}`,
        );
        assert.deepEqual(contents.records.map((record) => record.offset), Array.from({ length: perPartition }, (_, offset) => BigInt(offset)));
      }
    } finally {
      await reader.close();
    }
    // Each replica's broker holds a log of its partition.
    for (const partition of view.partitions) for (const nodeId of partition.replicas) assert.ok(hostsFolder(cluster.broker(nodeId), 'spread', partition.partition));

    // A consumer group (bootstrapped through broker 3) finds its coordinator and reads every record from the leaders.
    const consumerKafka = new Kafka({ clientId: 'osprey-cluster-consumer', brokers: [cluster.broker(3).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    const consumer = consumerKafka.consumer({ groupId: 'cluster-readers', sessionTimeout: 10_000, heartbeatInterval: 500 });
    const consumed = new Map<number, string[]>();
    let total = 0;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'spread', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          consumed.set(partition, [...(consumed.get(partition) ?? []), message.value?.toString('utf8') ?? '']);
          total++;
        },
      });
      await waitUntil(() => total >= partitionCount * perPartition, 'the group to read every record', 30_000, () => `${total} read`);
    } finally {
      await consumer.disconnect();
    }
    for (let partition = 0; partition < partitionCount; partition++) {
      assert.deepEqual(consumed.get(partition), Array.from({ length: perPartition }, (_, offset) => `p${partition}-r${offset}`), `group read of partition ${partition}`);
    }
  });

  test('Produce and ListOffsets sent straight to a broker that does not lead answer NOT_LEADER_OR_FOLLOWER', async () => {
    const view = await agreedTopic(cluster, 'assigned', (topic) => topic.partitions.length === 2);
    const partition0 = view.partitions[0]!;
    const follower = partition0.replicas.find((nodeId) => nodeId !== partition0.leader)!;
    const notHosting = [1, 2, 3].find((nodeId) => !partition0.replicas.includes(nodeId))!;
    for (const nodeId of [follower, notHosting]) {
      const records = encodeRecordBatch([{ key: null, value: Buffer.from('misdirected') }]);
      const produced = await withConnection(cluster.broker(nodeId), (connection) =>
        connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'assigned', topicId: zeroTopicId, partitionData: [{ index: 0, records }] }] }),
      );
      assert.equal(produced.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.notLeaderOrFollower, `produce to broker ${nodeId}`);
      const offsets = await withConnection(cluster.broker(nodeId), (connection) =>
        connection.call(listOffsetsApi, 10, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'assigned', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }], timeoutMs: 5000 }),
      );
      assert.equal(offsets.topics[0]?.partitions[0]?.errorCode, ErrorCode.notLeaderOrFollower, `list offsets on broker ${nodeId}`);
    }
    const records = encodeRecordBatch([{ key: null, value: Buffer.from('to the leader') }]);
    const produced = await withConnection(cluster.broker(partition0.leader), (connection) =>
      connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'assigned', topicId: zeroTopicId, partitionData: [{ index: 0, records }] }] }),
    );
    assert.equal(produced.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none);
  });

  test('a consumer Fetch, OffsetForLeaderEpoch and DeleteRecords sent straight to a follower answer NOT_LEADER_OR_FOLLOWER; the leader serves them', async () => {
    const view = await agreedTopic(cluster, 'assigned', (topic) => topic.partitions.length === 2 && topic.partitions[0]!.isr.length === 2);
    const partition0 = view.partitions[0]!;
    const follower = partition0.replicas.find((nodeId) => nodeId !== partition0.leader)!;
    // The follower holds the records the leader took (it is in the ISR), so serving them locally would succeed.
    const records = encodeRecordBatch([{ key: null, value: Buffer.from('replicated') }]);
    const produced = await withConnection(cluster.broker(partition0.leader), (connection) =>
      connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'assigned', topicId: zeroTopicId, partitionData: [{ index: 0, records }] }] }),
    );
    assert.equal(produced.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none);
    const askAll = (nodeId: number) =>
      withConnection(cluster.broker(nodeId), async (connection) => {
        const fetched = await connection.call(fetchApi, 12, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1024 * 1024,
          forgottenTopicsData: [],
          topics: [{ topic: 'assigned', topicId: zeroTopicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, partitionMaxBytes: 1024 * 1024 }] }],
        });
        const epochs = await connection.call(offsetForLeaderEpochApi, 4, { replicaId: -1, topics: [{ topic: 'assigned', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: partition0.leaderEpoch }] }] });
        const deleted = await connection.call(deleteRecordsApi, 2, { topics: [{ name: 'assigned', partitions: [{ partitionIndex: 0, offset: 0n }] }], timeoutMs: 5000 });
        return {
          fetch: fetched.responses[0]?.partitions[0]?.errorCode,
          fetchedBytes: fetched.responses[0]?.partitions[0]?.records?.length ?? 0,
          offsetForLeaderEpoch: epochs.topics[0]?.partitions[0]?.errorCode,
          deleteRecords: deleted.topics[0]?.partitions[0]?.errorCode,
        };
      });
    assert.deepEqual(await askAll(follower), { fetch: ErrorCode.notLeaderOrFollower, fetchedBytes: 0, offsetForLeaderEpoch: ErrorCode.notLeaderOrFollower, deleteRecords: ErrorCode.notLeaderOrFollower }, `answers of follower ${follower}`);
    const leaderAnswers = await askAll(partition0.leader);
    assert.deepEqual({ ...leaderAnswers, fetchedBytes: leaderAnswers.fetchedBytes > 0 }, { fetch: ErrorCode.none, fetchedBytes: true, offsetForLeaderEpoch: ErrorCode.none, deleteRecords: ErrorCode.none }, `answers of leader ${partition0.leader}`);
  });

  test('DeleteTopics (KafkaJS admin, through another broker) removes the topic from etcd and from every broker', async () => {
    const client = admin(cluster, 1);
    await client.connect();
    try {
      await client.deleteTopics({ topics: ['replicated'] });
    } finally {
      await client.disconnect();
    }
    await agreedTopic(cluster, 'replicated', (topic) => topic.errorCode === ErrorCode.unknownTopicOrPartition);
    assert.equal(await cluster.store.get(topicKey('replicated')), null);
    assert.deepEqual((await cluster.store.rangeByPrefix(topicPartitionsPrefix('replicated'))).entries, []);
    await waitUntil(() => [...cluster.brokers.values()].every((broker) => [0, 1, 2].every((index) => !hostsFolder(broker, 'replicated', index))), 'every broker to remove the partition folders');
    // Created again: a new topic id, placed anew.
    const created = await createRaw(cluster.broker(2), { name: 'replicated', numPartitions: 1, replicationFactor: 1 });
    assert.equal(created.errorCode, ErrorCode.none);
    const view = await agreedTopic(cluster, 'replicated', (topic) => topic.errorCode === ErrorCode.none);
    assert.equal(view.partitions.length, 1);
  });
});

describe('a three-broker cluster: the controller moves partition leadership', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ racks: true });
  });
  after(async () => {
    await cluster.stop();
  });

  test('kill -9 of a leader: an ISR member takes over, a partition without one goes offline (unclean election if allowed), and the old leader leads it again on return', async () => {
    const broker2 = cluster.broker(2);
    const broker1 = cluster.broker(1);
    const assign = (name: string, replicas: number[], configs: { name: string; value: string }[] = []) =>
      withConnection(broker1, (connection) => connection.call(createTopicsApi, 7, { topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: replicas }], configs }], timeoutMs: 10_000, validateOnly: false }));
    for (const [name, replicas, configs] of [
      ['in-sync', [1, 2, 3], []],
      ['offline', [1, 2], []],
      ['unclean', [1, 2], [{ name: 'unclean.leader.election.enable', value: 'true' }]],
    ] as const) {
      const answer = await assign(name, [...replicas], [...configs]);
      assert.equal(answer.topics[0]?.errorCode, ErrorCode.none, `${name}: ${answer.topics[0]?.errorMessage ?? ''}`);
    }
    // Replication adds every caught-up follower to the ISR.
    const isrOf = async (name: string) => [...((await cluster.partitions(name))[0]?.isr ?? [])].sort().join(',');
    let isrs: string[] = [];
    const waitForIsrs = (expected: string[], what: string) =>
      waitUntil(
        async () => {
          isrs = await Promise.all(['in-sync', 'offline', 'unclean'].map(isrOf));
          return JSON.stringify(isrs) === JSON.stringify(expected);
        },
        what,
        20_000,
        () => isrs.join(' | '),
      );
    await waitForIsrs(['1,2,3', '1,2', '1,2'], 'every follower to join its ISR');
    // Broker 2 stops: the controller drops it from every ISR (its leader lives on), so 'offline' and
    // 'unclean' are left with broker 1 alone in sync.
    await broker2.stop();
    await waitForIsrs(['1,3', '1', '1'], 'broker 2 to leave every ISR');

    // Records acknowledged by broker 1 before it dies.
    const kept = encodeRecordBatch([{ key: null, value: Buffer.from('before the crash') }]);
    const produced = await withConnection(broker1, (connection) =>
      connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: 'offline', topicId: zeroTopicId, partitionData: [{ index: 0, records: kept }] }] }),
    );
    assert.equal(produced.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none);

    await broker1.kill9();
    let states: string[] = [];
    await waitUntil(
      async () => {
        states = await Promise.all(['in-sync', 'offline', 'unclean'].map(async (name) => JSON.stringify((await cluster.partitions(name))[0])));
        return states.every((state) => !/"leader":1,/.test(state));
      },
      'the controller to move leadership off broker 1',
      30_000,
      () => states.join('\n'),
    );
    // Partition epochs: the ISR grew (one write per follower), shrank when broker 2 left, then the election.
    const [inSync, offline] = await Promise.all(['in-sync', 'offline'].map(async (name) => (await cluster.partitions(name))[0]!));
    assert.deepEqual(inSync, { replicas: [1, 2, 3], leader: 3, leaderEpoch: 1, isr: [3], partitionEpoch: 4 });
    assert.deepEqual(offline, { replicas: [1, 2], leader: -1, leaderEpoch: 1, isr: [1], partitionEpoch: 3 });
    // Broker 2 returns: out of sync, it may lead only where unclean election is allowed.
    await cluster.restart(2);
    await waitUntil(async () => (await cluster.partitions('unclean'))[0]?.leader === 2, 'broker 2 to lead the unclean partition', 20_000);
    const unclean = (await cluster.partitions('unclean'))[0]!;
    assert.deepEqual(unclean, { replicas: [1, 2], leader: 2, leaderEpoch: 2, isr: [2], partitionEpoch: 4 });
    assert.deepEqual((await cluster.partitions('offline'))[0], offline, 'the offline partition stays offline');

    // The survivors agree, name broker 1 offline, and answer LEADER_NOT_AVAILABLE for the offline partition.
    const inSyncView = await agreedTopic(cluster, 'in-sync', (topic) => topic.partitions[0]?.leader === 3, [2, 3]);
    assert.deepEqual(inSyncView.partitions[0]?.offline, [1]);
    const offlineView = await agreedTopic(cluster, 'offline', (topic) => topic.partitions[0]?.leader === -1, [2, 3]);
    assert.equal(offlineView.partitions[0]?.errorCode, ErrorCode.leaderNotAvailable);
    assert.deepEqual(offlineView.partitions[0]?.offline, [1]);
    const writeTo = (nodeId: number, name: string) =>
      withConnection(cluster.broker(nodeId), (connection) =>
        connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(`to ${name}`) }]) }] }] }),
      );
    assert.equal((await writeTo(3, 'in-sync')).responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.none, 'the new leader takes writes');
    assert.equal((await writeTo(2, 'offline')).responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.notLeaderOrFollower, 'nobody leads the offline partition');

    // The command line shows it too: live brokers and the controller, leaders, replicas, ISR, offline replicas.
    const info = await ospreyJson<{ controllerId: number; brokers: { nodeId: number; rack: string | null }[] }>(cluster.broker(2), ['cluster', 'info']);
    assert.deepEqual(info.brokers.map((entry) => [entry.nodeId, entry.rack]), [[2, 'rack-2'], [3, 'rack-3']]);
    assert.ok([2, 3].includes(info.controllerId), `controller ${info.controllerId}`);
    type Described = { partitions: { leader: number; replicas: number[]; isr: number[]; offlineReplicas: number[] }[] };
    const described = await ospreyJson<Described>(cluster.broker(3), ['topic', 'describe', 'offline']);
    assert.deepEqual(described.partitions.map((partition) => [partition.leader, partition.replicas, partition.isr, partition.offlineReplicas]), [[-1, [1, 2], [1], [1]]]);
    // Broker 2, back, follows broker 3 and joins its ISR.
    await agreedTopic(cluster, 'in-sync', (topic) => JSON.stringify(topic.partitions[0]?.isr) === '[3,2]', [2, 3]);
    const table = await osprey(cluster.broker(3), ['topic', 'describe', 'in-sync']);
    assertSucceeded(table);
    assert.match(table.stdout, /^\s*0\s+3\s+1,2,3\s+3,2\s+1\s/m, table.stdout);

    // Broker 1 returns (once its old lease lapsed): the offline partition is its again, with its records.
    const restarted = await cluster.restart(1);
    const back = await agreedTopic(cluster, 'offline', (topic) => topic.partitions[0]?.leader === 1);
    assert.deepEqual({ ...back.partitions[0], isr: [] }, { partition: 0, errorCode: ErrorCode.none, leader: 1, leaderEpoch: 2, replicas: [1, 2], isr: [], offline: [] });
    assert.equal(back.partitions[0]?.isr[0], 1);
    // Broker 2 follows it, catches up and joins its ISR again.
    await agreedTopic(cluster, 'offline', (topic) => JSON.stringify(topic.partitions[0]?.isr) === '[1,2]');
    // The partitions it lost stay with their new leaders.
    assert.equal((await agreedTopic(cluster, 'in-sync', () => true)).partitions[0]?.leader, 3);
    const reader = new PartitionReader(restarted.bootstrap, 'osprey-cluster-failover-reader');
    try {
      const contents = await reader.readPartition('offline', 0);
      assert.deepEqual(contents.records.map((record) => record.value?.toString('utf8')), ['before the crash']);
    } finally {
      await reader.close();
    }
    assert.deepEqual((await cluster.store.rangeByPrefix(partitionsPrefix)).entries.length, 3);
  });

  test('a partition etcd still says is led by a broker that is no longer live (before the controller moves it) is answered LEADER_NOT_AVAILABLE with leader -1, never a leader the broker list leaves out', async () => {
    await cluster.createTopic('stranded', [[1, 2, 3]]);
    await cluster.waitForPartition('stranded', 0, (state) => state.isr.length === 3, 'stranded/0: the ISR to grow');
    await cluster.broker(3).kill9();
    const moved = await cluster.waitForPartition('stranded', 0, (state) => !state.isr.includes(3), 'stranded/0: broker 3 to leave the ISR');
    // The state of the moment between a leader's registration lapsing and the controller's pass
    // (which a partition write does not start): etcd names broker 3 leader, broker 3 is not live.
    const key = partitionKey('stranded', 0);
    const entry = await cluster.store.get(key);
    assert.ok(entry);
    const stale = { ...moved, leader: 3, leaderEpoch: moved.leaderEpoch + 1, isr: [3], partitionEpoch: moved.partitionEpoch + 1 };
    assert.ok((await cluster.store.transaction([{ key, modRevision: entry.modRevision }], [{ type: 'put', key, value: encodePartition(stale) }])).succeeded);
    const view = await agreedTopic(cluster, 'stranded', (topic) => topic.partitions[0]?.leaderEpoch === stale.leaderEpoch, [1, 2]);
    assert.deepEqual(view.partitions[0], { partition: 0, errorCode: ErrorCode.leaderNotAvailable, leader: -1, leaderEpoch: stale.leaderEpoch, replicas: [1, 2, 3], isr: [3], offline: [3] });
    assert.deepEqual((await metadataOf(cluster.broker(1), 'stranded')).brokers.map(([nodeId]) => nodeId), [1, 2]);
  });
});
