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
 * Writes and cleanups happen only in the term they were started in: each batch is stamped with the
 * term's leader epoch (as Produce stamps a leader's batches, so a follower's epoch comparison cuts
 * an old leader's unreplicated group writes like any others), and a shard of an ended term neither
 * appends nor drops records (a cleanup may still be under way when the term ends).
 */
import type { Partition } from '../broker/partition.js';
import type { GroupLogStorage } from '../groups/group-log.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import type { PartitionedGroupCoordinator } from '../groups/partitioned-coordinator.js';
import type { Logger } from '../logging/logger.js';
import type { PartitionRecord } from './keys.js';
import type { PartitionRoleListener } from './replica-sync.js';
import { appendInTerm, checkTerm, type Term } from './term-writes.js';

/** How often a led partition whose log is not open yet (it failed to open, retried) is looked at again. */
const notOpenRetryMs = 1000;

export interface ReplicatedGroupLogSettings {
  /** groups.offsetsCommitTimeoutMs: how long a write may wait for the in-sync replicas. */
  readonly commitTimeoutMs: number;
  /** groups.offsetsLogSegmentBytes: the segment size a cleanup is made for (below). */
  readonly segmentBytes: number;
}

export class GroupPartitions implements PartitionRoleListener {
  /** The term each offsets partition is led in here. */
  private readonly terms = new Map<number, Term>();
  private readonly retryTimers = new Map<number, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly coordinators: PartitionedGroupCoordinator,
    private readonly nodeId: number,
    private readonly settings: ReplicatedGroupLogSettings,
    private readonly logger: Logger,
  ) {}

  partitionChanged(partition: Partition, state: PartitionRecord | undefined): void {
    if (this.stopped || partition.topic.name !== offsetsTopicName) return;
    const index = partition.index;
    clearTimeout(this.retryTimers.get(index));
    this.retryTimers.delete(index);
    const named = state !== undefined && state.leader === this.nodeId;
    const leads = named && partition.ledHere;
    const current = this.terms.get(index);
    if (!leads) {
      if (current !== undefined && current.partition === partition) this.terms.delete(index);
      // Named leader in a state written before this broker registered: it leads once the
      // controller's new term arrives (replica-sync.ts); its groups wait for that here.
      if (named) this.coordinators.loading(index, partition.topic.partitions.length);
      else if (current === undefined || current.partition === partition) this.coordinators.resign(index);
      return;
    }
    if (current !== undefined && current.partition === partition && current.leaderEpoch === state.leaderEpoch) return;
    if (!partition.isOpen) {
      // Not servable yet: nothing is coordinated for it until its log opens (its groups are told to
      // retry here); a log that failed to open may never do so (NOT_COORDINATOR meanwhile).
      if (partition.state === 'failed') this.coordinators.resign(index);
      else this.coordinators.loading(index, partition.topic.partitions.length);
      this.terms.delete(index);
      const timer = setTimeout(() => this.partitionChanged(partition, state), notOpenRetryMs);
      timer.unref();
      this.retryTimers.set(index, timer);
      return;
    }
    this.terms.set(index, { partition, leaderEpoch: state.leaderEpoch });
    this.logger.debug('leading an offsets partition: reading its groups back', { partition: index, leaderEpoch: state.leaderEpoch });
    this.coordinators.lead(index, partition.topic.partitions.length, replicatedGroupLog({ partition, leaderEpoch: state.leaderEpoch }, this.settings));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
  }
}

/**
 * The group log of a shard: the offsets partition's own log on its leader, in one term. An append
 * is stamped with the term's leader epoch, made durable here per the flush policy, the followers'
 * waiting fetches are woken, and it counts as made once the high watermark passed it (every
 * in-sync replica holds it), or fails after `commitTimeoutMs` (the coordinator answers
 * COORDINATOR_NOT_AVAILABLE; the record may still be kept, as an acks=all write that timed out).
 *
 * Cleanup (group-log.ts) runs here, on the leader only: the snapshot is appended like any write and
 * is replicated before `deleteRecordsBefore` moves the log start, never past the high watermark;
 * followers move theirs up to it as they fetch (replica-fetcher.ts), as after DeleteRecords. It is
 * offered only when the topic's segments are no larger than the group log's own
 * (`segmentBytes`): dropping records frees only whole segments, so with larger ones (a topic made
 * before its creation set segment.bytes) a cleanup would free nothing and be due again at once.
 * Closing leaves the partition to the broker.
 */
export function replicatedGroupLog(term: Term, settings: ReplicatedGroupLogSettings): GroupLogStorage {
  const { partition } = term;
  const handle = partition.handle;
  const name = `${offsetsTopicName}-${partition.index}`;
  const storage: GroupLogStorage = {
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
    append: (batch) => appendInTerm(term, batch, settings.commitTimeoutMs, 'a group log write'),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  if (partition.topic.effective.segmentBytes <= settings.segmentBytes) {
    storage.deleteRecordsBefore = (offset) => {
      checkTerm(term, 'a group log cleanup');
      if (offset > handle.highWatermark) throw new Error(`${name}: a cleanup up to ${offset} would pass the high watermark ${handle.highWatermark}`);
      return handle.deleteRecordsBefore(offset);
    };
  }
  return storage;
}
