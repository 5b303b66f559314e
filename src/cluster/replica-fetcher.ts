/**
 * A follower's fetcher from one leader broker (docs/cluster.md, "Replication"): one Kafka
 * connection to the leader, one Fetch at a time for every partition this broker follows there,
 * sent with replica_id = this broker's node id and each partition's current leader epoch, and
 * fetchOffset = the local log end. The batches are appended as the leader stored them, with the
 * leader's offsets (PartitionLog.appendAsFollower checks contiguity and CRC), and the next Fetch
 * goes out once they are durable here under the flush policy: so a fetchOffset always tells the
 * leader what this broker holds durably.
 *
 * A log ending past the leader's (the leader answers OFFSET_OUT_OF_RANGE) is not truncated yet:
 * the partition is left out of fetching, with an error logged (truncation is the next step).
 */
import { apis } from '../client/apis.js';
import { Connection } from '../client/connection.js';
import { batchTotalBytes, batchOverheadBytes, readBatchLength } from '../protocol/kafka/batch-header.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { Partition } from '../broker/partition.js';
import type { Logger } from '../logging/logger.js';
import { asOffset, type Offset } from '../broker/offset.js';
import type { ClusterBroker } from './cluster-view.js';

/** How long the leader may hold a follower's Fetch waiting for data. */
const fetchMaxWaitMs = 500;
const partitionMaxBytes = 1024 * 1024;
const fetchMaxBytes = 16 * 1024 * 1024;
/** Pause after a failed connection or request, before trying again. */
const retryDelayMs = 300;
const connectTimeoutMs = 3000;
const requestTimeoutMs = 5000;
const zeroTopicId = Buffer.alloc(16);

export interface ReplicaFetcherContext {
  readonly nodeId: number;
  readonly logger: Logger;
  /** The leader broker's address as registered now, or undefined when it is not live. */
  readonly leaderAddress: () => ClusterBroker | undefined;
  /** The high watermark the leader reported for a partition. */
  readonly learnedHighWatermark: (partition: Partition, highWatermark: Offset) => void;
  /** Wakes the fetches waiting on the partition (it has new data). */
  readonly notifyData: (partition: Partition) => void;
}

export class ReplicaFetcher {
  /** Followed partitions, with the leader epoch etcd gives them. */
  private readonly partitions = new Map<Partition, number>();
  /** Partitions whose log could not follow the leader's (left out until their state changes). */
  private readonly stuck = new Set<Partition>();
  private connection: Connection | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly running: Promise<void>;

  constructor(
    readonly leaderId: number,
    private readonly context: ReplicaFetcherContext,
  ) {
    this.running = this.run();
  }

  get isEmpty(): boolean {
    return this.partitions.size === 0;
  }

  follow(partition: Partition, leaderEpoch: number): void {
    if (this.partitions.get(partition) !== leaderEpoch) this.stuck.delete(partition);
    this.partitions.set(partition, leaderEpoch);
    this.wake?.();
  }

  unfollow(partition: Partition): void {
    this.partitions.delete(partition);
    this.stuck.delete(partition);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.connection?.close();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const fetched = [...this.partitions].filter(([partition]) => partition.isOpen && !partition.deleted && !this.stuck.has(partition));
      if (fetched.length === 0) {
        await this.pause(retryDelayMs);
        continue;
      }
      try {
        await this.fetchOnce(fetched);
      } catch (error) {
        if (this.stopped) break;
        this.context.logger.debug('replica fetch failed; retrying', { leader: this.leaderId, error: error instanceof Error ? error.message : String(error) });
        this.connection?.close();
        this.connection = null;
        await this.pause(retryDelayMs);
      }
    }
    this.connection?.close();
  }

  private pause(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private async connect(): Promise<Connection> {
    if (this.connection !== null && !this.connection.isClosed) return this.connection;
    const leader = this.context.leaderAddress();
    if (leader === undefined) throw new Error(`leader broker ${this.leaderId} is not live`);
    this.connection = await Connection.open({ host: leader.host, port: leader.port, clientId: `osprey-replica-${this.context.nodeId}`, connectTimeoutMs, requestTimeoutMs });
    return this.connection;
  }

  private async fetchOnce(fetched: readonly (readonly [Partition, number])[]): Promise<void> {
    const connection = await this.connect();
    const byTopic = new Map<string, { partition: Partition; leaderEpoch: number; fetchOffset: Offset }[]>();
    for (const [partition, leaderEpoch] of fetched) {
      const list = byTopic.get(partition.topic.name) ?? [];
      list.push({ partition, leaderEpoch, fetchOffset: partition.handle.logEndOffset });
      byTopic.set(partition.topic.name, list);
    }
    const response = await connection.request(
      apis.fetch,
      {
        replicaId: this.context.nodeId,
        maxWaitMs: fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: fetchMaxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [...byTopic].map(([topic, list]) => ({
          topic,
          topicId: zeroTopicId,
          partitions: list.map((entry) => ({ partition: entry.partition.index, currentLeaderEpoch: entry.leaderEpoch, fetchOffset: BigInt(entry.fetchOffset), partitionMaxBytes })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { timeoutMs: requestTimeoutMs + fetchMaxWaitMs },
    );
    if (response.errorCode !== ErrorCode.none) throw new Error(`Fetch answered error ${response.errorCode}`);
    const durable: Promise<void>[] = [];
    let retriableErrors = 0;
    for (const topic of response.responses) {
      const list = byTopic.get(topic.topic) ?? [];
      for (const answer of topic.partitions) {
        const entry = list.find((candidate) => candidate.partition.index === answer.partitionIndex);
        if (entry === undefined) continue;
        const partition = entry.partition;
        if (answer.errorCode === ErrorCode.offsetOutOfRange) {
          this.stuck.add(partition);
          this.context.logger.error('replica log does not fit the leader\'s (truncation is not implemented yet); not fetching this partition', {
            topic: partition.topic.name,
            partition: partition.index,
            leader: this.leaderId,
            logEndOffset: entry.fetchOffset,
          });
          continue;
        }
        if (answer.errorCode !== ErrorCode.none) {
          retriableErrors++;
          continue;
        }
        if (answer.highWatermark >= 0n) this.context.learnedHighWatermark(partition, asOffset(Number(answer.highWatermark)));
        if (answer.records !== null && answer.records.length > 0 && partition.isOpen && this.partitions.get(partition) === entry.leaderEpoch) {
          const appended = this.appendBatches(partition, answer.records, entry.fetchOffset);
          if (appended !== null) durable.push(appended);
        }
      }
    }
    await Promise.all(durable);
    // Leadership is moving (NOT_LEADER_OR_FOLLOWER, a fenced epoch): wait a moment for etcd's news.
    if (retriableErrors > 0 && durable.length === 0) await this.pause(retryDelayMs);
  }

  /** Appends the whole batches of a response; resolves once they are durable (null: nothing appended). */
  private appendBatches(partition: Partition, records: Buffer, fetchOffset: Offset): Promise<void> | null {
    const handle = partition.handle;
    // The log moved since the request (it should not: this fetcher is its only writer while it follows).
    if (handle.logEndOffset !== fetchOffset) return null;
    let at = 0;
    let last: Promise<void> | null = null;
    try {
      while (at + batchOverheadBytes <= records.length) {
        const totalBytes = readBatchLength(records, at) + batchOverheadBytes;
        if (at + totalBytes > records.length) break; // a partial batch at the end: fetched again next time
        // The log keeps the bytes it is given; the response frame is not ours to keep.
        const batch = Buffer.from(records.subarray(at, at + batchTotalBytes(records, at)));
        last = handle.appendAsFollower(batch).durable;
        at += totalBytes;
      }
    } catch (error) {
      this.stuck.add(partition);
      this.context.logger.error('replica append refused; not fetching this partition', { topic: partition.topic.name, partition: partition.index, leader: this.leaderId, error: error instanceof Error ? error.message : String(error) });
    }
    if (last === null) return null;
    return last.then(() => this.context.notifyData(partition));
  }
}
