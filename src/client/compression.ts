/**
 * Compression of a record batch's records section, the producer's half of
 * src/protocol/kafka/compression.ts (which decompresses, bounded, for readers).
 *
 *   id  name    format written
 *   0   none
 *   1   gzip    one gzip member (zlib)
 *   2   snappy  one raw Snappy block (what librdkafka writes; Java readers accept it too)
 *   3   lz4     one LZ4 frame (Kafka requires the frame format since KIP-57)
 *   4   zstd    one zstd frame (@mongodb-js/zstd); Produce v7+ and Fetch v10+ only
 */
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { compress as snappyCompress } from 'snappy';
import { compressFrame as lz4CompressFrame } from 'lz4-napi';
import { compress as zstdCompress } from '@mongodb-js/zstd';

export const compressionCodecs = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof compressionCodecs;

export function isCompressionName(name: string): name is CompressionName {
  return Object.hasOwn(compressionCodecs, name);
}

const gzipAsync = promisify(gzip);

export async function compressRecords(codec: number, input: Buffer): Promise<Buffer> {
  switch (codec) {
    case 0:
      return input;
    case 1:
      return gzipAsync(input);
    case 2:
      return snappyCompress(input);
    case 3:
      return lz4CompressFrame(input);
    case 4:
      return zstdCompress(input, 3);
    default:
      throw new RangeError(`unknown compression codec ${codec}`);
  }
}
