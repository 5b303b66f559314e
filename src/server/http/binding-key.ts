/**
 * The "properties key" naming one binding among those between the same source and destination,
 * in URLs of the admin API (`DELETE /api/bindings/{vhost}/e/{source}/q/{queue}/{key}`), as
 * RabbitMQ's management API names bindings:
 *
 *   no arguments:    the routing key, with '%' written %25 and '~' written %7E; "~" for the empty key
 *   with arguments:  that escaped routing key, '~', then 22 characters of the base64url SHA-256 of
 *                    the arguments table (entries sorted by name, encoded as on the wire)
 *
 * An escaped routing key holds no '~', so no two bindings share a key. The key is one path segment:
 * clients percent-encode it like any other (a routing key "a/b" is sent as a%2Fb).
 */
import { createHash } from 'node:crypto';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { writeFieldTable } from '../../protocol/amqp/field-table.js';
import { Writer } from '../../protocol/wire/writer.js';

const argumentsHashLength = 22;

export function bindingPropertiesKey(routingKey: string, bindingArguments: FieldTable): string {
  const escaped = routingKey.replaceAll('%', '%25').replaceAll('~', '%7E');
  if (bindingArguments.size === 0) return escaped === '' ? '~' : escaped;
  const sorted = new Map([...bindingArguments].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)));
  const writer = new Writer();
  writeFieldTable(writer, sorted);
  const hash = createHash('sha256').update(writer.toBuffer()).digest('base64url').slice(0, argumentsHashLength);
  return `${escaped}~${hash}`;
}
