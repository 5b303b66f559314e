/**
 * The AMQP message ⇄ Kafka record mapping (queues/streams/record-mapping.ts): what a record carries
 * for Kafka readers, and what comes back over AMQP, exactly for messages that went out over AMQP and
 * plainly for records written by Kafka clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import type { BasicProperties } from '../../../../src/protocol/amqp/content-header.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../../src/protocol/amqp/generated/basic.js';
import { Reader } from '../../../../src/protocol/wire/reader.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';
import { messageFromRecord, recordFromMessage } from '../../../../src/queues/streams/record-mapping.js';
import type { StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import type { TopicRecord } from '../../../../src/queues/streams/topic-access.js';

function propertyBytes(properties: BasicProperties): Buffer {
  const writer = new Writer();
  encodeBasicProperties(properties, writer);
  return writer.toBuffer();
}

function message(properties: BasicProperties, routingKey = 'order.eu', exchange = 'orders'): StoredMessage {
  return { exchange, routingKey, properties: propertyBytes(properties), body: Buffer.from('body'), persistent: properties.deliveryMode === 2, publishedAtMs: 1_700_000_000_123, expiresAtMs: null };
}

function asRead(record: ReturnType<typeof recordFromMessage>, offset = 7): TopicRecord {
  return { offset, timestampMs: record.timestampMs, key: record.key, value: record.value, headers: record.headers };
}

function headerText(record: ReturnType<typeof recordFromMessage>, name: string): string | undefined {
  return record.headers.find((header) => header.key === name)?.value?.toString('utf8');
}

test('every property becomes an amqp.* header, the routing key the key, the publish time the timestamp', () => {
  const properties: BasicProperties = {
    contentType: 'application/json', contentEncoding: 'gzip', deliveryMode: 2, priority: 9, correlationId: 'c-1', replyTo: 'replies',
    expiration: '60000', messageId: 'm-1', timestamp: 1_699_999_999n, type: 'order.created', userId: 'guest', appId: 'shop',
  };
  const record = recordFromMessage(message(properties));
  assert.equal(record.key?.toString(), 'order.eu');
  assert.equal(record.value?.toString(), 'body');
  assert.equal(record.timestampMs, 1_700_000_000_123);
  const expected: Record<string, string> = {
    'amqp.exchange': 'orders', 'amqp.routing-key': 'order.eu', 'amqp.content-type': 'application/json', 'amqp.content-encoding': 'gzip', 'amqp.delivery-mode': '2', 'amqp.priority': '9',
    'amqp.correlation-id': 'c-1', 'amqp.reply-to': 'replies', 'amqp.expiration': '60000', 'amqp.message-id': 'm-1', 'amqp.timestamp': '1699999999', 'amqp.type': 'order.created', 'amqp.user-id': 'guest', 'amqp.app-id': 'shop',
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(headerText(record, name), value, name);
  const back = messageFromRecord(asRead(record), { withStreamOffset: false });
  assert.deepEqual(decodeBasicProperties(new Reader(back.properties)), properties, 'the properties come back as they were');
  assert.equal(back.exchange, 'orders');
  assert.equal(back.routingKey, 'order.eu');
  assert.equal(back.persistent, true);
});

test('a headers table of strings travels as plain headers; typed values also as the exact table', () => {
  const strings: FieldTable = new Map([['tenant', { type: 'longString', value: Buffer.from('acme') }]]);
  const plain = recordFromMessage(message({ headers: strings }));
  assert.equal(headerText(plain, 'tenant'), 'acme');
  assert.equal(headerText(plain, 'amqp.headers'), undefined, 'only strings: no encoded table');
  const typed: FieldTable = new Map<string, import('../../../../src/protocol/amqp/field-table.js').FieldValue>([
    ['attempt', { type: 'int32', value: 3 }],
    ['urgent', { type: 'boolean', value: true }],
    ['nested', { type: 'table', value: new Map([['a', { type: 'int8', value: 1 }]]) }],
  ]);
  const record = recordFromMessage(message({ headers: typed }));
  assert.equal(headerText(record, 'attempt'), '3');
  assert.equal(headerText(record, 'urgent'), 'true');
  assert.equal(headerText(record, 'nested'), undefined, 'no text for a table');
  const back = decodeBasicProperties(new Reader(messageFromRecord(asRead(record, 42), { withStreamOffset: true }).properties));
  assert.deepEqual(back.headers?.get('attempt'), { type: 'int32', value: 3 });
  assert.deepEqual(back.headers?.get('nested'), typed.get('nested'));
  assert.deepEqual(back.headers?.get('x-stream-offset'), { type: 'int64', value: 42n });
});

test('an empty routing key is a null key; a Kafka record without amqp.* headers gets plain properties', () => {
  assert.equal(recordFromMessage(message({}, '')).key, null);
  const kafkaRecord: TopicRecord = { offset: 3, timestampMs: 5, key: Buffer.from('user-1'), value: Buffer.from('hello'), headers: [{ key: 'source', value: Buffer.from('kcat') }, { key: 'empty', value: null }] };
  const back = messageFromRecord(kafkaRecord, { withStreamOffset: false });
  assert.equal(back.exchange, '');
  assert.equal(back.routingKey, 'user-1');
  assert.equal(back.body.toString(), 'hello');
  assert.equal(back.persistent, false);
  const properties = decodeBasicProperties(new Reader(back.properties));
  assert.deepEqual(Object.keys(properties), ['headers']);
  assert.deepEqual(properties.headers?.get('source'), { type: 'longString', value: Buffer.from('kcat') });
  assert.deepEqual(properties.headers?.get('empty'), { type: 'void' });
  assert.equal(messageFromRecord({ ...kafkaRecord, key: null, value: null, headers: [] }, { withStreamOffset: false, persistent: true }).persistent, true);
  const bare = messageFromRecord({ ...kafkaRecord, key: null, value: null, headers: [] }, { withStreamOffset: false });
  assert.equal(bare.routingKey, '');
  assert.equal(bare.body.length, 0);
});

test('values a short string or an octet cannot hold are left out', () => {
  const record: TopicRecord = { offset: 0, timestampMs: 0, key: null, value: null, headers: [
    { key: 'amqp.priority', value: Buffer.from('300') },
    { key: 'amqp.delivery-mode', value: Buffer.from('two') },
    { key: 'amqp.message-id', value: Buffer.alloc(300, 0x61) },
    { key: 'amqp.timestamp', value: Buffer.from('-5') },
  ] };
  assert.deepEqual(decodeBasicProperties(new Reader(messageFromRecord(record, { withStreamOffset: false }).properties)), {});
});
