/**
 * Joining the cluster named by etcdEndpoints, from the broker's start-up (server/start.ts loads this
 * module only when etcdEndpoints is set, so a single broker never loads the etcd client).
 */
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { ClusterMember } from './cluster-member.js';
import { EtcdClusterStore } from './etcd-cluster-store.js';
import { DuplicateNodeIdError } from './registration.js';

export interface ClusterMembership {
  /** Revokes the lease (registration and controllership end at once) and closes the etcd client. */
  leave(): Promise<void>;
}

/** How clients and peers reach this broker: advertised host and Kafka port, as settled at start-up. */
export interface AdvertisedListener {
  readonly host: string;
  readonly port: number;
}

/** Pause after a failed etcd request (election, re-registration) before trying again. */
const retryDelayMs = 500;

export async function joinCluster(config: BrokerConfig, advertised: AdvertisedListener, logger: Logger): Promise<ClusterMembership> {
  const endpoints = config.etcdEndpoints.split(',').map((endpoint) => endpoint.trim());
  const store = new EtcdClusterStore({ endpoints, requestTimeoutMs: config.etcdRequestTimeoutMs });
  const clusterLogger = logger.with({ component: 'cluster' });
  let member: ClusterMember;
  try {
    member = await ClusterMember.join(
      store,
      { nodeId: config.nodeId, host: advertised.host, kafkaPort: advertised.port, rack: config.rack === '' ? null : config.rack, leaseTtlSeconds: config.etcdLeaseTtlSeconds },
      { leaseTtlSeconds: config.etcdLeaseTtlSeconds, retryDelayMs },
      clusterLogger,
    );
  } catch (error) {
    store.close();
    if (error instanceof DuplicateNodeIdError) throw error;
    throw new Error(`cannot join the cluster through etcd at ${endpoints.join(',')} (--etcd-endpoints): ${reason(error)}`, { cause: error });
  }
  return {
    async leave() {
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
