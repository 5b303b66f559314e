/**
 * Builds an outgoing message as a list of chunks.
 *
 * Small fields are written into a growing scratch buffer; records fields (record batches read from
 * the log) and other large byte strings are appended by reference as their own chunk, so a fetch
 * response never copies the records it serves. `finish()` returns the chunks for one `socket.cork(); write…; uncork()` pass.
 *
 *     chunks: [ scratch 0..n ][ records (by reference) ][ scratch n..m ] …
 */
const copyThresholdBytes = 1024;
const maxSafeInteger = BigInt(Number.MAX_SAFE_INTEGER);
const twoToThe32 = 2 ** 32;
const initialScratchBytes = 256;

export class Writer {
  private scratch: Buffer;
  private position = 0;
  private sealedStart = 0;
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;

  constructor(initialBytes = initialScratchBytes) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunkBytes + (this.position - this.sealedStart);
  }

  /**
   * Reserves byteCount bytes and returns where they start. It may replace `this.scratch`, so callers
   * must call it before reading `this.scratch` (`this.scratch.writeX(v, this.ensure(n))` would write
   * into the old buffer).
   */
  private ensure(byteCount: number): number {
    if (this.position + byteCount > this.scratch.length) {
      this.seal();
      const size = Math.max(this.scratch.length * 2, byteCount, initialScratchBytes);
      this.scratch = Buffer.allocUnsafe(size);
      this.position = 0;
      this.sealedStart = 0;
    }
    const at = this.position;
    this.position += byteCount;
    return at;
  }

  /** Moves the written part of the scratch buffer into the chunk list. */
  private seal(): void {
    if (this.position > this.sealedStart) {
      const chunk = this.scratch.subarray(this.sealedStart, this.position);
      this.chunks.push(chunk);
      this.chunkBytes += chunk.length;
      this.sealedStart = this.position;
    }
  }

  int8(value: number): void {
    const at = this.ensure(1);
    this.scratch.writeInt8(value, at);
  }
  uint8(value: number): void {
    const at = this.ensure(1);
    this.scratch.writeUInt8(value, at);
  }
  int16(value: number): void {
    const at = this.ensure(2);
    this.scratch.writeInt16BE(value, at);
  }
  uint16(value: number): void {
    const at = this.ensure(2);
    this.scratch.writeUInt16BE(value, at);
  }
  int32(value: number): void {
    const at = this.ensure(4);
    this.scratch.writeInt32BE(value, at);
  }
  uint32(value: number): void {
    const at = this.ensure(4);
    this.scratch.writeUInt32BE(value, at);
  }
  int64(value: bigint): void {
    const at = this.ensure(8);
    // Offsets and timestamps fit a double exactly: written as two 32-bit halves, since Node's
    // writeBigInt64BE computes them with BigInt operations that allocate (three int64s in each
    // partition's Produce answer made a twentieth of the broker's garbage with 1,000 partitions).
    if (value >= -maxSafeInteger && value <= maxSafeInteger) {
      const number = Number(value);
      const high = Math.floor(number / twoToThe32);
      this.scratch.writeInt32BE(high, at);
      this.scratch.writeUInt32BE(number - high * twoToThe32, at + 4);
    } else this.scratch.writeBigInt64BE(value, at);
  }
  /** Unsigned 64 bits (AMQP's longlong and timestamp). */
  uint64(value: bigint): void {
    const at = this.ensure(8);
    this.scratch.writeBigUInt64BE(value, at);
  }
  float32(value: number): void {
    const at = this.ensure(4);
    this.scratch.writeFloatBE(value, at);
  }
  float64(value: number): void {
    const at = this.ensure(8);
    this.scratch.writeDoubleBE(value, at);
  }
  bool(value: boolean): void {
    this.int8(value ? 1 : 0);
  }
  uuid(value: Buffer): void {
    if (value.length !== 16) throw new RangeError(`uuid must be 16 bytes, got ${value.length}`);
    this.raw(value);
  }

  uvarint(value: number): void {
    let remaining = value >>> 0;
    while (remaining >= 0x80) {
      this.uint8((remaining & 0x7f) | 0x80);
      remaining >>>= 7;
    }
    this.uint8(remaining);
  }
  varint(value: number): void {
    this.uvarint(((value << 1) ^ (value >> 31)) >>> 0);
  }
  varlong(value: bigint): void {
    let remaining = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (remaining >= 0x80n) {
      this.uint8(Number(remaining & 0x7fn) | 0x80);
      remaining >>= 7n;
    }
    this.uint8(Number(remaining));
  }

  /** Appends bytes; large ones by reference (the caller must not change them afterwards). */
  raw(bytes: Buffer): void {
    if (bytes.length >= copyThresholdBytes) return this.reference(bytes);
    const at = this.ensure(bytes.length);
    bytes.copy(this.scratch, at);
  }

  /** Appends bytes by reference whatever their size (the caller must not change them afterwards). */
  private reference(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.seal();
    this.chunks.push(bytes);
    this.chunkBytes += bytes.length;
  }

  nullableString(value: string | null): void {
    if (value === null) return this.int16(-1);
    const byteLength = Buffer.byteLength(value, 'utf8');
    if (byteLength > 0x7fff) throw new RangeError(`string of ${byteLength} bytes is too long`);
    this.int16(byteLength);
    const at = this.ensure(byteLength);
    this.scratch.write(value, at, byteLength, 'utf8');
  }
  string(value: string): void {
    this.nullableString(value);
  }
  nullableCompactString(value: string | null): void {
    if (value === null) return this.uvarint(0);
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.uvarint(byteLength + 1);
    const at = this.ensure(byteLength);
    this.scratch.write(value, at, byteLength, 'utf8');
  }
  compactString(value: string): void {
    this.nullableCompactString(value);
  }
  nullableBytes(value: Buffer | null): void {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    this.raw(value);
  }
  bytes(value: Buffer): void {
    this.nullableBytes(value);
  }
  nullableCompactBytes(value: Buffer | null): void {
    if (value === null) return this.uvarint(0);
    this.uvarint(value.length + 1);
    this.raw(value);
  }
  compactBytes(value: Buffer): void {
    this.nullableCompactBytes(value);
  }
  /**
   * A records field: nullable bytes (compact in flexible versions) whose content may be several
   * chunks, e.g. batches read from different places in a segment, appended by reference however
   * small (stored bytes are never copied on the way out: they go to the socket from the buffer they
   * were read into or cached in).
   */
  records(value: Buffer | readonly Buffer[] | null, compact: boolean): void {
    if (value === null) return compact ? this.uvarint(0) : this.int32(-1);
    const chunks: readonly Buffer[] = Buffer.isBuffer(value) ? [value] : value;
    let byteCount = 0;
    for (const chunk of chunks) byteCount += chunk.length;
    if (compact) this.uvarint(byteCount + 1);
    else this.int32(byteCount);
    for (const chunk of chunks) this.reference(chunk);
  }
  arrayLength(count: number): void {
    this.int32(count);
  }
  /** -1 is null. */
  compactArrayLength(count: number): void {
    this.uvarint(count + 1);
  }

  /** Overwrites an int32 written earlier at `at` (bytes from the start of this writer). */
  patchInt32(at: number, value: number): void {
    let base = 0;
    for (const chunk of this.chunks) {
      if (at < base + chunk.length) {
        if (at + 4 > base + chunk.length) throw new RangeError('patch spans chunks');
        chunk.writeInt32BE(value, at - base);
        return;
      }
      base += chunk.length;
    }
    this.scratch.writeInt32BE(value, this.sealedStart + (at - base));
  }

  /** The message as chunks, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.seal();
    return this.chunks;
  }

  /** The message as one buffer (copies; for tests and small messages). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}
