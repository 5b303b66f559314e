/**
 * A queued message as the admin API's `get` answers it, in the shape of RabbitMQ's management API:
 *
 *   { payload, payload_bytes, payload_encoding: "string" | "base64", redelivered, exchange,
 *     routing_key, message_count, properties: { content_type, headers, delivery_mode, … } }
 *
 * The stored properties are the raw property flags and list of the publisher's content header
 * (queue-store/stored-message.ts); they are decoded here with the generated codec. Only the
 * properties the publisher set appear.
 */
import { decodeBasicProperties } from '../../protocol/amqp/generated/basic.js';
import { Reader } from '../../protocol/wire/reader.js';
import type { QueuedMessage } from '../../queues/queue-store/stored-message.js';
import { fieldTableToJson } from './field-table-json.js';
import type { JsonObject } from './field-table-json.js';

/** auto: the payload as a string when it is valid UTF-8, else base64; base64: always base64. */
export type PayloadEncoding = 'auto' | 'base64';

export interface MessageJsonOptions {
  readonly encoding: PayloadEncoding;
  /** Payload bytes shown at most (payload_bytes still gives the full size); null for all. */
  readonly truncateBytes: number | null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function messageToJson(queued: QueuedMessage, messageCount: number, options: MessageJsonOptions): JsonObject {
  const { message } = queued;
  const shown = options.truncateBytes === null ? message.body : message.body.subarray(0, options.truncateBytes);
  const text = options.encoding === 'auto' ? utf8OrNull(shown) : null;
  return {
    payload_bytes: message.body.length,
    redelivered: queued.redelivered,
    exchange: message.exchange,
    routing_key: message.routingKey,
    message_count: messageCount,
    properties: propertiesToJson(message.properties),
    payload: text ?? shown.toString('base64'),
    payload_encoding: text === null ? 'base64' : 'string',
  };
}

function utf8OrNull(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Property flags + list → RabbitMQ's property names (snake_case), present ones only. */
export function propertiesToJson(raw: Buffer): JsonObject {
  const properties = decodeBasicProperties(new Reader(raw));
  const json: JsonObject = {};
  if (properties.contentType !== undefined) json['content_type'] = properties.contentType;
  if (properties.contentEncoding !== undefined) json['content_encoding'] = properties.contentEncoding;
  if (properties.headers !== undefined) json['headers'] = fieldTableToJson(properties.headers);
  if (properties.deliveryMode !== undefined) json['delivery_mode'] = properties.deliveryMode;
  if (properties.priority !== undefined) json['priority'] = properties.priority;
  if (properties.correlationId !== undefined) json['correlation_id'] = properties.correlationId;
  if (properties.replyTo !== undefined) json['reply_to'] = properties.replyTo;
  if (properties.expiration !== undefined) json['expiration'] = properties.expiration;
  if (properties.messageId !== undefined) json['message_id'] = properties.messageId;
  if (properties.timestamp !== undefined) json['timestamp'] = Number(properties.timestamp);
  if (properties.type !== undefined) json['type'] = properties.type;
  if (properties.userId !== undefined) json['user_id'] = properties.userId;
  if (properties.appId !== undefined) json['app_id'] = properties.appId;
  if (properties.clusterId !== undefined) json['cluster_id'] = properties.clusterId;
  return json;
}
