/**
 * Which replication role this broker plays for each partition it holds, from the partition states
 * in etcd (replica-sync.ts calls partitionChanged after each change it applies):
 *
 * - leader of a partition with more than one replica: a LeaderReplicas (leader-replicas.ts) on the
 *   partition, tracking its followers, the high watermark and acks=all;
 * - follower (a replica, another broker leads): the partition is fetched by the ReplicaFetcher
 *   (replica-fetcher.ts) of that leader broker, one fetcher per leader;
 * - otherwise (single replica, offline, not hosted): nothing; a single replica behaves exactly as
 *   a single broker.
 */
import type { Partition } from '../broker/partition.js';
import type { Logger } from '../logging/logger.js';
import { asOffset, type Offset } from '../broker/offset.js';
import type { ClusterStore } from './cluster-store.js';
import { noLeader, type PartitionRecord } from './keys.js';
import { LeaderReplicas } from './leader-replicas.js';
import type { MetadataCache } from './metadata-cache.js';
import { ReplicaFetcher } from './replica-fetcher.js';

export interface ReplicationHost {
  notifyData(partition: Partition): void;
}

export class Replication {
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private readonly leading = new Map<Partition, LeaderReplicas>();
  /** Followed partitions and the broker each is fetched from. */
  private readonly following = new Map<Partition, number>();
  /** The high watermark each partition's leader last reported to this broker as a follower. */
  private readonly learnedHighWatermarks = new WeakMap<Partition, Offset>();
  private stopped = false;

  constructor(
    private readonly host: ReplicationHost,
    private readonly store: ClusterStore,
    private readonly cache: MetadataCache,
    private readonly nodeId: number,
    private readonly logger: Logger,
    /** replica.lag.time.max.ms: how long an in-sync follower may go without catching up. */
    private readonly replicaLagTimeMaxMs: number,
  ) {}

  /** The partition's state as etcd holds it now (undefined: its topic is gone or not this one). */
  partitionChanged(partition: Partition, state: PartitionRecord | undefined): void {
    if (this.stopped) return;
    this.applyLeaderRole(partition, state);
    this.applyFollowerRole(partition, state);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const tracker of this.leading.values()) tracker.close();
    this.leading.clear();
    await Promise.all([...this.fetchers.values()].map((fetcher) => fetcher.stop()));
    this.fetchers.clear();
  }

  private applyLeaderRole(partition: Partition, state: PartitionRecord | undefined): void {
    const existing = this.leading.get(partition);
    const leads = state !== undefined && state.leader === this.nodeId && partition.ledHere && state.replicas.length > 1;
    if (leads && existing !== undefined && existing.leaderEpoch === state.leaderEpoch) {
      existing.update(state);
      return;
    }
    if (existing !== undefined) {
      existing.close();
      this.leading.delete(partition);
      if (partition.replication === existing) partition.replication = null;
    }
    if (!leads) return;
    const tracker = new LeaderReplicas(partition, state, this.learnedHighWatermarks.get(partition) ?? asOffset(0), {
      nodeId: this.nodeId,
      store: this.store,
      cache: this.cache,
      logger: this.logger,
      notifyData: (led) => this.host.notifyData(led),
      replicaLagTimeMaxMs: this.replicaLagTimeMaxMs,
    });
    this.leading.set(partition, tracker);
    partition.replication = tracker;
  }

  private applyFollowerRole(partition: Partition, state: PartitionRecord | undefined): void {
    const follows = state !== undefined && state.leader !== noLeader && state.leader !== this.nodeId && state.replicas.includes(this.nodeId);
    const leaderId = follows ? state.leader : null;
    const current = this.following.get(partition);
    if (current !== undefined && current !== leaderId) {
      this.following.delete(partition);
      const fetcher = this.fetchers.get(current);
      fetcher?.unfollow(partition);
      if (fetcher !== undefined && fetcher.isEmpty) {
        this.fetchers.delete(current);
        void fetcher.stop();
      }
    }
    if (leaderId === null || state === undefined) return;
    if (current !== leaderId) this.logger.info('following partition', { topic: partition.topic.name, partition: partition.index, leader: leaderId, leaderEpoch: state.leaderEpoch });
    this.following.set(partition, leaderId);
    this.fetcherFor(leaderId).follow(partition, state.leaderEpoch);
  }

  private fetcherFor(leaderId: number): ReplicaFetcher {
    const existing = this.fetchers.get(leaderId);
    if (existing !== undefined) return existing;
    const fetcher = new ReplicaFetcher(leaderId, {
      nodeId: this.nodeId,
      logger: this.logger,
      leaderAddress: () => {
        const registration = this.cache.liveBrokers().find((broker) => broker.nodeId === leaderId);
        return registration === undefined ? undefined : { nodeId: registration.nodeId, host: registration.host, port: registration.kafkaPort, rack: registration.rack };
      },
      learnedHighWatermark: (partition, highWatermark) => this.learnedHighWatermarks.set(partition, highWatermark),
      notifyData: (partition) => this.host.notifyData(partition),
    });
    this.fetchers.set(leaderId, fetcher);
    return fetcher;
  }
}
