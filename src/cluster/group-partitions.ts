/**
 * Which `__consumer_offsets` partitions this broker coordinates the groups of: exactly those etcd
 * says it leads (docs/cluster.md, "Consumer groups"). replica-sync.ts reports each partition's
 * state once applied here, after replication.ts set up the partition's replication role; this
 * module tells the broker's PartitionedGroupCoordinator to lead (read the partition back into its
 * groups) or resign (drop them).
 *
 * A term of leadership is one leader epoch of one partition object: a new epoch, or the topic
 * deleted and created again, resigns the old shard and leads again, so a broker that was leader,
 * missed another broker's term (the cache hands over only the latest state) and leads again reads
 * back what that term wrote.
 *
 * The log a shard writes is the partition's (replicatedGroupLog below): a write counts as made
 * once every in-sync replica holds it, as acks=all, and min.insync.replicas holds as for acks=all.
 */
import type { Partition } from '../broker/partition.js';
import type { GroupLogStorage } from '../groups/group-log.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import type { PartitionedGroupCoordinator } from '../groups/partitioned-coordinator.js';
import type { Logger } from '../logging/logger.js';
import { asOffset } from '../storage/offset.js';
import type { PartitionRecord } from './keys.js';
import type { PartitionRoleListener } from './replica-sync.js';

/** How often a led partition whose log is not open yet (it failed to open, retried) is looked at again. */
const notOpenRetryMs = 1000;

interface Term {
  readonly partition: Partition;
  readonly leaderEpoch: number;
}

export class GroupPartitions implements PartitionRoleListener {
  /** The term each offsets partition is led in here. */
  private readonly terms = new Map<number, Term>();
  private readonly retryTimers = new Map<number, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly coordinators: PartitionedGroupCoordinator,
    private readonly nodeId: number,
    private readonly commitTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  partitionChanged(partition: Partition, state: PartitionRecord | undefined): void {
    if (this.stopped || partition.topic.name !== offsetsTopicName) return;
    const index = partition.index;
    clearTimeout(this.retryTimers.get(index));
    this.retryTimers.delete(index);
    const leads = state !== undefined && state.leader === this.nodeId && partition.ledHere;
    const current = this.terms.get(index);
    if (!leads) {
      if (current !== undefined && current.partition === partition) {
        this.terms.delete(index);
        this.coordinators.resign(index);
      }
      return;
    }
    if (current !== undefined && current.partition === partition && current.leaderEpoch === state.leaderEpoch) return;
    if (!partition.isOpen) {
      // Not servable yet: nothing is coordinated for it until its log opens.
      if (current !== undefined) this.coordinators.resign(index);
      this.terms.delete(index);
      const timer = setTimeout(() => this.partitionChanged(partition, state), notOpenRetryMs);
      timer.unref();
      this.retryTimers.set(index, timer);
      return;
    }
    this.terms.set(index, { partition, leaderEpoch: state.leaderEpoch });
    this.logger.debug('leading an offsets partition: reading its groups back', { partition: index, leaderEpoch: state.leaderEpoch });
    this.coordinators.lead(index, partition.topic.partitions.length, replicatedGroupLog(partition, this.commitTimeoutMs));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
  }
}

/**
 * The group log of a shard: the offsets partition's own log on its leader. An append is made
 * durable here per the flush policy, the followers' waiting fetches are woken, and it counts as
 * made once the high watermark passed it (every in-sync replica holds it), or fails after
 * `commitTimeoutMs` (the coordinator answers COORDINATOR_NOT_AVAILABLE; the record may still be
 * kept, as an acks=all write that timed out). Never cleaned up (no deleteRecordsBefore: dropping
 * records does not reach the followers yet); closing leaves the partition to the broker.
 */
export function replicatedGroupLog(partition: Partition, commitTimeoutMs: number): GroupLogStorage {
  const handle = partition.handle;
  return {
    get sizeBytes() {
      return handle.sizeBytes;
    },
    get logStartOffset() {
      return handle.logStartOffset;
    },
    get logEndOffset() {
      return handle.logEndOffset;
    },
    read: (offset, maxBytes, maxOffset) => handle.read(offset, maxBytes, undefined, maxOffset),
    append(batch) {
      // min.insync.replicas, as for acks=all: refused before appending, or failed if the ISR shrank meanwhile.
      if (partition.missingInSyncReplicas > 0) throw new Error(`${offsetsTopicName}-${partition.index} has fewer in-sync replicas than min.insync.replicas`);
      const appended = handle.append(batch);
      // The replication role of the term the write was made in: a new term has a new one.
      const replication = partition.replication;
      const durable = appended.durable.then(async () => {
        partition.wakeDataWaiters();
        if (replication === null) return;
        const replicated = await replication.waitForReplicas(asOffset(appended.lastOffset + 1), commitTimeoutMs);
        if (!replicated) throw new Error(`not every in-sync replica of ${offsetsTopicName}-${partition.index} held the write within ${commitTimeoutMs} ms`);
        if (partition.missingInSyncReplicas > 0) throw new Error(`the ISR of ${offsetsTopicName}-${partition.index} shrank below min.insync.replicas while the write waited`);
      });
      return { baseOffset: appended.baseOffset, durable };
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
