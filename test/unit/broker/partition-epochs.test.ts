/**
 * Leader epochs of a partition (PartitionHandle with storage/leader-epoch-cache.ts) on real logs in
 * temporary folders: the epochs follow the appended batches and survive a reopen; a missing or
 * damaged checkpoint is rebuilt from the log; a follower's truncation (PartitionLog.truncateTo)
 * cuts the log across segments, the epochs and the producer state, and survives a reopen; moving the
 * log start moves the first epoch; restartAt empties the log at a later offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PartitionHandle, type PartitionStorageSettings } from '../../../src/broker/partition-handle.js';
import { createLogger } from '../../../src/logging/logger.js';
import { readPartitionLeaderEpoch, setPartitionLeaderEpoch } from '../../../src/protocol/kafka/batch-header.js';
import { leaderEpochFileName } from '../../../src/storage/leader-epoch-cache.js';
import { asOffset } from '../../../src/storage/offset.js';
import { encodeRecordBatch } from '../../../src/protocol/kafka/records.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from '../storage/batch-fixtures.js';

function settings(warnings: string[] = []): PartitionStorageSettings {
  const logger = createLogger('warn', (line) => warnings.push(line));
  return {
    logOptions: logOptions({ segmentBytes: 1_200, indexIntervalBytes: 200 }),
    logEnvironment: { logger },
    producerLimits: { maxProducerIds: 100, expirationMs: 24 * 3600 * 1000 },
    clock: new ManualClock(),
    logger,
  };
}

/** Appends `count` batches stamped with `epoch` (as a leader in that epoch does); returns their base offsets. */
async function appendInEpoch(handle: PartitionHandle, epoch: number, count: number, tag: string): Promise<number[]> {
  const results = Array.from({ length: count }, (_, index) => {
    const batch = simpleBatch(1 + (index % 3), { valueBytes: 40, tag: `${tag}${index}-` });
    setPartitionLeaderEpoch(batch, 0, epoch);
    return handle.append(batch);
  });
  await Promise.all(results.map((result) => result.durable));
  return results.map((result) => result.baseOffset);
}

async function storedEpochs(handle: PartitionHandle): Promise<Array<[number, number]>> {
  const batches = splitBatches((await handle.read(handle.logStartOffset, 10_000_000, undefined, handle.logEndOffset)).chunks);
  return batches.map((batch) => [batch.baseOffset, readPartitionLeaderEpoch(batch.bytes, 0)]);
}

test('epochs follow appended batches, are written to the checkpoint, and are rebuilt from the log when it is missing, damaged or behind the log', async () => {
  await withTempDirectory(async (directory) => {
    const warnings: string[] = [];
    const handle = await PartitionHandle.create(directory, settings(warnings));
    assert.equal(handle.latestLeaderEpoch, -1);
    const epoch0 = await appendInEpoch(handle, 0, 5, 'a');
    const epoch3 = await appendInEpoch(handle, 3, 6, 'b');
    const epoch4 = await appendInEpoch(handle, 4, 4, 'c');
    const expected = [
      { epoch: 0, startOffset: epoch0[0]! },
      { epoch: 3, startOffset: epoch3[0]! },
      { epoch: 4, startOffset: epoch4[0]! },
    ];
    assert.deepEqual(handle.leaderEpochs, expected);
    const written = `1\n3\n${expected.map((entry) => `${entry.epoch} ${entry.startOffset}\n`).join('')}`;
    assert.equal(await readFile(join(directory, leaderEpochFileName), 'utf8'), written);
    assert.deepEqual(handle.endOffsetForEpoch(3), { epoch: 3, endOffset: epoch4[0]! });
    assert.deepEqual(handle.endOffsetForEpoch(4), { epoch: 4, endOffset: handle.logEndOffset });
    await handle.close();

    const reopened = await PartitionHandle.open(directory, settings(warnings));
    assert.deepEqual(reopened.leaderEpochs, expected);
    await reopened.close();

    await rm(join(directory, leaderEpochFileName));
    const rebuilt = await PartitionHandle.open(directory, settings(warnings));
    assert.deepEqual(rebuilt.leaderEpochs, expected, 'rebuilt from the batch headers');
    await rebuilt.close();
    assert.equal(await readFile(join(directory, leaderEpochFileName), 'utf8'), written, 'and written again');

    await writeFile(join(directory, leaderEpochFileName), '1\n2\n0 0\n');
    const repaired = await PartitionHandle.open(directory, settings(warnings));
    assert.deepEqual(repaired.leaderEpochs, expected);
    await repaired.close();
    assert.ok(warnings.some((line) => line.includes('ignoring the leader epoch checkpoint')), 'the damaged file is reported');

    // A crash after a batch of epoch 4 reached the disk but before the file took epoch 4: found by the last batch's header.
    await writeFile(join(directory, leaderEpochFileName), `1\n2\n0 ${epoch0[0]!}\n3 ${epoch3[0]!}\n`);
    const completed = await PartitionHandle.open(directory, settings(warnings));
    assert.deepEqual(completed.leaderEpochs, expected);
    await completed.close();
    assert.equal(await readFile(join(directory, leaderEpochFileName), 'utf8'), written);
    assert.ok(warnings.some((line) => line.includes('missing from the checkpoint')));
  });
});

test('a follower\'s truncation cuts the log across segments, its epochs and producer state; appends go on from the new end; a reopen agrees', async () => {
  await withTempDirectory(async (directory) => {
    const handle = await PartitionHandle.create(directory, settings());
    await appendInEpoch(handle, 1, 8, 'a');
    // An idempotent producer's batch in epoch 2, then more batches of epoch 2 and 5.
    const idempotent = encodeRecordBatch({ records: [{ key: null, value: Buffer.from('p') }], producerId: 42n, producerEpoch: 0, baseSequence: 0, baseTimestampMs: 1_700_000_000_000 });
    setPartitionLeaderEpoch(idempotent, 0, 2);
    const producerAppend = handle.append(idempotent);
    handle.producers.recordAppend(idempotent, producerAppend);
    await producerAppend.durable;
    const epoch2 = await appendInEpoch(handle, 2, 8, 'b');
    const epoch5 = await appendInEpoch(handle, 5, 10, 'c');
    assert.deepEqual(handle.leaderEpochs.map((entry) => entry.epoch), [1, 2, 5]);
    assert.equal(handle.producers.table.size, 1);
    const before = await storedEpochs(handle);
    assert.ok(handle.compactableLog.compactionView().sealedSegments.length >= 3, 'several segments');

    // Cut inside epoch 1's batches: epochs 2 and 5 and the producer's batch go.
    const cut = epoch2[0]! - 3;
    const newEnd = await handle.truncateTo(asOffset(cut));
    assert.ok(newEnd <= cut && newEnd > cut - 3, `the batch holding ${cut} goes whole (new end ${newEnd})`);
    assert.equal(handle.logEndOffset, newEnd);
    assert.equal(handle.localHighWatermark, newEnd);
    assert.deepEqual(handle.leaderEpochs.map((entry) => entry.epoch), [1]);
    assert.equal(handle.producers.table.size, 0, 'the producer\'s only batch was cut');
    assert.deepEqual(await storedEpochs(handle), before.filter(([baseOffset]) => baseOffset < newEnd));
    assert.equal(await handle.truncateTo(asOffset(newEnd + 100)), newEnd, 'a cut past the end changes nothing');

    // The log takes appends (a new epoch) from the new end, rolling segments again.
    const epoch7 = await appendInEpoch(handle, 7, 12, 'd');
    assert.equal(epoch7[0], newEnd);
    assert.deepEqual(handle.leaderEpochs.map((entry) => [entry.epoch, entry.startOffset]), [[1, 0], [7, newEnd]]);
    const after = await storedEpochs(handle);
    assert.ok(epoch5.length > 0);
    await handle.close();

    const reopened = await PartitionHandle.open(directory, settings());
    assert.equal(reopened.logEndOffset, epoch7[epoch7.length - 1]! + ((epoch7.length - 1) % 3) + 1);
    assert.deepEqual(await storedEpochs(reopened), after);
    assert.deepEqual(reopened.leaderEpochs.map((entry) => [entry.epoch, entry.startOffset]), [[1, 0], [7, newEnd]]);
    await reopened.truncateTo(asOffset(0));
    assert.equal(reopened.logEndOffset, 0);
    assert.deepEqual(reopened.leaderEpochs, []);
    await appendInEpoch(reopened, 8, 2, 'e');
    assert.deepEqual(reopened.leaderEpochs, [{ epoch: 8, startOffset: 0 }]);
    await reopened.close();
  });
});

test('moving the log start moves the first epoch; restartAt empties the log at a later offset', async () => {
  await withTempDirectory(async (directory) => {
    const handle = await PartitionHandle.create(directory, settings());
    await appendInEpoch(handle, 0, 4, 'a');
    const epoch2 = await appendInEpoch(handle, 2, 4, 'b');
    await handle.deleteRecordsBefore(asOffset(epoch2[1]!));
    assert.deepEqual(handle.leaderEpochs, [{ epoch: 2, startOffset: epoch2[1]! }]);
    assert.equal(await readFile(join(directory, leaderEpochFileName), 'utf8'), `1\n1\n2 ${epoch2[1]!}\n`);

    const restartAt = handle.logEndOffset + 50;
    await handle.restartAt(asOffset(restartAt));
    assert.equal(handle.logStartOffset, restartAt);
    assert.equal(handle.logEndOffset, restartAt);
    assert.deepEqual(handle.leaderEpochs, []);
    const epoch6 = await appendInEpoch(handle, 6, 3, 'c');
    assert.equal(epoch6[0], restartAt);
    await handle.close();
    const reopened = await PartitionHandle.open(directory, settings());
    assert.equal(reopened.logStartOffset, restartAt);
    assert.deepEqual(reopened.leaderEpochs, [{ epoch: 6, startOffset: restartAt }]);
    assert.deepEqual((await storedEpochs(reopened)).map(([, epoch]) => epoch), [6, 6, 6]);
    await reopened.close();
  });
});
