/**
 * A fetch-based consumer of explicitly assigned partitions (group membership, which decides the
 * assignment, is in group.ts).
 *
 *   const consumer = new Consumer(client);
 *   consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
 *   for (;;) for (const record of await consumer.poll()) …
 *
 * One poll sends one Fetch per partition leader, concurrently, and decodes what comes back straight
 * into ConsumedRecords (no intermediate record objects; CRC checked):
 * compressed batches are decompressed (bounded, src/protocol/kafka/compression.ts), control batches of
 * transactions skipped, records before the position (a batch starts earlier) dropped.
 */
import { decompressRecords } from '../protocol/kafka/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { batchHeaderBytes, currentMagic, magicAt } from '../protocol/kafka/batch-header.js';
import { recordBatchTotalBytes } from '../protocol/kafka/records.js';
import type { RecordHeader } from '../protocol/kafka/records.js';
import { MalformedInputError } from '../protocol/wire/errors.js';
import { crc32c } from '@node-rs/crc32';
import { apis } from './apis.js';
import type { KafkaClient } from './client.js';
import { zeroTopicId } from './client.js';
import { KafkaProtocolError, isRetriable } from './errors.js';

export interface ConsumerOptions {
  /** How long the broker may hold a Fetch waiting for minBytes (default 500 ms). */
  readonly maxWaitMs?: number;
  readonly minBytes?: number;
  /** Per partition, per fetch (default 1 MiB); a larger first batch still comes whole. */
  readonly partitionMaxBytes?: number;
  /** Per fetch response (default 32 MiB). */
  readonly maxBytes?: number;
  /** 0 read uncommitted (default), 1 read committed. */
  readonly isolationLevel?: 0 | 1;
  /** Where to go when a position is out of range (default 'earliest'). */
  readonly onOutOfRange?: 'earliest' | 'latest';
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  position: number;
  highWatermark: number;
}

const compressionMask = 0x07;

export class Consumer {
  private readonly states = new Map<string, PartitionState>();
  private readonly maxWaitMs: number;
  private readonly minBytes: number;
  private readonly partitionMaxBytes: number;
  private readonly maxBytes: number;
  private readonly isolationLevel: 0 | 1;
  private readonly onOutOfRange: 'earliest' | 'latest';

  constructor(
    readonly client: KafkaClient,
    options: ConsumerOptions = {},
  ) {
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.minBytes = options.minBytes ?? 1;
    this.partitionMaxBytes = options.partitionMaxBytes ?? 1024 * 1024;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.isolationLevel = options.isolationLevel ?? 0;
    this.onOutOfRange = options.onOutOfRange ?? 'earliest';
  }

  /** Replaces the assignment: these partitions, from these offsets. */
  assign(assignment: readonly TopicPartitionOffset[]): void {
    this.states.clear();
    for (const { topic, partition, offset } of assignment) this.states.set(`${topic}\u0000${partition}`, { topic, partition, position: offset, highWatermark: -1 });
  }

  /** The next offset to read, per assigned partition (what a group commits). */
  positions(): TopicPartitionOffset[] {
    return [...this.states.values()].map((state) => ({ topic: state.topic, partition: state.partition, offset: state.position }));
  }

  /** True once every assigned partition's position has reached the high watermark seen last. */
  get caughtUp(): boolean {
    for (const state of this.states.values()) if (state.highWatermark < 0 || state.position < state.highWatermark) return false;
    return true;
  }

  async poll(): Promise<ConsumedRecord[]> {
    if (this.states.size === 0) {
      await new Promise((resolve) => setTimeout(resolve, this.maxWaitMs));
      return [];
    }
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.states.values()) {
      const metadata = await this.client.topicMetadata(state.topic);
      const leaderId = metadata.partitions.find((candidate) => candidate.partition === state.partition)?.leaderId ?? -1;
      const list = byLeader.get(leaderId) ?? [];
      list.push(state);
      byLeader.set(leaderId, list);
    }
    const records: ConsumedRecord[] = [];
    await Promise.all([...byLeader].map(([leaderId, states]) => this.fetchFrom(leaderId, states, records)));
    return records;
  }

  private async fetchFrom(leaderId: number, states: readonly PartitionState[], records: ConsumedRecord[]): Promise<void> {
    if (leaderId < 0) {
      await this.client.refreshMetadata(states.map((state) => state.topic));
      return;
    }
    const connection = await this.client.connectionToNode(leaderId);
    const byTopic = new Map<string, PartitionState[]>();
    for (const state of states) {
      const list = byTopic.get(state.topic) ?? [];
      list.push(state);
      byTopic.set(state.topic, list);
    }
    const response = await connection.request(
      apis.fetch,
      {
        maxWaitMs: this.maxWaitMs,
        minBytes: this.minBytes,
        maxBytes: this.maxBytes,
        isolationLevel: this.isolationLevel,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          topicId: zeroTopicId,
          partitions: list.map((state) => ({ partition: state.partition, fetchOffset: BigInt(state.position), partitionMaxBytes: this.partitionMaxBytes })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { timeoutMs: this.client.requestTimeoutMs + this.maxWaitMs },
    );
    if (response.errorCode !== ErrorCode.none) throw new KafkaProtocolError(response.errorCode, 'Fetch');
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        const state = this.states.get(`${topic.topic}\u0000${partition.partitionIndex}`);
        if (state === undefined) continue;
        if (partition.errorCode === ErrorCode.offsetOutOfRange) {
          await this.resetOutOfRange(state);
          continue;
        }
        if (isRetriable(partition.errorCode)) {
          await this.client.refreshMetadata([state.topic]);
          continue;
        }
        if (partition.errorCode !== ErrorCode.none) throw new KafkaProtocolError(partition.errorCode, `fetch '${state.topic}' partition ${state.partition}`);
        state.highWatermark = Number(partition.highWatermark);
        if (partition.records !== null && partition.records.length > 0) await this.decodeInto(state, partition.records, records);
      }
    }
  }

  private async resetOutOfRange(state: PartitionState): Promise<void> {
    const connection = await this.client.leaderConnection(state.topic, state.partition);
    const response = await connection.request(apis.listOffsets, {
      replicaId: -1,
      isolationLevel: this.isolationLevel,
      topics: [{ name: state.topic, partitions: [{ partitionIndex: state.partition, timestamp: this.onOutOfRange === 'earliest' ? -2n : -1n }] }],
      timeoutMs: this.client.requestTimeoutMs,
    });
    const offset = response.topics[0]?.partitions[0]?.offset;
    if (offset !== undefined && offset >= 0n) state.position = Number(offset);
  }

  /**
   * Decodes whole batches straight into ConsumedRecords (one object per record, keys and values
   * as views of the response). A partial batch at the end is left for the next fetch.
   */
  private async decodeInto(state: PartitionState, bytes: Buffer, output: ConsumedRecord[]): Promise<void> {
    let position = 0;
    for (;;) {
      const total = recordBatchTotalBytes(bytes, position);
      if (total === null) break;
      const start = position;
      position += total;
      if (total < batchHeaderBytes || bytes.readInt8(start + magicAt) !== currentMagic) continue; // older message formats: skipped
      if (crc32c(bytes.subarray(start + 21, start + total)) !== bytes.readUInt32BE(start + 17)) throw new MalformedInputError(`record batch at offset ${Number(bytes.readBigInt64BE(start))}: CRC mismatch`);
      const attributes = bytes.readInt16BE(start + 21);
      const baseOffset = Number(bytes.readBigInt64BE(start));
      const lastOffset = baseOffset + bytes.readInt32BE(start + 23);
      if ((attributes & controlBit) === 0 && lastOffset >= state.position) {
        const codec = attributes & compressionMask;
        const section = codec === 0 ? bytes.subarray(start + batchHeaderBytes, start + total) : await decompressRecords(codec, bytes.subarray(start + batchHeaderBytes, start + total));
        const baseTimestampMs = Number(bytes.readBigInt64BE(start + 27));
        const logAppendTimeMs = (attributes & logAppendTimeBit) !== 0 ? Number(bytes.readBigInt64BE(start + 35)) : null;
        readRecords(section, bytes.readInt32BE(start + 57), baseOffset, baseTimestampMs, logAppendTimeMs, state, output);
      }
      if (lastOffset + 1 > state.position) state.position = lastOffset + 1;
    }
  }
}

const controlBit = 0x20;
const logAppendTimeBit = 0x08;

/**
 * The records of one batch (layout in src/protocol/kafka/records.ts), every length checked against
 * the bytes left; records before the partition's position are skipped.
 */
function readRecords(section: Buffer, count: number, baseOffset: number, baseTimestampMs: number, logAppendTimeMs: number | null, state: PartitionState, output: ConsumedRecord[]): void {
  const cursor = { at: 0 };
  const end = section.length;
  for (let index = 0; index < count; index++) {
    const length = readVarint(section, cursor, end);
    const recordEnd = cursor.at + length;
    if (length < 0 || recordEnd > end) throw new MalformedInputError(`record: length ${length} with ${end - cursor.at} bytes left`);
    cursor.at += 1; // attributes
    const timestampDelta = readVarint(section, cursor, recordEnd);
    const offset = baseOffset + readVarint(section, cursor, recordEnd);
    const key = readBytes(section, cursor, recordEnd);
    const value = readBytes(section, cursor, recordEnd);
    const headerCount = readVarint(section, cursor, recordEnd);
    if (headerCount < 0 || headerCount > recordEnd - cursor.at) throw new MalformedInputError(`record: header count ${headerCount}`);
    const headers: RecordHeader[] = headerCount === 0 ? noHeaders : [];
    for (let header = 0; header < headerCount; header++) {
      const headerKey = readBytes(section, cursor, recordEnd);
      if (headerKey === null) throw new MalformedInputError('record: null header key');
      headers.push({ key: headerKey.toString('utf8'), value: readBytes(section, cursor, recordEnd) });
    }
    if (cursor.at !== recordEnd) throw new MalformedInputError(`record: ${recordEnd - cursor.at} bytes beyond its fields`);
    if (offset >= state.position) output.push({ topic: state.topic, partition: state.partition, offset, timestampMs: logAppendTimeMs ?? baseTimestampMs + timestampDelta, key, value, headers });
  }
}

const noHeaders: RecordHeader[] = [];

/** A zigzag varint or varlong (as a number: exact up to 2^53). */
function readVarint(buffer: Buffer, cursor: { at: number }, end: number): number {
  let unsigned = 0;
  let scale = 1;
  for (let shift = 0; shift < 64; shift += 7) {
    if (cursor.at >= end) throw new MalformedInputError('record: truncated varint');
    const byte = buffer[cursor.at++]!;
    unsigned += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
    scale *= 128;
  }
  throw new MalformedInputError('record: varint longer than 10 bytes');
}

function readBytes(buffer: Buffer, cursor: { at: number }, end: number): Buffer | null {
  const length = readVarint(buffer, cursor, end);
  if (length === -1) return null;
  if (length < -1 || cursor.at + length > end) throw new MalformedInputError(`record: field of ${length} bytes with ${end - cursor.at} left`);
  const bytes = buffer.subarray(cursor.at, cursor.at + length);
  cursor.at += length;
  return bytes;
}
