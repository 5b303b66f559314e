/**
 * The memory every connection's requests share (Kafka's `queued.max.request.bytes`).
 *
 * Bytes are claimed as they arrive from a socket, never on the promise of a size prefix: a frame
 * costs what the client has actually sent of it, and is held until its response has been written
 * (or the connection closes). A connection reads on only while the pool has room for it; otherwise
 * it pauses its socket and waits here, and a release wakes the waiting connections on a later turn.
 * So the broker holds at most the capacity of request bytes, plus one socket read per connection
 * that was still reading when the pool filled up, plus the share of one lead connection (below).
 *
 *     0                                   capacity − smallReserve             capacity
 *     ├─────────── any request ───────────────────────┼──── small requests only ────┤
 *
 * The top `smallReserveBytes` of the pool are for small requests (Metadata, heartbeats, ApiVersions,
 * offset commits): connections reading a large frame pause below it, so large requests filling the
 * pool can slow each other down but never starve the small ones.
 */
export type RequestSize = 'small' | 'large';

/** A connection, as the pool sees it. */
export interface MemoryClaimant {
  /** Bytes it holds in the pool. */
  readonly claimedBytes: number;
  /** True while it has part of a frame and needs more bytes to complete it. */
  readonly receivingFrame: boolean;
  /** Called once after memory is released or it was made the lead: it should check again. */
  retry(): void;
}

export class RequestMemoryPool {
  private reservedBytes = 0;
  private readonly claimants = new Set<MemoryClaimant>();
  private readonly waiting = new Set<MemoryClaimant>();
  /**
   * When the pool is full and the connection holding the most memory is waiting for more to finish
   * its frame, it may read on past the limit until that frame is complete, so that partly read
   * frames cannot deadlock each other. Its share (maxInFlightBytes) bounds the excess. When the
   * largest holder is not waiting, it completes its frame by itself or runs into the frame deadline
   * (frame-deadline.ts), which bounds how long it may keep the others waiting.
   */
  private lead: MemoryClaimant | null = null;
  private wakeScheduled = false;

  constructor(
    readonly capacityBytes: number,
    readonly smallReserveBytes: number,
  ) {}

  get reserved(): number {
    return this.reservedBytes;
  }

  /** A connection opened; it is forgotten again by stopWaiting when it closes. */
  register(claimant: MemoryClaimant): void {
    this.claimants.add(claimant);
  }

  /** Counts bytes that have arrived; they are in memory already, so this cannot be refused. */
  claim(bytes: number): void {
    this.reservedBytes += bytes;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.reservedBytes -= bytes;
    if (this.waiting.size > 0) this.scheduleWake();
  }

  /** Whether this connection, reading a request of this size, may read on. */
  hasRoom(claimant: MemoryClaimant, size: RequestSize): boolean {
    if (this.lead === claimant || this.reservedBytes <= claimant.claimedBytes) return true;
    const limitBytes = size === 'small' ? this.capacityBytes : this.capacityBytes - this.smallReserveBytes;
    return this.reservedBytes < limitBytes;
  }

  /** Calls `claimant.retry()` once, after memory is released or a lead is chosen. */
  waitForMemory(claimant: MemoryClaimant): void {
    this.waiting.add(claimant);
    // Without a lead, one is chosen on the next wake; only a claimant receiving a frame can lead
    // (otherwise waking now would only spin).
    if (this.lead === null && claimant.receivingFrame) this.scheduleWake();
  }

  /** Forgets a connection that closed, and gives up its lead. */
  stopWaiting(claimant: MemoryClaimant): void {
    this.claimants.delete(claimant);
    this.waiting.delete(claimant);
    this.endLead(claimant);
  }

  /** The lead's frame is complete (or it stopped reading for another reason): another may lead. */
  endLead(claimant: MemoryClaimant): void {
    if (this.lead !== claimant) return;
    this.lead = null;
    if (this.waiting.size > 0) this.scheduleWake();
  }

  isLead(claimant: MemoryClaimant): boolean {
    return this.lead === claimant;
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    // Woken on a later turn: the releasing connection may be in the middle of its own work.
    this.wakeScheduled = true;
    setImmediate(() => this.wake());
  }

  private wake(): void {
    this.wakeScheduled = false;
    if (this.lead === null && this.reservedBytes >= this.capacityBytes - this.smallReserveBytes) this.lead = this.largestReceiving();
    const waiters = [...this.waiting];
    this.waiting.clear();
    for (const claimant of waiters) claimant.retry();
  }

  /** The connection holding the most memory, if it waits to receive the rest of a frame. */
  private largestReceiving(): MemoryClaimant | null {
    let largest: MemoryClaimant | null = null;
    for (const claimant of this.claimants) {
      if (largest === null || claimant.claimedBytes > largest.claimedBytes) largest = claimant;
    }
    return largest !== null && largest.receivingFrame && this.waiting.has(largest) ? largest : null;
  }
}
