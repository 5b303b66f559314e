/**
 * A fetch-based consumer of explicitly assigned partitions (group membership, which decides the
 * assignment, is in group.ts).
 *
 *   const consumer = new Consumer(client);
 *   consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
 *   for (;;) for (const record of await consumer.poll()) …
 *
 * One poll sends one Fetch per partition leader, concurrently, and decodes what comes back:
 * compressed batches are decompressed (bounded, src/storage/compression.ts), control batches of
 * transactions skipped, records before the position (a batch starts earlier) dropped.
 */
import { decompressRecords } from '../storage/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { decodeRecordBatch, recordBatchHeaderBytes, recordBatchTotalBytes } from '../protocol/kafka/records.js';
import type { DecodedRecordBatch, RecordHeader } from '../protocol/kafka/records.js';
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
    const results = await Promise.all([...byLeader].map(([leaderId, states]) => this.fetchFrom(leaderId, states)));
    return results.flat();
  }

  private async fetchFrom(leaderId: number, states: readonly PartitionState[]): Promise<ConsumedRecord[]> {
    if (leaderId < 0) {
      await this.client.refreshMetadata(states.map((state) => state.topic));
      return [];
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
    const records: ConsumedRecord[] = [];
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
    return records;
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

  private async decodeInto(state: PartitionState, bytes: Buffer, output: ConsumedRecord[]): Promise<void> {
    let position = 0;
    for (;;) {
      const total = recordBatchTotalBytes(bytes, position);
      if (total === null) break; // a partial batch at the end: fetched again next time
      const batch = await decodeAnyBatch(bytes.subarray(position, position + total));
      position += total;
      if (batch === null) continue;
      if (!batch.isControl) {
        for (const record of batch.records) {
          if (record.offset < state.position) continue;
          output.push({ topic: state.topic, partition: state.partition, offset: record.offset, timestampMs: record.timestampMs, key: record.key, value: record.value, headers: record.headers });
        }
      }
      if (batch.lastOffset + 1 > state.position) state.position = batch.lastOffset + 1;
    }
  }
}

/** One whole v2 batch, decompressed if need be; null for older message formats (skipped). */
export async function decodeAnyBatch(batch: Buffer): Promise<DecodedRecordBatch | null> {
  if (batch.length < recordBatchHeaderBytes || batch.readInt8(16) !== 2) return null;
  const attributes = batch.readInt16BE(21);
  const codec = attributes & compressionMask;
  if (codec === 0) return decodeRecordBatch(batch);
  if (crc32c(batch.subarray(21)) !== batch.readUInt32BE(17)) throw new MalformedInputError('record batch: CRC mismatch');
  const records = await decompressRecords(codec, batch.subarray(recordBatchHeaderBytes));
  const plain = Buffer.allocUnsafe(recordBatchHeaderBytes + records.length);
  batch.copy(plain, 0, 0, recordBatchHeaderBytes);
  records.copy(plain, recordBatchHeaderBytes);
  plain.writeInt32BE(plain.length - 12, 8);
  plain.writeInt16BE(attributes & ~compressionMask, 21);
  return decodeRecordBatch(plain, 0, { verifyCrc: false });
}
