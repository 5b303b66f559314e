/**
 * --argument values of the AMQP admin commands: JSON when they read as JSON, text otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argumentValue, formatArguments } from '../../../src/cli/amqp-flags.js';

test('argument values are JSON numbers, booleans, null, objects and arrays, or else text', () => {
  assert.equal(argumentValue('60000'), 60000);
  assert.equal(argumentValue('-1.5'), -1.5);
  assert.equal(argumentValue('true'), true);
  assert.equal(argumentValue('null'), null);
  assert.deepEqual(argumentValue('{"a":[1,"b"]}'), { a: [1, 'b'] });
  assert.equal(argumentValue('"60000"'), '60000', 'a quoted number stays a string');
  assert.equal(argumentValue('classic'), 'classic');
  assert.equal(argumentValue('2024-05-01'), '2024-05-01', 'starts like a number, is not JSON');
  assert.equal(argumentValue('{oops'), '{oops');
  assert.equal(argumentValue('trueish'), 'trueish');
  assert.equal(argumentValue(''), '');
});

test('arguments shown in tables', () => {
  assert.equal(formatArguments({}), '');
  assert.equal(formatArguments({ 'x-message-ttl': 60000, 'x-queue-type': 'classic', nested: { a: true } }), 'x-message-ttl=60000 x-queue-type=classic nested={"a":true}');
});
