/**
 * Builds one v2 record batch in place, record by record, into one growing buffer: the 61-byte
 * header is left blank at the front and filled in (and the records section compressed) when the
 * batch is finished. Keys, values and header values are copied straight from the caller's Buffer or
 * string into the batch; nothing is allocated per record unless the buffer must grow.
 * (The layout is drawn in src/protocol/kafka/records.ts.)
 */
import { batchHeaderBytes, compressionCodecMask, writeBatchHeader } from '../protocol/kafka/batch-header.js';
import { compressRecords } from './compression.js';

export type Bytes = Buffer | string | null;

export interface HeaderToSend {
  readonly key: string;
  readonly value: Bytes;
}

function byteLength(value: Bytes): number {
  if (value === null) return -1;
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
}

/** Bytes of a zigzag varint/varlong of a safe integer. */
function zigzagSize(value: number): number {
  return unsignedSize(value >= 0 ? value * 2 : -value * 2 - 1);
}

function unsignedSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Producer id, epoch and first sequence of an idempotent batch; -1s when not idempotent. */
export interface BatchIdentity {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

const noIdentity: BatchIdentity = { producerId: -1n, producerEpoch: -1, baseSequence: -1 };

export class BatchBuilder {
  private buffer: Buffer;
  private position = batchHeaderBytes;
  private baseTimestampMs = -1;
  private maxTimestampMs = -1;
  recordCount = 0;

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialBytes, 1024) + batchHeaderBytes);
  }

  /** Bytes the batch takes so far, uncompressed, header included. */
  get sizeBytes(): number {
    return this.position;
  }

  append(timestampMs: number, key: Bytes, value: Bytes, headers: readonly HeaderToSend[] | undefined): void {
    if (this.recordCount === 0) this.baseTimestampMs = timestampMs;
    // Timestamps may go backwards (caller-given); the delta is then negative, which zigzag carries.
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
   * The whole batch, records compressed with `codec`, CRC filled in. The builder is spent.
   * `identity` makes it an idempotent batch (producer id, epoch, first sequence).
   */
  async finish(codec: number, identity: BatchIdentity = noIdentity): Promise<Buffer> {
    let batch = this.buffer.subarray(0, this.position);
    if (codec !== 0) {
      const compressed = await compressRecords(codec, batch.subarray(batchHeaderBytes));
      const whole = Buffer.allocUnsafe(batchHeaderBytes + compressed.length);
      compressed.copy(whole, batchHeaderBytes);
      batch = whole;
    }
    writeBatchHeader(batch, {
      baseOffset: 0, // the broker assigns it
      partitionLeaderEpoch: -1,
      attributes: codec & compressionCodecMask, // codec; create time; not transactional
      recordsCount: this.recordCount,
      baseTimestampMs: this.baseTimestampMs,
      maxTimestampMs: this.maxTimestampMs,
      producerId: identity.producerId,
      producerEpoch: identity.producerEpoch,
      baseSequence: identity.producerId < 0n ? -1 : identity.baseSequence,
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

  private bytes(value: Bytes, length: number): void {
    this.zigzag(length);
    if (value === null) return;
    if (typeof value === 'string') this.position += this.buffer.write(value, this.position, 'utf8');
    else this.position += value.copy(this.buffer, this.position);
  }
}
