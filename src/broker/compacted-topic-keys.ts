/**
 * A compacted topic keeps the latest record of each key, so a record without a key has no place
 * in it: Kafka refuses the whole batch with INVALID_RECORD and, from Produce v8, one record error
 * per keyless record (KIP-467). This is the only check of the produce path that walks records, and
 * only for topics whose cleanup.policy includes compact.
 */
import { readRecordsCount } from '../protocol/kafka/batch-header.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { walkRecords } from '../protocol/kafka/record-walk.js';
import type { PartitionProduceResult, RecordError } from './produce.js';

/** Kafka's own wording for each refused record, so tools that match on it recognise it. */
function recordMessage(topic: string, partition: number): string {
  return `Compacted topic cannot accept message without key in topic partition ${topic}-${partition}.`;
}

/**
 * The refusal of `batch` when one of its records has no key; null when every record has one.
 * `records[start, end)` is its records section: in the batch itself when uncompressed, the
 * decompressed bytes otherwise (the caller inflates them once, for this and any recompression).
 */
export function keylessRecordsRefusal(batch: Buffer, records: Buffer, start: number, end: number, topic: string, partition: number): PartitionProduceResult | null {
  const count = readRecordsCount(batch, 0);
  const recordErrors: RecordError[] = [];
  let index = 0;
  const wellFormed = walkRecords(records, start, end, count, (record) => {
    if (record.keyLength < 0) recordErrors.push({ batchIndex: index, batchIndexErrorMessage: recordMessage(topic, partition) });
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
