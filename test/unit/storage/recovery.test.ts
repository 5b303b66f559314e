import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { recoverLog } from '../../../src/storage/recovery.js';
import type { DamagedRange } from '../../../src/storage/errors.js';
import { logOptions, simpleBatch, withTempDirectory } from './batch-fixtures.js';
import { maxTimestampOffset, offsetForTimestamp } from '../../../src/broker/offset-for-timestamp.js';

const options = logOptions({ segmentBytes: 64 * 1024, indexIntervalBytes: 256 });

async function appendBatches(log: PartitionLog, count: number, firstTimestamp: number): Promise<void> {
  const results = Array.from({ length: count }, (_, index) => log.append(simpleBatch(3, { valueBytes: 50, timestamp: firstTimestamp + index * 10 })));
  await Promise.all(results.map((result) => result.durable));
}

/** Runs recovery as PartitionLog.open would, and says which segments it had to scan. */
function recover(directory: string): { scanned: number[]; endOffset: number; segments: number; damage: DamagedRange[]; scannedBytes: number } {
  const recovered = recoverLog({ directory, indexIntervalBytes: options.indexIntervalBytes, nowMs: Date.now(), logger: null });
  const last = recovered.segments[recovered.segments.length - 1]!;
  return { scanned: recovered.rebuilt.map((segment) => segment.baseOffset), endOffset: last.nextOffset, segments: recovered.segments.length, damage: recovered.damage, scannedBytes: recovered.scannedBytes };
}

function range0(damage: readonly DamagedRange[]): number {
  return damage[0]?.position ?? -1;
}

async function lastLogPath(directory: string): Promise<string> {
  const logs = (await readdir(directory)).filter((name) => name.endsWith('.log')).sort();
  return join(directory, logs[logs.length - 1]!);
}

test('after a clean shutdown the last segment is trusted from its indexes, not scanned; lookups and appends go on', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, options);
    await appendBatches(log, 600, 1_000_000); // about 100 KB: two segments
    await log.close();
    const afterClose = recover(directory);
    assert.equal(afterClose.endOffset, 1800);
    assert.deepEqual(afterClose.scanned, [], 'no segment scanned after a clean shutdown');

    const reopened = await PartitionLog.open(directory, options);
    assert.equal(reopened.logEndOffset, 1800);
    assert.deepEqual(await offsetForTimestamp(reopened, 1_000_000 + 599 * 10), { offset: 1797, timestamp: 1_000_000 + 599 * 10 });
    assert.deepEqual(await maxTimestampOffset(reopened), { offset: 1797, timestamp: 1_000_000 + 599 * 10 + 0 });
    await appendBatches(reopened, 10, 2_000_000);
    assert.deepEqual(await offsetForTimestamp(reopened, 2_000_000), { offset: 1800, timestamp: 2_000_000 });
    await reopened.close();
    assert.deepEqual(recover(directory).scanned, []);
    const again = await PartitionLog.open(directory, options);
    assert.equal(again.logEndOffset, 1830);
    assert.deepEqual(await maxTimestampOffset(again), { offset: 1827, timestamp: 2_000_000 + 90 });
    await again.close();
  });
});

test('batches written after the last checkpoint (a crash) make recovery scan the last segment', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, options);
    await appendBatches(log, 100, 1_000_000);
    await log.close();
    const crashed = await PartitionLog.open(directory, options);
    await appendBatches(crashed, 5, 3_000_000); // durable, but the process "dies" without closing
    const recovered = recover(directory);
    assert.equal(recovered.endOffset, 315);
    assert.deepEqual(recovered.scanned, [0], 'the last segment is scanned');
  });
});

test('after a clean shutdown, a damaged last batch is still found, and kept as damage (below the recovery point: acknowledged)', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, options);
    await appendBatches(log, 100, 1_000_000);
    await log.close();
    const path = await lastLogPath(directory);
    const size = (await stat(path)).size;
    const handle = await open(path, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, size - 10); // inside the last record: only the CRC can tell
    byte[0] = byte[0]! ^ 0x5a;
    await handle.write(byte, 0, 1, size - 10);
    await handle.close();
    const recovered = recover(directory);
    assert.deepEqual(recovered.scanned, [0]);
    assert.equal(recovered.endOffset, 300, 'nothing is cut');
    assert.deepEqual(recovered.damage.map((range) => [range.firstOffset, range.lastOffset, range.endPosition - range.position]), [[297, 299, size - range0(recovered.damage)]]);
  });
});

test('after a crash only what was appended past the recovery point is scanned', async () => {
  await withTempDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, options);
    await appendBatches(log, 100, 1_000_000); // one segment of about 17 KB
    await log.close();
    const reopened = await PartitionLog.open(directory, options); // recovery point = log end, indexes persisted
    await appendBatches(reopened, 5, 3_000_000); // durable; then the process "dies"
    const batchBytes = (await stat(await lastLogPath(directory))).size / 105;
    const recovered = recover(directory);
    assert.equal(recovered.endOffset, 315);
    assert.deepEqual(recovered.scanned, [0]);
    assert.ok(recovered.scannedBytes <= 5 * batchBytes + 1, `scanned ${recovered.scannedBytes} bytes, the 5 batches appended are about ${5 * batchBytes}`);
    const again = await PartitionLog.open(directory, options);
    assert.equal(again.logEndOffset, 315);
    assert.deepEqual(await offsetForTimestamp(again, 3_000_000), { offset: 300, timestamp: 3_000_000 });
    assert.deepEqual(await maxTimestampOffset(again), { offset: 312, timestamp: 3_000_040 });
    await again.close();
    await reopened.close();
  });
});
