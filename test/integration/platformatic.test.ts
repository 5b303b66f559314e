/**
 * @platformatic/kafka 1.35 against a real broker process: what it produces comes back byte for byte.
 *
 * On Node 20 npm installs the 1.x line, which speaks only recent API versions (Metadata 9+, Produce
 * 7+, Fetch 12+ with topic ids, ListOffsets 5+). Its codecs: gzip (zlib), snappy and lz4 (bundled
 * WebAssembly, @platformatic/wasm-utils); zstd only where Node's zlib has it (22.15 and later), so
 * here it produces none, gzip, snappy and lz4, and the zstd case runs only on such a Node.
 *
 * Read-back without a consumer group (groups-platformatic.test.ts covers groups): its Consumer.fetch() is public
 * API and sends plain Fetch requests (../helpers/partition-reader.ts); kcat (librdkafka, CRCs
 * checked) reads the same partitions as a second, independent decoder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { Admin, Producer, ProduceAcks, compressionsAlgorithms } from '@platformatic/kafka';
import type { CompressionAlgorithmValue, MessageToProduce, ProduceResult } from '@platformatic/kafka';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { assertAcknowledgedStored, produceThroughCrash } from '../helpers/crash-while-producing.js';
import type { AcknowledgedSlice } from '../helpers/crash-while-producing.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { PartitionReader, readTopicWithKcat } from '../helpers/partition-reader.js';
import type { PartitionContents } from '../helpers/partition-reader.js';
import { assertPartitionHolds, chunks, makeRecords, recordsOfPartition } from '../helpers/record-fixtures.js';
import type { FixtureRecord } from '../helpers/record-fixtures.js';

type PlatformaticProducer = Producer<Buffer, Buffer, Buffer, Buffer | null>;
type PlatformaticMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer | null>;

const partitionCount = 4;
const recordsPerCodec = 2400;
const recordsPerSend = 200;
/** Auto-created topics (the auto-creation tests) get as many partitions as the created ones. */
const brokerArgs = ['--num-partitions', String(partitionCount)];

const codecIds: Readonly<Record<CompressionAlgorithmValue, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
/** zstd joins where this Node's zlib has it (22.15 and later); zstd is covered by the kcat and KafkaJS tests everywhere. */
const codecsProduced: readonly CompressionAlgorithmValue[] = compressionsAlgorithms.zstd.available ? ['none', 'gzip', 'snappy', 'lz4', 'zstd'] : ['none', 'gzip', 'snappy', 'lz4'];

function producerFor(broker: BrokerProcess, clientId: string, options: { retries?: number } = {}): PlatformaticProducer {
  return new Producer<Buffer, Buffer, Buffer, Buffer | null>({ clientId, bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: options.retries ?? 3, retryDelay: 100 });
}

function adminFor(broker: BrokerProcess, clientId: string): Admin {
  return new Admin({ clientId, bootstrapBrokers: [broker.bootstrap], retries: 2, retryDelay: 100 });
}

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
  const created = await admin.createTopics({ topics: [topic], partitions: partitionCount, replicas: 1 });
  assert.deepEqual(
    created.map((entry) => [entry.name, entry.partitions]),
    [[topic, partitionCount]],
    `createTopics(${topic})`,
  );
}

function toPlatformaticMessage(topic: string, record: FixtureRecord): PlatformaticMessage {
  // A fresh Buffer per header name: Map keys are compared by identity, so repeated names stay repeated.
  const headers = new Map<Buffer, Buffer | null>(record.headers.map(([key, value]) => [Buffer.from(key), value]));
  return {
    topic,
    partition: record.partition,
    timestamp: record.timestamp,
    headers,
    ...(record.key === null ? {} : { key: record.key }),
    ...(record.value === null ? {} : { value: record.value }),
  };
}

function countByPartition(records: readonly FixtureRecord[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const record of records) counts.set(record.partition, (counts.get(record.partition) ?? 0) + 1);
  return counts;
}

/** One base offset per partition written, continuing `nextOffsets` (advanced) when given. */
function checkProduceResult(topic: string, records: readonly FixtureRecord[], result: ProduceResult, nextOffsets?: Map<number, bigint>): Map<number, bigint> {
  const baseOffsets = new Map<number, bigint>();
  for (const [partition, count] of countByPartition(records)) {
    const entry = result.offsets?.find((candidate) => candidate.topic === topic && candidate.partition === partition);
    assert.ok(entry !== undefined, `no produce answer for ${topic}/${partition}: ${String(result.offsets?.map((offset) => `${offset.topic}/${offset.partition}@${offset.offset}`))}`);
    if (nextOffsets !== undefined) {
      const expected = nextOffsets.get(partition) ?? 0n;
      assert.equal(entry.offset, expected, `${topic}/${partition}: base offset ${entry.offset}, expected ${expected} (right after the previous send)`);
      nextOffsets.set(partition, expected + BigInt(count));
    }
    baseOffsets.set(partition, entry.offset);
  }
  return baseOffsets;
}

async function produceAll(producer: PlatformaticProducer, topic: string, records: readonly FixtureRecord[], compression: CompressionAlgorithmValue): Promise<void> {
  const nextOffsets = new Map<number, bigint>();
  for (const slice of chunks(records, recordsPerSend)) {
    const result = await producer.send({ messages: slice.map((record) => toPlatformaticMessage(topic, record)), acks: ProduceAcks.ALL, compression });
    checkProduceResult(topic, slice, result, nextOffsets);
  }
}

function assertTopicHolds(topic: string, contents: readonly PartitionContents[], records: readonly FixtureRecord[]): void {
  assert.equal(contents.length, partitionCount, `${topic}: ${contents.length} partitions read`);
  contents.forEach((partition, index) => {
    const expected = recordsOfPartition(records, index);
    assertPartitionHolds(`${topic}/${index}`, partition.records, expected);
    assert.equal(partition.highWatermark, BigInt(expected.length), `${topic}/${index}: high watermark`);
    assert.equal(partition.logStartOffset, 0n, `${topic}/${index}: log start offset`);
  });
}

describe('@platformatic/kafka producer, consumer fetch and admin against one broker', { timeout: 120_000 }, () => {
  let broker: BrokerProcess;
  let admin: Admin;
  let producer: PlatformaticProducer;
  let reader: PartitionReader;

  before(async () => {
    broker = await startBrokerProcess({ args: brokerArgs });
    admin = adminFor(broker, 'osprey-platformatic-admin');
    producer = producerFor(broker, 'osprey-platformatic-producer');
    reader = new PartitionReader(broker.bootstrap, 'platformatic-test-reader');
  });

  after(async () => {
    await reader?.close();
    await producer?.close();
    await admin?.close();
    await broker?.stop();
  });

  for (const codec of codecsProduced) {
    test(`${recordsPerCodec} records with keys, headers (null values too), null and empty values, ${codec}, come back byte for byte`, async () => {
      await withBrokerLogs(broker, async () => {
        const topic = `platformatic-codec-${codec}`;
        await createTopic(admin, topic);
        const records = makeRecords(recordsPerCodec, { partitions: partitionCount, seed: 500 + codecIds[codec], startTimestampMs: Date.now() - 60_000, nullHeaderValues: true });
        await produceAll(producer, topic, records, codec);

        const contents = await reader.readTopic(topic);
        assertTopicHolds(topic, contents, records);
        for (const [index, partition] of contents.entries()) {
          assert.deepEqual([...partition.codecs], [codecIds[codec]], `${topic}/${index}: batch codecs as stored`);
        }
        const byKcat = await readTopicWithKcat(broker.bootstrap, topic, partitionCount);
        byKcat.forEach((stored, partition) => assertPartitionHolds(`${topic}/${partition} read by kcat`, stored, recordsOfPartition(records, partition)));
      });
    });
  }

  test('one send to several topics: each topic gets its own records', async () => {
    await withBrokerLogs(broker, async () => {
      const topics = ['platformatic-multi-a', 'platformatic-multi-b', 'platformatic-multi-c'];
      for (const topic of topics) await createTopic(admin, topic);
      const recordsByTopic = new Map(topics.map((topic, index) => [topic, makeRecords(600, { partitions: partitionCount, seed: 600 + index, startTimestampMs: Date.now() - 30_000, nullHeaderValues: true })]));
      const nextOffsets = new Map(topics.map((topic) => [topic, new Map<number, bigint>()]));
      for (const round of [0, 1, 2]) {
        const slices = new Map(topics.map((topic) => [topic, (recordsByTopic.get(topic) ?? []).slice(round * 200, round * 200 + 200)]));
        const messages = topics.flatMap((topic) => (slices.get(topic) ?? []).map((record) => toPlatformaticMessage(topic, record)));
        const result = await producer.send({ messages, acks: ProduceAcks.ALL, compression: codecsProduced[round + 1] ?? 'none' });
        for (const topic of topics) checkProduceResult(topic, slices.get(topic) ?? [], result, nextOffsets.get(topic));
      }
      for (const topic of topics) assertTopicHolds(topic, await reader.readTopic(topic), recordsByTopic.get(topic) ?? []);
    });
  });

  // Every codec it produces: for a compressed batch the broker decompresses to answer with the exact record, as Kafka does.
  for (const compression of codecsProduced) {
    test(`Admin.listOffsets (${compression} batches): earliest, latest, max timestamp and the first offset at or after a timestamp`, async () => {
      await withBrokerLogs(broker, async () => {
        const topic = `platformatic-timestamps-${compression}`;
        await createTopic(admin, topic);
        const startMs = Date.now() - 120_000;
        // Timestamps 10 ms apart and rising, except one record in the middle that carries the largest.
        const outlierIndex = 401;
        const lastMs = startMs + 799 * 10;
        const records = makeRecords(800, { partitions: partitionCount, seed: 700, startTimestampMs: 0, nullHeaderValues: true }).map((record, index) => ({
          ...record,
          timestamp: BigInt(index === outlierIndex ? lastMs + 1000 : startMs + index * 10),
        }));
        await produceAll(producer, topic, records, compression); // 4 sends: several batches per partition

        const byPartition = Array.from({ length: partitionCount }, (_, partition) => recordsOfPartition(records, partition));
        /** Kafka's answer, as `partition:offset@timestamp` (no timestamp for -1, -2 and not found). */
        const expected = (partition: number, timestamp: bigint): string => {
          const stored = byPartition[partition] ?? [];
          if (timestamp === -2n) return `${partition}:0`;
          if (timestamp === -1n) return `${partition}:${stored.length}`;
          if (timestamp === -3n) {
            let best = 0;
            stored.forEach((record, index) => {
              if (record.timestamp > (stored[best]?.timestamp ?? -1n)) best = index;
            });
            return `${partition}:${best}@${stored[best]?.timestamp}`;
          }
          const index = stored.findIndex((record) => record.timestamp >= timestamp);
          return index === -1 ? `${partition}:-1` : `${partition}:${index}@${stored[index]?.timestamp}`;
        };
        const outlier = records[outlierIndex] as FixtureRecord;
        const middle = records[333] as FixtureRecord; // inside the second send, not the first record of a batch
        const probes = [-2n, -1n, -3n, BigInt(startMs - 3_600_000), BigInt(startMs), middle.timestamp, middle.timestamp + 5n, BigInt(lastMs), BigInt(lastMs) + 1n, outlier.timestamp, outlier.timestamp + 1n];
        const actualTable: string[] = [];
        const expectedTable: string[] = [];
        for (const timestamp of probes) {
          const answer = await admin.listOffsets({ topics: [{ name: topic, partitions: byPartition.map((_, partitionIndex) => ({ partitionIndex, timestamp })) }] });
          const partitions = answer.find((entry) => entry.name === topic)?.partitions ?? [];
          const found = [...partitions]
            .sort((left, right) => left.partitionIndex - right.partitionIndex)
            .map(({ partitionIndex, offset, timestamp: at }) => (timestamp === -2n || timestamp === -1n || offset === -1n ? `${partitionIndex}:${offset}` : `${partitionIndex}:${offset}@${at}`));
          actualTable.push(`timestamp ${timestamp}: ${found.join(' ')}`);
          expectedTable.push(`timestamp ${timestamp}: ${byPartition.map((_, partition) => expected(partition, timestamp)).join(' ')}`);
        }
        assert.deepEqual(actualTable, expectedTable, `ListOffsets answers, partition:offset@timestamp (first record at ${startMs})`);
      });
    });
  }
});

describe('@platformatic/kafka against a broker with auto-creation off', { timeout: 60_000 }, () => {
  let broker: BrokerProcess;

  before(async () => {
    broker = await startBrokerProcess({ args: [...brokerArgs, '--auto-create-topics=false'] });
  });

  after(async () => {
    await broker?.stop();
  });

  test('producing to an unknown topic, even asking for auto-creation, fails (UNKNOWN_TOPIC_OR_PARTITION) and creates nothing', async () => {
    await withBrokerLogs(broker, async () => {
      const topic = 'platformatic-never-created';
      const producer = producerFor(broker, 'osprey-platformatic-no-auto-create', { retries: 1 });
      try {
        await assert.rejects(
          producer.send({ messages: [{ topic, key: Buffer.from('k'), value: Buffer.from('v') }], autocreateTopics: true }),
          (error: unknown) => {
            // @platformatic/kafka turns a Metadata answer of UNKNOWN_TOPIC_OR_PARTITION (3) for a topic
            // into this UserError, and only that code (clients/base/base.js, #performMetadata).
            assert.ok(error instanceof Error && error.message === `Unknown topic ${topic}.`, `expected "Unknown topic ${topic}.", got ${String(error)}`);
            return true;
          },
        );
      } finally {
        await producer.close();
      }
      const admin = adminFor(broker, 'osprey-platformatic-no-auto-create-admin');
      try {
        assert.ok(!(await admin.listTopics()).includes(topic), `${topic} exists after the refused produce`);
      } finally {
        await admin.close();
      }
      const entries = existsSync(broker.dataDir) ? readdirSync(broker.dataDir, { recursive: true }).map(String) : [];
      assert.deepEqual(entries.filter((entry) => entry.includes(topic)), [], `files for ${topic} in ${broker.dataDir}`);
    });
  });
});

describe('@platformatic/kafka: kill -9 after acknowledged sends', { timeout: 90_000 }, () => {
  let broker: BrokerProcess;

  after(async () => {
    await broker?.stop();
  });

  test('every send acknowledged before the crash is there after restart, at its offsets; offsets go on from there', async (t) => {
    broker = await startBrokerProcess({ args: brokerArgs });
    const topic = 'platformatic-crash';
    const records = makeRecords(3000, { partitions: partitionCount, seed: 800, startTimestampMs: Date.now() - 60_000, nullHeaderValues: true });
    const slices = chunks(records, 100);
    const acknowledged: AcknowledgedSlice[] = [];

    const admin = adminFor(broker, 'osprey-platformatic-crash-admin');
    await withBrokerLogs(broker, () => createTopic(admin, topic));
    await admin.close();
    const producer = producerFor(broker, 'osprey-platformatic-crash', { retries: 3 });

    const send = async (slice: FixtureRecord[], index: number): Promise<void> => {
      const compression = codecsProduced[index % codecsProduced.length] ?? 'none';
      const result = await producer.send({ messages: slice.map((record) => toPlatformaticMessage(topic, record)), acks: ProduceAcks.ALL, compression });
      acknowledged.push({ slice, baseOffsets: checkProduceResult(topic, slice, result) });
    };

    // Sequential sends, every codec several times; then four senders at once, in flight while the broker dies.
    const outcome = await withBrokerLogs(broker, () =>
      produceThroughCrash({
        broker,
        sliceCount: slices.length,
        calmSends: 12,
        concurrentSenders: 4,
        send: async (index) => {
          await send(slices[index] ?? [], index);
          return acknowledged.length;
        },
        tail,
      }),
    );
    broker = outcome.broker;
    await producer.close(true);
    const { acknowledgedBeforeCrash, failedSends } = outcome;
    t.diagnostic(`${acknowledgedBeforeCrash} sends acknowledged before the crash, ${outcome.acknowledgedAfterCrash} after it, ${failedSends} failed`);

    const reader = new PartitionReader(broker.bootstrap, 'platformatic-crash-reader');
    try {
      await withBrokerLogs(broker, async () => {
        const contents = await reader.readTopic(topic);
        assertAcknowledgedStored(topic, contents, acknowledged);

        // The restarted broker appends after what it recovered, never over it.
        const producerAfter = producerFor(broker, 'osprey-platformatic-after-crash');
        try {
          const extra = makeRecords(200, { partitions: partitionCount, seed: 801, startTimestampMs: Date.now(), nullHeaderValues: true });
          const result = await producerAfter.send({ messages: extra.map((record) => toPlatformaticMessage(topic, record)), acks: ProduceAcks.ALL, compression: 'snappy' });
          const nextOffsets = new Map(contents.map((partition, index) => [index, partition.highWatermark]));
          checkProduceResult(topic, extra, result, nextOffsets);
          for (let partition = 0; partition < partitionCount; partition++) {
            const from = contents[partition]?.highWatermark ?? 0n;
            const appended = await reader.readPartition(topic, partition, from);
            assertPartitionHolds(`${topic}/${partition} after restart`, appended.records, recordsOfPartition(extra, partition), from);
          }
        } finally {
          await producerAfter.close();
        }
      });
    } finally {
      await reader.close();
    }
  });
});
