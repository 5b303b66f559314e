/**
 * PartitionLog.appendAsFollower (replication): a follower's log takes the leader's batches with the
 * leader's offsets, refuses a batch that does not continue it or fails its CRC, and keeps what it
 * took across a reopen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { PartitionLog, ReplicaAppendError } from '../../../src/storage/partition-log.js';
import { asOffset } from '../../../src/storage/offset.js';
import { logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

test('a follower keeps the leader\'s offsets; gaps, overlaps and bad CRCs are refused; the log survives a reopen', async () => {
  await withTempDirectory(async (directory) => {
    // Two partition folders side by side in the temporary root.
    const leaderDirectory = directory;
    const followerDirectory = join(dirname(directory), 'topic-1');
    const leader = await PartitionLog.open(leaderDirectory, logOptions({ segmentBytes: 1_500 }));
    const follower = await PartitionLog.open(followerDirectory, logOptions({ segmentBytes: 1_500 }));
    const batches = Array.from({ length: 12 }, (_, index) => simpleBatch(1 + (index % 4), { valueBytes: 30, tag: `b${index}-` }));
    await Promise.all(batches.map((batch) => leader.append(batch).durable));
    const stored = splitBatches((await leader.read(asOffset(0), 1_000_000)).chunks);
    assert.equal(stored.length, 12);

    const first = stored[0]!;
    const results = [follower.appendAsFollower(Buffer.from(first.bytes))];
    assert.deepEqual([results[0]!.baseOffset, results[0]!.lastOffset], [first.baseOffset, first.lastOffset]);
    // Not the next batch: a gap, then the same batch again (an overlap).
    assert.throws(() => follower.appendAsFollower(Buffer.from(stored[2]!.bytes)), (error: unknown) => error instanceof ReplicaAppendError && /does not continue the log ending at 1/.test(error.message));
    assert.throws(() => follower.appendAsFollower(Buffer.from(first.bytes)), ReplicaAppendError);
    // A flipped byte in the records: the CRC-32C no longer matches.
    const damaged = Buffer.from(stored[1]!.bytes);
    damaged[damaged.length - 1]! ^= 0xff;
    assert.throws(() => follower.appendAsFollower(damaged), /fails its CRC-32C check/);
    assert.equal(follower.logEndOffset, first.lastOffset + 1, 'nothing of a refused batch is kept');

    for (const batch of stored.slice(1)) results.push(follower.appendAsFollower(Buffer.from(batch.bytes)));
    await Promise.all(results.map((result) => result.durable));
    assert.equal(follower.logEndOffset, leader.logEndOffset);
    const copied = splitBatches((await follower.read(asOffset(0), 1_000_000)).chunks);
    assert.deepEqual(copied.map((batch) => batch.bytes), stored.map((batch) => batch.bytes), 'byte for byte the leader\'s batches');
    assert.ok(follower.segmentCount > 1, 'the follower rolled segments as it appended');
    await follower.close();
    await leader.close();

    const reopened = await PartitionLog.open(followerDirectory, logOptions({ segmentBytes: 1_500 }));
    assert.deepEqual(splitBatches((await reopened.read(asOffset(0), 1_000_000)).chunks).map((batch) => batch.bytes), stored.map((batch) => batch.bytes));
    await reopened.close();
  });
});
