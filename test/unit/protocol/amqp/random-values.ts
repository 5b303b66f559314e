/**
 * Seeded random values of every AMQP domain and field table type, so a failing case can be replayed
 * from its seed. Values stay inside what both codecs under comparison can carry: 64-bit integers
 * within 2^53 (amqplib holds them as numbers), float32 values exactly representable, table names
 * that are not array indexes (a JavaScript object would reorder them).
 */
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import type { Domain } from '../../../../src/protocol/amqp/schema.js';

export type Random = () => number;

/** The project's seeded generator (mulberry32), so a failing seed replays exactly. */
export { seededRandom } from '../../../helpers/record-fixtures.js';

export function integer(random: Random, lowest: number, highest: number): number {
  return lowest + Math.floor(random() * (highest - lowest + 1));
}

function pick<T>(random: Random, choices: readonly T[]): T {
  return choices[Math.floor(random() * choices.length)]!;
}

const alphabet = 'abcdefghijklmnopqrstuvwxyz-._/ éß中';

export function text(random: Random, maxCharacters: number): string {
  let result = '';
  const length = integer(random, 0, maxCharacters);
  for (let index = 0; index < length; index++) result += pick(random, [...alphabet]);
  return result;
}

function bytes(random: Random, maxBytes: number): Buffer {
  const result = Buffer.alloc(integer(random, 0, maxBytes));
  for (let index = 0; index < result.length; index++) result[index] = integer(random, 0, 255);
  return result;
}

/** Up to 2^53 - 1 (what amqplib's numbers can hold exactly), with the edges more often. */
function safeUnsigned64(random: Random): bigint {
  return BigInt(pick(random, [0, 1, Number.MAX_SAFE_INTEGER, integer(random, 0, 2 ** 32), Math.floor(random() * Number.MAX_SAFE_INTEGER)]));
}

export function domainValue(random: Random, domain: Domain, depth = 0): unknown {
  switch (domain) {
    case 'octet': return pick(random, [0, 255, integer(random, 0, 255)]);
    case 'short': return pick(random, [0, 65535, integer(random, 0, 65535)]);
    case 'long': return pick(random, [0, 4294967295, integer(random, 0, 4294967295)]);
    case 'longlong':
    case 'timestamp': return safeUnsigned64(random);
    case 'bit': return random() < 0.5;
    case 'shortstr': return pick(random, ['', 'x'.repeat(255), text(random, 40)]);
    case 'longstr': return bytes(random, 300);
    case 'table': return fieldTable(random, depth);
  }
}

export function fieldTable(random: Random, depth = 0, entryCount = integer(random, 0, depth === 0 ? 8 : 3)): FieldTable {
  const table = new Map<string, FieldValue>();
  for (let index = 0; index < entryCount; index++) table.set(`k${index}${text(random, 10)}`, fieldValue(random, depth + 1));
  return table;
}

export const fieldValueTypes = [
  'boolean', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float32', 'float64',
  'decimal', 'longString', 'bytes', 'timestamp', 'array', 'table', 'void',
] as const satisfies readonly FieldValue['type'][];

export function fieldValue(random: Random, depth: number, type = pick(random, depth >= 3 ? fieldValueTypes.filter((name) => name !== 'array' && name !== 'table') : fieldValueTypes)): FieldValue {
  switch (type) {
    case 'boolean': return { type, value: random() < 0.5 };
    case 'int8': return { type, value: integer(random, -128, 127) };
    case 'uint8': return { type, value: integer(random, 0, 255) };
    case 'int16': return { type, value: integer(random, -32768, 32767) };
    case 'uint16': return { type, value: integer(random, 0, 65535) };
    case 'int32': return { type, value: integer(random, -(2 ** 31), 2 ** 31 - 1) };
    case 'uint32': return { type, value: integer(random, 0, 2 ** 32 - 1) };
    case 'int64': return { type, value: BigInt(integer(random, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) };
    case 'float32': return { type, value: Math.fround((random() - 0.5) * 1e6) };
    case 'float64': return { type, value: (random() - 0.5) * 1e300 };
    case 'decimal': return { type, scale: integer(random, 0, 255), unscaledValue: integer(random, 0, 2 ** 32 - 1) };
    case 'longString': return { type, value: Buffer.from(text(random, 60), 'utf8') };
    case 'bytes': return { type, value: bytes(random, 40) };
    case 'timestamp': return { type, value: safeUnsigned64(random) };
    case 'array': return { type, value: Array.from({ length: integer(random, 0, 4) }, () => fieldValue(random, depth + 1)) };
    case 'table': return { type, value: fieldTable(random, depth) };
    case 'void': return { type };
  }
}
