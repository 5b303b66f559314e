/**
 * Opening a log after a clean shutdown writes and fsyncs nothing: the recovery point already names
 * the log end, so neither open nor the next close rewrites it (several fsyncs per partition saved
 * at each restart). Data appended after such an open is still recovered after a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { recoveryPointFileName, readOffsetCheckpoint } from '../../../src/storage/checkpoint.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';
import { asOffset } from '../../../src/storage/offset.js';

/** The checkpoint file's inode: a rewrite renames a new file over it, so the inode changes. */
function checkpointInode(directory: string): number {
  return statSync(join(directory, recoveryPointFileName)).ino;
}

async function appendDurably(log: PartitionLog, count: number, tag: string): Promise<void> {
  const results = Array.from({ length: count }, (_, index) => log.append(simpleBatch(1, { valueBytes: 50, tag: `${tag}${index}-` })));
  await Promise.all(results.map((result) => result.durable));
}

test('a clean restart leaves the recovery point untouched, and what is appended afterwards survives a crash', async () => {
  await withTempDirectory(async (directory) => {
    const first = await PartitionLog.open(directory, logOptions(), new ManualClock());
    await appendDurably(first, 10, 'before-');
    await first.close();
    assert.equal(readOffsetCheckpoint(directory, recoveryPointFileName), 10);
    const inode = checkpointInode(directory);

    let syncsDuringOpen = 0;
    const idle = await PartitionLog.open(directory, logOptions(), new ManualClock(), {
      syncFile: async (handle) => {
        syncsDuringOpen++;
        await handle.datasync();
      },
    });
    assert.equal(syncsDuringOpen, 0, 'opening a cleanly closed log fsyncs nothing');
    assert.equal(idle.logEndOffset, 10);
    await idle.close();
    assert.equal(checkpointInode(directory), inode, 'neither the open nor the close of an idle log rewrote the checkpoint');

    const written = await PartitionLog.open(directory, logOptions(), new ManualClock());
    await appendDurably(written, 5, 'after-');
    // A crash: the log is never closed, so the checkpoint still says 10.
    assert.equal(readOffsetCheckpoint(directory, recoveryPointFileName), 10);
    const recovered = await PartitionLog.open(directory, logOptions(), new ManualClock());
    assert.equal(recovered.logEndOffset, 15);
    const batches = splitBatches((await recovered.read(asOffset(0), 1_000_000)).chunks);
    assert.deepEqual(
      batches.map((batch) => batch.baseOffset),
      Array.from({ length: 15 }, (_, offset) => offset),
    );
    await recovered.close();
    await written.close().catch(() => {});
  });
});
