/**
 * The producer's batches (src/client/batch-builder.ts on the protocol's RecordBatchBuilder) read
 * back by KafkaJS's decoder, an oracle that is not us, for every codec; and by our own readers,
 * so the client's writer and the broker's idea of the layout are checked to be one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { batchTotalBytes, hasValidCrc, readBaseSequence, readCompressionCodec, readProducerEpoch, readProducerId, readRecordsCount, recordsAt } from '../../../src/protocol/kafka/batch-header.js';
import { compressionCodecs, decompressRecords } from '../../../src/protocol/kafka/compression.js';
import { RecordIterator } from '../../../src/protocol/kafka/records.js';
import { BatchBuilder } from '../../../src/client/batch-builder.js';
import type { Bytes, HeaderToSend } from '../../../src/client/batch-builder.js';
import { registerKafkaJsCodecs } from '../../helpers/kafkajs-codecs.js';

const require = createRequire(import.meta.url);

type KafkaJsBatchDecoder = (decoder: unknown) => Promise<{
  firstSequence: number;
  producerId: string;
  producerEpoch: number;
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[]> }>;
}>;

interface RecordToSend {
  readonly timestampMs: number;
  readonly key: Bytes;
  readonly value: Bytes;
  readonly headers?: readonly HeaderToSend[];
}

const records: RecordToSend[] = [
  { timestampMs: 1_700_000_000_500, key: 'user-1', value: 'first, as text' },
  { timestampMs: 1_700_000_000_000, key: null, value: Buffer.alloc(2000, 3), headers: [{ key: 'trace', value: 'abc' }] }, // older than the first
  { timestampMs: 1_700_000_900_000, key: Buffer.from([0, 1, 2]), value: null, headers: [{ key: 'ключ', value: Buffer.alloc(0) }, { key: 'x', value: 'é' }] },
  { timestampMs: 1_700_000_000_501, key: '', value: '🦅'.repeat(100) },
];

function asBuffer(bytes: Bytes): Buffer | null {
  return bytes === null ? null : typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
}

async function build(codec: number): Promise<Buffer> {
  const builder = new BatchBuilder(64);
  for (const record of records) builder.append(record.timestampMs, record.key, record.value, record.headers);
  assert.equal(builder.recordCount, records.length);
  return builder.finish(codec, { producerId: 77n, producerEpoch: 2, baseSequence: 1234 });
}

test('KafkaJS decodes the producer batches of every codec: offsets, timestamps, keys, values, headers, identity', async () => {
  registerKafkaJsCodecs();
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as KafkaJsBatchDecoder;
  for (const codec of Object.values(compressionCodecs)) {
    const batch = await build(codec);
    assert.equal(readCompressionCodec(batch, 0), codec);
    assert.ok(hasValidCrc(batch, 0, batch.length), `codec ${codec}: CRC`);
    const decoded = await decodeBatch(new Decoder(batch));
    assert.equal(decoded.producerId, '77');
    assert.equal(decoded.producerEpoch, 2);
    assert.equal(decoded.firstSequence, 1234);
    assert.deepEqual(
      decoded.records.map((record) => [record.offset, record.timestamp]),
      records.map((record, index) => [String(index), String(record.timestampMs)]),
      `codec ${codec}`,
    );
    decoded.records.forEach((record, index) => {
      const sent = records[index]!;
      assert.deepEqual(record.key, asBuffer(sent.key), `codec ${codec} record ${index} key`);
      assert.deepEqual(record.value, asBuffer(sent.value), `codec ${codec} record ${index} value`);
      assert.deepEqual(Object.keys(record.headers), (sent.headers ?? []).map((header) => header.key));
    });
  }
});

test('our own iterator reads the producer batches back the same way', async () => {
  for (const codec of Object.values(compressionCodecs)) {
    const batch = await build(codec);
    assert.equal(readRecordsCount(batch, 0), records.length);
    assert.equal(readProducerId(batch, 0), 77n);
    assert.equal(readProducerEpoch(batch, 0), 2);
    assert.equal(readBaseSequence(batch, 0), 1234);
    const section = await decompressRecords(codec, batch.subarray(recordsAt, batchTotalBytes(batch, 0)));
    const iterator = new RecordIterator(batch, 0, section, 0, section.length);
    for (const [index, sent] of records.entries()) {
      assert.ok(iterator.next());
      assert.equal(iterator.offset, index);
      assert.equal(iterator.timestampMs, sent.timestampMs);
      assert.deepEqual(iterator.key(), asBuffer(sent.key));
      assert.deepEqual(iterator.value(), asBuffer(sent.value));
      assert.deepEqual(
        iterator.headers(),
        (sent.headers ?? []).map((header) => ({ key: header.key, value: asBuffer(header.value) })),
      );
    }
    assert.equal(iterator.next(), false);
    assert.equal(iterator.position, section.length);
  }
});

test('a batch without identity carries -1 for producer id, epoch and sequence', async () => {
  const builder = new BatchBuilder(16);
  builder.append(5, null, 'v', undefined);
  const batch = await builder.finish(compressionCodecs.none);
  assert.equal(readProducerId(batch, 0), -1n);
  assert.equal(readProducerEpoch(batch, 0), -1);
  assert.equal(readBaseSequence(batch, 0), -1);
});
