/**
 * RecordIterator (src/protocol/kafka/records.ts), the one walker of a batch's records, against
 * batches that KafkaJS's own encoder built (an oracle that is not us), plain and compressed with
 * KafkaJS's codec table (test/helpers/kafkajs-codecs.ts), and against damaged record sections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { batchTotalBytes, readCompressionCodec, recordsAt, setLogAppendTime } from '../../../src/protocol/kafka/batch-header.js';
import { compressionCodecs, decompressRecords } from '../../../src/protocol/kafka/compression.js';
import { RecordIterator } from '../../../src/protocol/kafka/records.js';
import type { RecordHeader } from '../../../src/protocol/kafka/records.js';
import { MalformedInputError } from '../../../src/protocol/wire/errors.js';
import { registerKafkaJsCodecs } from '../../helpers/kafkajs-codecs.js';
import { seededRandom } from '../../helpers/record-fixtures.js';

const require = createRequire(import.meta.url);

interface KafkaJsRecordBatchModule {
  RecordBatch(options: Record<string, unknown>): Promise<{ buffer: Buffer }>;
}
type KafkaJsRecord = (options: Record<string, unknown>) => unknown;

interface ExpectedRecord {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** KafkaJS takes headers as an object: one key, several values for a repeated key. */
  readonly headers: Record<string, Buffer | Buffer[]>;
}

const baseOffset = 1_000_000;
const baseTimestampMs = 1_700_000_000_000;

function randomRecords(seed: number, count: number): ExpectedRecord[] {
  const random = seededRandom(seed);
  const bytes = (maximum: number): Buffer | null => (random() < 0.15 ? null : Buffer.alloc(Math.floor(random() * maximum), Math.floor(random() * 256)));
  return Array.from({ length: count }, (_, index) => {
    const headers: Record<string, Buffer | Buffer[]> = {};
    const headerCount = Math.floor(random() * 4);
    for (let header = 0; header < headerCount; header++) headers[`h-${header}-ключ`] = header === 2 ? [Buffer.from('a'), Buffer.alloc(0)] : Buffer.alloc(Math.floor(random() * 40), header);
    // Deltas beyond one byte and, for timestamps, negative ones (records may be older than the first).
    return { offsetDelta: index, timestampDelta: Math.floor(random() * 400_000) - 1000, key: bytes(300), value: bytes(3000), headers };
  });
}

async function kafkaJsBatch(records: readonly ExpectedRecord[], compression: number): Promise<Buffer> {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as KafkaJsRecordBatchModule;
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as KafkaJsRecord;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: unknown): unknown };
  const encoded = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(baseOffset),
    firstTimestamp: baseTimestampMs,
    maxTimestamp: baseTimestampMs + Math.max(...records.map((record) => record.timestampDelta)),
    lastOffsetDelta: records.length - 1,
    records: records.map((record) => Record({ ...record })),
  });
  return encoded.buffer;
}

function expectedHeaders(record: ExpectedRecord): RecordHeader[] {
  return Object.entries(record.headers).flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((one) => ({ key, value: one })));
}

/** The batch's records section, decompressed when the batch says so. */
async function recordsSection(batch: Buffer): Promise<Buffer> {
  const stored = batch.subarray(recordsAt, batchTotalBytes(batch, 0));
  return decompressRecords(readCompressionCodec(batch, 0), stored);
}

test('the iterator reads what KafkaJS encodes, plain and with every codec', async () => {
  registerKafkaJsCodecs();
  for (const codec of Object.values(compressionCodecs)) {
    for (let seed = 1; seed <= 5; seed++) {
      const expected = randomRecords(seed * 10 + codec, 1 + seed * 7);
      const batch = await kafkaJsBatch(expected, codec);
      assert.equal(readCompressionCodec(batch, 0), codec);
      const section = await recordsSection(batch);
      const iterator = new RecordIterator(batch, 0, section, 0, section.length);
      for (const record of expected) {
        assert.ok(iterator.next(), `codec ${codec} seed ${seed}: record ${record.offsetDelta} is there`);
        const where = `codec ${codec} seed ${seed} record ${record.offsetDelta}`;
        assert.equal(iterator.offset, baseOffset + record.offsetDelta, where);
        assert.equal(iterator.timestampMs, baseTimestampMs + record.timestampDelta, where);
        assert.deepEqual(iterator.key(), record.key, where);
        assert.deepEqual(iterator.value(), record.value, where);
        assert.deepEqual(iterator.headers(), expectedHeaders(record), where);
      }
      assert.equal(iterator.next(), false);
      assert.equal(iterator.position, section.length, 'every byte of the section was read');
    }
  }
});

test('without asking for keys, values or headers the walk sees the same offsets and timestamps', async () => {
  const expected = randomRecords(99, 50);
  const batch = await kafkaJsBatch(expected, compressionCodecs.none);
  const end = batchTotalBytes(batch, 0);
  const iterator = new RecordIterator(batch, 0, batch, recordsAt, end);
  const seen: [number, number][] = [];
  while (iterator.next()) seen.push([iterator.offset, iterator.timestampMs]);
  assert.deepEqual(
    seen,
    expected.map((record) => [baseOffset + record.offsetDelta, baseTimestampMs + record.timestampDelta]),
  );
  assert.equal(iterator.position, end);
});

test('in a LogAppendTime batch every record has the batch maxTimestamp', async () => {
  const batch = await kafkaJsBatch(randomRecords(7, 10), compressionCodecs.none);
  setLogAppendTime(batch, 0, 1_800_000_000_000);
  const iterator = new RecordIterator(batch, 0, batch, recordsAt, batch.length);
  let count = 0;
  while (iterator.next()) {
    assert.equal(iterator.timestampMs, 1_800_000_000_000);
    count++;
  }
  assert.equal(count, 10);
});

test('a damaged records section throws MalformedInputError, never a wrong record', async () => {
  const batch = await kafkaJsBatch(randomRecords(3, 12), compressionCodecs.none);
  const end = batchTotalBytes(batch, 0);
  // Cut short anywhere: the walk must notice before it passes the cut.
  for (let cut = recordsAt; cut < end; cut += 7) {
    const iterator = new RecordIterator(batch, 0, batch, recordsAt, cut);
    assert.throws(
      () => {
        while (iterator.next()) iterator.headers();
      },
      MalformedInputError,
      `cut at ${cut}`,
    );
  }
  // A record length that claims more than is there.
  const lying = Buffer.from(batch);
  lying[recordsAt] = 0x7e; // zigzag 63 for a record shorter than that
  assert.throws(() => new RecordIterator(lying, 0, lying, recordsAt, recordsAt + 40).next(), /record: length 63/);
});
