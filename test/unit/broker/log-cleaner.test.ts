import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyOffsetMap, keyDigest } from '../../../src/broker/log-cleaner/key-offset-map.js';
import { emptyBatchOf, filterBatch } from '../../../src/broker/log-cleaner/batch-filter.js';
import { cleanPartition, cleaningNeed, KeyMapTooSmallError, type CleaningInput, type CompactionConfig } from '../../../src/broker/log-cleaner/clean-partition.js';
import { recompressBatch } from '../../../src/broker/recompress.js';
import { compressionCodecMask, hasValidCrc, readAttributes, readLastOffset, readRecordsCount } from '../../../src/protocol/kafka/batch-header.js';
import { decodeRecordBatch } from '../../../src/protocol/kafka/records.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { asOffset } from '../../../src/storage/offset.js';
import { cleanerSwapFileName, encodeCleanerSwap } from '../../../src/storage/cleaner-state.js';
import { checkDataDirectory } from '../../../src/storage/check.js';
import { encodeBatch, logOptions, seededRandom, splitBatches, withTempDirectory, type FixtureRecord } from '../storage/batch-fixtures.js';

const baseTimestamp = 1_765_000_000_000;

test('key offset map: the latest offset per key, like a Map, within its memory', () => {
  const random = seededRandom(7);
  const map = new KeyOffsetMap(24 * 4000);
  const oracle = new Map<string, number>();
  for (let offset = 0; offset < 3000; offset++) {
    const key = `key-${Math.floor(random() * 1000)}`;
    assert.ok(map.put(keyDigest(Buffer.from(key)), offset));
    oracle.set(key, offset);
  }
  assert.equal(map.size, oracle.size);
  for (const [key, offset] of oracle) assert.equal(map.get(keyDigest(Buffer.from(key))), offset, key);
  assert.equal(map.get(keyDigest(Buffer.from('never written'))), -1);
  // An older offset does not replace a newer one.
  const digest = keyDigest(Buffer.from('key-1'));
  const latest = map.get(digest);
  map.put(digest, 0);
  assert.equal(map.get(digest), latest);
});

test('key offset map: refuses new keys once full, keeps updating known ones; sized down to what is needed', () => {
  const map = new KeyOffsetMap(24 * 100);
  assert.equal(map.capacity, 90);
  let accepted = 0;
  for (let index = 0; index < 200; index++) if (map.put(keyDigest(Buffer.from(`k${index}`)), index)) accepted++;
  assert.equal(accepted, 90);
  assert.ok(map.isFull);
  assert.ok(map.put(keyDigest(Buffer.from('k3')), 500), 'a known key still updates');
  assert.equal(map.get(keyDigest(Buffer.from('k3'))), 500);
  assert.equal(map.get(keyDigest(Buffer.from('k150'))), -1);
  const small = new KeyOffsetMap(128 * 1024 * 1024, 10);
  assert.ok(small.capacity >= 10 && small.capacity < 100, `capacity ${small.capacity} for 10 keys`);
});

function keyed(key: string | null, value: string | null, timestamp = baseTimestamp): FixtureRecord {
  return { key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp };
}

test('filtering a batch keeps the chosen records byte for byte, its offsets, header fields and codec', async () => {
  const records = Array.from({ length: 10 }, (_, index) => keyed(`k${index % 4}`, `value ${index} `.repeat(10), baseTimestamp + index));
  const plain = encodeBatch(records, { baseOffset: 100, producerId: 42n });
  for (const codec of [0, 1, 2, 3, 4]) {
    const batch = await recompressBatch(plain, codec, 1 << 20);
    const outcome = await filterBatch(batch, 1 << 20, (record) => (record.offset - 100) % 3 === 0);
    assert.equal(outcome.kind, 'filtered', `codec ${codec}`);
    if (outcome.kind !== 'filtered') continue;
    const filtered = outcome.batch;
    assert.ok(hasValidCrc(filtered, 0, filtered.length));
    assert.equal(readAttributes(filtered, 0) & compressionCodecMask, codec, 'same codec');
    assert.equal(readLastOffset(filtered, 0), 109, 'lastOffsetDelta kept');
    assert.deepEqual(filtered.subarray(0, 8), plain.subarray(0, 8), 'base offset kept');
    assert.deepEqual(filtered.subarray(23, 57), plain.subarray(23, 57), 'lastOffsetDelta, timestamps and producer fields kept');
    const decoded = decodeRecordBatch(await recompressBatch(filtered, 0, 1 << 20));
    assert.deepEqual(
      decoded.records.map((record) => [record.offset, record.key?.toString(), record.value?.toString(), record.timestampMs]),
      [0, 3, 6, 9].map((delta) => [100 + delta, `k${delta % 4}`, `value ${delta} `.repeat(10), baseTimestamp + delta]),
    );
  }
  assert.equal((await filterBatch(plain, 1 << 20, () => true)).kind, 'unchanged');
  assert.equal((await filterBatch(plain, 1 << 20, () => false)).kind, 'emptied');
  const empty = emptyBatchOf(await recompressBatch(plain, 1, 1 << 20));
  assert.equal(empty.length, 61);
  assert.equal(readRecordsCount(empty, 0), 0);
  assert.equal(readAttributes(empty, 0) & compressionCodecMask, 0, 'an empty batch is uncompressed');
  assert.equal(readLastOffset(empty, 0), 109);
  assert.ok(hasValidCrc(empty, 0, empty.length));
  assert.equal(decodeRecordBatch(empty).records.length, 0);
});

interface ReadRecordEntry {
  offset: number;
  key: string | null;
  value: string | null;
}

async function readAll(log: PartitionLog): Promise<{ records: ReadRecordEntry[]; batchLastOffsets: number[] }> {
  const records: ReadRecordEntry[] = [];
  const batchLastOffsets: number[] = [];
  let offset: number = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { chunks } = await log.read(asOffset(offset), 1 << 20);
    const batches = splitBatches(chunks);
    assert.ok(batches.length > 0);
    for (const batch of batches) {
      const decoded = decodeRecordBatch(await recompressBatch(batch.bytes, 0, 1 << 20));
      for (const record of decoded.records) records.push({ offset: record.offset, key: record.key?.toString() ?? null, value: record.value?.toString() ?? null });
      batchLastOffsets.push(batch.lastOffset);
      offset = batch.lastOffset + 1;
    }
  }
  return { records, batchLastOffsets };
}

const config: CompactionConfig = { deleteRetentionMs: 1000, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER };

function input(log: PartitionLog, overrides: Partial<CleaningInput> = {}): CleaningInput {
  return {
    log,
    config,
    limits: { dedupeBufferBytes: 1 << 20, ioChunkBytes: 4096, maxDecompressedBytes: 1 << 20 },
    nowMs: baseTimestamp + 10_000,
    producerLastOffsets: new Set(),
    shouldStop: () => false,
    ...overrides,
  };
}

/** Appends `count` records over `keys` keys (key i mod keys), `perBatch` to a batch; gzip every other batch. Returns what was written by offset. */
async function appendKeyed(log: PartitionLog, count: number, keys: number, perBatch: number, tag = 'v'): Promise<ReadRecordEntry[]> {
  const written: ReadRecordEntry[] = [];
  for (let first = 0; first < count; first += perBatch) {
    const records = Array.from({ length: Math.min(perBatch, count - first) }, (_, index) => keyed(`key-${(first + index) % keys}`, `${tag}${first + index}`, baseTimestamp + first + index));
    const result = log.append(encodeBatch(records, { gzip: (first / perBatch) % 2 === 1 }));
    await result.durable;
    records.forEach((record, index) => written.push({ offset: result.baseOffset + index, key: record.key!.toString(), value: record.value!.toString() }));
  }
  return written;
}

/**
 * What a compacted log must hold: below `cleanedEnd` the latest record of each key among those below
 * it (a later record in the uncleaned part does not count yet), everything at or after it.
 */
function expectedAfterCleaning(written: ReadRecordEntry[], cleanedEnd: number): ReadRecordEntry[] {
  const latest = new Map<string | null, number>();
  for (const record of written) if (record.offset < cleanedEnd) latest.set(record.key, record.offset);
  return written.filter((record) => record.offset >= cleanedEnd || latest.get(record.key) === record.offset);
}

test('a pass keeps the latest record of each key in the sealed segments, offsets unchanged, and survives a reopen', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 1500, indexIntervalBytes: 200 });
    const log = await PartitionLog.open(directory, options);
    const written = await appendKeyed(log, 400, 25, 4);
    const { logStartOffset, logEndOffset, highWatermark } = log;
    const segmentsBefore = log.segmentCount;
    const sizeBefore = log.sizeBytes;
    assert.ok(segmentsBefore > 5);
    const outcome = await cleanPartition(input(log));
    assert.ok(outcome !== null);
    const cleanedEnd = outcome.cleanedEndOffset;
    assert.equal(cleanedEnd, log.compactionView().sealedSegments.at(-1)!.nextOffset, 'every sealed segment cleaned');
    assert.ok(log.sizeBytes < sizeBefore / 2, `${log.sizeBytes} bytes after, ${sizeBefore} before`);
    assert.deepEqual([log.logStartOffset, log.logEndOffset, log.highWatermark, log.segmentCount], [logStartOffset, logEndOffset, highWatermark, segmentsBefore]);
    log.invariants();
    const expected = expectedAfterCleaning(written, cleanedEnd);
    assert.deepEqual((await readAll(log)).records, expected);
    assert.equal(cleaningNeed(log.compactionView(), config, baseTimestamp + 10_000), null, 'nothing left to clean');
    // Appends go on after the cleaned part; the next pass keeps each key's newest.
    const more = await appendKeyed(log, 200, 25, 4, 'w');
    await log.close();
    const reopened = await PartitionLog.open(directory, options);
    assert.deepEqual((await readAll(reopened)).records, [...expected, ...more]);
    const second = await cleanPartition(input(reopened));
    assert.ok(second !== null);
    assert.deepEqual((await readAll(reopened)).records, expectedAfterCleaning([...expected, ...more], second.cleanedEndOffset));
    reopened.invariants();
    await reopened.close();
    // `osprey broker check` takes the gaps of cleaned segments for what they are.
    assert.deepEqual(checkDataDirectory(directory).findings, []);
    // A restart scanning everything (no recovery point) accepts the gaps of cleaned segments.
    await rename(join(directory, 'recovery-point-offset-checkpoint'), join(directory, 'recovery-point-offset-checkpoint.old'));
    const scanned = await PartitionLog.open(directory, options);
    assert.equal(scanned.damagedRangeCount, 0);
    assert.deepEqual((await readAll(scanned)).records, expectedAfterCleaning([...expected, ...more], second.cleanedEndOffset));
    await scanned.close();
  });
});

test('tombstones stay for delete.retention.ms after the pass that first cleaned them, then go; keyless records go', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 600 }));
    const append = async (records: FixtureRecord[]) => (await Promise.all([log.append(encodeBatch(records))].map(async (result) => (await result.durable, result))))[0]!;
    await append([keyed('a', 'a1'), keyed('b', 'b1'), keyed(null, 'keyless')]);
    const tombstone = await append([keyed('a', null)]);
    for (let index = 0; index < 20; index++) await append([keyed(`filler-${index}`, 'x'.repeat(50))]);
    const first = await cleanPartition(input(log, { nowMs: baseTimestamp + 10_000 }));
    assert.ok(first !== null && first.cleanedEndOffset > tombstone.baseOffset);
    let records = (await readAll(log)).records;
    assert.deepEqual(records.filter((record) => record.key === 'a' || record.key === 'b' || record.key === null), [
      { offset: 1, key: 'b', value: 'b1' },
      { offset: tombstone.baseOffset, key: 'a', value: null },
    ]);
    assert.equal(log.compactionView().cleanerState.passes.length, 1, 'the pass that kept a tombstone is remembered');
    // Before delete.retention.ms has passed nothing needs cleaning; after it, the tombstone goes.
    assert.equal(cleaningNeed(log.compactionView(), config, baseTimestamp + 10_500), null);
    assert.ok(cleaningNeed(log.compactionView(), config, baseTimestamp + 11_000) !== null);
    const second = await cleanPartition(input(log, { nowMs: baseTimestamp + 11_000 }));
    assert.ok(second !== null);
    records = (await readAll(log)).records;
    assert.deepEqual(records.filter((record) => record.key === 'a' || record.key === 'b'), [{ offset: 1, key: 'b', value: 'b1' }]);
    assert.equal(log.compactionView().cleanerState.passes.length, 0);
    await log.close();
  });
});

test('min.compaction.lag.ms keeps recent segments dirty; a small key map cleans in several passes to the same result', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 1200 }));
    const written = await appendKeyed(log, 300, 10, 3);
    const lagged = await cleanPartition(input(log, { nowMs: baseTimestamp + 150, config: { ...config, minCompactionLagMs: 100 } }));
    assert.ok(lagged !== null);
    assert.ok(lagged.cleanedEndOffset <= 50, `cleaned to ${lagged.cleanedEndOffset}: records from offset 50 on are newer than the lag`);
    const segmentOffsets = log.compactionView().sealedSegments.map((segment) => segment.nextOffset - segment.baseOffset);
    const roomForOneSegment = Math.ceil((Math.max(...segmentOffsets) + 2) / 0.9) * 24;
    let passes = 0;
    for (;;) {
      const outcome = await cleanPartition(input(log, { config: { ...config, minCleanableDirtyRatio: 0.01 }, limits: { dedupeBufferBytes: roomForOneSegment, ioChunkBytes: 1000, maxDecompressedBytes: 1 << 20 } }));
      if (outcome === null) break;
      passes++;
    }
    assert.ok(passes > 2, `${passes} passes`);
    const cleanedEnd = log.compactionView().cleanerState.cleanedEndOffset;
    assert.equal(cleanedEnd, log.compactionView().sealedSegments.at(-1)!.nextOffset);
    assert.deepEqual((await readAll(log)).records, expectedAfterCleaning(written, cleanedEnd));
    await assert.rejects(
      cleanPartition(input(log, { limits: { dedupeBufferBytes: 48, ioChunkBytes: 1000, maxDecompressedBytes: 1 << 20 } })).then(async () => {
        await appendKeyed(log, 300, 10, 3);
        return cleanPartition(input(log, { limits: { dedupeBufferBytes: 48, ioChunkBytes: 1000, maxDecompressedBytes: 1 << 20 } }));
      }),
      KeyMapTooSmallError,
    );
    await log.close();
  });
});

test("a producer's latest batch and each segment's last batch stay, emptied, so offsets never go back", async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 400 }));
    const producerBatch = log.append(encodeBatch([keyed('p', 'old')], { producerId: 9n }));
    await producerBatch.durable;
    await log.append(encodeBatch([keyed('p', 'new')])).durable;
    for (let index = 0; index < 30; index++) await log.append(encodeBatch([keyed('same', `v${index}`)])).durable;
    const sealed = log.compactionView().sealedSegments;
    const outcome = await cleanPartition(input(log, { producerLastOffsets: new Set([producerBatch.lastOffset]) }));
    assert.ok(outcome !== null);
    const { records, batchLastOffsets } = await readAll(log);
    assert.ok(!records.some((record) => record.value === 'old'), 'the superseded record is gone');
    assert.ok(records.some((record) => record.value === 'new'));
    assert.ok(batchLastOffsets.includes(producerBatch.lastOffset), "the producer's batch stays (empty)");
    for (const segment of sealed) {
      if (segment.nextOffset <= outcome.cleanedEndOffset) assert.ok(batchLastOffsets.includes(segment.nextOffset - 1), `segment ${segment.baseOffset} still ends at ${segment.nextOffset - 1}`);
    }
    await log.close();
  });
});

test('a crash before the swap record leaves the old segments; after it, recovery finishes the swap', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 1000 });
    const log = await PartitionLog.open(directory, options);
    const written = await appendKeyed(log, 200, 5, 2);
    let heldWriters: Array<{ paths: string[] }> = [];
    // Stop the pass after its cleaned files are written, as a crash there would.
    const outcome = await cleanPartition(
      input(log, {
        beforeSwap: async () => {
          heldWriters = (await readdir(directory)).filter((name) => name.endsWith('.cleaned')).map((name) => ({ paths: [name] }));
          throw new Error('crash');
        },
      }),
    ).catch((error: Error) => error);
    assert.ok(outcome instanceof Error && outcome.message === 'crash');
    assert.ok(heldWriters.length > 0, 'cleaned files were written before the swap');
    assert.deepEqual((await readdir(directory)).filter((name) => name.endsWith('.cleaned')), [], 'a pass given up removes its files');
    await log.close();

    // Crash before the commit point: leftover .cleaned files are removed at open, data as it was.
    const again = await PartitionLog.open(directory, options);
    const sealed = again.compactionView().sealedSegments;
    const writer = again.cleanedSegmentWriter(sealed[0]!.baseOffset);
    for await (const chunk of again.sealedSegmentBatches(sealed[0]!.baseOffset, 1 << 20)) {
      for (const batch of splitBatches([chunk])) if (batch.lastOffset === sealed[0]!.nextOffset - 1) await writer.append(batch.bytes);
    }
    await writer.finish();
    await again.close();
    const beforeCommit = await PartitionLog.open(directory, options);
    assert.deepEqual((await readAll(beforeCommit)).records, written);
    assert.deepEqual((await readdir(directory)).filter((name) => name.endsWith('.cleaned')), []);

    // Crash after the commit point, with the .log renamed but not its indexes: recovery finishes the swap.
    const writer2 = beforeCommit.cleanedSegmentWriter(sealed[0]!.baseOffset);
    for await (const chunk of beforeCommit.sealedSegmentBatches(sealed[0]!.baseOffset, 1 << 20)) {
      for (const batch of splitBatches([chunk])) if (batch.lastOffset === sealed[0]!.nextOffset - 1) await writer2.append(batch.bytes);
    }
    await writer2.finish();
    await beforeCommit.close();
    const state = { cleanedEndOffset: sealed[0]!.nextOffset, passes: [] };
    await writeFile(join(directory, cleanerSwapFileName), encodeCleanerSwap({ baseOffsets: [sealed[0]!.baseOffset], state }));
    const logName = `${String(sealed[0]!.baseOffset).padStart(20, '0')}.log`;
    await rename(join(directory, `${logName}.cleaned`), join(directory, logName));
    const afterCommit = await PartitionLog.open(directory, options);
    const kept = written.filter((record) => record.offset >= sealed[0]!.nextOffset - 2);
    assert.deepEqual((await readAll(afterCommit)).records, kept, 'only the last batch of the first segment is left in it');
    assert.equal(afterCommit.compactionView().cleanerState.cleanedEndOffset, sealed[0]!.nextOffset);
    assert.equal(afterCommit.damagedRangeCount, 0);
    const files = await readdir(directory);
    assert.ok(!files.includes(cleanerSwapFileName) && !files.some((name) => name.endsWith('.cleaned')));
    afterCommit.invariants();
    await afterCommit.close();
  });
});

test('reads racing a swap get whole, correct batches', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 2000, indexIntervalBytes: 100 }));
    const written = await appendKeyed(log, 600, 30, 3);
    const byOffset = new Map(written.map((record) => [record.offset, record]));
    let reading = true;
    let reads = 0;
    const readers = Array.from({ length: 3 }, async () => {
      while (reading) {
        const { records } = await readAll(log);
        for (const record of records) assert.deepEqual(record, byOffset.get(record.offset));
        reads++;
      }
    });
    const outcome = await cleanPartition(input(log));
    reading = false;
    await Promise.all(readers);
    assert.ok(outcome !== null && reads > 0);
    assert.deepEqual((await readAll(log)).records, expectedAfterCleaning(written, outcome.cleanedEndOffset));
    await log.close();
  });
});

test('when a log needs cleaning: dirty ratio, max.compaction.lag.ms, expired tombstones; never with damage', () => {
  const segment = (baseOffset: number, nextOffset: number, sizeBytes: number, timestamp: number) => ({ baseOffset, nextOffset, sizeBytes, maxTimestamp: timestamp + 10, firstBatchTimestamp: timestamp });
  const sealedSegments = [segment(0, 100, 1000, 1000), segment(100, 200, 1000, 2000), segment(200, 210, 100, 3000)];
  const view = (cleanedEndOffset: number, passes: Array<{ firstOffset: number; endOffset: number; cleanedAtMs: number }> = [], damaged = false) => ({
    logStartOffset: 0,
    cleanerState: { cleanedEndOffset, passes },
    sealedSegments,
    damaged,
  });
  const now = 10_000;
  assert.equal(cleaningNeed(view(0), config, now)?.reason, 'dirty ratio');
  assert.equal(cleaningNeed(view(0), config, now)?.dirtyRatio, 1);
  assert.equal(cleaningNeed(view(200), config, now), null, '100 dirty bytes of 2100 stay below 0.5');
  assert.equal(cleaningNeed(view(200), { ...config, maxCompactionLagMs: 5000 }, now)?.reason, 'max compaction lag', 'its first batch (3000) is more than 5 s old at 10000');
  assert.equal(cleaningNeed(view(200), { ...config, maxCompactionLagMs: 8000 }, now), null);
  assert.equal(cleaningNeed(view(200, [{ firstOffset: 0, endOffset: 100, cleanedAtMs: 8000 }]), config, now)?.reason, 'tombstones expired');
  assert.equal(cleaningNeed(view(200, [{ firstOffset: 0, endOffset: 100, cleanedAtMs: 9500 }]), config, now), null, 'delete.retention.ms (1 s) not over yet');
  assert.equal(cleaningNeed(view(0, [], true), config, now), null);
  assert.equal(cleaningNeed(view(0), { ...config, minCompactionLagMs: 9000 }, now), null, 'every segment has a record newer than the lag');
  assert.equal(cleaningNeed(view(0), { ...config, minCompactionLagMs: 7500 }, now)?.dirtyRatio, 1, 'the first two are old enough');
});
