/**
 * Puts a message back together on one channel. A method that carries content (basic.deliver,
 * basic.get-ok, basic.return) is followed on the same channel by exactly one content header frame
 * and then body frames until the header's body size is reached (none for an empty body):
 *
 *   method (deliver) → header (body size N, properties) → body … body (N bytes in all)
 *
 * Any other frame in between is a protocol error (505 UNEXPECTED_FRAME on the broker's side); here
 * it throws, and the connection closes.
 */
import { decodeContentHeaderPayload } from '../../protocol/amqp/content-header.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';
import { AmqpClientError } from './errors.js';

export interface AssembledContent<Method> {
  readonly method: Method;
  readonly properties: BasicProperties;
  /** The properties as they came (property flags + property list), for whoever passes them on unchanged. */
  readonly rawProperties: Buffer;
  readonly body: Buffer;
}

/** Class id, weight and body size: the content header before its property flags. */
const headerFixedBytes = 12;

export class ContentAssembler<Method> {
  private method: Method | null = null;
  private properties: BasicProperties | null = null;
  private rawProperties: Buffer | null = null;
  private bodySize = 0;
  private parts: Buffer[] = [];
  private received = 0;

  get busy(): boolean {
    return this.method !== null;
  }

  /** A content-carrying method arrived; returns nothing until its header and body are in. */
  start(method: Method): void {
    if (this.method !== null) throw new AmqpClientError('a content method arrived before the previous message was complete');
    this.method = method;
  }

  /** The header frame; returns the message when the body is empty. */
  header(payload: Buffer): AssembledContent<Method> | null {
    if (this.method === null || this.properties !== null) throw new AmqpClientError('content header frame without a content method before it');
    const header = decodeContentHeaderPayload(payload);
    if (header.bodySize > BigInt(Number.MAX_SAFE_INTEGER)) throw new AmqpClientError(`body of ${header.bodySize} bytes`);
    this.properties = header.properties;
    // A copy: the payload may be a view of a receive buffer shared with later frames.
    this.rawProperties = Buffer.from(payload.subarray(headerFixedBytes));
    this.bodySize = Number(header.bodySize);
    return this.bodySize === 0 ? this.finish() : null;
  }

  /** A body frame; returns the message once the body is complete. */
  body(payload: Buffer): AssembledContent<Method> | null {
    if (this.properties === null) throw new AmqpClientError('content body frame without a content header before it');
    if (this.received + payload.length > this.bodySize) throw new AmqpClientError(`body frames carry more than the ${this.bodySize} bytes the header announced`);
    // The reader's payloads may be views of a receive buffer shared with later frames: keep a copy.
    this.parts.push(Buffer.from(payload));
    this.received += payload.length;
    return this.received === this.bodySize ? this.finish() : null;
  }

  private finish(): AssembledContent<Method> {
    const message = { method: this.method!, properties: this.properties!, rawProperties: this.rawProperties!, body: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bodySize) };
    this.method = null;
    this.properties = null;
    this.rawProperties = null;
    this.parts = [];
    this.received = 0;
    this.bodySize = 0;
    return message;
  }
}
