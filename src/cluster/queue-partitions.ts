/**
 * Durable AMQP queues in a cluster: each one is kept in an internal topic of one partition,
 * `__amqp_queue-<storageId>`, replicated like any partition (replication.ts), and served by the
 * broker that leads that partition. The queue's messages and its state batches (which messages are
 * settled, how far delivery went: queues/queue-store/log-state.ts) are both in that log, so a
 * follower holds the whole queue and a new leader recovers it from its own copy.
 *
 *   etcd: partition __amqp_queue-k3x…-9f2c/0  leader 2, epoch 7, ISR [2, 1, 3]
 *
 *   broker 2 (leader)   QueuePartitions.partitionChanged → leads: the queue's store is opened over
 *                       the partition's log (replicatedQueueLog, this term) and serves consumers
 *   brokers 1, 3        followers: fetch the log like any other partition; their copy of the queue
 *                       has no store and refuses publishes (nack) until one of them leads
 *
 * A term is one leader epoch of one partition object, as for the group coordinators
 * (group-partitions.ts): a new epoch closes the old term's store and opens a new one over the same
 * log, so what another broker's term wrote is read back.
 */
import type { Partition } from '../broker/partition.js';
import type { Logger } from '../logging/logger.js';
import type { QueueLog } from '../queues/queue-store/queue-log.js';
import { asOffset } from '../storage/offset.js';
import type { PartitionRecord } from './keys.js';
import type { PartitionRoleListener } from './replica-sync.js';
import { appendInTerm, checkTerm, inTerm, type Term } from './term-writes.js';

export const queueTopicPrefix = '__amqp_queue-';

/** How long a queue write (a publish with confirms) waits for every in-sync replica before it is nacked. */
export const replicatedQueueCommitTimeoutMs = 30_000;

/** The internal topic of the durable queue whose store is `storageId` (queues/queue-broker.ts names them). */
export function queueTopicName(storageId: string): string {
  return `${queueTopicPrefix}${storageId}`;
}

/** The queue storage id of an internal queue topic; null for any other topic. */
export function storageIdOfQueueTopic(topicName: string): string | null {
  return topicName.startsWith(queueTopicPrefix) ? topicName.slice(queueTopicPrefix.length) : null;
}

/** What QueuePartitions tells the AMQP side (queues/queue-store/led-queue-store.ts). */
export interface QueueTerms {
  /** This broker leads the queue's partition from now on: its store is to be opened over `log`. */
  lead(storageId: string, log: QueueLog, term: string): void;
  /** It no longer does (another leader, the topic gone, shutdown): the store of the old term closes. */
  resign(storageId: string): void;
}

export interface ReplicatedQueueLogSettings {
  /** How long a write may wait for every in-sync replica before it fails (the publish is nacked). */
  readonly commitTimeoutMs: number;
}

/** How often a led partition whose log is not open yet is looked at again. */
const notOpenRetryMs = 1000;

export class QueuePartitions implements PartitionRoleListener {
  private readonly terms = new Map<string, Term>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly queues: QueueTerms,
    private readonly nodeId: number,
    private readonly settings: ReplicatedQueueLogSettings,
    private readonly logger: Logger,
  ) {}

  partitionChanged(partition: Partition, state: PartitionRecord | undefined): void {
    const storageId = storageIdOfQueueTopic(partition.topic.name);
    if (this.stopped || storageId === null || partition.index !== 0) return;
    clearTimeout(this.retryTimers.get(storageId));
    this.retryTimers.delete(storageId);
    const current = this.terms.get(storageId);
    const leads = state !== undefined && state.leader === this.nodeId && partition.ledHere;
    if (!leads) {
      if (current !== undefined && current.partition === partition) {
        this.terms.delete(storageId);
        this.queues.resign(storageId);
      } else if (state === undefined && current === undefined) this.queues.resign(storageId);
      return;
    }
    if (current !== undefined && current.partition === partition && current.leaderEpoch === state.leaderEpoch) return;
    if (!partition.isOpen) {
      if (current !== undefined) {
        this.terms.delete(storageId);
        this.queues.resign(storageId);
      }
      const timer = setTimeout(() => this.partitionChanged(partition, state), notOpenRetryMs);
      timer.unref();
      this.retryTimers.set(storageId, timer);
      return;
    }
    if (current !== undefined) this.queues.resign(storageId);
    const term = { partition, leaderEpoch: state.leaderEpoch };
    this.terms.set(storageId, term);
    this.logger.debug('leading a queue partition: opening the queue over it', { storageId, leaderEpoch: state.leaderEpoch });
    this.queues.lead(storageId, replicatedQueueLog(term, this.settings), `leader epoch ${state.leaderEpoch}`);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
  }
}

/**
 * The log of a queue's store in one term: the partition's own log on its leader. An append is
 * stamped with the term's leader epoch (outside the CRC, as the produce path stamps batches), so a
 * follower's epoch comparison cuts what an old leader appended and never replicated; it counts as
 * made (the publisher's confirm) once every in-sync replica holds it, and fails when the ISR is
 * below min.insync.replicas, when leadership moved, or after `commitTimeoutMs`. Dropping settled
 * segments never passes the high watermark; followers move their log start as they fetch, as after
 * DeleteRecords. Nothing is written once the term is over.
 */
export function replicatedQueueLog(term: Term, settings: ReplicatedQueueLogSettings): QueueLog {
  const handle = term.partition.handle;
  return {
    get logStartOffset() {
      return handle.logStartOffset;
    },
    get logEndOffset() {
      return handle.logEndOffset;
    },
    get highWatermark() {
      return handle.highWatermark;
    },
    get segmentCount() {
      return handle.segmentCount;
    },
    get sizeBytes() {
      return handle.sizeBytes;
    },
    // Not once the term's replication ended either (the broker stopping): what is appended then cannot reach the followers.
    get writable() {
      return inTerm(term) && term.partition.replication?.ended !== true;
    },
    append(batch) {
      const appended = appendInTerm(term, batch, settings.commitTimeoutMs, 'a queue write');
      appended.durable.catch(() => undefined); // a state batch's failure is the store's to log, not an unhandled rejection
      return appended;
    },
    read: (offset, maxBytes, maxOffset) => handle.read(offset, maxBytes, undefined, maxOffset),
    deleteRecordsBefore(offset) {
      checkTerm(term, 'a queue cleanup');
      return handle.deleteRecordsBefore(asOffset(Math.min(offset, handle.highWatermark)));
    },
    onTruncated: (listener) => handle.onTruncated(listener),
    flush: () => handle.flush(),
    invariants: () => handle.invariants(),
  };
}
