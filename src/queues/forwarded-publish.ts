/**
 * A publish one broker of a cluster hands to the broker serving a queue (cluster/queue-links.ts):
 * routing was done where the client published, so the message goes to that one queue only, and
 * keeps the exchange and routing key it was published with (consumers read them in basic.deliver).
 * The target queue travels in one header of the forwarded message's properties, which the serving
 * broker takes out again before storing it:
 *
 *   basic.publish  exchange = as published, routing-key = as published
 *   properties     as published, plus headers["x-osprey-forwarded-to"] = queue name (long string)
 *
 * Only a connection logged in as another broker (server/amqp/handshake.ts) is read this way; from
 * a client the header is an ordinary header.
 */
import type { FieldValue } from '../protocol/amqp/field-table.js';
import { decodeRawProperties, encodeRawProperties, type BasicProperties } from '../protocol/amqp/content-header.js';

export const forwardedToHeader = 'x-osprey-forwarded-to';

/** The properties to forward a stored message with: its own plus the target queue. */
export function forwardedProperties(properties: Buffer, queueName: string): BasicProperties {
  const decoded = decodeRawProperties(properties);
  const headers = new Map<string, FieldValue>(decoded.headers ?? []);
  headers.set(forwardedToHeader, { type: 'longString', value: Buffer.from(queueName, 'utf8') });
  return { ...decoded, headers };
}

/** The queue a forwarded publish is for, or null when it names none. */
export function forwardedTarget(properties: BasicProperties): string | null {
  const value = properties.headers?.get(forwardedToHeader);
  return value !== undefined && (value.type === 'longString' || value.type === 'bytes') ? value.value.toString('utf8') : null;
}

/** The message's raw properties as published, without the target header (headers left out when it was the only one). */
export function propertiesAsPublished(properties: BasicProperties): Buffer {
  const headers = new Map(properties.headers ?? []);
  headers.delete(forwardedToHeader);
  const { headers: _target, ...rest } = properties;
  return encodeRawProperties(headers.size === 0 ? rest : { ...rest, headers });
}
