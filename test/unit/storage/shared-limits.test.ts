/**
 * The limits partition logs share: the cap on open segment files (open-segment-files.ts), the
 * tail-cache budget (batch-cache.ts) and the declared decompressed size of compressed records
 * (compression.ts), checked against real files and real decompressors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { OpenSegmentFiles } from '../../../src/storage/open-segment-files.js';
import { RecentBatchCache, TailCacheBudget, ownedBytes } from '../../../src/storage/batch-cache.js';
import { compressRecords } from '../../../src/client/compression.js';
import { declaredDecompressedBytes, decompressRecords } from '../../../src/protocol/kafka/compression.js';
import { ManualClock, logOptions, seededRandom, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';
import { asOffset } from '../../../src/storage/offset.js';

/** .log files under `directory` this process holds open. */
function openLogFiles(directory: string): number {
  let count = 0;
  for (const descriptor of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${descriptor}`);
      if (target.startsWith(directory) && target.endsWith('.log')) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

test('logs sharing a cap of 3 open segment files keep at most 3 open while every batch is read back', async () => {
  await withTempDirectory(async (directory) => {
    const openFiles = new OpenSegmentFiles(3);
    const logs: PartitionLog[] = [];
    const written: Buffer[][] = [];
    for (let index = 0; index < 4; index++) {
      const log = await PartitionLog.open(`${directory}/p${index}`, logOptions({ segmentBytes: 600 }), new ManualClock(), { openSegmentFiles: openFiles });
      const batches = Array.from({ length: 20 }, (_, batch) => simpleBatch(1, { valueBytes: 100, tag: `p${index}b${batch}-` }));
      written.push(batches.map((batch) => Buffer.from(batch.subarray(8))));
      const appended = batches.map((batch) => log.append(batch));
      await Promise.all(appended.map((result) => result.durable));
      assert.ok(log.segmentCount >= 5, `log ${index} has ${log.segmentCount} segments`);
      logs.push(log);
    }
    assert.ok(openLogFiles(directory) <= 3, `${openLogFiles(directory)} files open after appending`);
    for (const [index, log] of logs.entries()) {
      const read: Buffer[] = [];
      let offset = 0;
      while (offset < log.highWatermark) {
        const batches = splitBatches((await log.read(asOffset(offset), 250)).chunks);
        read.push(...batches.map((batch) => batch.bytes.subarray(8))); // past baseOffset, which append assigns
        offset = batches[batches.length - 1]!.lastOffset + 1;
        assert.ok(openLogFiles(directory) <= 3, `${openLogFiles(directory)} files open while reading`);
      }
      assert.deepEqual(read, written[index]);
    }
    assert.ok(openFiles.openCount <= 3);
    assert.ok(openFiles.closedForCap > 0);
    for (const log of logs) await log.close();
    assert.equal(openLogFiles(directory), 0);
    assert.equal(openFiles.openCount, 0);
  });
});

test('over the cap, a use looks at a bounded number of busy files and moves them back, so an idle file behind many busy ones still closes', () => {
  const files = new OpenSegmentFiles(10);
  let busyChecks = 0;
  const holder = (busy: boolean) => {
    const state = {
      closed: false,
      get isBusy() {
        busyChecks++;
        return busy;
      },
      async closeIdleFile() {
        state.closed = true;
      },
    };
    return state;
  };
  // 500 files with unsynced writes (busy: never closed for the cap), then one idle file.
  const busy = Array.from({ length: 500 }, () => holder(true));
  for (const file of busy) files.used(file);
  const idle = holder(false);
  busyChecks = 0;
  files.used(idle);
  const checksPerUse: number[] = [busyChecks];
  const extra = Array.from({ length: 20 }, () => holder(true));
  for (let use = 0; use < extra.length && !idle.closed; use++) {
    busyChecks = 0;
    files.used(extra[use]!);
    checksPerUse.push(busyChecks);
  }
  assert.ok(idle.closed, 'the idle file is closed within 20 uses');
  assert.ok(busy.every((file) => !file.closed), 'no busy file is closed');
  assert.ok(Math.max(...checksPerUse) <= 64, `at most 64 files looked at per use: ${checksPerUse.join(',')}`);
});

test('caches sharing a budget give up the oldest batches of the partition written least recently first', () => {
  const budget = new TailCacheBudget(1000);
  const quiet = new RecentBatchCache(10_000, budget);
  const busy = new RecentBatchCache(10_000, budget);
  quiet.add(Buffer.alloc(300), 0, 0);
  quiet.add(Buffer.alloc(300), 1, 1);
  busy.add(Buffer.alloc(300), 0, 0);
  assert.equal(budget.byteCount, 900);
  busy.add(Buffer.alloc(300), 1, 1); // 1200 > 1000: the quiet partition's oldest batch goes
  assert.equal(budget.byteCount, 900);
  assert.equal(quiet.firstOffset, 1);
  assert.equal(busy.firstOffset, 0);
  busy.add(Buffer.alloc(300), 2, 2); // again: the quiet partition's last batch goes
  assert.equal(quiet.byteCount, 0);
  assert.equal(quiet.read(1, 1000, 2), null, 'an emptied cache sends readers to the segments');
  assert.equal(busy.read(0, 10_000, 3)?.chunks.length, 3);
  busy.add(Buffer.alloc(300), 3, 3); // only the busy cache is left: its own oldest goes
  assert.equal(busy.firstOffset, 1);
  assert.ok(budget.byteCount <= 1000);
  busy.clear();
  assert.equal(budget.byteCount, 0);
});

test('a cached batch that is a view of a larger frame is copied, so the budget counts what the cache keeps alive', () => {
  const frame = Buffer.alloc(64 * 1024, 7); // a Produce frame holding the batches of many partitions
  const view = frame.subarray(1000, 1300);
  const kept = ownedBytes(view);
  assert.notEqual(kept.buffer, frame.buffer);
  assert.equal(kept.buffer.byteLength, 300);
  assert.deepEqual(kept, view);
  const whole = Buffer.allocUnsafeSlow(5000);
  assert.equal(ownedBytes(whole), whole, 'a buffer of its own is kept as it is');
  const nearlyWhole = Buffer.allocUnsafeSlow(5100).subarray(60, 5060); // one batch and its request header
  assert.equal(ownedBytes(nearlyWhole), nearlyWhole);

  const budget = new TailCacheBudget(10_000);
  const cache = new RecentBatchCache(10_000, budget);
  cache.add(view, 0, 0);
  const [served] = cache.read(0, 1000, 1)!.chunks;
  assert.deepEqual(served, view);
  assert.notEqual(served!.buffer, frame.buffer, 'the cache does not keep the frame alive');
  assert.equal(budget.byteCount, 300);
});

test('the decompressed size declared by compressed records is never below what they decompress to', async () => {
  const random = seededRandom(9);
  for (let round = 0; round < 20; round++) {
    const length = Math.floor(random() * 600_000);
    // Half random bytes, half runs of one byte: both incompressible and very compressible input.
    const input = round % 2 === 0 ? randomBytes(length) : Buffer.alloc(length, round);
    for (const codec of [1, 2, 3, 4]) {
      const compressed = await compressRecords(codec, input);
      const declared = declaredDecompressedBytes(codec, compressed);
      const actual = (await decompressRecords(codec, compressed, 1 << 30)).length;
      assert.equal(actual, input.length);
      assert.ok(declared >= actual, `codec ${codec}, ${length} bytes: declared ${declared} < actual ${actual}`);
      // gzip (ISIZE) and snappy (block lengths) declare the exact size; lz4 and zstd only bound it.
      if (codec === 1 || codec === 2) assert.equal(declared, actual, `codec ${codec}, ${length} bytes`);
    }
  }
});
