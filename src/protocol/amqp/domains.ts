/**
 * Reading and writing the AMQP 0-9-1 domains that the wire Reader and Writer do not have as such,
 * for the generated codecs:
 *
 *   shortstr   +-----+------------+     len: octet; UTF-8 text (RabbitMQ also treats it as text)
 *              | len | len bytes  |
 *              +-----+------------+
 *   longstr    +---------+-------------+  len: long; any bytes (SASL responses are binary), kept
 *              | len     | len bytes   |  as a Buffer
 *              +---------+-------------+
 *
 * octet, short, long, longlong and timestamp are big-endian unsigned integers of 1, 2, 4, 8 and 8
 * bytes (timestamp: seconds since the epoch); bits are packed by the generated code.
 */
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';

export function readShortString(reader: Reader): string {
  return reader.text(reader.uint8());
}

export function writeShortString(writer: Writer, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) throw new RangeError(`shortstr of ${bytes.length} bytes; at most 255`);
  writer.uint8(bytes.length);
  writer.raw(bytes);
}

/** A copy, so a decoded method does not keep the frame it came in alive. */
export function readLongString(reader: Reader): Buffer {
  return Buffer.from(reader.slice(reader.uint32()));
}

export function writeLongString(writer: Writer, bytes: Buffer): void {
  writer.uint32(bytes.length);
  writer.raw(bytes);
}
