/**
 * Cleaning one stored batch: which of its records stay, and the bytes of the batch that holds
 * them. Offsets never move: a kept record keeps its offsetDelta and its bytes, the batch keeps its
 * baseOffset, lastOffsetDelta (so the offsets after it are never handed out again), timestamps and
 * producer fields; only batchLength, recordsCount and the CRC change. A compressed batch is
 * inflated, filtered and compressed again with its own codec.
 *
 *   before   ┌ header: base 40, lastOffsetDelta 3, count 4 ┬ r40 ┬ r41 ┬ r42 ┬ r43 ┐
 *   after    ┌ header: base 40, lastOffsetDelta 3, count 2 ┬ r41 ┬ r43 ┐
 *   emptied  ┌ header: base 40, lastOffsetDelta 3, count 0, uncompressed ┐   (when it must stay)
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
  readBaseOffset,
  readRecordsCount,
  recordsAt,
  recordsCountAt,
} from '../../protocol/kafka/batch-header.js';
import { compressRecords, decompressRecords } from '../../protocol/kafka/compression.js';
import { walkRecords, type WalkedRecord } from '../../protocol/kafka/record-walk.js';

/** What the cleaner sees of a record to decide on it. */
export interface RecordToJudge {
  readonly offset: number;
  readonly key: Buffer | null;
  /** A null value (with a key: a tombstone). */
  readonly valueIsNull: boolean;
}

export type BatchOutcome =
  /** Every record stays: the stored bytes as they are. */
  | { readonly kind: 'unchanged' }
  /** Some stay: a new batch holding them. */
  | { readonly kind: 'filtered'; readonly batch: Buffer }
  /** None stays. */
  | { readonly kind: 'emptied' }
  /** The records could not be read (malformed, or beyond the decompression limit): kept as they are. */
  | { readonly kind: 'unreadable' };

/** The records section of the batch at `batch[0…]`, inflated when compressed. */
export async function recordsOf(batch: Buffer, maxDecompressedBytes: number): Promise<Buffer> {
  const codec = readAttributes(batch, 0) & compressionCodecMask;
  const section = batch.subarray(recordsAt);
  return codec === 0 ? section : decompressRecords(codec, section, maxDecompressedBytes);
}

/** Calls `visit` for each record of the batch; false when its records cannot be read. */
export async function forEachRecordOf(batch: Buffer, maxDecompressedBytes: number, visit: (record: RecordToJudge, walked: WalkedRecord) => void): Promise<boolean> {
  let records: Buffer;
  try {
    records = await recordsOf(batch, maxDecompressedBytes);
  } catch {
    return false;
  }
  const baseOffset = readBaseOffset(batch, 0);
  const judged = { offset: 0, key: null as Buffer | null, valueIsNull: false };
  return walkRecords(records, 0, records.length, readRecordsCount(batch, 0), (walked) => {
    judged.offset = baseOffset + walked.offsetDelta;
    judged.key = walked.key;
    judged.valueIsNull = walked.valueIsNull;
    visit(judged, walked);
  });
}

/** Keeps the records `keep` says yes to. */
export async function filterBatch(batch: Buffer, maxDecompressedBytes: number, keep: (record: RecordToJudge) => boolean): Promise<BatchOutcome> {
  const kept: Array<[number, number]> = [];
  let total = 0;
  let records: Buffer | null = null;
  try {
    records = await recordsOf(batch, maxDecompressedBytes);
  } catch {
    return { kind: 'unreadable' };
  }
  const baseOffset = readBaseOffset(batch, 0);
  const section = records;
  const judged = { offset: 0, key: null as Buffer | null, valueIsNull: false };
  const wellFormed = walkRecords(section, 0, section.length, readRecordsCount(batch, 0), (walked) => {
    total++;
    judged.offset = baseOffset + walked.offsetDelta;
    judged.key = walked.key;
    judged.valueIsNull = walked.valueIsNull;
    if (keep(judged)) kept.push([walked.start, walked.end]);
  });
  if (!wellFormed) return { kind: 'unreadable' };
  if (kept.length === total) return { kind: 'unchanged' };
  if (kept.length === 0) return { kind: 'emptied' };
  const keptRecords = Buffer.concat(kept.map(([start, end]) => section.subarray(start, end)));
  return { kind: 'filtered', batch: await rebuild(batch, keptRecords, kept.length) };
}

async function rebuild(batch: Buffer, records: Buffer, count: number): Promise<Buffer> {
  const attributes = readAttributes(batch, 0);
  const codec = attributes & compressionCodecMask;
  const body = codec === 0 ? records : await compressRecords(codec, records);
  const rebuilt = Buffer.allocUnsafe(batchHeaderBytes + body.length);
  batch.copy(rebuilt, 0, 0, batchHeaderBytes);
  body.copy(rebuilt, recordsAt);
  rebuilt.writeInt32BE(rebuilt.length - batchOverheadBytes, batchLengthAt);
  rebuilt.writeInt32BE(count, recordsCountAt);
  rebuilt.writeUInt32BE(computeBatchCrc(rebuilt, 0, rebuilt.length), crcAt);
  return rebuilt;
}

/**
 * The batch's header alone, with no record: what stays of a batch whose records all went when its
 * offsets must stay covered (the last batch of a segment, a producer's last batch). Uncompressed,
 * as Kafka writes such batches.
 */
export function emptyBatchOf(batch: Buffer): Buffer {
  const empty = Buffer.allocUnsafe(batchHeaderBytes);
  batch.copy(empty, 0, 0, batchHeaderBytes);
  empty.writeInt32BE(batchHeaderBytes - batchOverheadBytes, batchLengthAt);
  empty.writeInt16BE(readAttributes(batch, 0) & ~compressionCodecMask, attributesAt);
  empty.writeInt32BE(0, recordsCountAt);
  empty.writeUInt32BE(computeBatchCrc(empty, 0, empty.length), crcAt);
  return empty;
}
