/**
 * The payload of an AMQP 0-9-1 content header frame (frame type 2), which follows a method that
 * carries content (basic.publish, deliver, return, get-ok) and precedes its body frames:
 *
 *   0          2          4                    12               14
 *   +----------+----------+--------------------+----------------+------------------------+
 *   | class id | weight   | body size          | property flags | property list          |
 *   | short    | short, 0 | longlong, bytes in | short (more if | the present properties |
 *   |          |          | the body frames    | bit 0 is set)  | in flag order          |
 *   +----------+----------+--------------------+----------------+------------------------+
 *
 *   property flags: bit 15 = the first declared property (content-type), bit 14 the second, …
 *   bit 2 the fourteenth (cluster-id); bit 1 unused; bit 0 "another flags short follows".
 *
 * Only the basic class carries content in 0-9-1, so a header of another class is malformed (the
 * connection answers it as a frame error). The properties are declared in classes/basic.ts and
 * their codec generated with the methods'.
 */
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { MalformedInputError } from '../wire/errors.js';
import { decodeBasicProperties, encodeBasicProperties } from './generated/basic.js';
import type { basicProperties } from './classes/basic.js';
import type { Properties } from './schema.js';

export type BasicProperties = Properties<typeof basicProperties>;

export interface ContentHeader {
  /** Always 60 (basic). */
  readonly classId: number;
  /** Unused in 0-9-1: read as sent, always written as 0. */
  readonly weight: number;
  readonly bodySize: bigint;
  readonly properties: BasicProperties;
}

const basicClassId = 60;

export function decodeContentHeaderPayload(payload: Buffer): ContentHeader {
  const reader = new Reader(payload);
  const classId = reader.uint16();
  if (classId !== basicClassId) throw new MalformedInputError(`content header of class ${classId}; only basic (60) carries content`);
  const weight = reader.uint16();
  const bodySize = reader.uint64();
  const properties = decodeBasicProperties(reader);
  if (reader.remaining !== 0) throw new MalformedInputError(`content header: ${reader.remaining} bytes after the last property`);
  return { classId, weight, bodySize, properties };
}

export function encodeContentHeaderPayload(header: { readonly bodySize: bigint; readonly properties: BasicProperties }, writer: Writer): void {
  writer.uint16(basicClassId);
  writer.uint16(0);
  writer.uint64(header.bodySize);
  encodeBasicProperties(header.properties, writer);
}

/** A content header frame's payload as one buffer. */
export function contentHeaderPayload(header: { readonly bodySize: bigint; readonly properties: BasicProperties }): Buffer {
  const writer = new Writer();
  encodeContentHeaderPayload(header, writer);
  return writer.toBuffer();
}

/** Raw property bytes (property flags + property list, as a queue stores them) decoded. */
export function decodeRawProperties(properties: Buffer): BasicProperties {
  return decodeBasicProperties(new Reader(properties));
}

/** Properties encoded as raw property bytes (property flags + property list). */
export function encodeRawProperties(properties: BasicProperties): Buffer {
  const writer = new Writer();
  encodeBasicProperties(properties, writer);
  return writer.toBuffer();
}

/**
 * Where the properties after `headers` start in raw property bytes (property flags + property
 * list, as a queue stores them), the ones before skipped by their lengths: content-type and
 * content-encoding are short strings (a length octet then the bytes), headers a table (a 32-bit
 * length then the bytes). Undefined when the bytes end too early.
 */
function positionAfterHeaders(properties: Buffer, flags: number): number | undefined {
  let position = 2;
  // Bit 0 announces another flags short; basic has none past the first, but the layout allows them.
  for (let more = flags; (more & 0x0001) !== 0; position += 2) {
    if (position + 2 > properties.length) return undefined;
    more = properties.readUInt16BE(position);
  }
  if ((flags & 0x8000) !== 0) position += 1 + (properties[position] ?? 0);
  if ((flags & 0x4000) !== 0) position += 1 + (properties[position] ?? 0);
  if ((flags & 0x2000) !== 0) {
    if (position + 4 > properties.length) return undefined;
    position += 4 + properties.readUInt32BE(position);
  }
  return position;
}

/**
 * The priority property read straight from raw property bytes, without decoding the rest (after
 * headers comes delivery-mode, one octet, then priority). Undefined when the message has no
 * priority, or when the bytes end too early to hold it.
 */
export function priorityOfProperties(properties: Buffer): number | undefined {
  if (properties.length < 2) return undefined;
  const flags = properties.readUInt16BE(0);
  if ((flags & 0x0800) === 0) return undefined;
  const position = positionAfterHeaders(properties, flags);
  if (position === undefined) return undefined;
  return properties[(flags & 0x1000) !== 0 ? position + 1 : position];
}

/** The delivery-mode property read straight from raw property bytes; undefined when absent or cut short. */
export function deliveryModeOfProperties(properties: Buffer): number | undefined {
  if (properties.length < 2) return undefined;
  const flags = properties.readUInt16BE(0);
  if ((flags & 0x1000) === 0) return undefined;
  const position = positionAfterHeaders(properties, flags);
  return position === undefined ? undefined : properties[position];
}
