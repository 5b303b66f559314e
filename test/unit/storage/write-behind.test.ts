/**
 * Write-behind (src/storage/write-behind.ts, flush.ts): under the journal, batches are acknowledged
 * once the journal holds them, served from memory until their segment write, and written out by
 * size, by the broker-wide budget, by age, and on flush.
 */
import { strict as assert } from 'node:assert';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Journal } from '../../../src/storage/journal.js';
import { asOffset } from '../../../src/storage/offset.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { WriteBehindBudget, type WriteBehindLog } from '../../../src/storage/write-behind.js';
import { ManualClock, logOptions, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';

const journalOptions = { acceptsWrites: true, fileBytes: 4 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 };

async function segmentFileBytes(directory: string): Promise<number> {
  return (await stat(join(directory, '00000000000000000000.log'))).size;
}

/** Resolves once `condition` holds, checking after each turn of the event loop (no clock involved). */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 100_000; turn++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`never happened: ${what}`);
}

test('acknowledged batches wait in memory for their segment write; reads find them there; a log writes out at its size and on flush', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    // No tail cache: reads of unwritten batches must come from the flusher's own memory.
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal, tailCacheBytes: 0 });
    const small: Buffer[] = [];
    for (let index = 0; index < 5; index++) {
      const batch = simpleBatch(2, { tag: `s${index}`, valueBytes: 100 });
      small.push(Buffer.from(batch));
      await log.append(batch).durable;
    }
    assert.equal(await segmentFileBytes(directory), 0, 'acknowledged through the journal, not written to the segment yet');
    assert.ok(log.unwrittenByteCount > 0);
    assert.equal(log.highWatermark, 10);
    const fromMemory = await log.read(log.logStartOffset, 1024 * 1024);
    assert.deepEqual(splitBatches(fromMemory.chunks).map((batch) => batch.baseOffset), [0, 2, 4, 6, 8]);
    const middle = await log.read(asOffset(5), 1); // the batch holding offset 5, whole (KIP-74), and no more
    assert.deepEqual(splitBatches(middle.chunks).map((batch) => batch.baseOffset), [4]);
    // Past the log's write-behind size the next cycle writes everything out.
    const big: Promise<void>[] = [];
    for (let index = 0; index < 40; index++) big.push(log.append(simpleBatch(8, { tag: `b${index}`, valueBytes: 1024 })).durable);
    await Promise.all(big);
    await log.append(simpleBatch(1, { tag: 'trigger' })).durable;
    await eventually(() => log.unwrittenByteCount < 64 * 1024, 'the log wrote its batches out');
    assert.ok((await segmentFileBytes(directory)) > 256 * 1024, 'written out in the segment file');
    // Reads across the written part and what is still unwritten give every batch once, in order.
    const all = splitBatches((await log.read(log.logStartOffset, 64 * 1024 * 1024)).chunks);
    assert.equal(all[all.length - 1]!.lastOffset + 1, Number(log.highWatermark));
    all.forEach((batch, index) => index > 0 && assert.equal(batch.baseOffset, all[index - 1]!.lastOffset + 1));
    await log.flush();
    assert.equal(log.unwrittenByteCount, 0, 'flush writes everything out');
    assert.equal(await segmentFileBytes(directory), Buffer.concat((await log.read(log.logStartOffset, 64 * 1024 * 1024)).chunks).length);
    log.invariants();
    await log.close();
    await journal.close();
  });
});

test("a cycle's appends are acknowledged without waiting for the write-out they trigger; it follows in the background", async () => {
  await withTempDirectory(async (dataDirectory) => {
    const directory = join(dataDirectory, 't-0');
    const journal = await Journal.open(dataDirectory, journalOptions);
    const log = await PartitionLog.create(directory, logOptions(), new ManualClock(), { journal, tailCacheBytes: 0 });
    // Just under the log's write-behind size (256 KiB), then one batch that takes it over.
    const first: Promise<void>[] = [];
    for (let index = 0; index < 30; index++) first.push(log.append(simpleBatch(8, { tag: `a${index}`, valueBytes: 1024 })).durable);
    await Promise.all(first);
    const before = log.unwrittenByteCount;
    assert.ok(before > 200 * 1024 && before < 256 * 1024, `${before} bytes unwritten`);
    const trigger = simpleBatch(8, { tag: 'over', valueBytes: 8 * 1024 });
    await log.append(trigger).durable;
    // Acknowledged while every batch, the new one included, still waits for its segment write (a
    // write-out removes what it wrote from the count only once its writev returned).
    assert.equal(log.unwrittenByteCount, before + trigger.length);
    await eventually(() => log.unwrittenByteCount === 0, 'the background write-out ran');
    assert.equal(await segmentFileBytes(directory), before + trigger.length);
    log.invariants();
    await log.close();
    await journal.close();
  });
});

test('past the broker-wide budget, the log holding unwritten batches longest writes them out first', async () => {
  await withTempDirectory(async (dataDirectory) => {
    const journal = await Journal.open(dataDirectory, { ...journalOptions, unwrittenMaxBytes: 48 * 1024 });
    const first = await PartitionLog.create(join(dataDirectory, 't-0'), logOptions(), new ManualClock(), { journal });
    const second = await PartitionLog.create(join(dataDirectory, 't-1'), logOptions(), new ManualClock(), { journal });
    await first.append(simpleBatch(10, { tag: 'first', valueBytes: 3000 })).durable;
    assert.ok(first.unwrittenByteCount > 24 * 1024 && first.unwrittenByteCount < 48 * 1024);
    await second.append(simpleBatch(10, { tag: 'second', valueBytes: 2000 })).durable; // together past 48 KiB; the second alone under half
    await eventually(() => first.unwrittenByteCount === 0, 'the older log wrote out');
    assert.ok(second.unwrittenByteCount > 0, 'the newer one keeps its batches (the budget is half free again)');
    assert.ok((await segmentFileBytes(join(dataDirectory, 't-0'))) > 0);
    assert.equal(await segmentFileBytes(join(dataDirectory, 't-1')), 0);
    await first.close();
    await second.close();
    await journal.close();
  });
});

test('a log holding unwritten bytes longer than the age limit is asked to write out; one that wrote everything is forgotten', async () => {
  const asked: string[] = [];
  let nowMs = 1_000;
  const budget = new WriteBehindBudget({ logBytes: 1024, maxBytes: 1024 * 1024, maxAgeMs: 20, nowMs: () => nowMs });
  let askedOld!: () => void;
  const oldAsked = new Promise<void>((resolve) => (askedOld = resolve));
  const old: WriteBehindLog = {
    writeOut: async () => {
      asked.push('old');
      askedOld();
    },
  };
  const young: WriteBehindLog = { writeOut: async () => void asked.push('young') };
  budget.update(old, 100);
  nowMs += 15;
  budget.update(young, 100);
  assert.equal(budget.byteCount, 200);
  nowMs += 10; // old: 25 ms, young: 10 ms
  const keepAlive = setInterval(() => {}, 1000); // the budget's own timer does not hold the process open
  await oldAsked;
  clearInterval(keepAlive);
  assert.deepEqual(asked, ['old']);
  budget.update(old, 0);
  assert.equal(budget.byteCount, 100);
  budget.close();
});
