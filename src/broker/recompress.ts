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
import { compressionCodecMask, readAttributes, recordsAt, withRecordsSection } from '../protocol/kafka/batch-header.js';
import { compressRecords, decompressRecords } from '../protocol/kafka/compression.js';

/**
 * The batch with its records compressed by `codec` (0: uncompressed); throws DecompressionError for
 * records that cannot be inflated within the limit. `inflated`: the batch's records already
 * decompressed by the caller (the produce path's key check of a compacted topic), so they are not
 * decompressed twice.
 */
export async function recompressBatch(batch: Buffer, codec: number, maxDecompressedBytes: number, inflated?: Buffer): Promise<Buffer> {
  const attributes = readAttributes(batch, 0);
  const records = inflated ?? (await decompressRecords(attributes & compressionCodecMask, batch.subarray(recordsAt), maxDecompressedBytes));
  return withRecordsSection(batch, await compressRecords(codec, records), { attributes: (attributes & ~compressionCodecMask) | codec });
}
