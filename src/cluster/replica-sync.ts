/**
 * Keeps what this broker holds in line with the cluster metadata (metadata-cache.ts): every topic in
 * etcd is held here (so any broker can name it and answer NOT_LEADER_OR_FOLLOWER for it), with logs
 * for the partitions whose replicas include this broker; a topic deleted from etcd is deleted here;
 * and a partition is served (Produce, Fetch, ListOffsets…) only while etcd names this broker its
 * leader.
 *
 * Changes are applied per topic, one at a time and coalesced: a topic changed again while being
 * applied is applied once more afterwards, from the cache's state at that moment (the latest).
 *
 * A partition state written before this broker's current registration (registrationRevision) does
 * not make it leader, even when it names it: such a state speaks of the broker's previous life (it
 * restarted, perhaps on an empty disk, or lost its lease and registered again), and leading on its
 * strength would serve, in the same leader epoch, a log that may lack what that life acknowledged.
 * The controller answers every registration with newer states (partition-leadership.ts: another
 * leader, or this one in a new leader epoch); the broker leads once it sees those.
 *
 * A topic this broker holds but etcd does not know at start-up (data from before it joined, or a
 * topic deleted while it was away and recreated under no name) is left on disk and not served, with
 * a warning: deleting data on a guess is not ours to do.
 */
import type { Broker } from '../broker/broker.js';
import type { Logger } from '../logging/logger.js';
import type { MetadataCache } from './metadata-cache.js';
import type { Partition } from '../broker/partition.js';
import type { PartitionRecord } from './keys.js';

/** What replica-sync needs of the broker (Broker implements it). */
export type ReplicaHost = Pick<Broker, 'topic' | 'allTopics' | 'adoptClusterTopic' | 'dropClusterTopic' | 'dropClusterReplica'>;

/** Told of each partition's state once applied here (replication.ts); undefined when its topic went. */
export interface PartitionRoleListener {
  partitionChanged(partition: Partition, state: PartitionRecord | undefined): void;
}

export class ReplicaSync {
  /** The run applying each topic's changes now (absent when none is under way). */
  private readonly running = new Map<string, Promise<void>>();
  /** Topics changed again while their run was under way: applied once more at its end. */
  private readonly changedAgain = new Set<string>();
  /** The id each topic had when last seen in etcd, so a deletion drops that topic and no newer one. */
  private readonly knownIds = new Map<string, Buffer>();
  private stopped = false;

  constructor(
    private readonly host: ReplicaHost,
    private readonly cache: MetadataCache,
    private readonly nodeId: number,
    private readonly logger: Logger,
    private readonly roles: PartitionRoleListener | null = null,
    /** This broker's current registration revision (cluster-member.ts); 0n: any state may name it leader. */
    private readonly registrationRevision: () => bigint = () => 0n,
  ) {}

  /** The broker registered again: states older than the new registration no longer make it leader. */
  registeredAgain(): void {
    for (const name of this.cache.topicNames()) this.topicChanged(name);
  }

  /** Called once the cache has its first state: warns of held topics etcd does not know. */
  reportStrays(): void {
    for (const topic of this.host.allTopics()) {
      if (this.cache.topic(topic.name) !== undefined) continue;
      for (const partition of topic.partitions) partition.ledHere = false;
      this.logger.warn('topic held here is not in the cluster metadata; left on disk and not served', { topic: topic.name });
    }
  }

  topicChanged(name: string): void {
    if (this.stopped) return;
    if (this.running.has(name)) {
      this.changedAgain.add(name);
      return;
    }
    const run = this.applyWhileChanged(name);
    this.running.set(name, run);
  }

  /** Resolves once every change of the topic seen so far is applied here. */
  async settled(name: string): Promise<void> {
    await this.running.get(name);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running.values());
  }

  private async applyWhileChanged(name: string): Promise<void> {
    try {
      do {
        this.changedAgain.delete(name);
        try {
          await this.apply(name);
        } catch (error) {
          this.logger.error('cannot apply a cluster change of a topic here', { topic: name, error: error instanceof Error ? error.message : String(error) });
        }
      } while (this.changedAgain.has(name) && !this.stopped);
    } finally {
      this.running.delete(name);
    }
  }

  private async apply(name: string): Promise<void> {
    const cached = this.cache.topic(name);
    if (cached === undefined) {
      const knownId = this.knownIds.get(name);
      this.knownIds.delete(name);
      for (const partition of this.host.topic(name)?.partitions ?? []) {
        partition.ledHere = false;
        this.roles?.partitionChanged(partition, undefined);
      }
      if (knownId !== undefined) await this.host.dropClusterTopic(name, knownId);
      return;
    }
    const { topicId, partitionCount, configs, replicaAssignment } = cached.record;
    this.knownIds.set(name, topicId);
    // The partition's state holds its replicas now (a reassignment changes them); the topic's
    // assignment is what they were at creation.
    const hosted = new Set<number>();
    replicaAssignment.forEach((created, index) => {
      const replicas = this.cache.partition(name, index)?.record.replicas ?? created;
      if (replicas.includes(this.nodeId)) hosted.add(index);
    });
    await this.host.adoptClusterTopic(name, topicId, partitionCount, configs, hosted);
    this.applyLeadership(name);
    await this.dropUnhostedReplicas(name, hosted);
  }

  /**
   * Deletes the local copy of the partitions this broker held and is no longer a replica of (a
   * reassignment moved them away: the controller narrowed replicas only once every target replica
   * was in sync, so nothing acknowledged is lost with this copy). Only on etcd's word: a partition
   * state not known yet deletes nothing.
   */
  private async dropUnhostedReplicas(name: string, hosted: ReadonlySet<number>): Promise<void> {
    const topic = this.host.topic(name);
    if (topic === undefined) return;
    for (const partition of topic.partitions) {
      if (hosted.has(partition.index) || partition.state === 'opening' || this.cache.partition(name, partition.index) === undefined) continue;
      this.logger.info('no longer a replica of partition; deleting its copy here', { topic: name, partition: partition.index });
      await this.host.dropClusterReplica(name, topic.id, partition.index);
    }
  }

  /** Leads here exactly the partitions etcd says this broker leads, as the cache holds them now. */
  private applyLeadership(name: string): void {
    const topic = this.host.topic(name);
    const cached = this.cache.topic(name);
    if (topic === undefined) return;
    const sameTopic = cached !== undefined && cached.record.topicId.equals(topic.id);
    const registrationRevision = this.registrationRevision();
    const awaitingNewTerm: number[] = [];
    for (const partition of topic.partitions) {
      const entry = sameTopic ? this.cache.partition(name, partition.index) : undefined;
      const record = entry?.record;
      const named = record?.leader === this.nodeId;
      const leads = named && entry!.modRevision > registrationRevision;
      if (named && !leads) awaitingNewTerm.push(partition.index);
      if (partition.ledHere !== leads) this.logger.info(leads ? 'leading partition' : 'no longer leading partition', { topic: name, partition: partition.index, leaderEpoch: record?.leaderEpoch ?? -1 });
      partition.ledHere = leads;
      if (leads) partition.leaderEpoch = record.leaderEpoch;
      this.roles?.partitionChanged(partition, record);
    }
    if (awaitingNewTerm.length > 0) {
      this.logger.info('etcd names this broker leader in states written before it registered; not leading them until the controller writes newer ones', { topic: name, partitions: awaitingNewTerm.join(','), registrationRevision: String(registrationRevision) });
    }
  }
}
