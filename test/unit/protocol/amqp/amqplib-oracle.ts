/**
 * amqplib's own codecs (lib/defs.js, generated from RabbitMQ's machine-readable spec, and
 * lib/codec.js for field tables) as an outside oracle for ours, plus the conversions between its
 * value shapes and ours. amqplib is plain JavaScript without types; what it returns is `unknown`
 * until compared.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';

const require = createRequire(import.meta.url);

export interface AmqplibArgumentInfo {
  readonly name: string;
  readonly type: string;
}
export interface AmqplibMethodInfo {
  readonly name: string;
  readonly classId: number;
  readonly methodId: number;
  readonly args: readonly AmqplibArgumentInfo[];
}

interface AmqplibDefinitions {
  decode(id: number, buffer: Buffer): Record<string, unknown>;
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  info(id: number): AmqplibMethodInfo;
  [name: string]: unknown;
}
interface AmqplibTableCodec {
  encodeTable(buffer: Buffer, value: Record<string, unknown>, offset: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
}

// The package exports only its client API, so its internal modules are loaded by file path.
const amqplibRoot = dirname(require.resolve('amqplib'));
export const amqplibDefinitions = require(join(amqplibRoot, 'lib', 'defs.js')) as AmqplibDefinitions;
const amqplibCodec = require(join(amqplibRoot, 'lib', 'codec.js')) as AmqplibTableCodec;
/** amqplib's frame builders (lib/frame.js): the protocol header, body frames, the heartbeat frame. */
export const amqplibFrame = require(join(amqplibRoot, 'lib', 'frame.js')) as {
  PROTOCOL_HEADER: string;
  HEARTBEAT_BUF: Buffer;
  makeBodyFrame(channel: number, payload: Buffer): Buffer;
};

/** Every method amqplib knows, from its `methodInfo…` exports. */
export function amqplibMethods(): AmqplibMethodInfo[] {
  return Object.entries(amqplibDefinitions)
    .filter(([name]) => name.startsWith('methodInfo'))
    .map(([, info]) => info as AmqplibMethodInfo);
}

/** A frame from amqplib minus its 7-byte header (type, channel, size) and the frame-end octet. */
export function framePayload(frame: Buffer): Buffer {
  return frame.subarray(7, frame.length - 1);
}

/** Our field table as amqplib's encoder takes it: each value with its type spelled out. */
export function toAmqplibTable(table: FieldTable): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [name, value] of table) object[name] = toAmqplibValue(value);
  return object;
}

function toAmqplibValue(value: FieldValue): unknown {
  switch (value.type) {
    case 'boolean': return value.value;
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'timestamp': return { '!': value.type, value: value.value };
    case 'float32': return { '!': 'float', value: value.value };
    case 'float64': return { '!': 'double', value: value.value };
    case 'decimal': return { '!': 'decimal', value: { places: value.scale, digits: value.unscaledValue } };
    case 'longString': return value.value.toString('utf8');
    case 'bytes': return value.value;
    case 'array': return value.value.map(toAmqplibValue);
    case 'table': return toAmqplibTable(value.value);
    case 'void': return null;
  }
}

/** What amqplib's decoder makes of our field table. */
export function asAmqplibDecodes(table: FieldTable): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [name, value] of table) object[name] = asAmqplibDecodesValue(value);
  return object;
}

function asAmqplibDecodesValue(value: FieldValue): unknown {
  switch (value.type) {
    case 'boolean': return value.value;
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float32':
    case 'float64': return value.value;
    case 'int64': return Number(value.value);
    case 'timestamp': return { '!': 'timestamp', value: Number(value.value) };
    case 'decimal': return { '!': 'decimal', value: { places: value.scale, digits: value.unscaledValue } };
    case 'longString': return value.value.toString('utf8');
    case 'bytes': return value.value;
    case 'array': return value.value.map(asAmqplibDecodesValue);
    case 'table': return asAmqplibDecodes(value.value);
    case 'void': return null;
  }
}

/** A field table (size and entries) encoded by amqplib. */
export function amqplibEncodeTable(table: FieldTable): Buffer {
  const buffer = Buffer.alloc(1 << 20);
  const size = amqplibCodec.encodeTable(buffer, toAmqplibTable(table), 0);
  return Buffer.from(buffer.subarray(0, size));
}

/** amqplib's reading of a field table's entries (after its size). */
export function amqplibDecodeTable(encoded: Buffer): Record<string, unknown> {
  return amqplibCodec.decodeFields(encoded.subarray(4));
}
