import { readZigzag } from './batch-header.js';

/**
 * A walk over the records of a v2 batch's (uncompressed or decompressed) records section that
 * reports each record's key and whether its value is null, with the record's byte range so a
 * caller can keep records by copying their bytes unchanged. For compacted topics only: the
 * keyless-record check of the produce path and the log cleaner.
 *
 *   record: length varint │ attributes int8 │ timestampDelta varlong │ offsetDelta varint │
 *           keyLength varint │ key │ valueLength varint │ value │ headerCount varint │ headers…
 *   length counts the bytes after the length field; a length of −1 is a null key or value.
 */

export interface WalkedRecord {
  /** Byte range of the whole record, its length field included, in the records buffer. */
  start: number;
  end: number;
  offsetDelta: number;
  /** The key's bytes (a view into the buffer), null for a null key. */
  key: Buffer | null;
  /** A null value: a tombstone when the key is not null. */
  valueIsNull: boolean;
}

/**
 * Calls `visit` for each of `count` records in `records[start, end)`; the record object is reused
 * between calls. Returns false when the section is malformed (the walk stops there).
 */
export function walkRecords(records: Buffer, start: number, end: number, count: number, visit: (record: WalkedRecord) => void): boolean {
  const cursor = { at: start };
  const record: WalkedRecord = { start: 0, end: 0, offsetDelta: 0, key: null, valueIsNull: false };
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
    record.key = keyLength < 0 ? null : records.subarray(cursor.at, cursor.at + keyLength);
    cursor.at += Math.max(0, keyLength);
    const valueLength = readZigzag(records, cursor, recordEnd, 5);
    if (valueLength === null || valueLength < -1) return false;
    record.valueIsNull = valueLength < 0;
    record.offsetDelta = offsetDelta;
    record.end = recordEnd;
    cursor.at = recordEnd;
    visit(record);
  }
  return true;
}
