/**
 * What the generated codecs (generated/*.ts) call besides Reader and Writer: the version check
 * around each codec, the errors, default values, and the sizes of values written as tagged fields.
 *
 * A tagged field is written as tag, size, bytes (KIP-482). The generated encoder computes the size
 * with the functions below and writes the value straight into the message's Writer, instead of
 * encoding it into a scratch Writer first and copying it.
 */
import { MalformedInputError } from '../wire/errors.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import type { MessageCodec } from './codec.js';
import { parseRange } from './schema.js';
import type { Decoded, Encodable, MessageSchema } from './schema.js';

/** Default of uuid fields: all zeros. Shared; decoded messages must not be written into. */
export const zeroUuid = Buffer.alloc(16);
/** Default of bytes fields. */
export const emptyBytes = Buffer.alloc(0);

/** Wraps a generated decoder and encoder into a codec that refuses versions the schema does not declare. */
export function defineCodec<S extends MessageSchema>(
  schema: S,
  decode: (version: number, reader: Reader) => Decoded<S>,
  encode: (version: number, value: Encodable<S>, writer: Writer) => void,
): MessageCodec<S> {
  const { lowest, highest } = parseRange(schema.validVersions);
  // Parsed once: isFlexible is asked for every request and response.
  const flexible = parseRange(schema.flexibleVersions);
  const checkVersion = (version: number) => {
    if (!(version >= lowest && version <= highest)) throw new RangeError(`${schema.name} ${schema.type} has no version ${version}`);
  };
  return {
    schema,
    lowestVersion: lowest,
    highestVersion: highest,
    isFlexible: (version) => version >= flexible.lowest && version <= flexible.highest,
    decode(version, reader) {
      checkVersion(version);
      return decode(version, reader);
    },
    encode(version, value, writer) {
      checkVersion(version);
      encode(version, value, writer);
    },
  };
}

/** Input that cannot be a valid message. */
export function fail(message: string): never {
  throw new MalformedInputError(message);
}

/** A request value the chosen version has no room for: a bug in the caller (Kafka's rule). */
export function cannotCarry(field: string, version: number): never {
  throw new RangeError(`field ${field} has a non-default value but version ${version} cannot carry it`);
}

/** Whether a value equals a field's default: missing, identical, both empty arrays, or equal bytes. */
export function isDefault(value: unknown, defaultValue: unknown): boolean {
  if (value === undefined || value === defaultValue) return true;
  if (Array.isArray(value)) return value.length === 0 && Array.isArray(defaultValue);
  if (Buffer.isBuffer(value) && Buffer.isBuffer(defaultValue)) return value.equals(defaultValue);
  return false;
}

// ── Sizes of compact (flexible-version) encodings, for tagged fields ────────────────────────────

/** Bytes Writer.uvarint(value) writes. */
export function uvarintSize(value: number): number {
  let remaining = value >>> 0;
  let size = 1;
  while (remaining >= 0x80) {
    remaining >>>= 7;
    size += 1;
  }
  return size;
}

/** Bytes Writer.nullableCompactString(value) writes. */
export function compactStringSize(value: string | null): number {
  if (value === null) return 1;
  const byteLength = Buffer.byteLength(value, 'utf8');
  return uvarintSize(byteLength + 1) + byteLength;
}

/** Bytes Writer.nullableCompactBytes(value) writes. */
export function compactBytesSize(value: Buffer | null): number {
  return value === null ? 1 : uvarintSize(value.length + 1) + value.length;
}

/** Bytes Writer.records(value, true) writes. */
export function compactRecordsSize(value: Buffer | readonly Buffer[] | null): number {
  if (value === null) return 1;
  let byteCount = 0;
  if (Buffer.isBuffer(value)) byteCount = value.length;
  else for (const chunk of value) byteCount += chunk.length;
  return uvarintSize(byteCount + 1) + byteCount;
}

/** Bytes of a compact array's length prefix (null is -1). */
export function compactArrayLengthSize(count: number): number {
  return uvarintSize(count + 1);
}
