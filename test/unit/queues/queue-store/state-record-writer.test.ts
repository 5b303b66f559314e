import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DispositionSnapshot } from '../../../../src/queues/queue-store/dispositions.js';
import { StateRecordWriter, type StateRecordWriterOptions } from '../../../../src/queues/queue-store/state-record-writer.js';
import { deliveredRecord, returnedRecord, settledRecord, truncatedRecord } from '../../../../src/queues/queue-store/state-records.js';
import { RecordingLogger } from './queue-store-fixtures.js';

/** The live state the writer reads, set by each test. */
class TestSource {
  settledBelow = 0;
  deliveredBelow = 0;
  snapshot(): DispositionSnapshot {
    return { settledBelow: this.settledBelow, settledRanges: [], deliveredBelow: this.deliveredBelow, returnCounts: [] };
  }
}

const snapshotBytes = 60;

/** A sink in memory: keeps what it is given, fails when told to, and reports what it was told. */
class MemoryWriter extends StateRecordWriter {
  readonly appends: Buffer[][] = [];
  readonly snapshots: DispositionSnapshot[] = [];
  readonly durableCalls: number[] = [];
  failAppends = 0;
  failSnapshots = 0;
  wantSnapshot = false;
  /** Runs while an append is under way (once), as a change arriving during the write. */
  duringAppend: (() => void) | null = null;

  constructor(
    readonly testSource: TestSource,
    options: StateRecordWriterOptions,
  ) {
    super(testSource, options, { deliveredBelow: testSource.deliveredBelow, snapshotBytes, bytesSinceSnapshot: snapshotBytes });
  }

  protected async appendRecords(records: readonly Buffer[]): Promise<number> {
    await null;
    const during = this.duringAppend;
    this.duringAppend = null;
    during?.();
    if (this.failAppends > 0) {
      this.failAppends--;
      throw new Error('disk says no');
    }
    this.appends.push([...records]);
    return records.reduce((sum, record) => sum + record.length, 0);
  }

  protected async appendSnapshot(snapshot: DispositionSnapshot): Promise<number> {
    await null;
    if (this.failSnapshots > 0) {
      this.failSnapshots--;
      throw new Error('disk says no to the snapshot');
    }
    this.snapshots.push(snapshot);
    return snapshotBytes;
  }

  protected override snapshotWanted(): boolean {
    return this.wantSnapshot;
  }

  protected durable(settledBelow: number): void {
    this.durableCalls.push(settledBelow);
  }
}

function newWriter(options: Partial<StateRecordWriterOptions> = {}): { writer: MemoryWriter; source: TestSource; logger: RecordingLogger } {
  const source = new TestSource();
  const logger = new RecordingLogger();
  return { writer: new MemoryWriter(source, { logger, ...options }), source, logger };
}

test('the changes of one event-loop turn go in one append: settles as ranges, return counts after them, a truncation in its place, the delivered mark last', async () => {
  const { writer, source } = newWriter();
  source.deliveredBelow = 8;
  source.settledBelow = 3;
  writer.recordSettled(0, 1);
  writer.recordSettled(1, 3);
  writer.recordSettled(5, 6);
  writer.recordReturned(7, 1);
  writer.recordReturned(7, 2);
  writer.recordTruncated(10);
  writer.recordSettled(10, 11);
  const flushed = writer.flush();
  assert.equal(writer.appends.length, 0, 'nothing is written within the turn');
  await flushed;
  assert.deepEqual(writer.appends, [[settledRecord(0, 3), settledRecord(5, 6), returnedRecord(7, 2), truncatedRecord(10), settledRecord(10, 11), deliveredRecord(8)]]);
  assert.deepEqual(writer.durableCalls, [3]);
  assert.equal(writer.sizeBytes, snapshotBytes + writer.appends[0]!.reduce((sum, record) => sum + record.length, 0));
  // A flush with nothing new writes nothing, and still resolves.
  await writer.flush();
  assert.equal(writer.appends.length, 1);
  await writer.close();
});

test('settles are not waited for: each turn with changes is one cycle of its own', async () => {
  const { writer } = newWriter();
  writer.recordSettled(0, 1);
  // Written without anyone waiting for it (however long a busy machine takes to run the next turn).
  for (let waitedMs = 0; writer.appends.length === 0; waitedMs++) {
    assert.ok(waitedMs < 5000, 'the first settle written within 5 s');
    await sleep(1);
  }
  writer.recordSettled(1, 2);
  await writer.flush();
  assert.deepEqual(writer.appends, [[settledRecord(0, 1)], [settledRecord(1, 2)]]);
  await writer.close();
});

test('a cursor that did not move writes no delivered mark', async () => {
  const { writer } = newWriter();
  writer.recordDeliveredMoved();
  await sleep(20);
  assert.deepEqual(writer.appends, [], 'the cursor had not moved');
  await writer.close();
});

test('a moved cursor writes the delivered mark in the next cycle, with no timer; moves during a cycle go in the one after it', async () => {
  const { writer, source } = newWriter();
  source.deliveredBelow = 3;
  writer.recordDeliveredMoved();
  // Deliveries while that cycle's append is under way: their mark waits for the cycle after it.
  writer.duringAppend = () => {
    source.deliveredBelow = 7;
    writer.recordDeliveredMoved();
  };
  // Counted in setImmediate turns, far below any timer's delay.
  for (let turns = 0; writer.appends.length < 2; turns++) {
    assert.ok(turns < 5, `the marks were not written within a few turns: ${JSON.stringify(writer.appends)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepEqual(writer.appends, [[deliveredRecord(3)], [deliveredRecord(7)]]);
  writer.recordDeliveredMoved();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writer.appends.length, 2, 'a mark already written is not written again');
  await writer.close();
});

test('a failed append rejects the flush of its cycle and keeps its records, ahead of newer ones, for the next change', async () => {
  const { writer, logger } = newWriter();
  writer.failAppends = 1;
  writer.recordSettled(0, 1);
  writer.recordTruncated(4);
  await assert.rejects(writer.flush(), /disk says no/);
  assert.ok(logger.lines.some((line) => line.level === 'error'));
  assert.deepEqual(writer.durableCalls, []);
  writer.recordSettled(2, 3);
  await writer.flush();
  assert.deepEqual(writer.appends, [[settledRecord(0, 1), truncatedRecord(4), settledRecord(2, 3)]]);
  await writer.close();
});

test('a snapshot follows once the records since the last pass compactionMinBytes and twice the snapshot, and covers what was pending', async () => {
  const { writer, source } = newWriter({ compactionMinBytes: 100 });
  for (let offset = 0; offset < 4; offset += 2) writer.recordSettled(offset, offset + 1);
  await writer.flush();
  assert.equal(writer.compactionCount, 0, `${writer.sizeBytes} bytes, past compactionMinBytes but not twice the snapshot: not yet`);
  source.settledBelow = 9;
  source.deliveredBelow = 9;
  // A settle arriving while the records are written is covered by the snapshot that follows.
  writer.duringAppend = () => writer.recordSettled(20, 21);
  for (let offset = 4; offset < 8; offset += 2) writer.recordSettled(offset, offset + 1);
  await writer.flush();
  assert.equal(writer.compactionCount, 1);
  assert.deepEqual(writer.snapshots, [source.snapshot()]);
  assert.equal(writer.sizeBytes, snapshotBytes);
  assert.deepEqual(writer.durableCalls, [0, 9, 9]);
  await writer.flush();
  assert.equal(writer.appends.length, 2, 'the settle the snapshot covered is not written again, nor the mark it holds');
  await writer.close();
});

test('compact() and the subclass ask for a snapshot; a failed one puts back the records it would have covered', async () => {
  const { writer, source, logger } = newWriter();
  source.deliveredBelow = 3;
  await writer.compact();
  assert.equal(writer.compactionCount, 1);
  assert.deepEqual(writer.appends, [[deliveredRecord(3)]], 'the cycle wrote the mark before its snapshot');

  writer.wantSnapshot = true;
  writer.recordSettled(0, 1);
  await writer.flush();
  assert.equal(writer.compactionCount, 2);
  writer.wantSnapshot = false;

  writer.failSnapshots = 1;
  source.deliveredBelow = 6;
  writer.duringAppend = () => writer.recordSettled(20, 21);
  writer.recordSettled(1, 2);
  await writer.compact();
  assert.equal(writer.compactionCount, 2);
  assert.ok(logger.lines.some((line) => line.level === 'warn'));
  await writer.flush();
  assert.deepEqual(writer.appends.slice(2), [[settledRecord(1, 2), deliveredRecord(6)], [settledRecord(20, 21)]]);
  await writer.close();
});

test('a flush asked for while a cycle is failing is not left waiting: the next cycle tries again and answers it (a close flushes so)', async () => {
  const { writer } = newWriter();
  writer.failAppends = 1;
  writer.recordSettled(0, 1);
  let lateFlush: Promise<void> | null = null;
  writer.duringAppend = () => {
    lateFlush = writer.flush();
  };
  await assert.rejects(writer.flush(), /disk says no/);
  assert.ok(lateFlush !== null);
  const outcome = await Promise.race([(lateFlush as Promise<void>).then(() => 'flushed'), sleep(1000).then(() => 'still waiting')]);
  assert.equal(outcome, 'flushed');
  assert.deepEqual(writer.appends, [[settledRecord(0, 1)]]);
  await writer.close();
});

test('close writes what is pending, then nothing more', async () => {
  const { writer } = newWriter();
  writer.recordSettled(0, 1);
  await writer.close();
  assert.deepEqual(writer.appends, [[settledRecord(0, 1)]]);
  writer.recordSettled(1, 2);
  await writer.flush();
  await sleep(5);
  assert.equal(writer.appends.length, 1);
});
