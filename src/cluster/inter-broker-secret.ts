/**
 * The password brokers of one cluster give each other's AMQP listeners when they link to the
 * queues another broker serves (queue-links.ts): `/osprey/inter-broker-secret` in etcd, 32 random
 * bytes written once by the first broker to join, as the cluster id is (cluster-id.ts):
 *
 *   if   /osprey/inter-broker-secret  modRevision == 0
 *   then put /osprey/inter-broker-secret {"formatVersion":1,"secret": proposed}
 *
 * Whoever can read etcd can read it; etcd is the cluster's trust root, as it is for every other
 * decision the brokers take from it. Clients never see it.
 */
import { randomBytes } from 'node:crypto';
import type { ClusterStore } from './cluster-store.js';
import { decodeInterBrokerSecret, encodeInterBrokerSecret, interBrokerSecretKey } from './keys.js';

export async function settleInterBrokerSecret(store: ClusterStore): Promise<string> {
  const proposed = randomBytes(32).toString('hex');
  const written = await store.transaction([{ key: interBrokerSecretKey, modRevision: 0n }], [{ type: 'put', key: interBrokerSecretKey, value: encodeInterBrokerSecret(proposed) }]);
  if (written.succeeded) return proposed;
  const entry = await store.get(interBrokerSecretKey);
  if (entry === null) throw new Error(`${interBrokerSecretKey} was deleted from etcd while this broker joined; it is written once and must stay`);
  const secret = decodeInterBrokerSecret(entry.value);
  if (secret instanceof Error) throw new Error(`${interBrokerSecretKey} in etcd cannot be read: ${secret.message}`);
  return secret;
}
