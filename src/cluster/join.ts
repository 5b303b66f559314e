/**
 * Joining the cluster named by etcdEndpoints, from the broker's start-up (server/start.ts loads this
 * module only when etcdEndpoints is set, so a single broker never loads the etcd client): settle the
 * cluster id (cluster-id.ts), register (and campaign), then read and follow the cluster metadata, hold the topics it names and hand the
 * broker its view of the cluster (Broker.cluster) for the handlers.
 */
import { QueuePartitions, replicatedQueueCommitTimeoutMs } from './queue-partitions.js';
import type { Broker } from '../broker/broker.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import type { Partition } from '../broker/partition.js';
import { ClusterIdError, settleClusterId } from './cluster-id.js';
import { ClusterMember } from './cluster-member.js';
import { ClusterTopics } from './cluster-topics.js';
import { EtcdClusterStore } from './etcd-cluster-store.js';
import { GroupPartitions } from './group-partitions.js';
import { settleInterBrokerSecret } from './inter-broker-secret.js';
import type { PartitionRecord } from './keys.js';
import { MetadataCache } from './metadata-cache.js';
import { EtcdProducerIdBlocks } from './producer-id-blocks.js';
import { ReplicaSync } from './replica-sync.js';
import { Replication } from './replication.js';
import { DuplicateNodeIdError } from './registration.js';

export interface ClusterMembership {
  /** The password brokers give each other's AMQP listeners (inter-broker-secret.ts). */
  readonly interBrokerSecret: string;
  /** Revokes the lease (registration and controllership end at once) and closes the etcd client. */
  leave(): Promise<void>;
}

/** How clients and peers reach this broker: advertised host and Kafka port, as settled at start-up, and the AMQP listener's port when it has one. */
export interface AdvertisedListener {
  readonly host: string;
  readonly port: number;
  readonly amqpPort: number | null;
}

/** Pause after a failed etcd request (election, re-registration) before trying again. */
const retryDelayMs = 500;

export async function joinCluster(config: BrokerConfig, advertised: AdvertisedListener, broker: Broker, logger: Logger): Promise<ClusterMembership> {
  const endpoints = config.etcdEndpoints.split(',').map((endpoint) => endpoint.trim());
  const store = new EtcdClusterStore({ endpoints, requestTimeoutMs: config.etcdRequestTimeoutMs });
  const clusterLogger = logger.with({ component: 'cluster' });
  let member: ClusterMember;
  let clusterId: string;
  let interBrokerSecret: string;
  try {
    clusterId = await settleClusterId(store, broker.clusterId, config.clusterId);
    interBrokerSecret = await settleInterBrokerSecret(store);
    const amqpPort = advertised.amqpPort === null ? {} : { amqpPort: advertised.amqpPort };
    member = await ClusterMember.join(
      store,
      { nodeId: config.nodeId, host: advertised.host, kafkaPort: advertised.port, ...amqpPort, rack: config.rack === '' ? null : config.rack, leaseTtlSeconds: config.etcdLeaseTtlSeconds },
      { leaseTtlSeconds: config.etcdLeaseTtlSeconds, retryDelayMs },
      clusterLogger,
    );
  } catch (error) {
    store.close();
    if (error instanceof DuplicateNodeIdError || error instanceof ClusterIdError) throw error;
    throw new Error(`cannot join the cluster through etcd at ${endpoints.join(',')} (--etcd-endpoints): ${reason(error)}`, { cause: error });
  }
  // The sync is made once the cache exists; the cache reports changes only from start() on.
  let replicas: ReplicaSync | null = null;
  const cache: MetadataCache = new MetadataCache(
    store,
    {
      topicChanged: (name) => replicas?.topicChanged(name),
      configsChanged: (resource) => broker.clusterConfigsChanged(resource, cache.configs(resource)),
    },
    clusterLogger,
  );
  const replication = new Replication(broker, store, cache, config.nodeId, clusterLogger.with({ component: 'replication' }), config.replicaLagTimeMaxMs);
  const groupPartitions = broker.groupPartitions === null ? null : new GroupPartitions(broker.groupPartitions, config.nodeId, { commitTimeoutMs: config.groups.offsetsCommitTimeoutMs, segmentBytes: config.groups.offsetsLogSegmentBytes }, clusterLogger.with({ component: 'groups' }));
  const queuePartitions = broker.queueTerms === null ? null : new QueuePartitions(broker.queueTerms, config.nodeId, { commitTimeoutMs: replicatedQueueCommitTimeoutMs }, clusterLogger.with({ component: 'queues' }));
  // Replication first: a group coordinator's and a queue's writes wait on the replication role of their partition.
  const roles = {
    partitionChanged(partition: Partition, state: PartitionRecord | undefined) {
      replication.partitionChanged(partition, state);
      groupPartitions?.partitionChanged(partition, state);
      queuePartitions?.partitionChanged(partition, state);
    },
  };
  replicas = new ReplicaSync(broker, cache, config.nodeId, clusterLogger, roles, () => member.registrationRevision);
  const sync = replicas;
  member.onRegisteredAgain(() => sync.registeredAgain());
  try {
    await cache.start();
  } catch (error) {
    await member.leave();
    store.close();
    throw new Error(`cannot read the cluster metadata through etcd at ${endpoints.join(',')} (--etcd-endpoints): ${reason(error)}`, { cause: error });
  }
  replicas.reportStrays();
  broker.adoptClusterConfigs((resource) => cache.configs(resource), cache.configResources());
  broker.producerIds.useBlockSource(new EtcdProducerIdBlocks(store));
  broker.cluster = new ClusterTopics(clusterId, store, cache, replicas, config.groups.offsetsLogSegmentBytes, () => {
    const election = member.electionState;
    return election.role === 'controller' ? election.leadership : null;
  });
  clusterLogger.info('cluster id settled', { clusterId });
  return {
    interBrokerSecret,
    async leave() {
      await cache.stop();
      await sync.stop();
      groupPartitions?.stop();
      queuePartitions?.stop();
      await replication.stop();
      await member.leave();
      store.close();
    },
  };
}

/** The first line of the error, without gRPC's trailing "Resolution note:" (empty for plain addresses). */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/\s*Resolution note:\s*$/, '');
}
