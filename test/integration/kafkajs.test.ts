/**
 * KafkaJS 2.2.4 against a real broker process: what it produces comes back byte for byte.
 *
 * KafkaJS writes (producer, acks -1, every codec: gzip built in; snappy, lz4 and zstd through the
 * plug-ins in ../helpers/kafkajs-codecs.ts) and administers (createTopics, fetchTopicOffsetsByTimestamp).
 * Reading back needs no consumer group: KafkaJS's consumer cannot read without one, so another
 * client we did not write, @platformatic/kafka, fetches and decodes the partitions through its
 * public Consumer.fetch() (../helpers/partition-reader.ts); for the codec cases kcat (librdkafka,
 * CRCs checked) reads them too. Each partition must hold exactly what was acknowledged for it, in
 * order, at contiguous offsets starting where the produce response said.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import kafkajs from 'kafkajs';
import type { Admin, IHeaders, Kafka as KafkaClient, Message, Producer, RecordMetadata } from 'kafkajs';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { assertAcknowledgedStored, produceThroughCrash } from '../helpers/crash-while-producing.js';
import type { AcknowledgedSlice } from '../helpers/crash-while-producing.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { registerKafkaJsCodecs } from '../helpers/kafkajs-codecs.js';
import { PartitionReader, readTopicWithKcat } from '../helpers/partition-reader.js';
import type { PartitionContents } from '../helpers/partition-reader.js';
import { assertPartitionHolds, chunks, makeRecords, recordsOfPartition } from '../helpers/record-fixtures.js';
import type { FixtureRecord } from '../helpers/record-fixtures.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;
type Compression = (typeof CompressionTypes)[keyof typeof CompressionTypes];

const partitionCount = 4;
const recordsPerCodec = 2400;
const recordsPerSend = 200;
/** Auto-created topics (the auto-creation tests) get as many partitions as the created ones. */
const brokerArgs = ['--num-partitions', String(partitionCount)];

const codecs = [
  { name: 'none', type: CompressionTypes.None, id: 0 },
  { name: 'gzip', type: CompressionTypes.GZIP, id: 1 },
  { name: 'snappy', type: CompressionTypes.Snappy, id: 2 },
  { name: 'lz4', type: CompressionTypes.LZ4, id: 3 },
  { name: 'zstd', type: CompressionTypes.ZSTD, id: 4 },
] as const;

registerKafkaJsCodecs();

function client(broker: BrokerProcess, clientId: string): KafkaClient {
  return new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** Whether `error`, or an error it wraps, is a KafkaJS error of this type or name. */
function errorChainHas(error: unknown, typeOrName: string): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; depth++) {
    const fields = current as Error & { type?: string; originalError?: unknown; cause?: unknown };
    if (fields.type === typeOrName || fields.name === typeOrName) return true;
    current = fields.originalError ?? fields.cause;
  }
  return false;
}

/** The broker's last lines, to append to a failure. */
function tail(broker: BrokerProcess, lines = 40): string {
  return broker.logs().split('\n').slice(-lines).join('\n');
}

/** Runs `work`; on failure rethrows with the broker's last log lines added to the message. */
async function withBrokerLogs<T>(broker: BrokerProcess, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Error) error.message += `\n--- broker log (last lines) ---\n${tail(broker)}`;
    throw error;
  }
}

/** Creates `topic` with `partitionCount` partitions through CreateTopics. */
async function createTopic(admin: Admin, topic: string): Promise<void> {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 1 }], waitForLeaders: true });
  assert.equal(created, true, `createTopics(${topic}) answered false: the topic already existed`);
}

function toKafkaJsMessage(record: FixtureRecord): Message {
  const headers: IHeaders = {};
  for (const [key, value] of record.headers) {
    if (value === null) throw new Error('KafkaJS cannot send a null header value');
    const previous = headers[key];
    headers[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return { partition: record.partition, key: record.key, value: record.value, headers, timestamp: String(record.timestamp) };
}

function countByPartition(records: readonly FixtureRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const record of records) counts.set(record.partition, (counts.get(record.partition) ?? 0) + 1);
  return counts;
}

/**
 * Checks a produce answer for `records` sent to `topic`: one entry per partition written, no error,
 * and base offsets continuing `nextOffsets` (which it advances) when given.
 */
function checkProduceAnswer(topic: string, records: readonly FixtureRecord[], answer: readonly RecordMetadata[], nextOffsets?: Map<number, bigint>): Map<number, bigint> {
  const baseOffsets = new Map<number, bigint>();
  for (const [partition, count] of countByPartition(records)) {
    const entry = answer.find((candidate) => candidate.topicName === topic && candidate.partition === partition);
    assert.ok(entry !== undefined, `no produce answer for ${topic}/${partition}: ${JSON.stringify(answer)}`);
    assert.equal(entry.errorCode, 0, `${topic}/${partition} answered error ${entry.errorCode}`);
    assert.ok(entry.baseOffset !== undefined, `${topic}/${partition}: no baseOffset in ${JSON.stringify(entry)}`);
    const baseOffset = BigInt(entry.baseOffset);
    if (nextOffsets !== undefined) {
      const expected = nextOffsets.get(partition) ?? 0n;
      assert.equal(baseOffset, expected, `${topic}/${partition}: baseOffset ${baseOffset}, expected ${expected} (right after the previous send)`);
      nextOffsets.set(partition, expected + BigInt(count));
    }
    baseOffsets.set(partition, baseOffset);
  }
  return baseOffsets;
}

/** Sends `records` in slices of `recordsPerSend`, each acks -1, checking every answer's offsets. */
async function produceAll(producer: Producer, topic: string, records: readonly FixtureRecord[], compression: Compression): Promise<void> {
  const nextOffsets = new Map<number, bigint>();
  for (const slice of chunks(records, recordsPerSend)) {
    const answer = await producer.send({ topic, messages: slice.map(toKafkaJsMessage), acks: -1, compression });
    checkProduceAnswer(topic, slice, answer, nextOffsets);
  }
}

/** Every partition of `topic` holds exactly its share of `records`, from offset 0, nothing after. */
function assertTopicHolds(topic: string, contents: readonly PartitionContents[], records: readonly FixtureRecord[]): void {
  assert.equal(contents.length, partitionCount, `${topic}: ${contents.length} partitions read`);
  contents.forEach((partition, index) => {
    const expected = recordsOfPartition(records, index);
    assertPartitionHolds(`${topic}/${index}`, partition.records, expected);
    assert.equal(partition.highWatermark, BigInt(expected.length), `${topic}/${index}: high watermark`);
    assert.equal(partition.logStartOffset, 0n, `${topic}/${index}: log start offset`);
  });
}

describe('KafkaJS producer and admin against one broker', { timeout: 120_000 }, () => {
  let broker: BrokerProcess;
  let kafka: KafkaClient;
  let admin: Admin;
  let producer: Producer;
  let reader: PartitionReader;

  before(async () => {
    broker = await startBrokerProcess({ args: brokerArgs });
    kafka = client(broker, 'osprey-kafkajs-test');
    admin = kafka.admin();
    producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    reader = new PartitionReader(broker.bootstrap, 'kafkajs-test-reader');
  });

  after(async () => {
    await reader?.close();
    await producer?.disconnect();
    await admin?.disconnect();
    await broker?.stop();
  });

  for (const codec of codecs) {
    test(`${recordsPerCodec} records with keys, headers, null and empty values, ${codec.name}, come back byte for byte`, async () => {
      await withBrokerLogs(broker, async () => {
        const topic = `kafkajs-codec-${codec.name}`;
        await createTopic(admin, topic);
        const records = makeRecords(recordsPerCodec, { partitions: partitionCount, seed: 100 + codec.id, startTimestampMs: Date.now() - 60_000 });
        await produceAll(producer, topic, records, codec.type);

        const contents = await reader.readTopic(topic);
        assertTopicHolds(topic, contents, records);
        for (const [index, partition] of contents.entries()) {
          assert.deepEqual([...partition.codecs], [codec.id], `${topic}/${index}: batch codecs as stored`);
        }
        const byKcat = await readTopicWithKcat(broker.bootstrap, topic, partitionCount);
        byKcat.forEach((stored, partition) => assertPartitionHolds(`${topic}/${partition} read by kcat`, stored, recordsOfPartition(records, partition)));
      });
    });
  }

  test('sendBatch to several topics in one request: each topic gets its own records', async () => {
    await withBrokerLogs(broker, async () => {
      const topics = ['kafkajs-batch-a', 'kafkajs-batch-b', 'kafkajs-batch-c'];
      for (const topic of topics) await createTopic(admin, topic);
      const recordsByTopic = new Map(topics.map((topic, index) => [topic, makeRecords(600, { partitions: partitionCount, seed: 200 + index, startTimestampMs: Date.now() - 30_000 })]));
      const nextOffsets = new Map(topics.map((topic) => [topic, new Map<number, bigint>()]));

      for (const round of [0, 1, 2]) {
        const slices = new Map(topics.map((topic) => [topic, (recordsByTopic.get(topic) ?? []).slice(round * 200, round * 200 + 200)]));
        const answer = await producer.sendBatch({
          acks: -1,
          compression: codecs[round + 1]?.type ?? CompressionTypes.None,
          topicMessages: topics.map((topic) => ({ topic, messages: (slices.get(topic) ?? []).map(toKafkaJsMessage) })),
        });
        for (const topic of topics) {
          checkProduceAnswer(topic, slices.get(topic) ?? [], answer, nextOffsets.get(topic));
        }
      }

      for (const topic of topics) {
        assertTopicHolds(topic, await reader.readTopic(topic), recordsByTopic.get(topic) ?? []);
      }
    });
  });

  // Every codec: for a compressed batch the broker decompresses to answer with the exact record, as Kafka does.
  for (const codec of codecs) {
  test(`fetchTopicOffsetsByTimestamp (${codec.name} batches): the first offset at or after the timestamp, else the high watermark`, async () => {
    await withBrokerLogs(broker, async () => {
      const topic = `kafkajs-timestamps-${codec.name}`;
      await createTopic(admin, topic);
      const startMs = Date.now() - 120_000;
      // Timestamps 10 ms apart, rising with the record's position, so a timestamp between two records exists.
      const records = makeRecords(800, { partitions: partitionCount, seed: 300, startTimestampMs: 0 }).map((record, index) => ({ ...record, timestamp: BigInt(startMs + index * 10) }));
      await produceAll(producer, topic, records, codec.type); // 4 sends: several batches per partition

      const byPartition = Array.from({ length: partitionCount }, (_, partition) => recordsOfPartition(records, partition));
      const expectedOffset = (partition: number, timestampMs: number): string => {
        const stored = byPartition[partition] ?? [];
        const index = stored.findIndex((record) => record.timestamp >= BigInt(timestampMs));
        return String(index === -1 ? stored.length : index);
      };
      const middle = records[333] as FixtureRecord; // inside the second send, not the first record of a batch
      const last = records[records.length - 1] as FixtureRecord;
      const probes = [startMs - 3_600_000, startMs, Number(middle.timestamp), Number(middle.timestamp) + 5, Number(last.timestamp), Number(last.timestamp) + 1, Date.now() + 3_600_000];
      const actualTable: string[] = [];
      const expectedTable: string[] = [];
      for (const timestampMs of probes) {
        const answer = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
        const actual = [...answer].sort((left, right) => left.partition - right.partition).map(({ partition, offset }) => `${partition}:${offset}`);
        actualTable.push(`${timestampMs - startMs} ms: ${actual.join(' ')}`);
        expectedTable.push(`${timestampMs - startMs} ms: ${byPartition.map((_, partition) => `${partition}:${expectedOffset(partition, timestampMs)}`).join(' ')}`);
      }
      assert.deepEqual(actualTable, expectedTable, 'partition:offset for each timestamp, in ms after the first record');
    });
  });
  }
});

describe('KafkaJS against a broker with auto-creation off', { timeout: 60_000 }, () => {
  let broker: BrokerProcess;
  let kafka: KafkaClient;

  before(async () => {
    broker = await startBrokerProcess({ args: [...brokerArgs, '--auto-create-topics=false'] });
    kafka = new Kafka({ clientId: 'osprey-kafkajs-no-auto-create', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 } });
  });

  after(async () => {
    await broker?.stop();
  });

  test('producing to an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION and creates nothing', async () => {
    await withBrokerLogs(broker, async () => {
      const topic = 'kafkajs-never-created';
      // KafkaJS asks for auto-creation (allowAutoTopicCreation defaults to true): the broker must refuse.
      const producer = kafka.producer();
      await producer.connect();
      try {
        await assert.rejects(producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] }), (error: unknown) => {
          assert.ok(errorChainHas(error, 'UNKNOWN_TOPIC_OR_PARTITION'), `expected UNKNOWN_TOPIC_OR_PARTITION somewhere in ${String(error)}`);
          return true;
        });
      } finally {
        await producer.disconnect();
      }
      const admin = kafka.admin();
      await admin.connect();
      try {
        assert.ok(!(await admin.listTopics()).includes(topic), `${topic} exists after the refused produce`);
      } finally {
        await admin.disconnect();
      }
      const entries = existsSync(broker.dataDir) ? readdirSync(broker.dataDir, { recursive: true }).map(String) : [];
      assert.deepEqual(entries.filter((entry) => entry.includes(topic)), [], `files for ${topic} in ${broker.dataDir}`);
    });
  });
});

describe('KafkaJS: kill -9 after acknowledged sends', { timeout: 90_000 }, () => {
  let broker: BrokerProcess;

  after(async () => {
    await broker?.stop();
  });

  test('every send acknowledged before the crash is there after restart, at its offsets; offsets go on from there', async (t) => {
    broker = await startBrokerProcess({ args: brokerArgs });
    const topic = 'kafkajs-crash';
    const records = makeRecords(3000, { partitions: partitionCount, seed: 400, startTimestampMs: Date.now() - 60_000 });
    const slices = chunks(records, 100);
    const acknowledged: AcknowledgedSlice[] = [];

    const kafka = new Kafka({ clientId: 'osprey-kafkajs-crash', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    await withBrokerLogs(broker, () => createTopic(admin, topic));
    await admin.disconnect();

    const send = async (slice: FixtureRecord[], index: number): Promise<void> => {
      const codec = codecs[index % codecs.length] ?? codecs[0];
      const answer = await producer.send({ topic, messages: slice.map(toKafkaJsMessage), acks: -1, compression: codec.type });
      acknowledged.push({ slice, baseOffsets: checkProduceAnswer(topic, slice, answer) });
    };

    // Sequential sends, every codec several times; then four senders at once, in flight while the broker dies.
    const outcome = await withBrokerLogs(broker, () =>
      produceThroughCrash({
        broker,
        sliceCount: slices.length,
        calmSends: 15,
        concurrentSenders: 4,
        send: async (index) => {
          await send(slices[index] ?? [], index);
          return acknowledged.length;
        },
        tail,
      }),
    );
    broker = outcome.broker;
    await producer.disconnect();
    const { acknowledgedBeforeCrash, failedSends } = outcome;
    t.diagnostic(`${acknowledgedBeforeCrash} sends acknowledged before the crash, ${outcome.acknowledgedAfterCrash} after it, ${failedSends} failed`);

    const reader = new PartitionReader(broker.bootstrap, 'kafkajs-crash-reader');
    try {
      await withBrokerLogs(broker, async () => {
        const contents = await reader.readTopic(topic);
        assertAcknowledgedStored(topic, contents, acknowledged);

        // The restarted broker appends after what it recovered, never over it.
        const after = new Kafka({ clientId: 'osprey-kafkajs-after-crash', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
        const producerAfter = after.producer();
        await producerAfter.connect();
        try {
          const extra = makeRecords(200, { partitions: partitionCount, seed: 401, startTimestampMs: Date.now() });
          const answer = await producerAfter.send({ topic, messages: extra.map(toKafkaJsMessage), acks: -1, compression: CompressionTypes.ZSTD });
          const nextOffsets = new Map(contents.map((partition, index) => [index, partition.highWatermark]));
          checkProduceAnswer(topic, extra, answer, nextOffsets);
          for (let partition = 0; partition < partitionCount; partition++) {
            const from = contents[partition]?.highWatermark ?? 0n;
            const appended = await reader.readPartition(topic, partition, from);
            assertPartitionHolds(`${topic}/${partition} after restart`, appended.records, recordsOfPartition(extra, partition), from);
          }
        } finally {
          await producerAfter.disconnect();
        }
      });
    } finally {
      await reader.close();
    }
  });
});
