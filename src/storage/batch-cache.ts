/**
 * The most recently appended batches of one partition, kept in memory so consumers at the end of
 * the log are served without a disk read. Bounded by bytes; the oldest batches are evicted first.
 *
 *   entries: [ evicted … | head ──────────────────────────── tail ]
 *                          firstOffset                         lastOffset = logEndOffset − 1
 *
 * The cached batches are contiguous and always end at the log's end, so any fetch offset at or
 * above `firstOffset` can be answered from here alone. The buffers are the very ones written to the
 * segment files (the log owns them after append), so caching costs no copy, except for a batch that
 * is a view of a much larger buffer (a Produce frame holding other partitions' batches too): it is
 * copied, since keeping the view would keep the whole frame alive, uncounted (ownedBytes).
 *
 * Besides its own capacity, a cache may share a broker-wide budget (TailCacheBudget) with every
 * other partition's: past it, the partitions appended to least recently give up their oldest batches.
 */
export class RecentBatchCache {
  private buffers: Buffer[] = [];
  private baseOffsets: number[] = [];
  private lastOffsets: number[] = [];
  private head = 0;
  private bytes = 0;
  capacityBytes: number;
  private readonly budget: TailCacheBudget | null;
  private readonly copies = new CopyChunks();

  constructor(capacityBytes: number, budget: TailCacheBudget | null = null) {
    this.capacityBytes = capacityBytes;
    this.budget = budget;
  }

  get isEmpty(): boolean {
    return this.head >= this.buffers.length;
  }

  get byteCount(): number {
    return this.bytes;
  }

  /** First offset the cache can serve; Infinity when empty. */
  get firstOffset(): number {
    return this.head < this.baseOffsets.length ? this.baseOffsets[this.head]! : Infinity;
  }

  /** Caches `batch` (a copy when it is a small view of a larger buffer, see ownedBytes); returns what it keeps, or `batch` when it keeps nothing. */
  add(batch: Buffer, baseOffset: number, lastOffset: number): Buffer {
    if (batch.length > this.capacityBytes) {
      this.clear(); // the cache must stay contiguous with the log end
      return batch;
    }
    const owned = ownedBytes(batch, this.copies);
    this.buffers.push(owned);
    this.baseOffsets.push(baseOffset);
    this.lastOffsets.push(lastOffset);
    this.bytes += batch.length;
    while (this.bytes > this.capacityBytes) this.evictOne();
    if (this.head > 1024 && this.head * 2 > this.buffers.length) this.compact();
    this.budget?.added(this, batch.length);
    return owned;
  }

  clear(): void {
    // A log without a cache (capacity 0: queue logs) clears at every append: nothing to allocate then.
    if (this.buffers.length === 0) return;
    const released = this.bytes;
    this.buffers = [];
    this.baseOffsets = [];
    this.lastOffsets = [];
    this.head = 0;
    this.bytes = 0;
    this.budget?.released(this, released);
  }

  /** Forgets batches holding offsets below `offset` (log start moved past them). */
  dropBefore(offset: number): void {
    while (this.head < this.buffers.length && this.lastOffsets[this.head]! < offset) this.evictOne();
  }

  /**
   * Whole batches from the one containing `fetchOffset`, each with lastOffset < maxOffset, at most
   * maxBytes except that the first batch is always whole. Null if `fetchOffset` is not cached.
   */
  read(fetchOffset: number, maxBytes: number, maxOffset: number): { chunks: Buffer[]; byteCount: number } | null {
    if (fetchOffset < this.firstOffset) return null;
    let index = this.findIndex(fetchOffset);
    const chunks: Buffer[] = [];
    let byteCount = 0;
    for (; index < this.buffers.length; index++) {
      const buffer = this.buffers[index]!;
      if (this.lastOffsets[index]! >= maxOffset) break;
      if (chunks.length > 0 && byteCount + buffer.length > maxBytes) break;
      chunks.push(buffer);
      byteCount += buffer.length;
    }
    return { chunks, byteCount };
  }

  /** Index of the first entry whose lastOffset ≥ offset. */
  private findIndex(offset: number): number {
    let low = this.head;
    let high = this.buffers.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.lastOffsets[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Drops the oldest batch (the budget asks when the broker-wide total is too large). */
  evictOne(): void {
    const length = this.buffers[this.head]!.length;
    this.bytes -= length;
    this.buffers[this.head] = emptyBuffer;
    this.head++;
    if (this.head === this.buffers.length) {
      // Empty now: drop the arrays of evicted slots too (an idle partition may stay empty long).
      this.buffers = [];
      this.baseOffsets = [];
      this.lastOffsets = [];
      this.head = 0;
    }
    this.budget?.released(this, length);
  }

  private compact(): void {
    this.buffers = this.buffers.slice(this.head);
    this.baseOffsets = this.baseOffsets.slice(this.head);
    this.lastOffsets = this.lastOffsets.slice(this.head);
    this.head = 0;
  }
}

const emptyBuffer = Buffer.alloc(0);

/**
 * `batch` itself when it spans (nearly) all of the memory it lives in, else a copy of it in memory
 * of its own. A batch taken from a Produce request is a view of the request's frame; a frame holding
 * the batches of many partitions would stay in memory as long as any one of them is cached, so the
 * caches (and their budget) would keep several times the bytes they count.
 *
 *   frame  [ header │ batch p0 │ batch p1 │ … │ batch p999 ]    one allocation
 *   cached            ▲ view: keeps all of it       → copy: keeps only this
 *
 * Views with at most a quarter of slack (a frame of one batch, with its request header) are kept.
 */
export function ownedBytes(batch: Buffer, chunks: CopyChunks | null = null): Buffer {
  if (batch.buffer.byteLength <= batch.length + (batch.length >>> 2)) return batch;
  if (chunks !== null && batch.length <= copyChunkBytes / 4) return chunks.copy(batch);
  const copy = Buffer.allocUnsafeSlow(batch.length); // not from the shared pool: a slice of it would pin 8 KiB
  batch.copy(copy);
  return copy;
}

const copyChunkBytes = 32 * 1024;

/**
 * Where one cache copies small batches (ownedBytes; up to 8 KiB): back to back in chunks of 32 KiB, one
 * allocation per chunk instead of one per batch (with 1,000 partitions a Produce frame carries a
 * batch of a record or two for each). A chunk lives while any batch in it is cached or waits for its
 * segment write; both let go of batches oldest first, so a cache keeps at most about one chunk
 * beyond the bytes it counts.
 */
export class CopyChunks {
  private chunk: Buffer | null = null;
  private used = 0;

  copy(batch: Buffer): Buffer {
    if (this.chunk === null || this.used + batch.length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(copyChunkBytes);
      this.used = 0;
    }
    const copy = this.chunk.subarray(this.used, this.used + batch.length);
    batch.copy(copy);
    this.used += batch.length;
    return copy;
  }
}

/**
 * Bytes all partitions' tail caches may hold together. Each cache reports what it adds and drops;
 * when the total passes the budget, the caches appended to least recently lose their oldest
 * batches first, so busy partitions keep their tails and idle ones fall back to reading segments.
 *
 *   least recently appended ──────────────────────────► most recently appended
 *   [ cache of p7 ][ cache of p2 ] … [ cache of p5 ]
 *     ▲ evicted from first (oldest batch first, so each cache still ends at its log's end)
 */
export class TailCacheBudget {
  private bytes = 0;
  /** Caches holding bytes, least recently appended first (a Set keeps insertion order). */
  private readonly caches = new Set<RecentBatchCache>();
  /** Batches dropped to stay within the budget, since start (observability). */
  evictedBatches = 0;

  constructor(readonly capacityBytes: number) {}

  get byteCount(): number {
    return this.bytes;
  }

  added(cache: RecentBatchCache, byteCount: number): void {
    this.bytes += byteCount;
    this.caches.delete(cache);
    if (!cache.isEmpty) this.caches.add(cache);
    this.evictBeyondBudget();
  }

  released(cache: RecentBatchCache, byteCount: number): void {
    this.bytes -= byteCount;
    if (cache.isEmpty) this.caches.delete(cache);
  }

  private evictBeyondBudget(): void {
    while (this.bytes > this.capacityBytes) {
      const oldest = this.caches.values().next();
      if (oldest.done === true) return;
      this.evictedBatches++;
      oldest.value.evictOne();
    }
  }
}
