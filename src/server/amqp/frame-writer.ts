/**
 * A connection's outgoing frames: methods, content (a method, its header and body frames split per
 * frame_max) and heartbeats, gathered during an event-loop turn and handed to the socket in one
 * corked batch (one writev), so a turn's many deliveries become few system calls; small pieces
 * are copied into a shared slab as they come, so they are few socket writes and few allocations.
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
import { frameEndOctet, frameHeaderBytes, frameOverheadBytes, frameTypes } from '../../protocol/amqp/frame-reader.js';
import type { FrameType } from '../../protocol/amqp/frame-reader.js';
import { methodFrame } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';

const basicClassId = 60;
const basicDeliverMethodId = 60;
const contentHeaderPrefixBytes = 12;
/** Below this a body frame is copied into the slab; above, written as a view of the body. */
const copyBodyBelowBytes = 4096;
/** Buffers smaller than this are copied into the slab; larger ones are written as they are. */
const copyBelowBytes = 4096;
/** Size of a fresh slab: small frames of many deliveries share one allocation and one socket write. */
const slabBytes = 64 * 1024;
const frameEnd = Buffer.from([frameEndOctet]);
const heartbeatFrame = Buffer.from([frameTypes.heartbeat, 0, 0, 0, 0, 0, 0, frameEndOctet]);

/** A consumer tag as basic.deliver carries it (shortstr: length octet, UTF-8 bytes). */
export function encodeConsumerTag(tag: string): Buffer {
  const bytes = Buffer.from(tag, 'utf8');
  if (bytes.length > 255) throw new RangeError(`consumer tag of ${bytes.length} bytes; at most 255`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/**
 * Frames are gathered in `batch`; small ones are copied into a slab, and each run of the slab
 * written since the last large buffer is one entry of the batch. Bytes handed to the socket are
 * never written again: the slab is only appended to, and replaced when full.
 */
export class FrameWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private frameMaxBytes: number;
  private slab = Buffer.allocUnsafe(slabBytes);
  /** Bytes of the slab in use; those from runStart on are not in the batch yet. */
  private slabUsed = 0;
  private runStart = 0;
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
    return this.batchBytes + (this.slabUsed - this.runStart) + this.socket.writableLength;
  }

  sendMethod(channel: number, method: AmqpMethod): void {
    this.push(methodFrame(channel, method));
  }

  sendContent(channel: number, method: AmqpMethod, properties: Buffer, body: Buffer): void {
    this.sendMethod(channel, method);
    this.sendHeaderAndBody(channel, properties, body);
  }

  /**
   * basic.deliver, its header and its body: what sendContent sends for the same method, written
   * without a method object, a Writer or any buffer of its own (for a body that fits one frame below
   * copyBodyBelowBytes, the whole delivery is one copy into the slab). Arguments are passed one by
   * one rather than as an object, so a delivery allocates nothing here. `consumerTag` is the tag as a
   * shortstr (length octet, then bytes: encodeConsumerTag), encoded once per consumer.
   *
   *   method payload: class 60 │ method 60 │ consumer-tag shortstr │ delivery-tag longlong │
   *                   redelivered octet (bit 0) │ exchange shortstr │ routing-key shortstr
   */
  sendDelivery(channel: number, consumerTag: Buffer, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string, properties: Buffer, body: Buffer): void {
    const exchangeBytes = Buffer.byteLength(exchange, 'utf8');
    const routingKeyBytes = Buffer.byteLength(routingKey, 'utf8');
    if (exchangeBytes > 255 || routingKeyBytes > 255) throw new RangeError('shortstr of more than 255 bytes');
    const payloadBytes = 4 + consumerTag.length + 8 + 1 + 1 + exchangeBytes + 1 + routingKeyBytes;
    const slab = this.reserve(frameOverheadBytes + payloadBytes);
    let at = this.slabUsed;
    at = writeFrameHeader(slab, at, frameTypes.method, channel, payloadBytes);
    slab.writeUInt16BE(basicClassId, at);
    slab.writeUInt16BE(basicDeliverMethodId, at + 2);
    at += 4;
    at += consumerTag.copy(slab, at);
    slab.writeUInt32BE(Math.floor(deliveryTag / 0x1_0000_0000), at);
    slab.writeUInt32BE(deliveryTag >>> 0, at + 4);
    slab[at + 8] = redelivered ? 1 : 0;
    at += 9;
    slab[at++] = exchangeBytes;
    at += slab.write(exchange, at, 'utf8');
    slab[at++] = routingKeyBytes;
    at += slab.write(routingKey, at, 'utf8');
    slab[at++] = frameEndOctet;
    this.slabUsed = at;
    this.sendHeaderAndBody(channel, properties, body);
    this.scheduleFlush();
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
    this.endRun();
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (this.socket.destroyed || !this.socket.writable) return;
    this.lastWriteMs = this.now();
    if (batch.length === 1) {
      this.socket.write(batch[0]!);
      return;
    }
    this.socket.cork();
    for (const buffer of batch) this.socket.write(buffer);
    this.socket.uncork();
  }

  /** The content header frame, then the body in frames of at most frame_max − 8 bytes. */
  private sendHeaderAndBody(channel: number, properties: Buffer, body: Buffer): void {
    const maxBodyBytes = this.frameMaxBytes - frameOverheadBytes;
    const bodyInSlab = body.length > 0 && body.length <= maxBodyBytes && body.length < copyBodyBelowBytes;
    const headerBytes = frameOverheadBytes + contentHeaderPrefixBytes + properties.length;
    const slab = this.reserve(headerBytes + (bodyInSlab ? frameOverheadBytes + body.length : 0));
    let at = writeFrameHeader(slab, this.slabUsed, frameTypes.header, channel, contentHeaderPrefixBytes + properties.length);
    slab.writeUInt16BE(basicClassId, at);
    slab.writeUInt16BE(0, at + 2); // weight
    slab.writeUInt32BE(Math.floor(body.length / 0x1_0000_0000), at + 4);
    slab.writeUInt32BE(body.length >>> 0, at + 8);
    at += contentHeaderPrefixBytes;
    at += properties.copy(slab, at);
    slab[at++] = frameEndOctet;
    if (bodyInSlab) {
      at = writeFrameHeader(slab, at, frameTypes.body, channel, body.length);
      at += body.copy(slab, at);
      slab[at++] = frameEndOctet;
    }
    this.slabUsed = at;
    if (!bodyInSlab) {
      for (let offset = 0; offset < body.length; offset += maxBodyBytes) {
        const piece = body.subarray(offset, Math.min(body.length, offset + maxBodyBytes));
        const frameSlab = this.reserve(frameHeaderBytes);
        this.slabUsed = writeFrameHeader(frameSlab, this.slabUsed, frameTypes.body, channel, piece.length);
        this.push(piece);
        this.push(frameEnd);
      }
    }
    this.scheduleFlush();
  }

  /** The slab, with at least `bytes` free after slabUsed (a new one when the current is too full). */
  private reserve(bytes: number): Buffer {
    if (this.slab.length - this.slabUsed >= bytes) return this.slab;
    this.endRun();
    this.slab = Buffer.allocUnsafe(Math.max(slabBytes, bytes));
    this.slabUsed = 0;
    this.runStart = 0;
    return this.slab;
  }

  /** The slab's bytes written since the last run ended become one entry of the batch. */
  private endRun(): void {
    if (this.slabUsed === this.runStart) return;
    this.batch.push(this.slab.subarray(this.runStart, this.slabUsed));
    this.batchBytes += this.slabUsed - this.runStart;
    this.runStart = this.slabUsed;
  }

  private push(buffer: Buffer): void {
    if (buffer.length === 0) return;
    if (buffer.length < copyBelowBytes) {
      const slab = this.reserve(buffer.length);
      this.slabUsed += buffer.copy(slab, this.slabUsed);
    } else {
      this.endRun();
      this.batch.push(buffer);
      this.batchBytes += buffer.length;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }
}

/** Writes a frame header at `at`; returns where its payload starts. */
function writeFrameHeader(target: Buffer, at: number, type: FrameType, channel: number, payloadBytes: number): number {
  target[at] = type;
  target.writeUInt16BE(channel, at + 1);
  target.writeUInt32BE(payloadBytes, at + 3);
  return at + frameHeaderBytes;
}
