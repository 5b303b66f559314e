import { MalformedInputError } from './errors.js';

/**
 * A bounds-checked cursor over one Kafka frame (or any slice of bytes).
 *
 * Every length read from the input is checked against the bytes that remain before anything is
 * allocated, so a hostile length or array count cannot make us allocate more than the frame holds.
 * Reads past the end throw MalformedInputError; callers at the frame boundary turn that into a
 * closed connection.
 */
export class Reader {
  readonly buffer: Buffer;
  offset: number;
  readonly end: number;
  /**
   * Array elements this reader may still decode. Counts are already bounded by the bytes left, but
   * a 2-byte element can decode into a 100-byte object, so a large frame of tiny elements needs a
   * budget of its own (limits.maxRequestArrayElements).
   */
  private elementsLeft: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length, elementBudget = Infinity) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
    this.elementsLeft = elementBudget;
  }

  private spendElements(count: number): void {
    this.elementsLeft -= count;
    if (this.elementsLeft < 0) throw new MalformedInputError(`more array elements than the limit allows in one message`);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(byteCount: number, what: string): number {
    const start = this.offset;
    if (byteCount < 0 || start + byteCount > this.end) {
      throw new MalformedInputError(`${what}: need ${byteCount} bytes, ${this.end - start} left`);
    }
    this.offset = start + byteCount;
    return start;
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1, 'int8'));
  }
  uint8(): number {
    return this.buffer.readUInt8(this.need(1, 'uint8'));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.need(2, 'int16'));
  }
  uint16(): number {
    return this.buffer.readUInt16BE(this.need(2, 'uint16'));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.need(4, 'int32'));
  }
  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4, 'uint32'));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.need(8, 'int64'));
  }
  /** Unsigned 64 bits (AMQP's longlong and timestamp). */
  uint64(): bigint {
    return this.buffer.readBigUInt64BE(this.need(8, 'uint64'));
  }
  float32(): number {
    return this.buffer.readFloatBE(this.need(4, 'float32'));
  }
  float64(): number {
    return this.buffer.readDoubleBE(this.need(8, 'float64'));
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  uuid(): Buffer {
    const start = this.need(16, 'uuid');
    return Buffer.from(this.buffer.subarray(start, start + 16));
  }

  /** Unsigned LEB128 varint of at most 32 bits (5 bytes). */
  uvarint(): number {
    let value = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.buffer[this.need(1, 'uvarint')]!;
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
      shift += 7;
    }
    throw new MalformedInputError('uvarint longer than 5 bytes');
  }

  /** Zigzag varint of at most 32 bits. */
  varint(): number {
    const raw = this.uvarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zigzag varlong of at most 64 bits (10 bytes). */
  varlong(): bigint {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const byte = this.buffer[this.need(1, 'varlong')]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
      shift += 7n;
    }
    throw new MalformedInputError('varlong longer than 10 bytes');
  }

  /** A view of the next byteCount bytes (no copy). */
  slice(byteCount: number): Buffer {
    const start = this.need(byteCount, 'bytes');
    return this.buffer.subarray(start, start + byteCount);
  }

  /** The next byteCount bytes as UTF-8 text (decoded in place: no view is made). */
  text(byteCount: number): string {
    const start = this.need(byteCount, 'string');
    return this.buffer.toString('utf8', start, start + byteCount);
  }

  /** int16 length, -1 is null. */
  nullableString(): string | null {
    const length = this.int16();
    if (length < -1) throw new MalformedInputError(`string length ${length}`);
    return length === -1 ? null : this.text(length);
  }
  string(): string {
    const value = this.nullableString();
    if (value === null) throw new MalformedInputError('null in a non-nullable string');
    return value;
  }
  /** uvarint length + 1, 0 is null. */
  nullableCompactString(): string | null {
    const lengthPlusOne = this.uvarint();
    return lengthPlusOne === 0 ? null : this.text(lengthPlusOne - 1);
  }
  compactString(): string {
    const value = this.nullableCompactString();
    if (value === null) throw new MalformedInputError('null in a non-nullable compact string');
    return value;
  }

  /** int32 length, -1 is null. The result is a view into the frame. */
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < -1) throw new MalformedInputError(`bytes length ${length}`);
    return length === -1 ? null : this.slice(length);
  }
  bytes(): Buffer {
    const value = this.nullableBytes();
    if (value === null) throw new MalformedInputError('null in non-nullable bytes');
    return value;
  }
  nullableCompactBytes(): Buffer | null {
    const lengthPlusOne = this.uvarint();
    return lengthPlusOne === 0 ? null : this.slice(lengthPlusOne - 1);
  }
  compactBytes(): Buffer {
    const value = this.nullableCompactBytes();
    if (value === null) throw new MalformedInputError('null in non-nullable compact bytes');
    return value;
  }

  /**
   * int32 element count, -1 is null. A count larger than the bytes left cannot be honest (every
   * element takes at least one byte), so it is refused before anything is allocated.
   */
  arrayLength(): number {
    const count = this.int32();
    if (count < -1) throw new MalformedInputError(`array count ${count}`);
    if (count > this.remaining) throw new MalformedInputError(`array count ${count} exceeds ${this.remaining} bytes left`);
    if (count > 0) this.spendElements(count);
    return count;
  }
  /** uvarint count + 1, 0 is null; returns -1 for null. */
  compactArrayLength(): number {
    const count = this.uvarint() - 1;
    if (count > this.remaining) throw new MalformedInputError(`array count ${count} exceeds ${this.remaining} bytes left`);
    if (count > 0) this.spendElements(count);
    return count;
  }

  /**
   * Tagged fields section (KIP-482): a count, then tag, size, bytes for each. Calls onTag for each
   * field; unknown ones are skipped by the caller simply by not reading them, since the reader
   * repositions after each.
   */
  taggedFields(onTag?: (tag: number, reader: Reader) => void): void {
    const count = this.uvarint();
    if (count > this.remaining) throw new MalformedInputError(`tagged field count ${count} exceeds bytes left`);
    let previousTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      if (tag <= previousTag) throw new MalformedInputError(`tagged fields out of order: ${tag} after ${previousTag}`);
      previousTag = tag;
      const size = this.uvarint();
      const start = this.need(size, 'tagged field');
      if (onTag !== undefined) onTag(tag, new Reader(this.buffer, start, start + size));
    }
  }
}
