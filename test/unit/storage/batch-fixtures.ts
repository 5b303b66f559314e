import { crc32c } from '@node-rs/crc32';
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, LogOptions } from '../../../src/storage/partition-log.js';

/**
 * A tiny encoder for uncompressed v2 record batches, written from the format description
 * (not from src/protocol/kafka/batch-header.ts, so it can catch mistakes there). Cross-checked against kafkajs's
 * encoder and decoder in test/unit/protocol/batch-header.test.ts.
 *
 *   record: length varint │ attributes int8 │ timestampDelta varlong │ offsetDelta varint │
 *           key (varint length, −1 = null) │ value (same) │ header count varint │
 *           headers: key (varint length + utf8) │ value (varint length + bytes)
 */

export interface FixtureRecord {
  key?: Buffer | null;
  value: Buffer | null;
  /** Absolute timestamp; defaults to the batch's baseTimestamp. */
  timestamp?: number;
  headers?: Array<[string, Buffer]>;
}

export interface FixtureBatchOptions {
  baseOffset?: number;
  baseTimestamp?: number;
  /** Extra attribute bits (e.g. 1 to pretend gzip, 8 for LogAppendTime). Records stay uncompressed bytes. */
  attributes?: number;
  /** Gzip the records section for real (codec bits 1). */
  gzip?: boolean;
  producerId?: bigint;
  partitionLeaderEpoch?: number;
}

function zigzagVarint(value: number): Buffer {
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  const bytes: number[] = [];
  while (unsigned >= 0x80) {
    bytes.push((unsigned % 128) | 0x80);
    unsigned = Math.floor(unsigned / 128);
  }
  bytes.push(unsigned);
  return Buffer.from(bytes);
}

function lengthPrefixed(bytes: Buffer | null): Buffer {
  if (bytes === null) return zigzagVarint(-1);
  return Buffer.concat([zigzagVarint(bytes.length), bytes]);
}

function encodeRecord(record: FixtureRecord, offsetDelta: number, baseTimestamp: number): Buffer {
  const headers = record.headers ?? [];
  const body = Buffer.concat([
    Buffer.from([0]),
    zigzagVarint((record.timestamp ?? baseTimestamp) - baseTimestamp),
    zigzagVarint(offsetDelta),
    lengthPrefixed(record.key ?? null),
    lengthPrefixed(record.value),
    zigzagVarint(headers.length),
    ...headers.flatMap(([key, value]) => [lengthPrefixed(Buffer.from(key, 'utf8')), lengthPrefixed(value)]),
  ]);
  return Buffer.concat([zigzagVarint(body.length), body]);
}

export function encodeBatch(records: FixtureRecord[], options: FixtureBatchOptions = {}): Buffer {
  const baseTimestamp = options.baseTimestamp ?? records[0]?.timestamp ?? 1_700_000_000_000;
  const timestamps = records.map((record) => record.timestamp ?? baseTimestamp);
  const maxTimestamp = timestamps.length === 0 ? baseTimestamp : Math.max(...timestamps);
  const plainRecords = Buffer.concat(records.map((record, index) => encodeRecord(record, index, baseTimestamp)));
  const recordBytes = options.gzip === true ? gzipSync(plainRecords) : plainRecords;
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(BigInt(options.baseOffset ?? 0), 0);
  header.writeInt32BE(61 - 12 + recordBytes.length, 8);
  header.writeInt32BE(options.partitionLeaderEpoch ?? 0, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE((options.attributes ?? 0) | (options.gzip === true ? 1 : 0), 21);
  header.writeInt32BE(Math.max(0, records.length - 1), 23);
  header.writeBigInt64BE(BigInt(baseTimestamp), 27);
  header.writeBigInt64BE(BigInt(maxTimestamp), 35);
  header.writeBigInt64BE(options.producerId ?? -1n, 43);
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(records.length, 57);
  const batch = Buffer.concat([header, recordBytes]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

/** A batch of `count` records with values "v<i>" of about `valueBytes` each, all at `timestamp` (+i ms if `spreadMs`). */
export function simpleBatch(count: number, options: { valueBytes?: number; timestamp?: number; spreadMs?: number; attributes?: number; gzip?: boolean; tag?: string } = {}): Buffer {
  const timestamp = options.timestamp ?? 1_700_000_000_000;
  const records: FixtureRecord[] = [];
  for (let index = 0; index < count; index++) {
    const text = `${options.tag ?? 'v'}${index}`;
    const value = Buffer.alloc(Math.max(text.length, options.valueBytes ?? 0), ' ');
    value.write(text);
    records.push({ key: Buffer.from(`k${index}`), value, timestamp: timestamp + index * (options.spreadMs ?? 0) });
  }
  const batchOptions: FixtureBatchOptions = { baseTimestamp: timestamp };
  if (options.attributes !== undefined) batchOptions.attributes = options.attributes;
  if (options.gzip !== undefined) batchOptions.gzip = options.gzip;
  return encodeBatch(records, batchOptions);
}

/** Splits concatenated batches into (baseOffset, lastOffset, bytes) triples, by the format. */
export function splitBatches(chunks: Buffer[]): Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }> {
  const result: Array<{ baseOffset: number; lastOffset: number; bytes: Buffer }> = [];
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      const total = chunk.readInt32BE(at + 8) + 12;
      const baseOffset = Number(chunk.readBigInt64BE(at));
      result.push({ baseOffset, lastOffset: baseOffset + chunk.readInt32BE(at + 23), bytes: chunk.subarray(at, at + total) });
      at += total;
    }
  }
  return result;
}

export class ManualClock implements Clock {
  constructor(public now = 1_700_000_000_000) {}
  nowMs(): number {
    return this.now;
  }
}

export function logOptions(overrides: Partial<LogOptions> = {}): LogOptions {
  return {
    segmentBytes: 1024 * 1024,
    segmentMs: 7 * 24 * 3600 * 1000,
    retentionMs: -1,
    retentionBytes: -1,
    indexIntervalBytes: 256,
    flush: 'always',
    flushIntervalMs: 1000,
    ...overrides,
  };
}

export async function withTempDirectory<T>(work: (directory: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'osprey-storage-'));
  try {
    return await work(join(root, 'topic-0'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Deterministic PRNG (mulberry32) for the randomized tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
