/**
 * A compacted topic keeps the latest record of each key, so a record without a key has no place
 * in it: Kafka refuses the whole batch with INVALID_RECORD and, from Produce v8, one record error
 * per keyless record (KIP-467). This is the only check of the produce path that walks records, and
 * only for topics whose cleanup.policy includes compact.
 */
import { compressionCodecMask, readAttributes, readRecordsCount, recordsAt } from '../protocol/kafka/batch-header.js';
import { decompressRecords } from '../protocol/kafka/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { walkRecords } from '../protocol/kafka/record-walk.js';
import type { PartitionProduceResult, RecordError } from './produce.js';

/** Kafka's own wording for each refused record, so tools that match on it recognise it. */
function recordMessage(topic: string, partition: number): string {
  return `Compacted topic cannot accept message without key in topic partition ${topic}-${partition}.`;
}

/** Refusal for the records section `records[start, end)` of a batch of `count` records; null when every record has a key. */
function refusalFor(records: Buffer, start: number, end: number, count: number, topic: string, partition: number): PartitionProduceResult | null {
  const recordErrors: RecordError[] = [];
  let index = 0;
  const wellFormed = walkRecords(records, start, end, count, (record) => {
    if (record.key === null) recordErrors.push({ batchIndex: index, batchIndexErrorMessage: recordMessage(topic, partition) });
    index++;
  });
  if (!wellFormed) return refused(ErrorCode.corruptMessage, 'the records of the batch are malformed', []);
  if (recordErrors.length === 0) return null;
  const shown = recordErrors.slice(0, 3).map((error) => `record ${error.batchIndex}`).join(', ');
  return refused(
    ErrorCode.invalidRecord,
    `${recordErrors.length} of ${count} records have no key (${shown}${recordErrors.length > 3 ? ', …' : ''}); topic ${topic} is compacted (cleanup.policy=compact) and keeps records by key`,
    recordErrors,
  );
}

function refused(errorCode: number, errorMessage: string, recordErrors: RecordError[]): PartitionProduceResult {
  return { errorCode, errorMessage, baseOffset: null, logAppendTimeMs: -1n, logStartOffset: null, recordErrors };
}

/** For an uncompressed batch (checked already: one whole v2 batch). */
export function keylessRecordsRefusal(batch: Buffer, topic: string, partition: number): PartitionProduceResult | null {
  return refusalFor(batch, recordsAt, batch.length, readRecordsCount(batch, 0), topic, partition);
}

/** For a compressed batch: its records are inflated (within `maxDecompressedBytes`) first; throws DecompressionError. */
export async function keylessCompressedRecordsRefusal(batch: Buffer, topic: string, partition: number, maxDecompressedBytes: number): Promise<PartitionProduceResult | null> {
  const codec = readAttributes(batch, 0) & compressionCodecMask;
  const records = await decompressRecords(codec, batch.subarray(recordsAt), maxDecompressedBytes);
  return refusalFor(records, 0, records.length, readRecordsCount(batch, 0), topic, partition);
}
