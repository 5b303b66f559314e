/**
 * Kafka behaviours real clients and admin tools rely on (issue 13), each against a real broker
 * process with a real client: offsets committed ahead of the log end (KafkaJS admin), a fetch
 * answer that never exceeds the request's max_bytes past the first partition with data (kcat with
 * its receive limit set to its fetch size), and a topic deleted under a waiting fetch (answered
 * per partition, the connection and what is pipelined on it going on).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient } from 'kafkajs';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../src/protocol/kafka/messages/delete-topics.js';
import { describeClusterRequest, describeClusterResponse } from '../../src/protocol/kafka/messages/describe-cluster.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../src/protocol/kafka/messages/describe-groups.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../src/protocol/kafka/messages/offset-for-leader-epoch.js';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { assertKcatSucceeded, runKcat } from '../helpers/kcat.js';
import { rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: Admin;

before(async () => {
  broker = await startBrokerProcess({ args: ['--groups.initial-rebalance-delay-ms', '0'] });
  kafka = new Kafka({ clientId: 'conformance', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin.disconnect().catch(() => undefined);
  await broker.stop();
});

test('an offset committed ahead of the log end is kept, as Kafka keeps it, and a consumer of the group starts there once the log reaches it', async () => {
  await admin.createTopics({ topics: [{ topic: 'ahead', numPartitions: 1 }] });
  await admin.setOffsets({ groupId: 'planned', topic: 'ahead', partitions: [{ partition: 0, offset: '50' }] });
  const [fetched] = await admin.fetchOffsets({ groupId: 'planned', topics: ['ahead'] });
  assert.deepEqual(fetched!.partitions.map((partition) => [partition.partition, partition.offset]), [[0, '50']]);
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'ahead', messages: Array.from({ length: 80 }, (_, index) => ({ value: `record-${index}` })) });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: 'planned', maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'ahead' });
  const offsets: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void offsets.push(message.offset) });
  await waitUntil(() => offsets.length >= 30, 'the consumer read from offset 50');
  await consumer.disconnect();
  assert.equal(offsets[0], '50');
  assert.equal(offsets.length, 30);
});

test('a fetch answer stays within max_bytes after the first partition with data: kcat with its receive limit at its fetch size reads every partition', async () => {
  const topic = 'big-batches';
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  const producer = kafka.producer();
  await producer.connect();
  for (let partition = 0; partition < 3; partition++) {
    await producer.send({ topic, messages: [{ partition, value: Buffer.alloc(700_000, 0x61 + partition) }] });
  }
  await producer.disconnect();
  // librdkafka refuses a response larger than receive.message.max.bytes: three 700 kB batches in one answer would be one.
  const result = await runKcat(
    ['-b', broker.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %S\\n', '-X', 'fetch.max.bytes=1000000', '-X', 'receive.message.max.bytes=1000512'],
    { timeoutMs: 30_000 },
  );
  assertKcatSucceeded(result, 'consuming three large batches with a 1 MB receive limit');
  const lines = result.stdout.toString('utf8').trim().split('\n').sort();
  assert.deepEqual(lines, ['0 700000', '1 700000', '2 700000']);
});

test('a topic deleted while a fetch waits on it: UNKNOWN_TOPIC_OR_PARTITION (by name) or UNKNOWN_TOPIC_ID (by id), and the connection goes on', async () => {
  const createApi = rawApi(createTopicsRequest, createTopicsResponse);
  const deleteApi = rawApi(deleteTopicsRequest, deleteTopicsResponse);
  const fetchApi = rawApi(fetchRequest, fetchResponse);
  const metadataApi = rawApi(metadataRequest, metadataResponse);
  for (const version of [12, 15]) {
    const topic = `doomed-v${version}`;
    const waiting = await RawKafkaConnection.open(broker.host, broker.port);
    const other = await RawKafkaConnection.open(broker.host, broker.port);
    try {
      const created = await other.call(createApi, 4, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      assert.equal(created.topics[0]!.errorCode, 0);
      const metadata = await other.call(metadataApi, 12, { topics: [{ name: topic, topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      const topicId = metadata.topics[0]!.topicId;
      const byId = version >= 13;
      const startedMs = Date.now();
      const fetching = waiting.call(fetchApi, version, {
        clusterId: null,
        replicaId: -1,
        replicaState: { replicaId: -1, replicaEpoch: -1n },
        maxWaitMs: 10_000,
        minBytes: 1,
        maxBytes: 1_000_000,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: byId ? '' : topic, topicId: byId ? topicId : Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1_000_000, replicaDirectoryId: Buffer.alloc(16) }] }],
        forgottenTopicsData: [],
        rackId: '',
      });
      // Pipelined behind the waiting fetch on the same connection: answered after it.
      const pipelined = waiting.call(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      await sleep(300);
      const deleted = await other.call(deleteApi, 4, { topicNames: [topic], topics: [], timeoutMs: 5000 });
      assert.equal(deleted.responses[0]!.errorCode, 0);
      const answer = await fetching;
      assert.ok(Date.now() - startedMs < 9_000, 'answered when the topic went, not at the end of the wait');
      assert.equal(answer.responses[0]!.partitions[0]!.errorCode, byId ? ErrorCode.unknownTopicId : ErrorCode.unknownTopicOrPartition, `fetch v${version}`);
      const listed = await pipelined;
      assert.ok(listed.brokers.length > 0, 'the request pipelined behind the fetch was answered');
      const again = await waiting.call(metadataApi, 12, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
      assert.ok(!again.topics.some((entry) => entry.name === topic), 'the connection still answers, without the deleted topic');
    } finally {
      waiting.destroy();
      other.destroy();
    }
  }
});

/** The codec (attribute bits 0-2) of each batch a raw Fetch returns for partition 0 of `topic`, from offset 0. */
async function storedCodecs(topic: string): Promise<number[]> {
  const fetchApi = rawApi(fetchRequest, fetchResponse);
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    const answer = await connection.call(fetchApi, 12, {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10_000_000,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, topicId: Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 10_000_000, replicaDirectoryId: Buffer.alloc(16) }] }],
      forgottenTopicsData: [],
      rackId: '',
    });
    const codecs: number[] = [];
    const bytes = answer.responses[0]!.partitions[0]!.records ?? Buffer.alloc(0);
    for (let at = 0; at < bytes.length; at += bytes.readInt32BE(at + 8) + 12) codecs.push(bytes.readInt16BE(at + 21) & 0x07);
    return codecs;
  } finally {
    connection.destroy();
  }
}

test('compression.type: every value Kafka takes is accepted, and batches in another codec are stored recompressed, in order, readable by every client', async () => {
  await admin.createTopics({ topics: [{ topic: 'zstd-topic', numPartitions: 1, configEntries: [{ name: 'compression.type', value: 'zstd' }] }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  // Uncompressed batches from an idempotent producer, several in flight at once: stored as zstd, in order.
  await Promise.all(Array.from({ length: 20 }, (_, batch) => producer.send({ topic: 'zstd-topic', messages: Array.from({ length: 10 }, (__, index) => ({ value: `v-${batch * 10 + index}` })) })));
  await producer.disconnect();
  const codecs = await storedCodecs('zstd-topic');
  assert.equal(codecs.length, 20);
  assert.ok(codecs.every((codec) => codec === 4), `stored codecs ${codecs.join(',')}`);
  const consumed = await runKcat(['-b', broker.bootstrap, '-C', '-t', 'zstd-topic', '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], { timeoutMs: 30_000 });
  assertKcatSucceeded(consumed, 'reading the recompressed topic');
  const values = consumed.stdout.toString('utf8').trim().split('\n');
  assert.equal(values.length, 200);
  assert.deepEqual([...values].sort(), Array.from({ length: 200 }, (_, index) => `v-${index}`).sort());
  // Each batch kept its records' order (a send is one batch).
  for (let batch = 0; batch < 20; batch++) {
    const positions = Array.from({ length: 10 }, (_, index) => values.indexOf(`v-${batch * 10 + index}`));
    assert.deepEqual(positions, [...positions].sort((left, right) => left - right));
  }

  // Changed to uncompressed: a gzip producer's batches are stored inflated.
  for (const value of ['uncompressed', 'gzip', 'snappy', 'lz4', 'producer', 'uncompressed']) {
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'zstd-topic', configEntries: [{ name: 'compression.type', value }] }] });
  }
  // kcat reads its input line by line: on a busy machine the three lines may leave as two batches.
  const gzip = await runKcat(['-b', broker.bootstrap, '-P', '-t', 'zstd-topic', '-p', '0', '-z', 'gzip', '-X', 'linger.ms=200'], { input: 'g-1\ng-2\ng-3\n', timeoutMs: 30_000 });
  assertKcatSucceeded(gzip, 'producing gzip');
  const after = await storedCodecs('zstd-topic');
  assert.ok(after.length === 21 || after.length === 22, `${after.length} batches stored`);
  assert.deepEqual(after.slice(20), after.slice(20).map(() => 0), 'the gzip batches are stored uncompressed');
  await assert.rejects(admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'zstd-topic', configEntries: [{ name: 'compression.type', value: 'brotli' }] }] }));
});

test('authorized operations, when asked: every operation of the resource (no authorizer), as Kafka answers without one', async () => {
  const metadataApi = rawApi(metadataRequest, metadataResponse);
  const describeClusterApi = rawApi(describeClusterRequest, describeClusterResponse);
  const describeGroupsApi = rawApi(describeGroupsRequest, describeGroupsResponse);
  const notRequested = -2147483648;
  // Bits by ACL operation code: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
  const bits = (codes: number[]) => codes.reduce((field, code) => field | (1 << code), 0);
  const topicOperations = bits([3, 4, 5, 6, 7, 8, 10, 11]);
  const clusterOperations = bits([5, 7, 8, 9, 10, 11, 12]);
  const groupOperations = bits([3, 6, 8]);
  await admin.createTopics({ topics: [{ topic: 'described', numPartitions: 1 }] });
  await admin.setOffsets({ groupId: 'described-group', topic: 'described', partitions: [{ partition: 0, offset: '0' }] });
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    for (const asked of [true, false]) {
      const metadata = await connection.call(metadataApi, 10, { topics: [{ name: 'described', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: asked, includeTopicAuthorizedOperations: asked });
      assert.equal(metadata.topics[0]!.topicAuthorizedOperations, asked ? topicOperations : notRequested);
      assert.equal(metadata.clusterAuthorizedOperations, asked ? clusterOperations : notRequested);
      const cluster = await connection.call(describeClusterApi, 1, { includeClusterAuthorizedOperations: asked, endpointType: 1, includeFencedBrokers: false });
      assert.equal(cluster.clusterAuthorizedOperations, asked ? clusterOperations : notRequested);
      const groups = await connection.call(describeGroupsApi, 5, { groups: ['described-group'], includeAuthorizedOperations: asked });
      assert.equal(groups.groups[0]!.authorizedOperations, asked ? groupOperations : notRequested);
    }
  } finally {
    connection.destroy();
  }
});

test('OffsetForLeaderEpoch: the end of epoch 0 is the log end; other epochs are undefined; stale or future current epochs are fenced', async () => {
  const api = rawApi(offsetForLeaderEpochRequest, offsetForLeaderEpochResponse);
  await admin.createTopics({ topics: [{ topic: 'epochs', numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'epochs', messages: Array.from({ length: 5 }, (_, index) => ({ value: `e${index}` })) });
  await producer.disconnect();
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    for (const version of [2, 3, 4]) {
      const answer = await connection.call(api, version, {
        ...(version >= 3 ? { replicaId: -1 } : {}),
        topics: [
          {
            topic: 'epochs',
            partitions: [
              { partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 },
              { partition: 0, currentLeaderEpoch: -1, leaderEpoch: 7 },
              { partition: 0, currentLeaderEpoch: 3, leaderEpoch: 0 },
              { partition: 0, currentLeaderEpoch: -2, leaderEpoch: 0 },
              { partition: 9, currentLeaderEpoch: -1, leaderEpoch: 0 },
            ],
          },
          { topic: 'no-such-topic', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] },
        ],
      });
      const rows = answer.topics.flatMap((topic) => topic.partitions.map((partition) => [partition.errorCode, partition.leaderEpoch, partition.endOffset]));
      assert.deepEqual(
        rows,
        [
          [0, 0, 5n],
          [0, -1, -1n],
          [ErrorCode.unknownLeaderEpoch, -1, -1n],
          [ErrorCode.fencedLeaderEpoch, -1, -1n],
          [ErrorCode.unknownTopicOrPartition, -1, -1n],
          [ErrorCode.unknownTopicOrPartition, -1, -1n],
        ],
        `v${version}`,
      );
    }
  } finally {
    connection.destroy();
  }
});
