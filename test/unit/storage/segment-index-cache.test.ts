/**
 * The budget for sealed segments' indexes in memory (segment-index-cache.ts): which indexes it drops,
 * and that logs whose indexes were dropped answer reads and timestamp lookups exactly as before,
 * reading the index files back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { SegmentIndexCache, type SegmentIndexHolder } from '../../../src/storage/segment-index-cache.js';
import { asOffset } from '../../../src/storage/offset.js';
import type { BatchHeader } from '../../../src/storage/segment.js';
import { OffsetIndex } from '../../../src/storage/offset-index.js';
import { TimeIndex } from '../../../src/storage/time-index.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

class FakeHolder implements SegmentIndexHolder {
  dropped = 0;
  droppable = true;
  constructor(readonly indexBytes: number) {}
  get indexesDroppable(): boolean {
    return this.droppable;
  }
  dropIndexes(): void {
    this.dropped++;
  }
}

test('the budget drops the indexes used least recently, skips those it may not drop, and never the one just used', () => {
  const cache = new SegmentIndexCache(1000);
  const [first, second, third, big] = [new FakeHolder(400), new FakeHolder(400), new FakeHolder(400), new FakeHolder(5000)];
  cache.used(first);
  cache.used(second);
  assert.equal(cache.byteCount, 800);
  cache.used(first); // first becomes the most recently used
  cache.used(third); // 1200 > 1000: second goes
  assert.deepEqual([first.dropped, second.dropped, third.dropped], [0, 1, 0]);
  assert.equal(cache.byteCount, 800);
  first.droppable = false; // e.g. its index files are being written
  cache.used(second); // 1200 again: first may not go, third does
  assert.deepEqual([first.dropped, second.dropped, third.dropped], [0, 1, 1]);
  assert.equal(cache.byteCount, 800);
  cache.used(big); // larger than the whole budget: everything droppable goes, big stays
  assert.deepEqual([first.dropped, second.dropped, big.dropped], [0, 2, 0]);
  assert.equal(cache.byteCount, 5400);
  cache.forget(big);
  cache.forget(first);
  assert.equal(cache.byteCount, 0);
  assert.equal(cache.holderCount, 0);
  assert.equal(cache.droppedCount, 3);
});

test('a budget given up once counts a holder again from its next use', () => {
  const cache = new SegmentIndexCache(100);
  const holder = new FakeHolder(60);
  cache.used(holder);
  cache.used(holder);
  assert.equal(cache.byteCount, 60, 'counted once however often used');
  cache.forget(holder);
  cache.forget(holder);
  assert.equal(cache.byteCount, 0);
});

/** Every batch of the log, read one fetch at a time from offset 0, as (baseOffset, bytes) pairs. */
async function readAll(log: PartitionLog): Promise<Array<{ baseOffset: number; bytes: Buffer }>> {
  const batches: Array<{ baseOffset: number; bytes: Buffer }> = [];
  let offset = 0;
  while (offset < log.highWatermark) {
    const read = splitBatches((await log.read(asOffset(offset), 1)).chunks);
    batches.push(...read.map((batch) => ({ baseOffset: batch.baseOffset, bytes: Buffer.from(batch.bytes) })));
    offset = read[read.length - 1]!.lastOffset + 1;
  }
  return batches;
}

/** The first batch found for each timestamp in `timestamps`. */
async function lookUpTimes(log: PartitionLog, timestamps: number[]): Promise<Array<BatchHeader | null>> {
  const found: Array<BatchHeader | null> = [];
  for (const timestamp of timestamps) {
    let first: BatchHeader | null = null;
    for await (const header of log.batchesAtOrAfterTimestamp(timestamp)) {
      first = header;
      break;
    }
    found.push(first);
  }
  return found;
}

const startMs = 1_700_000_000_000;

/** A log of many small sealed segments, each batch one second later than the one before; no tail cache, so reads go to the segments. */
async function fillLog(directory: string, cache: SegmentIndexCache, batchCount: number): Promise<PartitionLog> {
  const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 4000, indexIntervalBytes: 100 }), new ManualClock(), { segmentIndexCache: cache, tailCacheBytes: 0 });
  const appended = [];
  for (let index = 0; index < batchCount; index++) appended.push(log.append(simpleBatch(2, { valueBytes: 60, timestamp: startMs + index * 1000, tag: `b${index}-` })));
  await Promise.all(appended.map((result) => result.durable));
  return log;
}

test('reads and timestamp lookups of segments whose indexes were dropped give the same answers as with every index in memory', async () => {
  await withTempDirectory(async (directory) => {
    const batchCount = 400;
    const roomy = new SegmentIndexCache(Infinity);
    const tight = new SegmentIndexCache(2000); // room for the indexes of about two segments
    const reference = await fillLog(`${directory}/roomy`, roomy, batchCount);
    const log = await fillLog(`${directory}/tight`, tight, batchCount);
    assert.ok(log.segmentCount >= 20, `${log.segmentCount} segments`);
    assert.ok(tight.droppedCount > 0, 'indexes were dropped while the log was written');
    assert.ok(tight.byteCount <= 2000, `${tight.byteCount} bytes of indexes in memory`);

    const expected = await readAll(reference);
    assert.equal(expected.length, batchCount);
    assert.deepEqual(await readAll(log), expected);
    assert.ok(tight.byteCount <= 2000, `${tight.byteCount} bytes of indexes in memory after reading`);

    const timestamps = [startMs - 1, startMs, startMs + 1, startMs + 137_000, startMs + 137_500, startMs + 399_000, startMs + 400_000];
    for (let index = 0; index < 60; index++) timestamps.push(startMs + ((index * 7919) % batchCount) * 1000 + (index % 3) * 400);
    const expectedTimes = await lookUpTimes(reference, timestamps);
    assert.deepEqual(await lookUpTimes(log, timestamps), expectedTimes);
    assert.equal(expectedTimes[3]!.baseOffset, 137 * 2, 'the lookup finds the batch stamped at that second');
    assert.equal(expectedTimes[6], null, 'nothing at or after a time past the last batch');

    // Reading again in reverse order: every segment's indexes are read back again.
    const droppedBefore = tight.droppedCount;
    for (let offset = batchCount * 2 - 1; offset >= 0; offset -= 37) {
      const [want] = splitBatches((await reference.read(asOffset(offset), 1)).chunks);
      const [got] = splitBatches((await log.read(asOffset(offset), 1)).chunks);
      assert.deepEqual(got, want, `offset ${offset}`);
    }
    assert.ok(tight.droppedCount > droppedBefore, 'reading old segments again loaded and dropped their indexes');
    await reference.close();
    await log.close();
    assert.equal(tight.byteCount, 0, 'a closed log counts nothing');

    // Reopened (recovery trusts the index files), then read with a budget smaller than one segment's indexes.
    const reopenedCache = new SegmentIndexCache(1);
    const reopened = await PartitionLog.open(`${directory}/tight`, logOptions({ segmentBytes: 4000, indexIntervalBytes: 100 }), new ManualClock(), { segmentIndexCache: reopenedCache, tailCacheBytes: 0 });
    assert.deepEqual(await readAll(reopened), expected);
    assert.deepEqual(await lookUpTimes(reopened, timestamps), expectedTimes);
    assert.ok(reopenedCache.holderCount <= 1, `${reopenedCache.holderCount} sealed segments hold indexes`);
    await reopened.close();
  });
});

test('appends continue into new segments while the sealed ones have their indexes dropped, and retention deletes them', async () => {
  await withTempDirectory(async (directory) => {
    const cache = new SegmentIndexCache(0);
    const log = await fillLog(directory, cache, 200);
    assert.ok(cache.holderCount <= 1, 'a budget of 0 keeps the indexes of the segment sealed last at most');
    const more = log.append(simpleBatch(1, { timestamp: startMs + 500_000, tag: 'late' }));
    await more.durable;
    const [last] = splitBatches((await log.read(more.baseOffset, 1000)).chunks);
    assert.equal(last!.baseOffset, more.baseOffset);
    log.updateOptions(logOptions({ segmentBytes: 4000, indexIntervalBytes: 100, retentionBytes: 8000 }));
    assert.ok((await log.enforceRetention()) > 0);
    const first = (await log.read(log.logStartOffset, 1)).chunks;
    assert.equal(splitBatches(first)[0]!.baseOffset, log.logStartOffset);
    log.invariants();
    await log.close();
  });
});

test('a sealed index gives back the room it grew, with the same lookups', () => {
  const offsets = new OffsetIndex();
  const times = new TimeIndex();
  for (let entry = 1; entry <= 9; entry++) {
    offsets.append(entry * 10, entry * 1000);
    times.maybeAppend(startMs + entry, entry * 10);
  }
  const lookups = (index: OffsetIndex) => [0, 9, 10, 55, 90, 1000].map((target) => index.lookup(target));
  const scans = (index: TimeIndex) => [startMs, startMs + 5, startMs + 9, startMs + 10].map((target) => index.scanStartFor(target));
  const [offsetsBefore, timesBefore] = [lookups(offsets), scans(times)];
  const [offsetBytes, timeBytes] = [offsets.memoryBytes, times.memoryBytes];
  offsets.trimToSize();
  times.trimToSize();
  assert.ok(offsets.memoryBytes < offsetBytes && times.memoryBytes < timeBytes, 'grown room given back');
  assert.deepEqual(lookups(offsets), offsetsBefore);
  assert.deepEqual(scans(times), timesBefore);
  const decoded = OffsetIndex.decode(offsets.encode(), 100_000)!;
  assert.deepEqual(lookups(decoded), offsetsBefore, 'the file bytes hold every entry');
});
