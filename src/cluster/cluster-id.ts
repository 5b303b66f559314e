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
  let clusterId: string;
  try {
    clusterId = await settleWrittenOnce(store, clusterIdKey, proposed, encodeClusterId, decodeClusterId);
  } catch (error) {
    throw new ClusterIdError(error instanceof Error ? error.message : String(error));
  }
  if (configured !== '' && configured !== clusterId) throw new ClusterIdError(`the cluster in etcd has cluster id ${clusterId}, but clusterId is configured as ${configured}`);
  return clusterId;
}

/**
 * A key written once by the first broker to join and never changed (the cluster id, the
 * inter-broker secret): `proposed` if this broker wrote it (only if absent: modRevision 0), else
 * what the key holds. Throws when the key vanished or cannot be read.
 */
export async function settleWrittenOnce<T>(store: ClusterStore, key: string, proposed: T, encode: (value: T) => Buffer, decode: (value: Buffer) => T | Error): Promise<T> {
  const written = await store.transaction([{ key, modRevision: 0n }], [{ type: 'put', key, value: encode(proposed) }]);
  if (written.succeeded) return proposed;
  // The key exists and is never deleted, so it can be read now.
  const entry = await store.get(key);
  if (entry === null) throw new Error(`${key} was deleted from etcd while this broker joined; it is written once and must stay`);
  const value = decode(entry.value);
  if (value instanceof Error) throw new Error(`${key} in etcd cannot be read: ${value.message}`);
  return value;
}
