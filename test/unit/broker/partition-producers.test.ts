/**
 * Producer state across restarts (src/broker/idempotence/partition-producers.ts), on real
 * partition logs in temporary folders: the snapshot written on close, snapshot plus replay of the
 * log after a crash, full replay when the snapshot is missing, damaged or ahead of the log, expiry
 * on load with an injected clock, a snapshot after a segment roll, and the active producers listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32c } from '@node-rs/crc32';
import { join } from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { PartitionProducers, producerSnapshotFileName } from '../../../src/broker/idempotence/partition-producers.js';
import { decodeSnapshot } from '../../../src/broker/idempotence/producer-state.js';
import type { SequenceVerdict } from '../../../src/broker/idempotence/producer-state.js';
import { createLogger } from '../../../src/logging/logger.js';
import { encodeRecordBatch } from '../../helpers/raw-kafka-client.js';
import { ManualClock, logOptions, withTempDirectory } from '../storage/batch-fixtures.js';

const dayMs = 24 * 60 * 60 * 1000;
const limits = { maxProducerIds: 1000, expirationMs: dayMs };

interface Opened {
  log: PartitionLog;
  producers: PartitionProducers;
  warnings: string[];
}

async function openPartition(directory: string, clock: ManualClock, options = logOptions()): Promise<Opened> {
  const warnings: string[] = [];
  const logger = createLogger('warn', (line) => warnings.push(line));
  const log = await PartitionLog.open(directory, options, clock);
  const producers = await PartitionProducers.open(log, limits, { clock, logger });
  return { log, producers, warnings };
}

function idempotentBatch(producerId: bigint, epoch: number, baseSequence: number, count: number, timestamp: number): Buffer {
  const records = Array.from({ length: count }, (_, index) => ({ key: null, value: Buffer.from(`p${producerId}-s${baseSequence + index}`) }));
  return encodeRecordBatch(records, { producerId, producerEpoch: epoch, baseSequence, baseTimestamp: timestamp });
}

/** What the produce path does: check, append, record, in one synchronous run. */
function produce(partition: Opened, batch: Buffer): SequenceVerdict | { kind: 'appended'; baseOffset: number } {
  const verdict = partition.producers.check(batch);
  if (verdict.kind !== 'append') return verdict;
  const appended = partition.log.append(batch);
  partition.producers.recordAppend(batch, appended);
  return { kind: 'appended', baseOffset: appended.baseOffset };
}

/** Sends `batches` sequences of `size` records for each producer, interleaved; returns the batches sent. */
function produceMany(partition: Opened, clock: ManualClock, producerIds: readonly bigint[], batches: number, size = 3): Map<bigint, Buffer[]> {
  const sent = new Map<bigint, Buffer[]>();
  for (let index = 0; index < batches; index++) {
    for (const producerId of producerIds) {
      const batch = idempotentBatch(producerId, 0, index * size, size, clock.now);
      const result = produce(partition, Buffer.from(batch));
      assert.equal(result.kind, 'appended');
      sent.set(producerId, [...(sent.get(producerId) ?? []), batch]);
    }
  }
  return sent;
}

async function snapshotOffsetOf(directory: string): Promise<number> {
  const decoded = decodeSnapshot(await readFile(join(directory, producerSnapshotFileName)));
  assert.ok(typeof decoded !== 'string', String(decoded));
  return decoded.snapshotOffset;
}

test('a clean close writes a snapshot at the log end; reopening restores every producer without replay', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const first = await openPartition(directory, clock);
    const sent = produceMany(first, clock, [1n, 2n, 3n], 10);
    const endOffset = first.log.logEndOffset;
    await first.log.close();
    await first.producers.closeAfterLog();
    assert.equal(await snapshotOffsetOf(directory), endOffset);

    const second = await openPartition(directory, clock);
    assert.equal(second.producers.table.size, 3);
    for (const [producerId, batches] of sent) {
      const last = batches[batches.length - 1]!;
      const verdict = second.producers.check(Buffer.from(last));
      assert.equal(verdict.kind, 'duplicate', `producer ${producerId}`);
      if (verdict.kind === 'duplicate' && producerId === 3n) assert.equal(verdict.batch.lastOffset, endOffset - 1, 'producer 3 wrote last');
      assert.equal(second.producers.check(idempotentBatch(producerId, 0, 30, 1, clock.now)).kind, 'append');
      assert.equal(second.producers.check(idempotentBatch(producerId, 0, 31, 1, clock.now)).kind, 'refuse');
    }
    assert.deepEqual(second.warnings, []);
    await second.log.close();
  });
});

test('after a crash: the last snapshot plus a replay of the log written after it', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const first = await openPartition(directory, clock);
    produceMany(first, clock, [1n, 2n], 5);
    await first.log.flush();
    await first.producers.saveSnapshot();
    const snapshotOffset = await snapshotOffsetOf(directory);
    assert.equal(snapshotOffset, first.log.logEndOffset);
    // After the snapshot: producer 1 goes on, producer 3 appears, producer 2 bumps its epoch.
    const later: Buffer[] = [];
    for (let index = 0; index < 7; index++) later.push(idempotentBatch(1n, 0, 15 + index * 2, 2, clock.now));
    later.push(idempotentBatch(3n, 0, 0, 4, clock.now), idempotentBatch(2n, 1, 0, 1, clock.now));
    for (const batch of later) assert.equal(produce(first, Buffer.from(batch)).kind, 'appended');
    await first.log.flush(); // written and fsynced, then the process dies: no close, no snapshot
    const endOffset = first.log.logEndOffset;

    const second = await openPartition(directory, clock);
    assert.equal(second.log.logEndOffset, endOffset);
    assert.ok((await snapshotOffsetOf(directory)) >= snapshotOffset);
    // Producer 1's last five batches, all after the snapshot, are known duplicates; the sixth-last is not.
    for (const batch of later.slice(2, 7)) assert.equal(second.producers.check(Buffer.from(batch)).kind, 'duplicate');
    assert.equal(second.producers.check(Buffer.from(later[1]!)).kind, 'refuse');
    assert.equal(second.producers.check(Buffer.from(later[7]!)).kind, 'duplicate');
    const fenced = second.producers.check(idempotentBatch(2n, 0, 15, 1, clock.now));
    assert.equal(fenced.kind === 'refuse' && fenced.errorCode, 47);
    assert.equal(second.producers.check(idempotentBatch(2n, 1, 1, 1, clock.now)).kind, 'append');
    await second.log.close();
  });
});

test('without a snapshot, or with a damaged one, or one ahead of the recovered log, the whole log is replayed', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const first = await openPartition(directory, clock);
    const sent = produceMany(first, clock, [5n], 4);
    await first.log.close();
    await first.producers.closeAfterLog();
    const snapshotPath = join(directory, producerSnapshotFileName);
    const goodSnapshot = await readFile(snapshotPath);
    const lastBatch = sent.get(5n)![3]!;

    const cases: Array<{ name: string; prepare: () => Promise<void>; warning: RegExp | null }> = [
      { name: 'missing', prepare: () => rm(snapshotPath), warning: null },
      { name: 'damaged', prepare: () => writeFile(snapshotPath, Buffer.concat([goodSnapshot.subarray(0, goodSnapshot.length - 1), Buffer.from([goodSnapshot[goodSnapshot.length - 1]! ^ 0xff])])), warning: /CRC/ },
      {
        name: 'ahead of the log',
        prepare: async () => {
          const ahead = Buffer.from(goodSnapshot);
          ahead.writeBigInt64BE(1_000_000n, 6);
          ahead.writeUInt32BE(crc32c(ahead.subarray(6)), 2);
          await writeFile(snapshotPath, ahead);
        },
        warning: /ahead of the recovered log/,
      },
    ];
    for (const { name, prepare, warning } of cases) {
      await prepare();
      const opened = await openPartition(directory, clock);
      assert.equal(opened.producers.check(Buffer.from(lastBatch)).kind, 'duplicate', name);
      assert.equal(opened.producers.check(idempotentBatch(5n, 0, 12, 1, clock.now)).kind, 'append', name);
      if (warning === null) assert.deepEqual(opened.warnings, [], name);
      else assert.ok(opened.warnings.some((line) => warning.test(line)), `${name}: ${opened.warnings.join('')}`);
      await opened.log.close();
      await opened.producers.closeAfterLog();
      assert.equal(await snapshotOffsetOf(directory), opened.log.logEndOffset, `${name}: a good snapshot is written again`);
    }
  });
});

test('expiry: producers idle longer than the expiration are not restored, on load or by expire()', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const first = await openPartition(directory, clock);
    produceMany(first, clock, [1n], 2);
    clock.now += dayMs / 2;
    produceMany(first, clock, [2n], 2);
    await first.log.close();
    await first.producers.closeAfterLog();

    clock.now += dayMs / 2; // producer 1 idle for a whole day, producer 2 for half
    const second = await openPartition(directory, clock);
    assert.deepEqual([...second.producers.table.entries()].map((entry) => entry.producerId), [2n]);
    clock.now += dayMs / 2;
    assert.equal(second.producers.expire(), 1);
    assert.equal(second.producers.table.size, 0);
    await second.log.close();
  });
});

test('a segment roll writes a snapshot; saveIfChanged writes only when something changed', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const partition = await openPartition(directory, clock, logOptions({ segmentBytes: 600 }));
    const snapshotPath = join(directory, producerSnapshotFileName);
    await partition.producers.saveIfChanged();
    const initial = await snapshotOffsetOf(directory);
    assert.equal(initial, 0);
    let sequence = 0;
    while (partition.log.segmentCount === 1) {
      produce(partition, idempotentBatch(1n, 0, sequence, 2, clock.now));
      sequence += 2;
    }
    await partition.log.flush();
    await partition.producers.saveIfChanged(); // waits behind the snapshot the roll started
    assert.ok(await snapshotOffsetOf(directory) > 0);
    const before = await readFile(snapshotPath);
    await partition.producers.saveIfChanged();
    assert.deepEqual(await readFile(snapshotPath), before);
    assert.ok(existsSync(snapshotPath));
    await partition.log.close();
  });
});

test('batches without a producer id pass through and leave no state', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const partition = await openPartition(directory, clock);
    const plain = encodeRecordBatch([{ key: null, value: Buffer.from('x') }]);
    assert.equal(produce(partition, Buffer.from(plain)).kind, 'appended');
    assert.equal(produce(partition, Buffer.from(plain)).kind, 'appended');
    assert.equal(partition.producers.table.size, 0);
    await partition.log.close();
  });
});

test('a retry that arrives before the original is fsynced is answered only once the original is durable', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    let releaseSyncs: (() => void) | null = null;
    let holdSyncs = false;
    const syncFile = async (handle: FileHandle) => {
      if (holdSyncs) await new Promise<void>((resolve) => (releaseSyncs = resolve));
      await handle.datasync();
    };
    const log = await PartitionLog.open(directory, logOptions(), clock, { syncFile });
    const producers = await PartitionProducers.open(log, limits, { clock, logger: createLogger('error', () => undefined) });
    await producers.saveIfChanged();
    holdSyncs = true;
    const original = idempotentBatch(8n, 0, 0, 3, clock.now);
    const appended = log.append(Buffer.from(original));
    producers.recordAppend(original, appended);
    const verdict = producers.check(Buffer.from(original));
    assert.equal(verdict.kind, 'duplicate');
    if (verdict.kind !== 'duplicate') return;
    let answered = false;
    const waiting = producers.waitUntilDurable(verdict.batch).then(() => (answered = true));
    for (let turn = 0; turn < 20 && releaseSyncs === null; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, false, 'not answered while the original is not fsynced');
    holdSyncs = false;
    (releaseSyncs as (() => void) | null)?.();
    await waiting;
    await appended.durable;
    assert.equal(answered, true);
    await log.close();
  });
});

test('activeProducers (DescribeProducers): each producer once, least recently active first, with its epoch, last sequence and last append time', async () => {
  await withTempDirectory(async (directory) => {
    const clock = new ManualClock();
    const partition = await openPartition(directory, clock);
    assert.deepEqual(partition.producers.activeProducers(), []);
    const firstMs = clock.now;
    produceMany(partition, clock, [7n, 8n], 2); // sequences 0-2 and 3-5 for each
    clock.now += 1000;
    assert.equal(produce(partition, idempotentBatch(7n, 1, 0, 4, clock.now)).kind, 'appended'); // a new epoch starts again at sequence 0
    assert.deepEqual(partition.producers.activeProducers(), [
      { producerId: 8n, epoch: 0, lastSequence: 5, lastTimestampMs: firstMs },
      { producerId: 7n, epoch: 1, lastSequence: 3, lastTimestampMs: firstMs + 1000 },
    ]);
    await partition.log.close();
    await partition.producers.closeAfterLog();
  });
});
