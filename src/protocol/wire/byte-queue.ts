/**
 * Bytes received from a socket and not yet consumed, kept as the chunks they arrived in.
 *
 * Chunks are joined only when a requested range spans several of them, so a frame that sits inside
 * one chunk is handed on as a view without copying. Both protocols' frame readers take their
 * frames from it (src/protocol/kafka/frame-reader.ts, src/protocol/amqp/frame-reader.ts).
 *
 *   chunks:  [ consumed | unread …… ][ unread …… ][ unread … ]
 *                       ▲ offset (into chunks[0])
 *
 * Reading a frame's fixed header goes through readUInt8/16/32 and skip, which allocate nothing; only
 * take() makes a Buffer (a view of one chunk, or a copy when the range spans chunks).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private offset = 0;
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

  /** The octet `position` bytes from the front (position < length). */
  readUInt8(position: number): number {
    if (position >= this.bufferedBytes) throw new RangeError(`readUInt8(${position}) with ${this.bufferedBytes} bytes buffered`);
    let index = this.offset + position;
    for (const chunk of this.chunks) {
      if (index < chunk.length) return chunk[index]!;
      index -= chunk.length;
    }
    throw new RangeError('unreachable: position within length');
  }

  /** A big-endian uint16 starting `position` bytes from the front. */
  readUInt16BE(position: number): number {
    const first = this.chunks[0];
    if (first !== undefined && this.offset + position + 2 <= first.length) return first.readUInt16BE(this.offset + position);
    return (this.readUInt8(position) << 8) | this.readUInt8(position + 1);
  }

  /** A big-endian uint32 starting `position` bytes from the front. */
  readUInt32BE(position: number): number {
    const first = this.chunks[0];
    if (first !== undefined && this.offset + position + 4 <= first.length) return first.readUInt32BE(this.offset + position);
    return this.readUInt16BE(position) * 0x10000 + this.readUInt16BE(position + 2);
  }

  /** Drops byteCount bytes (at most `length`) from the front. */
  skip(byteCount: number): void {
    if (byteCount > this.bufferedBytes) throw new RangeError(`skip(${byteCount}) with ${this.bufferedBytes} bytes buffered`);
    this.bufferedBytes -= byteCount;
    let left = byteCount;
    while (left > 0) {
      const first = this.chunks[0]!;
      const available = first.length - this.offset;
      if (left < available) {
        this.offset += left;
        return;
      }
      left -= available;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Removes byteCount bytes (at most `length`) from the front: a view when they sit in one chunk, a copy otherwise. */
  take(byteCount: number): Buffer {
    if (byteCount === 0) return Buffer.alloc(0);
    if (byteCount > this.bufferedBytes) throw new RangeError(`take(${byteCount}) with ${this.bufferedBytes} bytes buffered`);
    const first = this.chunks[0]!;
    const available = first.length - this.offset;
    if (available >= byteCount) {
      const view = this.offset === 0 && available === byteCount ? first : first.subarray(this.offset, this.offset + byteCount);
      this.skip(byteCount);
      return view;
    }
    const result = Buffer.allocUnsafe(byteCount);
    let filled = 0;
    while (filled < byteCount) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length - this.offset, byteCount - filled);
      chunk.copy(result, filled, this.offset, this.offset + used);
      filled += used;
      this.skip(used);
    }
    return result;
  }
}
