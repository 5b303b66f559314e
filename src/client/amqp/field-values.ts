/**
 * Plain values → an AMQP field table, for the arguments callers pass most (x-queue-type,
 * x-max-length, x-message-ttl …). Strings become long strings ('S'), booleans 't', integers a
 * signed 64-bit 'l' (RabbitMQ reads any integer type for its x- arguments), other numbers 'd'.
 * A caller needing exact wire types builds the FieldTable itself.
 */
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';

export type PlainFieldValue = string | number | boolean;

export function toFieldTable(values: Readonly<Record<string, PlainFieldValue>> | FieldTable | undefined): FieldTable {
  if (values === undefined) return new Map();
  if (values instanceof Map) return values;
  const table = new Map<string, FieldValue>();
  for (const [name, value] of Object.entries(values as Readonly<Record<string, PlainFieldValue>>)) table.set(name, toFieldValue(value));
  return table;
}

function toFieldValue(value: PlainFieldValue): FieldValue {
  if (typeof value === 'string') return { type: 'longString', value: Buffer.from(value, 'utf8') };
  if (typeof value === 'boolean') return { type: 'boolean', value };
  if (Number.isSafeInteger(value)) return { type: 'int64', value: BigInt(value) };
  return { type: 'float64', value };
}
