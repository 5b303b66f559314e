/**
 * Frees a log's disk as its owner is done with its messages: a queue store once they are settled,
 * a delayed-message store once they are routed. Segments wholly below the first offset still
 * needed are deleted (PartitionLog.deleteRecordsBefore), one deletion at a time, once about a
 * segment's worth of bytes is done with (or at once when forced: a flush, an open).
 */
import { LogClosedError, type PartitionLog } from '../../storage/partition-log.js';
import { asOffset } from '../../storage/offset.js';

export class SegmentReclaimer {
  private deletion: Promise<void> | null = null;

  constructor(
    private readonly log: PartitionLog,
    private readonly segmentBytes: number,
    /** A deletion that failed (other than on a closed log); the next call tries again. */
    private readonly failed: (error: Error) => void,
  ) {}

  /** The deletion under way, if any (flush and close wait for it). */
  get running(): Promise<void> | null {
    return this.deletion;
  }

  /** Deletes the segments wholly below `doneBelow`, which the caller has made durable. */
  reclaim(doneBelow: number, force: boolean): void {
    if (this.deletion !== null) return;
    const log = this.log;
    const start = log.logStartOffset;
    const target = Math.min(doneBelow, log.highWatermark);
    if (log.segmentCount < 2) return;
    // Forced (a flush, an open) with the start already there: segments below it that were not yet
    // sealed when it moved are deleted now (the log skips unsealed ones).
    if (target <= start && !force) return;
    if (!force) {
      const bytesPerOffset = log.sizeBytes / Math.max(1, log.logEndOffset - start);
      if ((target - start) * bytesPerOffset < this.segmentBytes) return;
    }
    this.deletion = log
      .deleteRecordsBefore(asOffset(Math.max(target, start)))
      .then(() => {})
      .catch((error: unknown) => {
        if (!(error instanceof LogClosedError)) this.failed(error as Error);
      })
      .finally(() => {
        this.deletion = null;
      });
  }
}
