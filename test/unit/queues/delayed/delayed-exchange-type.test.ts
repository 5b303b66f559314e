import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { delayOf, delayedRoutingType, headersOf, isDeclarableExchangeType, propertiesWithDelayServed } from '../../../../src/queues/delayed/delayed-exchange-type.js';

const headers = (value: FieldValue): FieldTable => new Map([['x-delay', value]]);

test('x-delay: integers of any width, floats and decimals truncated, decimal strings; anything else routes now', () => {
  assert.equal(delayOf(headers({ type: 'uint8', value: 200 })), 200);
  assert.equal(delayOf(headers({ type: 'int32', value: 5000 })), 5000);
  assert.equal(delayOf(headers({ type: 'int64', value: 86_400_000n })), 86_400_000);
  assert.equal(delayOf(headers({ type: 'float64', value: 150.9 })), 150);
  assert.equal(delayOf(headers({ type: 'decimal', scale: 1, unscaledValue: 2505 })), 250);
  assert.equal(delayOf(headers({ type: 'longString', value: Buffer.from('1500') })), 1500);
  // Routed now: missing, ≤ 0, beyond 2^32 − 1 ms, not a number.
  assert.equal(delayOf(undefined), 0);
  assert.equal(delayOf(new Map()), 0);
  assert.equal(delayOf(headers({ type: 'int32', value: 0 })), 0);
  assert.equal(delayOf(headers({ type: 'int32', value: -200 })), 0);
  assert.equal(delayOf(headers({ type: 'int64', value: 4_294_967_296n })), 0);
  assert.equal(delayOf(headers({ type: 'int64', value: 4_294_967_295n })), 4_294_967_295);
  assert.equal(delayOf(headers({ type: 'longString', value: Buffer.from('soon') })), 0);
  assert.equal(delayOf(headers({ type: 'float64', value: Number.NaN })), 0);
  assert.equal(delayOf(headers({ type: 'boolean', value: true })), 0);
});

test('x-delayed-type is required and must name a routing type', () => {
  assert.equal(delayedRoutingType(new Map([['x-delayed-type', { type: 'longString', value: Buffer.from('topic') }]])), 'topic');
  assert.match((delayedRoutingType(new Map()) as { problem: string }).problem, /'x-delayed-type' is required/);
  assert.match((delayedRoutingType(new Map([['x-delayed-type', { type: 'longString', value: Buffer.from('x-delayed-message') }]])) as { problem: string }).problem, /must be an existing exchange type .*'x-delayed-message'/);
  assert.match((delayedRoutingType(new Map([['x-delayed-type', { type: 'int32', value: 1 }]])) as { problem: string }).problem, /not a value of type int32/);
  assert.ok(isDeclarableExchangeType('x-delayed-message'));
  assert.ok(isDeclarableExchangeType('headers'));
  assert.ok(!isDeclarableExchangeType('x-consistent-hash'));
});

test('a held message is routed with x-delay negated, its other properties and headers kept', () => {
  const properties = { contentType: 'text/plain', deliveryMode: 2, headers: new Map<string, FieldValue>([['x-delay', { type: 'uint16', value: 600 }], ['tenant', { type: 'longString', value: Buffer.from('eu') }]]) };
  const served = headersOf(propertiesWithDelayServed(properties, 600))!;
  assert.deepEqual(served.get('x-delay'), { type: 'int32', value: -600 });
  assert.deepEqual(served.get('tenant'), { type: 'longString', value: Buffer.from('eu') });
  assert.deepEqual(headersOf(propertiesWithDelayServed({}, 4_000_000_000))!.get('x-delay'), { type: 'int64', value: -4_000_000_000n });
});
