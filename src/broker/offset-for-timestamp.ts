/**
 * ListOffsets by timestamp, the part that needs record contents. Storage (PartitionLog) finds the
 * candidate batches from its time and offset indexes and batch headers, and reads a batch's bytes;
 * here the batch is decompressed if needed and its records are walked for the exact offset, as
 * Kafka answers:
 *
 *   storage: batchesAtOrAfterTimestamp(t) ──► header (maxTimestamp ≥ t) ──► readBatch(header)
 *   broker:  LogAppendTime? whole batch : decompress ──► first record with timestamp ≥ t,
 *            offset ≥ log start ──► found, or the next candidate
 *
 * A compressed batch that cannot be decompressed within the limit answers with its first offset and
 * maxTimestamp instead (where a consumer must start reading anyway).
 */
import { compressionCodecMask, isLogAppendTime, recordsAt } from '../protocol/kafka/batch-header.js';
import { forEachRecordTimestampIn, type RecordPosition } from '../protocol/kafka/record-walk.js';
import { DecompressionError, decompressRecords, defaultMaxDecompressedBytes } from '../protocol/kafka/compression.js';
import type { BatchHeader, MaxTimestampBatch } from '../storage/partition-log.js';
import { asOffset, type Offset } from './offset.js';

export interface TimestampAndOffset {
  offset: Offset;
  timestamp: number;
}

/** What the lookup needs from a partition's storage (PartitionLog, through the partition handle). */
export interface TimestampSource {
  readonly logStartOffset: Offset;
  batchesAtOrAfterTimestamp(timestampMs: number): AsyncIterable<BatchHeader>;
  maxTimestampBatch(): Promise<MaxTimestampBatch | null>;
  readBatch(header: BatchHeader): Promise<Buffer | null>;
}

/** First offset (≥ log start, below the high watermark) whose record timestamp ≥ timestampMs, with that timestamp; null if none. */
export async function offsetForTimestamp(source: TimestampSource, timestampMs: number, maxDecompressedBytes = defaultMaxDecompressedBytes): Promise<TimestampAndOffset | null> {
  const accept = (record: RecordPosition) => record.timestamp >= timestampMs && record.offset >= source.logStartOffset;
  for await (const header of source.batchesAtOrAfterTimestamp(timestampMs)) {
    const found = await firstRecordIn(source, header, accept, maxDecompressedBytes);
    if (found !== null) return found;
  }
  return null;
}

/** Offset and timestamp of the record with the largest timestamp (the first such); null when empty. */
export async function maxTimestampOffset(source: TimestampSource, maxDecompressedBytes = defaultMaxDecompressedBytes): Promise<TimestampAndOffset | null> {
  const found = await source.maxTimestampBatch();
  if (found === null) return null;
  const { timestamp, header, fallbackOffset } = found;
  const record = header === null ? null : await firstRecordIn(source, header, (candidate) => candidate.timestamp === timestamp, maxDecompressedBytes);
  return record ?? { offset: asOffset(fallbackOffset), timestamp };
}

/** Reads one batch and returns its first record (at or after the log start) matching `accept`; null if none or the batch is unreadable. */
async function firstRecordIn(source: TimestampSource, header: BatchHeader, accept: (record: RecordPosition) => boolean, maxDecompressedBytes: number): Promise<TimestampAndOffset | null> {
  const batch = await source.readBatch(header);
  // Gone or damaged at rest (storage remembered it): look further, as if the batch matched nothing.
  if (batch === null) return null;
  const whole = () => {
    const record = { offset: asOffset(Math.max(header.baseOffset, source.logStartOffset)), timestamp: header.maxTimestamp };
    return accept(record) ? record : null;
  };
  if (isLogAppendTime(batch, 0)) return whole();
  let records = batch;
  let recordsStart = recordsAt;
  let recordsEnd = header.totalBytes;
  const codec = header.attributes & compressionCodecMask;
  if (codec !== 0) {
    try {
      records = await decompressRecords(codec, batch.subarray(recordsAt, header.totalBytes), maxDecompressedBytes);
      recordsStart = 0;
      recordsEnd = records.length;
    } catch (error) {
      if (!(error instanceof DecompressionError)) throw error;
      return whole();
    }
  }
  let found: TimestampAndOffset | null = null;
  forEachRecordTimestampIn(batch, 0, records, recordsStart, recordsEnd, (record) => {
    if (!accept(record) || record.offset < source.logStartOffset) return true;
    found = { offset: asOffset(record.offset), timestamp: record.timestamp };
    return false;
  });
  return found;
}
