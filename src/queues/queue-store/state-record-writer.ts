import type { Logger } from '../../logging/logger.js';
import type { DispositionSnapshot } from './dispositions.js';
import { OffsetRanges } from './offset-ranges.js';
import { deliveredRecord, returnedRecord, settledRecord, truncatedRecord } from './state-records.js';

/**
 * The writing of state records (state-records.ts) shared by their two sinks: the state file
 * (StateLog, state-log.ts) and state batches in a queue's own log (LogStateWriter, log-state.ts).
 * What is common is when and what gets written; where the bytes go is the subclass's:
 *
 *   recordSettled / recordReturned / recordTruncated / recordDeliveredMoved      (the live state changed)
 *        │  settles coalesced into ranges, return counts into the latest per offset;
 *        │  a truncation record keeps its place after the settles recorded before it
 *        ▼
 *   one cycle per event-loop turn (setImmediate): the pending records, and the delivered mark when
 *   due, go to appendRecords in one piece (group commit); then a snapshot (appendSnapshot) when the
 *   records since the last one pass compactionMinBytes and twice the snapshot, when the subclass
 *   wants one (snapshotWanted), or when compact() asked; then the flush() waiters of that cycle resolve.
 *
 * Nobody waits for a settle: what a client is told hangs on flush() (or on the log's own cycle,
 * which state batches ride). The delivered mark rides along with any cycle that writes records,
 * and a move of the cursor alone is written in the cycle after the deliveries (after the running
 * one, if any), with no timer, so that a crash loses the
 * redelivered flag only of what was handed out within the last one or two cycles (each a write and
 * an fdatasync of the log) before it. Cycles run one at a time and take everything recorded
 * meanwhile, so under load the mark costs no cycle of its own. A failed append leaves
 * its records pending, ahead of newer ones (the next change or flush tries again) and rejects
 * that cycle's waiters; a failed snapshot puts back the records it would have covered.
 */

export const defaultCompactionMinBytes = 256 * 1024;

/** What the writer reads from the live dispositions. */
export interface StateSource {
  readonly settledBelow: number;
  readonly deliveredBelow: number;
  snapshot(): DispositionSnapshot;
}

export interface StateRecordWriterOptions {
  readonly logger: Logger;
  /**
   * Whether writes are refused for good now (a replicated queue's term of leadership ended: the
   * next leader carries on from what its replicas hold): a failed cycle is then expected, logged at
   * debug rather than as an error.
   */
  readonly writesEnded?: () => boolean;
  readonly compactionMinBytes?: number;
}

/** Where the written state stands when the writer starts. */
export interface WrittenState {
  /** The delivered mark as written. */
  readonly deliveredBelow: number;
  /** Bytes of the latest snapshot. */
  readonly snapshotBytes: number;
  /** Bytes from the latest snapshot on (the snapshot included; all bytes written when there is none). */
  readonly bytesSinceSnapshot: number;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export abstract class StateRecordWriter {
  private readonly pendingSettles = new OffsetRanges();
  /** Return counts to write: the latest of each offset. */
  private readonly pendingReturns = new Map<number, number>();
  /** Records already serialized, in order (settles go here before a truncation record). */
  private pendingRecords: Buffer[] = [];
  private waiters: Waiter[] = [];
  private writtenDeliveredBelow: number;
  private markDue = false;
  private scheduled = false;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly compactionMinBytes: number;
  private snapshotBytes: number;
  private bytesSinceSnapshot: number;
  private snapshotsWritten = 0;
  private snapshotRequested = false;

  protected constructor(
    protected readonly source: StateSource,
    private readonly options: StateRecordWriterOptions,
    written: WrittenState,
  ) {
    this.compactionMinBytes = options.compactionMinBytes ?? defaultCompactionMinBytes;
    this.writtenDeliveredBelow = written.deliveredBelow;
    this.snapshotBytes = written.snapshotBytes;
    this.bytesSinceSnapshot = written.bytesSinceSnapshot;
  }

  /**
   * Makes `records` durable after everything written before, in one piece; resolves with the bytes
   * it took. Throws when it could not (the records stay pending, tried again with the next cycle).
   */
  protected abstract appendRecords(records: readonly Buffer[]): Promise<number>;

  /**
   * Makes `snapshot` (the whole state, written as state-records.ts snapshotRecords) durable as what
   * replaces everything written before; resolves with the bytes it takes. Throws when it could not
   * (what was written before stays in charge).
   */
  protected abstract appendSnapshot(snapshot: DispositionSnapshot): Promise<number>;

  /** After each cycle and each snapshot that made the state durable, with settledBelow as it wrote it. */
  protected abstract durable(settledBelow: number): void;

  /** Whether a snapshot is due for the subclass's own reasons, after a cycle that made `settledBelow` durable. */
  protected snapshotWanted(_settledBelow: number): boolean {
    return false;
  }

  /** Bytes written from the latest snapshot on (the snapshot included). */
  get sizeBytes(): number {
    return this.bytesSinceSnapshot;
  }

  /** Snapshots written since the writer started (each replacing what came before it). */
  get compactionCount(): number {
    return this.snapshotsWritten;
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  recordSettled(start: number, end: number): void {
    this.pendingSettles.add(start, end);
    this.schedule();
  }

  recordReturned(offset: number, count: number): void {
    this.pendingReturns.set(offset, count);
    this.schedule();
  }

  /**
   * The state lost every offset from endOffset on. Settles recorded before it may be of messages cut
   * away, whose offsets new messages take: the truncation record after them voids them at replay.
   */
  recordTruncated(endOffset: number): void {
    this.movePendingSettlesToRecords();
    this.pendingRecords.push(truncatedRecord(endOffset));
    this.writtenDeliveredBelow = Math.min(this.writtenDeliveredBelow, endOffset);
    this.schedule();
  }

  /** The cursor moved: the delivered mark goes with the next cycle. */
  recordDeliveredMoved(): void {
    if (this.closed || this.source.deliveredBelow <= this.writtenDeliveredBelow) return;
    this.markDue = true;
    this.schedule();
  }

  /** Resolves once everything recorded before the call (and the delivered mark) is durable. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.markDue = true;
      this.schedule();
    });
  }

  /** Writes the live state as a snapshot now (normally done by the cycles; see above). */
  compact(): Promise<void> {
    this.snapshotRequested = true;
    return this.flush();
  }

  /** Flushes, then stops writing. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.running;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running !== null || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === null) this.running = this.runCycles();
    });
  }

  private hasWork(): boolean {
    return this.pendingSettles.rangeCount > 0 || this.pendingReturns.size > 0 || this.pendingRecords.length > 0 || this.waiters.length > 0 || (this.markDue && this.source.deliveredBelow > this.writtenDeliveredBelow);
  }

  private async runCycles(): Promise<void> {
    // Asynchronous from the start: `running` is assigned before the finally below can clear it.
    await null;
    try {
      while (!this.closed || this.waiters.length > 0) {
        if (!this.hasWork()) break;
        await this.cycle();
      }
    } catch (error) {
      // The records stay pending; the next settle (or flush) tries again.
      this.writeFailed('error', 'queue state write failed; retried with the next change', error);
    } finally {
      this.running = null;
      // A flush asked for while the failed cycle ran found it running and scheduled nothing: it
      // gets a cycle of its own (which answers it, whether that append succeeds or fails).
      if (this.waiters.length > 0) this.schedule();
    }
  }

  /** One group commit: the pending records in one append; then a snapshot when due. */
  private async cycle(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    const records = this.takePendingRecords();
    const settledBelow = this.source.settledBelow;
    if (records.length > 0) {
      try {
        this.bytesSinceSnapshot += await this.appendRecords(records);
      } catch (error) {
        this.pendingRecords = [...records, ...this.pendingRecords];
        for (const waiter of waiters) waiter.reject(error as Error);
        throw error;
      }
    }
    this.durable(settledBelow);
    const grown = this.bytesSinceSnapshot > this.compactionMinBytes && this.bytesSinceSnapshot > 2 * this.snapshotBytes;
    if (grown || this.snapshotWanted(settledBelow) || this.snapshotRequested) {
      this.snapshotRequested = false;
      await this.snapshotNow();
    }
    for (const waiter of waiters) waiter.resolve();
  }

  /** Serializes the pending settles (coalesced), the delivered mark when due, and earlier records. */
  private takePendingRecords(): Buffer[] {
    this.movePendingSettlesToRecords();
    const records = this.pendingRecords;
    this.pendingRecords = [];
    const deliveredBelow = this.source.deliveredBelow;
    if (deliveredBelow > this.writtenDeliveredBelow && (this.markDue || records.length > 0)) {
      records.push(deliveredRecord(deliveredBelow));
      this.writtenDeliveredBelow = deliveredBelow;
    }
    this.markDue = false;
    return records;
  }

  private movePendingSettlesToRecords(): void {
    this.pendingSettles.forEach((start, end) => this.pendingRecords.push(settledRecord(start, end)));
    this.pendingSettles.clear();
    for (const [offset, count] of this.pendingReturns) this.pendingRecords.push(returnedRecord(offset, count));
    this.pendingReturns.clear();
  }

  /**
   * Writes a snapshot of the live state, which covers every record pending now (they are dropped;
   * put back if the snapshot fails).
   */
  private async snapshotNow(): Promise<void> {
    const superseded = this.takePendingRecords();
    const previousMark = this.writtenDeliveredBelow;
    const snapshot = this.source.snapshot();
    try {
      const bytes = await this.appendSnapshot(snapshot);
      this.snapshotBytes = bytes;
      this.bytesSinceSnapshot = bytes;
      this.writtenDeliveredBelow = snapshot.deliveredBelow;
      this.snapshotsWritten++;
      this.durable(snapshot.settledBelow);
    } catch (error) {
      this.pendingRecords = [...superseded, ...this.pendingRecords];
      this.writtenDeliveredBelow = previousMark;
      this.writeFailed('warn', 'queue state snapshot failed; the records since the last one keep growing until one succeeds', error);
    }
  }

  /** A failed write, logged at `level`; at debug once writes have ended for good (writesEnded): then it is expected. */
  private writeFailed(level: 'warn' | 'error', message: string, error: unknown): void {
    const fields = { error: error instanceof Error ? error.message : String(error) };
    if (this.options.writesEnded?.() === true) this.options.logger.debug(`${message} (this broker no longer writes the queue)`, fields);
    else this.options.logger[level](message, fields);
  }
}
