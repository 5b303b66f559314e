/**
 * One cluster id for every broker of a cluster (Metadata, DescribeCluster): `/osprey/cluster-id`
 * in etcd, written once and never changed.
 *
 * The first broker to join proposes the id it would report on its own (its --cluster-id, else the
 * one its data directory holds) and writes it only if the key is absent:
 *
 *   if   /osprey/cluster-id  modRevision == 0      (no cluster id yet)
 *   then put /osprey/cluster-id {"formatVersion":1,"clusterId": proposed}
 *
 * etcd serialises transactions, so of brokers joining at once exactly one writes it; every other
 * reads it. A broker configured with a --cluster-id other than the cluster's is refused at start,
 * as Kafka refuses a broker whose meta.properties names another cluster.
 */
import type { ClusterStore } from './cluster-store.js';
import { clusterIdKey, decodeClusterId, encodeClusterId } from './keys.js';

/** Why the cluster id cannot be settled: the operator must act (a wrong --cluster-id, a damaged key). */
export class ClusterIdError extends Error {
  override readonly name = 'ClusterIdError';
}

/**
 * The cluster's id: the one etcd holds, or `proposed` once written there by this broker.
 * `configured` is the broker's --cluster-id ('' when not set), which must match the cluster's.
 */
export async function settleClusterId(store: ClusterStore, proposed: string, configured: string): Promise<string> {
  const written = await store.transaction([{ key: clusterIdKey, modRevision: 0n }], [{ type: 'put', key: clusterIdKey, value: encodeClusterId(proposed) }]);
  if (written.succeeded) return proposed;
  // The key exists and is never deleted, so it can be read now.
  const entry = await store.get(clusterIdKey);
  if (entry === null) throw new ClusterIdError(`${clusterIdKey} was deleted from etcd while this broker joined; it is written once and must stay`);
  const clusterId = decodeClusterId(entry.value);
  if (clusterId instanceof Error) throw new ClusterIdError(`${clusterIdKey} in etcd cannot be read: ${clusterId.message}`);
  if (configured !== '' && configured !== clusterId) throw new ClusterIdError(`the cluster in etcd has cluster id ${clusterId}, but clusterId is configured as ${configured}`);
  return clusterId;
}
