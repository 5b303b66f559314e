/**
 * A publish forwarded to the broker serving its queue (src/queues/forwarded-publish.ts): the target
 * queue and the publisher's raw properties ride in two headers, and the serving broker gets the
 * property bytes back byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRawProperties, encodeRawProperties, type BasicProperties } from '../../../src/protocol/amqp/content-header.js';
import type { FieldValue } from '../../../src/protocol/amqp/field-table.js';
import { forwardedProperties, forwardedTarget, forwardedToHeader, propertiesAsPublished, publishedPropertiesHeader } from '../../../src/queues/forwarded-publish.js';

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

test('a forwarded publish carries the target queue and the published properties, raw, and nothing else', () => {
  const raw = encodeRawProperties(everyProperty);
  const forwarded = forwardedProperties(raw, 'orders');
  assert.deepEqual(Object.keys(forwarded), ['headers']);
  assert.deepEqual([...forwarded.headers!.keys()], [forwardedToHeader, publishedPropertiesHeader]);
  assert.equal(forwardedToHeader, 'x-osprey-forwarded-to');
  assert.equal(publishedPropertiesHeader, 'x-osprey-published-properties');
  assert.equal(forwardedTarget(forwarded), 'orders');
  assert.equal(forwardedTarget(overTheWire(forwarded)), 'orders');
  assert.equal(forwardedTarget(overTheWire(forwardedProperties(encodeRawProperties({ deliveryMode: 1 }), 'queue ü/1'))), 'queue ü/1');
});

test('the target is read from a long string or byte array header, and is null when there is none', () => {
  assert.equal(forwardedTarget({}), null);
  assert.equal(forwardedTarget({ headers: new Map() }), null);
  assert.equal(forwardedTarget(everyProperty), null);
  assert.equal(forwardedTarget({ headers: new Map([[forwardedToHeader, { type: 'bytes', value: Buffer.from('q') }]]) }), 'q');
  assert.equal(forwardedTarget({ headers: new Map([[forwardedToHeader, { type: 'int32', value: 1 }]]) }), null);
  assert.equal(forwardedTarget({ headers: new Map([['X-Osprey-Forwarded-To', longString('q')]]) }), null);
  assert.equal(propertiesAsPublished({ headers: new Map([[forwardedToHeader, longString('q')]]) }), null);
});

test('the serving broker gets back the published property bytes exactly, an empty headers table included', () => {
  const cases: BasicProperties[] = [
    everyProperty,
    { headers: new Map([['only', longString('one')]]) },
    // An empty table, as amqplib sends when the publisher set no headers: it stays an empty table.
    { headers: new Map(), deliveryMode: 2 },
    { deliveryMode: 2, contentType: 'text/plain' },
    everyPropertyButHeaders,
    {},
  ];
  for (const properties of cases) {
    const raw = encodeRawProperties(properties);
    const restored = propertiesAsPublished(overTheWire(forwardedProperties(raw, 'orders')));
    assert.ok(restored !== null);
    assert.ok(restored.equals(raw), `${raw.toString('hex')} came back as ${restored.toString('hex')}`);
    assert.deepEqual(decodeRawProperties(restored), decodeRawProperties(raw));
  }
});
