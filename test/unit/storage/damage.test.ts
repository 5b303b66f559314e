import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDataDirectory } from '../../../src/storage/check.js';
import { CorruptBatchError, PartitionLog } from '../../../src/storage/partition-log.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';
import { offsetForTimestamp } from '../../../src/broker/offset-for-timestamp.js';
import { asOffset } from '../../../src/storage/offset.js';

/**
 * Damaged data in a partition log: kept and refused, never truncated away, whichever bytes of a
 * batch are hit (records, the length field, the baseOffset outside the CRC), whether recovery or a
 * read finds it; and segment.ms counted from the first batch.
 */

const batchBytes = simpleBatch(4, { valueBytes: 40 }).length;
const options = logOptions({ indexIntervalBytes: 256 });

async function logWith(directory: string, batches: number): Promise<PartitionLog> {
  const log = await PartitionLog.open(directory, options);
  await Promise.all(Array.from({ length: batches }, () => log.append(simpleBatch(4, { valueBytes: 40 })).durable));
  return log;
}

async function writeBytes(path: string, position: number, bytes: Buffer): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, position);
  } finally {
    await handle.close();
  }
}

/** Offsets of every batch served from `from`, skipping damaged ranges the way an operator would. */
async function servedOffsets(log: PartitionLog): Promise<{ offsets: number[]; refused: number[] }> {
  const offsets: number[] = [];
  const refused: number[] = [];
  let offset: number = log.logStartOffset;
  while (offset < log.highWatermark) {
    try {
      const batches = splitBatches((await log.read(asOffset(offset), 100_000)).chunks);
      offsets.push(...batches.map((batch) => batch.baseOffset));
      offset = batches[batches.length - 1]!.lastOffset + 1;
    } catch (error) {
      assert.ok(error instanceof CorruptBatchError, String(error));
      refused.push(offset);
      offset = error.damage.lastOffset + 1;
    }
  }
  return { offsets, refused };
}

const segmentFile = (directory: string) => join(directory, '00000000000000000000.log');
const asCrash = (directory: string) => writeFile(join(directory, 'recovery-point-offset-checkpoint'), '1\n0\n');

test('a damaged length field: recovery searches for the next valid batch and keeps everything after it', async () => {
  await withTempDirectory(async (directory) => {
    await (await logWith(directory, 20)).close();
    await asCrash(directory); // even with the recovery point below it: valid data follows
    await writeBytes(segmentFile(directory), 5 * batchBytes + 8, Buffer.from([0x00, 0x00, 0x7f, 0xff])); // batch 5's batchLength
    const log = await PartitionLog.open(directory, options);
    assert.equal(log.logEndOffset, 80);
    assert.deepEqual(log.damagedRanges.map((range) => [range.position, range.endPosition, range.firstOffset, range.lastOffset]), [[5 * batchBytes, 6 * batchBytes, 20, 23]]);
    const served = await servedOffsets(log);
    assert.deepEqual(served.refused, [20]);
    assert.deepEqual(served.offsets, Array.from({ length: 20 }, (_, index) => index * 4).filter((offset) => offset !== 20));
    await log.close();
  });
});

test('a damaged baseOffset (outside the CRC) is damage too, not a reason to drop the rest', async () => {
  await withTempDirectory(async (directory) => {
    await (await logWith(directory, 10)).close();
    await asCrash(directory);
    await writeBytes(segmentFile(directory), 3 * batchBytes + 7, Buffer.from([0x63]));
    const log = await PartitionLog.open(directory, options);
    assert.equal(log.logEndOffset, 40);
    assert.deepEqual(log.damagedRanges.map((range) => [range.firstOffset, range.lastOffset]), [[12, 15]]);
    assert.match(log.damagedRanges[0]!.problem, /baseOffset/);
    await log.close();
  });
});

test('after a crash a torn last batch is still cut (above the recovery point, nothing after it)', async () => {
  await withTempDirectory(async (directory) => {
    await (await logWith(directory, 10)).close();
    await asCrash(directory);
    await truncate(segmentFile(directory), 10 * batchBytes - 7);
    const log = await PartitionLog.open(directory, options);
    assert.equal(log.logEndOffset, 36);
    assert.deepEqual(log.damagedRanges, []);
    await log.close();
  });
});

test('a damaged tail of a sealed segment is kept up to the next segment; a damaged tail kept once survives a later crash', async () => {
  await withTempDirectory(async (directory) => {
    const sealedOptions = logOptions({ segmentBytes: 5 * batchBytes, indexIntervalBytes: 256 });
    const log = await PartitionLog.open(directory, sealedOptions);
    await Promise.all(Array.from({ length: 12 }, () => log.append(simpleBatch(4, { valueBytes: 40 })).durable));
    await log.close();
    await unlink(join(directory, 'recovery-point-offset-checkpoint'));
    await truncate(segmentFile(directory), 5 * batchBytes - 3); // the first segment loses its last bytes
    const reopened = await PartitionLog.open(directory, sealedOptions);
    assert.equal(reopened.logEndOffset, 48);
    assert.deepEqual(reopened.damagedRanges.map((range) => [range.firstOffset, range.lastOffset]), [[16, 19]]);
    await reopened.close();

    // The last segment, damaged at its tail after a clean shutdown: kept (below the recovery point) …
    const lastPath = join(directory, (await readdir(directory)).filter((name) => name.endsWith('.log')).sort().pop()!);
    await truncate(lastPath, (await readFile(lastPath)).length - 3);
    const again = await PartitionLog.open(directory, sealedOptions);
    assert.equal(again.logEndOffset, 48);
    // The first segment is trusted from its indexes now (its damage shows when it is read).
    assert.deepEqual(again.damagedRanges.map((range) => [range.firstOffset, range.lastOffset]), [[44, 47]]);
    // … and a crash now (no close) must not turn it into a torn write that may be cut.
    const crashed = await PartitionLog.open(directory, sealedOptions);
    assert.equal(crashed.logEndOffset, 48);
    assert.deepEqual(crashed.damagedRanges.map((range) => [range.firstOffset, range.lastOffset]), [[44, 47]]);
    await crashed.close();
    await again.close();
  });
});

test('damage at rest after a clean shutdown is found by the read (CRC check), refused, and skipped by timestamp lookups', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, options);
    await Promise.all(Array.from({ length: 10 }, (_, index) => log.append(simpleBatch(4, { valueBytes: 40, timestamp: 1_000 + index })).durable));
    await log.close();
    await writeBytes(segmentFile(directory), 2 * batchBytes + 70, Buffer.from([0xee]));
    const reopened = await PartitionLog.open(directory, options);
    assert.equal(reopened.damagedRangeCount, 0, 'recovery trusted the files');
    const first = await reopened.read(asOffset(0), 100_000);
    assert.deepEqual(splitBatches(first.chunks).map((batch) => batch.baseOffset), [0, 4], 'served up to the damaged batch');
    await assert.rejects(reopened.read(asOffset(8), 100), CorruptBatchError);
    assert.deepEqual(reopened.damagedRanges.map((range) => [range.firstOffset, range.lastOffset, range.problem]), [[8, 11, 'CRC-32C mismatch']]);
    assert.deepEqual(await offsetForTimestamp(reopened, 1_002), { offset: 12, timestamp: 1_003 }, 'the damaged batch is skipped');
    assert.deepEqual(splitBatches((await reopened.read(asOffset(12), 100)).chunks)[0]?.baseOffset, 12);
    await reopened.close();
  });
});

test('checkDataDirectory reports damage with offsets and changes nothing; a clean directory has no findings', async () => {
  await withTempDirectory(async (directory) => {
    const partition = join(directory, 'orders-0');
    await (await logWith(partition, 10)).close();
    assert.deepEqual(checkDataDirectory(directory).findings, []);
    await writeBytes(segmentFile(partition), 4 * batchBytes + 80, Buffer.from([0x11]));
    const before = await readFile(segmentFile(partition));
    const report = checkDataDirectory(directory);
    assert.deepEqual(report.findings.map((finding) => [finding.kind, finding.log, finding.file]), [['damage', 'orders-0', '00000000000000000000.log']]);
    assert.match(report.findings[0]!.message, /offsets 16\.\.19 unreadable \(CRC-32C mismatch\)/);
    assert.ok((await readFile(segmentFile(partition))).equals(before));
  });
});

test('segment.ms counts from the first batch: kept across a reopen, and old timestamps do not roll every batch', async () => {
  await withTempDirectory(async (directory) => {
    const hourMs = 3_600_000;
    const clock = new ManualClock(10 * hourMs);
    const agingOptions = logOptions({ segmentMs: hourMs, retentionMs: hourMs });
    const log = await PartitionLog.open(directory, agingOptions, clock);
    await Promise.all([0, 1, 2].map((index) => log.append(simpleBatch(1, { timestamp: 2 * hourMs + index })).durable));
    assert.equal(log.segmentCount, 1, 'old CreateTime timestamps close together: one segment');
    await log.close();
    clock.now += 60_000; // a restart a minute later: the segment was created 8 hours "ago" by its data
    const reopened = await PartitionLog.open(directory, agingOptions, clock);
    assert.ok((await reopened.enforceRetention()) > 0, 'rolled and deleted by time retention');
    assert.equal(reopened.logStartOffset, 3);
    await reopened.close();
  });
});

test('a damaged batch header met by a read after a clean shutdown: reads stop before it, refuse it, and go on after it', async () => {
  await withTempDirectory(async (directory) => {
    await (await logWith(directory, 40)).close();
    await writeBytes(segmentFile(directory), 5 * batchBytes + 16, Buffer.from([0x07])); // magic of batch 5
    const log = await PartitionLog.open(directory, options);
    assert.deepEqual(splitBatches((await log.read(asOffset(0), 1_000_000)).chunks).map((batch) => batch.baseOffset), [0, 4, 8, 12, 16]);
    await assert.rejects(log.read(asOffset(20), 100), CorruptBatchError);
    assert.deepEqual(log.damagedRanges.map((range) => [range.position, range.endPosition, range.firstOffset, range.lastOffset]), [[5 * batchBytes, 6 * batchBytes, 20, 23]]);
    const served = await servedOffsets(log);
    assert.deepEqual(served.refused, [20]);
    assert.equal(served.offsets.length, 39, 'every other batch is served');
    await log.close();
  });
});

test('a sealed segment cut short at a batch boundary after a clean shutdown: its missing offsets are refused, not skipped', async () => {
  await withTempDirectory(async (directory) => {
    const sealedOptions = logOptions({ segmentBytes: 5 * batchBytes, indexIntervalBytes: 256 });
    const log = await PartitionLog.open(directory, sealedOptions);
    await Promise.all(Array.from({ length: 12 }, () => log.append(simpleBatch(4, { valueBytes: 40 })).durable));
    await log.close();
    await truncate(segmentFile(directory), 4 * batchBytes); // offsets 16..19 gone, the index still trusted
    const reopened = await PartitionLog.open(directory, sealedOptions);
    const served = await servedOffsets(reopened);
    assert.deepEqual(served.refused, [16]);
    assert.deepEqual(served.offsets, [0, 4, 8, 12, 20, 24, 28, 32, 36, 40, 44]);
    assert.deepEqual(reopened.damagedRanges.map((range) => [range.firstOffset, range.lastOffset]), [[16, 19]]);
    await reopened.close();
  });
});
