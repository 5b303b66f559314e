/**
 * Start-up, shutdown and resources at scale, on real broker processes over raw sockets:
 * many partitions recovered behind an already open listener, a partition still recovering answered
 * with a retriable error, the cap on open segment files, the broker-wide tail-cache budget, the
 * budget for sealed segments' indexes and the cap on what a compressed batch may decompress to.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { compressRecords } from '../../src/client/compression.js';
import { startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { batchOffsets, decodeRecordBatches, encodeRecordBatch, rawApi, RawKafkaConnection, withConnection, updateCrc } from '../helpers/raw-kafka-client.js';

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);

const errorCode = { none: 0, corruptMessage: 2, notLeaderOrFollower: 6, messageTooLarge: 10 } as const;
const zeroUuid = Buffer.alloc(16);
const megabyte = 1024 * 1024;
/** Generous: a busy machine recovers 2,000 partitions slowly, and we assert behaviour, not speed. */
const recoveryDeadlineMs = 240_000;
/** Each response: creating or writing to 2,000 partitions takes a while on a busy machine. */
const responseDeadlineMs = 120_000;

const brokers: BrokerProcess[] = [];
after(async () => {
  for (const broker of brokers) if (broker.exitCode === null && broker.exitSignal === null) await broker.stop().catch(() => {});
});

async function start(args: readonly string[], options: { dataDir?: string; env?: Record<string, string>; waitForRecovery?: boolean } = {}): Promise<BrokerProcess> {
  const broker = await startBrokerProcess({ args, readyTimeoutMs: recoveryDeadlineMs, ...options });
  brokers.push(broker);
  return broker;
}

async function createTopic(broker: BrokerProcess, name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
  await withConnection(broker, async (connection) => {
    const response = await connection.call(createTopicsApi, 5, {
      topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
      timeoutMs: recoveryDeadlineMs,
      validateOnly: false,
    }, responseDeadlineMs);
    assert.equal(response.topics[0]?.errorCode, errorCode.none, response.topics[0]?.errorMessage ?? '');
  });
}

interface ProduceAnswer {
  readonly errorCode: number;
  readonly baseOffset: bigint;
  readonly errorMessage: string | null;
}

/** One Produce request with one batch per listed partition (acks -1). */
async function produce(connection: RawKafkaConnection, topic: string, batches: ReadonlyMap<number, Buffer>): Promise<Map<number, ProduceAnswer>> {
  const response = await connection.call(produceApi, 8, {
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, topicId: zeroUuid, partitionData: [...batches].map(([index, records]) => ({ index, records })) }],
  }, responseDeadlineMs);
  const answers = new Map<number, ProduceAnswer>();
  for (const partition of response.responses[0]?.partitionResponses ?? []) answers.set(partition.index, partition);
  return answers;
}

function recordBatch(values: readonly string[]): Buffer {
  return encodeRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })));
}

/** Fetches a partition from `fetchOffset` (up to 1 MiB); the error code and the decoded batches. */
async function fetchFrom(connection: RawKafkaConnection, topic: string, partition: number, fetchOffset: bigint): Promise<{ errorCode: number; batches: ReturnType<typeof decodeRecordBatches> }> {
  const response = await connection.call(fetchApi, 11, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: megabyte,
    forgottenTopicsData: [],
    topics: [{ topic, topicId: zeroUuid, partitions: [{ partition, fetchOffset, partitionMaxBytes: megabyte }] }],
  }, responseDeadlineMs);
  const answer = response.responses[0]?.partitions[0];
  assert.ok(answer);
  return { errorCode: answer.errorCode, batches: decodeRecordBatches(answer.records ?? Buffer.alloc(0)) };
}

/** Every record value of a partition, read from offset 0 to the end, fetch after fetch. */
async function readAllValues(connection: RawKafkaConnection, topic: string, partition: number, onFetch: () => void = () => {}): Promise<string[]> {
  const values: string[] = [];
  let offset = 0n;
  for (;;) {
    const { errorCode: code, batches } = await fetchFrom(connection, topic, partition, offset);
    assert.equal(code, errorCode.none);
    onFetch();
    if (batches.length === 0) return values;
    for (const batch of batches) {
      for (const record of batch.records) {
        values.push(record.value?.toString() ?? '');
        offset = record.offset + 1n;
      }
    }
  }
}

async function endOffsets(connection: RawKafkaConnection, topic: string, partitions: readonly number[]): Promise<Map<number, { errorCode: number; offset: bigint }>> {
  const response = await connection.call(listOffsetsApi, 1, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 0,
    topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
  }, responseDeadlineMs);
  return new Map((response.topics[0]?.partitions ?? []).map((answer) => [answer.partitionIndex, answer]));
}

test('a broker with 2,000 partitions listens before recovery ends, recovers them all after kill -9, and serves every one', async () => {
  const partitionCount = 2000;
  const broker = await start([]);
  await createTopic(broker, 'many', partitionCount);
  const everyPartition = Array.from({ length: partitionCount }, (_, index) => index);
  await withConnection(broker, async (connection) => {
    const answers = await produce(connection, 'many', new Map(everyPartition.map((index) => [index, recordBatch([`first of ${index}`])])));
    for (const index of everyPartition) assert.equal(answers.get(index)?.errorCode, errorCode.none, `partition ${index}`);
  });
  await broker.kill9();

  const again = await broker.restart();
  brokers.push(again);
  await again.waitForLog(/partitions recovered/, recoveryDeadlineMs);
  const logs = again.logs();
  assert.ok(logs.indexOf('kafka listener ready') < logs.indexOf('partitions recovered'), 'the listener is ready before the partitions are recovered');
  assert.match(logs, /partitions recovered partitions=2000 opened=2000 failed=0/);
  await withConnection(again, async (connection) => {
    const offsets = await endOffsets(connection, 'many', everyPartition);
    for (const index of everyPartition) assert.deepEqual([offsets.get(index)?.errorCode, offsets.get(index)?.offset], [errorCode.none, 1n], `partition ${index}`);
    const answers = await produce(connection, 'many', new Map(everyPartition.map((index) => [index, recordBatch([`second of ${index}`])])));
    for (const index of everyPartition) assert.deepEqual([answers.get(index)?.errorCode, answers.get(index)?.baseOffset], [errorCode.none, 1n], `partition ${index}`);
    assert.deepEqual(await readAllValues(connection, 'many', 1999), ['first of 1999', 'second of 1999']);
  });
  await again.stop();
});

test('while partitions are still being recovered, ApiVersions and Metadata answer, Produce, Fetch and ListOffsets get NOT_LEADER_OR_FOLLOWER, then succeed', async () => {
  const broker = await start([]);
  await createTopic(broker, 'held', 3);
  await withConnection(broker, async (connection) => {
    const answers = await produce(connection, 'held', new Map([[0, recordBatch(['a', 'b'])]]));
    assert.equal(answers.get(0)?.errorCode, errorCode.none);
  });
  await broker.stop();

  // The test hook holds recovery while this file exists, so the test sees a broker mid-recovery without racing it.
  const holdFile = join(temporaryDirectory('osprey-hold-'), 'hold');
  writeFileSync(holdFile, '');
  const held = await start([], { dataDir: broker.dataDir, env: { OSPREY_TEST_HOLD_RECOVERY: holdFile }, waitForRecovery: false });
  await withConnection(held, async (connection) => {
    const versions = await connection.call(apiVersionsApi, 3, { clientSoftwareName: 'scale-test', clientSoftwareVersion: '1' }, responseDeadlineMs);
    assert.equal(versions.errorCode, errorCode.none);
    const metadata = await connection.call(metadataApi, 1, { topics: [{ name: 'held', topicId: zeroUuid }], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, responseDeadlineMs);
    assert.equal(metadata.topics[0]?.errorCode, errorCode.none);
    assert.equal(metadata.topics[0]?.partitions.length, 3);

    const refused = await produce(connection, 'held', new Map([[0, recordBatch(['c'])]]));
    assert.equal(refused.get(0)?.errorCode, errorCode.notLeaderOrFollower, refused.get(0)?.errorMessage ?? '');
    assert.equal((await fetchFrom(connection, 'held', 0, 0n)).errorCode, errorCode.notLeaderOrFollower);
    assert.equal((await endOffsets(connection, 'held', [0])).get(0)?.errorCode, errorCode.notLeaderOrFollower);

    rmSync(holdFile);
    await held.waitForLog(/partitions recovered partitions=3 opened=3 failed=0/, recoveryDeadlineMs);
    const accepted = await produce(connection, 'held', new Map([[0, recordBatch(['c'])]]));
    assert.deepEqual([accepted.get(0)?.errorCode, accepted.get(0)?.baseOffset], [errorCode.none, 2n]);
    assert.deepEqual(await readAllValues(connection, 'held', 0), ['a', 'b', 'c']);
  });
  await held.stop();
});

/** Segment files (.log) of topic `topic` that the process holds open, from /proc/PID/fd. */
function openSegmentFiles(pid: number, dataDir: string, topic: string): number {
  let count = 0;
  for (const descriptor of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${descriptor}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith(join(dataDir, `${topic}-`)) && target.endsWith('.log')) count++;
  }
  return count;
}

test('with limits.maxOpenSegmentFiles 8, consumers reading 12 partitions of many segments each keep at most 8 segment files open, and read every record', async () => {
  const cap = 8;
  const partitionCount = 12;
  const batchesPerPartition = 30;
  const broker = await start(['--limits.max-open-segment-files', String(cap)]);
  // segment.bytes 1024: every few batches roll a new segment, so each partition has about ten.
  await createTopic(broker, 'files', partitionCount, { 'segment.bytes': '1024' });
  const expected = (partition: number, batch: number): string => `partition ${partition} batch ${batch} `.padEnd(200, '.');
  await withConnection(broker, async (connection) => {
    for (let batch = 0; batch < batchesPerPartition; batch++) {
      const answers = await produce(connection, 'files', new Map(Array.from({ length: partitionCount }, (_, partition) => [partition, recordBatch([expected(partition, batch)])])));
      for (const answer of answers.values()) assert.equal(answer.errorCode, errorCode.none);
    }
  });
  const segmentFiles = readdirSync(join(broker.dataDir, 'files-0')).filter((name) => name.endsWith('.log')).length;
  assert.ok(segmentFiles >= 5, `expected several segments per partition, found ${segmentFiles}`);
  // Active segments written through the journal are fsynced before they are closed for the cap:
  // for a moment after the last produce some are still open, being fsynced.
  for (let attempt = 0; attempt < 100 && openSegmentFiles(broker.pid, broker.dataDir, 'files') > cap; attempt++) await setTimeout(50);
  assert.ok(openSegmentFiles(broker.pid, broker.dataDir, 'files') <= cap);

  let mostOpen = 0;
  const sample = (): void => {
    mostOpen = Math.max(mostOpen, openSegmentFiles(broker.pid, broker.dataDir, 'files'));
  };
  // Three consumers at once, each over every partition from the start: reads across all segments.
  await Promise.all(
    [0, 1, 2].map((consumer) =>
      withConnection(broker, async (connection) => {
        for (let step = 0; step < partitionCount; step++) {
          const partition = (step + consumer * 4) % partitionCount;
          const values = await readAllValues(connection, 'files', partition, sample);
          assert.deepEqual(values, Array.from({ length: batchesPerPartition }, (_, batch) => expected(partition, batch)));
        }
      }),
    ),
  );
  // A file being opened while the one it replaces is still closing may be seen for a moment: +1.
  assert.ok(mostOpen <= cap + 1, `at most ${cap} (+1 in passing) segment files open while reading, saw ${mostOpen}`);
  assert.ok(openSegmentFiles(broker.pid, broker.dataDir, 'files') <= cap);
  const metrics = await broker.metricsText();
  assert.match(metrics, /^osprey_segment_files_closed_for_cap [1-9]\d*$/m);
  await broker.stop();
});

test('the tail caches of all partitions together stay within limits.maxTailCacheBytes, and reads past them come from disk intact', async () => {
  const budgetBytes = 64 * 1024;
  const partitionCount = 40;
  const broker = await start(['--limits.max-tail-cache-bytes', String(budgetBytes)]);
  await createTopic(broker, 'cached', partitionCount);
  const value = (partition: number, batch: number): string => `p${partition} b${batch} `.padEnd(4000, '#');
  await withConnection(broker, async (connection) => {
    // 40 partitions × 3 batches of 4 KB: about 480 KB, far beyond the 64 KiB budget (each partition's own cap is 1 MiB).
    for (let batch = 0; batch < 3; batch++) {
      const answers = await produce(connection, 'cached', new Map(Array.from({ length: partitionCount }, (_, partition) => [partition, recordBatch([value(partition, batch)])])));
      for (const answer of answers.values()) assert.equal(answer.errorCode, errorCode.none);
    }
    const metrics = await broker.metricsText();
    const cachedBytes = Number(/^osprey_tail_cache_bytes (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(cachedBytes > 0 && cachedBytes <= budgetBytes, `tail caches hold ${cachedBytes} bytes, budget ${budgetBytes}`);
    assert.match(metrics, /^osprey_tail_cache_evicted_batches [1-9]\d*$/m);
    for (const partition of [0, 20, 39]) {
      assert.deepEqual(await readAllValues(connection, 'cached', partition), [0, 1, 2].map((batch) => value(partition, batch)));
    }
  });
  await broker.stop();
});

test('with limits.maxSegmentIndexBytes 0, sealed segments give up their indexes, and old offsets and timestamps are still found through them', async () => {
  // No tail cache either: every fetch goes through the segments' offset indexes.
  const broker = await start(['--limits.max-segment-index-bytes', '0', '--limits.max-tail-cache-bytes', '0']);
  const partitionCount = 4;
  const batchCount = 40;
  const firstTimestampMs = 1_700_000_000_000;
  // segment.bytes 8192 and an index entry per batch: each partition has several sealed segments with indexes.
  await createTopic(broker, 'indexed', partitionCount, { 'segment.bytes': '8192', 'index.interval.bytes': '100' });
  const value = (partition: number, batch: number, record: number): string => `p${partition} b${batch} r${record} `.padEnd(500, '.');
  await withConnection(broker, async (connection) => {
    for (let batch = 0; batch < batchCount; batch++) {
      const batches = new Map<number, Buffer>();
      for (let partition = 0; partition < partitionCount; partition++) {
        const records = [0, 1, 2].map((record) => ({ key: null, value: Buffer.from(value(partition, batch, record)) }));
        batches.set(partition, encodeRecordBatch(records, { baseTimestamp: firstTimestampMs + batch * 1000 }));
      }
      for (const answer of (await produce(connection, 'indexed', batches)).values()) assert.equal(answer.errorCode, errorCode.none);
    }
    const segments = readdirSync(join(broker.dataDir, 'indexed-0')).filter((name) => name.endsWith('.log')).length;
    assert.ok(segments >= 5, `expected several segments per partition, found ${segments}`);
    const dropped = (metrics: string): number => Number(/^osprey_segment_indexes_dropped (\d+)$/m.exec(metrics)?.[1]);
    const droppedAfterWrites = dropped(await broker.metricsText());
    assert.ok(droppedAfterWrites > 0, 'indexes of sealed segments were dropped as segments were sealed');

    // Fetches from offsets inside old segments, in an order that goes back and forth between them.
    for (const partition of [0, 3]) {
      for (const [batch, record] of [[1, 1], [37, 2], [5, 2], [20, 1], [0, 2], [39, 2], [12, 1]] as const) {
        const offset = BigInt(batch * 3 + record);
        const { errorCode: code, batches } = await fetchFrom(connection, 'indexed', partition, offset);
        assert.equal(code, errorCode.none);
        const first = batches.flatMap((found) => found.records).find((found) => found.offset >= offset);
        assert.deepEqual([first?.offset, first?.value?.toString()], [offset, value(partition, batch, record)]);
      }
      assert.deepEqual(await readAllValues(connection, 'indexed', partition), Array.from({ length: batchCount * 3 }, (_, index) => value(partition, Math.floor(index / 3), index % 3)));
    }
    // ListOffsets by timestamp, through the time indexes read back from their files.
    const response = await connection.call(listOffsetsApi, 1, {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 0,
      topics: [{ name: 'indexed', partitions: [2, 7, 33].map((batch, partitionIndex) => ({ partitionIndex, timestamp: BigInt(firstTimestampMs + batch * 1000 - 500) })) }],
    }, responseDeadlineMs);
    const found = (response.topics[0]?.partitions ?? []).map((answer) => [answer.partitionIndex, answer.errorCode, answer.offset]);
    assert.deepEqual(found, [[0, errorCode.none, 6n], [1, errorCode.none, 21n], [2, errorCode.none, 99n]]);

    const metrics = await broker.metricsText();
    assert.ok(dropped(metrics) > droppedAfterWrites, 'indexes read back for the reads were dropped again');
    const indexBytes = Number(/^osprey_segment_index_bytes (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(indexBytes < 4096, `at most the indexes of the segment looked up last stay in memory, saw ${indexBytes} bytes`);
  });
  await broker.stop();
});

/** A batch of `records`, its records section compressed with `codec` (1 gzip … 4 zstd). */
async function compressedBatch(codec: number, values: readonly Buffer[]): Promise<Buffer> {
  const plain = encodeRecordBatch(values.map((value) => ({ key: null, value })));
  const compressed = await compressRecords(codec, plain.subarray(batchOffsets.records));
  const batch = Buffer.concat([plain.subarray(0, batchOffsets.records), compressed]);
  batch.writeInt32BE(batch.length - 12, batchOffsets.batchLength);
  batch.writeInt16BE(codec, batchOffsets.attributes);
  return updateCrc(batch);
}

test('a compressed batch that would decompress past limits.maxDecompressedBytes is refused with MESSAGE_TOO_LARGE, for every codec; one within it is stored', async () => {
  const capBytes = 256 * 1024;
  const broker = await start(['--limits.max-decompressed-bytes', String(capBytes)]);
  await createTopic(broker, 'inflate', 1);
  const codecs = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
  await withConnection(broker, async (connection) => {
    let stored = 0n;
    for (const [name, codec] of Object.entries(codecs)) {
      // Ten records of 100 KB of zeros: about 1 MB inflated, a few KB compressed.
      const bomb = await compressedBatch(codec, Array.from({ length: 10 }, () => Buffer.alloc(100 * 1024)));
      assert.ok(bomb.length < 64 * 1024, `${name}: the compressed batch is small (${bomb.length} bytes)`);
      const refused = (await produce(connection, 'inflate', new Map([[0, bomb]]))).get(0);
      assert.equal(refused?.errorCode, errorCode.messageTooLarge, `${name}: ${refused?.errorMessage ?? ''}`);
      assert.match(refused?.errorMessage ?? '', /limits\.maxDecompressedBytes 262144/);

      const small = await compressedBatch(codec, [Buffer.from(`within the limit, ${name}`)]);
      const accepted = (await produce(connection, 'inflate', new Map([[0, small]]))).get(0);
      assert.deepEqual([accepted?.errorCode, accepted?.baseOffset], [errorCode.none, stored], `${name}: ${accepted?.errorMessage ?? ''}`);
      stored++;
    }
    const offsets = await endOffsets(connection, 'inflate', [0]);
    assert.equal(offsets.get(0)?.offset, 4n, 'only the four small batches were stored');

    const garbage = await compressedBatch(codecs.lz4, [Buffer.from('x')]);
    garbage.fill(0x55, batchOffsets.records, batchOffsets.records + 4); // no LZ4 frame magic any more
    updateCrc(garbage);
    assert.equal((await produce(connection, 'inflate', new Map([[0, garbage]]))).get(0)?.errorCode, errorCode.corruptMessage);
  });
  assert.match(broker.logs(), /kafka listener ready/);
  await broker.stop();
});
