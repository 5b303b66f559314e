/**
 * Splits an AMQP 0-9-1 byte stream into frames, on either side of a connection.
 *
 * A client opens with the 8-byte protocol header, then both peers send frames:
 *
 *   protocol header:  'A' 'M' 'Q' 'P' │ 0 │ 0 │ 9 │ 1
 *
 *   frame:
 *   0      1         3          7                   7+size    8+size
 *   ┌──────┬─────────┬──────────┬───────────────────┬─────────┐
 *   │ type │ channel │ size     │ payload           │ 0xCE    │
 *   │ octet│ short   │ long     │ (size octets)     │ frame   │
 *   │      │         │          │                   │ end     │
 *   └──────┴─────────┴──────────┴───────────────────┴─────────┘
 *   type: 1 method, 2 content header, 3 content body, 8 heartbeat.
 *
 * `size + 8` must not exceed the negotiated frame_max (connection.tune / tune-ok); a larger size
 * is refused as soon as the 7 header octets are in, before anything is buffered for its payload.
 * A frame whose last octet is not 0xCE, or whose type is not one of the four, is a frame error
 * (reply code 501, which closes the connection). Payloads are views of the received chunks when
 * they sit in one; the reader never interprets them (method-payload.ts and content-header.ts do).
 */
import { ByteQueue } from '../wire/byte-queue.js';

export const protocolHeader = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
export const frameHeaderBytes = 7;
export const frameEndOctet = 0xce;
/** Header and frame-end octet: what a frame costs besides its payload. */
export const frameOverheadBytes = frameHeaderBytes + 1;
/** The smallest frame_max a peer may ask for (AMQP 0-9-1, 4.2.3). */
export const minimumFrameMaxBytes = 4096;

export const frameTypes = { method: 1, header: 2, body: 3, heartbeat: 8 } as const;
export type FrameType = (typeof frameTypes)[keyof typeof frameTypes];

export interface AmqpFrame {
  readonly type: FrameType;
  readonly channel: number;
  readonly payload: Buffer;
}

/** Bytes that cannot be an AMQP frame: the connection answers 501 FRAME_ERROR and closes. */
export class AmqpFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmqpFrameError';
  }
}

/** What the first 8 octets a client sends say: the header we speak, or something else. */
export function checkProtocolHeader(octets: Buffer): 'amqp-0-9-1' | 'other' {
  return octets.equals(protocolHeader) ? 'amqp-0-9-1' : 'other';
}

export class AmqpFrameReader {
  private readonly queue = new ByteQueue();
  private pending: { readonly type: FrameType; readonly channel: number; readonly size: number } | null = null;

  /** maxFrameBytes: frame_max, header and frame-end octet included. */
  constructor(private maxFrameBytes: number) {}

  /** After tune-ok: frames up to the negotiated frame_max. */
  setMaxFrameBytes(limitBytes: number): void {
    this.maxFrameBytes = limitBytes;
  }

  /** Bytes received and not yet taken as frames. */
  get buffered(): number {
    return this.queue.length;
  }

  push(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** Takes byteCount raw octets from the front (the protocol header, before any frame); null until they are in. */
  takeOctets(byteCount: number): Buffer | null {
    return this.queue.length < byteCount ? null : this.queue.take(byteCount);
  }

  /** The next complete frame, or null until more bytes arrive; throws AmqpFrameError on a malformed one. */
  next(): AmqpFrame | null {
    if (this.pending === null) {
      if (this.queue.length < frameHeaderBytes) return null;
      const type = this.queue.readUInt8(0);
      const size = this.queue.readUInt32BE(3);
      if (!isFrameType(type)) throw new AmqpFrameError(`unknown frame type ${type}`);
      if (size + frameOverheadBytes > this.maxFrameBytes) {
        throw new AmqpFrameError(`frame of ${size + frameOverheadBytes} bytes exceeds frame_max ${this.maxFrameBytes}`);
      }
      this.pending = { type, channel: this.queue.readUInt16BE(1), size };
      this.queue.skip(frameHeaderBytes);
    }
    if (this.queue.length < this.pending.size + 1) return null;
    const end = this.queue.readUInt8(this.pending.size);
    if (end !== frameEndOctet) throw new AmqpFrameError(`frame end octet is 0x${end.toString(16).padStart(2, '0')}, not 0xce`);
    const payload = this.queue.take(this.pending.size);
    this.queue.skip(1);
    const frame = { type: this.pending.type, channel: this.pending.channel, payload };
    this.pending = null;
    return frame;
  }
}

function isFrameType(type: number): type is FrameType {
  return type === frameTypes.method || type === frameTypes.header || type === frameTypes.body || type === frameTypes.heartbeat;
}

/** One frame's bytes, as a peer sends it. */
export function encodeFrame(type: FrameType, channel: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(frameOverheadBytes + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt16BE(channel, 1);
  frame.writeUInt32BE(payload.length, 3);
  payload.copy(frame, frameHeaderBytes);
  frame.writeUInt8(frameEndOctet, frameHeaderBytes + payload.length);
  return frame;
}
