/**
 * Writes one v2 record batch in place, record by record, into one growing buffer: the 61-byte
 * header (batch-header.ts) is left blank at the front and filled in when the batch is built. Each
 * record's size is computed first, then its varints and bytes are written straight into the
 * buffer: keys, values and header values are copied from the caller's Buffer or string, and
 * nothing is allocated per record unless the buffer must grow.
 *
 *   record:  length varint │ attributes int8 (0) │ timestampDelta varlong │ offsetDelta varint │
 *            keyLength varint │ key │ valueLength varint │ value │ headerCount varint │
 *            headers: keyLength varint │ key utf8 │ valueLength varint │ value
 *   (the layout records.ts reads; lengths of −1 stand for null; varints are zigzag encoded)
 *
 * The client's producer builds its batches with it (compressing the records section before the
 * header is written, src/client/batch-builder.ts), and encodeRecordBatch in records.ts for the
 * broker's own logs and for tests, so both write one layout.
 */
import { batchHeaderBytes, writeBatchHeader } from './batch-header.js';

/** A key, value or header value: bytes, text (written as UTF-8) or null. */
export type RecordBytes = Buffer | string | null;

export interface HeaderToWrite {
  readonly key: string;
  readonly value: RecordBytes;
}

/** The header fields a builder's caller chooses; counts, lengths and timestamps come from the records. */
export interface BatchHeaderChoices {
  /** 0 by default: the log assigns the real offset on append. */
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
  /** Codec (bits 0-2, naming how `compressedRecords` was made), timestamp type, transactional. */
  readonly attributes: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

/** Smallest buffer a builder starts with, so that small batches do not grow at once. */
const minimumInitialBytes = 1024;

export class RecordBatchBuilder {
  private buffer: Buffer;
  private position = batchHeaderBytes;
  private baseTimestampMs: number;
  private maxTimestampMs = -1;
  recordCount = 0;

  /**
   * `baseTimestampMs` is the batch's base timestamp; by default the first record's (later ones may
   * be earlier: their delta is then negative, which zigzag carries).
   */
  constructor(
    initialBytes: number,
    private readonly fixedBaseTimestampMs: number | null = null,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialBytes, minimumInitialBytes) + batchHeaderBytes);
    this.baseTimestampMs = fixedBaseTimestampMs ?? -1;
  }

  /** Bytes the batch takes so far, uncompressed, header included. */
  get sizeBytes(): number {
    return this.position;
  }

  /** Bytes the buffer has room for now, header included (it grows as records come). */
  get capacityBytes(): number {
    return this.buffer.length;
  }

  /** The records section written so far (a view; what a codec compresses). */
  get records(): Buffer {
    return this.buffer.subarray(batchHeaderBytes, this.position);
  }

  append(timestampMs: number, key: RecordBytes, value: RecordBytes, headers: readonly HeaderToWrite[] | undefined): void {
    if (this.recordCount === 0 && this.fixedBaseTimestampMs === null) this.baseTimestampMs = timestampMs;
    if (timestampMs > this.maxTimestampMs) this.maxTimestampMs = timestampMs;
    const timestampDelta = timestampMs - this.baseTimestampMs;
    const offsetDelta = this.recordCount;
    const keyBytes = byteLength(key);
    const valueBytes = byteLength(value);
    let bodyBytes = 1 + zigzagSize(timestampDelta) + zigzagSize(offsetDelta) + zigzagSize(keyBytes) + Math.max(keyBytes, 0) + zigzagSize(valueBytes) + Math.max(valueBytes, 0);
    const headerCount = headers?.length ?? 0;
    bodyBytes += zigzagSize(headerCount);
    if (headers !== undefined) {
      for (const header of headers) {
        const headerKeyBytes = Buffer.byteLength(header.key, 'utf8');
        const headerValueBytes = byteLength(header.value);
        bodyBytes += zigzagSize(headerKeyBytes) + headerKeyBytes + zigzagSize(headerValueBytes) + Math.max(headerValueBytes, 0);
      }
    }
    this.reserve(zigzagSize(bodyBytes) + bodyBytes);
    this.zigzag(bodyBytes);
    this.buffer[this.position++] = 0; // attributes
    this.zigzag(timestampDelta);
    this.zigzag(offsetDelta);
    this.bytes(key, keyBytes);
    this.bytes(value, valueBytes);
    this.zigzag(headerCount);
    if (headers !== undefined) {
      for (const header of headers) {
        this.bytes(header.key, Buffer.byteLength(header.key, 'utf8'));
        this.bytes(header.value, byteLength(header.value));
      }
    }
    this.recordCount++;
  }

  /**
   * The whole batch, header and CRC filled in. With `compressedRecords` (made from `records` with
   * the codec `choices.attributes` names) the batch carries those instead. The builder is spent.
   */
  build(choices: BatchHeaderChoices, compressedRecords: Buffer | null = null): Buffer {
    let batch = this.buffer.subarray(0, this.position);
    if (compressedRecords !== null) {
      batch = Buffer.allocUnsafe(batchHeaderBytes + compressedRecords.length);
      compressedRecords.copy(batch, batchHeaderBytes);
    }
    writeBatchHeader(batch, {
      baseOffset: choices.baseOffset ?? 0,
      partitionLeaderEpoch: choices.partitionLeaderEpoch ?? -1,
      attributes: choices.attributes,
      recordsCount: this.recordCount,
      baseTimestampMs: this.baseTimestampMs,
      maxTimestampMs: this.maxTimestampMs,
      producerId: choices.producerId,
      producerEpoch: choices.producerEpoch,
      baseSequence: choices.baseSequence,
    });
    return batch;
  }

  private reserve(byteCount: number): void {
    if (this.position + byteCount <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + byteCount));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }

  private zigzag(value: number): void {
    let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
    const buffer = this.buffer;
    while (unsigned >= 128) {
      buffer[this.position++] = (unsigned % 128) | 0x80;
      unsigned = Math.floor(unsigned / 128);
    }
    buffer[this.position++] = unsigned;
  }

  private bytes(value: RecordBytes, length: number): void {
    this.zigzag(length);
    if (value === null) return;
    if (typeof value === 'string') this.position += this.buffer.write(value, this.position, 'utf8');
    else this.position += value.copy(this.buffer, this.position);
  }
}

function byteLength(value: RecordBytes): number {
  if (value === null) return -1;
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

/** Bytes of a zigzag varint/varlong of a safe integer. */
function zigzagSize(value: number): number {
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (unsigned >= 128) {
    unsigned = Math.floor(unsigned / 128);
    size++;
  }
  return size;
}
