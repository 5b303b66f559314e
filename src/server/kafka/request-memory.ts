/**
 * The memory every connection's requests share (Kafka's `queued.max.request.bytes`).
 *
 * A connection reserves a frame's size as soon as it reads the 4-byte prefix, before buffering the
 * frame, and releases it when the request's response has been written (or the connection closes).
 * When the pool is spent, the connection stops reading and waits here; a release wakes the waiting
 * connections in arrival order. So however many clients send large requests at once, the broker
 * holds at most the pool's capacity of request bytes (plus at most one socket read per waiting
 * connection), not connections × frame limit.
 *
 * A frame larger than the whole capacity is let through only when nothing else is reserved, so it
 * can never wait forever.
 */
export class RequestMemoryPool {
  private reservedBytes = 0;
  private readonly waiting = new Set<() => void>();
  private wakeScheduled = false;

  constructor(readonly capacityBytes: number) {}

  get reserved(): number {
    return this.reservedBytes;
  }

  /** Reserves `bytes` if they fit now; otherwise reserves nothing and returns false. */
  tryReserve(bytes: number): boolean {
    if (this.reservedBytes + bytes > this.capacityBytes && this.reservedBytes > 0) return false;
    this.reservedBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.reservedBytes -= bytes;
    if (this.waiting.size > 0 && !this.wakeScheduled) {
      // Woken on a later turn: the releasing connection may be in the middle of its own work.
      this.wakeScheduled = true;
      setImmediate(() => this.wake());
    }
  }

  /** Calls `retry` once, after some memory is released. */
  waitForMemory(retry: () => void): void {
    this.waiting.add(retry);
  }

  /** Forgets a waiter (its connection closed). */
  stopWaiting(retry: () => void): void {
    this.waiting.delete(retry);
  }

  private wake(): void {
    this.wakeScheduled = false;
    const waiters = [...this.waiting];
    this.waiting.clear();
    for (const retry of waiters) retry();
  }
}
