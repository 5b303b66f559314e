/**
 * Field tables ↔ JSON for the admin API: what JSON becomes (checked against amqplib's decoder, an
 * outside oracle, and against the typed values we expect), what field values become in JSON, and
 * the refusals of untrusted JSON (depth, value count, long names, non-finite numbers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFieldTable } from '../../../../src/protocol/amqp/field-table.js';
import type { FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';
import { FieldTableJsonError, fieldTableFromJson, fieldTableToJson } from '../../../../src/server/http/field-table-json.js';
import { amqplibDecodeTable } from '../../protocol/amqp/amqplib-oracle.js';

function encoded(table: FieldTable): Buffer {
  const writer = new Writer();
  writeFieldTable(writer, table);
  return writer.toBuffer();
}

test('JSON values become the field value types the admin API documents', () => {
  const table = fieldTableFromJson({ text: 'ttl', small: 10, negative: -5, edge: 2_147_483_647, big: 2_147_483_648, huge: -9_007_199_254_740_991, ratio: 0.25, yes: true, nothing: null, list: [1, 'a'], nested: { depth: 2 } }, 'arguments');
  assert.deepEqual(table.get('text'), { type: 'longString', value: Buffer.from('ttl') });
  assert.deepEqual(table.get('small'), { type: 'int32', value: 10 });
  assert.deepEqual(table.get('negative'), { type: 'int32', value: -5 });
  assert.deepEqual(table.get('edge'), { type: 'int32', value: 2_147_483_647 });
  assert.deepEqual(table.get('big'), { type: 'int64', value: 2_147_483_648n });
  assert.deepEqual(table.get('huge'), { type: 'int64', value: -9_007_199_254_740_991n });
  assert.deepEqual(table.get('ratio'), { type: 'float64', value: 0.25 });
  assert.deepEqual(table.get('yes'), { type: 'boolean', value: true });
  assert.deepEqual(table.get('nothing'), { type: 'void' });
  assert.deepEqual(table.get('list'), { type: 'array', value: [{ type: 'int32', value: 1 }, { type: 'longString', value: Buffer.from('a') }] });
  assert.deepEqual(table.get('nested'), { type: 'table', value: new Map([['depth', { type: 'int32', value: 2 }]]) });
  assert.deepEqual([...table.keys()], ['text', 'small', 'negative', 'edge', 'big', 'huge', 'ratio', 'yes', 'nothing', 'list', 'nested'], 'key order kept');
});

test('amqplib decodes what JSON became back to the same JSON', () => {
  const json = { 'x-message-ttl': 60_000, 'x-dead-letter-exchange': 'dlx', 'x-max-length-bytes': 10_000_000_000, flag: false, weight: 1.5, tags: ['a', 'b', 3], inner: { deeper: { name: 'ü' } }, empty: {}, none: null };
  assert.deepEqual(amqplibDecodeTable(encoded(fieldTableFromJson(json, 'arguments'))), json);
});

test('JSON round-trips through a field table', () => {
  const json = { a: 'text', b: 42, c: 3_000_000_000, d: -0.5, e: true, f: null, g: [[1], { h: 'i' }], j: {} };
  assert.deepEqual(fieldTableToJson(fieldTableFromJson(json, 'arguments')), json);
});

test('field values of every wire type have a JSON form', () => {
  const table: FieldTable = new Map([
    ['int8', { type: 'int8', value: -3 }],
    ['uint16', { type: 'uint16', value: 65_000 }],
    ['uint32', { type: 'uint32', value: 4_000_000_000 }],
    ['float32', { type: 'float32', value: 0.5 }],
    ['int64', { type: 'int64', value: 5n }],
    ['bigInt64', { type: 'int64', value: 2n ** 60n }],
    ['timestamp', { type: 'timestamp', value: 1_700_000_000n }],
    ['decimal', { type: 'decimal', scale: 2, unscaledValue: 1234 }],
    ['bytes', { type: 'bytes', value: Buffer.from([0, 255]) }],
    ['longString', { type: 'longString', value: Buffer.from('héllo') }],
    ['void', { type: 'void' }],
  ]);
  assert.deepEqual(fieldTableToJson(table), {
    int8: -3,
    uint16: 65_000,
    uint32: 4_000_000_000,
    float32: 0.5,
    int64: 5,
    bigInt64: '1152921504606846976',
    timestamp: 1_700_000_000,
    decimal: 12.34,
    bytes: 'AP8=',
    longString: 'héllo',
    void: null,
  });
});

test('a name like __proto__ stays an ordinary entry both ways', () => {
  const json = JSON.parse('{"__proto__": {"polluted": true}, "b": 1}') as unknown;
  const table = fieldTableFromJson(json, 'headers');
  assert.deepEqual([...table.keys()], ['__proto__', 'b']);
  const back = fieldTableToJson(table);
  assert.equal(JSON.stringify(back), '{"__proto__":{"polluted":true},"b":1}');
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

test('untrusted JSON is refused with the path of the problem', () => {
  assert.deepEqual(fieldTableFromJson(undefined, 'arguments'), new Map());
  assert.throws(() => fieldTableFromJson('text', 'arguments'), (error: unknown) => error instanceof FieldTableJsonError && /arguments: expected an object/.test(error.message));
  assert.throws(() => fieldTableFromJson([1], 'arguments'), /expected an object/);
  assert.throws(() => fieldTableFromJson({ [`${'n'.repeat(256)}`]: 1 }, 'arguments'), /longer than 255 bytes/);
  let deep: unknown = 1;
  for (let level = 0; level < 20; level++) deep = { level: deep };
  assert.throws(() => fieldTableFromJson(deep, 'arguments'), /nested deeper than 16/);
  let deepArray: unknown = 1;
  for (let level = 0; level < 20; level++) deepArray = [deepArray];
  assert.throws(() => fieldTableFromJson({ list: deepArray }, 'arguments'), /arguments\.list\[0\]\[0\].*nested deeper/);
  assert.throws(() => fieldTableFromJson({ many: new Array(10).fill(0) }, 'arguments', { maxDepth: 16, maxValues: 5 }), /more than 5 values/);
  assert.throws(() => fieldTableFromJson({ x: { y: Number.POSITIVE_INFINITY } }, 'arguments'), /arguments\.x\.y: not a finite number/);
  // Numbers beyond 2^53 are not exact in JSON: they stay floats rather than becoming a wrong integer.
  assert.deepEqual(fieldTableFromJson({ far: 2 ** 60 }, 'arguments').get('far'), { type: 'float64', value: 2 ** 60 });
});
