import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldTable, FieldValue } from '../../../src/protocol/amqp/field-table.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../src/protocol/amqp/generated/basic.js';
import { Reader } from '../../../src/protocol/wire/reader.js';
import { Writer } from '../../../src/protocol/wire/writer.js';
import { deadLetteredProperties, isDeathCycle, propertiesWithDeliveryCount, type Death } from '../../../src/queues/dead-lettering.js';

function encode(properties: Parameters<typeof encodeBasicProperties>[0]): Buffer {
  const writer = new Writer();
  encodeBasicProperties(properties, writer);
  return writer.toBuffer();
}

function decode(properties: Buffer): ReturnType<typeof decodeBasicProperties> {
  return decodeBasicProperties(new Reader(properties));
}

function text(value: FieldValue | undefined): string | undefined {
  return value?.type === 'longString' ? value.value.toString('utf8') : undefined;
}

function deaths(properties: Buffer): FieldTable[] {
  const value = decode(properties).headers?.get('x-death');
  assert.equal(value?.type, 'array');
  return (value as { readonly value: readonly FieldValue[] }).value.map((entry) => (entry as { value: FieldTable }).value);
}

const death = (queue: string, reason: Death['reason']): Death => ({ queue, reason, exchange: 'orders', routingKey: 'eu.new', timeMs: 1_765_000_000_000 });

test('a first death writes x-death, x-first-death-* and x-last-death-*, and moves expiration into original-expiration', () => {
  const before = encode({ contentType: 'text/plain', expiration: '5000', headers: new Map([['trace', { type: 'longString', value: Buffer.from('abc') }]]) });
  const after = deadLetteredProperties(before, death('work', 'expired')).properties;
  const decoded = decode(after);
  assert.equal(decoded.expiration, undefined);
  assert.equal(decoded.contentType, 'text/plain');
  assert.equal(text(decoded.headers!.get('trace')), 'abc');
  const [entry] = deaths(after);
  assert.equal(text(entry!.get('queue')), 'work');
  assert.equal(text(entry!.get('reason')), 'expired');
  assert.equal(text(entry!.get('exchange')), 'orders');
  assert.equal(text(entry!.get('original-expiration')), '5000');
  assert.deepEqual(entry!.get('count'), { type: 'int64', value: 1n });
  assert.deepEqual(entry!.get('time'), { type: 'timestamp', value: 1_765_000_000n });
  assert.deepEqual(entry!.get('routing-keys'), { type: 'array', value: [{ type: 'longString', value: Buffer.from('eu.new') }] });
  assert.equal(text(decoded.headers!.get('x-first-death-queue')), 'work');
  assert.equal(text(decoded.headers!.get('x-last-death-reason')), 'expired');
});

test('repeated deaths: the same (queue, reason) counts up and moves to the front; first-death headers stay', () => {
  let properties = encode({});
  properties = deadLetteredProperties(properties, death('work', 'rejected')).properties;
  properties = deadLetteredProperties(properties, death('retry', 'expired')).properties;
  properties = deadLetteredProperties(properties, death('work', 'rejected')).properties;
  const entries = deaths(properties);
  assert.deepEqual(entries.map((entry) => `${text(entry.get('queue'))}/${text(entry.get('reason'))}`), ['work/rejected', 'retry/expired']);
  assert.deepEqual(entries[0]!.get('count'), { type: 'int64', value: 2n });
  assert.deepEqual(entries[1]!.get('count'), { type: 'int64', value: 1n });
  const headers = decode(properties).headers!;
  assert.equal(text(headers.get('x-first-death-queue')), 'work');
  assert.equal(text(headers.get('x-first-death-reason')), 'rejected');
  assert.equal(text(headers.get('x-last-death-queue')), 'work');
});

test('cycles: a queue among the deaths is a cycle unless a rejection came in between', () => {
  const entries = (list: Array<[string, string]>): FieldValue[] =>
    list.map(([queue, reason]) => ({ type: 'table', value: new Map<string, FieldValue>([['queue', { type: 'longString', value: Buffer.from(queue) }], ['reason', { type: 'longString', value: Buffer.from(reason) }]]) }));
  assert.equal(isDeathCycle('a', entries([['a', 'expired']])), true);
  assert.equal(isDeathCycle('a', entries([['b', 'expired'], ['a', 'maxlen']])), true);
  assert.equal(isDeathCycle('a', entries([['b', 'rejected'], ['a', 'expired']])), false);
  assert.equal(isDeathCycle('c', entries([['b', 'expired'], ['a', 'expired']])), false);
  assert.equal(isDeathCycle('a', []), false);
});

test('x-delivery-count is set (or replaced) and the rest of the properties kept', () => {
  const once = propertiesWithDeliveryCount(encode({ messageId: 'm-1', headers: new Map([['x-delivery-count', { type: 'int64', value: 7n }]]) }), 2);
  const decoded = decode(once);
  assert.equal(decoded.messageId, 'm-1');
  assert.deepEqual(decoded.headers!.get('x-delivery-count'), { type: 'int64', value: 2n });
});
