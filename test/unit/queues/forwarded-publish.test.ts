/**
 * A publish forwarded to the broker serving its queue (src/queues/forwarded-publish.ts): the target
 * queue rides in one header, and the serving broker gets back the publisher's property bytes,
 * byte for byte, once it takes the header out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRawProperties, encodeRawProperties, type BasicProperties } from '../../../src/protocol/amqp/content-header.js';
import type { FieldValue } from '../../../src/protocol/amqp/field-table.js';
import { forwardedProperties, forwardedTarget, forwardedToHeader, propertiesAsPublished } from '../../../src/queues/forwarded-publish.js';

const longString = (text: string): FieldValue => ({ type: 'longString', value: Buffer.from(text, 'utf8') });

/** Every property set, headers of several types in a chosen order. */
const everyProperty: BasicProperties = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: new Map<string, FieldValue>([
    ['trace', longString('abc')],
    ['attempt', { type: 'int32', value: -7 }],
    ['nested', { type: 'table', value: new Map([['flag', { type: 'boolean', value: true }]]) }],
  ]),
  deliveryMode: 2,
  priority: 5,
  correlationId: 'c-1',
  replyTo: 'amq.rabbitmq.reply-to',
  expiration: '60000',
  messageId: 'm-1',
  timestamp: 1_765_000_000n,
  type: 'order.created',
  userId: 'guest',
  appId: 'shop',
  clusterId: 'legacy',
};

const { headers: _headers, ...everyPropertyButHeaders } = everyProperty;

/** As the serving broker sees them: encoded by the forwarding broker, decoded from the wire. */
function overTheWire(properties: BasicProperties): BasicProperties {
  return decodeRawProperties(encodeRawProperties(properties));
}

test('the forwarded properties are the published ones plus the target header, last', () => {
  const raw = encodeRawProperties(everyProperty);
  const forwarded = forwardedProperties(raw, 'orders');
  const { headers, ...rest } = forwarded;
  const { headers: publishedHeaders, ...publishedRest } = decodeRawProperties(raw);
  assert.deepEqual(rest, publishedRest);
  assert.deepEqual([...headers!], [...publishedHeaders!, [forwardedToHeader, longString('orders')]]);
  assert.equal(forwardedToHeader, 'x-osprey-forwarded-to');
  assert.equal(forwardedTarget(forwarded), 'orders');
  assert.equal(forwardedTarget(overTheWire(forwarded)), 'orders');

  // Without headers of its own the message gets a table holding the target only.
  const bare = forwardedProperties(encodeRawProperties({ deliveryMode: 1 }), 'queue ü/1');
  assert.deepEqual(bare, { deliveryMode: 1, headers: new Map([[forwardedToHeader, longString('queue ü/1')]]) });
  assert.equal(forwardedTarget(overTheWire(bare)), 'queue ü/1');
});

test('the target is read from a long string or byte array header, and is null when there is none', () => {
  assert.equal(forwardedTarget({}), null);
  assert.equal(forwardedTarget({ headers: new Map() }), null);
  assert.equal(forwardedTarget(everyProperty), null);
  assert.equal(forwardedTarget({ headers: new Map([[forwardedToHeader, { type: 'bytes', value: Buffer.from('q') }]]) }), 'q');
  assert.equal(forwardedTarget({ headers: new Map([[forwardedToHeader, { type: 'int32', value: 1 }]]) }), null);
  assert.equal(forwardedTarget({ headers: new Map([['X-Osprey-Forwarded-To', longString('q')]]) }), null);
});

test('the serving broker gets back the published property bytes, other headers kept in order', () => {
  const cases: BasicProperties[] = [
    everyProperty,
    { headers: new Map([['only', longString('one')]]) },
    // No headers: none come back (the flag stays clear).
    { deliveryMode: 2, contentType: 'text/plain' },
    everyPropertyButHeaders,
    {},
  ];
  for (const properties of cases) {
    const raw = encodeRawProperties(properties);
    const received = overTheWire(forwardedProperties(raw, 'orders'));
    assert.equal(forwardedTarget(received), 'orders');
    const restored = propertiesAsPublished(received);
    assert.ok(restored.equals(raw), `${restored.toString('hex')} is not ${raw.toString('hex')}`);
    assert.deepEqual(decodeRawProperties(restored), decodeRawProperties(raw));
  }
  // Without headers the restored properties have no headers field at all.
  assert.equal('headers' in decodeRawProperties(propertiesAsPublished(overTheWire(forwardedProperties(encodeRawProperties({ priority: 3 }), 'q')))), false);
});
