/**
 * Records for client round trips: seeded, so a failure names an offset that the next run has too.
 * Keys and values are null, empty, short binary or longer compressible text; records carry zero to
 * four headers (repeated keys, binary, empty and, where the client can send them, null values).
 * Each record names its partition and timestamp, so what a partition must hold is known without
 * trusting a client's partitioner.
 *
 *   const records = makeRecords(3000, { partitions: 4, seed: 1, startTimestampMs: Date.now() });
 *   … produce them, read partition p back (./partition-reader.ts) …
 *   assertPartitionHolds(`orders/${p}`, contents.records, recordsOfPartition(records, p));
 */
import { AssertionError } from 'node:assert';
import type { ReadRecord } from './partition-reader.js';

export interface FixtureRecord {
  readonly partition: number;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** In wire order; repeated keys are adjacent (KafkaJS can only send them that way). */
  readonly headers: ReadonlyArray<readonly [string, Buffer | null]>;
}

export interface FixtureOptions {
  readonly partitions: number;
  readonly seed: number;
  /** Timestamp of the first record; each next record is 1 ms later. */
  readonly startTimestampMs: number;
  /** Some header values null: KafkaJS cannot send those, @platformatic/kafka can. */
  readonly nullHeaderValues?: boolean;
}

/** mulberry32: small, seeded, good enough to vary test data. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

const words = ['osprey', 'order', 'shipped', 'kafka', 'partition', 'offset', 'récord', 'заказ', '注文', '🦅', 'null', '', 'value'];
const headerKeys = ['trace-id', 'content-type', 'x', 'ünïcødé-ключ', 'retry', 'empty', 'binary'];

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

function randomInteger(random: () => number, minimum: number, maximum: number): number {
  return minimum + Math.floor(random() * (maximum - minimum + 1));
}

function compressibleText(random: () => number, minimumBytes: number, maximumBytes: number): Buffer {
  const target = randomInteger(random, minimumBytes, maximumBytes);
  const parts: string[] = [];
  let length = 0;
  while (length < target) {
    const word = words[Math.floor(random() * words.length)] ?? '';
    parts.push(word);
    length += Buffer.byteLength(word) + 1;
  }
  return Buffer.from(parts.join(' '));
}

function makeKey(random: () => number): Buffer | null {
  const roll = random();
  if (roll < 0.1) return null;
  if (roll < 0.15) return Buffer.alloc(0);
  if (roll < 0.6) return randomBytes(random, randomInteger(random, 1, 32));
  return Buffer.from(`key-${randomInteger(random, 0, 999)}`);
}

function makeValue(random: () => number): Buffer | null {
  const roll = random();
  if (roll < 0.06) return null;
  if (roll < 0.12) return Buffer.alloc(0);
  if (roll < 0.55) return randomBytes(random, randomInteger(random, 1, 96));
  if (roll < 0.98) return compressibleText(random, 32, 1024);
  return randomBytes(random, randomInteger(random, 4096, 16_384));
}

function makeHeaders(random: () => number, nullValues: boolean): Array<[string, Buffer | null]> {
  const keyCount = [0, 0, 1, 1, 2, 3, 4][Math.floor(random() * 7)] ?? 0;
  const keys = [...headerKeys];
  for (let index = keys.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [keys[index], keys[other]] = [keys[other] as string, keys[index] as string];
  }
  keys.length = keyCount;
  const headers: Array<[string, Buffer | null]> = [];
  for (const key of keys) {
    const repeats = random() < 0.2 ? randomInteger(random, 2, 3) : 1;
    for (let repeat = 0; repeat < repeats; repeat++) {
      const roll = random();
      const value = nullValues && roll < 0.1 ? null : roll < 0.2 ? Buffer.alloc(0) : roll < 0.6 ? randomBytes(random, randomInteger(random, 1, 24)) : Buffer.from(`${key}=${randomInteger(random, 0, 1_000_000)} ✓`);
      headers.push([key, value]);
    }
  }
  return headers;
}

export function makeRecords(count: number, options: FixtureOptions): FixtureRecord[] {
  const random = seededRandom(options.seed);
  const records: FixtureRecord[] = [];
  for (let index = 0; index < count; index++) {
    records.push({
      partition: Math.floor(random() * options.partitions),
      timestamp: BigInt(options.startTimestampMs + index),
      key: makeKey(random),
      value: makeValue(random),
      headers: makeHeaders(random, options.nullHeaderValues ?? false),
    });
  }
  return records;
}

export function recordsOfPartition(records: readonly FixtureRecord[], partition: number): FixtureRecord[] {
  return records.filter((record) => record.partition === partition);
}

/** Splits `records` into consecutive slices of at most `size`. */
export function chunks<T>(records: readonly T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let start = 0; start < records.length; start += size) slices.push(records.slice(start, start + size));
  return slices;
}

function show(bytes: Buffer | null): string {
  if (bytes === null) return 'null';
  const hex = bytes.subarray(0, 48).toString('hex');
  return `${bytes.length} bytes ${hex}${bytes.length > 48 ? '…' : ''}`;
}

function sameBytes(actual: Buffer | null, expected: Buffer | null): boolean {
  if (actual === null || expected === null) return actual === expected;
  return actual.equals(expected);
}

function fail(label: string, offset: bigint, what: string, actual: string, expected: string): never {
  throw new AssertionError({ message: `${label} offset ${offset}: ${what} differs\n  actual:   ${actual}\n  expected: ${expected}` });
}

/**
 * The records read hold exactly `expected`, in order, at contiguous offsets from `firstOffset`,
 * byte for byte (key, value, header keys and values, null apart from empty) and with the same
 * timestamps. The first difference is reported with its offset.
 */
export function assertPartitionHolds(label: string, actual: readonly ReadRecord[], expected: readonly FixtureRecord[], firstOffset = 0n): void {
  const count = Math.min(actual.length, expected.length);
  for (let index = 0; index < count; index++) {
    const record = actual[index] as ReadRecord;
    const wanted = expected[index] as FixtureRecord;
    const offset = firstOffset + BigInt(index);
    if (record.offset !== offset) fail(label, offset, 'offset (not contiguous)', String(record.offset), String(offset));
    if (!sameBytes(record.key, wanted.key)) fail(label, offset, 'key', show(record.key), show(wanted.key));
    if (!sameBytes(record.value, wanted.value)) fail(label, offset, 'value', show(record.value), show(wanted.value));
    if (record.timestamp !== wanted.timestamp) fail(label, offset, 'timestamp', String(record.timestamp), String(wanted.timestamp));
    const sameHeaders =
      record.headers.length === wanted.headers.length &&
      record.headers.every(([key, value], position) => {
        const [wantedKey, wantedValue] = wanted.headers[position] as readonly [string, Buffer | null];
        return sameBytes(key, Buffer.from(wantedKey)) && sameBytes(value, wantedValue);
      });
    if (!sameHeaders) {
      const actualHeaders = record.headers.map(([key, value]) => `${show(key)} => ${show(value)}`);
      const expectedHeaders = wanted.headers.map(([key, value]) => `${show(Buffer.from(key))} => ${show(value)}`);
      fail(label, offset, 'headers', `[${actualHeaders.join(', ')}]`, `[${expectedHeaders.join(', ')}]`);
    }
  }
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${label}: ${actual.length} records read, ${expected.length} expected (first ${count} match)` });
  }
}
