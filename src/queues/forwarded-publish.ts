/**
 * A publish one broker of a cluster hands to the broker serving a queue (cluster/queue-links.ts):
 * routing was done where the client published, so the message goes to that one queue only, and
 * keeps the exchange and routing key it was published with (consumers read them in basic.deliver)
 * and its properties byte for byte (an empty headers table stays an empty table). The forwarded
 * publish carries two headers and no other property; the serving broker stores the publisher's
 * properties from the second:
 *
 *   basic.publish  exchange = as published, routing-key = as published
 *   properties     headers["x-osprey-forwarded-to"]         = queue name (long string)
 *                  headers["x-osprey-published-properties"] = the publisher's property flags and
 *                                                             property list, raw (byte array)
 *
 * Only a connection logged in as another broker (server/amqp/handshake.ts) is read this way; from
 * a client these are ordinary headers.
 */
import type { FieldValue } from '../protocol/amqp/field-table.js';
import type { BasicProperties } from '../protocol/amqp/content-header.js';

export const forwardedToHeader = 'x-osprey-forwarded-to';
export const publishedPropertiesHeader = 'x-osprey-published-properties';

/** The properties to forward a stored message with: the target queue, and its own properties as raw bytes. */
export function forwardedProperties(properties: Buffer, queueName: string): BasicProperties {
  return {
    headers: new Map<string, FieldValue>([
      [forwardedToHeader, { type: 'longString', value: Buffer.from(queueName, 'utf8') }],
      [publishedPropertiesHeader, { type: 'bytes', value: properties }],
    ]),
  };
}

/** The queue a forwarded publish is for, or null when it names none. */
export function forwardedTarget(properties: BasicProperties): string | null {
  const value = properties.headers?.get(forwardedToHeader);
  return value !== undefined && (value.type === 'longString' || value.type === 'bytes') ? value.value.toString('utf8') : null;
}

/** The publisher's raw properties a forwarded publish carries; null when it carries none. */
export function propertiesAsPublished(properties: BasicProperties): Buffer | null {
  const value = properties.headers?.get(publishedPropertiesHeader);
  return value !== undefined && (value.type === 'bytes' || value.type === 'longString') ? value.value : null;
}
