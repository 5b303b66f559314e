/**
 * A connection's outgoing frames: methods, content (a method, its header and body frames split per
 * frame_max) and heartbeats, gathered during an event-loop turn and handed to the socket in one
 * corked batch (one writev), so a turn's many deliveries become few system calls; small pieces
 * are joined into one buffer first, so they are few socket writes too.
 *
 *   content, as sent:
 *   ┌────────────────┐┌──────────────────────────────────────────┐┌──────────┐     ┌──────────┐
 *   │ method frame   ││ header frame: class 60 │ weight 0 │ body   ││ body     │ ... │ body     │
 *   │ (deliver, ...) ││ size (longlong) │ raw property flags+list ││ ≤ max−8  │     │ rest     │
 *   └────────────────┘└──────────────────────────────────────────┘└──────────┘     └──────────┘
 *   No body frame when the body is empty. Large body frames are written as three buffers (frame
 *   header, a view of the body, frame-end octet), so a body is never copied.
 */
import type { Socket } from 'node:net';
import { encodeFrame, frameEndOctet, frameHeaderBytes, frameOverheadBytes, frameTypes } from '../../protocol/amqp/frame-reader.js';
import type { FrameType } from '../../protocol/amqp/frame-reader.js';
import { methodFrame } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';

const basicClassId = 60;
const contentHeaderPrefixBytes = 12;
/** Below this a body frame is copied into one buffer; above, written as views. */
const copyBodyBelowBytes = 4096;
/** Buffers smaller than this are joined with their neighbours before they are written. */
const joinBelowBytes = 4096;
const frameEnd = Buffer.from([frameEndOctet]);
const heartbeatFrame = Buffer.from([frameTypes.heartbeat, 0, 0, 0, 0, 0, 0, frameEndOctet]);

export class FrameWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private frameMaxBytes: number;
  /** When the last bytes were handed to the socket (heartbeat.ts sends one when this gets old). */
  lastWriteMs: number;

  constructor(
    private readonly socket: Socket,
    frameMaxBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.frameMaxBytes = frameMaxBytes;
    this.lastWriteMs = now();
  }

  /** After tune-ok. */
  setFrameMaxBytes(frameMaxBytes: number): void {
    this.frameMaxBytes = frameMaxBytes;
  }

  /** Bytes queued here and in the socket, not yet taken by the kernel. */
  get unsentBytes(): number {
    return this.batchBytes + this.socket.writableLength;
  }

  sendMethod(channel: number, method: AmqpMethod): void {
    this.push(methodFrame(channel, method));
  }

  sendContent(channel: number, method: AmqpMethod, properties: Buffer, body: Buffer): void {
    this.sendMethod(channel, method);
    const header = Buffer.allocUnsafe(frameHeaderBytes + contentHeaderPrefixBytes);
    writeFrameHeader(header, frameTypes.header, channel, contentHeaderPrefixBytes + properties.length);
    header.writeUInt16BE(basicClassId, frameHeaderBytes);
    header.writeUInt16BE(0, frameHeaderBytes + 2);
    header.writeBigUInt64BE(BigInt(body.length), frameHeaderBytes + 4);
    this.push(header);
    this.push(properties);
    this.push(frameEnd);
    const maxBodyBytes = this.frameMaxBytes - frameOverheadBytes;
    for (let offset = 0; offset < body.length; offset += maxBodyBytes) {
      const piece = body.subarray(offset, Math.min(body.length, offset + maxBodyBytes));
      if (piece.length < copyBodyBelowBytes) {
        this.push(encodeFrame(frameTypes.body, channel, piece));
      } else {
        const frameHeader = Buffer.allocUnsafe(frameHeaderBytes);
        writeFrameHeader(frameHeader, frameTypes.body, channel, piece.length);
        this.push(frameHeader);
        this.push(piece);
        this.push(frameEnd);
      }
    }
  }

  sendHeartbeat(): void {
    this.push(heartbeatFrame);
  }

  /** Raw bytes (the protocol header answered to a client speaking another version). */
  sendRaw(bytes: Buffer): void {
    this.push(bytes);
  }

  /** Hands whatever is gathered to the socket now (before ending it). */
  flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (this.socket.destroyed || !this.socket.writable) return;
    this.lastWriteMs = this.now();
    this.socket.cork();
    // Runs of small buffers (frame headers, methods, small bodies) go as one joined buffer: one
    // socket.write instead of one per piece, whose per-call cost dominates for small messages.
    let runStart = 0;
    let runBytes = 0;
    for (let index = 0; index <= batch.length; index++) {
      const buffer = batch[index];
      if (buffer !== undefined && buffer.length < joinBelowBytes) {
        runBytes += buffer.length;
        continue;
      }
      if (index - runStart === 1) this.socket.write(batch[runStart]!);
      else if (index > runStart) this.socket.write(Buffer.concat(batch.slice(runStart, index), runBytes));
      if (buffer !== undefined) this.socket.write(buffer);
      runStart = index + 1;
      runBytes = 0;
    }
    this.socket.uncork();
  }

  private push(buffer: Buffer): void {
    if (buffer.length === 0) return;
    this.batch.push(buffer);
    this.batchBytes += buffer.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }
}

function writeFrameHeader(target: Buffer, type: FrameType, channel: number, payloadBytes: number): void {
  target.writeUInt8(type, 0);
  target.writeUInt16BE(channel, 1);
  target.writeUInt32BE(payloadBytes, 3);
}
