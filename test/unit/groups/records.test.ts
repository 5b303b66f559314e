/**
 * The v2 record batch codec (src/protocol/kafka/records.ts) against oracles that are not itself:
 * kafkajs's encoder and decoder, and the test helpers' encoder written from the spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { decodeRecordBatch, decodeRecordBatches, encodeRecordBatch } from '../../../src/protocol/kafka/records.js';
import { MalformedInputError } from '../../../src/protocol/wire/errors.js';
import { decodeRecordBatches as decodeWithTestHelper, encodeRecordBatch as encodeWithTestHelper } from '../../helpers/raw-kafka-client.js';

const require = createRequire(import.meta.url);

interface KafkaJsRecordBatchModule {
  RecordBatch(options: Record<string, unknown>): Promise<{ buffer: Buffer }>;
}
type KafkaJsRecord = (options: Record<string, unknown>) => unknown;
type KafkaJsBatchDecoder = (decoder: unknown) => Promise<{
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[]> }>;
}>;

test('kafkajs decodes the batches we encode: offsets, timestamps, keys, values, headers', async () => {
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as KafkaJsBatchDecoder;
  const batch = encodeRecordBatch({
    baseOffset: 4000,
    baseTimestampMs: 1_700_000_000_000,
    records: [
      { key: Buffer.from('k0'), value: Buffer.from('v0') },
      { key: null, value: null, timestampMs: 1_700_000_000_250, headers: [{ key: 'h', value: Buffer.from('x') }] },
      { key: Buffer.alloc(300, 1), value: Buffer.alloc(5000, 2) },
    ],
  });
  const decoded = await decodeBatch(new Decoder(batch));
  assert.deepEqual(decoded.records.map((record) => record.offset), ['4000', '4001', '4002']);
  assert.deepEqual(decoded.records.map((record) => record.timestamp), ['1700000000000', '1700000000250', '1700000000000']);
  assert.equal(decoded.records[0]!.key!.toString(), 'k0');
  assert.equal(decoded.records[1]!.key, null);
  assert.equal(decoded.records[1]!.value, null);
  assert.equal((decoded.records[1]!.headers['h'] as Buffer).toString(), 'x');
  assert.deepEqual(decoded.records[2]!.value, Buffer.alloc(5000, 2));
});

test('we decode what kafkajs encodes, CRC checked', async () => {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as KafkaJsRecordBatchModule;
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as KafkaJsRecord;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: unknown): unknown };
  const records = [0, 1, 2].map((index) =>
    Record({ offsetDelta: index, timestampDelta: index * 10, key: Buffer.from(`k${index}`), value: Buffer.from(`v${index}`), headers: index === 1 ? { trace: 'abc' } : {} }),
  );
  const encoded = await RecordBatch({
    firstOffset: Long.fromValue(17),
    firstTimestamp: 1_000,
    maxTimestamp: 1_020,
    lastOffsetDelta: 2,
    partitionLeaderEpoch: 7,
    producerId: Long.fromValue(42),
    producerEpoch: 3,
    firstSequence: 9,
    records,
  });
  const batch = decodeRecordBatch(encoded.buffer);
  assert.equal(batch.baseOffset, 17);
  assert.equal(batch.lastOffset, 19);
  assert.equal(batch.partitionLeaderEpoch, 7);
  assert.equal(batch.producerId, 42n);
  assert.equal(batch.producerEpoch, 3);
  assert.equal(batch.baseSequence, 9);
  assert.equal(batch.totalBytes, encoded.buffer.length);
  assert.deepEqual(
    batch.records.map((record) => [record.offset, record.timestampMs, record.key?.toString(), record.value?.toString()]),
    [
      [17, 1_000, 'k0', 'v0'],
      [18, 1_010, 'k1', 'v1'],
      [19, 1_020, 'k2', 'v2'],
    ],
  );
  assert.deepEqual(batch.records[1]!.headers, [{ key: 'trace', value: Buffer.from('abc') }]);
});

test('the spec-written helper agrees both ways, and consecutive batches decode in order', () => {
  const ours = encodeRecordBatch({ baseTimestampMs: 5_000, records: [{ key: Buffer.from('a'), value: Buffer.from('b'), headers: [{ key: 'n', value: null }] }] });
  const helpers = decodeWithTestHelper(ours);
  assert.equal(helpers.length, 1);
  assert.ok(helpers[0]!.crcValid);
  assert.deepEqual(helpers[0]!.records[0]!.headers, [{ key: 'n', value: null }]);
  const theirs = encodeWithTestHelper([{ key: null, value: Buffer.from('x') }, { key: Buffer.from('y'), value: null, timestampDelta: 3 }], { baseTimestamp: 9_000 });
  const both = Buffer.concat([ours, theirs, theirs.subarray(0, 30)]);
  const { batches, endPosition } = decodeRecordBatches(both);
  assert.equal(batches.length, 2);
  assert.equal(endPosition, ours.length + theirs.length);
  assert.deepEqual(batches[1]!.records.map((record) => record.timestampMs), [9_000, 9_003]);
});

test('malformed batches are refused with MalformedInputError, never decoded by half', () => {
  const good = encodeRecordBatch({ baseTimestampMs: 1, records: [{ key: Buffer.from('k'), value: Buffer.from('value') }] });
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 0xff;
  assert.throws(() => decodeRecordBatch(flipped), MalformedInputError);
  assert.throws(() => decodeRecordBatch(good.subarray(0, good.length - 1)), MalformedInputError);
  const compressed = Buffer.from(good);
  compressed.writeInt16BE(1, 21);
  assert.throws(() => decodeRecordBatch(compressed, 0, { verifyCrc: false }), /compression/);
  const wrongCount = Buffer.from(good);
  wrongCount.writeInt32BE(2, 57);
  assert.throws(() => decodeRecordBatch(wrongCount, 0, { verifyCrc: false }), MalformedInputError);
  assert.throws(() => encodeRecordBatch({ baseTimestampMs: 1, records: [] }), RangeError);
});
