import { batchTotalBytes, isLogAppendTime, readBaseOffset, readBaseTimestamp, readMaxTimestamp, readRecordsCount, readZigzag, recordsAt } from './batch-header.js';

/**
 * The one walk over the records of a v2 batch's (uncompressed or decompressed) records section:
 * each record's byte range, timestamp and offset deltas, where its key lies and whether its value is
 * null, read in place (no allocation per record). The produce path uses it only for compacted
 * topics (the keyless-record check); ListOffsets by timestamp and the log cleaner use it too.
 *
 *   record: length varint │ attributes int8 │ timestampDelta varlong │ offsetDelta varint │
 *           keyLength varint │ key │ valueLength varint │ value │ headerCount varint │ headers…
 *   length counts the bytes after the length field; a length of −1 is a null key or value.
 */

export interface WalkedRecord {
  /** Byte range of the whole record, its length field included, in the records buffer. */
  start: number;
  end: number;
  timestampDelta: number;
  offsetDelta: number;
  /** Where the key starts in the records buffer, and its length; −1 for a null key. */
  keyStart: number;
  keyLength: number;
  /** A null value: a tombstone when the key is not null. */
  valueIsNull: boolean;
}

/**
 * Calls `visit` for each of `count` records in `records[start, end)`, in order, until it returns
 * false; the record object is reused between calls. Returns false when the section is malformed
 * (the walk stops there), true otherwise (also when `visit` stopped it).
 */
export function walkRecords(records: Buffer, start: number, end: number, count: number, visit: (record: WalkedRecord) => boolean | void): boolean {
  const cursor = { at: start };
  const record: WalkedRecord = { start: 0, end: 0, timestampDelta: 0, offsetDelta: 0, keyStart: 0, keyLength: -1, valueIsNull: false };
  for (let index = 0; index < count; index++) {
    record.start = cursor.at;
    const length = readZigzag(records, cursor, end, 5);
    if (length === null || length < 0) return false;
    const recordEnd = cursor.at + length;
    if (recordEnd > end) return false;
    cursor.at += 1; // attributes
    const timestampDelta = readZigzag(records, cursor, recordEnd, 10);
    const offsetDelta = readZigzag(records, cursor, recordEnd, 5);
    const keyLength = readZigzag(records, cursor, recordEnd, 5);
    if (timestampDelta === null || offsetDelta === null || keyLength === null || keyLength < -1) return false;
    if (keyLength >= 0 && cursor.at + keyLength > recordEnd) return false;
    record.keyStart = cursor.at;
    record.keyLength = keyLength;
    cursor.at += Math.max(0, keyLength);
    const valueLength = readZigzag(records, cursor, recordEnd, 5);
    if (valueLength === null || valueLength < -1) return false;
    record.valueIsNull = valueLength < 0;
    record.timestampDelta = timestampDelta;
    record.offsetDelta = offsetDelta;
    record.end = recordEnd;
    cursor.at = recordEnd;
    if (visit(record) === false) return true;
  }
  return true;
}

/** The key of a walked record (a view into `records`), null for a null key. */
export function keyOf(records: Buffer, record: WalkedRecord): Buffer | null {
  return record.keyLength < 0 ? null : records.subarray(record.keyStart, record.keyStart + record.keyLength);
}

export interface RecordPosition {
  offset: number;
  timestamp: number;
}

/**
 * Calls `visit` with (offset, timestamp) of each record of an uncompressed batch, in order,
 * until it returns false. For LogAppendTime batches every record's timestamp is maxTimestamp.
 * Returns false if the records section is malformed.
 */
export function forEachRecordTimestamp(buffer: Buffer, at: number, visit: (record: RecordPosition) => boolean | void): boolean {
  return forEachRecordTimestampIn(buffer, at, buffer, at + recordsAt, at + batchTotalBytes(buffer, at), visit);
}

/**
 * The same walk over records held apart from their batch header: `records[start, end)` is the
 * records section, for a compressed batch its decompressed bytes. `header[at…]` is the batch.
 */
export function forEachRecordTimestampIn(
  header: Buffer,
  at: number,
  records: Buffer,
  start: number,
  end: number,
  visit: (record: RecordPosition) => boolean | void,
): boolean {
  const baseOffset = readBaseOffset(header, at);
  const baseTimestamp = readBaseTimestamp(header, at);
  const logAppendTime = isLogAppendTime(header, at);
  const maxTimestamp = readMaxTimestamp(header, at);
  const position: RecordPosition = { offset: 0, timestamp: 0 };
  return walkRecords(records, start, end, readRecordsCount(header, at), (record) => {
    position.offset = baseOffset + record.offsetDelta;
    position.timestamp = logAppendTime ? maxTimestamp : baseTimestamp + record.timestampDelta;
    return visit(position);
  });
}
