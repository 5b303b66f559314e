/**
 * AMQP 0-9-1 field tables and field arrays, with the value types RabbitMQ encodes (the set its
 * "AMQP 0-9-1 errata" page documents, which is what RabbitMQ, Qpid and the common clients speak; it
 * differs from the table in the published 0-9-1 specification):
 *
 *   tag  type          value on the wire                    our FieldValue
 *   't'  boolean       octet, 0 false, anything else true   { type: 'boolean', value: boolean }
 *   'b'  int8          signed octet                         { type: 'int8', value: number }
 *   'B'  uint8         octet                                { type: 'uint8', value: number }
 *   's'  int16         signed short (NOT the spec's shortstr) { type: 'int16', value: number }
 *   'u'  uint16        short                                { type: 'uint16', value: number }
 *   'I'  int32         signed long                          { type: 'int32', value: number }
 *   'i'  uint32        long                                 { type: 'uint32', value: number }
 *   'l'  int64         signed longlong (the spec says 'L')  { type: 'int64', value: bigint }
 *   'f'  float32       IEEE 754 single                      { type: 'float32', value: number }
 *   'd'  float64       IEEE 754 double                      { type: 'float64', value: number }
 *   'D'  decimal       octet scale, long unscaled value     { type: 'decimal', scale, unscaledValue }
 *   'S'  longString    long length, bytes (often UTF-8)     { type: 'longString', value: Buffer }
 *   'x'  bytes         long length, bytes                   { type: 'bytes', value: Buffer }
 *   'T'  timestamp     longlong, seconds since the epoch    { type: 'timestamp', value: bigint }
 *   'A'  array         long byte length, tagged values      { type: 'array', value: FieldValue[] }
 *   'F'  table         a nested field table                 { type: 'table', value: FieldTable }
 *   'V'  void          nothing                              { type: 'void' }
 *
 * The spec's 'U' (int16), 'L' (int64), unsigned 'l' and shortstr 's' are not in RabbitMQ's set
 * and are refused like any unknown tag. Values keep their wire type, so a table read and written
 * back (message headers passed through the broker) comes out byte for byte the same.
 *
 * A field table:
 *
 *   0         4                      4+size
 *   +---------+----------------------+
 *   | size    | entries (size bytes) |     size: long, byte length of the entries
 *   +---------+----------------------+
 *
 *   entry:  +-----+-------------+-----+-------------------+
 *           | len | name (len)  | tag | value (by tag)    |   len: octet; tag: one ASCII octet
 *           +-----+-------------+-----+-------------------+
 *
 * A field array is the same with bare `tag value` pairs instead of entries.
 *
 * Decoding is bounded by what the peer controls: every length is checked against the bytes left
 * (the Reader throws MalformedInputError), nesting deeper than `maxDepth` tables and arrays is
 * refused, and so are more than `maxValues` values in one top-level table (a one-byte 'V' decodes
 * into an object many times its size).
 */
import { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { MalformedInputError } from '../wire/errors.js';

export type FieldValue =
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64'; readonly value: number }
  | { readonly type: 'int64' | 'timestamp'; readonly value: bigint }
  | { readonly type: 'decimal'; readonly scale: number; readonly unscaledValue: number }
  | { readonly type: 'longString' | 'bytes'; readonly value: Buffer }
  | { readonly type: 'array'; readonly value: readonly FieldValue[] }
  | { readonly type: 'table'; readonly value: FieldTable }
  | { readonly type: 'void' };

/** Names to values, in wire order. A name repeated on the wire keeps its last value. */
export type FieldTable = ReadonlyMap<string, FieldValue>;

export interface FieldTableLimits {
  /** Tables and arrays nested inside one another, the outermost table counting as 1. */
  readonly maxDepth: number;
  /** Values (entries and array elements, at every depth) in one outermost table. */
  readonly maxValues: number;
}

export const defaultFieldTableLimits: FieldTableLimits = { maxDepth: 16, maxValues: 65_536 };

/** The tag octet of each value type. */
const tagOfType = {
  boolean: 't', int8: 'b', uint8: 'B', int16: 's', uint16: 'u', int32: 'I', uint32: 'i', int64: 'l',
  float32: 'f', float64: 'd', decimal: 'D', longString: 'S', bytes: 'x', timestamp: 'T', array: 'A',
  table: 'F', void: 'V',
} as const satisfies Record<FieldValue['type'], string>;

export function emptyFieldTable(): FieldTable {
  return new Map();
}

/** Decoding state shared by one outermost table and everything nested in it. */
interface Budget {
  readonly limits: FieldTableLimits;
  valuesLeft: number;
}

/** Reads a field table (its size and entries) at the reader's position. */
export function readFieldTable(reader: Reader, limits: FieldTableLimits = defaultFieldTableLimits): FieldTable {
  return readTable(reader, { limits, valuesLeft: limits.maxValues }, 1);
}

/** A sub-reader over the next `size` bytes, announced by a long; the outer reader moves past them. */
function sizedSection(reader: Reader): Reader {
  const size = reader.uint32();
  const bytes = reader.slice(size);
  return new Reader(bytes);
}

function enter(budget: Budget, depth: number): void {
  if (depth > budget.limits.maxDepth) throw new MalformedInputError(`field tables nested deeper than ${budget.limits.maxDepth}`);
}

function spend(budget: Budget): void {
  budget.valuesLeft -= 1;
  if (budget.valuesLeft < 0) throw new MalformedInputError(`more than ${budget.limits.maxValues} values in one field table`);
}

/** What every empty table decodes to (clients send `headers: {}` with each publish); tables are read-only. */
const sharedEmptyTable: FieldTable = new Map();

function readTable(reader: Reader, budget: Budget, depth: number): FieldTable {
  enter(budget, depth);
  const size = reader.uint32();
  if (size === 0) return sharedEmptyTable;
  const section = new Reader(reader.slice(size));
  const table = new Map<string, FieldValue>();
  while (section.remaining > 0) {
    const nameLength = section.uint8();
    const name = section.text(nameLength);
    spend(budget);
    table.set(name, readValue(section, budget, depth));
  }
  return table;
}

function readArray(reader: Reader, budget: Budget, depth: number): FieldValue[] {
  enter(budget, depth);
  const section = sizedSection(reader);
  const values: FieldValue[] = [];
  while (section.remaining > 0) {
    spend(budget);
    values.push(readValue(section, budget, depth));
  }
  return values;
}

function readValue(reader: Reader, budget: Budget, depth: number): FieldValue {
  const tag = reader.uint8();
  switch (String.fromCharCode(tag)) {
    case 't': return { type: 'boolean', value: reader.uint8() !== 0 };
    case 'b': return { type: 'int8', value: reader.int8() };
    case 'B': return { type: 'uint8', value: reader.uint8() };
    case 's': return { type: 'int16', value: reader.int16() };
    case 'u': return { type: 'uint16', value: reader.uint16() };
    case 'I': return { type: 'int32', value: reader.int32() };
    case 'i': return { type: 'uint32', value: reader.uint32() };
    case 'l': return { type: 'int64', value: reader.int64() };
    case 'f': return { type: 'float32', value: reader.float32() };
    case 'd': return { type: 'float64', value: reader.float64() };
    case 'D': {
      const scale = reader.uint8();
      return { type: 'decimal', scale, unscaledValue: reader.uint32() };
    }
    case 'S': return { type: 'longString', value: Buffer.from(reader.slice(reader.uint32())) };
    case 'x': return { type: 'bytes', value: Buffer.from(reader.slice(reader.uint32())) };
    case 'T': return { type: 'timestamp', value: reader.uint64() };
    case 'A': return { type: 'array', value: readArray(reader, budget, depth + 1) };
    case 'F': return { type: 'table', value: readTable(reader, budget, depth + 1) };
    case 'V': return { type: 'void' };
    default:
      throw new MalformedInputError(`unknown field table value type 0x${tag.toString(16).padStart(2, '0')}`);
  }
}

/**
 * Writes a field table. Our own tables are trusted not to nest without end; a name longer than
 * 255 bytes or a value out of its type's range is a bug of the caller and throws RangeError.
 */
export function writeFieldTable(writer: Writer, table: FieldTable): void {
  writeSized(writer, (body) => {
    for (const [name, value] of table) {
      writeShortStringTo(body, name);
      writeValue(body, value);
    }
  });
}

/**
 * Writes what `write` produces, preceded by its byte length as a long: a placeholder first, patched
 * once the length is known (a 4-byte write never straddles the Writer's chunks).
 */
function writeSized(writer: Writer, write: (body: Writer) => void): void {
  const sizeAt = writer.length;
  writer.uint32(0);
  write(writer);
  writer.patchInt32(sizeAt, writer.length - sizeAt - 4);
}

function writeShortStringTo(writer: Writer, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) throw new RangeError(`field table name of ${bytes.length} bytes; at most 255`);
  writer.uint8(bytes.length);
  writer.raw(bytes);
}

function writeValue(writer: Writer, value: FieldValue): void {
  writer.uint8(tagOfType[value.type].charCodeAt(0));
  switch (value.type) {
    case 'boolean': return writer.uint8(value.value ? 1 : 0);
    case 'int8': return writer.int8(value.value);
    case 'uint8': return writer.uint8(value.value);
    case 'int16': return writer.int16(value.value);
    case 'uint16': return writer.uint16(value.value);
    case 'int32': return writer.int32(value.value);
    case 'uint32': return writer.uint32(value.value);
    case 'int64': return writer.int64(value.value);
    case 'float32': return writer.float32(value.value);
    case 'float64': return writer.float64(value.value);
    case 'decimal':
      writer.uint8(value.scale);
      return writer.uint32(value.unscaledValue);
    case 'longString':
    case 'bytes':
      writer.uint32(value.value.length);
      return writer.raw(Buffer.from(value.value));
    case 'timestamp': return writer.uint64(value.value);
    case 'array':
      return writeSized(writer, (body) => {
        for (const element of value.value) writeValue(body, element);
      });
    case 'table': return writeFieldTable(writer, value.value);
    case 'void': return;
  }
}
