import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, open, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OffsetOutOfRangeError, PartitionLog, type LogOptions } from '../../../src/storage/partition-log.js';
import { ManualClock, logOptions, seededRandom, simpleBatch, splitBatches, withTempDirectory } from './batch-fixtures.js';
import { offsetForTimestamp } from '../../../src/broker/offset-for-timestamp.js';
import { asOffset } from '../../../src/storage/offset.js';

/**
 * Randomized operations against a simple model: appends (several per turn), reopen, crash with a
 * torn tail past the recovery point (truncated or garbage), DeleteRecords, retention, reads and timestamp lookups.
 * The model is a list of batches (offsets, bytes after the baseOffset field, record timestamps).
 */

interface ModelBatch {
  baseOffset: number;
  lastOffset: number;
  /** Bytes from byte 8 on (everything but the patched baseOffset). */
  body: Buffer;
  totalBytes: number;
  timestamps: number[];
}

interface Model {
  batches: ModelBatch[];
  startOffset: number;
}

function modelEnd(model: Model): number {
  const last = model.batches[model.batches.length - 1];
  return last === undefined ? model.startOffset : last.lastOffset + 1;
}

async function checkEverything(log: PartitionLog, model: Model, label: string): Promise<void> {
  log.invariants();
  assert.equal(log.logEndOffset, modelEnd(model), `${label}: log end`);
  assert.equal(log.logStartOffset, model.startOffset, `${label}: log start`);
  const visible = model.batches.filter((batch) => batch.lastOffset >= model.startOffset);
  let offset = model.startOffset;
  let index = 0;
  while (offset < log.highWatermark) {
    const read = splitBatches((await log.read(asOffset(offset), 4_000)).chunks);
    assert.ok(read.length > 0, `${label}: nothing at ${offset}`);
    for (const batch of read) {
      const expected = visible[index++];
      assert.ok(expected !== undefined, `${label}: extra batch at ${batch.baseOffset}`);
      assert.equal(batch.baseOffset, expected.baseOffset, `${label}: base offset`);
      assert.ok(batch.bytes.subarray(8).equals(expected.body), `${label}: bytes of batch ${batch.baseOffset}`);
    }
    offset = read[read.length - 1]!.lastOffset + 1;
  }
  assert.equal(index, visible.length, `${label}: every batch was read`);
}

function expectedForTimestamp(model: Model, timestamp: number): { offset: number; timestamp: number } | null {
  for (const batch of model.batches) {
    for (const [delta, recordTimestamp] of batch.timestamps.entries()) {
      const offset = batch.baseOffset + delta;
      if (offset >= model.startOffset && recordTimestamp >= timestamp) return { offset, timestamp: recordTimestamp };
    }
  }
  return null;
}

async function lastLogFile(directory: string): Promise<{ path: string; baseOffset: number }> {
  const logs = (await readdir(directory)).filter((name) => name.endsWith('.log')).sort();
  const name = logs[logs.length - 1]!;
  return { path: join(directory, name), baseOffset: Number(name.slice(0, 20)) };
}

async function runSeed(seed: number, operations: number): Promise<void> {
  await withTempDirectory(async (directory) => {
    const random = seededRandom(seed);
    const integer = (below: number) => Math.floor(random() * below);
    const clock = new ManualClock(5_000_000);
    const options: LogOptions = logOptions({ segmentBytes: 600 + integer(1_500), indexIntervalBytes: 64 + integer(400), flush: (['always', 'never', 'interval'] as const)[integer(3)]! });
    let log = await PartitionLog.open(directory, options, clock);
    const model: Model = { batches: [], startOffset: 0 };
    for (let step = 0; step < operations; step++) {
      const label = `seed ${seed} step ${step}`;
      const choice = random();
      if (choice < 0.45) {
        const count = 1 + integer(6);
        const pending: Array<Promise<void>> = [];
        for (let index = 0; index < count; index++) {
          const records = 1 + integer(5);
          const timestamp = clock.now - 500 + integer(1_000);
          const spreadMs = integer(20);
          const batch = simpleBatch(records, { timestamp, spreadMs, valueBytes: integer(120), tag: `s${step}i${index}-` });
          const body = Buffer.from(batch.subarray(8));
          const result = log.append(batch);
          assert.equal(result.baseOffset, modelEnd(model), `${label}: assigned offset`);
          model.batches.push({ baseOffset: result.baseOffset, lastOffset: result.lastOffset, body, totalBytes: batch.length, timestamps: Array.from({ length: records }, (_, j) => timestamp + j * spreadMs) });
          pending.push(result.durable);
          clock.now += integer(50);
        }
        await Promise.all(pending);
        await log.flush(); // so every policy's high watermark covers the appends
      } else if (choice < 0.55) {
        await log.close();
        log = await PartitionLog.open(directory, options, clock);
      } else if (choice < 0.65) {
        // Crash with a damaged tail: cut the last file or add garbage, then recover.
        await log.close();
        const { path, baseOffset } = await lastLogFile(directory);
        // A crash leaves the recovery point at the active segment's base (written at open), not at
        // the log end as close() did: only then is a damaged tail a torn write that may be cut.
        await writeFile(join(directory, 'recovery-point-offset-checkpoint'), `1\n${baseOffset}\n`);
        const size = (await stat(path)).size;
        const damage = random();
        const lastBatch = model.batches[model.batches.length - 1];
        if (damage < 0.25 && lastBatch !== undefined && lastBatch.baseOffset >= baseOffset) {
          // Flip one byte of the last batch (from magic on: everything there is checked).
          const position = size - lastBatch.totalBytes + 16 + integer(lastBatch.totalBytes - 16);
          const handle = await open(path, 'r+');
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, position);
          byte[0] = byte[0]! ^ (1 + integer(255));
          await handle.write(byte, 0, 1, position);
          await handle.close();
          model.batches.pop();
        } else if (damage < 0.6) {
          const cut = integer(Math.min(size, 300) + 1);
          await truncate(path, size - cut);
          let position = 0;
          const kept: ModelBatch[] = [];
          for (const batch of model.batches) {
            if (batch.baseOffset < baseOffset) kept.push(batch);
            else if (position + batch.totalBytes <= size - cut) {
              kept.push(batch);
              position += batch.totalBytes;
            } else break;
          }
          model.batches = kept;
        } else {
          await appendFile(path, Buffer.from(Array.from({ length: 1 + integer(80) }, () => integer(256))));
        }
        log = await PartitionLog.open(directory, options, clock);
        if (model.startOffset > modelEnd(model)) {
          model.startOffset = log.logStartOffset;
          model.batches = [];
        }
      } else if (choice < 0.72) {
        const end = log.highWatermark;
        const target = model.startOffset + integer(end - model.startOffset + 1);
        assert.equal(await log.deleteRecordsBefore(asOffset(target)), Math.max(target, model.startOffset), label);
        model.startOffset = Math.max(target, model.startOffset);
      } else if (choice < 0.78) {
        log.updateOptions({ ...options, retentionBytes: integer(4_000) });
        await log.enforceRetention();
        log.updateOptions(options);
        assert.ok(log.logStartOffset >= model.startOffset, `${label}: retention never moves the start back`);
        model.startOffset = log.logStartOffset;
      } else if (choice < 0.9) {
        const end = modelEnd(model);
        const offset = model.startOffset + integer(end - model.startOffset + 1);
        const maxBytes = 1 + integer(1_500);
        const read = splitBatches((await log.read(asOffset(offset), maxBytes)).chunks);
        const bytes = read.reduce((sum, batch) => sum + batch.bytes.length, 0);
        if (offset < end) {
          assert.ok(read.length > 0, `${label}: read at ${offset}`);
          assert.ok(read[0]!.baseOffset <= offset && offset <= read[0]!.lastOffset, `${label}: first batch contains the fetch offset`);
          assert.ok(read.length === 1 || bytes <= maxBytes, `${label}: maxBytes`);
        } else {
          assert.equal(read.length, 0);
        }
        if (model.startOffset > 0) await assert.rejects(log.read(asOffset(model.startOffset - 1), 100), OffsetOutOfRangeError);
      } else {
        const timestamp = clock.now - 2_000 + integer(3_000);
        assert.deepEqual(await offsetForTimestamp(log, timestamp), expectedForTimestamp(model, timestamp), `${label}: offsetForTimestamp(${timestamp})`);
      }
      await checkEverything(log, model, label);
    }
    await log.close();
  });
}

test('randomized appends / rolls / reopen / torn tails / DeleteRecords / retention keep the model', async (t) => {
  // The bound is on the CPU time this process spends (user and system, file system calls included),
  // not on the wall clock: other test files and other work on the machine stretch the latter
  // without this test doing any more work.
  const startedMs = Date.now();
  const cpuBefore = process.cpuUsage();
  for (const seed of [1, 2, 3, 4, 5]) {
    await runSeed(seed, 110);
  }
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  t.diagnostic(`${cpuMs.toFixed(0)} ms of CPU time in ${Date.now() - startedMs} ms`);
  assert.ok(cpuMs < 20_000, `bounded run time: ${cpuMs.toFixed(0)} ms of CPU time`);
});
