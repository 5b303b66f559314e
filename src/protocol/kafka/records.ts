/**
 * Uncompressed v2 record batches (magic 2): a pure codec, bytes ⇄ records, no I/O.
 *
 * The broker's produce and fetch paths never decode records (DESIGN.md, decision 4); this codec is
 * for the broker's own logs (the group offsets log) and for tools and tests that write or read
 * records themselves. Compressed batches are refused, not decompressed.
 *
 *   byte  0 ┌──────────────────────────────┐
 *           │ baseOffset            int64  │  offset of the first record (the log patches it)
 *         8 │ batchLength           int32  │  bytes after this field = total − 12
 *        12 │ partitionLeaderEpoch  int32  │  outside the CRC
 *        16 │ magic                 int8   │  2
 *        17 │ crc                   uint32 │  CRC-32C of bytes 21 .. end
 *        21 │ attributes            int16  │  bits 0-2 codec (must be 0 here), 3 timestamp type,
 *           │                              │  4 transactional, 5 control
 *        23 │ lastOffsetDelta       int32  │  recordsCount − 1 (for batches we write)
 *        27 │ baseTimestamp         int64  │
 *        35 │ maxTimestamp          int64  │
 *        43 │ producerId            int64  │  −1 when none
 *        51 │ producerEpoch         int16  │  −1 when none
 *        53 │ baseSequence          int32  │  −1 when none
 *        57 │ recordsCount          int32  │
 *        61 ├──────────────────────────────┤
 *           │ records …                    │
 *           └──────────────────────────────┘
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

export const recordBatchHeaderBytes = 61;
/** baseOffset and batchLength: the bytes batchLength does not count. */
export const recordBatchOverheadBytes = 12;
export const recordBatchMagic = 2;

const at = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

const compressionCodecMask = 0x07;
const logAppendTimeBit = 0x08;
const transactionalBit = 0x10;
const controlBit = 0x20;

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
  const output = Buffer.allocUnsafe(recordBatchHeaderBytes + records.length);
  const attributes = (batch.logAppendTime === true ? logAppendTimeBit : 0) | (batch.transactional === true ? transactionalBit : 0);
  output.writeBigInt64BE(BigInt(batch.baseOffset ?? 0), at.baseOffset);
  output.writeInt32BE(output.length - recordBatchOverheadBytes, at.batchLength);
  output.writeInt32BE(batch.partitionLeaderEpoch ?? -1, at.partitionLeaderEpoch);
  output.writeInt8(recordBatchMagic, at.magic);
  output.writeInt16BE(attributes, at.attributes);
  output.writeInt32BE(batch.records.length - 1, at.lastOffsetDelta);
  output.writeBigInt64BE(BigInt(baseTimestamp), at.baseTimestamp);
  output.writeBigInt64BE(BigInt(maxTimestamp), at.maxTimestamp);
  output.writeBigInt64BE(batch.producerId ?? -1n, at.producerId);
  output.writeInt16BE(batch.producerEpoch ?? -1, at.producerEpoch);
  output.writeInt32BE(batch.baseSequence ?? -1, at.baseSequence);
  output.writeInt32BE(batch.records.length, at.recordsCount);
  records.copy(output, at.records);
  output.writeUInt32BE(crc32c(output.subarray(at.attributes)), at.crc);
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
  if (buffer.length - start < recordBatchOverheadBytes) return null;
  const total = buffer.readInt32BE(start + at.batchLength) + recordBatchOverheadBytes;
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
  if (buffer.length - start < recordBatchHeaderBytes) throw new MalformedInputError(`record batch: ${buffer.length - start} bytes is shorter than a header`);
  const batchLength = buffer.readInt32BE(start + at.batchLength);
  const totalBytes = batchLength + recordBatchOverheadBytes;
  if (batchLength < recordBatchHeaderBytes - recordBatchOverheadBytes) throw new MalformedInputError(`record batch: batchLength ${batchLength} is below the header size`);
  if (buffer.length - start < totalBytes) throw new MalformedInputError(`record batch: truncated, ${buffer.length - start} of ${totalBytes} bytes`);
  const magic = buffer.readInt8(start + at.magic);
  if (magic !== recordBatchMagic) throw new MalformedInputError(`record batch: magic ${magic}, expected 2`);
  const end = start + totalBytes;
  if (options.verifyCrc !== false) {
    const crc = crc32c(buffer.subarray(start + at.attributes, end));
    if (crc !== buffer.readUInt32BE(start + at.crc)) throw new MalformedInputError('record batch: CRC mismatch');
  }
  const attributes = buffer.readInt16BE(start + at.attributes);
  if ((attributes & compressionCodecMask) !== 0) throw new MalformedInputError(`record batch: compression codec ${attributes & compressionCodecMask} is not decoded here`);
  const baseOffset = Number(buffer.readBigInt64BE(start + at.baseOffset));
  const lastOffsetDelta = buffer.readInt32BE(start + at.lastOffsetDelta);
  const baseTimestampMs = Number(buffer.readBigInt64BE(start + at.baseTimestamp));
  const maxTimestampMs = Number(buffer.readBigInt64BE(start + at.maxTimestamp));
  const logAppendTime = (attributes & logAppendTimeBit) !== 0;
  const count = buffer.readInt32BE(start + at.recordsCount);
  if (count < 0 || count > end - (start + at.records)) throw new MalformedInputError(`record batch: record count ${count} does not fit`);
  const reader = new Reader(buffer, start + at.records, end);
  const records: DecodedRecord[] = [];
  for (let index = 0; index < count; index++) {
    records.push(readRecord(reader, baseOffset, baseTimestampMs, logAppendTime ? maxTimestampMs : null));
  }
  if (reader.remaining !== 0) throw new MalformedInputError(`record batch: ${reader.remaining} bytes after the last record`);
  return {
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    partitionLeaderEpoch: buffer.readInt32BE(start + at.partitionLeaderEpoch),
    attributes,
    baseTimestampMs,
    maxTimestampMs,
    producerId: buffer.readBigInt64BE(start + at.producerId),
    producerEpoch: buffer.readInt16BE(start + at.producerEpoch),
    baseSequence: buffer.readInt32BE(start + at.baseSequence),
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
