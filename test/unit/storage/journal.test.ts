/**
 * The shared journal (src/storage/journal.ts): group commit across logs, replay after a crash that
 * lost unsynced segment data, torn entries, truncation and reset records, and reclaim.
 */
import { strict as assert } from 'node:assert';
import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal, journalFileName, journalFolderName, type JournalClient } from '../../../src/storage/journal.js';
import { createLogger } from '../../../src/logging/logger.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { readBaseOffset } from '../../../src/protocol/kafka/batch-header.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

const journalOptions = { acceptsWrites: true, fileBytes: 1024 * 1024, maxBytes: 64 * 1024 * 1024 };

/** A batch with its base offset set, as a log hands it to the journal. */
function batchAt(baseOffset: number, count: number, tag: string): Buffer {
  const batch = simpleBatch(count, { tag });
  batch.writeBigInt64BE(BigInt(baseOffset), 0);
  return batch;
}

function client(directory: string, synced = () => 0, sync: () => Promise<void> = async () => {}): JournalClient {
  return { directory, segmentSyncedEndOffset: synced, syncSegments: sync };
}

async function readAll(log: PartitionLog): Promise<Buffer> {
  const read = await log.read(log.logStartOffset, 64 * 1024 * 1024, log.logEndOffset);
  return Buffer.concat(read.chunks);
}

test('batches of several logs appended in one turn share one commit and are replayed per log, in order', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const journal = await Journal.open(dataDirectory, journalOptions);
    const a = journal.register(client(join(dataDirectory, 'a-0')));
    const b = journal.register(client(join(dataDirectory, 'b-0')));
    const a0 = batchAt(0, 3, 'a'), b0 = batchAt(0, 2, 'b'), a3 = batchAt(3, 1, 'c');
    await Promise.all([journal.append(a, [a0], a0.length, 0, 3), journal.append(b, [b0], b0.length, 0, 2), journal.append(a, [a3], a3.length, 3, 4)]);
    assert.equal(journal.commitCount, 1);
    await journal.close();

    const reopened = await Journal.open(dataDirectory, journalOptions);
    assert.deepEqual(await reopened.replayFor(join(dataDirectory, 'a-0')), [a0, a3]);
    assert.deepEqual(await reopened.replayFor(join(dataDirectory, 'b-0')), [b0]);
    assert.deepEqual(await reopened.replayFor(join(dataDirectory, 'c-0')), []);
    await reopened.close();
  });
});

test('a torn entry ends the journal: the entries before it are replayed, nothing after it', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = journal.register(client(join(dataDirectory, 'a-0')));
    const first = batchAt(0, 2, 'x');
    const second = batchAt(2, 2, 'y');
    await journal.append(log, [first], first.length, 0, 2);
    await journal.append(log, [second], second.length, 2, 4);
    await journal.close();
    const [file] = await readdir(join(dataDirectory, journalFolderName));
    const path = join(dataDirectory, journalFolderName, file!);
    await truncate(path, (await stat(path)).size - 5);
    const reopened = await Journal.open(dataDirectory, journalOptions);
    assert.deepEqual(await reopened.replayFor(join(dataDirectory, 'a-0')), [first]);
    await reopened.close();

    // A flipped byte inside the first batch fails that batch's CRC: the journal ends before it.
    // (file header 32, the "log named" entry 32 + 'a-0', the batch entry's header 32, then the batch)
    const firstBatchAt = 32 + 32 + 3 + 32;
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from([0xff]), 0, 1, firstBatchAt + 40);
    await handle.close();
    const again = await Journal.open(dataDirectory, journalOptions);
    assert.deepEqual(await again.replayFor(join(dataDirectory, 'a-0')), []);
    await again.close();
  });
});

test('replay drops batches cut by a truncation record, offsets handed out again, and everything before a reset', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const journal = await Journal.open(dataDirectory, journalOptions);
    const directory = join(dataDirectory, 'a-0');
    const log = journal.register(client(directory));
    const append = (batch: Buffer) => journal.append(log, [batch], batch.length, readBaseOffset(batch, 0), 0);
    await append(batchAt(0, 2, 'keep'));
    await append(batchAt(2, 2, 'cut'));
    await journal.recordTruncated(log, 2);
    const reused = batchAt(2, 3, 'again');
    await append(reused);
    await append(batchAt(5, 1, 'replaced'));
    const after = batchAt(5, 2, 'after');
    await append(after); // base offset below the end so far: the earlier batch at 5 was cut
    await journal.close();
    let reopened = await Journal.open(dataDirectory, journalOptions);
    assert.deepEqual(
      (await reopened.replayFor(directory)).map((batch) => batch.toString('latin1').includes('keep') ? 'keep' : batch.equals(reused) ? 'again' : batch.equals(after) ? 'after' : 'other'),
      ['keep', 'again', 'after'],
    );
    // A log created again under the same folder name starts over.
    const recreated = reopened.register(client(directory));
    await reopened.recordReset(recreated);
    const fresh = batchAt(0, 1, 'fresh');
    await reopened.append(recreated, [fresh], fresh.length, 0, 1);
    await reopened.close();
    reopened = await Journal.open(dataDirectory, journalOptions);
    assert.deepEqual(await reopened.replayFor(directory), [fresh]);
    await reopened.close();
  });
});

test('acknowledged appends survive losing every unsynced segment write: the log replays them from the journal', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal });
    const acknowledged: Buffer[] = [];
    for (let round = 0; round < 5; round++) {
      const appends = [0, 1, 2].map((index) => log.append(simpleBatch(2 + index, { tag: `r${round}b${index}` })));
      await Promise.all(appends.map((appended) => appended.durable));
    }
    acknowledged.push(await readAll(log));
    await log.writeOut(); // written to the segment file (without an fsync) rather than left in memory
    const segmentPath = join(directory, '00000000000000000000.log');
    const writtenBytes = (await stat(segmentPath)).size;
    assert.ok(writtenBytes > 0);
    // The crash: the segment file was never fsynced after creation, so the disk may keep nothing of it.
    await truncate(segmentPath, 0);
    const afterCrash = await Journal.open(dataDirectory, journalOptions);
    const recovered = await PartitionLog.open(directory, logOptions(), new ManualClock(), { journal: afterCrash });
    assert.equal(recovered.logEndOffset, log.logEndOffset);
    assert.deepEqual(await readAll(recovered), acknowledged[0]);
    await recovered.close();
    await afterCrash.close();
  });
});

test('a hole in unsynced segment data with valid batches after it is cut there and refilled from the journal', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal });
    for (let index = 0; index < 6; index++) await log.append(simpleBatch(3, { tag: `b${index}`, valueBytes: 200 })).durable;
    const expected = await readAll(log);
    await log.writeOut(); // in the segment file (unsynced), not only in memory
    const batches = splitBatches([expected]);
    const segmentPath = join(directory, '00000000000000000000.log');
    // The disk kept later pages but not the third batch's.
    const third = expected.indexOf(batches[2]!.bytes);
    const handle = await open(segmentPath, 'r+');
    await handle.write(Buffer.alloc(batches[2]!.bytes.length), 0, batches[2]!.bytes.length, third);
    await handle.close();
    const afterCrash = await Journal.open(dataDirectory, journalOptions);
    const recovered = await PartitionLog.open(directory, logOptions(), new ManualClock(), { journal: afterCrash });
    assert.deepEqual(recovered.damagedRanges, []);
    assert.deepEqual(await readAll(recovered), expected);
    await recovered.close();
    await afterCrash.close();
  });
});

test('a clean close fsyncs the segments: the next open replays nothing and the journal files can go', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal });
    for (let index = 0; index < 3; index++) await log.append(simpleBatch(2, { tag: `b${index}` })).durable;
    const expected = await readAll(log);
    await log.close();
    await journal.close();
    const reopened = await Journal.open(dataDirectory, journalOptions);
    const lines: string[] = [];
    const again = await PartitionLog.open(directory, logOptions(), new ManualClock(), { journal: reopened, logger: createLogger('debug', (line) => lines.push(line)) });
    assert.deepEqual(await readAll(again), expected);
    assert.ok(lines.some((line) => line.includes('log opened')), lines.join(''));
    assert.ok(!lines.some((line) => line.includes('from the journal') || line.includes('truncating')), lines.join(''));
    reopened.release();
    await again.append(simpleBatch(1)).durable; // a new file begins; the old one is no longer needed
    await waitFor(() => reopened.fileCount === 1);
    await again.close();
    await reopened.close();
  });
});

test('past maxBytes the oldest file is reclaimed after its logs fsynced their segments past it', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const journal = await Journal.open(dataDirectory, { acceptsWrites: true, fileBytes: 1024 * 1024, maxBytes: 2 * 1024 * 1024 });
    let synced = 0;
    let syncCalls = 0;
    const log = journal.register(client(join(dataDirectory, 'a-0'), () => synced, async () => {
      syncCalls++;
      synced = offset;
    }));
    let offset = 0;
    for (let round = 0; round < 8; round++) {
      const batch = simpleBatch(1, { valueBytes: 512 * 1024 });
      batch.writeBigInt64BE(BigInt(offset), 0);
      await journal.append(log, [batch], batch.length, offset, offset + 1);
      offset += 1;
    }
    await waitFor(() => journal.sizeBytes <= 2 * 1024 * 1024 + 1024 * 1024);
    assert.ok(syncCalls > 0, 'the log was asked to fsync its segments');
    await journal.close();
    const names = await readdir(join(dataDirectory, journalFolderName));
    assert.equal(names.filter((name) => name.endsWith('.journal')).length, journal.fileCount);
    assert.ok(!names.includes(journalFileName(1)), `the oldest file is gone: ${names.join(' ')}`);
    // A dropped file is kept as the spare the next file begins in (its blocks exist: no size change to commit).
    assert.ok(names.includes('spare.journal-spare'), names.join(' '));

    // The spare becomes the next file: its old entries (an earlier sequence) are never replayed.
    const reopened = await Journal.open(dataDirectory, { acceptsWrites: true, fileBytes: 1024 * 1024, maxBytes: 2 * 1024 * 1024 });
    const directory = join(dataDirectory, 'a-0');
    const replayedBefore = await reopened.replayFor(directory);
    const again = reopened.register(client(directory, () => offset, async () => {}));
    const last = batchAt(offset, 2, 'last');
    await reopened.append(again, [last], last.length, offset, offset + 2);
    const newest = (await readdir(join(dataDirectory, journalFolderName))).filter((name) => name.endsWith('.journal')).sort().pop()!;
    assert.ok((await stat(join(dataDirectory, journalFolderName, newest))).size >= 512 * 1024, 'the new file is the spare, its blocks written before');
    await reopened.close();
    const final = await Journal.open(dataDirectory, journalOptions);
    const replayed = await final.replayFor(directory);
    // What is left is a contiguous run of the batches written before and the new one, in order: nothing stale from the recycled file.
    assert.deepEqual(replayed[replayed.length - 1], last);
    const earlier = replayed.slice(0, -1);
    assert.deepEqual(earlier, replayedBefore.slice(replayedBefore.length - earlier.length));
    for (let index = 1; index < replayed.length; index++) assert.equal(readBaseOffset(replayed[index]!, 0), readBaseOffset(replayed[index - 1]!, 0) + 1);
    await final.close();
  });
});

test('a journal turned off is replayed, then emptied', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal });
    await log.append(simpleBatch(4)).durable;
    const expected = await readAll(log);
    await truncate(join(directory, '00000000000000000000.log'), 0);
    const readOnly = await Journal.open(dataDirectory, { ...journalOptions, acceptsWrites: false });
    const recovered = await PartitionLog.open(directory, logOptions(), new ManualClock(), { journal: readOnly });
    assert.deepEqual(await readAll(recovered), expected);
    readOnly.release();
    await waitFor(() => readOnly.fileCount === 0);
    await recovered.append(simpleBatch(1)).durable; // fsyncs its own segment
    await recovered.close();
    await readOnly.close();
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition not reached');
}
