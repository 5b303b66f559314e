/**
 * A broker-wide budget for the offset and time indexes of sealed segments kept in memory. A sealed
 * segment's indexes are on disk in full (its `.index` and `.timeindex` files), so memory only
 * speeds up lookups: beyond `capacityBytes`, the indexes of the segments looked up least recently
 * are dropped, and read back from their files by the next lookup that needs them.
 *
 *   least recently looked up ────────────────────────────────► most recently looked up
 *   [ seg A (persisted) ][ seg B (index files being written) ][ seg C ] … [ seg Z ]
 *     ▲ dropped first      ▲ skipped                            ▲ dropped next
 *
 * Only sealed segments take part, and only once every index entry they hold is in their files; the
 * active segment's indexes grow with its appends and always stay. So the memory of indexes is this
 * budget plus the active segments' (about 20 bytes per `index.interval.bytes` of log each).
 */

export interface SegmentIndexHolder {
  /** Bytes the indexes take in memory now. */
  readonly indexBytes: number;
  /** Sealed, with every entry in the files, and not being read: may drop them now. */
  readonly indexesDroppable: boolean;
  /** Forgets the in-memory indexes; the next lookup reads the files again. */
  dropIndexes(): void;
}

export class SegmentIndexCache {
  /** Holders with indexes in memory and the bytes counted for each, least recently used first (a Map keeps insertion order). */
  private readonly holders = new Map<SegmentIndexHolder, number>();
  private bytes = 0;
  /** Segment indexes dropped to stay within the budget, since start (observability). */
  droppedCount = 0;

  constructor(readonly capacityBytes: number) {}

  /** Bytes of sealed segments' indexes in memory now. */
  get byteCount(): number {
    return this.bytes;
  }

  get holderCount(): number {
    return this.holders.size;
  }

  /** A sealed holder has its indexes in memory and used them (or was just sealed): it becomes the most recently used. */
  used(holder: SegmentIndexHolder): void {
    if (this.capacityBytes === Infinity) return;
    this.forget(holder);
    const bytes = holder.indexBytes;
    this.holders.set(holder, bytes);
    this.bytes += bytes;
    this.dropBeyondCapacity(holder);
  }

  /** A holder went away (its log closed, it was deleted or replaced). */
  forget(holder: SegmentIndexHolder): void {
    const counted = this.holders.get(holder);
    if (counted === undefined) return;
    this.holders.delete(holder);
    this.bytes -= counted;
  }

  /** Drops the least recently used droppable indexes until the total fits; never those of `keep` (just used). */
  private dropBeyondCapacity(keep: SegmentIndexHolder): void {
    if (this.bytes <= this.capacityBytes) return;
    for (const [holder, counted] of this.holders) {
      if (this.bytes <= this.capacityBytes) return;
      if (holder === keep || !holder.indexesDroppable) continue;
      this.holders.delete(holder);
      this.bytes -= counted;
      this.droppedCount++;
      holder.dropIndexes();
    }
  }
}

/** No budget: indexes stay in memory until their log closes (tools and tests that open a single log). */
export const unlimitedSegmentIndexes = new SegmentIndexCache(Infinity);
