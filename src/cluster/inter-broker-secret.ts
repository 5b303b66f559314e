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
import { settleWrittenOnce } from './cluster-id.js';
import type { ClusterStore } from './cluster-store.js';
import { decodeInterBrokerSecret, encodeInterBrokerSecret, interBrokerSecretKey } from './keys.js';

export function settleInterBrokerSecret(store: ClusterStore): Promise<string> {
  return settleWrittenOnce(store, interBrokerSecretKey, randomBytes(32).toString('hex'), encodeInterBrokerSecret, decodeInterBrokerSecret);
}
