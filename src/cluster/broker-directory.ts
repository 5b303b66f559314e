/**
 * The live brokers as the controller sees them: every key under /osprey/brokers/, read once and then
 * followed by a watch from the revision after that read, so no change between the two is missed.
 * Brokers joining (a new key), leaving (key deleted: revoked on shutdown, or lease lapsed) and
 * re-registering (a new registration of a node id already known) are handed to a listener: the
 * controller logs them and moves partition leadership (partition-leadership.ts).
 *
 * When the watch fails (etcd compacted the revision it would resume from, or cancelled it), the
 * directory reads the prefix again and reports the difference, so the listener still sees every
 * net change, if not every intermediate one.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, KeyValue, Watch, WatchEvent } from './cluster-store.js';
import { brokersPrefix, decodeRegistration } from './keys.js';
import type { BrokerRegistration } from './keys.js';

export interface BrokerDirectoryListener {
  joined(registration: BrokerRegistration): void;
  /** A node id known before registered again (new lease: it restarted, or re-registered after losing its lease). */
  reregistered(registration: BrokerRegistration): void;
  left(nodeId: number): void;
}

export class BrokerDirectory {
  private readonly brokers = new Map<number, { registration: BrokerRegistration; createRevision: bigint }>();
  private watch: Watch | null = null;
  private stopped = false;
  /** The latest resynchronisation, so stop() can wait for it. */
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ClusterStore,
    private readonly listener: BrokerDirectoryListener,
    private readonly logger: Logger,
  ) {}

  /** Reads the registrations and starts following them; resolves once both are done. */
  async start(): Promise<void> {
    await this.synchronise();
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
    this.stopped = true;
    void this.watch?.cancel();
    this.watch = null;
    await this.syncing.catch(() => undefined);
  }

  private async synchronise(): Promise<void> {
    const previousWatch = this.watch;
    this.watch = null;
    await previousWatch?.cancel();
    const range = await this.store.rangeByPrefix(brokersPrefix);
    if (this.stopped) return;
    const seen = new Set<number>();
    for (const entry of range.entries) {
      const nodeId = this.apply(entry);
      if (nodeId !== null) seen.add(nodeId);
    }
    for (const nodeId of [...this.brokers.keys()]) {
      if (!seen.has(nodeId)) this.remove(nodeId);
    }
    this.watch = await this.store.watchPrefix(brokersPrefix, {
      fromRevision: range.revision + 1n,
      onEvent: (event) => this.onEvent(event),
      onError: (reason) => this.resynchronise(reason),
    });
    if (this.stopped) await this.watch.cancel();
  }

  private resynchronise(reason: string): void {
    if (this.stopped) return;
    this.logger.warn('broker watch failed; reading the registrations again', { reason });
    this.syncing = this.synchronise().catch((error: unknown) => {
      this.logger.error('cannot read the broker registrations; the controller no longer follows them', { error: error instanceof Error ? error.message : String(error) });
    });
  }

  private onEvent(event: WatchEvent): void {
    if (this.stopped) return;
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
