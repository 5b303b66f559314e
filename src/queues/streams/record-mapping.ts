/**
 * An AMQP message as a Kafka record and back (docs/streams.md draws the same table for users):
 *
 *   AMQP                         Kafka record
 *   body                         value
 *   routing key                  key (null when the routing key is empty) and header amqp.routing-key
 *   exchange                     header amqp.exchange
 *   content-type, …, app-id      header amqp.<property> as text (delivery-mode "2", priority "5",
 *                                timestamp in seconds since the epoch, as AMQP counts it)
 *   headers table                one record header per entry, its value as text (strings as they
 *                                are, numbers in decimal, booleans true/false), and, when an entry is
 *                                not a string, the whole table as its AMQP encoding in amqp.headers
 *   publish time (broker clock)  record timestamp
 *
 * Back (a record read over AMQP): amqp.* headers give the properties, amqp.headers the headers table
 * exactly; without it every other record header becomes a string header. A record written by a
 * Kafka client without these headers is delivered with no properties but its headers, the routing
 * key taken from its key, the exchange "". cluster-id (reserved in 0-9-1) is not carried.
 */
import { writeFieldTable, readFieldTable, type FieldTable, type FieldValue } from '../../protocol/amqp/field-table.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../protocol/amqp/generated/basic.js';
import { Reader } from '../../protocol/wire/reader.js';
import { Writer } from '../../protocol/wire/writer.js';
import type { StoredMessage } from '../queue-store/stored-message.js';
import type { TopicRecord, TopicRecordHeader, TopicRecordToAppend } from './topic-access.js';

export const headerPrefix = 'amqp.';
export const exchangeHeader = 'amqp.exchange';
export const routingKeyHeader = 'amqp.routing-key';
export const headersTableHeader = 'amqp.headers';
/** The header a stream delivery carries its offset in, as RabbitMQ's streams do. */
export const streamOffsetHeader = 'x-stream-offset';

type TextProperty = 'contentType' | 'contentEncoding' | 'correlationId' | 'replyTo' | 'expiration' | 'messageId' | 'type' | 'userId' | 'appId';

/** The short-string properties and their header names. */
const textProperties: ReadonlyArray<readonly [TextProperty, string]> = [
  ['contentType', 'amqp.content-type'],
  ['contentEncoding', 'amqp.content-encoding'],
  ['correlationId', 'amqp.correlation-id'],
  ['replyTo', 'amqp.reply-to'],
  ['expiration', 'amqp.expiration'],
  ['messageId', 'amqp.message-id'],
  ['type', 'amqp.type'],
  ['userId', 'amqp.user-id'],
  ['appId', 'amqp.app-id'],
];
const deliveryModeHeader = 'amqp.delivery-mode';
const priorityHeader = 'amqp.priority';
const timestampHeader = 'amqp.timestamp';
const maxShortStringBytes = 255;

/** The record an AMQP message becomes when it is appended to a topic. */
export function recordFromMessage(message: StoredMessage): TopicRecordToAppend {
  const properties = decodeBasicProperties(new Reader(message.properties));
  const headers: TopicRecordHeader[] = [
    { key: exchangeHeader, value: Buffer.from(message.exchange, 'utf8') },
    { key: routingKeyHeader, value: Buffer.from(message.routingKey, 'utf8') },
  ];
  for (const [property, header] of textProperties) {
    const value = properties[property];
    if (value !== undefined) headers.push({ key: header, value: Buffer.from(value, 'utf8') });
  }
  if (properties.deliveryMode !== undefined) headers.push({ key: deliveryModeHeader, value: Buffer.from(String(properties.deliveryMode)) });
  if (properties.priority !== undefined) headers.push({ key: priorityHeader, value: Buffer.from(String(properties.priority)) });
  if (properties.timestamp !== undefined) headers.push({ key: timestampHeader, value: Buffer.from(properties.timestamp.toString()) });
  if (properties.headers !== undefined) addTableHeaders(properties.headers, headers);
  return {
    key: message.routingKey === '' ? null : Buffer.from(message.routingKey, 'utf8'),
    value: message.body,
    timestampMs: message.publishedAtMs,
    headers,
  };
}

function addTableHeaders(table: FieldTable, into: TopicRecordHeader[]): void {
  let exact = true;
  for (const [name, value] of table) {
    if (value.type !== 'longString') exact = false;
    const text = textOf(value);
    if (text !== undefined) into.push({ key: name, value: text });
  }
  if (!exact) {
    const writer = new Writer();
    writeFieldTable(writer, table);
    into.push({ key: headersTableHeader, value: writer.toBuffer() });
  }
}

/** A scalar header value as record header bytes; undefined for tables and arrays (carried by amqp.headers only). */
function textOf(value: FieldValue): Buffer | null | undefined {
  switch (value.type) {
    case 'longString':
    case 'bytes':
      return value.value;
    case 'boolean':
      return Buffer.from(value.value ? 'true' : 'false');
    case 'int64':
    case 'timestamp':
      return Buffer.from(value.value.toString());
    case 'decimal':
      return Buffer.from(decimalText(value.unscaledValue, value.scale));
    case 'void':
      return null;
    case 'array':
    case 'table':
      return undefined;
    default:
      return Buffer.from(String(value.value));
  }
}

function decimalText(unscaled: number, scale: number): string {
  if (scale === 0) return String(unscaled);
  const digits = String(Math.abs(unscaled)).padStart(scale + 1, '0');
  return `${unscaled < 0 ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

export interface RecordAsMessageOptions {
  /** Adds the record's offset as the x-stream-offset header (stream deliveries). */
  readonly withStreamOffset: boolean;
  /** Kept across a restart whatever its delivery mode (a record fed into a queue came from a durable log). */
  readonly persistent?: boolean;
}

/** The AMQP message a record is delivered as. */
export function messageFromRecord(record: TopicRecord, options: RecordAsMessageOptions): StoredMessage {
  const byName = new Map<string, Buffer | null>();
  for (const header of record.headers) byName.set(header.key, header.value);
  const text = (name: string): string | undefined => {
    const value = byName.get(name);
    return value === undefined || value === null ? undefined : value.toString('utf8');
  };
  const properties: BasicProperties = {};
  for (const [property, header] of textProperties) {
    const value = text(header);
    if (value !== undefined && Buffer.byteLength(value) <= maxShortStringBytes) properties[property] = value;
  }
  const deliveryMode = octet(text(deliveryModeHeader));
  if (deliveryMode !== undefined) properties.deliveryMode = deliveryMode;
  const priority = octet(text(priorityHeader));
  if (priority !== undefined) properties.priority = priority;
  const timestamp = text(timestampHeader);
  if (timestamp !== undefined && /^\d{1,19}$/.test(timestamp)) properties.timestamp = BigInt(timestamp);
  const table = new Map(tableFromHeaders(record.headers, byName.get(headersTableHeader)));
  if (options.withStreamOffset) table.set(streamOffsetHeader, { type: 'int64', value: BigInt(record.offset) });
  if (table.size > 0) properties.headers = table;
  const writer = new Writer();
  encodeBasicProperties(properties, writer);
  const routingKey = text(routingKeyHeader) ?? record.key?.toString('utf8') ?? '';
  return {
    exchange: text(exchangeHeader) ?? '',
    routingKey: Buffer.byteLength(routingKey) <= maxShortStringBytes ? routingKey : '',
    properties: writer.toBuffer(),
    body: record.value ?? Buffer.alloc(0),
    persistent: options.persistent === true || properties.deliveryMode === 2,
    publishedAtMs: record.timestampMs,
    // A record does not expire in the queue it feeds (a stream's retention is the topic's).
    expiresAtMs: null,
  };
}

/** The headers table: exactly as published when amqp.headers holds it, else each non-amqp.* record header as a string. */
function tableFromHeaders(headers: readonly TopicRecordHeader[], encoded: Buffer | null | undefined): FieldTable {
  if (encoded !== undefined && encoded !== null) {
    try {
      return readFieldTable(new Reader(encoded));
    } catch {
      // Not a table we can read (written by someone else): fall back to the plain headers.
    }
  }
  const table = new Map<string, FieldValue>();
  for (const header of headers) {
    if (header.key.startsWith(headerPrefix) || Buffer.byteLength(header.key) > maxShortStringBytes) continue;
    table.set(header.key, header.value === null ? { type: 'void' } : { type: 'longString', value: header.value });
  }
  return table;
}

function octet(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,3}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 255 ? value : undefined;
}
