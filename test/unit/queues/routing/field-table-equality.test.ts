/**
 * Field-table equality, which binding identity rests on: same names with the same typed values,
 * in any order; nested arrays in order, nested tables by name; byte strings by their bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { fieldTablesEqual, fieldValuesEqual } from '../../../../src/queues/routing/field-table-equality.js';
import { int32, int64, longString, table, voidValue } from './fixtures.js';

const oneOfEachType: FieldValue[] = [
  { type: 'boolean', value: true },
  { type: 'int8', value: -3 },
  { type: 'uint8', value: 3 },
  { type: 'int16', value: -300 },
  { type: 'uint16', value: 300 },
  int32(-70000),
  { type: 'uint32', value: 70000 },
  int64(-(2n ** 40n)),
  { type: 'float32', value: 1.5 },
  { type: 'float64', value: 0.1 },
  { type: 'decimal', scale: 2, unscaledValue: 12345 },
  longString('héllo'),
  { type: 'bytes', value: Buffer.from([0, 1, 2]) },
  { type: 'timestamp', value: 1_700_000_000n },
  { type: 'array', value: [int32(1), longString('x')] },
  { type: 'table', value: table(['inner', int32(1)]) },
  voidValue,
];

/** The same value built again from scratch, so no object is shared. */
function rebuilt(value: FieldValue): FieldValue {
  switch (value.type) {
    case 'longString':
    case 'bytes': return { type: value.type, value: Buffer.from(value.value) };
    case 'array': return { type: 'array', value: value.value.map(rebuilt) };
    case 'table': return { type: 'table', value: new Map([...value.value].map(([name, inner]) => [name, rebuilt(inner)])) };
    default: return { ...value };
  }
}

test('every value equals itself rebuilt, and no value of another type', () => {
  for (const value of oneOfEachType) {
    assert.ok(fieldValuesEqual(value, rebuilt(value)), `${value.type} equals itself`);
    for (const other of oneOfEachType) {
      if (other !== value) assert.ok(!fieldValuesEqual(value, other), `${value.type} differs from ${other.type}`);
    }
  }
});

test('the same number under two wire types is two values', () => {
  assert.ok(!fieldValuesEqual(int32(1), { type: 'uint32', value: 1 }));
  assert.ok(!fieldValuesEqual(int32(1), int64(1n)));
  assert.ok(!fieldValuesEqual({ type: 'float32', value: 1 }, { type: 'float64', value: 1 }));
  assert.ok(!fieldValuesEqual(longString('a'), { type: 'bytes', value: Buffer.from('a') }));
  assert.ok(!fieldValuesEqual({ type: 'int64', value: 5n }, { type: 'timestamp', value: 5n }));
});

test('values of one type differ by value', () => {
  assert.ok(!fieldValuesEqual(int32(1), int32(2)));
  assert.ok(!fieldValuesEqual(int64(1n), int64(2n)));
  assert.ok(!fieldValuesEqual({ type: 'boolean', value: true }, { type: 'boolean', value: false }));
  assert.ok(!fieldValuesEqual(longString('a'), longString('b')));
  assert.ok(!fieldValuesEqual(longString('a'), longString('ab')));
  assert.ok(!fieldValuesEqual({ type: 'decimal', scale: 1, unscaledValue: 10 }, { type: 'decimal', scale: 2, unscaledValue: 10 }));
  assert.ok(!fieldValuesEqual({ type: 'decimal', scale: 1, unscaledValue: 10 }, { type: 'decimal', scale: 1, unscaledValue: 11 }));
  assert.ok(fieldValuesEqual({ type: 'float64', value: Number.NaN }, { type: 'float64', value: Number.NaN }), 'NaN is the same value');
  assert.ok(!fieldValuesEqual({ type: 'float64', value: 0 }, { type: 'float64', value: -0 }), '0 and -0 are encoded apart');
});

test('arrays compare element by element, in order', () => {
  const array = (...values: FieldValue[]): FieldValue => ({ type: 'array', value: values });
  assert.ok(fieldValuesEqual(array(), array()));
  assert.ok(fieldValuesEqual(array(int32(1), int32(2)), array(int32(1), int32(2))));
  assert.ok(!fieldValuesEqual(array(int32(1), int32(2)), array(int32(2), int32(1))));
  assert.ok(!fieldValuesEqual(array(int32(1)), array(int32(1), int32(1))));
  assert.ok(!fieldValuesEqual(array(int32(1)), array(int64(1n))));
  assert.ok(fieldValuesEqual(array(array(longString('deep'))), array(array(longString('deep')))));
  assert.ok(!fieldValuesEqual(array(array(longString('deep'))), array(array(longString('deeq')))));
});

test('tables compare name by name, whatever the order, nested tables too', () => {
  const left = table(['a', int32(1)], ['b', { type: 'table', value: table(['x', longString('1')], ['y', voidValue]) }]);
  const reordered = table(['b', { type: 'table', value: table(['y', voidValue], ['x', longString('1')]) }], ['a', int32(1)]);
  assert.ok(fieldTablesEqual(left, reordered));
  assert.ok(fieldTablesEqual(table(), table()));
  assert.ok(!fieldTablesEqual(left, table(['a', int32(1)])), 'a name missing');
  assert.ok(!fieldTablesEqual(table(['a', int32(1)]), table(['b', int32(1)])), 'another name');
  assert.ok(!fieldTablesEqual(table(['a', int32(1)]), table(['a', int32(1)], ['b', voidValue])), 'a name more');
  const nestedChanged = table(['a', int32(1)], ['b', { type: 'table', value: table(['x', longString('2')], ['y', voidValue]) }]);
  assert.ok(!fieldTablesEqual(left, nestedChanged), 'a nested value differs');
});
