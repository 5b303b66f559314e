/**
 * A broker-wide cap on the segment files kept open. A segment opens its .log file on first use and
 * reports every use here; once more than `maxOpenFiles` are open, the least recently used idle ones
 * are closed, and reopened by the next read or write that needs them.
 *
 *   least recently used ─────────────────────────────────► most recently used
 *   [ seg A (idle) ][ seg B (busy) ][ seg C (idle) ] … [ seg Z ]
 *     ▲ closed first  ▲ skipped       ▲ closed next
 *
 * Idle means no read, write or fsync in progress and nothing written since the last fsync: a file
 * with unsynced writes stays open, so a write-back error is reported by the fsync of the same
 * descriptor that wrote. So the cap can be exceeded by the files in use at one moment (a partition
 * being written under flush=never keeps its active segment open until its next fsync).
 */

export interface SegmentFileHolder {
  /** In use, or holding writes not yet fsynced: must not be closed now. */
  readonly isBusy: boolean;
  /** Closes the file; the next use opens it again. */
  closeIdleFile(): Promise<void>;
}

/** Holders closeIdleBeyondCap looks at per use (see there). */
const holdersVisitedMax = 64;

export class OpenSegmentFiles {
  /** Holders with an open file, least recently used first (a Set keeps insertion order). */
  private readonly holders = new Set<SegmentFileHolder>();
  /** Files closed to stay within the cap, since start (observability). */
  closedForCap = 0;

  constructor(readonly maxOpenFiles: number) {}

  get openCount(): number {
    return this.holders.size;
  }

  /** A holder opened its file or used it: it becomes the most recently used. */
  used(holder: SegmentFileHolder): void {
    if (this.maxOpenFiles === Infinity) return;
    this.holders.delete(holder);
    this.holders.add(holder);
    this.closeIdleBeyondCap();
  }

  /** A holder closed its file by itself (log closed, segment deleted). */
  closed(holder: SegmentFileHolder): void {
    this.holders.delete(holder);
  }

  /**
   * Looks at no more than `holdersVisitedMax` of the least recently used: a busy one goes to the
   * back (looked at again after the others), so a broker whose open files are nearly all busy (many
   * partitions with unsynced writes) does not walk over all of them on every use.
   */
  private closeIdleBeyondCap(): void {
    let visits = 0;
    for (const holder of this.holders) {
      if (this.holders.size <= this.maxOpenFiles || visits++ >= holdersVisitedMax) return;
      this.holders.delete(holder); // deleting (and re-adding) while iterating a Set is safe: a re-added entry is visited again at the end
      if (holder.isBusy) {
        this.holders.add(holder);
        continue;
      }
      this.closedForCap++;
      void holder.closeIdleFile();
    }
  }
}

/** No cap: files stay open until their log closes (tools and tests that open a single log). */
export const unlimitedOpenSegmentFiles = new OpenSegmentFiles(Infinity);
