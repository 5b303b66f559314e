/**
 * One partition of a topic, as the broker holds it. It exists (Metadata lists it) from the moment
 * its topic is known, but its log is usable only once opened: at start-up logs are recovered in the
 * background while the listener already answers, so a request may find a partition still opening.
 *
 *   opening ──open()──► open ──close()──► closed
 *      └──────failed()──► failed (recovery threw; answered KAFKA_STORAGE_ERROR until restart)
 *
 * Handlers ask `unavailableError` first and answer that code (retriable) while the log is not open
 * or, in a cluster, while another broker leads the partition;
 * `handle` asserts the partition is open. The handle (partition-handle.ts) is the only way to the
 * partition's log: the rest of the broker never touches storage's PartitionLog.
 *
 * Fetches waiting for data register a one-shot callback (`onNextData`) and cancel it when they stop
 * waiting; `wakeDataWaiters` calls and forgets every callback registered so far. A partition whose
 * topic is deleted is marked `deleted` before its waiters are woken, so a fetch that was waiting on
 * it answers that the topic is unknown instead of reading a log that is going away.
 */
import { strict as assert } from 'node:assert';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { PartitionHandle } from './partition-handle.js';
import type { Topic } from './broker.js';
import type { Offset } from './offset.js';

export type PartitionState = 'opening' | 'open' | 'failed';

/** The leader's side of replicating one partition (implemented by cluster/leader-replicas.ts). */
export interface PartitionReplication {
  /** The leader epoch this broker leads the partition in (followers' fetches name theirs). */
  readonly leaderEpoch: number;
  /**
   * A follower fetched from `fetchOffset`, its log end: it holds (durably) every offset below it;
   * its log starts at `logStartOffset` (null: its fetch named none).
   */
  followerFetched(replicaId: number, fetchOffset: Offset, logStartOffset: Offset | null): void;
  /** Resolves true once every in-sync replica holds every offset below `endOffset` (acks=all), false after timeoutMs or once no longer led here. */
  waitForReplicas(endOffset: Offset, timeoutMs: number): Promise<boolean>;
  /** True once the partition is no longer led here in this epoch (leadership moved, the broker stopping). */
  readonly ended: boolean;
  /** The smallest log start offset among the in-sync replicas, the leader's included (null: not known yet). */
  readonly lowWatermark: Offset | null;
  /** Resolves with the low watermark once it reached `offset` (DeleteRecords), null after timeoutMs or once no longer led here. */
  waitForLowWatermark(offset: Offset, timeoutMs: number): Promise<Offset | null>;
  /** Replicas of the partition (min.insync.replicas is capped at it). */
  readonly replicaCount: number;
  /** Members of the ISR as etcd holds it now, the leader included (min.insync.replicas). */
  readonly inSyncReplicaCount: number;
  /** The partition's log just opened (start-up recovery): the high watermark's limit is set on it before anything is served. */
  partitionOpened(): void;
}

export class Partition {
  private readonly dataWaiters = new Set<() => void>();
  private opened: PartitionHandle | null = null;
  private openFailure: string | null = null;
  /** Its topic was deleted (the log is being deleted): requests answer that the topic is unknown. */
  deleted = false;
  /**
   * Whether this broker leads the partition. Always so for a single broker; in a cluster it is set
   * from the partition's state in etcd (cluster/replica-sync.ts), and a partition led elsewhere (or
   * by nobody) answers NOT_LEADER_OR_FOLLOWER, so clients refresh their metadata.
   */
  ledHere = true;
  /**
   * The leader epoch this broker leads the partition in: stamped on every batch it appends (the
   * header's partitionLeaderEpoch) and OffsetForLeaderEpoch's current epoch. Always 0 for a single
   * broker; in a cluster set from etcd with `ledHere` (cluster/replica-sync.ts).
   */
  leaderEpoch = 0;
  /**
   * Replication, on the leader of a partition with followers (cluster/leader-replicas.ts): tracks
   * what each follower holds and moves the high watermark. Null for a single broker, a single
   * replica, and a partition led elsewhere.
   */
  replication: PartitionReplication | null = null;

  constructor(
    readonly topic: Topic,
    readonly index: number,
  ) {}

  get state(): PartitionState {
    if (this.opened !== null) return 'open';
    return this.openFailure === null ? 'opening' : 'failed';
  }

  get isOpen(): boolean {
    return this.opened !== null;
  }

  /**
   * min.insync.replicas for acks=all (and the group coordinators' writes): the in-sync replicas the
   * partition lacks, 0 when it has enough. As in Kafka, the setting is capped at the partition's
   * replica count, so a partition with one replica (every partition of a single broker) always has enough.
   */
  get missingInSyncReplicas(): number {
    const replication = this.replication;
    if (replication === null) return 0;
    const required = Math.min(this.topic.effective.minInsyncReplicas, replication.replicaCount);
    return Math.max(required - replication.inSyncReplicaCount, 0);
  }

  /**
   * The error code to answer instead of serving this partition, or none when it is open.
   * A Kafka broker answers NOT_LEADER_OR_FOLLOWER for a partition it does not lead yet (as while
   * leadership moves): retriable, clients refresh metadata and retry. A log that failed to open is
   * Kafka's offline log directory: KAFKA_STORAGE_ERROR.
   */
  get unavailableError(): number {
    if (!this.ledHere) return ErrorCode.notLeaderOrFollower;
    if (this.opened !== null) return ErrorCode.none;
    return this.openFailure === null ? ErrorCode.notLeaderOrFollower : ErrorCode.kafkaStorageError;
  }

  /** The open partition's log and producer state, behind the narrow interface of partition-handle.ts. */
  get handle(): PartitionHandle {
    // The message is built only when it fails: this getter runs for every batch appended.
    if (this.opened === null) assert.fail(`partition ${this.topic.name}-${this.index} is not open`);
    return this.opened;
  }

  open(handle: PartitionHandle): void {
    assert(this.opened === null, 'a partition is opened once');
    this.opened = handle;
    this.openFailure = null;
    this.replication?.partitionOpened();
  }

  failed(reason: string): void {
    this.openFailure = reason;
  }

  /** Calls `callback` once, at the next wakeDataWaiters(); the function returned cancels it. */
  onNextData(callback: () => void): () => void {
    const waiter = () => callback();
    this.dataWaiters.add(waiter);
    return () => void this.dataWaiters.delete(waiter);
  }

  /** New data is readable (or the partition goes away, or shutdown begins): every waiter is called once. */
  wakeDataWaiters(): void {
    if (this.dataWaiters.size === 0) return;
    const waiters = [...this.dataWaiters];
    this.dataWaiters.clear();
    for (const waiter of waiters) waiter();
  }
}

/**
 * How an acks=all wait ended (awaitInSyncReplicas): every in-sync replica holds the records; or not
 * within the time allowed; or the term of leadership the wait belonged to ended; or they got there
 * but the ISR is now smaller than min.insync.replicas (a follower left it meanwhile).
 */
export type ReplicatedOutcome = 'replicated' | 'timed out' | 'leadership moved' | 'too few in sync';

/**
 * Waits until every in-sync replica holds the offsets below `endOffset` (acks=all), on the
 * replication role of the term the records were appended in (`replication`, taken at the append:
 * a new term has a new one). The Kafka produce path, the group coordinators' writes and the AMQP
 * side's topic appends each answer the outcome their own way.
 */
export async function awaitInSyncReplicas(partition: Partition, replication: PartitionReplication, endOffset: Offset, timeoutMs: number): Promise<ReplicatedOutcome> {
  if (!(await replication.waitForReplicas(endOffset, Math.max(timeoutMs, 0)))) return partition.replication === replication && !replication.ended ? 'timed out' : 'leadership moved';
  return partition.missingInSyncReplicas > 0 ? 'too few in sync' : 'replicated';
}
