/**
 * Direct reply-to, as RabbitMQ has it: an RPC client receives replies without a reply queue.
 *
 *   requester channel                         broker                          responder
 *   basic.consume "amq.rabbitmq.reply-to"  →  registers the channel under a
 *     (no-ack)                                random address
 *   basic.publish reply-to:                →  reply-to rewritten to
 *     "amq.rabbitmq.reply-to"                 "amq.rabbitmq.reply-to.<token>"  →  request delivered
 *   reply delivered to that channel's      ←  default exchange, routing key   ←  basic.publish to ""
 *     consumer, exchange "", that key          = the address: no queue           with that key
 *
 * Replies are at most once: nothing is stored; a reply to a channel that is gone, or whose socket
 * is backed up, is dropped. A publish routed to an address counts as routed (no basic.return), and
 * is confirmed at once. Addresses are random (16 bytes): one channel cannot guess another's.
 */
import { randomBytes } from 'node:crypto';
import { Reader } from '../../../protocol/wire/reader.js';
import { Writer } from '../../../protocol/wire/writer.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../protocol/amqp/generated/basic.js';

/** The pseudo-queue a requester consumes from, and the reply-to value it publishes with. */
export const replyToPseudoQueue = 'amq.rabbitmq.reply-to';
const addressPrefix = `${replyToPseudoQueue}.`;

/** A channel consuming its direct replies. */
export interface ReplyReceiver {
  /** Delivers a reply now; false when it was dropped (the channel cannot take it). */
  receiveReply(routingKey: string, properties: Buffer, body: Buffer): boolean;
}

/** The addresses of the channels consuming direct replies, shared by every connection of the broker. */
export class DirectReplies {
  private readonly receivers = new Map<string, ReplyReceiver>();

  /** A new address for `receiver`. */
  register(receiver: ReplyReceiver): string {
    const address = addressPrefix + randomBytes(16).toString('base64url');
    this.receivers.set(address, receiver);
    return address;
  }

  unregister(address: string): void {
    this.receivers.delete(address);
  }

  /** The receiver of a reply address; undefined for another name or a receiver gone. */
  receiver(address: string): ReplyReceiver | undefined {
    return isReplyAddress(address) ? this.receivers.get(address) : undefined;
  }
}

/** Whether a routing key or queue name is a reply address (whatever its token). */
export function isReplyAddress(name: string): boolean {
  return name.startsWith(addressPrefix);
}

/** Raw properties (flags + list) with reply-to replaced by `replyTo`. */
export function propertiesWithReplyTo(properties: Buffer, replyTo: string): Buffer {
  const decoded = decodeBasicProperties(new Reader(properties));
  const writer = new Writer();
  encodeBasicProperties({ ...decoded, replyTo }, writer);
  return writer.toBuffer();
}
