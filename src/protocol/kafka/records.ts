/**
 * Uncompressed v2 record batches (magic 2): a pure codec, bytes ⇄ records, no I/O.
 *
 * The broker's produce and fetch paths never decode records (DESIGN.md, decision 4); this codec is
 * for the broker's own logs (the group offsets log) and for tools and tests that write or read
 * records themselves. Compressed batches are refused, not decompressed.
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
import { crc32c } from '@node-rs/crc32';
import { MalformedInputError } from '../wire/errors.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import {
  attributesAt,
  baseOffsetAt,
  baseSequenceAt,
  baseTimestampAt,
  batchHeaderBytes,
  batchLengthAt,
  batchOverheadBytes,
  compressionCodecMask,
  batchTotalBytes,
  controlBit,
  crcAt,
  currentMagic,
  lastOffsetDeltaAt,
  magicAt,
  maxTimestampAt,
  partitionLeaderEpochAt,
  producerEpochAt,
  producerIdAt,
  recordsAt,
  recordsCountAt,
  timestampTypeBit,
  transactionalBit,
  writeBatchHeader,
} from './batch-header.js';


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
  let maxTimestamp = baseTimestamp;
  const body = new Writer(256);
  batch.records.forEach((record, offsetDelta) => {
    const timestamp = record.timestampMs ?? batch.baseTimestampMs;
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    writeRecord(body, record, offsetDelta, timestamp - baseTimestamp);
  });
  const records = body.toBuffer();
  const output = Buffer.allocUnsafe(batchHeaderBytes + records.length);
  const attributes = (batch.logAppendTime === true ? timestampTypeBit : 0) | (batch.transactional === true ? transactionalBit : 0);
  records.copy(output, batchHeaderBytes);
  writeBatchHeader(output, {
    baseOffset: batch.baseOffset ?? 0,
    partitionLeaderEpoch: batch.partitionLeaderEpoch ?? -1,
    attributes,
    recordsCount: batch.records.length,
    baseTimestampMs: baseTimestamp,
    maxTimestampMs: maxTimestamp,
    producerId: batch.producerId ?? -1n,
    producerEpoch: batch.producerEpoch ?? -1,
    baseSequence: batch.baseSequence ?? -1,
  });
  return output;
}

function writeRecord(writer: Writer, record: RecordToEncode, offsetDelta: number, timestampDelta: number): void {
  const body = new Writer(64);
  body.int8(0);
  body.varlong(BigInt(timestampDelta));
  body.varint(offsetDelta);
  writeVarintBytes(body, record.key);
  writeVarintBytes(body, record.value);
  const headers = record.headers ?? [];
  body.varint(headers.length);
  for (const header of headers) {
    writeVarintBytes(body, Buffer.from(header.key, 'utf8'));
    writeVarintBytes(body, header.value);
  }
  const bytes = body.toBuffer();
  writer.varint(bytes.length);
  writer.raw(bytes);
}

function writeVarintBytes(writer: Writer, bytes: Buffer | null): void {
  if (bytes === null) return writer.varint(-1);
  writer.varint(bytes.length);
  writer.raw(bytes);
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
  const batchLength = buffer.readInt32BE(start + batchLengthAt);
  const totalBytes = batchLength + batchOverheadBytes;
  if (batchLength < batchHeaderBytes - batchOverheadBytes) throw new MalformedInputError(`record batch: batchLength ${batchLength} is below the header size`);
  if (buffer.length - start < totalBytes) throw new MalformedInputError(`record batch: truncated, ${buffer.length - start} of ${totalBytes} bytes`);
  const magic = buffer.readInt8(start + magicAt);
  if (magic !== currentMagic) throw new MalformedInputError(`record batch: magic ${magic}, expected 2`);
  const end = start + totalBytes;
  if (options.verifyCrc !== false) {
    const crc = crc32c(buffer.subarray(start + attributesAt, end));
    if (crc !== buffer.readUInt32BE(start + crcAt)) throw new MalformedInputError('record batch: CRC mismatch');
  }
  const attributes = buffer.readInt16BE(start + attributesAt);
  if ((attributes & compressionCodecMask) !== 0) throw new MalformedInputError(`record batch: compression codec ${attributes & compressionCodecMask} is not decoded here`);
  const baseOffset = Number(buffer.readBigInt64BE(start + baseOffsetAt));
  const lastOffsetDelta = buffer.readInt32BE(start + lastOffsetDeltaAt);
  const baseTimestampMs = Number(buffer.readBigInt64BE(start + baseTimestampAt));
  const maxTimestampMs = Number(buffer.readBigInt64BE(start + maxTimestampAt));
  const logAppendTime = (attributes & timestampTypeBit) !== 0;
  const count = buffer.readInt32BE(start + recordsCountAt);
  if (count < 0 || count > end - (start + recordsAt)) throw new MalformedInputError(`record batch: record count ${count} does not fit`);
  const reader = new Reader(buffer, start + recordsAt, end);
  const records: DecodedRecord[] = [];
  for (let index = 0; index < count; index++) {
    records.push(readRecord(reader, baseOffset, baseTimestampMs, logAppendTime ? maxTimestampMs : null));
  }
  if (reader.remaining !== 0) throw new MalformedInputError(`record batch: ${reader.remaining} bytes after the last record`);
  return {
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    partitionLeaderEpoch: buffer.readInt32BE(start + partitionLeaderEpochAt),
    attributes,
    baseTimestampMs,
    maxTimestampMs,
    producerId: buffer.readBigInt64BE(start + producerIdAt),
    producerEpoch: buffer.readInt16BE(start + producerEpochAt),
    baseSequence: buffer.readInt32BE(start + baseSequenceAt),
    isTransactional: (attributes & transactionalBit) !== 0,
    isControl: (attributes & controlBit) !== 0,
    records,
    totalBytes,
  };
}

function readRecord(reader: Reader, baseOffset: number, baseTimestampMs: number, logAppendTimeMs: number | null): DecodedRecord {
  const length = reader.varint();
  if (length < 0 || length > reader.remaining) throw new MalformedInputError(`record: length ${length} with ${reader.remaining} bytes left`);
  const recordEnd = reader.offset + length;
  const record = new Reader(reader.buffer, reader.offset, recordEnd);
  record.int8(); // attributes, unused
  const timestampDelta = Number(record.varlong());
  const offsetDelta = record.varint();
  const key = readVarintBytes(record);
  const value = readVarintBytes(record);
  const headerCount = record.varint();
  if (headerCount < 0 || headerCount > record.remaining) throw new MalformedInputError(`record: header count ${headerCount}`);
  const headers: RecordHeader[] = [];
  for (let index = 0; index < headerCount; index++) {
    const headerKey = readVarintBytes(record);
    if (headerKey === null) throw new MalformedInputError('record: null header key');
    headers.push({ key: headerKey.toString('utf8'), value: readVarintBytes(record) });
  }
  if (record.remaining !== 0) throw new MalformedInputError(`record: ${record.remaining} bytes beyond its fields`);
  reader.offset = recordEnd;
  return { offset: baseOffset + offsetDelta, timestampMs: logAppendTimeMs ?? baseTimestampMs + timestampDelta, key, value, headers };
}

function readVarintBytes(reader: Reader): Buffer | null {
  const length = reader.varint();
  if (length < -1) throw new MalformedInputError(`record: field length ${length}`);
  return length === -1 ? null : reader.slice(length);
}

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
