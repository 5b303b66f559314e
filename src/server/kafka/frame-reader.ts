/**
 * Splits a TCP byte stream into Kafka request frames.
 *
 *     ┌──────────────┬───────────────────────────────────────────┐
 *     │ size: int32  │ request header + body (size bytes)        │
 *     └──────────────┴───────────────────────────────────────────┘
 *
 * Chunks are kept as they arrive and joined only when a frame spans several of them, so a frame
 * inside one chunk is handed on as a view without copying. A size that is negative or larger than
 * the limit is refused before anything is buffered for it. Each frame's size is reserved through
 * `reserve` once its prefix is read; when that fails the reader stops (`waitingForMemory`) until
 * `drain()` is called again.
 */
export class FrameTooLargeError extends Error {
  constructor(readonly frameBytes: number, readonly limitBytes: number) {
    super(`frame of ${frameBytes} bytes exceeds the limit of ${limitBytes}`);
    this.name = 'FrameTooLargeError';
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being assembled, once its 4-byte prefix is known. */
  private pendingFrameBytes = -1;
  /** Whether the pending frame's size has been reserved. */
  private pendingReserved = false;

  constructor(
    private maxFrameBytes: number,
    private readonly reserve: (frameBytes: number) => boolean = () => true,
  ) {}

  /** True when a frame's size could not be reserved: call drain() once memory is released. */
  get waitingForMemory(): boolean {
    return this.pendingFrameBytes >= 0 && !this.pendingReserved;
  }

  setMaxFrameBytes(limitBytes: number): void {
    this.maxFrameBytes = limitBytes;
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  /** What an unfinished frame has so far, for a log line when the peer goes away; null if none. */
  get unfinishedFrame(): { receivedBytes: number; frameBytes: number | null } | null {
    if (this.pendingFrameBytes < 0 && this.bufferedBytes === 0) return null;
    return { receivedBytes: this.bufferedBytes, frameBytes: this.pendingFrameBytes < 0 ? null : this.pendingFrameBytes };
  }

  /** Adds a chunk; returns the complete frames it finished (without their size prefix). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    return this.drain();
  }

  /** The complete frames already buffered; stops at a frame whose size cannot be reserved yet. */
  drain(): Buffer[] {
    const frames: Buffer[] = [];
    for (;;) {
      if (this.pendingFrameBytes < 0) {
        if (this.bufferedBytes < 4) break;
        const size = this.take(4).readInt32BE(0);
        if (size < 0 || size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
        this.pendingFrameBytes = size;
        this.pendingReserved = false;
      }
      if (!this.pendingReserved) {
        if (!this.reserve(this.pendingFrameBytes)) break;
        this.pendingReserved = true;
      }
      if (this.bufferedBytes < this.pendingFrameBytes) break;
      frames.push(this.take(this.pendingFrameBytes));
      this.pendingFrameBytes = -1;
      this.pendingReserved = false;
    }
    return frames;
  }

  /** Removes byteCount bytes from the front: a view when they sit in one chunk, a copy otherwise. */
  private take(byteCount: number): Buffer {
    if (byteCount === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    this.bufferedBytes -= byteCount;
    if (first.length > byteCount) {
      this.chunks[0] = first.subarray(byteCount);
      return first.subarray(0, byteCount);
    }
    if (first.length === byteCount) {
      this.chunks.shift();
      return first;
    }
    const result = Buffer.allocUnsafe(byteCount);
    let filled = 0;
    while (filled < byteCount) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, byteCount - filled);
      chunk.copy(result, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return result;
  }
}
