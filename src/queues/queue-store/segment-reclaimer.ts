/**
 * Frees a log's disk as its owner is done with its messages: a queue store once they are settled,
 * a delayed-message store once they are routed. Segments wholly below the first offset still
 * needed are deleted (PartitionLog.deleteRecordsBefore), one deletion at a time (a call made
 * meanwhile runs after it), once about a segment's worth of bytes is done with (or at once when
 * forced: a flush, an open).
 */
import { LogClosedError } from '../../storage/partition-log.js';
import { asOffset } from '../../storage/offset.js';
import type { ReclaimableLog } from './queue-log.js';

export class SegmentReclaimer {
  private deletion: Promise<void> | null = null;
  /** The latest call made while a deletion was under way: run when it ends. */
  private queued: { doneBelow: number; force: boolean } | null = null;

  constructor(
    private readonly log: ReclaimableLog,
    private readonly segmentBytes: number,
    /** A deletion that failed (other than on a closed log); the next call tries again. */
    private readonly failed: (error: Error) => void,
  ) {}

  /** The deletion under way and those queued behind it, if any (flush and close wait for them). */
  get running(): Promise<void> | null {
    return this.deletion === null ? null : this.idle();
  }

  private async idle(): Promise<void> {
    while (this.deletion !== null) await this.deletion;
  }

  /** Whether `doneBelow` lies about a segment's worth of bytes past the log start (reclaim would delete). */
  worthReclaiming(doneBelow: number): boolean {
    const log = this.log;
    const start = log.logStartOffset;
    const target = Math.min(doneBelow, log.highWatermark);
    if (log.segmentCount < 2 || target <= start) return false;
    const bytesPerOffset = log.sizeBytes / Math.max(1, log.logEndOffset - start);
    return (target - start) * bytesPerOffset >= this.segmentBytes;
  }

  /** Deletes the segments wholly below `doneBelow`, which the caller has made durable. */
  reclaim(doneBelow: number, force: boolean): void {
    if (this.deletion !== null) {
      // Not dropped: a forced call (a flush) or a later target must still happen.
      this.queued = { doneBelow: Math.max(doneBelow, this.queued?.doneBelow ?? doneBelow), force: force || (this.queued?.force ?? false) };
      return;
    }
    const log = this.log;
    const start = log.logStartOffset;
    const target = Math.min(doneBelow, log.highWatermark);
    if (log.segmentCount < 2) return;
    // Forced (a flush, an open) with the start already there: segments below it that were not yet
    // sealed when it moved are deleted now (the log skips unsealed ones).
    if (!force && !this.worthReclaiming(doneBelow)) return;
    this.deletion = log
      .deleteRecordsBefore(asOffset(Math.max(target, start)))
      .then(() => {})
      .catch((error: unknown) => {
        if (!(error instanceof LogClosedError)) this.failed(error as Error);
      })
      .finally(() => {
        this.deletion = null;
        const next = this.queued;
        this.queued = null;
        if (next !== null) this.reclaim(next.doneBelow, next.force);
      });
  }
}
