/**
 * Bytes received from a socket and not yet consumed, kept as the chunks they arrived in.
 *
 * Chunks are joined only when a requested range spans several of them, so a frame that sits inside
 * one chunk is handed on as a view without copying. Both protocols' frame readers take their
 * frames from it (src/protocol/kafka/frame-reader.ts, src/protocol/amqp/frame-reader.ts).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  /** Bytes held. */
  get length(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** Removes byteCount bytes (at most `length`) from the front: a view when they sit in one chunk, a copy otherwise. */
  take(byteCount: number): Buffer {
    if (byteCount === 0) return Buffer.alloc(0);
    if (byteCount > this.bufferedBytes) throw new RangeError(`take(${byteCount}) with ${this.bufferedBytes} bytes buffered`);
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
