/**
 * Binding properties keys: the routing key escaped, '~' for the empty key, a hash of the arguments
 * that ignores their order and tells different values (and types) apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import { bindingPropertiesKey } from '../../../../src/server/http/binding-key.js';

const none: FieldTable = new Map();
const text = (value: string) => ({ type: 'longString', value: Buffer.from(value) }) as const;

test('without arguments the key is the escaped routing key', () => {
  assert.equal(bindingPropertiesKey('order.*', none), 'order.*');
  assert.equal(bindingPropertiesKey('', none), '~');
  assert.equal(bindingPropertiesKey('a~b', none), 'a%7Eb');
  assert.equal(bindingPropertiesKey('50%', none), '50%25');
  assert.equal(bindingPropertiesKey('%7E', none), '%257E', 'an escaped-looking key does not collide with an escaped one');
});

test('with arguments a hash follows, independent of their order, different for other values', () => {
  const one = bindingPropertiesKey('k', new Map([['x-match', text('all')], ['kind', text('invoice')]]));
  assert.match(one, /^k~[A-Za-z0-9_-]{22}$/);
  assert.equal(bindingPropertiesKey('k', new Map([['kind', text('invoice')], ['x-match', text('all')]])), one);
  assert.notEqual(bindingPropertiesKey('k', new Map([['x-match', text('any')], ['kind', text('invoice')]])), one);
  assert.notEqual(bindingPropertiesKey('k', new Map([['n', { type: 'int32', value: 1 }]])), bindingPropertiesKey('k', new Map([['n', { type: 'int8', value: 1 }]])));
  assert.match(bindingPropertiesKey('', new Map([['a', text('b')]])), /^~[A-Za-z0-9_-]{22}$/);
});
