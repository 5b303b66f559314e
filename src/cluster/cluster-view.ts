/**
 * What the broker and its protocol handlers ask of the cluster (types only, so that importing them
 * loads nothing of etcd): the live brokers, the controller, each partition's leadership as etcd
 * holds it, and topic creation, deletion, added partitions and config changes through etcd. cluster-topics.ts implements it;
 * Broker.cluster holds it once the broker joined, null for a single broker.
 */
import type { PartitionRecord } from './keys.js';
import type { ElectionResult } from './partition-leadership.js';

export interface ClusterBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** Its AMQP listener's port (queue links, queue-links.ts); absent when the listener is off. */
  readonly amqpPort?: number;
  readonly rack: string | null;
}

/** A topic to create: partitionCount and replicationFactor, or an explicit assignment (one replica list per partition). */
export interface NewClusterTopic {
  readonly name: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly assignment: readonly (readonly number[])[] | null;
  readonly configs: ReadonlyMap<string, string>;
}

export interface ClusterOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface ClusterView {
  /** The id every broker of the cluster reports (/osprey/cluster-id in etcd). */
  readonly clusterId: string;
  /** Live brokers (registered in etcd), by node id ascending. */
  liveBrokers(): ClusterBroker[];
  /** The controller's node id, or -1 when there is none just now. */
  controllerId(): number;
  /** The partition's state in etcd, or undefined when not known (yet). */
  partitionState(topic: string, index: number): PartitionRecord | undefined;
  /** Replicas of the partition whose broker is not live. */
  offlineReplicas(state: PartitionRecord): number[];
  /**
   * Creates the topic in etcd (validateOnly: checks it could); answered once this broker holds it,
   * REQUEST_TIMED_OUT when etcd did not answer within about timeoutMs.
   */
  createTopic(topic: NewClusterTopic, validateOnly: boolean, timeoutMs: number): Promise<ClusterOutcome>;
  /** Deletes the topic (and its partitions' states) from etcd; answered once this broker dropped it. */
  deleteTopic(name: string): Promise<ClusterOutcome>;
  /**
   * Raises the topic's partition count in etcd (CreatePartitions): the new partitions placed as
   * CreateTopics places them, or on `assignment` (one replica list per new partition). Answered
   * once this broker holds them.
   */
  createPartitions(name: string, newTotal: number, assignment: readonly (readonly number[])[] | null, validateOnly: boolean): Promise<ClusterOutcome>;
  /**
   * Changes the topic's config overrides in etcd: `edit` gets them as etcd holds them and returns
   * the new ones (or why not). Answered once this broker applied them.
   */
  alterTopicConfigs(name: string, edit: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string> | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome>;
  /**
   * Changes a cluster-wide config resource's configs in etcd (`broker:`, the cluster-wide dynamic
   * broker defaults, or `group:<id>`): `edit` gets them as etcd holds them and returns the new ones
   * (or why not); none left deletes the key. Answered once this broker's copy of the metadata has
   * them (and so applied them); every broker follows through its watch.
   */
  alterConfigs(resource: string, edit: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string> | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome>;
  /** A cluster-wide config resource's configs as this broker's copy holds them (empty: none). */
  configs(resource: string): ReadonlyMap<string, string>;
  /** The cluster-wide config resources etcd holds configs for. */
  configResources(): string[];
  /**
   * AlterPartitionReassignments: starts (or replaces) a reassignment of the partition to target,
   * or cancels the one under way (target null), in etcd; the controller carries it out.
   */
  reassignPartition(topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ClusterOutcome>;
  /** Partitions with a reassignment under way, as this broker's copy of the metadata holds them. */
  reassignments(): { readonly topic: string; readonly index: number; readonly state: PartitionRecord }[];
  /** ElectLeaders, on the controller; null when this broker is not the controller. */
  electLeaders(partitions: readonly { topic: string; partition: number }[] | null, type: 'preferred' | 'unclean'): Promise<ElectionResult[] | null>;
  /**
   * The broker coordinating a consumer group (FindCoordinator): the leader of the group's partition
   * of `__consumer_offsets`, which is created first if it does not exist yet; an outcome with
   * COORDINATOR_NOT_AVAILABLE while there is none.
   */
  groupCoordinator(groupId: string): Promise<ClusterBroker | ClusterOutcome>;
}
