/**
 * A broker's registration: `/osprey/brokers/<nodeId>` created under its lease, only if absent
 * (docs/cluster.md). A key already there belongs either to an earlier run of this broker that died
 * without revoking its lease (kill -9, power loss), which etcd deletes within that lease's TTL, or to
 * another live broker given the same node id, which keeps renewing. So a broker that finds its key
 * taken waits for as long as the holder's lease can outlive its holder, and only then refuses.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, Lease } from './cluster-store.js';
import { brokerKey, decodeRegistration, encodeRegistration } from './keys.js';
import type { BrokerRegistration } from './keys.js';

/** Another broker holds this node id. */
export class DuplicateNodeIdError extends Error {
  override readonly name = 'DuplicateNodeIdError';
}

/** Beyond the holder's TTL: etcd checks for expired leases twice a second, and requests take time. */
const lapseMarginMs = 2000;
const holderPollIntervalMs = 200;

/**
 * Creates the registration under lease; resolves with its revision (the key's modRevision).
 * Throws DuplicateNodeIdError when the key stays held beyond its holder's lease TTL.
 */
export async function register(store: ClusterStore, lease: Lease, registration: BrokerRegistration, logger: Logger): Promise<bigint> {
  const key = brokerKey(registration.nodeId);
  let deadlineMs: number | null = null;
  for (;;) {
    const created = await store.transaction([{ key, modRevision: 0n }], [{ type: 'put', key, value: encodeRegistration(registration), lease }]);
    if (created.succeeded) return created.revision;
    const holder = await store.get(key);
    if (holder === null) continue; // deleted between the two requests
    const held = decodeRegistration(holder.value);
    const holderText = held instanceof Error ? `an unreadable registration (${held.message})` : `${held.host}:${held.kafkaPort}`;
    if (deadlineMs === null) {
      const holderTtlSeconds = held instanceof Error ? registration.leaseTtlSeconds : held.leaseTtlSeconds;
      deadlineMs = performance.now() + holderTtlSeconds * 1000 + lapseMarginMs;
      logger.warn('node id already registered; waiting for that lease to lapse (an earlier run of this broker?)', { nodeId: registration.nodeId, holder: holderText, waitMs: Math.round(deadlineMs - performance.now()) });
    }
    while ((await store.get(key)) !== null) {
      if (performance.now() > deadlineMs) {
        throw new DuplicateNodeIdError(
          `node id ${registration.nodeId} is already registered in etcd by ${holderText}, whose lease is still renewed: ` +
            `another broker runs with --node-id ${registration.nodeId}; give each broker a node id of its own`,
        );
      }
      await sleep(holderPollIntervalMs);
    }
  }
}
