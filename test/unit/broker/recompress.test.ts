import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recompressBatch } from '../../../src/broker/recompress.js';
import { compressionCodecMask, hasValidCrc, readAttributes, recordsAt } from '../../../src/protocol/kafka/batch-header.js';
import { DecompressionError, decompressRecords } from '../../../src/protocol/kafka/compression.js';
import { decodeRecordBatch } from '../../../src/protocol/kafka/records.js';
import { encodeBatch } from '../storage/batch-fixtures.js';

const records = Array.from({ length: 50 }, (_, index) => ({
  key: index % 5 === 0 ? null : Buffer.from(`key-${index}`),
  value: Buffer.from(`value ${index} `.repeat(20)),
  timestamp: 1_765_000_000_000 + index,
  headers: [['trace', Buffer.from(`t${index}`)]] as Array<[string, Buffer]>,
}));
const plain = encodeBatch(records, { baseOffset: 0, attributes: 0 });

test('every codec to every codec: same header but codec, length and CRC; same records; back to uncompressed byte for byte', async () => {
  for (const from of [0, 1, 2, 3, 4]) {
    const source = await recompressBatch(plain, from, 1 << 20);
    for (const to of [0, 1, 2, 3, 4]) {
      const converted = await recompressBatch(source, to, 1 << 20);
      assert.equal(readAttributes(converted, 0) & compressionCodecMask, to, `${from} → ${to}`);
      assert.ok(hasValidCrc(converted, 0, converted.length), `${from} → ${to}: CRC`);
      assert.deepEqual(converted.subarray(0, 8), plain.subarray(0, 8), `${from} → ${to}: base offset kept`);
      assert.deepEqual(converted.subarray(12, 17), plain.subarray(12, 17), `${from} → ${to}: leader epoch and magic kept`);
      assert.deepEqual(converted.subarray(23, 61), plain.subarray(23, 61), `${from} → ${to}: header fields after the attributes kept`);
      assert.deepEqual(await decompressRecords(to, converted.subarray(recordsAt)), plain.subarray(recordsAt), `${from} → ${to}: the same records`);
      const back = await recompressBatch(converted, 0, 1 << 20);
      assert.deepEqual(back, plain, `${from} → ${to} → uncompressed`);
      assert.equal(decodeRecordBatch(back).records.length, records.length);
    }
  }
});

test('records that would inflate past the limit are refused before they are inflated', async () => {
  const gzipped = await recompressBatch(plain, 1, 1 << 20);
  await assert.rejects(recompressBatch(gzipped, 4, 100), DecompressionError);
});
