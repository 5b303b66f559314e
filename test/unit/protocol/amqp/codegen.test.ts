/**
 * Parts of the AMQP generator no declared method exercises today: a run of more than eight bits
 * (which starts a second octet), argument names that cannot be local variables, and the limit of
 * one property-flags short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitClassFile } from '../../../../src/protocol/amqp/codegen/emit-codec.js';
import { argument, contentProperties, method } from '../../../../src/protocol/amqp/schema.js';

test('a run of nine bits takes two octets, the ninth at bit 0 of the second', () => {
  const names = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9'] as const;
  const declaration = method({ name: 'test.bits', classId: 1, methodId: 1, sender: 'client', content: false, arguments: names.map((name) => argument(name, 'bit')) });
  const text = emitClassFile('test.ts', [{ exportName: 'testBits', declaration }], [], '// header');
  assert.match(text, /const b8 = \(bits0 & 128\) !== 0;/);
  assert.match(text, /const bits1 = reader\.uint8\(\);\n {2}const b9 = \(bits1 & 1\) !== 0;/);
  assert.match(text, /\| \(value\.b8 \? 128 : 0\)\);\n {2}writer\.uint8\(\(value\.b9 \? 1 : 0\)\);/);
});

test('an argument named "arguments" is read into another local name and returned under its own', () => {
  const declaration = method({ name: 'test.table', classId: 1, methodId: 2, sender: 'client', content: false, arguments: [argument('arguments', 'table')] });
  const text = emitClassFile('test.ts', [{ exportName: 'testTable', declaration }], [], '// header');
  assert.match(text, /const argumentsValue = readFieldTable\(reader\);\n {2}return \{ arguments: argumentsValue \};/);
});

test('more than fifteen properties are refused at generation time', () => {
  const properties = contentProperties({ className: 'test', classId: 1, properties: Array.from({ length: 16 }, (_, index) => argument(`p${index}`, 'octet')) });
  assert.throws(() => emitClassFile('test.ts', [], [{ exportName: 'testProperties', declaration: properties }], '// header'), /at most 15/);
});
