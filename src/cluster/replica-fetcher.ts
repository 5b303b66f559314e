/**
 * A follower's fetcher from one leader broker (docs/cluster.md, "Replication"): one Kafka
 * connection to the leader, one Fetch at a time for every partition this broker follows there,
 * sent with replica_id = this broker's node id and each partition's current leader epoch, and
 * fetchOffset = the local log end. The batches are appended as the leader stored them, with the
 * leader's offsets (PartitionLog.appendAsFollower checks contiguity and CRC), and the next Fetch
 * goes out once they are durable here under the flush policy: so a fetchOffset always tells the
 * leader what this broker holds durably.
 *
 * Before a partition is fetched in a leader epoch (at start-up, and whenever the epoch changes), its
 * log is made a prefix of the leader's (KIP-101, KIP-279): the follower asks the leader
 * (OffsetForLeaderEpoch) where the latest epoch of its own log ends there, and cuts its log to
 * that end if it runs past it. An answer naming a smaller epoch means the leader never had ours: the
 * follower cuts where its own log leaves that smaller epoch and asks again with its new latest
 * epoch, until both agree on an epoch. A leader that knows no epoch as old (undefined) lets the
 * follower keep what lies below the high watermark it last learned. Fetching resumes from the new end.
 *
 *   follower: [ e1 e1 e1 | e3 e3 e3 ]          asks: where does epoch 3 end?
 *   leader:   [ e1 e1 e1 | e3 | e4 e4 e4 ]     answers: epoch 3 ends at 4
 *   follower: [ e1 e1 e1 | e3 ]                cuts to 4, then fetches from 4
 *
 * A Fetch answered OFFSET_OUT_OF_RANGE means the two logs no longer overlap at the fetch offset:
 * when the leader's log starts past this whole log (retention or DeleteRecords there), the follower
 * empties its log and starts again at the leader's log start; otherwise it compares epochs again.
 *
 * Every partition's answer carries the leader's log start offset. Once the fetched batches are
 * durable here, a follower whose log starts below it moves its own log start up (as DeleteRecords
 * does locally: persisted, whole segments below it deleted), never past its own durable end, so
 * records the leader deleted (DeleteRecords, retention) go here too. Each Fetch names this log's
 * start (logStartOffset), which the leader's DeleteRecords waits for (KIP-107's low watermark).
 */
import { apis } from '../client/apis.js';
import { Connection } from '../client/connection.js';
import { batchTotalBytes, batchOverheadBytes, readBatchLength } from '../protocol/kafka/batch-header.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { Partition } from '../broker/partition.js';
import type { Logger } from '../logging/logger.js';
import { asOffset, type Offset } from '../broker/offset.js';
import type { ClusterBroker } from './cluster-view.js';
import { undefinedEpoch } from '../storage/leader-epoch-cache.js';
import { truncationStep } from './log-divergence.js';

/** How long the leader may hold a follower's Fetch waiting for data. */
const fetchMaxWaitMs = 500;
const partitionMaxBytes = 1024 * 1024;
const fetchMaxBytes = 16 * 1024 * 1024;
/** Pause after a failed connection or request, before trying again. */
const retryDelayMs = 300;
const connectTimeoutMs = 3000;
const requestTimeoutMs = 5000;
const zeroTopicId = Buffer.alloc(16);
/** ListOffsets' timestamp asking for the log start offset. */
const earliestTimestamp = -2n;

export interface ReplicaFetcherContext {
  readonly nodeId: number;
  readonly logger: Logger;
  /** The leader broker's address as registered now, or undefined when it is not live. */
  readonly leaderAddress: () => ClusterBroker | undefined;
  /** The high watermark the leader reported for a partition. */
  readonly learnedHighWatermark: (partition: Partition, highWatermark: Offset) => void;
  /** The high watermark a leader last reported for the partition (since this broker started), if any. */
  readonly knownHighWatermark: (partition: Partition) => Offset | undefined;
  /** Wakes the fetches waiting on the partition (it has new data). */
  readonly notifyData: (partition: Partition) => void;
}

export class ReplicaFetcher {
  /** Followed partitions, with the leader epoch etcd gives them. */
  private readonly partitions = new Map<Partition, number>();
  /** Partitions whose log could not follow the leader's (left out until their state changes). */
  private readonly stuck = new Set<Partition>();
  /** Partitions whose log must be compared with the leader's (leader epochs) before they are fetched. */
  private readonly unverified = new Set<Partition>();
  /** Partitions whose fetch offset the leader refused as out of range, reported once until a fetch succeeds. */
  private readonly outOfRange = new Set<Partition>();
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

  /** Fetches the partition in `leaderEpoch`; a new epoch (or the first) compares the logs' epochs first. */
  follow(partition: Partition, leaderEpoch: number): void {
    if (this.partitions.get(partition) !== leaderEpoch) {
      this.stuck.delete(partition);
      this.unverified.add(partition);
    }
    this.partitions.set(partition, leaderEpoch);
    this.wake?.();
  }

  unfollow(partition: Partition): void {
    this.partitions.delete(partition);
    this.stuck.delete(partition);
    this.unverified.delete(partition);
    this.outOfRange.delete(partition);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.connection?.close();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const followed = [...this.partitions].filter(([partition]) => partition.isOpen && !partition.deleted && !this.stuck.has(partition));
      if (followed.length === 0) {
        await this.pause(retryDelayMs);
        continue;
      }
      try {
        const unverified = followed.filter(([partition]) => this.unverified.has(partition));
        const verifiedSome = unverified.length > 0 && (await this.truncateDiverged(unverified));
        const fetched = followed.filter(([partition]) => !this.unverified.has(partition));
        if (fetched.length > 0) await this.fetchOnce(fetched);
        else if (!verifiedSome) await this.pause(retryDelayMs);
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
          partitions: list.map((entry) => ({
            partition: entry.partition.index,
            currentLeaderEpoch: entry.leaderEpoch,
            fetchOffset: BigInt(entry.fetchOffset),
            // Persisted here: the leader's low watermark, which DeleteRecords waits for.
            logStartOffset: BigInt(entry.partition.handle.logStartOffset),
            partitionMaxBytes,
          })),
        })),
        forgottenTopicsData: [],
        rackId: '',
      },
      { timeoutMs: requestTimeoutMs + fetchMaxWaitMs },
    );
    if (response.errorCode !== ErrorCode.none) throw new Error(`Fetch answered error ${response.errorCode}`);
    const durable: Promise<void>[] = [];
    const outOfRange: { partition: Partition; leaderEpoch: number; fetchOffset: Offset }[] = [];
    const leaderLogStarts: { partition: Partition; leaderEpoch: number; leaderLogStartOffset: Offset }[] = [];
    let retriableErrors = 0;
    for (const topic of response.responses) {
      const list = byTopic.get(topic.topic) ?? [];
      for (const answer of topic.partitions) {
        const entry = list.find((candidate) => candidate.partition.index === answer.partitionIndex);
        if (entry === undefined) continue;
        const partition = entry.partition;
        if (answer.errorCode === ErrorCode.offsetOutOfRange) {
          outOfRange.push(entry);
          continue;
        }
        if (answer.errorCode !== ErrorCode.none) {
          retriableErrors++;
          continue;
        }
        this.outOfRange.delete(partition);
        if (answer.highWatermark >= 0n) this.context.learnedHighWatermark(partition, asOffset(Number(answer.highWatermark)));
        if (partition.isOpen && answer.logStartOffset > BigInt(partition.handle.logStartOffset)) {
          leaderLogStarts.push({ partition, leaderEpoch: entry.leaderEpoch, leaderLogStartOffset: asOffset(Number(answer.logStartOffset)) });
        }
        if (answer.records !== null && answer.records.length > 0 && partition.isOpen && this.partitions.get(partition) === entry.leaderEpoch) {
          const appended = this.appendBatches(partition, answer.records, entry.fetchOffset);
          if (appended !== null) durable.push(appended);
        }
      }
    }
    await Promise.all(durable);
    for (const entry of leaderLogStarts) await this.followLogStart(entry.partition, entry.leaderEpoch, entry.leaderLogStartOffset);
    for (const entry of outOfRange) await this.recoverOutOfRange(connection, entry.partition, entry.leaderEpoch, entry.fetchOffset);
    if (outOfRange.length > 0) retriableErrors++;
    // Leadership is moving (NOT_LEADER_OR_FOLLOWER, a fenced epoch): wait a moment for etcd's news.
    if (retriableErrors > 0 && durable.length === 0) await this.pause(retryDelayMs);
  }

  /** Whether this fetcher still follows the open partition in `leaderEpoch` (an answer about another term is stale). */
  private stillFollows(partition: Partition, leaderEpoch: number): boolean {
    return this.partitions.get(partition) === leaderEpoch && partition.isOpen && !partition.ledHere;
  }

  /**
   * One round of comparing leader epochs (see the file comment) for partitions not verified in
   * their current epoch: one OffsetForLeaderEpoch for all of them, then each log is cut where it
   * leaves the leader's. Returns whether any partition moved on (verified, or cut and asking again).
   */
  private async truncateDiverged(list: readonly (readonly [Partition, number])[]): Promise<boolean> {
    let progress = false;
    const byTopic = new Map<string, { partition: Partition; leaderEpoch: number; epoch: number }[]>();
    for (const [partition, leaderEpoch] of list) {
      const epoch = partition.handle.latestLeaderEpoch;
      if (epoch === undefinedEpoch) {
        // No stored batch: nothing can diverge.
        this.unverified.delete(partition);
        progress = true;
        continue;
      }
      const entries = byTopic.get(partition.topic.name) ?? [];
      entries.push({ partition, leaderEpoch, epoch });
      byTopic.set(partition.topic.name, entries);
    }
    if (byTopic.size === 0) return progress;
    const connection = await this.connect();
    const response = await connection.request(
      apis.offsetForLeaderEpoch,
      {
        replicaId: this.context.nodeId,
        topics: [...byTopic].map(([topic, entries]) => ({
          topic,
          partitions: entries.map((entry) => ({ partition: entry.partition.index, currentLeaderEpoch: entry.leaderEpoch, leaderEpoch: entry.epoch })),
        })),
      },
      { timeoutMs: requestTimeoutMs },
    );
    for (const topic of response.topics) {
      for (const answer of topic.partitions) {
        const entry = byTopic.get(topic.topic)?.find((candidate) => candidate.partition.index === answer.partition);
        if (entry === undefined) continue;
        const { partition } = entry;
        // Unfollowed, a new epoch, or led here meanwhile: the next round (if any) asks afresh.
        if (!this.stillFollows(partition, entry.leaderEpoch)) continue;
        if (answer.errorCode !== ErrorCode.none) {
          this.context.logger.debug('OffsetForLeaderEpoch answered an error; asking again', { topic: topic.topic, partition: partition.index, leader: this.leaderId, errorCode: answer.errorCode });
          continue;
        }
        progress = true;
        try {
          const agreed = await this.truncateToLeader(partition, entry.epoch, answer.leaderEpoch, Number(answer.endOffset));
          // A new epoch meanwhile (follow()) asks again.
          if (agreed && this.partitions.get(partition) === entry.leaderEpoch) this.unverified.delete(partition);
        } catch (error) {
          this.stuck.add(partition);
          this.context.logger.error('replica log could not be truncated to the leader\'s; not fetching this partition', {
            topic: partition.topic.name,
            partition: partition.index,
            leader: this.leaderId,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    }
    return progress;
  }

  /**
   * The leader's answer for `askedEpoch`: cuts the log where it leaves the leader's. True when both
   * logs agree on the epoch answered (done); false when the leader answered an epoch this log does
   * not have, and the log was cut where its own smaller epoch ends (asked again with that one).
   */
  private async truncateToLeader(partition: Partition, askedEpoch: number, leaderEpoch: number, leaderEndOffset: number): Promise<boolean> {
    const handle = partition.handle;
    const logEndOffset = handle.logEndOffset;
    const { targetOffset: target, agreed } = truncationStep(
      { logEndOffset, endOffsetForEpoch: (epoch) => handle.endOffsetForEpoch(epoch) },
      { epoch: leaderEpoch, endOffset: leaderEndOffset },
      this.context.knownHighWatermark(partition),
    );
    if (target >= logEndOffset) return agreed;
    const newEnd = await handle.truncateTo(asOffset(target));
    this.context.logger.info('replica log truncated to where it leaves the leader\'s', {
      topic: partition.topic.name,
      partition: partition.index,
      leader: this.leaderId,
      askedEpoch,
      leaderEpoch,
      leaderEndOffset,
      previousLogEndOffset: logEndOffset,
      logEndOffset: newEnd,
    });
    return agreed;
  }

  /**
   * The leader refused the fetch offset as out of range. When its log starts past this whole log,
   * this log restarts empty at the leader's log start; otherwise the epochs are compared again
   * (the logs diverged). Reported once until a fetch succeeds.
   */
  private async recoverOutOfRange(connection: Connection, partition: Partition, leaderEpoch: number, fetchOffset: Offset): Promise<void> {
    if (!this.stillFollows(partition, leaderEpoch)) return;
    const response = await connection.request(
      apis.listOffsets,
      {
        replicaId: this.context.nodeId,
        isolationLevel: 0,
        topics: [{ name: partition.topic.name, partitions: [{ partitionIndex: partition.index, currentLeaderEpoch: leaderEpoch, timestamp: earliestTimestamp }] }],
        timeoutMs: requestTimeoutMs,
      },
      { timeoutMs: requestTimeoutMs },
    );
    const answer = response.topics[0]?.partitions[0];
    const leaderStartOffset = answer !== undefined && answer.errorCode === ErrorCode.none ? Number(answer.offset) : -1;
    const fields = { topic: partition.topic.name, partition: partition.index, leader: this.leaderId, fetchOffset, leaderLogStartOffset: leaderStartOffset };
    if (this.partitions.get(partition) !== leaderEpoch || partition.ledHere) return;
    if (leaderStartOffset > partition.handle.logEndOffset) {
      await partition.handle.restartAt(asOffset(leaderStartOffset));
      this.context.logger.warn('replica log lies wholly below the leader\'s log start; restarted empty there', fields);
      return;
    }
    if (!this.outOfRange.has(partition)) this.context.logger.warn('the leader refused the fetch offset as out of range; comparing leader epochs again', fields);
    this.outOfRange.add(partition);
    this.unverified.add(partition);
  }

  /**
   * The leader's log starts at `leaderLogStartOffset`: this log's start moves up to it, or to this
   * log's durable end if that is lower (the rest follows at a later fetch, once the batches are
   * here). A failure is logged and tried again at the next answer (the log start only grows).
   */
  private async followLogStart(partition: Partition, leaderEpoch: number, leaderLogStartOffset: Offset): Promise<void> {
    if (!this.stillFollows(partition, leaderEpoch)) return;
    const handle = partition.handle;
    const target = leaderLogStartOffset < handle.localHighWatermark ? leaderLogStartOffset : handle.localHighWatermark;
    if (target <= handle.logStartOffset) return;
    try {
      await handle.deleteRecordsBefore(target);
    } catch (error) {
      this.context.logger.warn('moving the replica log start to the leader\'s failed', {
        topic: partition.topic.name,
        partition: partition.index,
        leader: this.leaderId,
        leaderLogStartOffset,
        error: error instanceof Error ? error.message : String(error),
      });
    }
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
