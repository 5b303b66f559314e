/**
 * Field tables against amqplib's codec: for every value type and for random nested tables, our
 * bytes equal amqplib's, we decode what amqplib encodes to the same typed values, and amqplib
 * decodes what we encode. Malformed tables (truncated anywhere, unknown tags, nesting past the
 * limit, too many values) throw MalformedInputError and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFieldTable, writeFieldTable } from '../../../../src/protocol/amqp/field-table.js';
import type { FieldTable, FieldTableLimits, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { Reader } from '../../../../src/protocol/wire/reader.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';
import { MalformedInputError } from '../../../../src/protocol/wire/errors.js';
import { amqplibDecodeTable, amqplibEncodeTable, asAmqplibDecodes } from './amqplib-oracle.js';
import { fieldTable, fieldValue, fieldValueTypes, seededRandom } from './random-values.js';

function encode(table: FieldTable): Buffer {
  const writer = new Writer();
  writeFieldTable(writer, table);
  return writer.toBuffer();
}

function decode(bytes: Buffer, limits?: FieldTableLimits): FieldTable {
  const reader = new Reader(bytes);
  const table = limits === undefined ? readFieldTable(reader) : readFieldTable(reader, limits);
  assert.equal(reader.remaining, 0, 'the table is read to its end');
  return table;
}

function assertAgreesWithAmqplib(table: FieldTable, context: string): void {
  const ours = encode(table);
  const theirs = amqplibEncodeTable(table);
  assert.deepEqual(ours, theirs, `${context}: same bytes as amqplib`);
  assert.deepEqual(decode(theirs), table, `${context}: we decode amqplib's bytes`);
  assert.deepEqual(amqplibDecodeTable(ours), asAmqplibDecodes(table), `${context}: amqplib decodes ours`);
}

test('every field value type encodes as amqplib encodes it, and decodes both ways', () => {
  for (const type of fieldValueTypes) {
    for (let seed = 1; seed <= 20; seed++) {
      const value = fieldValue(seededRandom(seed), 0, type);
      assertAgreesWithAmqplib(new Map([['value', value]]), `${type}, seed ${seed}`);
    }
  }
});

test('the tags on the wire are RabbitMQ\'s', () => {
  const expected: Record<FieldValue['type'], string> = {
    boolean: 't', int8: 'b', uint8: 'B', int16: 's', uint16: 'u', int32: 'I', uint32: 'i', int64: 'l', float32: 'f',
    float64: 'd', decimal: 'D', longString: 'S', bytes: 'x', timestamp: 'T', array: 'A', table: 'F', void: 'V',
  };
  for (const type of fieldValueTypes) {
    const bytes = encode(new Map([['a', fieldValue(seededRandom(1), 0, type)]]));
    // size (4), name length (1), name "a" (1), then the tag.
    assert.equal(String.fromCharCode(bytes[6]!), expected[type], type);
  }
});

test('random nested tables agree with amqplib', () => {
  for (let seed = 1; seed <= 300; seed++) assertAgreesWithAmqplib(fieldTable(seededRandom(seed)), `seed ${seed}`);
});

test('an empty table is four zero bytes', () => {
  assert.deepEqual(encode(new Map()), Buffer.alloc(4));
  assert.deepEqual(decode(Buffer.alloc(4)), new Map());
});

test('a table cut short anywhere is malformed, never a crash', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const bytes = encode(fieldTable(seededRandom(seed), 0, 4));
    for (let length = 0; length < bytes.length; length++) {
      assert.throws(() => readFieldTable(new Reader(bytes.subarray(0, length))), MalformedInputError, `seed ${seed}, ${length} of ${bytes.length} bytes`);
    }
  }
});

test('a size claiming more than the bytes left is malformed, so are sizes inside it', () => {
  const table = encode(new Map<string, FieldValue>([['a', { type: 'longString', value: Buffer.from('hello') }]]));
  const oversized = Buffer.from(table);
  oversized.writeUInt32BE(0xffffffff, 0);
  assert.throws(() => decode(oversized), MalformedInputError);
  const innerOversized = Buffer.from(table);
  innerOversized.writeUInt32BE(0xffff, 7); // the longString's length
  assert.throws(() => decode(innerOversized), MalformedInputError);
});

test('unknown tags, the spec\'s U and L among them, are malformed', () => {
  for (const tag of ['U', 'L', 'Z', '\0', 'e']) {
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 4, 1, 0x61]), Buffer.from(tag, 'latin1'), Buffer.alloc(1)]);
    bytes.writeUInt32BE(bytes.length - 4, 0);
    assert.throws(() => decode(bytes), (error: unknown) => error instanceof MalformedInputError && /unknown field table value type/.test(error.message), tag);
  }
});

function nestedTables(depth: number): FieldTable {
  let table: FieldTable = new Map([['leaf', { type: 'void' }]]);
  for (let level = 1; level < depth; level++) table = new Map([['t', { type: 'table', value: table }]]);
  return table;
}

function nestedArrays(depth: number): FieldTable {
  let value: FieldValue = { type: 'array', value: [] };
  for (let level = 2; level < depth; level++) value = { type: 'array', value: [value] };
  return new Map([['a', value]]);
}

test('nesting deeper than the limit is malformed, at the limit it is read', () => {
  const limits = { maxDepth: 5, maxValues: 1000 };
  assert.deepEqual(decode(encode(nestedTables(5)), limits), nestedTables(5));
  assert.throws(() => decode(encode(nestedTables(6)), limits), /nested deeper than 5/);
  assert.deepEqual(decode(encode(nestedArrays(5)), limits), nestedArrays(5));
  assert.throws(() => decode(encode(nestedArrays(6)), limits), /nested deeper than 5/);
  // The default limit holds against a table nested a thousand deep (a stack overflow otherwise).
  const deep = encode(nestedTables(1000));
  assert.throws(() => decode(deep), MalformedInputError);
});

test('more values than the limit in one table, at any depth, are malformed', () => {
  const limits = { maxDepth: 16, maxValues: 10 };
  const voids = (count: number): FieldValue => ({ type: 'array', value: Array.from({ length: count }, () => ({ type: 'void' }) as const) });
  assert.equal(decode(encode(new Map([['a', voids(9)]])), limits).size, 1, '1 entry and 9 elements');
  assert.throws(() => decode(encode(new Map([['a', voids(10)]])), limits), /more than 10 values/);
});

test('random bytes never escape as anything but MalformedInputError', () => {
  const random = seededRandom(7);
  for (let attempt = 0; attempt < 2000; attempt++) {
    const bytes = encode(fieldTable(random, 0, 3));
    const position = Math.floor(random() * bytes.length);
    bytes[position] = Math.floor(random() * 256);
    try {
      readFieldTable(new Reader(bytes));
    } catch (error) {
      if (!(error instanceof MalformedInputError)) throw error;
    }
  }
});

test('large values, written by reference as chunks of their own, leave every size right', () => {
  const big = Buffer.alloc(5000, 7);
  const table: FieldTable = new Map<string, FieldValue>([
    ['before', { type: 'longString', value: Buffer.from('x'.repeat(300)) }],
    ['nested', { type: 'table', value: new Map<string, FieldValue>([['big', { type: 'bytes', value: big }], ['after', { type: 'int8', value: -1 }]]) }],
    ['list', { type: 'array', value: [{ type: 'bytes', value: big }, { type: 'longString', value: big }, { type: 'void' }] }],
  ]);
  assertAgreesWithAmqplib(table, 'large values');
});
