/**
 * A raw Kafka client over `node:net`, for tests that need to send exactly the bytes they choose:
 * well-formed requests built with our own codecs, or hand-made malformed ones.
 *
 *   const connection = await RawKafkaConnection.open(broker.host, broker.port);
 *   const metadata = await connection.call(metadataApi, 1, { topics: null });
 *   connection.writeFrame(Buffer.from([0, 3, 0]));          // a frame shorter than a header
 *   await connection.waitForClose();
 *
 * Request frame:  size int32 │ api_key int16 │ api_version int16 │ correlation_id int32 │
 *                 client_id nullable string │ [tagged fields, flexible versions] │ body
 * Response frame: size int32 │ correlation_id int32 │ [tagged fields, flexible versions except
 *                 ApiVersions] │ body
 *
 * Also here: a small RecordBatch v2 encoder and decoder (uncompressed, written from the spec rather
 * than with the broker's storage code, so that tests do not check the broker against itself), and
 * readers of a process's resident memory and open file descriptors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { crc32c } from '@node-rs/crc32';
import { codecFor } from '../../src/protocol/kafka/codec.js';
import type { MessageCodec } from '../../src/protocol/kafka/codec.js';
import type { Decoded, Encodable, MessageSchema } from '../../src/protocol/kafka/schema.js';
import { Reader } from '../../src/protocol/wire/reader.js';
import { Writer } from '../../src/protocol/wire/writer.js';

const apiVersionsKey = 18;

/** The request and response codecs of one API. */
export interface RawApi<Request extends MessageSchema, Response extends MessageSchema> {
  readonly apiKey: number;
  readonly name: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
}

export function rawApi<Request extends MessageSchema, Response extends MessageSchema>(request: Request, response: Response): RawApi<Request, Response> {
  return { apiKey: request.apiKey, name: request.name, request: codecFor(request), response: codecFor(response) };
}

// ── Request and response framing ────────────────────────────────────────────────────────────────

/** The request header (v1, or v2 in flexible versions) followed by `body`, without the size prefix. */
export function requestPayload(apiKey: number, apiVersion: number, correlationId: number, body: Buffer, options: { flexible: boolean; clientId?: string | null }): Buffer {
  const writer = new Writer(64);
  writer.int16(apiKey);
  writer.int16(apiVersion);
  writer.int32(correlationId);
  writer.nullableString(options.clientId === undefined ? 'raw-kafka-client' : options.clientId); // always int16-prefixed, even in header v2
  if (options.flexible) writer.uvarint(0);
  return Buffer.concat([writer.toBuffer(), body]);
}

/** Prefixes a payload with its int32 size. */
export function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

/** A whole request frame (size prefix included) encoded with our codecs. */
export function encodeRequestFrame<Request extends MessageSchema, Response extends MessageSchema>(
  api: RawApi<Request, Response>,
  apiVersion: number,
  correlationId: number,
  value: Encodable<Request>,
  clientId?: string | null,
): Buffer {
  const writer = new Writer(256);
  api.request.encode(apiVersion, value, writer);
  const options = clientId === undefined ? { flexible: api.request.isFlexible(apiVersion) } : { flexible: api.request.isFlexible(apiVersion), clientId };
  return frame(requestPayload(api.apiKey, apiVersion, correlationId, writer.toBuffer(), options));
}

export interface DecodedResponse<Body> {
  readonly correlationId: number;
  readonly body: Body;
  /** Bytes left after the body: 0 unless the response is longer than its declaration. */
  readonly trailingBytes: number;
}

/** Decodes a response frame (without its size prefix). */
export function decodeResponse<Request extends MessageSchema, Response extends MessageSchema>(
  api: RawApi<Request, Response>,
  apiVersion: number,
  payload: Buffer,
): DecodedResponse<Decoded<Response>> {
  const reader = new Reader(payload);
  const correlationId = reader.int32();
  if (api.response.isFlexible(apiVersion) && api.apiKey !== apiVersionsKey) reader.taggedFields();
  const body = api.response.decode(apiVersion, reader);
  return { correlationId, body, trailingBytes: reader.remaining };
}

// ── The connection ──────────────────────────────────────────────────────────────────────────────

export class ConnectionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export class RawKafkaConnection {
  private received: Buffer = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private readonly frameWaiters: Array<{ resolve: (frame: Buffer) => void; reject: (error: Error) => void }> = [];
  private readonly closeWaiters: Array<() => void> = [];
  private nextCorrelationId = 1;
  /** True once the socket has closed, whoever closed it. */
  closed = false;
  /** Set when the peer ended or reset the connection (not when we destroyed it ourselves). */
  closedByPeer = false;
  /** Socket errors seen (EPIPE, ECONNRESET … are expected when the broker hangs up on us). */
  readonly errors: Error[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.errors.push(error));
    socket.on('end', () => {
      this.closedByPeer = true;
    });
    socket.on('close', () => this.onClose());
  }

  /**
   * Connects; `reading: false` never reads responses (the kernel buffers fill up and the broker
   * sees a client that does not read).
   */
  static open(host: string, port: number, options: { reading?: boolean } = {}): Promise<RawKafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setNoDelay(true);
      const connection = new RawKafkaConnection(socket);
      if (options.reading === false) socket.pause();
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(connection);
      });
      socket.once('error', reject);
    });
  }

  /** Writes bytes as they are. Write errors (the broker already hung up) are collected in `errors`. */
  write(bytes: Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  /** Writes a payload with its size prefix. */
  writeFrame(payload: Buffer): boolean {
    return this.write(frame(payload));
  }

  /** Sends a request encoded with our codecs; returns its correlation id without waiting. */
  send<Request extends MessageSchema, Response extends MessageSchema>(api: RawApi<Request, Response>, apiVersion: number, value: Encodable<Request>): number {
    const correlationId = this.nextCorrelationId++;
    this.write(encodeRequestFrame(api, apiVersion, correlationId, value));
    return correlationId;
  }

  /** Sends a request and decodes its response, checking the correlation id and that nothing trails. */
  async call<Request extends MessageSchema, Response extends MessageSchema>(
    api: RawApi<Request, Response>,
    apiVersion: number,
    value: Encodable<Request>,
    timeoutMs = 10_000,
  ): Promise<Decoded<Response>> {
    const correlationId = this.send(api, apiVersion, value);
    const payload = await this.nextFrame(timeoutMs);
    const response = decodeResponse(api, apiVersion, payload);
    if (response.correlationId !== correlationId) throw new Error(`${api.name}: expected correlation id ${correlationId}, got ${response.correlationId}`);
    if (response.trailingBytes !== 0) throw new Error(`${api.name} v${apiVersion}: ${response.trailingBytes} bytes after the response body`);
    return response.body;
  }

  /** The next response frame (without its size prefix). */
  nextFrame(timeoutMs = 10_000): Promise<Buffer> {
    const ready = this.frames.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(new ConnectionClosedError('connection closed before a response arrived'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.frameWaiters.indexOf(waiter);
        if (index >= 0) this.frameWaiters.splice(index, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (frame: Buffer) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.frameWaiters.push(waiter);
    });
  }

  /** Resolves once the socket is closed; rejects if it is still open after timeoutMs. */
  waitForClose(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes our side at once (FIN after buffered writes are dropped). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Closes with a TCP RST. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    while (this.received.length >= 4) {
      const size = this.received.readInt32BE(0);
      if (size < 0) {
        this.errors.push(new Error(`response frame size ${size}`));
        this.socket.destroy();
        return;
      }
      if (this.received.length < 4 + size) break;
      const payload = this.received.subarray(4, 4 + size);
      this.received = this.received.subarray(4 + size);
      const waiter = this.frameWaiters.shift();
      if (waiter !== undefined) waiter.resolve(payload);
      else this.frames.push(payload);
    }
  }

  private onClose(): void {
    this.closed = true;
    for (const waiter of this.frameWaiters.splice(0)) waiter.reject(new ConnectionClosedError('connection closed before a response arrived'));
    for (const waiter of this.closeWaiters.splice(0)) waiter();
  }
}

// ── RecordBatch v2 ──────────────────────────────────────────────────────────────────────────────
//
//   0 baseOffset int64 │ 8 batchLength int32 │ 12 partitionLeaderEpoch int32 │ 16 magic int8 │
//  17 crc uint32 (CRC-32C of bytes 21..end) │ 21 attributes int16 │ 23 lastOffsetDelta int32 │
//  27 baseTimestamp int64 │ 35 maxTimestamp int64 │ 43 producerId int64 │ 51 producerEpoch int16 │
//  53 baseSequence int32 │ 57 recordsCount int32 │ 61 records…
//
//  record: length varint │ attributes int8 │ timestampDelta varlong │ offsetDelta varint │
//          key (varint length, -1 null) │ value (varint length, -1 null) │ header count varint │ headers

export const batchOffsets = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordsCount: 57,
  records: 61,
} as const;

export interface TestRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: Buffer | null }>;
  /** Added to the batch's base timestamp. */
  readonly timestampDelta?: number;
}

export interface BatchOptions {
  readonly baseTimestamp?: number;
  readonly attributes?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
}

/** Zigzag-encodes a signed integer as a varint (exact up to 2^53). */
function varintBytes(value: number | bigint): Buffer {
  const big = BigInt(value);
  let zigzag = big >= 0n ? big << 1n : ((-big) << 1n) - 1n;
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

function lengthPrefixed(bytes: Buffer | null): Buffer {
  return bytes === null ? varintBytes(-1) : Buffer.concat([varintBytes(bytes.length), bytes]);
}

function encodeRecord(record: TestRecord, offsetDelta: number): Buffer {
  const headers = record.headers ?? [];
  const body = Buffer.concat([
    Buffer.from([0]), // attributes
    varintBytes(record.timestampDelta ?? 0),
    varintBytes(offsetDelta),
    lengthPrefixed(record.key),
    lengthPrefixed(record.value),
    varintBytes(headers.length),
    ...headers.flatMap((header) => [lengthPrefixed(Buffer.from(header.key, 'utf8')), lengthPrefixed(header.value)]),
  ]);
  return Buffer.concat([varintBytes(body.length), body]);
}

/** An uncompressed v2 record batch with a correct CRC. */
export function encodeRecordBatch(records: readonly TestRecord[], options: BatchOptions = {}): Buffer {
  const baseTimestamp = options.baseTimestamp ?? Date.now();
  const recordBytes = Buffer.concat(records.map((record, index) => encodeRecord(record, index)));
  const batch = Buffer.alloc(batchOffsets.records + recordBytes.length);
  let maxTimestampDelta = 0;
  for (const record of records) maxTimestampDelta = Math.max(maxTimestampDelta, record.timestampDelta ?? 0);
  batch.writeBigInt64BE(0n, batchOffsets.baseOffset);
  batch.writeInt32BE(batch.length - 12, batchOffsets.batchLength);
  batch.writeInt32BE(-1, batchOffsets.partitionLeaderEpoch);
  batch.writeInt8(2, batchOffsets.magic);
  batch.writeInt16BE(options.attributes ?? 0, batchOffsets.attributes);
  batch.writeInt32BE(records.length - 1, batchOffsets.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(baseTimestamp), batchOffsets.baseTimestamp);
  batch.writeBigInt64BE(BigInt(baseTimestamp + maxTimestampDelta), batchOffsets.maxTimestamp);
  batch.writeBigInt64BE(options.producerId ?? -1n, batchOffsets.producerId);
  batch.writeInt16BE(options.producerEpoch ?? -1, batchOffsets.producerEpoch);
  batch.writeInt32BE(options.baseSequence ?? -1, batchOffsets.baseSequence);
  batch.writeInt32BE(records.length, batchOffsets.recordsCount);
  recordBytes.copy(batch, batchOffsets.records);
  return updateCrc(batch);
}

/** Recomputes a batch's CRC in place (after a test changed covered bytes on purpose); returns it. */
export function updateCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(batchOffsets.attributes)), batchOffsets.crc);
  return batch;
}

export interface DecodedBatch {
  readonly baseOffset: bigint;
  readonly magic: number;
  readonly attributes: number;
  readonly crcValid: boolean;
  readonly lastOffsetDelta: number;
  readonly records: Array<{ offset: bigint; key: Buffer | null; value: Buffer | null; headers: Array<{ key: string; value: Buffer | null }> }>;
  /** The whole batch as served. */
  readonly bytes: Buffer;
}

/** Decodes uncompressed v2 batches, e.g. a Fetch response's records. A partial last batch is ignored. */
export function decodeRecordBatches(bytes: Buffer): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let at = 0;
  while (at + batchOffsets.records <= bytes.length) {
    const total = bytes.readInt32BE(at + batchOffsets.batchLength) + 12;
    if (at + total > bytes.length) break;
    const batch = bytes.subarray(at, at + total);
    const baseOffset = batch.readBigInt64BE(batchOffsets.baseOffset);
    const count = batch.readInt32BE(batchOffsets.recordsCount);
    const reader = new VarintCursor(batch, batchOffsets.records);
    const records: DecodedBatch['records'] = [];
    for (let index = 0; index < count; index++) {
      reader.varint(); // length
      reader.byte(); // attributes
      reader.varint(); // timestamp delta
      const offsetDelta = reader.varint();
      const key = reader.lengthPrefixed();
      const value = reader.lengthPrefixed();
      const headerCount = reader.varint();
      const headers: Array<{ key: string; value: Buffer | null }> = [];
      for (let header = 0; header < headerCount; header++) {
        const headerKey = reader.lengthPrefixed();
        headers.push({ key: headerKey?.toString('utf8') ?? '', value: reader.lengthPrefixed() });
      }
      records.push({ offset: baseOffset + BigInt(offsetDelta), key, value, headers });
    }
    batches.push({
      baseOffset,
      magic: batch.readInt8(batchOffsets.magic),
      attributes: batch.readInt16BE(batchOffsets.attributes),
      crcValid: batch.readUInt32BE(batchOffsets.crc) === crc32c(batch.subarray(batchOffsets.attributes)),
      lastOffsetDelta: batch.readInt32BE(batchOffsets.lastOffsetDelta),
      records,
      bytes: batch,
    });
    at += total;
  }
  return batches;
}

class VarintCursor {
  constructor(private readonly buffer: Buffer, private at: number) {}

  byte(): number {
    const value = this.buffer[this.at];
    if (value === undefined) throw new RangeError('record runs past the batch');
    this.at += 1;
    return value;
  }

  varint(): number {
    let raw = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.byte();
      raw |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    return Number((raw >> 1n) ^ -(raw & 1n));
  }

  lengthPrefixed(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    if (this.at + length > this.buffer.length) throw new RangeError('record field runs past the batch');
    const bytes = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return bytes;
  }
}

// ── Process measurements ────────────────────────────────────────────────────────────────────────

/** Resident set size of a process in bytes (Linux /proc, else `ps`). */
export function residentBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (match?.[1] !== undefined) return Number(match[1]) * 1024;
  } catch {
    // not Linux, or no /proc: fall back to ps
  }
  let kilobytes: string;
  try {
    kilobytes = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`cannot read the memory of process ${pid}: it is gone`);
  }
  return Number(kilobytes) * 1024;
}

/** Open file descriptors of a process (Linux only; null elsewhere). */
export function openFileDescriptors(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** True while a process with this pid exists. */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `work` on a fresh connection to `broker`, closed afterwards whatever happens. */
export async function withConnection<T>(broker: { readonly host: string; readonly port: number }, work: (connection: RawKafkaConnection) => Promise<T>): Promise<T> {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    return await work(connection);
  } finally {
    connection.destroy();
  }
}
