/**
 * Reads racing appends, rolls and write-outs under the journal (flush.ts, partition-log.ts): a
 * reader that follows the log as a replica fetcher does (each read from where the last ended,
 * everything below the log end readable) must get every batch once, in order, and never meet
 * "damage" where the files are only being written behind it.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal } from '../../../src/storage/journal.js';
import { asOffset } from '../../../src/storage/offset.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

const journalOptions = { acceptsWrites: true, fileBytes: 4 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 };

test('readers following the log end and reading behind it, while batches are appended, segments roll and write-outs run, get every batch they ask for and meet no damage (a read limited at the written end inside a rolled segment does not go on into the next one)', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions({ segmentBytes: 64 * 1024 }), new ManualClock(), { journal, tailCacheBytes: 0 });
    const totalBatches = 3000;
    let appending = true;
    const writer = (async () => {
      const pending: Promise<void>[] = [];
      for (let index = 0; index < totalBatches; index++) {
        pending.push(log.append(simpleBatch(1 + (index % 5), { tag: `b${index}`, valueBytes: 200 + ((index * 37) % 900) })).durable);
        if (index % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (pending.length > 50) await pending.shift();
      }
      await Promise.all(pending);
      appending = false;
    })();
    // Another reader, behind: reads from random offsets below what is written, as a lagging follower
    // or a consumer reading back does; each read must start with the batch holding its offset.
    const lagging = (async () => {
      let seed = 7;
      while (appending) {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        const end = Number(log.highWatermark);
        if (end > 0) {
          const from = seed % end;
          const read = await log.read(asOffset(from), 1 + (seed % 8192));
          const [first] = splitBatches(read.chunks);
          assert.ok(first !== undefined && first.baseOffset <= from && first.lastOffset >= from, `a read from ${from} (high watermark ${end}) gave ${first === undefined ? 'nothing' : `${first.baseOffset}..${first.lastOffset}`}`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let next = 0;
    let reads = 0;
    while (appending || next < Number(log.logEndOffset)) {
      const end = Number(log.logEndOffset);
      if (next >= end) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const read = await log.read(asOffset(next), 16 * 1024, log.logEndOffset);
      reads++;
      // Appended but not durable yet: nothing to read until the next cycle.
      if (read.chunks.length === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const batch of splitBatches(read.chunks)) {
        assert.ok(batch.baseOffset <= next && batch.lastOffset >= next, `read from ${next} gave a batch ${batch.baseOffset}..${batch.lastOffset}`);
        next = batch.lastOffset + 1;
      }
    }
    await writer;
    await lagging;
    assert.equal(next, Number(log.logEndOffset));
    assert.ok(reads > 10);
    log.invariants();
    await log.close();
    await journal.close();
  });
});
