/**
 * A fetch-based consumer of explicitly assigned partitions (group membership, which decides the
 * assignment, is in group.ts).
 *
 *   const consumer = new Consumer(client);
 *   consumer.assign([{ topic: 'orders', partition: 0, offset: 0 }]);
 *   for (;;) for (const record of await consumer.poll()) …
 *
 * One poll sends one Fetch per partition leader, concurrently, and decodes what comes back straight
 * into ConsumedRecords (no intermediate record objects; CRC checked). While a partition is behind
 * its high watermark (a backlog), the next poll's Fetches are sent as soon as this poll's answers
 * are decoded, so the broker reads and sends the next records while the application handles these
 * (the broker answers such a Fetch at once: the data is there). Positions move only when a poll
 * returns records, as without it. Batch headers are read through
 * src/protocol/kafka/batch-header.ts and records through RecordIterator (records.ts):
 * compressed batches are decompressed (bounded, src/protocol/kafka/compression.ts), control batches of
 * transactions skipped, records before the position (a batch starts earlier) dropped.
 */
import { compressionCodecs, decompressRecords } from '../protocol/kafka/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { batchHeaderBytes, currentMagic, hasValidCrc, isControl, readBaseOffset, readCompressionCodec, readLastOffset, readMagic, recordsAt } from '../protocol/kafka/batch-header.js';
import { RecordIterator, recordBatchTotalBytes } from '../protocol/kafka/records.js';
import type { RecordHeader } from '../protocol/kafka/records.js';
import type { fetchResponse } from '../protocol/kafka/messages/fetch.js';
import type { Decoded } from '../protocol/kafka/schema.js';
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
  /** Send the next poll's Fetches while a partition is behind its high watermark (default true). */
  readonly prefetch?: boolean;
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

/** A Fetch sent to one leader, and its answer (or failure) once it comes. */
interface SentFetch {
  readonly leaderId: number;
  readonly states: readonly PartitionState[];
  readonly response: Promise<FetchAnswer> | null;
}

type FetchAnswer = Decoded<typeof fetchResponse>;

/** The Fetches of the next poll, sent ahead (see poll), for the assignment they were sent for. */
interface Prefetch {
  readonly assignment: number;
  readonly fetches: Promise<SentFetch[]>;
}

export class Consumer {
  private readonly states = new Map<string, PartitionState>();
  private readonly maxWaitMs: number;
  private readonly minBytes: number;
  private readonly partitionMaxBytes: number;
  private readonly maxBytes: number;
  private readonly isolationLevel: 0 | 1;
  private readonly onOutOfRange: 'earliest' | 'latest';
  private readonly prefetching: boolean;
  /** Counts assign() calls: a prefetch sent for an earlier assignment is dropped. */
  private assignment = 0;
  private prefetch: Prefetch | null = null;

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
    this.prefetching = options.prefetch ?? true;
  }

  /** Replaces the assignment: these partitions, from these offsets. */
  assign(assignment: readonly TopicPartitionOffset[]): void {
    this.assignment++;
    this.prefetch = null;
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
    const prefetch = this.prefetch;
    this.prefetch = null;
    const assignment = this.assignment;
    const fetches = await (prefetch !== null && prefetch.assignment === assignment ? prefetch.fetches : this.sendFetches());
    const records: ConsumedRecord[] = [];
    await Promise.all(fetches.map((fetch) => this.settle(fetch, records)));
    // Still behind (the answers said so): the next poll's Fetches go now, from the positions reached.
    if (this.prefetching && assignment === this.assignment && records.length > 0 && !this.caughtUp) {
      const next = this.sendFetches();
      // A failure is the next poll's to report (a consumer dropped meanwhile never sees it).
      next.catch(() => undefined);
      this.prefetch = { assignment, fetches: next };
    }
    return records;
  }

  /** One Fetch per partition leader, sent now from the current positions; a leader not known yet gets none. */
  private async sendFetches(): Promise<SentFetch[]> {
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.states.values()) {
      const metadata = await this.client.topicMetadata(state.topic);
      const leaderId = metadata.partitions.find((candidate) => candidate.partition === state.partition)?.leaderId ?? -1;
      const list = byLeader.get(leaderId) ?? [];
      list.push(state);
      byLeader.set(leaderId, list);
    }
    return [...byLeader].map(([leaderId, states]) => {
      const response = leaderId < 0 ? null : this.sendFetch(leaderId, states);
      // Handled when the poll settles it; until then a failure must not count as unhandled.
      response?.catch(() => undefined);
      return { leaderId, states, response };
    });
  }

  private async sendFetch(leaderId: number, states: readonly PartitionState[]): Promise<FetchAnswer> {
    const connection = await this.client.connectionToNode(leaderId);
    const byTopic = new Map<string, PartitionState[]>();
    for (const state of states) {
      const list = byTopic.get(state.topic) ?? [];
      list.push(state);
      byTopic.set(state.topic, list);
    }
    return connection.request(
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
  }

  /** Takes a Fetch's answer into the positions and `records` (or refreshes metadata when there was no leader). */
  private async settle(fetch: SentFetch, records: ConsumedRecord[]): Promise<void> {
    if (fetch.response === null) {
      await this.client.refreshMetadata(fetch.states.map((state) => state.topic));
      return;
    }
    const response = await fetch.response;
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
