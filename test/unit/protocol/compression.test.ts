import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { compressSync as snappyCompressSync } from 'snappy';
import { compressFrameSync as lz4CompressFrameSync } from 'lz4-napi';
import { compress as zstdCompress } from '@mongodb-js/zstd';
import { DecompressionError, decompressRecords, lz4FrameOutputBound } from '../../../src/protocol/kafka/compression.js';

const sample = Buffer.from('osprey '.repeat(5000) + 'the end', 'utf8');

/** Java's snappy framing: magic, version 1, compatible version 1, then int32-sized raw blocks. */
function xerial(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

test('each codec decompresses what its library compressed', async () => {
  assert.deepEqual(await decompressRecords(0, sample), sample);
  assert.deepEqual(await decompressRecords(1, gzipSync(sample)), sample);
  assert.deepEqual(await decompressRecords(2, snappyCompressSync(sample)), sample);
  assert.deepEqual(await decompressRecords(3, lz4CompressFrameSync(sample)), sample);
  assert.deepEqual(await decompressRecords(4, await zstdCompress(sample, 3)), sample);
});

test('snappy in xerial framing (Java producers) is read chunk by chunk', async () => {
  const half = sample.length >> 1;
  const framed = xerial([snappyCompressSync(sample.subarray(0, half)), snappyCompressSync(sample.subarray(half))]);
  assert.deepEqual(await decompressRecords(2, framed), sample);
});

test('output beyond the limit is refused, before or while inflating, for every codec', async () => {
  const big = Buffer.alloc(1 << 20, 7);
  const limit = 64 * 1024;
  for (const [codec, compressed] of [
    [1, gzipSync(big)],
    [2, snappyCompressSync(big)],
    [3, lz4CompressFrameSync(big)],
    [4, await zstdCompress(big, 3)],
  ] as const) {
    assert.ok(compressed.length < limit, `codec ${codec}: the compressed input itself is small`);
    await assert.rejects(decompressRecords(codec, compressed, limit), DecompressionError, `codec ${codec}`);
    // lz4 is bounded by its frame's block maximum (4 MiB for lz4-napi's frames), so a limit of a few MiB passes.
    assert.equal((await decompressRecords(codec, compressed, 8 * big.length)).length, big.length, `codec ${codec} within the limit`);
  }
});

test('garbage and unknown codecs are a DecompressionError, never a crash', async () => {
  const garbage = Buffer.from('not compressed at all, just bytes');
  for (const codec of [1, 2, 3, 4, 5, 7]) {
    await assert.rejects(decompressRecords(codec, garbage), DecompressionError, `codec ${codec}`);
  }
});

test('the lz4 bound reads block headers: stored blocks count their size, compressed ones the frame maximum', () => {
  const frame = lz4CompressFrameSync(sample);
  const bound = lz4FrameOutputBound(frame);
  assert.ok(bound >= sample.length, `bound ${bound} covers ${sample.length}`);
  assert.throws(() => lz4FrameOutputBound(frame.subarray(0, frame.length - 6)), DecompressionError);
});
