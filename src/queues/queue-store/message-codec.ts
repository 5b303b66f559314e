/**
 * A queue's message in its log: one v2 record batch (batch-header.ts) holding one record, so each
 * message has its own offset and its own CRC-32C, and the log, its recovery and its reads treat it
 * like any other batch.
 *
 *   batch header  61 bytes: baseOffset (the log sets it), attributes 0 (uncompressed, CreateTime),
 *                 lastOffsetDelta 0, baseTimestamp = maxTimestamp = publishedAtMs,
 *                 producerId −1, producerEpoch −1, baseSequence −1, recordsCount 1
 *   record        length varint │ attributes 0 │ timestampDelta 0 │ offsetDelta 0 │
 *                 keyLength varint │ key = routing key (UTF-8) │
 *                 valueLength varint │ value = body │
 *                 headerCount 3 or 4 │
 *                   "amqp.exchange"   │ exchange name (UTF-8)
 *                   "amqp.persistent" │ 1 byte: 1 = persistent (delivery-mode 2), 0 = transient
 *                  ["amqp.expires-at" │ 8 bytes: int64 ms since the epoch, from the `expiration`
 *                                       property; only when the message has one]
 *                   "amqp.properties" │ property flags + property list, as in the content header
 *   (varints zigzag-encoded, each header as keyLength varint │ key │ valueLength varint │ value)
 *
 * The properties come last, so they end the batch; the body ends where the headers begin. The
 * encoder writes the batch at its exact size in one allocation and hands back the message as views
 * of it (properties and body are copied once, into the batch, and the publisher's buffers, often
 * slices of large socket reads, are not kept alive). The decoder reads a one-record batch (what the
 * encoder writes) field by field, comparing header keys as bytes and reusing the exchange and routing
 * key strings of the message before when their bytes are the same (messages read back from disk in
 * a row mostly share them); a batch of several records (not ours, but readable) goes through
 * RecordIterator (records.ts). Properties and body are views of the bytes read.
 */
import { MalformedInputError } from '../../protocol/wire/errors.js';
import {
  baseOffsetAt,
  baseTimestampAt,
  batchHeaderBytes,
  batchTotalBytes,
  forEachBatch,
  isControl,
  readCompressionCodec,
  readRecordsCount,
  readInt64Number,
  readZigzag,
  recordsAt,
  writeBatchHeader,
  writeZigzag,
  zigzagBytes,
  writeInt64Number,
} from '../../protocol/kafka/batch-header.js';
import { RecordIterator } from '../../protocol/kafka/records.js';
import type { StoredMessage } from './stored-message.js';

export const exchangeHeader = 'amqp.exchange';
export const persistentHeader = 'amqp.persistent';
export const propertiesHeader = 'amqp.properties';
export const expiresAtHeader = 'amqp.expires-at';

const exchangeHeaderKey = Buffer.from(exchangeHeader, 'latin1');
const persistentHeaderKey = Buffer.from(persistentHeader, 'latin1');
const propertiesHeaderKey = Buffer.from(propertiesHeader, 'latin1');
const expiresAtHeaderKey = Buffer.from(expiresAtHeader, 'latin1');

export interface EncodedMessage {
  /** One whole batch, CRC filled in, baseOffset 0 (for PartitionLog.append, which owns it after). */
  readonly batch: Buffer;
  /** The message, its properties and body being views of `batch`. */
  readonly message: StoredMessage;
}

function writeBytes(buffer: Buffer, position: number, bytes: Buffer): number {
  position = writeZigzag(buffer, position, bytes.length);
  return position + bytes.copy(buffer, position);
}

function writeText(buffer: Buffer, position: number, text: string, byteCount: number): number {
  position = writeZigzag(buffer, position, byteCount);
  return position + buffer.write(text, position, byteCount, 'utf8');
}

function fieldBytes(byteCount: number): number {
  return zigzagBytes(byteCount) + byteCount;
}

export function encodeMessage(message: StoredMessage): EncodedMessage {
  const routingKeyBytes = Buffer.byteLength(message.routingKey, 'utf8');
  const exchangeBytes = Buffer.byteLength(message.exchange, 'utf8');
  const bodyBytes = message.body.length;
  const propertiesBytes = message.properties.length;
  const expires = message.expiresAtMs !== null;
  const recordBytes =
    (expires ? fieldBytes(expiresAtHeaderKey.length) + fieldBytes(8) : 0) +
    4 + // attributes, timestampDelta 0, offsetDelta 0, headerCount: one byte each
    fieldBytes(routingKeyBytes) +
    fieldBytes(bodyBytes) +
    fieldBytes(exchangeHeaderKey.length) +
    fieldBytes(exchangeBytes) +
    fieldBytes(persistentHeaderKey.length) +
    fieldBytes(1) +
    fieldBytes(propertiesHeaderKey.length) +
    fieldBytes(propertiesBytes);
  const batch = Buffer.allocUnsafe(batchHeaderBytes + zigzagBytes(recordBytes) + recordBytes);
  let position = writeZigzag(batch, batchHeaderBytes, recordBytes);
  batch[position++] = 0; // attributes
  batch[position++] = 0; // timestampDelta
  batch[position++] = 0; // offsetDelta
  position = writeText(batch, position, message.routingKey, routingKeyBytes);
  position = writeZigzag(batch, position, bodyBytes);
  const bodyAt = position;
  position += message.body.copy(batch, position);
  batch[position++] = expires ? 8 : 6; // zigzag of 4 or 3 headers
  position = writeBytes(batch, position, exchangeHeaderKey);
  position = writeText(batch, position, message.exchange, exchangeBytes);
  position = writeBytes(batch, position, persistentHeaderKey);
  position = writeZigzag(batch, position, 1);
  batch[position++] = message.persistent ? 1 : 0;
  if (expires) {
    position = writeBytes(batch, position, expiresAtHeaderKey);
    position = writeZigzag(batch, position, 8);
    writeInt64Number(batch, message.expiresAtMs ?? 0, position);
    position += 8;
  }
  position = writeBytes(batch, position, propertiesHeaderKey);
  position = writeZigzag(batch, position, propertiesBytes);
  const propertiesAt = position;
  position += message.properties.copy(batch, position);
  if (position !== batch.length) throw new Error(`message encoder: wrote ${position} of ${batch.length} bytes`);
  writeBatchHeader(batch, {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    attributes: 0,
    recordsCount: 1,
    baseTimestampMs: message.publishedAtMs,
    maxTimestampMs: message.publishedAtMs,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
  });
  return {
    batch,
    message: {
      exchange: message.exchange,
      routingKey: message.routingKey,
      properties: batch.subarray(propertiesAt, propertiesAt + propertiesBytes),
      body: batch.subarray(bodyAt, bodyAt + bodyBytes),
      persistent: message.persistent,
      publishedAtMs: message.publishedAtMs,
      expiresAtMs: message.expiresAtMs,
    },
  };
}

/**
 * Calls `visit` for each message in `chunks` (whole batches, as PartitionLog.read returns them;
 * control batches, such as the queue's state batches, are passed over), in offset order, with the bytes its batch takes (a record's share when a batch holds several),
 * until it returns false.
 * Properties and body are views of the chunk. Throws MalformedInputError for a record that is not a
 * message of ours (a compressed batch, a missing or malformed header).
 */
export function decodeMessages(chunks: readonly Buffer[], visit: (offset: number, message: StoredMessage, costBytes: number) => boolean | void): void {
  let going = true;
  for (const chunk of chunks) {
    if (!going) return;
    forEachBatch(chunk, (view) => {
      const { buffer, at, totalBytes } = view;
      // Control batches are no messages: the queue's state batches (log-state.ts).
      if (isControl(buffer, at)) return true;
      if (readCompressionCodec(buffer, at) !== 0) throw new MalformedInputError('queue message: compressed batch');
      const end = at + batchTotalBytes(buffer, at);
      if (readRecordsCount(buffer, at) === 1) {
        going = visit(readInt64Number(buffer, at + baseOffsetAt), decodeOneRecord(buffer, at, end), totalBytes) !== false;
        return going;
      }
      const records = new RecordIterator(buffer, at, buffer, at + recordsAt, end);
      const messages: Array<[number, StoredMessage]> = [];
      while (records.next()) messages.push([records.offset, messageOf(records)]);
      for (const [offset, message] of messages) {
        if (visit(offset, message, totalBytes / messages.length) === false) going = false;
        if (!going) return false;
      }
      return true;
    });
  }
}

/** The last string decoded from some bytes, given again for the same bytes. */
class TextCache {
  private bytes = Buffer.alloc(0);
  private text = '';

  get(buffer: Buffer, start: number, end: number): string {
    if (!bytesEqual(buffer, start, end, this.bytes)) {
      this.bytes = Buffer.from(buffer.subarray(start, end));
      this.text = this.bytes.toString('utf8');
    }
    return this.text;
  }
}

const exchangeTexts = new TextCache();
const routingKeyTexts = new TextCache();

/** The batch decodeOneRecord is reading (module state, so that reading a field allocates nothing). */
const cursor = { at: 0 };
let reading: Buffer = Buffer.alloc(0);
let readingAt = 0;
let readingEnd = 0;

function malformed(what: string): MalformedInputError {
  return new MalformedInputError(`queue message at offset ${readInt64Number(reading, readingAt + baseOffsetAt)}: ${what}`);
}

function varint(): number {
  const value = readZigzag(reading, cursor, readingEnd, 10);
  if (value === null) throw malformed('malformed varint');
  return value;
}

/** A length-prefixed field: its start (its end is then cursor.at), or -1 for a null one. */
function field(): number {
  const length = varint();
  if (length < 0) return -1;
  const start = cursor.at;
  if (start + length > readingEnd) throw malformed('a field runs past the batch');
  cursor.at = start + length;
  return start;
}

/**
 * Whether buffer[start, end) holds exactly `bytes`. Compared in JavaScript up to 64 bytes: header
 * keys, exchange names and routing keys are short, and a native Buffer.compare call costs more than
 * the loop (it was a tenth of the CPU of reading 1 KiB messages back from disk).
 */
function bytesEqual(buffer: Buffer, start: number, end: number, bytes: Buffer): boolean {
  const length = bytes.length;
  if (end - start !== length) return false;
  if (length > 64) return buffer.compare(bytes, 0, length, start, end) === 0;
  for (let index = 0; index < length; index++) if (buffer[start + index] !== bytes[index]) return false;
  return true;
}

function isKey(buffer: Buffer, start: number, end: number, key: Buffer): boolean {
  return bytesEqual(buffer, start, end, key);
}

/**
 * The message of a one-record batch at `at` (ending at `end`), read in place:
 *   length │ attributes │ timestampDelta │ offsetDelta 0 │ key │ value │ headerCount │ headers
 */
function decodeOneRecord(buffer: Buffer, at: number, end: number): StoredMessage {
  reading = buffer;
  readingAt = at;
  readingEnd = end;
  cursor.at = at + recordsAt;
  varint(); // record length: the batch length bounds every field anyway
  cursor.at++; // attributes
  const publishedAtMs = readInt64Number(buffer, at + baseTimestampAt) + varint();
  varint(); // offsetDelta: 0 in a one-record batch
  const keyStart = field();
  const keyEnd = cursor.at;
  const bodyStart = field();
  const bodyEnd = cursor.at;
  let exchange: string | null = null;
  let persistent: boolean | null = null;
  let properties: Buffer | null = null;
  let expiresAtMs: number | null = null;
  for (let remaining = varint(); remaining > 0; remaining--) {
    const nameStart = field();
    const nameEnd = cursor.at;
    const valueStart = field();
    const valueEnd = cursor.at;
    if (nameStart < 0 || valueStart < 0) continue;
    if (isKey(buffer, nameStart, nameEnd, exchangeHeaderKey)) exchange = exchangeTexts.get(buffer, valueStart, valueEnd);
    else if (isKey(buffer, nameStart, nameEnd, persistentHeaderKey) && valueEnd - valueStart === 1) persistent = buffer[valueStart] === 1;
    else if (isKey(buffer, nameStart, nameEnd, propertiesHeaderKey)) properties = buffer.subarray(valueStart, valueEnd);
    else if (isKey(buffer, nameStart, nameEnd, expiresAtHeaderKey) && valueEnd - valueStart === 8) expiresAtMs = readInt64Number(buffer, valueStart);
  }
  if (keyStart < 0 || bodyStart < 0 || exchange === null || persistent === null || properties === null) {
    throw malformed('routing key, body or an amqp.* header is missing');
  }
  return { exchange, routingKey: routingKeyTexts.get(buffer, keyStart, keyEnd), properties, body: buffer.subarray(bodyStart, bodyEnd), persistent, publishedAtMs, expiresAtMs };
}

function messageOf(records: RecordIterator): StoredMessage {
  const key = records.key();
  const body = records.value();
  let exchange: string | null = null;
  let persistent: boolean | null = null;
  let properties: Buffer | null = null;
  let expiresAtMs: number | null = null;
  for (const header of records.headers()) {
    if (header.key === exchangeHeader && header.value !== null) exchange = header.value.toString('utf8');
    else if (header.key === persistentHeader && header.value?.length === 1) persistent = header.value[0] === 1;
    else if (header.key === propertiesHeader && header.value !== null) properties = header.value;
    else if (header.key === expiresAtHeader && header.value?.length === 8) expiresAtMs = Number(header.value.readBigInt64BE(0));
  }
  if (key === null || body === null || exchange === null || persistent === null || properties === null) {
    throw new MalformedInputError(`queue message at offset ${records.offset}: routing key, body or an amqp.* header is missing`);
  }
  return { exchange, routingKey: key.toString('utf8'), properties, body, persistent, publishedAtMs: records.timestampMs, expiresAtMs };
}
