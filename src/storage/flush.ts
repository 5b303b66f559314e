import { strict as assert } from 'node:assert';
import { readBaseOffset, readLastOffset } from '../protocol/kafka/batch-header.js';
import { LogWriteError } from './errors.js';
import { syncDirectory } from './segment.js';
import type { Segment, SegmentTail, SyncFile } from './segment.js';

/**
 * When appends are fsynced, a storage policy (config/broker-config.ts takes it from here):
 * always = before the append's `durable` resolves (one fsync per cycle), interval = every
 * flushIntervalMs, never = left to the operating system.
 */
export type FlushPolicy = 'always' | 'interval' | 'never';

/**
 * Group commit for one partition log.
 *
 *   append ─┐  append ─┐  append ─┐            (same event-loop turn)
 *           ▼          ▼          ▼
 *   queued runs: [ segment 7: b1 b2 b3 ]  ──setImmediate──►  cycle:
 *                                                             1. writev each run at its position
 *                                                             2. fdatasync the written segments
 *                                                                (policy always, or a sync request)
 *                                                                and the sealed (rolled) ones
 *                                                             3. finish sealed segments: write +
 *                                                                fsync indexes, advance the recovery
 *                                                                checkpoint
 *                                                             4. resolve the cycle's promises
 *   appends made while a cycle is in flight queue up for the next cycle, which starts as soon as
 *   the current one ends. One promise per cycle: every append of a cycle shares it.
 *
 * With a journal (journal.ts; policy always), a cycle hands its batches to the journal instead of
 * steps 1 and 2: the journal's one fdatasync for all logs makes them durable, and their segment
 * write follows later ("write-behind", write-behind.ts):
 *
 *   cycle 1: journal ◄─ b1 b2        unwritten: [ b1 b2 ]
 *   cycle 2: journal ◄─ b3           unwritten: [ b1 b2 | b3 ]
 *   cycle 3: journal ◄─ b4   acknowledged;  then in the background: writev b1 b2 b3 b4 at their
 *                                            positions (one call; write-outs queued one at a time)
 *
 * The unwritten batches are kept in memory, where reads find them (readUnwritten), until they are
 * written out: once they reach the journal's per-log size, when the write-behind budget asks (too
 * many bytes or too old, broker-wide), when a segment is sealed, and on flush() and close. Appends
 * never wait for a write-out, except a cycle retrying a failed one and a seal or flush. So the
 * `durable` mark runs ahead of `written` here. The segment files stay unsynced (`dirty`) until a
 * flush(), a seal, or the journal reclaiming its space asks for it. A third mark follows that:
 * `segmentSynced`, below which the segment files themselves are fsynced; only it moves the recovery
 * point, since recovery trusts the segments below the recovery point and the journal holds
 * everything above it. A failed write-out loses nothing (the journal holds the batches): the
 * batches stay unwritten and every later cycle tries again first; while that fails the cycle's new
 * appends are refused (rolled back to `durable`), so memory stays bounded. A failed fsync of the
 * segments fails the log (see `failure`): after it the page cache cannot be trusted, and only a
 * restart (recovery, then the journal's replay) can tell what the files hold.
 *
 * Two marks follow the log's prefix that is safe: `written` (handed to the OS by a cycle that
 * completed) and `durable` (fsynced). When step 1 or 2 fails (ENOSPC, EIO):
 *
 *   - every append of the cycle, and every append queued after it (their offsets follow the failed
 *     ones), is rejected with LogWriteError; none was acknowledged;
 *   - the log is rolled back, at once and before any new append can take an offset, to
 *       `written` when a write failed: what earlier cycles wrote is intact, and under every policy
 *                  it is exactly what was acknowledged;
 *       `durable` when an fsync failed: after a failed fsync the state of the page cache is unknown
 *                  (Linux may have dropped the dirty pages and marked them clean, so a later fsync
 *                  "succeeds" without writing them). We trust only what an earlier fsync made
 *                  durable and re-write nothing. Under flush=always that is exactly what was
 *                  acknowledged; under interval/never it also drops the acknowledged but unsynced
 *                  tail, as a crash would: the risk those policies take, now reported (ERROR);
 *   - the files are cut back (ftruncate + fdatasync, later segments deleted), so the failed bytes
 *     can neither be read nor come back after a crash, and the offsets are handed out again: no hole,
 *     no duplicate. New appends are taken meanwhile and written after the cut.
 * Only if the cut itself fails is the log failed for good (`failure`): every append is then
 * refused until the broker restarts and recovery validates the files.
 * Index and checkpoint files (step 3) only speed recovery up: a failure there is reported and
 * retried in the next cycle, and never fails an append.
 *
 * Policies:
 *   always    every cycle fsyncs; `durable` resolves after the fsync; readers see fsynced data only.
 *   interval  cycles only write; a timer asks for an fsync every flushIntervalMs.
 *   never     cycles only write; fsync happens on roll, flush() and close().
 * Whatever the policy, rolled segments are fsynced when sealed and flush() fsyncs everything.
 */

/** The end of a prefix of the log: the segment it ends in and that segment's accounting there. */
export interface LogMark {
  readonly segment: Segment;
  readonly tail: SegmentTail;
}

interface PendingRun {
  segment: Segment;
  position: number;
  buffers: Buffer[];
  byteCount: number;
}

/** Batches of one cycle, durable in the journal and not written to the segments yet (write-behind). */
interface UnwrittenCycle {
  readonly runs: PendingRun[];
  /** The log's mark after these batches: `written` once they are. */
  readonly end: LogMark;
  readonly byteCount: number;
}

/** A promise with its resolve and reject, for a cycle that many appends share (flush.ts, journal.ts). */
export interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export function createDeferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  promise.catch(() => {}); // a caller ignoring `durable` (acks=0) must not crash the process
  return { promise, resolve, reject };
}

/** What the log must do after a failed cycle: its in-memory state is already back at the mark. */
export interface RollbackPlan {
  /** The segment that is active from now on, to be cut at `position`. */
  readonly active: Segment;
  readonly position: number;
  /** Later segments, taken out of the log; their files are deleted. */
  readonly removed: readonly Segment[];
}

export interface WriteFailure {
  readonly error: Error;
  /** 1 for the first failed cycle, counting up while cycles keep failing. */
  readonly failedCycles: number;
  readonly operation: 'write' | 'fsync';
  /** Log end offset before the rollback, and after it. */
  readonly abandonedEndOffset: number;
  readonly rolledBackToOffset: number;
  /** Of the offsets cut away, those below this were acknowledged (interval/never, after a failed fsync). */
  readonly acknowledgedEndOffset: number;
}

export interface FlusherEnvironment {
  syncFile: SyncFile;
  /** The active segment, whose indexes a flush persists. */
  activeSegment(): Segment;
  /** Persists the recovery point (atomically). */
  writeRecoveryPoint(offset: number): Promise<void>;
  /** Called once a cycle has moved the written or durable end. */
  onProgress(): void;
  /**
   * A write or fsync failed: forget everything after `mark`, synchronously (no append may come in
   * between), and say which files to cut.
   */
  rollBack(mark: LogMark, failure: WriteFailure): RollbackPlan;
  /** The rollback's files could not be cut: the log is failed until it is reopened. */
  onRollbackFailed(error: Error): void;
  /** Writing index or checkpoint files failed (retried in the next cycle); null once they succeed again. */
  onMaintenanceProblem(error: Error | null): void;
  /** Journal mode: writing batches the journal holds to the segments failed (retried); null once it succeeds again. */
  onWriteOutProblem(error: Error | null): void;
  /** A cycle wrote data again after `failedCycles` cycles in a row had failed. */
  onWritesResumed(failedCycles: number): void;
}

/** The journal as one log's flusher sees it (journal.ts and write-behind.ts, through PartitionLog). */
export interface FlusherJournal {
  /** Queues the cycle's batches; resolves when they are durable in the journal. */
  append(buffers: readonly Buffer[], byteCount: number, baseOffset: number, endOffset: number): Promise<void>;
  /** Unwritten bytes at which the log writes them out by itself. */
  readonly writeBehindBytes: number;
  /** The log now holds `byteCount` bytes durable in the journal and not yet written to its segments. */
  unwrittenChanged(byteCount: number): void;
  /** Starts `startCycle` in the next check phase with every other log's cycle, then the journal's commit at once. */
  scheduleCycle(startCycle: () => void): void;
}

export class Flusher {
  private policy: FlushPolicy;
  private intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private runs: PendingRun[] = [];
  /** Journal replay: batches durable in the journal, accounted for in the segments, until adoptReplayed(). */
  private replayed: PendingRun[] = [];
  private seals: Segment[] = [];
  private deferred: Deferred | null = null;
  private syncRequested = false;
  private checkpointRequested = false;
  private scheduled = false;
  private running = false;
  private maintenanceFailing = false;
  /** Cycles in a row whose write or fsync failed (reported once, then when writes resume). */
  private failedCycles = 0;
  private readonly dirty = new Set<Segment>();
  private recoveryPoint: number;
  private written: LogMark;
  private durable: LogMark;
  /** Below it the segment files are fsynced (the durable mark, unless a journal made data durable first). */
  private segmentSynced: number;
  /** Set once the log writes to the journal (after its replay); null: every cycle fsyncs the segments itself. */
  journal: FlusherJournal | null = null;
  /** Journal mode: cycles whose batches are durable in the journal but not yet written to the segments, oldest first. */
  private unwritten: UnwrittenCycle[] = [];
  private unwrittenBytes = 0;
  /**
   * Journal mode: the last write-out queued (queueWriteOut). Write-outs run one after another, never
   * two at once, and beside the cycles: a cycle's appends are acknowledged by the journal and never
   * wait for one, except to retry a failed write-out and before a seal or a flush.
   */
  private writeOutTail: Promise<Error | null> = Promise.resolve(null);
  /** A background write-out is queued and has not started yet (it will take what is unwritten then). */
  private backgroundWriteOutQueued = false;
  /** stop() was called: the write-behind budget no longer hears from this log. */
  private stopped = false;
  /** Journal mode: the last write-out failed (the batches are kept and retried first by every cycle). */
  private writeOutFailure: Error | null = null;
  /** Set when a rollback could not cut the files, or (journal mode) an fsync of the segments failed: the log takes nothing more. */
  failure: Error | null = null;
  /** Cycles that fsynced data (observability and tests). */
  syncCycles = 0;

  constructor(
    policy: FlushPolicy,
    intervalMs: number,
    recoveryPoint: number,
    private readonly environment: FlusherEnvironment,
  ) {
    this.policy = policy;
    this.intervalMs = intervalMs;
    const active = environment.activeSegment();
    this.written = { segment: active, tail: active.captureTail() };
    this.durable = this.written;
    this.segmentSynced = this.written.tail.nextOffset;
    this.recoveryPoint = recoveryPoint;
    this.startTimer();
  }

  /** End of the data handed to the OS by completed cycles, and of the data fsynced. */
  get writtenEndOffset(): number {
    return this.written.tail.nextOffset;
  }

  get durableEndOffset(): number {
    return this.durable.tail.nextOffset;
  }

  /** Bytes durable in the journal and not yet written to the segment files (journal mode). */
  get unwrittenByteCount(): number {
    return this.unwrittenBytes;
  }

  /** Every offset below it is fsynced in the segment files themselves. */
  get segmentSyncedEndOffset(): number {
    return this.segmentSynced;
  }

  /** End of what readers may see: fsynced data under `always`, written data otherwise. */
  get servableEndOffset(): number {
    return this.policy === 'always' ? this.durableEndOffset : this.writtenEndOffset;
  }

  /** End of what is in the segment files or unwritten in memory: reads never go past it. */
  get readableEndOffset(): number {
    return Math.max(this.writtenEndOffset, this.durableEndOffset);
  }

  /**
   * Adds to `into` the batches held unwritten (journal mode) from the one containing fetchOffset,
   * each below limitOffset, while `into` stays within maxBytes, except that a first batch is always
   * taken whole (KIP-74).
   */
  readUnwritten(fetchOffset: number, maxBytes: number, limitOffset: number, into: { chunks: Buffer[]; byteCount: number }): void {
    for (const cycle of this.unwritten) {
      for (const run of cycle.runs) {
        for (const batch of run.buffers) {
          const lastOffset = readLastOffset(batch, 0);
          if (lastOffset < fetchOffset) continue;
          if (lastOffset >= limitOffset || (into.chunks.length > 0 && into.byteCount + batch.length > maxBytes)) return;
          into.chunks.push(batch);
          into.byteCount += batch.length;
        }
      }
    }
  }

  /** Journal mode: writes every unwritten batch to the segments (resolves after, whatever the outcome). */
  writeOut(): Promise<void> {
    if (this.unwritten.length === 0) return Promise.resolve();
    return this.queueWriteOut().then(() => undefined);
  }

  /** Resolves once no write-out is under way (close waits for it before closing the files). */
  async writeOutsSettled(): Promise<void> {
    await this.writeOutTail;
  }

  get flushPolicy(): FlushPolicy {
    return this.policy;
  }

  setPolicy(policy: FlushPolicy, intervalMs: number): void {
    if (policy === this.policy && intervalMs === this.intervalMs) return;
    this.policy = policy;
    this.intervalMs = intervalMs;
    this.stopTimer();
    this.startTimer();
  }

  /**
   * Queues `batch`, just accounted for at the end of `segment` at `position`, for writing;
   * resolves per the policy, rejects with the cause when the cycle fails.
   */
  enqueue(segment: Segment, batch: Buffer, position: number): Promise<void> {
    addToRuns(this.runs, segment, batch, position);
    return this.nextCycle();
  }

  /**
   * Replay of the journal (journal mode): `batch`, just accounted for like an append, is durable in
   * the journal already. It waits, unwritten, for adoptReplayed().
   */
  enqueueReplayed(segment: Segment, batch: Buffer, position: number): void {
    addToRuns(this.replayed, segment, batch, position);
  }

  /**
   * The batches of enqueueReplayed are durable (the journal files found at start hold them, and are
   * kept until the segments are fsynced past them) and wait to be written out like any other: a
   * log opens without writing, even on a full disk.
   */
  adoptReplayed(): void {
    const runs = this.replayed;
    const last = runs[runs.length - 1];
    if (last === undefined) return;
    this.replayed = [];
    let byteCount = 0;
    for (const run of runs) byteCount += run.byteCount;
    const end = { segment: last.segment, tail: last.segment.captureTail() };
    this.unwritten.push({ runs, end, byteCount });
    this.unwrittenBytes += byteCount;
    this.durable = end;
    this.journal?.unwrittenChanged(this.unwrittenBytes);
  }

  /** A segment stopped being active: fsync it and persist its indexes in the next cycle. */
  seal(segment: Segment): void {
    this.seals.push(segment);
    void this.nextCycle();
  }

  /** No append is queued or held unwritten (so right after a flush, before any append). */
  get isIdle(): boolean {
    return this.runs.length === 0 && this.unwritten.length === 0;
  }

  /**
   * The log was cut back to `mark` (PartitionLog.truncateTo) right after a flush, so nothing is
   * queued or unwritten: every mark moves back to it, `removed` segments are forgotten, and the next
   * checkpoint writes the recovery point again (it may lie past the new end until then).
   */
  truncatedTo(mark: LogMark, removed: readonly Segment[]): void {
    assert(this.runs.length === 0 && this.unwritten.length === 0, 'a truncation follows a flush');
    this.written = mark;
    this.durable = mark;
    this.segmentSynced = mark.tail.nextOffset;
    this.recoveryPoint = -1;
    for (const segment of removed) this.dirty.delete(segment);
    this.seals = this.seals.filter((segment) => !removed.includes(segment) && segment !== mark.segment);
  }

  /** Writes and fsyncs everything queued so far, persists the active indexes and the recovery point. */
  async flush(): Promise<void> {
    this.syncRequested = true;
    this.checkpointRequested = true;
    await this.nextCycle();
    // Journal mode: the cycle's appends succeed through the journal even when the segments fail.
    if (this.failure !== null) throw this.failure;
    if (this.writeOutFailure !== null) throw this.writeOutFailure;
  }

  /** Resolves after a cycle that started after this call (everything queued before is written). */
  drain(): Promise<void> {
    return this.nextCycle();
  }

  stop(): void {
    this.stopTimer();
    this.stopped = true;
    if (this.unwrittenBytes > 0) this.journal?.unwrittenChanged(0); // closed: the budget stops counting it
  }

  private nextCycle(): Promise<void> {
    if (this.deferred === null) this.deferred = createDeferred();
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      if (this.journal !== null) this.journal.scheduleCycle(() => void this.runCycles());
      else setImmediate(() => void this.runCycles());
    }
    return this.deferred.promise;
  }

  private async runCycles(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.deferred !== null) await this.cycle();
    } finally {
      this.running = false;
    }
  }

  private async cycle(): Promise<void> {
    const runs = this.runs;
    // Appends account for a batch and enqueue it in one synchronous step, so the last run's segment
    // now ends exactly after the runs taken: one snapshot per cycle, not one per batch.
    const lastRun = runs[runs.length - 1];
    const runsEnd: LogMark | null = lastRun === undefined ? null : { segment: lastRun.segment, tail: lastRun.segment.captureTail() };
    const seals = this.seals;
    const deferred = this.deferred!;
    const flushRequested = this.syncRequested;
    const sync = flushRequested || this.policy === 'always';
    const journal = this.policy === 'always' ? this.journal : null;
    const checkpoint = this.checkpointRequested;
    this.runs = [];
    this.seals = [];
    this.deferred = null;
    this.syncRequested = false;
    this.checkpointRequested = false;
    if (this.failure !== null) {
      deferred.reject(this.failure);
      return;
    }
    const acknowledgedEndOffset = this.policy === 'always' ? this.durableEndOffset : this.writtenEndOffset;
    let failed: CycleFailure | null;
    if (journal !== null) {
      failed = await this.journalCycle(runs, runsEnd, seals, flushRequested, journal);
    } else {
      // The policy left `always`: what the journal made durable and was not written yet goes first.
      let error: Error | null = null;
      if (this.unwritten.length > 0) error = await this.queueWriteOut();
      failed = error !== null ? { error, operation: 'write' } : await this.writeAndSync(runs, runsEnd, seals, sync);
    }
    if (failed !== null) {
      const failure = { ...failed, acknowledgedEndOffset, abandonedEndOffset: this.environment.activeSegment().nextOffset };
      await this.rollBack(failure, deferred, seals);
    } else {
      if (runs.length > 0 && this.failedCycles > 0) {
        this.environment.onWritesResumed(this.failedCycles);
        this.failedCycles = 0;
      }
      // Appends resolve after step 3, so a rolled segment is sealed once they are; step 3 never fails them.
      await this.maintain(this.failure === null && this.writeOutFailure === null ? seals : [], checkpoint);
      deferred.resolve();
    }
    this.environment.onProgress();
  }

  /**
   * A cycle with the journal (see the file comment): the new batches go to the journal, beside a
   * write-out of earlier ones when one is due; null when the new batches are durable, else what
   * failed for them. Seals and flushes write everything out and fsync the segments after the commit.
   */
  private async journalCycle(runs: PendingRun[], runsEnd: LogMark | null, seals: Segment[], flushRequested: boolean, journal: FlusherJournal): Promise<CycleFailure | null> {
    try {
      // Written under another policy and never fsynced: the journal only holds what comes from now on.
      if (this.durableEndOffset < this.writtenEndOffset) await this.syncDirty();
    } catch (error) {
      return { error: asError(error), operation: 'fsync' };
    }
    // While write-outs fail, new batches would only pile up in memory: refused until one succeeds.
    if (this.writeOutFailure !== null && runs.length > 0) {
      const error = await this.queueWriteOut();
      if (error !== null) return { error, operation: 'write' };
    }
    if (runsEnd !== null) {
      let runsBytes = 0;
      for (const run of runs) runsBytes += run.byteCount;
      try {
        await appendToJournal(journal, runs, runsEnd);
      } catch (error) {
        journal.unwrittenChanged(this.unwrittenBytes);
        return { error: asError(error), operation: 'fsync' };
      }
      this.durable = runsEnd;
      this.unwritten.push({ runs, end: runsEnd, byteCount: runsBytes });
      this.unwrittenBytes += runsBytes;
    }
    if (seals.length > 0 || flushRequested) {
      // A sealed segment, and a flush, need every batch in the files and fsynced.
      const error = await this.queueWriteOut();
      if (error === null) {
        try {
          if (flushRequested) await this.syncDirty();
          for (const segment of seals) await this.syncSealed(segment);
        } catch (syncError) {
          this.failSegments(asError(syncError));
        }
      }
      if (error !== null || this.failure !== null) this.seals = [...seals, ...this.seals];
    } else if (this.unwrittenBytes >= journal.writeBehindBytes) {
      this.writeOutInBackground();
    }
    journal.unwrittenChanged(this.unwrittenBytes);
    return null;
  }

  /**
   * Queues a write-out after the ones queued before it (they never overlap: each takes the cycles
   * unwritten when it starts and removes them when done); resolves with its outcome, never rejects.
   * `beforeStart` runs just as it starts.
   */
  private queueWriteOut(beforeStart: (() => void) | null = null): Promise<Error | null> {
    const run = this.writeOutTail.then(() => {
      beforeStart?.();
      return this.writeOutUnwritten();
    });
    this.writeOutTail = run;
    void run.then(() => this.reportUnwritten());
    return run;
  }

  /** A write-out the cycle does not wait for; none is queued while one is waiting to start (it takes these batches too). */
  private writeOutInBackground(): void {
    if (this.backgroundWriteOutQueued) return;
    this.backgroundWriteOutQueued = true;
    void this.queueWriteOut(() => {
      this.backgroundWriteOutQueued = false;
    });
  }

  /** Tells the write-behind budget what the log holds unwritten now (not after stop()). */
  private reportUnwritten(): void {
    if (!this.stopped) this.journal?.unwrittenChanged(this.unwrittenBytes);
  }

  /**
   * Writes every unwritten cycle to the segments, contiguous runs merged into one writev each; null
   * when done (or nothing was unwritten), else the error (the batches stay unwritten,
   * `writeOutFailure` says so). Cycles committed while it runs are left for the next write-out.
   */
  private async writeOutUnwritten(): Promise<Error | null> {
    const count = this.unwritten.length;
    if (count === 0) return null;
    const cycles = this.unwritten.slice(0, count);
    const merged: PendingRun[] = [];
    for (const cycle of cycles) {
      for (const run of cycle.runs) {
        let position = run.position;
        for (const buffer of run.buffers) {
          addToRuns(merged, run.segment, buffer, position);
          position += buffer.length;
        }
      }
    }
    try {
      for (const run of merged) {
        await run.segment.write(run.buffers, run.position);
        this.dirty.add(run.segment);
      }
    } catch (error) {
      if (this.writeOutFailure === null) this.environment.onWriteOutProblem(asError(error));
      this.writeOutFailure = asError(error);
      return this.writeOutFailure;
    }
    // The cycles taken are still the first ones: only write-outs remove cycles, one at a time.
    this.unwritten.splice(0, count);
    for (const cycle of cycles) this.unwrittenBytes -= cycle.byteCount;
    this.written = cycles[cycles.length - 1]!.end;
    if (this.writeOutFailure !== null) this.environment.onWriteOutProblem(null);
    this.writeOutFailure = null;
    return null;
  }

  /** Journal mode: an fsync of the segments failed; what they hold is unknown until recovery (see the file comment). */
  private failSegments(error: Error): void {
    this.failure ??= error;
    this.environment.onRollbackFailed(error);
  }

  /** Steps 1 and 2, then the fsync of rolled segments; null when they succeeded, else what failed. */
  private async writeAndSync(runs: PendingRun[], runsEnd: LogMark | null, seals: Segment[], sync: boolean): Promise<CycleFailure | null> {
    try {
      await this.writeRuns(runs, runsEnd);
    } catch (error) {
      return { error: asError(error), operation: 'write' };
    }
    try {
      if (sync) await this.syncDirty();
      for (const segment of seals) await this.syncSealed(segment);
    } catch (error) {
      return { error: asError(error), operation: 'fsync' };
    }
    return null;
  }

  private async writeRuns(runs: PendingRun[], runsEnd: LogMark | null): Promise<void> {
    for (const run of runs) {
      await run.segment.write(run.buffers, run.position);
      this.dirty.add(run.segment);
    }
    // Only once every run is written: readers never see a batch whose cycle may still fail.
    if (runsEnd !== null) this.written = runsEnd;
  }

  private async syncDirty(): Promise<void> {
    const written = this.written;
    if (this.dirty.size > 0) this.syncCycles++;
    for (const segment of this.dirty) await segment.sync(this.environment.syncFile);
    this.dirty.clear();
    if (written.tail.nextOffset > this.durableEndOffset) this.durable = written;
    this.segmentSynced = written.tail.nextOffset;
  }

  /** A rolled segment is complete: make its data durable (whatever the policy). */
  private async syncSealed(segment: Segment): Promise<void> {
    if (this.dirty.delete(segment)) await segment.sync(this.environment.syncFile);
    // Every earlier segment was sealed before it, so the log is durable up to its end.
    if (segment.nextOffset > this.durableEndOffset) this.durable = { segment, tail: segment.captureTail() };
    if (segment.nextOffset > this.segmentSynced) this.segmentSynced = segment.nextOffset;
  }

  /**
   * A write or fsync failed: reject every append not yet acknowledged, roll the log back to the
   * mark (see the file comment) and cut the files there.
   */
  private async rollBack(
    failed: Omit<WriteFailure, 'rolledBackToOffset' | 'failedCycles'>,
    cycleDeferred: Deferred,
    cycleSeals: Segment[],
  ): Promise<void> {
    // Appends queued while the cycle ran took offsets after the failed ones: they fail with it.
    const rejected = [cycleDeferred, this.deferred];
    this.runs = [];
    this.deferred = null;
    this.syncRequested = false;
    this.checkpointRequested = false;
    this.failedCycles++;
    // After a failed write, what earlier cycles wrote is intact, and so is what the journal made
    // durable without writing it (journal mode: `durable` runs ahead of `written`): the later mark.
    const mark = failed.operation === 'write' && this.writtenEndOffset >= this.durableEndOffset ? this.written : this.durable;
    let plan: RollbackPlan;
    try {
      plan = this.environment.rollBack(mark, { ...failed, failedCycles: this.failedCycles, rolledBackToOffset: mark.tail.nextOffset });
    } catch (rollbackError) {
      // Our own invariant broke: refuse everything rather than guess; recovery sorts it out on restart.
      this.failure = asError(rollbackError);
      this.environment.onRollbackFailed(this.failure);
      for (const deferred of rejected) deferred?.reject(this.failure);
      return;
    }
    if (mark.tail.nextOffset < this.writtenEndOffset) this.written = mark;
    for (const segment of plan.removed) this.dirty.delete(segment);
    // Seals of segments before the new active one still have to happen; later ones are gone.
    this.seals = [...cycleSeals, ...this.seals].filter((segment) => segment.baseOffset < plan.active.baseOffset);
    const cause = new LogWriteError(plan.active.directory, failed.error);
    for (const deferred of rejected) deferred?.reject(cause);
    try {
      // A write-out under way writes batches before the mark: the cut comes after it, never between
      // its write and its accounting (the cut reads how much the file holds).
      await this.writeOutTail;
      // Never past what the file holds (unwritten batches before the mark are written out later).
      await plan.active.truncateFile(Math.min(plan.position, plan.active.writtenBytes), this.environment.syncFile);
      for (const segment of plan.removed) await segment.deleteFiles();
      if (plan.removed.length > 0) await syncDirectory(plan.active.directory, this.environment.syncFile);
    } catch (cutError) {
      this.failure = asError(cutError);
      this.environment.onRollbackFailed(this.failure);
    }
  }

  /** Step 3: index and checkpoint files. A failure is reported and retried in the next cycle. */
  private async maintain(seals: Segment[], checkpoint: boolean): Promise<void> {
    if (seals.length === 0 && !checkpoint) return;
    let index = 0;
    try {
      for (; index < seals.length; index++) await this.finishSealed(seals[index]!);
      if (checkpoint) await this.persistActive();
      if (this.maintenanceFailing) this.environment.onMaintenanceProblem(null);
      this.maintenanceFailing = false;
    } catch (error) {
      this.seals = [...seals.slice(index), ...this.seals];
      if (!this.maintenanceFailing) this.environment.onMaintenanceProblem(asError(error));
      this.maintenanceFailing = true;
    }
  }

  /** Its data is durable already (syncSealed): indexes, then the recovery point. */
  private async finishSealed(segment: Segment): Promise<void> {
    segment.finishTimeIndex();
    await segment.persistIndexes(this.environment.syncFile);
    segment.sealed = true;
    if (segment.nextOffset > this.recoveryPoint) {
      this.recoveryPoint = segment.nextOffset;
      await this.environment.writeRecoveryPoint(this.recoveryPoint);
    }
  }

  private async persistActive(): Promise<void> {
    const active = this.environment.activeSegment();
    active.finishTimeIndex();
    await active.persistIndexes(this.environment.syncFile);
    if (this.segmentSynced > this.recoveryPoint) {
      this.recoveryPoint = this.segmentSynced;
      await this.environment.writeRecoveryPoint(this.recoveryPoint);
    }
  }

  private startTimer(): void {
    if (this.policy !== 'interval') return;
    this.timer = setInterval(() => {
      if (this.dirty.size === 0 && this.runs.length === 0) return;
      this.syncRequested = true;
      void this.nextCycle();
    }, Math.max(1, this.intervalMs));
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

type CycleFailure = { error: Error; operation: 'write' | 'fsync' };

/** Adds `batch`, at `position` of `segment`, to the last run when it follows on from it, else as a new run. */
function addToRuns(runs: PendingRun[], segment: Segment, batch: Buffer, position: number): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last.segment === segment && last.position + last.byteCount === position) {
    last.buffers.push(batch);
    last.byteCount += batch.length;
  } else {
    runs.push({ segment, position, buffers: [batch], byteCount: batch.length });
  }
}

/** Hands the cycle's batches (whole, offsets set) to the journal; resolves once they are durable there. */
function appendToJournal(journal: FlusherJournal, runs: readonly PendingRun[], runsEnd: LogMark): Promise<void> {
  const buffers: Buffer[] = [];
  let byteCount = 0;
  for (const run of runs) {
    for (const buffer of run.buffers) buffers.push(buffer);
    byteCount += run.byteCount;
  }
  return journal.append(buffers, byteCount, readBaseOffset(buffers[0]!, 0), runsEnd.tail.nextOffset);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
