/**
 * A fetch-based consumer of explicitly assigned partitions (group membership, which decides the
 * assignment, is in group.ts).
 *
 *   const consumer = new Consumer(client);
 *   consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
 *   for (;;) for (const record of await consumer.poll()) …
 *
 * One poll sends one Fetch per partition leader, concurrently, and decodes what comes back straight
 * into ConsumedRecords (no intermediate record objects; CRC checked), batch headers through
 * src/protocol/kafka/batch-header.ts and records through RecordIterator (records.ts):
 * compressed batches are decompressed (bounded, src/protocol/kafka/compression.ts), control batches of
 * transactions skipped, records before the position (a batch starts earlier) dropped.
 */
import { compressionCodecs, decompressRecords } from '../protocol/kafka/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { batchHeaderBytes, currentMagic, hasValidCrc, isControl, readBaseOffset, readCompressionCodec, readLastOffset, readMagic, recordsAt } from '../protocol/kafka/batch-header.js';
import { RecordIterator, recordBatchTotalBytes } from '../protocol/kafka/records.js';
import type { RecordHeader } from '../protocol/kafka/records.js';
import { MalformedInputError } from '../protocol/wire/errors.js';
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
      if (total < batchHeaderBytes || readMagic(bytes, start) !== currentMagic) continue; // older message formats: skipped
      if (!hasValidCrc(bytes, start, total)) throw new MalformedInputError(`record batch at offset ${readBaseOffset(bytes, start)}: CRC mismatch`);
      const lastOffset = readLastOffset(bytes, start);
      if (!isControl(bytes, start) && lastOffset >= state.position) {
        const codec = readCompressionCodec(bytes, start);
        const stored = bytes.subarray(start + recordsAt, start + total);
        const section = codec === compressionCodecs.none ? stored : await decompressRecords(codec, stored);
        readRecords(new RecordIterator(bytes, start, section, 0, section.length), state, output);
      }
      if (lastOffset + 1 > state.position) state.position = lastOffset + 1;
    }
  }
}

/** The records of one batch; those before the partition's position (a batch starts earlier) are skipped. */
function readRecords(records: RecordIterator, state: PartitionState, output: ConsumedRecord[]): void {
  while (records.next()) {
    if (records.offset < state.position) continue;
    output.push({ topic: state.topic, partition: state.partition, offset: records.offset, timestampMs: records.timestampMs, key: records.key(), value: records.value(), headers: records.headers() });
  }
}
