import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, truncate, unlink, appendFile, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptBatchError, OffsetOutOfRangeError, PartitionLog, type LogOptions } from '../../../src/storage/partition-log.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';
import type { SyncKind } from '../../../src/storage/segment.js';
import { waitUntil } from '../../helpers/waiting.js';
import { maxTimestampOffset, offsetForTimestamp } from '../../../src/broker/offset-for-timestamp.js';
import { asOffset, type Offset } from '../../../src/storage/offset.js';

async function appendAll(log: PartitionLog, batches: Buffer[]): Promise<Array<{ baseOffset: number; lastOffset: number }>> {
  const results = batches.map((batch) => log.append(batch));
  await Promise.all(results.map((result) => result.durable));
  return results.map(({ baseOffset, lastOffset }) => ({ baseOffset, lastOffset }));
}

async function readEverything(log: PartitionLog, from: number = log.logStartOffset): Promise<Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }>> {
  const all: Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }> = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const result = await log.read(asOffset(offset), 10_000);
    const batches = splitBatches(result.chunks);
    assert.ok(batches.length > 0, `read at ${offset} returned nothing below the high watermark ${log.highWatermark}`);
    all.push(...batches);
    offset = batches[batches.length - 1]!.lastOffset + 1;
  }
  return all;
}

async function logFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).sort();
}

test('append assigns offsets in call order and reads round-trip across segment rolls', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 2_000 }));
    const batches = Array.from({ length: 60 }, (_, index) => simpleBatch(1 + (index % 5), { valueBytes: 20, tag: `b${index}-` }));
    const originals = batches.map((batch) => Buffer.from(batch));
    const results = await appendAll(log, batches);
    let expected = 0;
    for (const [index, result] of results.entries()) {
      assert.equal(result.baseOffset, expected);
      assert.equal(result.lastOffset, expected + (index % 5));
      expected = result.lastOffset + 1;
    }
    assert.equal(log.logEndOffset, expected);
    assert.equal(log.highWatermark, expected);
    assert.ok(log.segmentCount > 3, `expected several segments, got ${log.segmentCount}`);
    log.invariants();
    const read = await readEverything(log);
    assert.equal(read.length, 60);
    for (const [index, batch] of read.entries()) {
      assert.equal(batch.baseOffset, results[index]!.baseOffset);
      // Stored bytes equal the appended bytes except the patched baseOffset.
      assert.deepEqual(batch.bytes.subarray(8), originals[index]!.subarray(8));
    }
    await log.close();
    // Reopen: same content, appends continue at the right offset.
    const reopened = await PartitionLog.open(directory, logOptions({ segmentBytes: 2_000 }));
    assert.equal(reopened.logEndOffset, expected);
    assert.equal((await readEverything(reopened)).length, 60);
    const next = reopened.append(simpleBatch(2));
    assert.equal(next.baseOffset, expected);
    await next.durable;
    reopened.invariants();
    await reopened.close();
  });
});

test('reads from the middle of a batch return that whole batch; maxBytes and the first-batch rule', async () => {
  await withTempDirectory(async (directory) => {
    // A tiny cache so the disk path is exercised too.
    for (const tailCacheBytes of [0, 1 << 20]) {
      const log = await PartitionLog.open(join(directory, String(tailCacheBytes)), logOptions({ indexIntervalBytes: 100 }), undefined, { tailCacheBytes });
      const sizes: number[] = [];
      for (let index = 0; index < 20; index++) {
        const batch = simpleBatch(10, { valueBytes: 30 });
        sizes.push(batch.length);
        log.append(batch);
      }
      await log.flush();
      const middle = await log.read(asOffset(55), 1);
      const batches = splitBatches(middle.chunks);
      assert.equal(batches.length, 1, 'maxBytes 1 still returns the first batch whole');
      assert.equal(batches[0]!.baseOffset, 50);
      assert.equal(middle.byteCount, sizes[5]);
      const two = await log.read(asOffset(55), sizes[5]! + sizes[6]! + sizes[7]! - 1);
      assert.deepEqual(
        splitBatches(two.chunks).map((batch) => batch.baseOffset),
        [50, 60],
      );
      const limited = await log.read(asOffset(0), 1_000_000, asOffset(35));
      assert.deepEqual(
        splitBatches(limited.chunks).map((batch) => batch.baseOffset),
        [0, 10, 20],
        'batches reaching maxOffset are not served',
      );
      assert.equal((await log.read(asOffset(200), 1000)).byteCount, 0, 'empty at the end');
      await assert.rejects(log.read(asOffset(201), 1000), OffsetOutOfRangeError);
      await assert.rejects(log.read(-1 as Offset, 1000), OffsetOutOfRangeError); // past the type, the range check still holds
      await log.close();
    }
  });
});

test('after a crash, recovery truncates a torn tail, a corrupt CRC or garbage past the recovery point, keeping everything before it', async () => {
  const damages: Array<[string, (path: string, size: number, lastBatchBytes: number) => Promise<void>]> = [
    ['truncated mid-batch', (path, size, last) => truncate(path, size - Math.floor(last / 2))],
    ['truncated inside the length field', (path, size, last) => truncate(path, size - last + 5)],
    [
      'corrupt CRC byte',
      async (path, size, last) => {
        const handle = await open(path, 'r+');
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, size - last + 17);
        byte[0] = byte[0]! ^ 0x5a;
        await handle.write(byte, 0, 1, size - last + 17);
        await handle.close();
      },
    ],
    ['garbage appended', (path) => appendFile(path, Buffer.from('not a batch at all, just noise'))],
  ];
  for (const [name, damage] of damages) {
    await withTempDirectory(async (directory) => {
      const options = logOptions({ segmentBytes: 1_500 });
      const log = await PartitionLog.open(directory, options);
      const batches = Array.from({ length: 12 }, () => simpleBatch(3, { valueBytes: 40 }));
      const lastBatchBytes = batches[11]!.length;
      await appendAll(log, batches);
      await log.close();
      const logs = (await logFiles(directory)).filter((file) => file.endsWith('.log'));
      const lastPath = join(directory, logs[logs.length - 1]!);
      // As after a crash: the recovery point is the active segment's base (what open writes).
      await writeFile(join(directory, 'recovery-point-offset-checkpoint'), `1\n${Number(logs[logs.length - 1]!.slice(0, 20))}\n`);
      await damage(lastPath, (await stat(lastPath)).size, lastBatchBytes);
      const recovered = await PartitionLog.open(directory, options);
      const expectedEnd = name === 'garbage appended' ? 36 : 33;
      assert.equal(recovered.logEndOffset, expectedEnd, name);
      const read = await readEverything(recovered);
      assert.equal(read[read.length - 1]!.lastOffset, expectedEnd - 1, name);
      const next = recovered.append(simpleBatch(2));
      assert.equal(next.baseOffset, expectedEnd, name);
      await next.durable;
      await recovered.close();
      const again = await PartitionLog.open(directory, options);
      assert.equal(again.logEndOffset, expectedEnd + 2, name);
      assert.equal((await readEverything(again)).length, expectedEnd / 3 + 1, name);
      await again.close();
    });
  }
});

test('a corrupt batch in an older segment is kept as damage: later batches and segments stay, its offsets are refused', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 1_000 });
    const log = await PartitionLog.open(directory, options);
    await appendAll(log, Array.from({ length: 20 }, () => simpleBatch(2, { valueBytes: 50 })));
    await log.close();
    const logs = (await logFiles(directory)).filter((file) => file.endsWith('.log'));
    assert.ok(logs.length >= 3);
    // Damage the second segment without leaving a recovery point that covers it.
    await unlink(join(directory, 'recovery-point-offset-checkpoint'));
    const secondBase = Number(logs[1]!.slice(0, 20));
    const secondPath = join(directory, logs[1]!);
    const handle = await open(secondPath, 'r+');
    const batchBytes = simpleBatch(2, { valueBytes: 50 }).length;
    await handle.write(Buffer.from([0xff]), 0, 1, batchBytes + 70); // inside its second batch
    await handle.close();
    const recovered = await PartitionLog.open(directory, options);
    assert.equal(recovered.segmentCount, logs.length, 'no segment deleted');
    assert.equal(recovered.logEndOffset, 40, 'nothing truncated');
    recovered.invariants();
    assert.deepEqual(
      recovered.damagedRanges.map((range) => [range.position, range.endPosition, range.firstOffset, range.lastOffset]),
      [[batchBytes, 2 * batchBytes, secondBase + 2, secondBase + 3]],
    );
    await assert.rejects(recovered.read(asOffset(secondBase + 2), 100), CorruptBatchError);
    await assert.rejects(recovered.read(asOffset(secondBase + 3), 100), CorruptBatchError);
    const before = await readEverything(recovered, 0).catch(() => null);
    assert.equal(before, null, 'a read across the damage stops at it');
    const upTo = splitBatches((await recovered.read(asOffset(secondBase), 1_000_000)).chunks);
    assert.deepEqual(upTo.map((batch) => batch.baseOffset), [secondBase], 'served up to the damage, not past it');
    const after = await readEverything(recovered, secondBase + 4);
    assert.equal(after[0]!.baseOffset, secondBase + 4);
    assert.equal(after[after.length - 1]!.lastOffset, 39, 'everything after the damage is served');
    await recovered.close();
    assert.equal((await logFiles(directory)).filter((file) => file.endsWith('.log')).length, logs.length);
  });
});

test('deleted or damaged index files are rebuilt and lookups still work', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 3_000, indexIntervalBytes: 200 });
    const log = await PartitionLog.open(directory, options);
    await appendAll(log, Array.from({ length: 50 }, (_, index) => simpleBatch(4, { valueBytes: 25, timestamp: 1_000 + index * 100 })));
    const before = await offsetForTimestamp(log, 3_050);
    await log.close();
    const files = await logFiles(directory);
    const indexes = files.filter((file) => file.endsWith('.index'));
    const timeIndexes = files.filter((file) => file.endsWith('.timeindex'));
    assert.ok(indexes.length >= 3);
    await unlink(join(directory, indexes[0]!));
    await unlink(join(directory, timeIndexes[1]!));
    await truncate(join(directory, indexes[1]!), 5); // not a multiple of 8
    const reopened = await PartitionLog.open(directory, options);
    assert.deepEqual(await logFiles(directory), files, 'index files are rewritten');
    for (let offset = 0; offset < 200; offset += 7) {
      const result = await reopened.read(asOffset(offset), 1);
      const [batch] = splitBatches(result.chunks);
      assert.ok(batch !== undefined && batch.baseOffset <= offset && offset <= batch.lastOffset, `offset ${offset}`);
    }
    assert.deepEqual(await offsetForTimestamp(reopened, 3_050), before);
    await reopened.close();
  });
});

test('offsetForTimestamp and maxTimestampOffset', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions({ segmentBytes: 1_200, indexIntervalBytes: 150 }));
    assert.equal(await offsetForTimestamp(log, 0), null);
    assert.equal(await maxTimestampOffset(log), null);
    // batch i holds 5 records at 10_000 + i*100 + j*10 (j = 0..4); batch 7 has one out-of-order high record
    const batches = Array.from({ length: 15 }, (_, index) => simpleBatch(5, { timestamp: 10_000 + index * 100, spreadMs: 10, valueBytes: 10 }));
    await appendAll(log, batches);
    const late = simpleBatch(1, { timestamp: 50_000 });
    await appendAll(log, [late]);
    await appendAll(log, [simpleBatch(3, { timestamp: 20_000 })]);
    assert.deepEqual(await offsetForTimestamp(log, 0), { offset: 0, timestamp: 10_000 });
    assert.deepEqual(await offsetForTimestamp(log, 10_000), { offset: 0, timestamp: 10_000 });
    assert.deepEqual(await offsetForTimestamp(log, 10_001), { offset: 1, timestamp: 10_010 });
    assert.deepEqual(await offsetForTimestamp(log, 10_735), { offset: 39, timestamp: 10_740 });
    assert.deepEqual(await offsetForTimestamp(log, 10_741), { offset: 40, timestamp: 10_800 });
    assert.deepEqual(await offsetForTimestamp(log, 11_441), { offset: 75, timestamp: 50_000 });
    assert.equal(await offsetForTimestamp(log, 50_001), null);
    assert.deepEqual(await maxTimestampOffset(log), { offset: 75, timestamp: 50_000 });
    // A compressed batch is decompressed: the answer is the exact record, as for plain batches.
    await appendAll(log, [simpleBatch(4, { timestamp: 60_000, spreadMs: 1, gzip: true })]);
    assert.deepEqual(await offsetForTimestamp(log, 60_002), { offset: 81, timestamp: 60_002 });
    assert.deepEqual(await maxTimestampOffset(log), { offset: 82, timestamp: 60_003 });
    // One that claims gzip but does not inflate answers with its first offset and its maxTimestamp.
    await appendAll(log, [simpleBatch(4, { timestamp: 70_000, spreadMs: 1, attributes: 1 })]);
    assert.deepEqual(await offsetForTimestamp(log, 70_002), { offset: 83, timestamp: 70_003 });
    assert.deepEqual(await maxTimestampOffset(log), { offset: 83, timestamp: 70_003 });
    // After DeleteRecords, answers never point below the log start.
    await log.deleteRecordsBefore(asOffset(2));
    assert.deepEqual(await offsetForTimestamp(log, 0), { offset: 2, timestamp: 10_020 });
    await log.close();
  });
});

test('retention by bytes deletes the oldest sealed segments, never the active one', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 1_000, retentionBytes: 2_500 });
    const log = await PartitionLog.open(directory, options);
    await appendAll(log, Array.from({ length: 40 }, () => simpleBatch(2, { valueBytes: 60 })));
    const sizeBefore = log.sizeBytes;
    const segmentsBefore = log.segmentCount;
    const deleted = await log.enforceRetention();
    assert.ok(deleted > 0);
    assert.equal(log.sizeBytes, sizeBefore - deleted);
    assert.ok(log.sizeBytes >= 2_500 && log.sizeBytes < 2_500 + 1_000, `size ${log.sizeBytes}`);
    assert.ok(log.segmentCount < segmentsBefore);
    assert.ok(log.logStartOffset > 0);
    await assert.rejects(log.read(asOffset(0), 100), OffsetOutOfRangeError);
    const first = splitBatches((await log.read(log.logStartOffset, 1)).chunks)[0]!;
    assert.equal(first.baseOffset, log.logStartOffset);
    log.invariants();
    await log.close();
    const reopened = await PartitionLog.open(directory, options);
    assert.equal(reopened.logStartOffset, log.logStartOffset);
    await reopened.close();
  });
});

test('retention never deletes a segment reaching past the limit it is given (a cluster leader\'s high watermark)', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock(1_000_000);
    const options = logOptions({ segmentBytes: 1_000, retentionBytes: 0, retentionMs: 1 });
    const log = await PartitionLog.open(directory, options, clock);
    await appendAll(log, Array.from({ length: 40 }, () => simpleBatch(2, { valueBytes: 60, timestamp: 1_000 })));
    assert.ok(log.segmentCount > 4);
    // Every sealed segment is past retention by both size and time; only those wholly below 20 may go.
    await log.enforceRetention(asOffset(20));
    assert.ok(log.logStartOffset > 0 && log.logStartOffset <= 20, `log start ${log.logStartOffset}`);
    const kept = log.segmentCount;
    assert.ok(kept > 1);
    await log.enforceRetention(asOffset(20));
    assert.equal(log.segmentCount, kept, 'nothing more below the same limit');
    await log.enforceRetention();
    assert.equal(log.segmentCount, 1, 'without a limit below the high watermark, every sealed segment goes');
    log.invariants();
    await log.close();
  });
});

test('retention by time and segment.ms roll follow the injected clock', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock(1_000_000);
    const options: LogOptions = logOptions({ segmentMs: 10_000, retentionMs: 60_000 });
    const log = await PartitionLog.open(directory, options, clock);
    for (let step = 0; step < 6; step++) {
      await appendAll(log, [simpleBatch(3, { timestamp: clock.now }), simpleBatch(3, { timestamp: clock.now + 1 })]);
      clock.now += 11_000; // the next append rolls by segment.ms
    }
    assert.equal(log.segmentCount, 6);
    // now = 1_066_000: segments whose newest timestamp is before 1_006_000 expire (only the first);
    // the active segment is 11s old, so segment.ms rolls it.
    const firstBytes = await log.enforceRetention();
    assert.ok(firstBytes > 0);
    assert.equal(log.logStartOffset, 6);
    assert.equal(log.segmentCount, 6, 'five sealed segments and a new empty active one');
    clock.now += 30_000; // now = 1_096_000: newest 1_011_001, 1_022_001, 1_033_001 < 1_036_000 expire
    assert.ok((await log.enforceRetention()) > 0);
    assert.equal(log.logStartOffset, 24);
    assert.equal(log.segmentCount, 3);
    clock.now += 1_000_000;
    await log.enforceRetention();
    assert.equal(log.segmentCount, 1, 'only the (empty) active segment remains');
    assert.equal(log.logStartOffset, 36);
    assert.equal(log.logEndOffset, 36);
    assert.equal((await log.read(asOffset(36), 100)).byteCount, 0);
    await log.close();
  });
});

test('deleteRecordsBefore persists across reopen and deletes whole segments below it', async () => {
  await withTempDirectory(async (directory) => {
    const options = logOptions({ segmentBytes: 800 });
    const log = await PartitionLog.open(directory, options);
    await appendAll(log, Array.from({ length: 20 }, () => simpleBatch(5, { valueBytes: 30 })));
    const segments = log.segmentCount;
    assert.equal(await log.deleteRecordsBefore(asOffset(42)), 42);
    assert.equal(log.logStartOffset, 42);
    assert.ok(log.segmentCount < segments);
    await assert.rejects(log.read(asOffset(41), 100), OffsetOutOfRangeError);
    const [batch] = splitBatches((await log.read(asOffset(42), 1)).chunks);
    assert.equal(batch!.baseOffset, 40, 'the batch containing the new start is served whole');
    assert.equal(await log.deleteRecordsBefore(asOffset(10)), 42, 'never moves backwards');
    await assert.rejects(log.deleteRecordsBefore(asOffset(101)), OffsetOutOfRangeError);
    await log.close();
    const reopened = await PartitionLog.open(directory, options);
    assert.equal(reopened.logStartOffset, 42);
    await assert.rejects(reopened.read(asOffset(41), 100), OffsetOutOfRangeError);
    assert.equal(await reopened.deleteRecordsBefore(asOffset(100)), 100);
    await reopened.close();
    const emptied = await PartitionLog.open(directory, options);
    assert.equal(emptied.logStartOffset, 100);
    assert.equal(emptied.logEndOffset, 100);
    await emptied.close();
  });
});

test('group commit: appends in one turn share one fsync; durable resolves only after it', async () => {
  await withTempDirectory(async (directory) => {
    const syncs: SyncKind[] = [];
    let releaseSync: (() => void) | null = null;
    let holdSyncs = false;
    const syncFile = async (handle: import('node:fs/promises').FileHandle, kind: SyncKind) => {
      syncs.push(kind);
      if (holdSyncs && kind === 'log') await new Promise<void>((resolve) => (releaseSync = resolve));
      await handle.datasync();
    };
    const log = await PartitionLog.open(directory, logOptions(), undefined, { syncFile });
    await log.append(simpleBatch(1)).durable; // first sync also syncs the directory entry
    syncs.length = 0;
    holdSyncs = true;
    const results = Array.from({ length: 100 }, () => log.append(simpleBatch(2)));
    let resolved = 0;
    for (const result of results) void result.durable.then(() => resolved++);
    while (releaseSync === null) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(syncs, ['log'], 'one fsync for the whole turn');
    assert.equal(resolved, 0, 'nothing is durable before the fsync completes');
    assert.equal(log.highWatermark, 1, 'readers do not see unsynced data under flush=always');
    // Appends made while the fsync is in flight go into the next cycle.
    const later = Array.from({ length: 10 }, () => log.append(simpleBatch(1)));
    const release = releaseSync as () => void;
    releaseSync = null;
    release();
    await Promise.all(results.map((result) => result.durable));
    assert.equal(resolved, 100);
    assert.equal(log.highWatermark, 201);
    while (releaseSync === null) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(syncs, ['log', 'log']);
    (releaseSync as () => void)();
    holdSyncs = false;
    await Promise.all(later.map((result) => result.durable));
    assert.equal(log.highWatermark, 211);
    await log.close();
  });
});

test('flush=never and flush=interval resolve durable after the write, without fsync', async () => {
  await withTempDirectory(async (directory) => {
    for (const flush of ['never', 'interval'] as const) {
      let logSyncs = 0;
      const log = await PartitionLog.open(join(directory, flush), logOptions({ flush, flushIntervalMs: 20 }), undefined, {
        syncFile: async (handle, kind) => {
          if (kind === 'log') logSyncs++;
          await handle.datasync();
        },
      });
      const before = logSyncs;
      const results = Array.from({ length: 5 }, () => log.append(simpleBatch(1)));
      await Promise.all(results.map((result) => result.durable));
      assert.equal(logSyncs, before, `${flush}: no fsync before durable`);
      assert.equal(log.highWatermark, 5, `${flush}: written data is servable`);
      if (flush === 'interval') {
        // The 20 ms timer fsyncs: wait for that fsync (a loaded machine delays timers and fsyncs).
        await waitUntil(() => logSyncs > before, 'the interval timer to fsync', 5_000);
        assert.ok(logSyncs > before, 'the interval timer fsyncs');
      }
      await log.close();
    }
  });
});

/**
 * A syncFile that fails the next `failures` fsyncs of segment data with EIO, each once released:
 * appends made while a failing fsync is held queue up behind it, as under load.
 */
class FailingSyncs {
  failures = 0;
  holding = false;
  private release: (() => void) | null = null;
  readonly syncFile = async (handle: import('node:fs/promises').FileHandle, kind: SyncKind): Promise<void> => {
    if (kind === 'log' && this.failures > 0) {
      this.failures--;
      if (this.holding) await new Promise<void>((resolve) => (this.release = resolve));
      throw Object.assign(new Error('EIO: i/o error, fdatasync (injected)'), { code: 'EIO' });
    }
    await handle.datasync();
  };

  async waitUntilHeld(): Promise<void> {
    while (this.release === null) await new Promise((resolve) => setImmediate(resolve));
  }

  letGo(): void {
    const release = this.release;
    this.release = null;
    release?.();
  }
}

/** The tag of a batch made by simpleBatch(…, { tag }): its first value is the tag followed by 0. */
function tagOf(batch: { bytes: Buffer }): string {
  return (batch.bytes.toString('latin1').match(/tag-[a-z0-9-]+/)?.[0] ?? '?').replace(/0$/, '');
}

test('a failed fsync refuses the cycle and everything queued behind it, rolls back, and the offsets are handed out again', async () => {
  await withTempDirectory(async (directory) => {
    const syncs = new FailingSyncs();
    const truncatedTo: number[] = [];
    const log = await PartitionLog.open(directory, logOptions(), undefined, { syncFile: syncs.syncFile });
    log.onTruncated((endOffset) => truncatedTo.push(endOffset));
    await appendAll(log, [simpleBatch(2, { tag: 'tag-kept-a' }), simpleBatch(1, { tag: 'tag-kept-b' })]);
    syncs.failures = 1;
    syncs.holding = true;
    const failing = Array.from({ length: 5 }, (_, index) => log.append(simpleBatch(2, { tag: `tag-failed-${index}` })));
    await syncs.waitUntilHeld();
    // Queued behind the failing cycle: their offsets follow the failed ones, so they fail with them.
    const queued = Array.from({ length: 3 }, (_, index) => log.append(simpleBatch(1, { tag: `tag-queued-${index}` })));
    assert.equal(log.logEndOffset, 3 + 10 + 3);
    syncs.letGo();
    for (const result of [...failing, ...queued]) await assert.rejects(result.durable, (error: Error) => error.name === 'LogWriteError' && /EIO/.test(error.message));
    assert.equal(log.logEndOffset, 3, 'rolled back to the last durable offset');
    assert.equal(log.highWatermark, 3);
    assert.deepEqual(truncatedTo, [3]);
    log.invariants();
    const again = log.append(simpleBatch(1, { tag: 'tag-after' }));
    assert.equal(again.baseOffset, 3, 'the first offset cut away is handed out again: no hole');
    await again.durable;
    const expected = ['tag-kept-a', 'tag-kept-b', 'tag-after'];
    assert.deepEqual((await readEverything(log)).map(tagOf), expected);
    await log.close();
    const reopened = await PartitionLog.open(directory, logOptions());
    assert.equal(reopened.logEndOffset, 4);
    assert.deepEqual((await readEverything(reopened)).map(tagOf), expected, 'nothing of the failed cycles survives a reopen');
    await reopened.close();
  });
});

test('a rollback across a segment roll removes the newer segment and reopens the older one where it was cut', async () => {
  await withTempDirectory(async (directory) => {
    const syncs = new FailingSyncs();
    const options = logOptions({ segmentBytes: 600 });
    const log = await PartitionLog.open(directory, options, undefined, { syncFile: syncs.syncFile });
    await appendAll(log, [simpleBatch(1, { valueBytes: 100, tag: 'tag-kept-0' })]);
    syncs.failures = 1;
    const failing = Array.from({ length: 8 }, (_, index) => log.append(simpleBatch(1, { valueBytes: 100, tag: `tag-failed-${index}` })));
    assert.ok(log.segmentCount >= 2, 'the failing cycle rolled');
    for (const result of failing) await assert.rejects(result.durable, /EIO/);
    assert.equal(log.segmentCount, 1);
    assert.equal(log.logEndOffset, 1);
    await log.flush(); // after the rollback's file work
    assert.deepEqual((await logFiles(directory)).filter((name) => name.endsWith('.log')), ['00000000000000000000.log'], 'the newer segment file is gone')
    const after = await appendAll(log, Array.from({ length: 8 }, (_, index) => simpleBatch(1, { valueBytes: 100, tag: `tag-after-${index}` })));
    assert.deepEqual(after.map((result) => result.baseOffset), [1, 2, 3, 4, 5, 6, 7, 8]);
    log.invariants();
    const expected = ['tag-kept-0', ...Array.from({ length: 8 }, (_, index) => `tag-after-${index}`)];
    assert.deepEqual((await readEverything(log)).map(tagOf), expected);
    await log.close();
    const reopened = await PartitionLog.open(directory, options);
    assert.deepEqual((await readEverything(reopened)).map(tagOf), expected);
    reopened.invariants();
    await reopened.close();
  });
});

test('flush=interval: a failed fsync also drops the acknowledged tail that was never made durable (as a crash would)', async () => {
  await withTempDirectory(async (directory) => {
    const syncs = new FailingSyncs();
    const log = await PartitionLog.open(directory, logOptions({ flush: 'interval', flushIntervalMs: 60_000 }), undefined, { syncFile: syncs.syncFile });
    await appendAll(log, [simpleBatch(1, { tag: 'tag-synced' })]);
    await log.flush();
    await appendAll(log, [simpleBatch(1, { tag: 'tag-acknowledged-unsynced' })]);
    assert.equal(log.highWatermark, 2, 'acknowledged and servable after the write');
    syncs.failures = 1;
    await assert.rejects(log.flush(), /EIO/);
    assert.equal(log.logEndOffset, 1, 'cut back to what an fsync made durable');
    assert.deepEqual((await readEverything(log)).map(tagOf), ['tag-synced']);
    const next = log.append(simpleBatch(1, { tag: 'tag-next' }));
    assert.equal(next.baseOffset, 1);
    await next.durable;
    await log.close();
  });
});

test('a log whose rollback cannot cut its files refuses appends until it is reopened', async () => {
  await withTempDirectory(async (directory) => {
    const syncs = new FailingSyncs();
    const log = await PartitionLog.open(directory, logOptions(), undefined, { syncFile: syncs.syncFile });
    await appendAll(log, [simpleBatch(1)]);
    syncs.failures = 2; // the cycle's fsync, then the fsync after the truncation
    await assert.rejects(log.append(simpleBatch(1)).durable, /EIO/);
    await log.flush().catch(() => undefined);
    assert.throws(() => log.append(simpleBatch(1)), (error: Error) => error.name === 'LogFailedError');
    await log.close();
    const reopened = await PartitionLog.open(directory, logOptions());
    assert.equal(reopened.logEndOffset, 1);
    await reopened.append(simpleBatch(1)).durable;
    await reopened.close();
  });
});

test('update options at run time: a smaller segment.bytes rolls on the next append', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, logOptions());
    await appendAll(log, [simpleBatch(3), simpleBatch(3)]);
    assert.equal(log.segmentCount, 1);
    log.updateOptions(logOptions({ segmentBytes: 100 }));
    await appendAll(log, [simpleBatch(3)]);
    assert.equal(log.segmentCount, 2);
    await log.delete();
    await assert.rejects(stat(directory), /ENOENT/);
  });
});
