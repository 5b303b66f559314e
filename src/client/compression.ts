/**
 * Compression of a record batch's records section, the producer's half of
 * src/protocol/kafka/compression.ts (which decompresses, bounded, for readers, and defines the
 * codec ids).
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
import { compressionCodecs } from '../protocol/kafka/compression.js';
import type { CompressionName } from '../protocol/kafka/compression.js';

export type { CompressionName };

export function isCompressionName(name: string): name is CompressionName {
  return Object.hasOwn(compressionCodecs, name);
}

const gzipAsync = promisify(gzip);

export async function compressRecords(codec: number, input: Buffer): Promise<Buffer> {
  switch (codec) {
    case compressionCodecs.none:
      return input;
    case compressionCodecs.gzip:
      return gzipAsync(input);
    case compressionCodecs.snappy:
      return snappyCompress(input);
    case compressionCodecs.lz4:
      return lz4CompressFrame(input);
    case compressionCodecs.zstd:
      return zstdCompress(input, 3);
    default:
      throw new RangeError(`unknown compression codec ${codec}`);
  }
}
