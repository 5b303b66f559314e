/** RabbitMQ's stream rules (queues/streams/stream-rules.ts): declarations, consumer checks, x-stream-offset forms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmqpChannelError, AmqpConnectionError } from '../../../../src/protocol/amqp/errors.js';
import type { FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { checkStreamDeclaration, intervalMs, parseStreamOffset, retentionConfigs, streamConsumerStart } from '../../../../src/queues/streams/stream-rules.js';

const text = (value: string): FieldValue => ({ type: 'longString', value: Buffer.from(value) });

test('x-stream-offset: first, last, next, offsets, timestamps in seconds, intervals back from now', () => {
  assert.deepEqual(parseStreamOffset(text('first')), { kind: 'first' });
  assert.deepEqual(parseStreamOffset(text('last')), { kind: 'last' });
  assert.deepEqual(parseStreamOffset(text('next')), { kind: 'next' });
  assert.deepEqual(parseStreamOffset({ type: 'uint8', value: 5 }), { kind: 'offset', offset: 5 });
  assert.deepEqual(parseStreamOffset({ type: 'int64', value: 12n }), { kind: 'offset', offset: 12 });
  assert.deepEqual(parseStreamOffset({ type: 'timestamp', value: 1_686_519_750n }), { kind: 'timestamp', timestampMs: 1_686_519_750_000 });
  assert.deepEqual(parseStreamOffset(text('1h'), 10_000_000), { kind: 'timestamp', timestampMs: 10_000_000 - 3_600_000 });
  assert.deepEqual(parseStreamOffset(text('2D'), 500_000_000), { kind: 'timestamp', timestampMs: 500_000_000 - 2 * 86_400_000 });
  assert.equal(parseStreamOffset(text('yesterday')), null);
  assert.equal(parseStreamOffset({ type: 'int32', value: -1 }), null);
  assert.equal(parseStreamOffset({ type: 'boolean', value: true }), null);
  assert.equal(intervalMs('7D'), 7 * 86_400_000);
  assert.equal(intervalMs('10x'), null);
});

test('a stream is durable, not exclusive, not auto-delete, with RabbitMQ texts', () => {
  assert.doesNotThrow(() => checkStreamDeclaration({ durable: true, exclusive: false, autoDelete: false }, 's', '/'));
  assert.throws(() => checkStreamDeclaration({ durable: false, exclusive: false, autoDelete: false }, 's', '/'), (error: unknown) => error instanceof AmqpChannelError && error.replyCode === 406 && error.message === "PRECONDITION_FAILED - invalid property 'non-durable' for queue 's' in vhost '/'");
  assert.throws(() => checkStreamDeclaration({ durable: true, exclusive: true, autoDelete: false }, 's', '/'), /invalid property 'exclusive-owner'/);
  assert.throws(() => checkStreamDeclaration({ durable: false, exclusive: true, autoDelete: true }, 's', '/'), /invalid property 'auto-delete'/, 'auto-delete is checked first');
});

test('consumers need a prefetch and manual acks; a bad offset is 406', () => {
  const request = { noAck: false, consumerPrefetch: 10, channelPrefetch: 0, arguments: new Map() };
  assert.deepEqual(streamConsumerStart(request, 's', '/'), { kind: 'next' });
  assert.throws(() => streamConsumerStart({ ...request, consumerPrefetch: 0 }, 's', '/'), /consumer prefetch count is not set for stream queue 's' in vhost '\/'/);
  assert.throws(() => streamConsumerStart({ ...request, noAck: true }, 's', '/'), (error: unknown) => error instanceof AmqpConnectionError && error.replyCode === 540);
  assert.throws(() => streamConsumerStart({ ...request, channelPrefetch: 5 }, 's', '/'), /does not support global qos/);
  assert.throws(() => streamConsumerStart({ ...request, arguments: new Map([['x-stream-offset', text('soon')]]) }, 's', '/'), /failed consuming from stream queue 's' in vhost '\/': \{invalid_offset_arg,soon\}/);
});

test('retention from x-max-length-bytes and x-max-age', () => {
  assert.deepEqual(retentionConfigs(new Map([['x-max-length-bytes', { type: 'int32', value: 1000 }], ['x-max-age', text('12h')]]), 's', '/'), new Map([['retention.bytes', '1000'], ['retention.ms', String(12 * 3_600_000)]]));
  assert.throws(() => retentionConfigs(new Map([['x-max-age', text('forever')]]), 's', '/'), /invalid arg 'x-max-age'/);
});
