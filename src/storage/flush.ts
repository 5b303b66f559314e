import type { FlushPolicy } from '../config/broker-config.js';
import type { Segment, SyncFile } from './segment.js';

/**
 * Group commit for one partition log.
 *
 *   append ─┐  append ─┐  append ─┐            (same event-loop turn)
 *           ▼          ▼          ▼
 *   queued runs: [ segment 7: b1 b2 b3 ]  ──setImmediate──►  cycle:
 *                                                             1. writev each run at its position
 *                                                             2. fdatasync the written segments
 *                                                                (policy always, or a sync request)
 *                                                             3. finish sealed (rolled) segments:
 *                                                                fsync log, write + fsync indexes,
 *                                                                advance the recovery checkpoint
 *                                                             4. resolve the cycle's promise
 *   appends made while a cycle is in flight queue up for the next cycle, which starts as soon as
 *   the current one ends. One promise per cycle: every append of a cycle shares it.
 *
 * Policies:
 *   always    every cycle fsyncs; `durable` resolves after the fsync; readers see fsynced data only.
 *   interval  cycles only write; a timer asks for an fsync every flushIntervalMs.
 *   never     cycles only write; fsync happens on roll, flush() and close().
 * Whatever the policy, rolled segments are fsynced when sealed and flush() fsyncs everything.
 * A failed write or fsync fails the log: its promise and every later one reject.
 */

interface PendingRun {
  segment: Segment;
  position: number;
  buffers: Buffer[];
  byteCount: number;
  endOffset: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

function createDeferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  promise.catch(() => {}); // a caller ignoring `durable` (acks=0) must not crash the process
  return { promise, resolve, reject };
}

export interface FlusherEnvironment {
  syncFile: SyncFile;
  /** The active segment, whose indexes a flush persists. */
  activeSegment(): Segment;
  /** Persists the recovery point (atomically). */
  writeRecoveryPoint(offset: number): Promise<void>;
  /** Called once a cycle has moved the written or durable end. */
  onProgress(): void;
}

export class Flusher {
  private policy: FlushPolicy;
  private intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private runs: PendingRun[] = [];
  private seals: Segment[] = [];
  private deferred: Deferred | null = null;
  private syncRequested = false;
  private checkpointRequested = false;
  private scheduled = false;
  private running = false;
  private readonly dirty = new Set<Segment>();
  private recoveryPoint: number;
  /** End of the data handed to the OS, and of the data fsynced. */
  writtenEndOffset: number;
  durableEndOffset: number;
  failure: Error | null = null;
  /** Cycles that fsynced data (observability and tests). */
  syncCycles = 0;

  constructor(
    policy: FlushPolicy,
    intervalMs: number,
    endOffset: number,
    recoveryPoint: number,
    private readonly environment: FlusherEnvironment,
  ) {
    this.policy = policy;
    this.intervalMs = intervalMs;
    this.writtenEndOffset = endOffset;
    this.durableEndOffset = endOffset;
    this.recoveryPoint = recoveryPoint;
    this.startTimer();
  }

  /** End of what readers may see: fsynced data under `always`, written data otherwise. */
  get servableEndOffset(): number {
    return this.policy === 'always' ? this.durableEndOffset : this.writtenEndOffset;
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

  /** Queues `batch` for writing at `position` of `segment`; resolves per the policy. */
  enqueue(segment: Segment, batch: Buffer, position: number, endOffset: number): Promise<void> {
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last.segment === segment && last.position + last.byteCount === position) {
      last.buffers.push(batch);
      last.byteCount += batch.length;
      last.endOffset = endOffset;
    } else {
      this.runs.push({ segment, position, buffers: [batch], byteCount: batch.length, endOffset });
    }
    return this.nextCycle();
  }

  /** A segment stopped being active: fsync it and persist its indexes in the next cycle. */
  seal(segment: Segment): void {
    this.seals.push(segment);
    void this.nextCycle();
  }

  /** Writes and fsyncs everything queued so far, persists the active indexes and the recovery point. */
  flush(): Promise<void> {
    this.syncRequested = true;
    this.checkpointRequested = true;
    return this.nextCycle();
  }

  /** Resolves after a cycle that started after this call (everything queued before is written). */
  drain(): Promise<void> {
    return this.nextCycle();
  }

  stop(): void {
    this.stopTimer();
  }

  private nextCycle(): Promise<void> {
    if (this.deferred === null) this.deferred = createDeferred();
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      setImmediate(() => void this.runCycles());
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
    const seals = this.seals;
    const deferred = this.deferred!;
    const sync = this.syncRequested || this.policy === 'always';
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
    try {
      await this.writeRuns(runs);
      if (sync) await this.syncDirty();
      for (const segment of seals) await this.finishSealed(segment);
      if (checkpoint) await this.persistActive();
      deferred.resolve();
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      deferred.reject(this.failure);
    }
    this.environment.onProgress();
  }

  private async writeRuns(runs: PendingRun[]): Promise<void> {
    for (const run of runs) {
      await run.segment.write(run.buffers, run.position);
      this.dirty.add(run.segment);
      this.writtenEndOffset = run.endOffset;
    }
  }

  private async syncDirty(): Promise<void> {
    const writtenEndOffset = this.writtenEndOffset;
    if (this.dirty.size > 0) this.syncCycles++;
    for (const segment of this.dirty) await segment.sync(this.environment.syncFile);
    this.dirty.clear();
    this.durableEndOffset = writtenEndOffset;
  }

  private async finishSealed(segment: Segment): Promise<void> {
    if (this.dirty.delete(segment)) await segment.sync(this.environment.syncFile);
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
    if (this.durableEndOffset > this.recoveryPoint) {
      this.recoveryPoint = this.durableEndOffset;
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
