/**
 * Assembles one channel's basic.publish with the frames that follow it:
 *
 *   method (basic.publish) → exactly one content header (class 60, body size) → body frames until
 *   their payloads add up to the body size exactly; none when it is 0.
 *
 * Any other frame in between is 505 UNEXPECTED_FRAME (RabbitMQ's texts), and so is a body frame
 * going past the declared size. A declared size over amqp.maxContentBytes is refused from the
 * header, before any body is buffered (406 PRECONDITION_FAILED closing the channel, RabbitMQ's
 * max_message_size text). A single body frame is kept as received (a view, not a copy); several
 * are concatenated once, at the end. The properties are a view too: whatever keeps the message
 * (a queue store) copies it out of the received chunks.
 */
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import { decodeContentHeaderPayload } from '../../protocol/amqp/content-header.js';
import type { ContentHeader } from '../../protocol/amqp/content-header.js';
import { frameTypes } from '../../protocol/amqp/frame-reader.js';
import type { AmqpFrame } from '../../protocol/amqp/frame-reader.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { MalformedInputError } from '../../protocol/wire/errors.js';
import type { IncomingPublish } from './channel-handler.js';
import { AmqpChannelError, AmqpConnectionError } from './errors.js';

/** The class and method ids blamed in errors about content: basic.publish. */
export const publishMethodIds = { classId: 60, methodId: 40 } as const;
const contentHeaderPrefixBytes = 12;
const noBytes = Buffer.alloc(0);

type PublishMethod = Extract<AmqpMethod, { name: 'basic.publish' }>;

export class ContentAssembly {
  private header: ContentHeader | null = null;
  private properties: Buffer = noBytes;
  /** The body frames' payloads: most bodies come in one frame, so the array exists only for a second one. */
  private firstPiece: Buffer | null = null;
  private laterPieces: Buffer[] | null = null;
  private receivedBytes = 0;
  private bodyBytes = 0;

  constructor(
    private readonly publish: PublishMethod,
    private readonly maxContentBytes: number,
  ) {}

  /** Bytes held so far. */
  get bufferedBytes(): number {
    return this.receivedBytes;
  }

  /** Takes the next frame of this content; the finished publish once complete, else null. Throws the AMQP errors above. */
  add(frame: AmqpFrame): IncomingPublish | null {
    if (this.header === null) return this.addHeader(frame);
    if (frame.type !== frameTypes.body) {
      throw new AmqpConnectionError(replyCodes.unexpectedFrame, 'UNEXPECTED_FRAME - expected content body, got non content body frame instead');
    }
    if (this.receivedBytes + frame.payload.length > this.bodyBytes) {
      throw new AmqpConnectionError(
        replyCodes.unexpectedFrame,
        `UNEXPECTED_FRAME - content body frames carry more than the ${this.bodyBytes} bytes its header declared`,
      );
    }
    if (this.firstPiece === null) this.firstPiece = frame.payload;
    else (this.laterPieces ??= []).push(frame.payload);
    this.receivedBytes += frame.payload.length;
    return this.receivedBytes === this.bodyBytes ? this.finish() : null;
  }

  private addHeader(frame: AmqpFrame): IncomingPublish | null {
    if (frame.type !== frameTypes.header) {
      throw new AmqpConnectionError(replyCodes.unexpectedFrame, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead');
    }
    if (frame.payload.length >= 2 && frame.payload.readUInt16BE(0) !== publishMethodIds.classId) {
      throw new AmqpConnectionError(
        replyCodes.unexpectedFrame,
        `UNEXPECTED_FRAME - expected content header for class 60, got one for class ${frame.payload.readUInt16BE(0)} instead`,
      );
    }
    const header = decodeContentHeaderPayload(frame.payload);
    if (header.bodySize > BigInt(this.maxContentBytes)) {
      throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - message size ${header.bodySize} is larger than configured max size ${this.maxContentBytes}`);
    }
    this.header = header;
    this.bodyBytes = Number(header.bodySize);
    // A view: the queue stores copy what they keep (queues/queue-store/), so the frame's chunk is not held.
    this.properties = frame.payload.subarray(contentHeaderPrefixBytes);
    return this.bodyBytes === 0 ? this.finish() : null;
  }

  private finish(): IncomingPublish {
    if (this.header === null) throw new MalformedInputError('content finished before its header');
    const body = this.firstPiece === null ? noBytes : this.laterPieces === null ? this.firstPiece : Buffer.concat([this.firstPiece, ...this.laterPieces], this.bodyBytes);
    const { exchange, routingKey, mandatory, immediate } = this.publish.arguments;
    return { exchange, routingKey, mandatory, immediate, header: this.header, properties: this.properties, body };
  }
}
