/**
 * Splits a TCP byte stream into Kafka frames: requests on the broker's side
 * (src/server/kafka/connection.ts), responses on the client's (src/client/connection.ts).
 *
 *     ┌──────────────┬───────────────────────────────────────────────────────┐
 *     │ size: int32  │ request or response header + body (size bytes)        │
 *     └──────────────┴───────────────────────────────────────────────────────┘
 *
 * Chunks are kept as they arrive and joined only when a frame spans several of them, so a frame
 * inside one chunk is handed on as a view without copying. A size that is negative or larger than
 * the limit is refused before anything is buffered for it. Frames are taken one at a time (`next`),
 * so the connection can stop between two frames of the same chunk (in-flight limits) and change the
 * size limit after a request (the smaller limit before the first well-formed request).
 */
import { ByteQueue } from '../wire/byte-queue.js';

export class FrameTooLargeError extends Error {
  constructor(readonly frameBytes: number, readonly limitBytes: number, limitName: string) {
    super(`frame of ${frameBytes} bytes exceeds the limit of ${limitBytes} (${limitName})`);
    this.name = 'FrameTooLargeError';
  }
}

export const sizePrefixBytes = 4;

export class FrameReader {
  private readonly queue = new ByteQueue();
  /** Size of the frame being assembled, once its 4-byte prefix is known; -1 before. */
  private pendingFrameBytes = -1;

  constructor(
    private maxFrameBytes: number,
    private limitName = 'limits.maxFrameBytes',
  ) {}

  setMaxFrameBytes(limitBytes: number, limitName: string): void {
    this.maxFrameBytes = limitBytes;
    this.limitName = limitName;
  }

  /** Bytes received and not yet taken as frames (size prefixes included). */
  get buffered(): number {
    return this.queue.length;
  }

  /** The announced size of the frame being assembled, or null when its prefix is not read yet. */
  get announcedFrameBytes(): number | null {
    return this.pendingFrameBytes < 0 ? null : this.pendingFrameBytes;
  }

  /** What an unfinished frame has so far, for a log line when the peer goes away; null if none. */
  get unfinishedFrame(): { receivedBytes: number; frameBytes: number | null } | null {
    if (this.pendingFrameBytes < 0 && this.queue.length === 0) return null;
    return { receivedBytes: this.queue.length, frameBytes: this.announcedFrameBytes };
  }

  /** Adds a chunk; take the frames it completes with next(). */
  push(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** The next complete frame (without its size prefix), or null until more bytes arrive. */
  next(): Buffer | null {
    if (this.pendingFrameBytes < 0) {
      if (this.queue.length < sizePrefixBytes) return null;
      const size = this.queue.readUInt32BE(0) | 0; // int32: a negative size is refused below
      this.queue.skip(sizePrefixBytes);
      if (size < 0 || size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes, this.limitName);
      this.pendingFrameBytes = size;
    }
    if (this.queue.length < this.pendingFrameBytes) return null;
    const frame = this.queue.take(this.pendingFrameBytes);
    this.pendingFrameBytes = -1;
    return frame;
  }

  /** Every complete frame buffered now (tests and simple callers). */
  drain(): Buffer[] {
    const frames: Buffer[] = [];
    for (let frame = this.next(); frame !== null; frame = this.next()) frames.push(frame);
    return frames;
  }
}
