/**
 * A topic's compression.type (other than `producer`): a batch produced in another codec is stored
 * in the topic's codec. Only the records section changes: it is inflated (bounded by
 * limits.maxDecompressedBytes, checked before) and compressed again; the 61-byte header is kept
 * but for the codec bits of its attributes, its batchLength and its CRC-32C. No record is decoded.
 *
 * Conversions are asynchronous (the codecs work off the event loop), so the produce path runs the
 * appends of a partition that has conversions pending one after the other, in arrival order
 * (produce.ts, produceInOrder): what a producer sends in order is stored in order, and idempotent
 * sequence checks see the batches as they were sent.
 */
import {
  attributesAt,
  batchHeaderBytes,
  batchLengthAt,
  batchOverheadBytes,
  compressionCodecMask,
  computeBatchCrc,
  crcAt,
  readAttributes,
  recordsAt,
} from '../protocol/kafka/batch-header.js';
import { compressRecords, decompressRecords } from '../protocol/kafka/compression.js';

/** The batch with its records compressed by `codec` (0: uncompressed); throws DecompressionError for records that cannot be inflated within the limit. */
export async function recompressBatch(batch: Buffer, codec: number, maxDecompressedBytes: number): Promise<Buffer> {
  const attributes = readAttributes(batch, 0);
  const records = await decompressRecords(attributes & compressionCodecMask, batch.subarray(recordsAt), maxDecompressedBytes);
  const compressed = await compressRecords(codec, records);
  const converted = Buffer.allocUnsafe(batchHeaderBytes + compressed.length);
  batch.copy(converted, 0, 0, batchHeaderBytes);
  compressed.copy(converted, recordsAt);
  converted.writeInt32BE(converted.length - batchOverheadBytes, batchLengthAt);
  converted.writeInt16BE((attributes & ~compressionCodecMask) | codec, attributesAt);
  converted.writeUInt32BE(computeBatchCrc(converted, 0, converted.length), crcAt);
  return converted;
}
