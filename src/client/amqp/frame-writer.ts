/**
 * Outgoing frames, batched: every frame queued during one turn of the event loop leaves in a single
 * socket write at the end of it (a publish loop of a thousand messages is one write, not three
 * thousand), or earlier when the connection flushes (after handling a received chunk). Frames are encoded straight into the batch, header and frame-end octet around the
 * payload as frame-reader.ts draws them; content bodies larger than a frame are split so that no
 * frame exceeds the negotiated frame_max.
 */
import type { Socket } from 'node:net';
import { frameEndOctet, frameOverheadBytes, frameTypes } from '../../protocol/amqp/frame-reader.js';
import type { FrameType } from '../../protocol/amqp/frame-reader.js';
import { methodPayload } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import { contentHeaderPayload } from '../../protocol/amqp/content-header.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';

export class FrameWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** frame_max, header and frame-end included; lowered after connection.tune. */
  frameMaxBytes: number;

  constructor(
    private readonly socket: Socket,
    frameMaxBytes: number,
  ) {
    this.frameMaxBytes = frameMaxBytes;
  }

  /** Bytes queued in this turn and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** True while the socket's own buffer is over its high-water mark: a publisher should wait for 'drain'. */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  raw(bytes: Buffer): void {
    this.queue(bytes);
  }

  method(channel: number, method: AmqpMethod): void {
    this.frame(frameTypes.method, channel, methodPayload(method));
  }

  /** A content header frame, then the body in as many body frames as frame_max requires (none when empty). */
  content(channel: number, properties: BasicProperties, body: Buffer): void {
    this.frame(frameTypes.header, channel, contentHeaderPayload({ bodySize: BigInt(body.length), properties }));
    const bodyFrameBytes = this.frameMaxBytes - frameOverheadBytes;
    for (let offset = 0; offset < body.length; offset += bodyFrameBytes) {
      this.frame(frameTypes.body, channel, body.subarray(offset, Math.min(body.length, offset + bodyFrameBytes)));
    }
  }

  heartbeat(): void {
    this.frame(frameTypes.heartbeat, 0, Buffer.alloc(0));
  }

  /** Writes what is queued now, without waiting for the end of the turn (before closing the socket). */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.socket.destroyed) this.socket.write(batch);
  }

  private frame(type: FrameType, channel: number, payload: Buffer): void {
    const frame = Buffer.allocUnsafe(frameOverheadBytes + payload.length);
    frame.writeUInt8(type, 0);
    frame.writeUInt16BE(channel, 1);
    frame.writeUInt32BE(payload.length, 3);
    payload.copy(frame, 7);
    frame.writeUInt8(frameEndOctet, 7 + payload.length);
    this.queue(frame);
  }

  private queue(bytes: Buffer): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
