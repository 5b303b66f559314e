import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  batchHeaderBytes,
  batchTotalBytes,
  computeBatchCrc,
  forEachBatch,
  hasValidCrc,
  isLogAppendTime,
  readBaseOffset,
  readInt64Number,
  writeInt64Number,
  readBaseTimestamp,
  readLastOffset,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  readProducerId,
  readRecordsCount,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../../../src/protocol/kafka/batch-header.js';
import { encodeBatch, simpleBatch } from '../storage/batch-fixtures.js';
import { forEachRecordTimestamp } from '../../../src/protocol/kafka/record-walk.js';

const require = createRequire(import.meta.url);

interface KafkaJsRecordBatchModule {
  RecordBatch(options: Record<string, unknown>): Promise<{ buffer: Buffer }>;
}
type KafkaJsRecord = (options: Record<string, unknown>) => unknown;
type KafkaJsBatchDecoder = (decoder: unknown) => Promise<{ records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null }> }>;

test('a batch encoded by kafkajs passes our CRC and header readers (independent oracle)', async () => {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as KafkaJsRecordBatchModule;
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as KafkaJsRecord;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: unknown): unknown };
  const records = [0, 1, 2].map((index) => Record({ offsetDelta: index, timestampDelta: index * 10, key: Buffer.from(`k${index}`), value: Buffer.from(`v${index}`) }));
  const encoder = await RecordBatch({
    firstOffset: Long.fromValue(0),
    firstTimestamp: 1_000,
    maxTimestamp: 1_020,
    lastOffsetDelta: 2,
    partitionLeaderEpoch: 7,
    producerId: Long.fromValue(42),
    records,
  });
  const batch = encoder.buffer;
  assert.equal(batchTotalBytes(batch, 0), batch.length);
  assert.equal(readMagic(batch, 0), 2);
  assert.ok(hasValidCrc(batch, 0, batch.length));
  assert.equal(readPartitionLeaderEpoch(batch, 0), 7);
  assert.equal(readLastOffsetDelta(batch, 0), 2);
  assert.equal(readBaseTimestamp(batch, 0), 1_000);
  assert.equal(readMaxTimestamp(batch, 0), 1_020);
  assert.equal(readProducerId(batch, 0), 42n);
  assert.equal(readRecordsCount(batch, 0), 3);
  const seen: Array<[number, number]> = [];
  assert.ok(forEachRecordTimestamp(batch, 0, (record) => void seen.push([record.offset, record.timestamp])));
  assert.deepEqual(seen, [
    [0, 1_000],
    [1, 1_010],
    [2, 1_020],
  ]);
});

test('our fixture encoder produces batches kafkajs decodes', async () => {
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as KafkaJsBatchDecoder;
  const batch = encodeBatch(
    [
      { key: Buffer.from('a'), value: Buffer.from('hello'), timestamp: 5_000 },
      { key: null, value: null, timestamp: 5_007, headers: [['h', Buffer.from('x')]] },
    ],
    { baseOffset: 100 },
  );
  const decoded = await decodeBatch(new Decoder(batch));
  assert.equal(decoded.records.length, 2);
  assert.equal(decoded.records[0]!.offset, '100');
  assert.equal(decoded.records[1]!.offset, '101');
  assert.equal(decoded.records[1]!.timestamp, '5007');
  assert.equal(decoded.records[0]!.value!.toString(), 'hello');
  assert.equal(decoded.records[1]!.value, null);
});

test('patching baseOffset and leader epoch keeps the CRC valid', () => {
  const batch = simpleBatch(4);
  const crc = computeBatchCrc(batch, 0, batch.length);
  setBaseOffset(batch, 0, 2 ** 40 + 3);
  setPartitionLeaderEpoch(batch, 0, 9);
  assert.equal(readBaseOffset(batch, 0), 2 ** 40 + 3);
  assert.equal(readLastOffset(batch, 0), 2 ** 40 + 6);
  assert.equal(readPartitionLeaderEpoch(batch, 0), 9);
  assert.equal(computeBatchCrc(batch, 0, batch.length), crc);
  assert.ok(hasValidCrc(batch, 0, batch.length));
});

test('setLogAppendTime sets the flag and timestamp and recomputes the CRC', () => {
  const batch = simpleBatch(3, { timestamp: 1_000, spreadMs: 5 });
  setLogAppendTime(batch, 0, 99_000);
  assert.ok(isLogAppendTime(batch, 0));
  assert.equal(readMaxTimestamp(batch, 0), 99_000);
  assert.ok(hasValidCrc(batch, 0, batch.length));
  const timestamps: number[] = [];
  forEachRecordTimestamp(batch, 0, (record) => void timestamps.push(record.timestamp));
  assert.deepEqual(timestamps, [99_000, 99_000, 99_000]);
});

test('a flipped byte under the CRC is detected', () => {
  const batch = simpleBatch(2);
  batch[batch.length - 1]! ^= 0xff;
  assert.equal(hasValidCrc(batch, 0, batch.length), false);
});

test('forEachBatch walks consecutive batches and stops cleanly at a truncated tail', () => {
  const first = simpleBatch(2);
  const second = simpleBatch(3);
  const third = simpleBatch(1);
  const all = Buffer.concat([first, second, third]);
  for (let cut = 0; cut <= all.length; cut++) {
    const sizes: number[] = [];
    const end = forEachBatch(all.subarray(0, cut), (view) => void sizes.push(view.totalBytes));
    const expected = [first.length, second.length, third.length];
    let whole = 0;
    let bytes = 0;
    while (whole < expected.length && bytes + expected[whole]! <= cut) bytes += expected[whole++]!;
    assert.deepEqual(sizes, expected.slice(0, whole), `cut at ${cut}`);
    assert.equal(end, bytes);
  }
  assert.ok(first.length > batchHeaderBytes);
});

test('timestamps up to the safe-integer range round-trip through the varlong walk', () => {
  const batch = encodeBatch([
    { value: Buffer.from('a'), timestamp: 0 },
    { value: Buffer.from('b'), timestamp: 2 ** 45 },
  ]);
  const timestamps: number[] = [];
  forEachRecordTimestamp(batch, 0, (record) => void timestamps.push(record.timestamp));
  assert.deepEqual(timestamps, [0, 2 ** 45]);
});

test('int64 fields as numbers read and write what BigInt would, negative values and values past 2^32 included', () => {
  const buffer = Buffer.alloc(8);
  for (const value of [0, 1, -1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32), -(2 ** 32) - 1, 1_796_490_000_123, -1_796_490_000_123, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    writeInt64Number(buffer, value, 0);
    assert.equal(buffer.readBigInt64BE(0), BigInt(value), `write ${value}`);
    assert.equal(readInt64Number(buffer, 0), value, `read ${value}`);
  }
});
