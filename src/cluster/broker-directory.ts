/**
 * The live brokers as the controller sees them: every key under /osprey/brokers/, read once and then
 * followed by a watch from the revision after that read, so no change between the two is missed.
 * Brokers joining (a new key), leaving (key deleted: revoked on shutdown, or lease lapsed) and
 * re-registering (a new registration of a node id already known) are handed to a listener: the
 * controller logs them and moves partition leadership (partition-leadership.ts).
 *
 * The reads and the watch are prefix-follower.ts's: when the watch fails, the prefix is read again
 * (until a read succeeds) and the difference reported, so the listener still sees every net
 * change, if not every intermediate one.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, KeyValue, WatchEvent } from './cluster-store.js';
import { brokersPrefix, decodeRegistration } from './keys.js';
import type { BrokerRegistration } from './keys.js';
import { PrefixFollower } from './prefix-follower.js';

/** Pause before reading the registrations again after a failed read (etcd out of reach). */
const rereadRetryMs = 1000;

export interface BrokerDirectoryListener {
  joined(registration: BrokerRegistration): void;
  /** A node id known before registered again (new lease: it restarted, or re-registered after losing its lease). */
  reregistered(registration: BrokerRegistration): void;
  left(nodeId: number): void;
}

export class BrokerDirectory {
  private readonly brokers = new Map<number, { registration: BrokerRegistration; createRevision: bigint }>();
  private readonly follower: PrefixFollower;

  constructor(
    store: ClusterStore,
    private readonly listener: BrokerDirectoryListener,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(
      store,
      brokersPrefix,
      { loaded: (entries) => this.loaded(entries), changed: (event) => this.changed(event) },
      logger,
      { watchFailed: 'broker watch failed; reading the registrations again', readFailed: 'cannot read the broker registrations; trying again' },
      rereadRetryMs,
    );
  }

  /** Reads the registrations and starts following them; resolves once both are done. */
  async start(): Promise<void> {
    await this.follower.start();
  }

  /** The brokers known now, by node id. */
  snapshot(): ReadonlyMap<number, BrokerRegistration> {
    return new Map([...this.brokers].map(([nodeId, entry]) => [nodeId, entry.registration]));
  }

  /** The registration of each broker known now, by node id: its key's createRevision (a new one per registration). */
  registrationRevisions(): ReadonlyMap<number, bigint> {
    return new Map([...this.brokers].map(([nodeId, entry]) => [nodeId, entry.createRevision]));
  }

  /** Stops reporting at once; the watch is cancelled in the background (etcd may be out of reach). */
  async stop(): Promise<void> {
    await this.follower.stop();
  }

  /** A read of every registration: applies each, and reports the brokers no longer there as gone. */
  private loaded(entries: readonly KeyValue[]): void {
    const seen = new Set<number>();
    for (const entry of entries) {
      const nodeId = this.apply(entry);
      if (nodeId !== null) seen.add(nodeId);
    }
    for (const nodeId of [...this.brokers.keys()]) {
      if (!seen.has(nodeId)) this.remove(nodeId);
    }
  }

  private changed(event: WatchEvent): void {
    if (event.type === 'put') {
      this.apply(event.entry);
      return;
    }
    const nodeId = nodeIdOfKey(event.key);
    if (nodeId !== null) this.remove(nodeId);
  }

  /** Records one registration, telling the listener what changed; its node id, or null when unreadable. */
  private apply(entry: KeyValue): number | null {
    const registration = decodeRegistration(entry.value);
    if (registration instanceof Error || nodeIdOfKey(entry.key) !== registration.nodeId) {
      this.logger.warn('ignoring a malformed broker registration', { key: entry.key, problem: registration instanceof Error ? registration.message : 'node id differs from the key' });
      return null;
    }
    const known = this.brokers.get(registration.nodeId);
    this.brokers.set(registration.nodeId, { registration, createRevision: entry.createRevision });
    if (known === undefined) this.listener.joined(registration);
    else if (known.createRevision !== entry.createRevision) this.listener.reregistered(registration);
    return registration.nodeId;
  }

  private remove(nodeId: number): void {
    if (this.brokers.delete(nodeId)) this.listener.left(nodeId);
  }
}

function nodeIdOfKey(key: string): number | null {
  if (!key.startsWith(brokersPrefix)) return null;
  const text = key.slice(brokersPrefix.length);
  return /^(0|[1-9][0-9]{0,9})$/.test(text) ? Number(text) : null;
}
