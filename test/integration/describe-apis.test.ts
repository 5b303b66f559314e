/**
 * DescribeTopicPartitions (KIP-966), DescribeLogDirs and DescribeProducers against a real broker
 * process: through @platformatic/kafka (its Admin's describeLogDirs, its raw DescribeProducers v0
 * and DescribeTopicPartitions v0 calls, and its idempotent producer), and through our raw client
 * in every version for the answers to bad input, which the client turns into exceptions. KafkaJS
 * has none of the three calls, and node-rdkafka's AdminClient only creates and deletes topics and
 * adds partitions.
 *
 * The broker caps a DescribeTopicPartitions page at 4 partitions and a DescribeProducers answer at
 * 2 producers here, so the limits on what a client controls are exercised with a few partitions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import kafkajs from 'kafkajs';
import { Admin, Connection, describeProducersV0, describeTopicPartitionsV0, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { describeLogDirsRequest, describeLogDirsResponse } from '../../src/protocol/kafka/messages/describe-log-dirs.js';
import { describeProducersRequest, describeProducersResponse } from '../../src/protocol/kafka/messages/describe-producers.js';
import { describeTopicPartitionsRequest, describeTopicPartitionsResponse } from '../../src/protocol/kafka/messages/describe-topic-partitions.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { rawApi, RawKafkaConnection, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntilWrittenOut } from '../helpers/waiting.js';

const maxDescribedPartitions = 4;
const maxDescribedProducers = 2;
/** Bits by ACL operation code: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11. */
const topicOperations = [3, 4, 5, 6, 7, 8, 10, 11].reduce((field, code) => field | (1 << code), 0);
const notRequested = -2147483648;

let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBrokerProcess({
    args: ['--limits.max-described-partitions', String(maxDescribedPartitions), '--limits.max-described-producers', String(maxDescribedProducers)],
  });
  admin = new Admin({ clientId: 'describe-apis', bootstrapBrokers: [broker.bootstrap], retries: 2, retryDelay: 100 });
  await admin.createTopics({ topics: ['dtp-a'], partitions: 3, replicas: 1 });
  await admin.createTopics({ topics: ['dtp-b'], partitions: 2, replicas: 1 });
  await admin.createTopics({ topics: ['logdirs'], partitions: 2, replicas: 1 });
  await admin.createTopics({ topics: ['producers'], partitions: 2, replicas: 1 });
});

after(async () => {
  await admin.close().catch(() => undefined);
  await broker.stop();
});

async function withPlatformaticConnection<T>(clientId: string, work: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = new Connection(clientId);
  await connection.connect(broker.host, broker.port);
  try {
    return await work(connection);
  } finally {
    await connection.close();
  }
}

function idempotentProducer(clientId: string): Producer<string, string, string, string> {
  return new Producer({ clientId, bootstrapBrokers: [broker.bootstrap], idempotent: true, acks: ProduceAcks.ALL, retries: 2, retryDelay: 100, serializers: stringSerializers });
}

// ── DescribeTopicPartitions ─────────────────────────────────────────────────────────────────────

const describeTopicPartitionsApi = rawApi(describeTopicPartitionsRequest, describeTopicPartitionsResponse);
type Cursor = { topicName: string; partitionIndex: number } | null;

/** Each topic of a page as `name:first-last` (or `name:none`, or `name!errorCode`), and its next cursor. */
async function page(topics: string[], responsePartitionLimit: number, cursor: Cursor): Promise<{ topics: string[]; nextCursor: Cursor }> {
  const answer = await withConnection(broker, (connection) => connection.call(describeTopicPartitionsApi, 0, { topics: topics.map((name) => ({ name })), responsePartitionLimit, cursor }));
  return {
    topics: answer.topics.map((topic) => {
      if (topic.errorCode !== 0) return `${topic.name}!${topic.errorCode}`;
      const indexes = topic.partitions.map((partition) => partition.partitionIndex);
      return indexes.length === 0 ? `${topic.name}:none` : `${topic.name}:${indexes[0]}-${indexes.at(-1)}`;
    }),
    nextCursor: answer.nextCursor,
  };
}

test('DescribeTopicPartitions (@platformatic/kafka): what Metadata says of each partition, topics in name order, every topic operation authorized', async () => {
  // Five partitions, four to a page: the client follows nextCursor for the last one.
  const [first, second] = await withPlatformaticConnection('describe-topic-partitions', async (connection) => {
    const asked = [{ name: 'dtp-b' }, { name: 'dtp-a' }];
    const firstPage = await describeTopicPartitionsV0.api.async(connection, asked, 2000, undefined);
    return [firstPage, await describeTopicPartitionsV0.api.async(connection, asked, 2000, firstPage.nextCursor)];
  });
  assert.deepEqual(first!.nextCursor, { topicName: 'dtp-b', partitionIndex: 1 });
  assert.equal(second!.nextCursor, undefined);
  const answer = { topics: [...first!.topics, ...second!.topics] };
  assert.deepEqual(
    answer.topics.map((topic) => `${topic.name}:${topic.partitions.map((partition) => partition.partitionIndex).join(',')}`),
    ['dtp-a:0,1,2', 'dtp-b:0', 'dtp-b:1'],
  );
  const metadata = await withConnection(broker, (connection) => connection.call(rawApi(metadataRequest, metadataResponse), 12, { topics: [{ name: 'dtp-a', topicId: Buffer.alloc(16) }, { name: 'dtp-b', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: true }));
  for (const topic of answer.topics) {
    const described = metadata.topics.find((candidate) => candidate.name === topic.name)!;
    assert.equal(topic.errorCode, 0);
    assert.equal(topic.isInternal, false);
    assert.equal(topic.topicAuthorizedOperations, topicOperations);
    assert.equal(topic.topicId, described.topicId.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
    assert.deepEqual(
      topic.partitions,
      described.partitions.filter((partition) => topic.partitions.some((listed) => listed.partitionIndex === partition.partitionIndex)).map((partition) => ({
        errorCode: 0,
        partitionIndex: partition.partitionIndex,
        leaderId: partition.leaderId,
        leaderEpoch: partition.leaderEpoch,
        replicaNodes: partition.replicaNodes,
        isrNodes: partition.isrNodes,
        eligibleLeaderReplicas: [],
        lastKnownElr: [],
        offlineReplicas: partition.offlineReplicas,
      })),
    );
    assert.deepEqual(topic.partitions.map((partition) => [partition.leaderId, partition.leaderEpoch, partition.replicaNodes, partition.isrNodes]), topic.partitions.map(() => [0, 0, [0], [0]]));
  }
});

test('DescribeTopicPartitions pages: at most responsePartitionLimit partitions, capped by the broker and raised to 1; the cursor and nextCursor walk the topics', async () => {
  const both = ['dtp-a', 'dtp-b'];
  assert.deepEqual(await page(both, 2, null), { topics: ['dtp-a:0-1'], nextCursor: { topicName: 'dtp-a', partitionIndex: 2 } });
  assert.deepEqual(await page(both, 2, { topicName: 'dtp-a', partitionIndex: 2 }), { topics: ['dtp-a:2-2', 'dtp-b:0-0'], nextCursor: { topicName: 'dtp-b', partitionIndex: 1 } });
  assert.deepEqual(await page(both, 2, { topicName: 'dtp-b', partitionIndex: 1 }), { topics: ['dtp-b:1-1'], nextCursor: null });
  // A page full at the end of a topic points at the next topic's first partition.
  assert.deepEqual(await page(both, 3, null), { topics: ['dtp-a:0-2'], nextCursor: { topicName: 'dtp-b', partitionIndex: 0 } });
  // 0 and negative limits ask for one partition, as Kafka reads them; the broker caps a large one.
  for (const limit of [0, -1, -2147483648]) assert.deepEqual(await page(both, limit, null), { topics: ['dtp-a:0-0'], nextCursor: { topicName: 'dtp-a', partitionIndex: 1 } }, `limit ${limit}`);
  assert.deepEqual(await page(both, 2147483647, null), { topics: ['dtp-a:0-2', 'dtp-b:0-0'], nextCursor: { topicName: 'dtp-b', partitionIndex: 1 } });
  // A name asked twice is answered once; a cursor beyond a topic's partitions answers none of them.
  assert.deepEqual(await page(['dtp-b', 'dtp-a', 'dtp-b'], 10, { topicName: 'dtp-a', partitionIndex: 7 }), { topics: ['dtp-a:none', 'dtp-b:0-1'], nextCursor: null });
});

test('DescribeTopicPartitions with no topics describes every topic, from the cursor on, and lists no missing ones', async () => {
  // Every page, following nextCursor to the end.
  const walked: string[] = [];
  let cursor: Cursor = null;
  for (let pages = 0; pages < 100; pages++) {
    const next = await page([], 2000, cursor);
    walked.push(...next.topics);
    cursor = next.nextCursor;
    if (cursor === null) break;
  }
  assert.equal(cursor, null, 'the walk ended');
  // Pages of four partitions (limits.maxDescribedPartitions): [a0-2 b0] [b1 logdirs0-1 producers0] [producers1].
  assert.deepEqual(walked, ['dtp-a:0-2', 'dtp-b:0-0', 'dtp-b:1-1', 'logdirs:0-1', 'producers:0-0', 'producers:1-1']);
  assert.deepEqual(await page([], maxDescribedPartitions, { topicName: 'dtp-a', partitionIndex: 0 }), { topics: ['dtp-a:0-2', 'dtp-b:0-0'], nextCursor: { topicName: 'dtp-b', partitionIndex: 1 } });
  // A cursor naming no topic starts at the first topic after its name.
  assert.deepEqual(await page([], 3, { topicName: 'dtp-0-missing', partitionIndex: 5 }), { topics: ['dtp-a:0-2'], nextCursor: { topicName: 'dtp-b', partitionIndex: 0 } });
});

test('DescribeTopicPartitions refuses what Kafka refuses: unknown and invalid names per topic, a bad cursor for the whole request', async () => {
  assert.deepEqual(await page(['dtp-a', 'no-such-topic', 'bad name!'], 10, null), {
    topics: [`bad name!!${ErrorCode.invalidTopicException}`, 'dtp-a:0-2', `no-such-topic!${ErrorCode.unknownTopicOrPartition}`],
    nextCursor: null,
  });
  // The cursor may name a topic that does not exist, as long as it is among those asked.
  assert.deepEqual(await page(['no-such-topic', 'dtp-b'], 10, { topicName: 'no-such-topic', partitionIndex: 3 }), { topics: [`no-such-topic!${ErrorCode.unknownTopicOrPartition}`], nextCursor: null });
  const invalid = `!${ErrorCode.invalidRequest}`;
  assert.deepEqual(await page(['dtp-b', 'dtp-a'], 10, { topicName: 'dtp-c', partitionIndex: 0 }), { topics: [`dtp-b${invalid}`, `dtp-a${invalid}`], nextCursor: null });
  assert.deepEqual(await page(['dtp-a'], 10, { topicName: 'dtp-a', partitionIndex: -1 }), { topics: [`dtp-a${invalid}`], nextCursor: null });
  assert.deepEqual(await page([], 10, { topicName: 'dtp-a', partitionIndex: -1 }), { topics: [], nextCursor: null });
  const answer = await withConnection(broker, (connection) => connection.call(describeTopicPartitionsApi, 0, { topics: [{ name: 'no-such-topic' }, { name: 'dtp-a' }], responsePartitionLimit: 10, cursor: { topicName: 'dtp-a', partitionIndex: -3 } }));
  assert.deepEqual(
    answer.topics.map((topic) => [topic.name, topic.topicId.equals(Buffer.alloc(16)), topic.topicAuthorizedOperations, topic.partitions.length]),
    [
      ['no-such-topic', true, notRequested, 0],
      ['dtp-a', true, notRequested, 0],
    ],
  );
});

// ── DescribeLogDirs ─────────────────────────────────────────────────────────────────────────────

const describeLogDirsApi = rawApi(describeLogDirsRequest, describeLogDirsResponse);

/** Bytes of a partition's segment files on disk. */
function segmentBytes(topic: string, partition: number): number {
  const directory = join(broker.dataDir, `${topic}-${partition}`);
  return readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .reduce((total, name) => total + statSync(join(directory, name)).size, 0);
}

test('DescribeLogDirs (@platformatic/kafka admin): the data directory, its volume, and each partition with its size on disk', async () => {
  const producer = new Producer({ clientId: 'log-dirs-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, serializers: stringSerializers });
  try {
    await producer.send({ messages: Array.from({ length: 20 }, (_, index) => ({ topic: 'logdirs', partition: 0, value: `record ${index} ${'x'.repeat(100)}` })) });
  } finally {
    await producer.close();
  }
  await waitUntilWrittenOut(broker); // the sizes are compared with the segment files below
  const [described] = await admin.describeLogDirs({ topics: [{ name: 'logdirs', partitions: [0, 1] }] });
  assert.ok(described !== undefined);
  assert.equal(described.broker, 0);
  assert.equal(described.results.length, 1);
  const [logDir] = described.results;
  assert.equal(logDir!.logDir, resolve(broker.dataDir));
  assert.ok(logDir!.totalBytes > 0n && logDir!.usableBytes > 0n && logDir!.usableBytes <= logDir!.totalBytes, `${logDir!.usableBytes} of ${logDir!.totalBytes}`);
  assert.deepEqual(logDir!.topics, [
    {
      name: 'logdirs',
      partitions: [
        { partitionIndex: 0, partitionSize: BigInt(segmentBytes('logdirs', 0)), offsetLag: 0n, isFutureKey: false },
        { partitionIndex: 1, partitionSize: 0n, offsetLag: 0n, isFutureKey: false },
      ],
    },
  ]);
  assert.ok(segmentBytes('logdirs', 0) > 20 * 100);
});

test('DescribeLogDirs v1-4: null topics lists every partition; what the broker does not hold is left out, a partition asked twice listed once', async () => {
  await withConnection(broker, async (connection) => {
    for (const version of [1, 2, 3, 4]) {
      const all = await connection.call(describeLogDirsApi, version, { topics: null });
      assert.equal(all.errorCode, 0, `v${version}`);
      assert.equal(all.results.length, 1);
      const [result] = all.results;
      assert.equal(result!.errorCode, 0);
      assert.equal(result!.logDir, resolve(broker.dataDir));
      assert.equal(result!.totalBytes > 0n, version >= 4, `v${version} total bytes ${result!.totalBytes}`);
      const listed = result!.topics.flatMap((topic) => topic.partitions.map((partition) => `${topic.name}-${partition.partitionIndex}`));
      for (const expected of ['dtp-a-0', 'dtp-a-1', 'dtp-a-2', 'dtp-b-0', 'dtp-b-1', 'logdirs-0', 'logdirs-1', 'producers-0', 'producers-1']) assert.ok(listed.includes(expected), `v${version}: ${expected}`);
      const some = await connection.call(describeLogDirsApi, version, {
        topics: [
          { topic: 'logdirs', partitions: [1, 7, 1] },
          { topic: 'no-such-topic', partitions: [0] },
          { topic: 'dtp-b', partitions: [5] },
          { topic: 'logdirs', partitions: [0] },
        ],
      });
      assert.deepEqual(
        some.results[0]!.topics.map((topic) => [topic.name, topic.partitions.map((partition) => partition.partitionIndex)]),
        [['logdirs', [0, 1]]],
        `v${version}`,
      );
      const none = await connection.call(describeLogDirsApi, version, { topics: [] });
      assert.deepEqual(none.results[0]!.topics, [], `v${version}`);
    }
  });
});

test('DescribeLogDirs v0 is not served (gone from Kafka 4): the connection is closed', async () => {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    await assert.rejects(connection.call(describeLogDirsApi, 0, { topics: null }));
  } finally {
    connection.destroy();
  }
});

// ── DescribeProducers ───────────────────────────────────────────────────────────────────────────

const describeProducersApi = rawApi(describeProducersRequest, describeProducersResponse);

test('DescribeProducers (@platformatic/kafka): the idempotent producers of a partition, with their epoch, last sequence and time', async () => {
  const producer = idempotentProducer('described-producer');
  const beforeMs = Date.now();
  try {
    for (let index = 0; index < 3; index++) {
      await producer.send({ messages: [{ topic: 'producers', partition: 0, value: `first ${index}` }, { topic: 'producers', partition: 0, value: `second ${index}` }] });
    }
    const afterMs = Date.now();
    const answer = await withPlatformaticConnection('describe-producers', (connection) => describeProducersV0.api.async(connection, [{ name: 'producers', partitionIndexes: [0, 1] }]));
    assert.equal(answer.topics.length, 1);
    const [partition0, partition1] = answer.topics[0]!.partitions;
    assert.deepEqual([partition0!.partitionIndex, partition0!.errorCode, partition0!.errorMessage], [0, 0, null]);
    assert.equal(partition0!.activeProducers.length, 1);
    const [active] = partition0!.activeProducers;
    assert.equal(active!.producerId, producer.producerId);
    assert.equal(active!.producerEpoch, producer.producerEpoch);
    assert.equal(active!.lastSequence, 5, 'six records in three batches: sequences 0-5');
    assert.equal(active!.coordinatorEpoch, -1);
    assert.equal(active!.currentTxnStartOffset, -1n);
    assert.ok(active!.lastTimestamp >= BigInt(beforeMs) && active!.lastTimestamp <= BigInt(afterMs), `${active!.lastTimestamp} in [${beforeMs}, ${afterMs}]`);
    assert.deepEqual([partition1!.partitionIndex, partition1!.errorCode, partition1!.activeProducers], [1, 0, []]);
  } finally {
    await producer.close();
  }
});

test('two @platformatic/kafka idempotent producers at once (each asks InitProducerId with id 0, epoch 0) get ids of their own: neither fences the other', async () => {
  await admin.createTopics({ topics: ['two-producers'], partitions: 1, replicas: 1 });
  const [first, second] = [idempotentProducer('first-of-two'), idempotentProducer('second-of-two')];
  try {
    for (let round = 0; round < 3; round++) {
      await first.send({ messages: [{ topic: 'two-producers', partition: 0, value: `first ${round}` }] });
      await second.send({ messages: [{ topic: 'two-producers', partition: 0, value: `second ${round}` }] });
    }
    assert.notEqual(first.producerId, second.producerId);
    const answer = await withPlatformaticConnection('describe-two-producers', (connection) => describeProducersV0.api.async(connection, [{ name: 'two-producers', partitionIndexes: [0] }]));
    const active = answer.topics[0]!.partitions[0]!.activeProducers.map((producer) => [producer.producerId, producer.producerEpoch, producer.lastSequence]);
    assert.deepEqual(
      active.sort((left, right) => Number(left[0]) - Number(right[0])),
      [first, second].map((producer) => [producer.producerId, producer.producerEpoch, 2]).sort((left, right) => Number(left[0]) - Number(right[0])),
    );
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test('DescribeProducers: unknown topics and partitions, invalid names, and a response bounded by limits.maxDescribedProducers', async () => {
  // A second producer, from another client: KafkaJS.
  const kafka = new kafkajs.Kafka({ clientId: 'second-described-producer', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const second = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await second.connect();
  try {
    await second.send({ topic: 'producers', messages: [{ partition: 0, value: 'from the second producer' }] });
  } finally {
    await second.disconnect();
  }
  const answer = await withConnection(broker, (connection) =>
    connection.call(describeProducersApi, 0, {
      topics: [
        { name: 'producers', partitionIndexes: [0, 9, 0, 1] },
        { name: 'no-such-topic', partitionIndexes: [0, 1] },
        { name: 'bad name!', partitionIndexes: [0] },
        { name: 'producers', partitionIndexes: [] },
      ],
    }),
  );
  const rows = answer.topics.map((topic) => [topic.name, topic.partitions.map((partition) => [partition.partitionIndex, partition.errorCode, partition.activeProducers.length])]);
  assert.deepEqual(rows, [
    // Two producers fill the response: the same partition asked again is refused, an empty one is not.
    ['producers', [[0, 0, 2], [9, ErrorCode.unknownTopicOrPartition, 0], [0, ErrorCode.policyViolation, 0], [1, 0, 0]]],
    ['no-such-topic', [[0, ErrorCode.unknownTopicOrPartition, 0], [1, ErrorCode.unknownTopicOrPartition, 0]]],
    ['bad name!', [[0, ErrorCode.invalidTopicException, 0]]],
    ['producers', []],
  ]);
  const refused = answer.topics[0]!.partitions[2]!;
  assert.match(refused.errorMessage ?? '', /limits\.maxDescribedProducers/);
  assert.match(answer.topics[2]!.partitions[0]!.errorMessage ?? '', /characters/);
});
