import { crc32c } from '@node-rs/crc32';

/**
 * The Kafka v2 RecordBatch header. It is both the wire format and our disk format: batches are
 * stored exactly as they came off the wire, with only `baseOffset` and `partitionLeaderEpoch`
 * (both outside the CRC) and, for LogAppendTime topics, the timestamp fields patched in place.
 *
 *   byte  0 ┌──────────────────────────────┐
 *           │ baseOffset            int64  │  first offset in the batch (patched on append)
 *         8 ├──────────────────────────────┤
 *           │ batchLength           int32  │  bytes after this field = total − 12
 *        12 ├──────────────────────────────┤
 *           │ partitionLeaderEpoch  int32  │  not covered by the CRC
 *        16 ├──────────────────────────────┤
 *           │ magic                 int8   │  always 2
 *        17 ├──────────────────────────────┤
 *           │ crc                   uint32 │  CRC-32C of bytes 21 .. end
 *        21 ├──────────────────────────────┤ ◄── CRC coverage starts here
 *           │ attributes            int16  │  bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)
 *           │                              │  bit 3 timestamp type (1 = LogAppendTime)
 *           │                              │  bit 4 transactional, bit 5 control
 *        23 │ lastOffsetDelta       int32  │
 *        27 │ baseTimestamp         int64  │
 *        35 │ maxTimestamp          int64  │
 *        43 │ producerId            int64  │
 *        51 │ producerEpoch         int16  │
 *        53 │ baseSequence          int32  │
 *        57 │ recordsCount          int32  │
 *        61 ├──────────────────────────────┤
 *           │ records …                    │  (compressed as a whole when codec ≠ 0)
 *           └──────────────────────────────┘
 *
 * Offsets and timestamps are plain numbers (exact up to 2^53); BigInt appears only at the edge,
 * where int64 fields are read or written.
 */

export const batchHeaderBytes = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const batchOverheadBytes = 12;
export const currentMagic = 2;

export const baseOffsetAt = 0;
export const batchLengthAt = 8;
export const partitionLeaderEpochAt = 12;
export const magicAt = 16;
export const crcAt = 17;
export const attributesAt = 21;
export const lastOffsetDeltaAt = 23;
export const baseTimestampAt = 27;
export const maxTimestampAt = 35;
export const producerIdAt = 43;
export const producerEpochAt = 51;
export const baseSequenceAt = 53;
export const recordsCountAt = 57;
export const recordsAt = 61;

export const compressionCodecMask = 0x07;
export const timestampTypeBit = 0x08;
export const transactionalBit = 0x10;
export const controlBit = 0x20;

/** Kafka's "no timestamp". */
export const noTimestamp = -1;

export function readBatchLength(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at + batchLengthAt);
}

/** Whole size of the batch starting at `at`: batchLength + 12. */
export function batchTotalBytes(buffer: Buffer, at: number): number {
  return readBatchLength(buffer, at) + batchOverheadBytes;
}

/**
 * An int64 field as a number, without a BigInt (offsets and ms timestamps are safe integers; a
 * value beyond 2^53 comes out rounded, as Number(bigint) would round it).
 */
export function readInt64Number(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * 0x1_0000_0000 + buffer.readUInt32BE(at + 4);
}

/** Writes a safe integer (negative ones too) as a big-endian int64, without a BigInt. */
export function writeInt64Number(buffer: Buffer, value: number, at: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * 0x1_0000_0000, at + 4);
}

export function readBaseOffset(buffer: Buffer, at: number): number {
  return readInt64Number(buffer, at + baseOffsetAt);
}

export function readPartitionLeaderEpoch(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at + partitionLeaderEpochAt);
}

export function readMagic(buffer: Buffer, at: number): number {
  return buffer.readInt8(at + magicAt);
}

export function readCrc(buffer: Buffer, at: number): number {
  return buffer.readUInt32BE(at + crcAt);
}

export function readAttributes(buffer: Buffer, at: number): number {
  return buffer.readInt16BE(at + attributesAt);
}

export function readCompressionCodec(buffer: Buffer, at: number): number {
  return readAttributes(buffer, at) & compressionCodecMask;
}

export function isLogAppendTime(buffer: Buffer, at: number): boolean {
  return (readAttributes(buffer, at) & timestampTypeBit) !== 0;
}

export function isControl(buffer: Buffer, at: number): boolean {
  return (readAttributes(buffer, at) & controlBit) !== 0;
}

export function readLastOffsetDelta(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at + lastOffsetDeltaAt);
}

export function readBaseTimestamp(buffer: Buffer, at: number): number {
  return readInt64Number(buffer, at + baseTimestampAt);
}

export function readMaxTimestamp(buffer: Buffer, at: number): number {
  return readInt64Number(buffer, at + maxTimestampAt);
}

/** producerId is -1 or a broker-assigned id; returned as bigint because ids may exceed 2^53. */
export function readProducerId(buffer: Buffer, at: number): bigint {
  return buffer.readBigInt64BE(at + producerIdAt);
}

export function readProducerEpoch(buffer: Buffer, at: number): number {
  return buffer.readInt16BE(at + producerEpochAt);
}

export function readBaseSequence(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at + baseSequenceAt);
}

export function readRecordsCount(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at + recordsCountAt);
}

/** Last offset in the batch: baseOffset + lastOffsetDelta. */
export function readLastOffset(buffer: Buffer, at: number): number {
  return readBaseOffset(buffer, at) + readLastOffsetDelta(buffer, at);
}

/** CRC-32C over attributes .. end of the batch (bytes 21 .. totalBytes). */
export function computeBatchCrc(buffer: Buffer, at: number, totalBytes: number): number {
  return crc32c(buffer.subarray(at + attributesAt, at + totalBytes));
}

export function hasValidCrc(buffer: Buffer, at: number, totalBytes: number): boolean {
  return computeBatchCrc(buffer, at, totalBytes) === readCrc(buffer, at);
}

export function setBaseOffset(buffer: Buffer, at: number, offset: number): void {
  writeInt64Number(buffer, offset, at + baseOffsetAt);
}

export function setPartitionLeaderEpoch(buffer: Buffer, at: number, epoch: number): void {
  buffer.writeInt32BE(epoch, at + partitionLeaderEpochAt);
}

/** Every header field a writer of a new batch chooses; the rest follow from the buffer. */
export interface BatchHeaderFields {
  readonly baseOffset: number;
  readonly partitionLeaderEpoch: number;
  readonly attributes: number;
  readonly recordsCount: number;
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

/**
 * Writes the header of a new batch that fills all of `batch` (its records already in place after
 * the header): batchLength and magic from the buffer, lastOffsetDelta = recordsCount − 1, then the
 * CRC. For encoders (the client, the broker's own logs); the produce path never writes headers.
 */
export function writeBatchHeader(batch: Buffer, header: BatchHeaderFields): void {
  writeInt64Number(batch, header.baseOffset, baseOffsetAt);
  batch.writeInt32BE(batch.length - batchOverheadBytes, batchLengthAt);
  batch.writeInt32BE(header.partitionLeaderEpoch, partitionLeaderEpochAt);
  batch.writeInt8(currentMagic, magicAt);
  batch.writeInt16BE(header.attributes, attributesAt);
  batch.writeInt32BE(header.recordsCount - 1, lastOffsetDeltaAt);
  writeInt64Number(batch, header.baseTimestampMs, baseTimestampAt);
  writeInt64Number(batch, header.maxTimestampMs, maxTimestampAt);
  if (header.producerId === -1n) writeInt64Number(batch, -1, producerIdAt);
  else batch.writeBigInt64BE(header.producerId, producerIdAt);
  batch.writeInt16BE(header.producerEpoch, producerEpochAt);
  batch.writeInt32BE(header.baseSequence, baseSequenceAt);
  batch.writeInt32BE(header.recordsCount, recordsCountAt);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), crcAt);
}

/**
 * Marks the batch as LogAppendTime: sets attribute bit 3, writes maxTimestamp (records' own
 * timestamps are then ignored by readers) and recomputes the CRC, since both fields are under it.
 */
export function setLogAppendTime(buffer: Buffer, at: number, timestampMs: number): void {
  const totalBytes = batchTotalBytes(buffer, at);
  buffer.writeInt16BE(readAttributes(buffer, at) | timestampTypeBit, at + attributesAt);
  writeInt64Number(buffer, timestampMs, at + maxTimestampAt);
  buffer.writeUInt32BE(computeBatchCrc(buffer, at, totalBytes), at + crcAt);
}

/**
 * Why the header at `at` cannot start a batch (the caller guarantees 61 readable bytes): length
 * too small, wrong magic, negative lastOffsetDelta. Null when it is plausible. The CRC is checked
 * separately, because recovery needs it and the read path does not.
 */
export function describeHeaderFieldProblem(buffer: Buffer, at: number): string | null {
  const batchLength = readBatchLength(buffer, at);
  if (batchLength < batchHeaderBytes - batchOverheadBytes) return `batchLength ${batchLength} below header size`;
  if (readMagic(buffer, at) !== currentMagic) return `magic ${readMagic(buffer, at)}`;
  if (readLastOffsetDelta(buffer, at) < 0) return 'negative lastOffsetDelta';
  return null;
}

/** Why the bytes at `at` (up to `end`) are not one whole plausible batch; null when they are. */
export function describeHeaderProblem(buffer: Buffer, at: number, end: number = buffer.length): string | null {
  if (end - at < batchOverheadBytes) return 'truncated length field';
  if (end - at < batchHeaderBytes) return 'truncated header';
  const problem = describeHeaderFieldProblem(buffer, at);
  if (problem !== null) return problem;
  if (end - at < readBatchLength(buffer, at) + batchOverheadBytes) return 'truncated batch';
  return null;
}

/** What a walk over consecutive batches sees of each one; the view is reused between calls. */
export interface BatchView {
  buffer: Buffer;
  /** Position of the batch's first byte in `buffer`. */
  at: number;
  totalBytes: number;
}

/**
 * Calls `visit` for each complete batch in `buffer` (from `start`), in order. Stops cleanly at a
 * truncated or malformed tail, or when `visit` returns false. Returns the position after the last
 * batch visited, so callers can tell how far the buffer held whole batches.
 */
export function forEachBatch(buffer: Buffer, visit: (view: BatchView) => boolean | void, start = 0, end = buffer.length): number {
  const view: BatchView = { buffer, at: start, totalBytes: 0 };
  let at = start;
  while (at < end) {
    if (describeHeaderProblem(buffer, at, end) !== null) break;
    view.at = at;
    view.totalBytes = batchTotalBytes(buffer, at);
    if (visit(view) === false) break;
    at += view.totalBytes;
  }
  return at;
}

// ── Record walking (timestamp lookups only, never append/fetch; compressed batches decompressed first) ──
//
//   record: length varint │ attributes int8 │ timestampDelta varlong │ offsetDelta varint │
//           keyLength varint │ key │ valueLength varint │ value │ headerCount varint │ headers…
//   length counts the bytes after the length field. Varints are zigzag encoded.

/** Reads a zigzag varint/varlong at `cursor.at`, advancing it; returns null on malformed input. */
export function readZigzag(buffer: Buffer, cursor: { at: number }, end: number, maxBytes: number): number | null {
  let value = 0;
  let multiplier = 1;
  for (let index = 0; index < maxBytes; index++) {
    if (cursor.at >= end) return null;
    const byte = buffer[cursor.at++]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      // zigzag: even → value/2, odd → −(value+1)/2; arithmetic keeps exactness beyond 32 bits
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    multiplier *= 128;
  }
  return null;
}

/** Bytes of the zigzag varint of a safe integer (the record fields' lengths and deltas). */
export function zigzagBytes(value: number): number {
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (unsigned >= 128) {
    unsigned = Math.floor(unsigned / 128);
    bytes++;
  }
  return bytes;
}

/** Writes the zigzag varint of a safe integer at `position`; returns the position after it. */
export function writeZigzag(buffer: Buffer, position: number, value: number): number {
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  while (unsigned >= 128) {
    buffer[position++] = (unsigned % 128) | 0x80;
    unsigned = Math.floor(unsigned / 128);
  }
  buffer[position++] = unsigned;
  return position;
}

/**
 * A new batch with `batch`'s 61-byte header and `records` as its records section: batchLength and
 * the CRC-32C computed for it, attributes and recordsCount replaced when given. For the broker's
 * rewrites of stored or produced batches (recompression, the log cleaner), which keep every other
 * header field (offsets, timestamps, producer fields) as it was.
 */
export function withRecordsSection(batch: Buffer, records: Buffer, changes: { readonly attributes?: number; readonly recordsCount?: number } = {}): Buffer {
  const rebuilt = Buffer.allocUnsafe(batchHeaderBytes + records.length);
  batch.copy(rebuilt, 0, 0, batchHeaderBytes);
  records.copy(rebuilt, recordsAt);
  rebuilt.writeInt32BE(rebuilt.length - batchOverheadBytes, batchLengthAt);
  if (changes.attributes !== undefined) rebuilt.writeInt16BE(changes.attributes, attributesAt);
  if (changes.recordsCount !== undefined) rebuilt.writeInt32BE(changes.recordsCount, recordsCountAt);
  rebuilt.writeUInt32BE(computeBatchCrc(rebuilt, 0, rebuilt.length), crcAt);
  return rebuilt;
}
