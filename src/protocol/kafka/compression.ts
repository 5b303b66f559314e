import { gunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappy';
import { compressFrame as lz4CompressFrame, decompressFrame as lz4DecompressFrame } from 'lz4-napi';
import { compress as zstdCompress } from '@mongodb-js/zstd';
import { Decompress as ZstdDecompress } from 'fzstd';

/**
 * Compression of a record batch's records section. Decompression is for the few places that must
 * see inside a compressed batch (ListOffsets by timestamp, and a topic whose compression.type
 * differs from the producer's codec); Fetch never comes here, and Produce only for such topics:
 * batches are otherwise stored and served as the producer compressed them. Compression is for
 * producers (src/client/) and for those topics:
 *
 *   format written: gzip one gzip member (zlib); snappy one raw Snappy block (what librdkafka
 *   writes; Java readers accept it too); lz4 one LZ4 frame (Kafka requires the frame format since
 *   KIP-57); zstd one zstd frame (@mongodb-js/zstd; Produce v7+ and Fetch v10+ only).
 *
 * Every codec is bounded before or while it inflates, because the bytes come from a client: a
 * batch that would grow beyond `maxOutputBytes` is refused (DecompressionError), never inflated.
 *
 *   id  codec   what Kafka puts in a v2 batch               how the output size is bounded
 *   1   gzip    a gzip member                                zlib's maxOutputLength
 *   2   snappy  a raw Snappy block, or xerial framing        the lengths each block declares up front
 *               (magic 82 'SNAPPY' 00, two int32, then
 *               int32-sized raw blocks) from Java clients
 *   3   lz4     an LZ4 frame (magic 04 22 4d 18)             content size if declared, else per block min(255 × its size, block maximum)
 *   4   zstd    zstd frames                                  counted while streaming, block by block
 */

/** Codec ids, as bits 0-2 of a batch's attributes carry them (batch-header.ts). */
export const compressionCodecs = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionName = keyof typeof compressionCodecs;

export class DecompressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecompressionError';
  }
}

/** What a decompressed records section may grow to by default (limits.maxDecompressedBytes): well above any sane batch. */
export const defaultMaxDecompressedBytes = 64 * 1024 * 1024;

/**
 * What a compressed records section says it decompresses to, read from its headers alone, without
 * inflating anything (the produce path stores batches as they came): an upper bound for snappy
 * (declared block lengths, which the decoder enforces), lz4 (per block the smaller of 255 × its
 * size and the block maximum, or the declared content size) and zstd (declared frame content sizes, else blocks × 128 KiB, the largest block);
 * for gzip the ISIZE trailer, which a hostile producer can falsify (whoever inflates it must still
 * bound the output, as decompressRecords does). Throws DecompressionError when the headers are
 * malformed.
 */
export function declaredDecompressedBytes(codec: number, input: Buffer): number {
  switch (codec) {
    case compressionCodecs.none:
      return input.length;
    case compressionCodecs.gzip:
      return gzipDeclaredBytes(input);
    case compressionCodecs.snappy:
      return snappyDeclaredBytes(input);
    case compressionCodecs.lz4:
      return lz4FrameOutputBound(input);
    case compressionCodecs.zstd:
      return zstdOutputBound(input);
    default:
      throw new DecompressionError(`unknown compression codec ${codec}`);
  }
}

const gunzipAsync = promisify(gunzip);
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

export async function decompressRecords(codec: number, input: Buffer, maxOutputBytes = defaultMaxDecompressedBytes): Promise<Buffer> {
  switch (codec) {
    case compressionCodecs.none:
      return input;
    case compressionCodecs.gzip:
      return gunzipBounded(input, maxOutputBytes);
    case compressionCodecs.snappy:
      return snappyDecompress(input, maxOutputBytes);
    case compressionCodecs.lz4:
      checkLimit('lz4', lz4FrameOutputBound(input), maxOutputBytes);
      return lz4DecompressFrame(input).catch((error: unknown) => {
        throw new DecompressionError(`lz4: ${describe(error)}`);
      });
    case compressionCodecs.zstd:
      return zstdDecompress(input, maxOutputBytes);
    default:
      throw new DecompressionError(`unknown compression codec ${codec}`);
  }
}

function checkLimit(codec: string, bytes: number, maxOutputBytes: number): void {
  if (bytes > maxOutputBytes) throw new DecompressionError(`${codec}: would decompress to ${bytes} bytes, more than the ${maxOutputBytes}-byte limit`);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function gunzipBounded(input: Buffer, maxOutputBytes: number): Promise<Buffer> {
  try {
    return await gunzipAsync(input, { maxOutputLength: maxOutputBytes });
  } catch (error) {
    throw new DecompressionError(`gzip: ${describe(error)}`);
  }
}

/** gzip member: 10-byte header … deflate data … CRC32 (u32le) │ ISIZE (u32le, input size mod 2^32). */
function gzipDeclaredBytes(input: Buffer): number {
  if (input.length < 18 || input[0] !== 0x1f || input[1] !== 0x8b) throw new DecompressionError('gzip: not a gzip member');
  return input.readUInt32LE(input.length - 4);
}

// ── snappy ──

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
/** Magic (8 bytes), version (int32), compatible version (int32); chunks follow. */
const xerialHeaderBytes = 16;

/** The uncompressed length a raw Snappy block declares in its leading varint32; -1 if malformed. */
function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  for (let index = 0; index < 5 && index < block.length; index++) {
    const byte = block[index]!;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if ((byte & 0x80) === 0) return value;
  }
  return -1;
}

async function snappyBlock(block: Buffer, budget: number): Promise<Buffer> {
  const declared = snappyDeclaredLength(block);
  if (declared < 0) throw new DecompressionError('snappy: malformed block length');
  checkLimit('snappy', declared, budget);
  try {
    const output = await snappyUncompress(block);
    return typeof output === 'string' ? Buffer.from(output) : output;
  } catch (error) {
    throw new DecompressionError(`snappy: ${describe(error)}`);
  }
}

function isXerialFramed(input: Buffer): boolean {
  return input.length >= xerialHeaderBytes && input.subarray(0, xerialMagic.length).equals(xerialMagic);
}

/** The snappy blocks of a xerial-framed input (after its header: int32 length │ block, repeated). */
function* xerialChunks(input: Buffer): Generator<Buffer> {
  let position = xerialHeaderBytes;
  while (position + 4 <= input.length) {
    const chunkBytes = input.readInt32BE(position);
    position += 4;
    if (chunkBytes < 0 || position + chunkBytes > input.length) throw new DecompressionError(`snappy: xerial chunk of ${chunkBytes} bytes overruns the ${input.length}-byte input`);
    yield input.subarray(position, position + chunkBytes);
    position += chunkBytes;
  }
}

function snappyDeclaredBytes(input: Buffer): number {
  const blocks = isXerialFramed(input) ? xerialChunks(input) : [input];
  let total = 0;
  for (const block of blocks) {
    const declared = snappyDeclaredLength(block);
    if (declared < 0) throw new DecompressionError('snappy: malformed block length');
    total += declared;
  }
  return total;
}

async function snappyDecompress(input: Buffer, maxOutputBytes: number): Promise<Buffer> {
  if (!isXerialFramed(input)) return snappyBlock(input, maxOutputBytes);
  const chunks: Buffer[] = [];
  let produced = 0;
  for (const block of xerialChunks(input)) {
    const chunk = await snappyBlock(block, maxOutputBytes - produced);
    produced += chunk.length;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, produced);
}

// ── lz4 ──
//
//   frame: magic 04 22 4d 18 │ FLG │ BD │ [content size u64le] │ [dict id u32le] │ header checksum u8
//          then blocks: size u32le (high bit = stored uncompressed; 0 = end mark) │ data │ [checksum u32le]
//          then [content checksum u32le]
//   FLG bit 4 block checksums, bit 3 content size, bit 2 content checksum, bit 0 dict id.
//   BD bits 6-4 block maximum: 4 → 64 KiB, 5 → 256 KiB, 6 → 1 MiB, 7 → 4 MiB.

const lz4Magic = 0x184d2204;
const lz4MaxInflation = 255;

/** An upper bound of what an LZ4 frame (or several, back to back) decompresses to, from headers alone. */
export function lz4FrameOutputBound(input: Buffer): number {
  let bound = 0;
  let position = 0;
  while (position < input.length) {
    if (position + 7 > input.length || input.readUInt32LE(position) !== lz4Magic) throw new DecompressionError('lz4: not an LZ4 frame');
    const flags = input[position + 4]!;
    const blockMaxCode = (input[position + 5]! >> 4) & 0x07;
    if (blockMaxCode < 4) throw new DecompressionError(`lz4: invalid block maximum code ${blockMaxCode}`);
    const blockMaxBytes = 1 << (8 + 2 * blockMaxCode);
    const blockChecksums = (flags & 0x10) !== 0;
    const hasContentSize = (flags & 0x08) !== 0;
    const contentChecksum = (flags & 0x04) !== 0;
    position += 6;
    let declaredSize = -1;
    if (hasContentSize) {
      if (position + 8 > input.length) throw new DecompressionError('lz4: truncated frame header');
      declaredSize = Number(input.readBigUInt64LE(position));
      position += 8;
    }
    if ((flags & 0x01) !== 0) position += 4;
    position += 1; // header checksum
    let frameBound = 0;
    for (;;) {
      if (position + 4 > input.length) throw new DecompressionError('lz4: truncated block size');
      const word = input.readUInt32LE(position);
      position += 4;
      if (word === 0) break;
      const stored = (word & 0x80000000) !== 0;
      const blockBytes = word & 0x7fffffff;
      if (blockBytes > blockMaxBytes) throw new DecompressionError(`lz4: block of ${blockBytes} bytes exceeds the frame's ${blockMaxBytes}-byte maximum`);
      // A compressed block inflates at most 255-fold (a match grows by 255 per length byte), and never past the block maximum.
      frameBound += stored ? blockBytes : Math.min(blockMaxBytes, blockBytes * lz4MaxInflation);
      position += blockBytes + (blockChecksums ? 4 : 0);
    }
    if (contentChecksum) position += 4;
    bound += declaredSize >= 0 ? Math.min(declaredSize, frameBound) : frameBound;
  }
  return bound;
}

// ── zstd ──
//
//   frame: magic 28 b5 2f fd │ descriptor │ [window byte] │ [dict id 0/1/2/4] │ [content size 0/1/2/4/8]
//          then blocks: header u24le (bit 0 last, bits 1-2 type: 0 raw, 1 RLE, 2 compressed; bits 3+ size)
//          raw: size bytes, regenerating size bytes; RLE: 1 byte, regenerating size bytes;
//          compressed: size bytes, regenerating at most 128 KiB. Then [checksum u32le].
//   descriptor bits 7-6 content size flag, bit 5 single segment, bit 2 checksum, bits 1-0 dict id flag.
//   skippable frame: magic 5X 2a 4d 18 │ size u32le │ size bytes (regenerates nothing).

const zstdMagic = 0xfd2fb528;
const zstdMaxBlockBytes = 128 * 1024;

/** An upper bound of what zstd frames decompress to, from frame and block headers alone. */
export function zstdOutputBound(input: Buffer): number {
  let bound = 0;
  let position = 0;
  while (position < input.length) {
    if (position + 8 > input.length) throw new DecompressionError('zstd: truncated frame header');
    const magic = input.readUInt32LE(position);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      position += 8 + input.readUInt32LE(position + 4);
      continue;
    }
    if (magic !== zstdMagic) throw new DecompressionError('zstd: not a zstd frame');
    const descriptor = input[position + 4]!;
    const singleSegment = (descriptor & 0x20) !== 0;
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
    position += 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 0x03]!;
    let declaredSize = -1;
    if (contentSizeBytes > 0) {
      if (position + contentSizeBytes > input.length) throw new DecompressionError('zstd: truncated frame header');
      declaredSize = contentSizeBytes === 8 ? Number(input.readBigUInt64LE(position)) : input.readUIntLE(position, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0);
      position += contentSizeBytes;
    }
    let frameBound = 0;
    for (;;) {
      if (position + 3 > input.length) throw new DecompressionError('zstd: truncated block header');
      const header = input.readUIntLE(position, 3);
      position += 3;
      const type = (header >> 1) & 0x03;
      const size = header >>> 3;
      if (type === 3) throw new DecompressionError('zstd: reserved block type');
      frameBound += type === 2 ? zstdMaxBlockBytes : size;
      position += type === 1 ? 1 : size;
      if ((header & 0x01) !== 0) break;
    }
    if ((descriptor & 0x04) !== 0) position += 4;
    if (position > input.length) throw new DecompressionError('zstd: truncated frame');
    bound += declaredSize >= 0 ? Math.min(declaredSize, frameBound) : frameBound;
  }
  return bound;
}

function zstdDecompress(input: Buffer, maxOutputBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let produced = 0;
  const stream = new ZstdDecompress((chunk) => {
    produced += chunk.length;
    checkLimit('zstd', produced, maxOutputBytes);
    chunks.push(chunk);
  });
  try {
    stream.push(input, true);
  } catch (error) {
    if (error instanceof DecompressionError) throw error;
    throw new DecompressionError(`zstd: ${describe(error)}`);
  }
  return Promise.resolve(Buffer.concat(chunks, produced));
}
