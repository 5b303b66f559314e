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
import { compressionCodecMask, readAttributes, readBaseOffset, readRecordsCount, recordsAt, withRecordsSection } from '../../protocol/kafka/batch-header.js';
import { compressRecords, decompressRecords } from '../../protocol/kafka/compression.js';
import { keyOf, walkRecords } from '../../protocol/kafka/record-walk.js';

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

/**
 * Calls `visit` for each record of `records` (the batch's records section, inflated) with what the
 * cleaner judges it by, and the record's byte range in `records`; false when they are malformed.
 */
function judgeRecords(batch: Buffer, records: Buffer, visit: (record: RecordToJudge, start: number, end: number) => void): boolean {
  const baseOffset = readBaseOffset(batch, 0);
  const judged = { offset: 0, key: null as Buffer | null, valueIsNull: false };
  return walkRecords(records, 0, records.length, readRecordsCount(batch, 0), (walked) => {
    judged.offset = baseOffset + walked.offsetDelta;
    judged.key = keyOf(records, walked);
    judged.valueIsNull = walked.valueIsNull;
    visit(judged, walked.start, walked.end);
  });
}

/** Calls `visit` for each record of the batch; false when its records cannot be read. */
export async function forEachRecordOf(batch: Buffer, maxDecompressedBytes: number, visit: (record: RecordToJudge) => void): Promise<boolean> {
  let records: Buffer;
  try {
    records = await recordsOf(batch, maxDecompressedBytes);
  } catch {
    return false;
  }
  return judgeRecords(batch, records, visit);
}

/** Keeps the records `keep` says yes to. */
export async function filterBatch(batch: Buffer, maxDecompressedBytes: number, keep: (record: RecordToJudge) => boolean): Promise<BatchOutcome> {
  let records: Buffer;
  try {
    records = await recordsOf(batch, maxDecompressedBytes);
  } catch {
    return { kind: 'unreadable' };
  }
  const kept: Array<[number, number]> = [];
  let total = 0;
  const wellFormed = judgeRecords(batch, records, (record, start, end) => {
    total++;
    if (keep(record)) kept.push([start, end]);
  });
  if (!wellFormed) return { kind: 'unreadable' };
  if (kept.length === total) return { kind: 'unchanged' };
  if (kept.length === 0) return { kind: 'emptied' };
  const keptRecords = Buffer.concat(kept.map(([start, end]) => records.subarray(start, end)));
  const codec = readAttributes(batch, 0) & compressionCodecMask;
  const body = codec === 0 ? keptRecords : await compressRecords(codec, keptRecords);
  return { kind: 'filtered', batch: withRecordsSection(batch, body, { recordsCount: kept.length }) };
}

/**
 * The batch's header alone, with no record: what stays of a batch whose records all went when its
 * offsets must stay covered (the last batch of a segment, a producer's last batch). Uncompressed,
 * as Kafka writes such batches.
 */
export function emptyBatchOf(batch: Buffer): Buffer {
  return withRecordsSection(batch, Buffer.alloc(0), { attributes: readAttributes(batch, 0) & ~compressionCodecMask, recordsCount: 0 });
}
