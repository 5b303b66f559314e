/**
 * The leader's side of replicating one partition (docs/cluster.md, "Replication"): what each
 * follower holds, the high watermark, acks=all, and adding a caught-up follower to the ISR.
 *
 * A follower's Fetch names its log end as fetchOffset; a follower appends only whole batches and
 * fetches again once they are durable under its flush policy, so every offset below its fetchOffset
 * is durable there. The high watermark is the smallest log end among the in-sync replicas (the
 * leader's own counts as what is durable here): PartitionHandle.replicatedEndOffset holds the
 * followers' part, and consumers are served nothing at or past it.
 *
 * A follower that has caught up with the leader's log end joins the ISR through an etcd
 * transaction conditioned on the partition key's revision as this broker last saw it (so a change
 * by the controller since then wins, and this broker tries again on its next fetch); the change
 * bumps partitionEpoch and keeps leaderEpoch. The ISR used here is always the one read from etcd:
 * a follower counts for the high watermark only once etcd says it is in sync.
 *
 * Only a registered follower joins (as Kafka refuses an ineligible replica, KIP-841): one whose
 * registration lapsed (cut off from etcd, but still fetching over the Kafka protocol) counts as gone
 * for the controller, which took it out of the ISR for that and acts again only on the next broker
 * change. Added back meanwhile, it would stay in the ISR while the controller counts it gone, and if
 * it then stopped too, acks=all would wait replicaLagTimeMaxMs for it. This broker's metadata cache
 * applies etcd's changes in order, and the registration's deletion comes before the controller's
 * state without the follower: by the time the tracker holds that state, the cache no longer counts
 * the follower live, so a fetch cannot undo the removal. It joins again once registered again.
 *
 * A follower of the ISR that has not caught up for replicaLagTimeMaxMs (Kafka's
 * replica.lag.time.max.ms, the broker setting of that name, 30 s by default) leaves it the same way, so a live but stalled follower
 * does not hold acks=all back for ever. "Caught up" as in Kafka: a fetch at the leader's log end, or
 * at the log end the leader had at that follower's previous fetch (counted from that fetch).
 *
 * Each follower's Fetch also names its log start offset (KIP-107). The **low watermark** is the
 * smallest log start among the in-sync replicas, the leader's own included; a follower of the ISR
 * that has not named one since this broker leads leaves it unknown. DeleteRecords moves the
 * leader's log start at once and waits for the low watermark to reach the offset asked for: every
 * in-sync replica has dropped the records (waitForLowWatermark).
 */
import type { Partition, PartitionReplication } from '../broker/partition.js';
import type { Logger } from '../logging/logger.js';
import { asOffset, type Offset } from '../broker/offset.js';
import type { ClusterStore } from './cluster-store.js';
import { encodePartition, partitionKey, type PartitionRecord } from './keys.js';
import type { MetadataCache } from './metadata-cache.js';

const noLimit = asOffset(Number.MAX_SAFE_INTEGER);
/** Kafka's default replica.lag.time.max.ms. */
export const defaultReplicaLagTimeMaxMs = 30_000;

export interface LeaderReplicasContext {
  readonly nodeId: number;
  readonly store: ClusterStore;
  readonly cache: MetadataCache;
  readonly logger: Logger;
  /** Wakes the fetches waiting on the partition (the high watermark moved). */
  readonly notifyData: (partition: Partition) => void;
  /** How long an ISR member may go without catching up before it is removed (replicaLagTimeMaxMs; default 30 s). */
  readonly replicaLagTimeMaxMs?: number;
  readonly nowMs?: () => number;
}

interface FollowerProgress {
  /** Its last fetchOffset: its log end. */
  fetchOffset: Offset;
  /** The log start offset its last fetch named (persisted there); null if it named none. */
  logStartOffset: Offset | null;
  /** The leader's log end and the time at that follower's last fetch. */
  leaderEndAtFetch: Offset;
  fetchedAtMs: number;
  /** The last time it was known to have caught up with the leader's log end. */
  caughtUpAtMs: number;
}

/** A request waiting on the followers: acks=all (the high watermark) or DeleteRecords (the low watermark). */
interface ReplicaWaiter {
  reached(): boolean;
  resolve(done: boolean): void;
}

export class LeaderReplicas implements PartitionReplication {
  /** Each follower's progress, as it fetched since this broker leads. */
  private readonly followers = new Map<number, FollowerProgress>();
  private readonly createdAtMs: number;
  private readonly lagTimer: NodeJS.Timeout;
  private shrinking = false;
  /** The largest limit set so far (null: none yet). */
  private highestLimit: Offset | null = null;
  private readonly waiters = new Set<ReplicaWaiter>();
  private state: PartitionRecord;
  private expanding = false;
  private closed = false;

  constructor(
    private readonly partition: Partition,
    state: PartitionRecord,
    /**
     * What an in-sync follower is assumed to hold before its first fetch: the high watermark this
     * broker last learned as a follower (every in-sync replica held that much), else 0.
     */
    private readonly assumedFollowerEnd: Offset,
    private readonly context: LeaderReplicasContext,
  ) {
    this.state = state;
    this.createdAtMs = this.now();
    const lagMs = context.replicaLagTimeMaxMs ?? defaultReplicaLagTimeMaxMs;
    this.lagTimer = setInterval(() => void this.removeLaggingFollowers(), Math.max(lagMs / 2, 100));
    this.lagTimer.unref();
    this.recompute();
  }

  private now(): number {
    return this.context.nowMs === undefined ? Date.now() : this.context.nowMs();
  }

  get leaderEpoch(): number {
    return this.state.leaderEpoch;
  }

  get replicaCount(): number {
    return this.state.replicas.length;
  }

  get inSyncReplicaCount(): number {
    return this.state.isr.length;
  }

  /** The partition's state changed in etcd (still led here, same leader epoch). */
  update(state: PartitionRecord): void {
    this.state = state;
    this.recompute();
  }

  /**
   * The smallest log start offset among the in-sync replicas, the leader's included; null while an
   * in-sync follower has not named its own since this broker leads (or the log is not open).
   */
  get lowWatermark(): Offset | null {
    if (!this.partition.isOpen) return null;
    let low = this.partition.handle.logStartOffset;
    for (const member of this.state.isr) {
      if (member === this.context.nodeId) continue;
      const start = this.followers.get(member)?.logStartOffset ?? null;
      if (start === null) return null;
      if (start < low) low = start;
    }
    return low;
  }

  followerFetched(replicaId: number, fetchOffset: Offset, logStartOffset: Offset | null): void {
    if (this.closed || !this.state.replicas.includes(replicaId) || replicaId === this.context.nodeId) return;
    const nowMs = this.now();
    const leaderEnd = this.partition.isOpen ? this.partition.handle.logEndOffset : fetchOffset;
    const previous = this.followers.get(replicaId);
    let caughtUpAtMs = previous?.caughtUpAtMs ?? this.createdAtMs;
    if (fetchOffset >= leaderEnd) caughtUpAtMs = nowMs;
    else if (previous !== undefined && fetchOffset >= previous.leaderEndAtFetch) caughtUpAtMs = Math.max(caughtUpAtMs, previous.fetchedAtMs);
    this.followers.set(replicaId, { fetchOffset, logStartOffset, leaderEndAtFetch: leaderEnd, fetchedAtMs: nowMs, caughtUpAtMs });
    this.recompute();
    if (!this.state.isr.includes(replicaId) && this.partition.isOpen && fetchOffset >= this.partition.handle.logEndOffset) void this.addToIsr(replicaId);
  }

  partitionOpened(): void {
    this.recompute();
  }

  waitForReplicas(endOffset: Offset, timeoutMs: number): Promise<boolean> {
    return this.waitUntil(() => this.partition.isOpen && this.partition.handle.highWatermark >= endOffset, timeoutMs);
  }

  waitForLowWatermark(offset: Offset, timeoutMs: number): Promise<Offset | null> {
    // The value that met the condition: a follower joining the ISR later may lower it again.
    let reachedAt: Offset | null = null;
    const reached = (): boolean => {
      const low = this.lowWatermark;
      if (low === null || low < offset) return false;
      reachedAt = low;
      return true;
    };
    return this.waitUntil(reached, timeoutMs).then((done) => (done ? reachedAt : null));
  }

  /** Resolves true once `reached` holds (checked whenever a follower fetches or the ISR changes), false after timeoutMs or when closed. */
  private waitUntil(reached: () => boolean, timeoutMs: number): Promise<boolean> {
    if (this.closed || reached()) return Promise.resolve(!this.closed);
    return new Promise((resolve) => {
      const waiter: ReplicaWaiter = {
        reached,
        resolve: (done) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(done);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  get ended(): boolean {
    return this.closed;
  }

  /** No longer led here: no limit on reads any more, and waiting producers are answered. */
  close(): void {
    this.closed = true;
    clearInterval(this.lagTimer);
    if (this.partition.isOpen) this.partition.handle.replicatedEndOffset = noLimit;
    for (const waiter of [...this.waiters]) waiter.resolve(false);
  }

  /** The followers' part of the high watermark, from the ISR as etcd holds it; wakes what it moved. */
  private recompute(): void {
    if (this.closed || !this.partition.isOpen) return;
    const handle = this.partition.handle;
    let limit = noLimit;
    for (const member of this.state.isr) {
      if (member === this.context.nodeId) continue;
      const end = this.followers.get(member)?.fetchOffset ?? this.assumedFollowerEnd;
      if (end < limit) limit = end;
    }
    // The high watermark never moves back under one leader: a follower fetching from an earlier
    // offset again (a retry, a restarted fetcher) does not take back what consumers may have read.
    if (limit !== noLimit && this.highestLimit !== null && limit < this.highestLimit) limit = this.highestLimit;
    if (limit !== noLimit) this.highestLimit = limit;
    const before = handle.highWatermark;
    handle.replicatedEndOffset = limit;
    if (handle.highWatermark !== before) this.context.notifyData(this.partition);
    for (const waiter of [...this.waiters]) if (waiter.reached()) waiter.resolve(true);
  }

  /** Removes from the ISR (in etcd) the followers that did not catch up within replicaLagTimeMaxMs. */
  async removeLaggingFollowers(): Promise<void> {
    if (this.closed || this.shrinking) return;
    const { store, cache, nodeId, logger } = this.context;
    const lagMs = this.context.replicaLagTimeMaxMs ?? defaultReplicaLagTimeMaxMs;
    const nowMs = this.now();
    const lagging = this.state.isr.filter((member) => member !== nodeId && nowMs - (this.followers.get(member)?.caughtUpAtMs ?? this.createdAtMs) > lagMs);
    if (lagging.length === 0) return;
    this.shrinking = true;
    const name = this.partition.topic.name;
    const index = this.partition.index;
    try {
      const cached = cache.partition(name, index);
      if (cached === undefined || cached.record.leader !== nodeId || cached.record.leaderEpoch !== this.state.leaderEpoch) return;
      const isr = cached.record.isr.filter((member) => !lagging.includes(member));
      if (isr.length === cached.record.isr.length) return;
      const next: PartitionRecord = { ...cached.record, isr, partitionEpoch: cached.record.partitionEpoch + 1 };
      const key = partitionKey(name, index);
      const written = await store.transaction([{ key, modRevision: cached.modRevision }], [{ type: 'put', key, value: encodePartition(next) }]);
      if (written.succeeded) logger.warn('replicas left the ISR: not caught up within replica.lag.time.max.ms', { topic: name, partition: index, replicas: lagging.join(','), isr: isr.join(','), lagMs });
    } catch (error) {
      logger.warn('cannot remove lagging replicas from the ISR', { topic: name, partition: index, error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.shrinking = false;
    }
  }

  private async addToIsr(replicaId: number): Promise<void> {
    // Not registered: gone for the controller, so not eligible (see the file header).
    if (this.expanding || !this.context.cache.isLive(replicaId)) return;
    this.expanding = true;
    const { store, cache, nodeId, logger } = this.context;
    const name = this.partition.topic.name;
    const index = this.partition.index;
    try {
      const cached = cache.partition(name, index);
      // Act only on the state this tracker was made for: still led here, in the same leader epoch.
      if (cached === undefined || cached.record.leader !== nodeId || cached.record.leaderEpoch !== this.state.leaderEpoch || cached.record.isr.includes(replicaId)) return;
      const next: PartitionRecord = { ...cached.record, isr: [...cached.record.isr, replicaId], partitionEpoch: cached.record.partitionEpoch + 1 };
      const key = partitionKey(name, index);
      const written = await store.transaction([{ key, modRevision: cached.modRevision }], [{ type: 'put', key, value: encodePartition(next) }]);
      if (written.succeeded) logger.info('replica joined the ISR', { topic: name, partition: index, replica: replicaId, isr: next.isr.join(','), leaderEpoch: next.leaderEpoch });
      else logger.debug('ISR change lost a race; tried again on the next fetch', { topic: name, partition: index, replica: replicaId });
    } catch (error) {
      logger.warn('cannot add a replica to the ISR', { topic: name, partition: index, replica: replicaId, error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.expanding = false;
    }
  }
}
