/**
 * PartitionLog.appendAsFollower (replication): a follower's log takes the leader's batches with the
 * leader's offsets, refuses a batch that does not continue it or fails its CRC, and keeps what it
 * took across a reopen; and truncateTo (a follower cutting a diverged tail) across segments and the
 * journal, crash-safe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { PartitionLog, ReplicaAppendError } from '../../../src/storage/partition-log.js';
import { asOffset } from '../../../src/storage/offset.js';
import { Journal } from '../../../src/storage/journal.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

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

test('truncateTo cuts durable batches across sealed segments, even those the journal holds; a crash afterwards brings none back', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const options = logOptions({ segmentBytes: 1_000, indexIntervalBytes: 150 });
    const journalOptions = { acceptsWrites: true, fileBytes: 1024 * 1024, maxBytes: 64 * 1024 * 1024 };
    const readAll = async (log: PartitionLog) => splitBatches((await log.read(asOffset(0), 1_000_000, log.logEndOffset)).chunks).map((batch) => Buffer.from(batch.bytes));
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, options, new ManualClock(), { journal });
    const appends = Array.from({ length: 30 }, (_, index) => log.append(simpleBatch(1 + (index % 3), { valueBytes: 30, tag: `a${index}-` })));
    await Promise.all(appends.map((appended) => appended.durable));
    assert.ok(log.segmentCount > 3);
    const before = splitBatches((await log.read(asOffset(0), 1_000_000, log.logEndOffset)).chunks);
    const cut = before[11]!.baseOffset + 1; // inside batch 11 (or just past it when it holds one record)
    const newEnd = await log.truncateTo(asOffset(cut));
    const kept = before.filter((batch) => batch.lastOffset < cut).map((batch) => batch.bytes);
    assert.equal(newEnd, splitBatches(kept).at(-1)!.lastOffset + 1);
    assert.equal(log.logEndOffset, newEnd);
    assert.equal(log.highWatermark, newEnd);
    log.invariants();
    assert.deepEqual(await readAll(log), kept);

    // A crash right after (no close): the journal still holds the cut batches, and must not replay them.
    const afterCrash = await Journal.open(dataDirectory, journalOptions);
    const recovered = await PartitionLog.open(directory, options, new ManualClock(), { journal: afterCrash });
    assert.equal(recovered.logEndOffset, newEnd);
    assert.deepEqual(await readAll(recovered), kept);
    recovered.invariants();
    // Appends go on from the new end, without a roll (a roll writes everything out), so they stay
    // unwritten (durable in the journal only) at the next crash.
    recovered.updateOptions({ ...options, segmentBytes: 1024 * 1024 });
    const more = Array.from({ length: 6 }, (_, index) => recovered.append(simpleBatch(2, { valueBytes: 30, tag: `b${index}-` })));
    assert.equal(more[0]!.baseOffset, newEnd);
    await Promise.all(more.map((appended) => appended.durable));
    assert.ok(recovered.unwrittenByteCount > 0, 'the last appends are durable in the journal only');
    const expected = await readAll(recovered);
    const afterSecondCrash = await Journal.open(dataDirectory, journalOptions);
    const again = await PartitionLog.open(directory, options, new ManualClock(), { journal: afterSecondCrash });
    assert.deepEqual(await readAll(again), expected);
    again.invariants();
    await again.close();
    await afterSecondCrash.close();
  });
});
