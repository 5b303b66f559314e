import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecordBatch } from '../../../../src/protocol/kafka/records.js';
import { hasValidCrc, setBaseOffset } from '../../../../src/protocol/kafka/batch-header.js';
import { MalformedInputError } from '../../../../src/protocol/wire/errors.js';
import { decodeMessages, encodeMessage } from '../../../../src/queues/queue-store/message-codec.js';
import type { StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { encodeBatch } from '../../storage/batch-fixtures.js';
import { seededRandom } from '../../../helpers/record-fixtures.js';

function message(overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    exchange: 'orders',
    routingKey: 'order.created',
    properties: Buffer.from([0x90, 0x00, 0x0a, 0x74, 0x65, 0x78, 0x74, 0x2f, 0x70, 0x6c, 0x61, 0x69, 0x6e, 0x02]),
    body: Buffer.from('{"id":42}'),
    persistent: true,
    publishedAtMs: 1_765_000_000_123,
    expiresAtMs: null,
    ...overrides,
  };
}

function decodeAll(chunks: Buffer[]): Array<{ offset: number; message: StoredMessage; costBytes: number }> {
  const decoded: Array<{ offset: number; message: StoredMessage; costBytes: number }> = [];
  decodeMessages(chunks, (offset, decodedMessage, costBytes) => {
    decoded.push({ offset, message: decodedMessage, costBytes });
  });
  return decoded;
}

test('a message is one batch with one record, byte for byte what an independent encoder writes from the format', () => {
  const original = message();
  const { batch } = encodeMessage(original);
  // The fixture encoder in test/unit/storage is written from the Kafka format description alone.
  const expected = encodeBatch(
    [
      {
        key: Buffer.from(original.routingKey),
        value: original.body,
        timestamp: original.publishedAtMs,
        headers: [
          ['amqp.exchange', Buffer.from(original.exchange)],
          ['amqp.persistent', Buffer.from([1])],
          ['amqp.properties', original.properties],
        ],
      },
    ],
    { partitionLeaderEpoch: -1 },
  );
  assert.deepEqual(batch, expected);
  assert.ok(hasValidCrc(batch, 0, batch.length));
});

test('records.ts decodes the batch: key, value, timestamp and the three amqp headers', () => {
  const original = message({ routingKey: 'ключ.🚀', exchange: 'échange', persistent: false, body: Buffer.alloc(300_000, 7) });
  const { batch } = encodeMessage(original);
  const decoded = decodeRecordBatch(batch);
  assert.equal(decoded.records.length, 1);
  const record = decoded.records[0]!;
  assert.equal(record.timestampMs, original.publishedAtMs);
  assert.equal(record.key?.toString('utf8'), original.routingKey);
  assert.deepEqual(record.value, original.body);
  assert.deepEqual(
    record.headers.map((header) => [header.key, header.value]),
    [
      ['amqp.exchange', Buffer.from('échange')],
      ['amqp.persistent', Buffer.from([0])],
      ['amqp.properties', original.properties],
    ],
  );
});

test('the encoded message is views of the batch, equal to the original, not the publisher buffers', () => {
  const original = message();
  const encoded = encodeMessage(original);
  assert.deepEqual(encoded.message, original);
  assert.equal(encoded.message.body.buffer, encoded.batch.buffer);
  assert.equal(encoded.message.properties.buffer, encoded.batch.buffer);
  original.body.fill(0);
  assert.equal(encoded.message.body.toString(), '{"id":42}');
});

test('decodeMessages walks chunks of batches as a log read returns them, with offsets and sizes', () => {
  const messages = [message(), message({ body: Buffer.alloc(0), properties: Buffer.alloc(0), routingKey: '', exchange: '' }), message({ persistent: false, publishedAtMs: 5 })];
  const batches = messages.map((each, index) => {
    const { batch } = encodeMessage(each);
    setBaseOffset(batch, 0, 100 + index);
    return batch;
  });
  const decoded = decodeAll([Buffer.concat(batches.slice(0, 2)), batches[2]!]);
  assert.deepEqual(
    decoded.map((entry) => entry.offset),
    [100, 101, 102],
  );
  assert.deepEqual(
    decoded.map((entry) => entry.message),
    messages,
  );
  assert.deepEqual(
    decoded.map((entry) => entry.costBytes),
    batches.map((batch) => batch.length),
  );
});

test('decodeMessages stops when the visitor says so', () => {
  const batches = [0, 1, 2].map((index) => {
    const { batch } = encodeMessage(message({ routingKey: `k${index}` }));
    setBaseOffset(batch, 0, index);
    return batch;
  });
  const seen: number[] = [];
  decodeMessages([batches[0]!, Buffer.concat(batches.slice(1))], (offset) => {
    seen.push(offset);
    return offset < 1;
  });
  assert.deepEqual(seen, [0, 1]);
});

test('a record that is not a queue message is refused', () => {
  const foreign = encodeBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), headers: [['amqp.exchange', Buffer.from('x')]] }]);
  assert.throws(() => decodeAll([foreign]), MalformedInputError);
  const noKey = encodeBatch([
    {
      key: null,
      value: Buffer.from('v'),
      headers: [
        ['amqp.exchange', Buffer.from('x')],
        ['amqp.persistent', Buffer.from([1])],
        ['amqp.properties', Buffer.alloc(0)],
      ],
    },
  ]);
  assert.throws(() => decodeAll([noKey]), MalformedInputError);
});

test('random messages come back as they went in, one-record batches read in place, expiry times included', () => {
  const random = seededRandom(12);
  const names = ['', 'orders', 'events', 'orderz', 'échange', 'ключ.🚀', 'a'.repeat(255)];
  const messages = Array.from({ length: 300 }, (_, index) =>
    message({
      exchange: names[Math.floor(random() * names.length)]!,
      routingKey: index % 3 === 0 ? 'same' : names[Math.floor(random() * names.length)]!,
      body: Buffer.alloc(Math.floor(random() * 3000), index % 256),
      properties: Buffer.alloc(Math.floor(random() * 40), 0x20),
      persistent: random() < 0.5,
      publishedAtMs: 1_765_000_000_000 + Math.floor(random() * 1e9),
      expiresAtMs: random() < 0.3 ? 1_765_000_000_000 + Math.floor(random() * 1e10) : null,
    }),
  );
  const chunk = Buffer.concat(
    messages.map((each, index) => {
      const { batch } = encodeMessage(each);
      setBaseOffset(batch, 0, 2 ** 40 + index);
      return batch;
    }),
  );
  const decoded = decodeAll([chunk]);
  assert.deepEqual(
    decoded.map((entry) => entry.message),
    messages,
  );
  assert.deepEqual(
    decoded.map((entry) => entry.offset),
    messages.map((_, index) => 2 ** 40 + index),
  );
});

test('a batch of several records (not written by the queue, but readable) is decoded record by record; unknown headers are ignored', () => {
  const headers = (exchange: string): Array<[string, Buffer]> => [
    ['trace', Buffer.from('ignored')],
    ['amqp.exchange', Buffer.from(exchange)],
    ['amqp.persistent', Buffer.from([1])],
    ['amqp.properties', Buffer.from([0x10, 0x00, 0x02])],
  ];
  const batch = encodeBatch(
    [
      { key: Buffer.from('k1'), value: Buffer.from('one'), timestamp: 1000, headers: headers('x') },
      { key: Buffer.from('k2'), value: Buffer.from('two'), timestamp: 1005, headers: headers('y') },
    ],
    { baseOffset: 7 },
  );
  const decoded = decodeAll([batch]);
  assert.deepEqual(
    decoded.map((entry) => [entry.offset, entry.message.exchange, entry.message.routingKey, entry.message.body.toString(), entry.message.publishedAtMs]),
    [
      [7, 'x', 'k1', 'one', 1000],
      [8, 'y', 'k2', 'two', 1005],
    ],
  );
  const single = encodeBatch([{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 42, headers: headers('z') }]);
  assert.equal(decodeAll([single])[0]!.message.exchange, 'z');
});

test('a one-record batch whose fields run past its end is refused, not read beyond', () => {
  const original = message();
  const { batch } = encodeMessage(original);
  // The properties end the batch; their length varint (one byte) is just before them.
  const lengthAt = batch.length - original.properties.length - 1;
  assert.equal(batch[lengthAt], original.properties.length * 2);
  batch[lengthAt] = 126; // zigzag of 63: past the end of the batch
  assert.throws(() => decodeAll([batch]), MalformedInputError);
});
