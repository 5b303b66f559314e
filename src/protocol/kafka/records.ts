/**
 * Uncompressed v2 record batches (magic 2): a pure codec, bytes ⇄ records, no I/O.
 *
 * The broker's produce and fetch paths never decode records (DESIGN.md, decision 4); this codec is
 * for the broker's own logs (the group offsets log), for the client's consumer and for tools and
 * tests that write or read records themselves. decodeRecordBatch refuses compressed batches; a
 * reader that decompresses (the consumer) walks the decompressed section with RecordIterator,
 * which every record reader here shares. Records are written by RecordBatchBuilder
 * (record-batch-builder.ts), which encodeRecordBatch uses too.
 *
 *   batch header: drawn in batch-header.ts (the layout is shared with the storage engine)
 *
 *   record:  length varint │ attributes int8 (0) │ timestampDelta varlong │ offsetDelta varint │
 *            keyLength varint │ key │ valueLength varint │ value │ headerCount varint │
 *            headers: keyLength varint │ key utf8 │ valueLength varint │ value
 *   Lengths of −1 stand for null; varints are zigzag encoded; `length` counts the bytes after it.
 *
 * Offsets and timestamps are plain numbers (exact up to 2^53); BigInt appears only where int64
 * fields are read or written.
 */
import { MalformedInputError } from '../wire/errors.js';
import {
  batchHeaderBytes,
  batchOverheadBytes,
  batchTotalBytes,
  compressionCodecMask,
  controlBit,
  currentMagic,
  hasValidCrc,
  isLogAppendTime,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBaseTimestamp,
  readBatchLength,
  readLastOffset,
  readMagic,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  readProducerEpoch,
  readProducerId,
  readRecordsCount,
  recordsAt,
  timestampTypeBit,
  transactionalBit,
} from './batch-header.js';
import { RecordBatchBuilder } from './record-batch-builder.js';


export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

export interface RecordToEncode {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Absolute; the batch's baseTimestamp when left out. */
  readonly timestampMs?: number;
  readonly headers?: readonly RecordHeader[];
}

export interface BatchToEncode {
  readonly records: readonly RecordToEncode[];
  /** 0 by default: the log assigns the real offset on append. */
  readonly baseOffset?: number;
  /** Timestamp of records that have none of their own; required so that encoding is pure. */
  readonly baseTimestampMs: number;
  readonly partitionLeaderEpoch?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly transactional?: boolean;
  readonly logAppendTime?: boolean;
}

export interface DecodedRecord {
  readonly offset: number;
  readonly timestampMs: number;
  /** Views into the decoded buffer (no copies). */
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface DecodedRecordBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly partitionLeaderEpoch: number;
  readonly attributes: number;
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly records: readonly DecodedRecord[];
  /** Bytes the batch occupies, header included. */
  readonly totalBytes: number;
}

/** One whole batch, CRC filled in. */
export function encodeRecordBatch(batch: BatchToEncode): Buffer {
  if (batch.records.length === 0) throw new RangeError('a record batch holds at least one record');
  const baseTimestamp = batch.records.reduce((lowest, record) => Math.min(lowest, record.timestampMs ?? batch.baseTimestampMs), batch.baseTimestampMs);
  const builder = new RecordBatchBuilder(256, baseTimestamp);
  for (const record of batch.records) builder.append(record.timestampMs ?? batch.baseTimestampMs, record.key, record.value, record.headers);
  return builder.build({
    baseOffset: batch.baseOffset ?? 0,
    partitionLeaderEpoch: batch.partitionLeaderEpoch ?? -1,
    attributes: (batch.logAppendTime === true ? timestampTypeBit : 0) | (batch.transactional === true ? transactionalBit : 0),
    producerId: batch.producerId ?? -1n,
    producerEpoch: batch.producerEpoch ?? -1,
    baseSequence: batch.baseSequence ?? -1,
  });
}

/** Whole bytes of the batch starting at `start`, or null when fewer than that remain. */
export function recordBatchTotalBytes(buffer: Buffer, start = 0): number | null {
  if (buffer.length - start < batchOverheadBytes) return null;
  const total = batchTotalBytes(buffer, start);
  return buffer.length - start >= total ? total : null;
}

export interface DecodeOptions {
  /** Check the CRC (default true). */
  readonly verifyCrc?: boolean;
}

/**
 * Decodes the one batch at `start`. Throws MalformedInputError when the bytes are not a whole,
 * well-formed, uncompressed v2 batch (truncated, wrong magic, CRC mismatch, record lengths that do
 * not add up, a compression codec set).
 */
export function decodeRecordBatch(buffer: Buffer, start = 0, options: DecodeOptions = {}): DecodedRecordBatch {
  if (buffer.length - start < batchHeaderBytes) throw new MalformedInputError(`record batch: ${buffer.length - start} bytes is shorter than a header`);
  const batchLength = readBatchLength(buffer, start);
  const totalBytes = batchLength + batchOverheadBytes;
  if (batchLength < batchHeaderBytes - batchOverheadBytes) throw new MalformedInputError(`record batch: batchLength ${batchLength} is below the header size`);
  if (buffer.length - start < totalBytes) throw new MalformedInputError(`record batch: truncated, ${buffer.length - start} of ${totalBytes} bytes`);
  const magic = readMagic(buffer, start);
  if (magic !== currentMagic) throw new MalformedInputError(`record batch: magic ${magic}, expected 2`);
  const end = start + totalBytes;
  if (options.verifyCrc !== false && !hasValidCrc(buffer, start, totalBytes)) throw new MalformedInputError('record batch: CRC mismatch');
  const attributes = readAttributes(buffer, start);
  if ((attributes & compressionCodecMask) !== 0) throw new MalformedInputError(`record batch: compression codec ${attributes & compressionCodecMask} is not decoded here`);
  const count = readRecordsCount(buffer, start);
  if (count < 0 || count > end - (start + recordsAt)) throw new MalformedInputError(`record batch: record count ${count} does not fit`);
  const iterator = new RecordIterator(buffer, start, buffer, start + recordsAt, end);
  const records: DecodedRecord[] = [];
  while (iterator.next()) records.push({ offset: iterator.offset, timestampMs: iterator.timestampMs, key: iterator.key(), value: iterator.value(), headers: iterator.headers() });
  if (iterator.position !== end) throw new MalformedInputError(`record batch: ${end - iterator.position} bytes after the last record`);
  return {
    baseOffset: readBaseOffset(buffer, start),
    lastOffset: readLastOffset(buffer, start),
    partitionLeaderEpoch: readPartitionLeaderEpoch(buffer, start),
    attributes,
    baseTimestampMs: readBaseTimestamp(buffer, start),
    maxTimestampMs: readMaxTimestamp(buffer, start),
    producerId: readProducerId(buffer, start),
    producerEpoch: readProducerEpoch(buffer, start),
    baseSequence: readBaseSequence(buffer, start),
    isTransactional: (attributes & transactionalBit) !== 0,
    isControl: (attributes & controlBit) !== 0,
    records,
    totalBytes,
  };
}

const noHeaders: readonly RecordHeader[] = [];

/**
 * Walks the records of one batch, checking every length against the bytes left (MalformedInputError
 * otherwise). `records[start, end)` is the batch's records section: for a compressed batch, its
 * decompressed bytes; `header[at…]` is the batch, whose header gives the count, base offset and
 * timestamps. Nothing is allocated per record unless asked for: `offset` and `timestampMs` are
 * fields, key() and value() make views of `records`, headers() decodes the record's headers.
 *
 *   const iterator = new RecordIterator(batch, 0, section, 0, section.length);
 *   while (iterator.next()) use(iterator.offset, iterator.timestampMs, iterator.key(), iterator.value());
 *
 * For LogAppendTime batches every record's timestamp is the batch's maxTimestamp.
 */
export class RecordIterator {
  /** Of the current record (after next() returned true). */
  offset = 0;
  timestampMs = 0;
  /** Where the next record starts (after the last one: where the records ended). */
  position: number;
  private recordsLeft: number;
  private readonly baseOffset: number;
  private readonly baseTimestampMs: number;
  private readonly logAppendTimeMs: number | null;
  private keyAt = 0;
  private keyBytes = -1;
  private valueAt = 0;
  private valueBytes = -1;
  private headerCount = 0;
  /** Per header of the current record: key start, key bytes, value start, value bytes (−1: null); reused. */
  private headerFields = new Int32Array(32);

  constructor(
    header: Buffer,
    at: number,
    private readonly records: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.position = start;
    this.recordsLeft = readRecordsCount(header, at);
    this.baseOffset = readBaseOffset(header, at);
    this.baseTimestampMs = readBaseTimestamp(header, at);
    this.logAppendTimeMs = isLogAppendTime(header, at) ? readMaxTimestamp(header, at) : null;
  }

  /** Reads the next record's fields; false after the batch's last record. */
  next(): boolean {
    if (this.recordsLeft <= 0) return false;
    this.recordsLeft--;
    const end = this.end;
    const length = this.zigzag(end);
    const recordEnd = this.position + length;
    if (length < 0 || recordEnd > end) throw new MalformedInputError(`record: length ${length} with ${end - this.position} bytes left`);
    this.position += 1; // attributes, unused in v2
    const timestampDelta = this.zigzag(recordEnd);
    this.offset = this.baseOffset + this.zigzag(recordEnd);
    this.timestampMs = this.logAppendTimeMs ?? this.baseTimestampMs + timestampDelta;
    this.keyBytes = this.fieldLength(recordEnd);
    this.keyAt = this.position;
    this.position += Math.max(this.keyBytes, 0);
    this.valueBytes = this.fieldLength(recordEnd);
    this.valueAt = this.position;
    this.position += Math.max(this.valueBytes, 0);
    const headerCount = this.zigzag(recordEnd);
    if (headerCount < 0 || headerCount > recordEnd - this.position) throw new MalformedInputError(`record: header count ${headerCount}`);
    this.headerCount = headerCount;
    if (headerCount * 4 > this.headerFields.length) this.headerFields = new Int32Array(headerCount * 8);
    const fields = this.headerFields;
    for (let header = 0; header < headerCount; header++) {
      const keyBytes = this.fieldLength(recordEnd);
      if (keyBytes < 0) throw new MalformedInputError('record: null header key');
      fields[header * 4] = this.position;
      fields[header * 4 + 1] = keyBytes;
      this.position += keyBytes;
      const valueBytes = this.fieldLength(recordEnd); // read before adding: it moves `position`
      fields[header * 4 + 2] = this.position;
      fields[header * 4 + 3] = valueBytes;
      this.position += Math.max(valueBytes, 0);
    }
    if (this.position !== recordEnd) throw new MalformedInputError(`record: ${recordEnd - this.position} bytes beyond its fields`);
    return true;
  }

  /** The current record's key: a view of the records, or null. */
  key(): Buffer | null {
    return this.keyBytes < 0 ? null : this.records.subarray(this.keyAt, this.keyAt + this.keyBytes);
  }

  /** The current record's value: a view of the records, or null. */
  value(): Buffer | null {
    return this.valueBytes < 0 ? null : this.records.subarray(this.valueAt, this.valueAt + this.valueBytes);
  }

  /** The current record's headers (keys as text, values as views); one shared empty list when none. */
  headers(): readonly RecordHeader[] {
    if (this.headerCount === 0) return noHeaders;
    const fields = this.headerFields;
    const headers: RecordHeader[] = [];
    for (let header = 0; header < this.headerCount; header++) {
      const keyAt = fields[header * 4]!;
      const valueAt = fields[header * 4 + 2]!;
      const valueBytes = fields[header * 4 + 3]!;
      headers.push({
        key: this.records.toString('utf8', keyAt, keyAt + fields[header * 4 + 1]!),
        value: valueBytes < 0 ? null : this.records.subarray(valueAt, valueAt + valueBytes),
      });
    }
    return headers;
  }

  /** A length-prefixed field's length (−1 for null), checked against the record's end. */
  private fieldLength(recordEnd: number): number {
    const length = this.zigzag(recordEnd);
    if (length < -1 || this.position + length > recordEnd) throw new MalformedInputError(`record: field of ${length} bytes with ${recordEnd - this.position} left`);
    return length;
  }

  /** A zigzag varint or varlong (as a number: exact up to 2^53) at `position`, advancing it. */
  private zigzag(end: number): number {
    let unsigned = 0;
    let scale = 1;
    for (let byteIndex = 0; byteIndex < maxVarintBytes; byteIndex++) {
      if (this.position >= end) throw new MalformedInputError('record: truncated varint');
      const byte = this.records[this.position++]!;
      unsigned += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
      scale *= 128;
    }
    throw new MalformedInputError('record: varint longer than 10 bytes');
  }
}

/** A varlong takes at most 10 bytes (64 bits, 7 per byte). */
const maxVarintBytes = 10;

/**
 * Decodes consecutive whole batches (as a log read returns them). A truncated batch at the end is
 * left alone; the position after the last whole batch is returned with the batches.
 */
export function decodeRecordBatches(buffer: Buffer, options: DecodeOptions = {}): { batches: DecodedRecordBatch[]; endPosition: number } {
  const batches: DecodedRecordBatch[] = [];
  let position = 0;
  for (;;) {
    const total = recordBatchTotalBytes(buffer, position);
    if (total === null) break;
    batches.push(decodeRecordBatch(buffer, position, options));
    position += total;
  }
  return { batches, endPosition: position };
}
