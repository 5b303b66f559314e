/**
 * Every broker's copy of the cluster metadata in etcd: live brokers, the controller, topics and
 * partition states (keys.ts). One read of everything under /osprey/, then one watch of the same
 * prefix from the revision after that read (prefix-follower.ts), so no change between the two is
 * missed and changes are applied in etcd's order. Metadata, CreateTopics and the local replicas (replica-sync.ts) read it;
 * it never writes.
 *
 * A change to a topic or one of its partitions is handed to the listener with the topic's name;
 * when the watch fails (compacted revision, cancelled) everything is read again and every topic
 * known before or after is handed over, so the listener sees every net change.
 *
 * While etcd is out of reach the cache keeps the last state it saw: the Kafka side goes on answering
 * from it (docs/cluster.md, "What works").
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, KeyValue, WatchEvent } from './cluster-store.js';
import { PrefixFollower } from './prefix-follower.js';
import { brokersPrefix, clusterRoot, configsPrefix, controllerKey, decodeConfigs, decodeController, decodePartition, decodeRegistration, decodeTopic, partitionOfKey, topicOfKey } from './keys.js';
import type { BrokerRegistration, PartitionRecord, TopicRecord } from './keys.js';

/** Pause before reading the metadata again after a failed read (etcd out of reach). */
const resynchroniseRetryMs = 1000;

export interface CachedTopic {
  readonly record: TopicRecord;
  readonly modRevision: bigint;
}

export interface CachedPartition {
  readonly record: PartitionRecord;
  readonly modRevision: bigint;
}

export interface ControllerView {
  readonly nodeId: number;
  /** The controller key's createRevision. */
  readonly epoch: bigint;
}

interface RevisionWaiter {
  readonly revision: bigint;
  resolve(): void;
}

export interface MetadataCacheListener {
  /** The topic's record or one of its partitions' states changed (or it was created or deleted). */
  topicChanged(name: string): void;
  /** A cluster-wide config resource (keys.ts, /osprey/configs/) changed, or went: configs(resource) has it now. */
  configsChanged?(resource: string): void;
}

export class MetadataCache {
  private readonly brokers = new Map<number, BrokerRegistration>();
  private controllerView: ControllerView | null = null;
  private readonly topicRecords = new Map<string, CachedTopic>();
  private readonly partitionRecords = new Map<string, Map<number, CachedPartition>>();
  private readonly configRecords = new Map<string, ReadonlyMap<string, string>>();
  /** The revision everything in the cache is current to. */
  private appliedRevision = 0n;
  private readonly revisionWaiters = new Set<RevisionWaiter>();
  private readonly follower: PrefixFollower;
  private stopped = false;

  constructor(
    store: ClusterStore,
    private readonly listener: MetadataCacheListener,
    private readonly logger: Logger,
  ) {
    this.follower = new PrefixFollower(
      store,
      clusterRoot,
      { loaded: (entries, revision) => this.loaded(entries, revision), changed: (event) => this.changed(event) },
      logger,
      { watchFailed: 'metadata watch failed; reading the cluster metadata again', readFailed: 'cannot read the cluster metadata; answering from the last state seen, and trying again' },
      resynchroniseRetryMs,
    );
  }

  /** Reads the metadata and starts following it; resolves once both are done. */
  async start(): Promise<void> {
    await this.follower.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.revisionWaiters) waiter.resolve();
    this.revisionWaiters.clear();
    await this.follower.stop();
  }

  /** The live brokers, by node id ascending. */
  liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].sort((left, right) => left.nodeId - right.nodeId);
  }

  /** True while broker `nodeId` is registered, as last seen. */
  isLive(nodeId: number): boolean {
    return this.brokers.has(nodeId);
  }

  liveBrokerIds(): Set<number> {
    return new Set(this.brokers.keys());
  }

  get controller(): ControllerView | null {
    return this.controllerView;
  }

  topic(name: string): CachedTopic | undefined {
    return this.topicRecords.get(name);
  }

  topicNames(): string[] {
    return [...this.topicRecords.keys()];
  }

  /** A cluster-wide config resource's configs (`broker:`, `group:<id>`); empty when etcd holds none. */
  configs(resource: string): ReadonlyMap<string, string> {
    return this.configRecords.get(resource) ?? new Map<string, string>();
  }

  /** The cluster-wide config resources etcd holds configs for. */
  configResources(): string[] {
    return [...this.configRecords.keys()];
  }

  partition(topic: string, index: number): CachedPartition | undefined {
    return this.partitionRecords.get(topic)?.get(index);
  }

  /**
   * Resolves once the cache has applied every change up to `revision` (a write of ours, so that
   * this broker answers with what it just wrote), or after timeoutMs, or when stopped; true when
   * it caught up.
   */
  async caughtUpTo(revision: bigint, timeoutMs: number): Promise<boolean> {
    if (this.appliedRevision >= revision || this.stopped) return this.appliedRevision >= revision;
    let timer: NodeJS.Timeout | undefined;
    let waiter: RevisionWaiter | undefined;
    await new Promise<void>((resolve) => {
      waiter = { revision, resolve: () => resolve() };
      this.revisionWaiters.add(waiter);
      timer = setTimeout(() => resolve(), timeoutMs);
    });
    clearTimeout(timer);
    // Set in the callback above (which control flow analysis does not follow).
    const added = waiter as RevisionWaiter | undefined;
    if (added !== undefined) this.revisionWaiters.delete(added);
    return this.appliedRevision >= revision;
  }

  /** A read of everything: the cache starts over from it, and every topic known before or after is reported. */
  private loaded(entries: readonly KeyValue[], revision: bigint): void {
    const before = new Set([...this.topicRecords.keys(), ...this.partitionRecords.keys()]);
    const configsBefore = [...this.configRecords.keys()];
    this.brokers.clear();
    this.controllerView = null;
    this.topicRecords.clear();
    this.partitionRecords.clear();
    this.configRecords.clear();
    for (const entry of entries) this.put(entry);
    this.advanceTo(revision);
    for (const name of new Set([...before, ...this.topicRecords.keys(), ...this.partitionRecords.keys()])) this.listener.topicChanged(name);
    for (const resource of new Set([...configsBefore, ...this.configRecords.keys()])) this.listener.configsChanged?.(resource);
  }

  private changed(event: WatchEvent): void {
    const key = event.type === 'put' ? event.entry.key : event.key;
    const topic = event.type === 'put' ? this.put(event.entry) : this.remove(event.key);
    if (topic !== null) this.listener.topicChanged(topic);
    if (key.startsWith(configsPrefix)) this.listener.configsChanged?.(key.slice(configsPrefix.length));
    this.advanceTo(event.type === 'put' ? event.entry.modRevision : event.modRevision);
  }

  /** Applies one key; the topic it concerns, if any. */
  private put(entry: KeyValue): string | null {
    const { key, value } = entry;
    if (key.startsWith(brokersPrefix)) {
      const registration = decodeRegistration(value);
      if (registration instanceof Error || key !== `${brokersPrefix}${registration.nodeId}`) return this.ignore(key, registration instanceof Error ? registration.message : 'node id differs from the key');
      this.brokers.set(registration.nodeId, registration);
      return null;
    }
    if (key === controllerKey) {
      const controller = decodeController(value);
      if (controller instanceof Error) return this.ignore(key, controller.message);
      this.controllerView = { nodeId: controller.nodeId, epoch: entry.createRevision };
      return null;
    }
    if (key.startsWith(configsPrefix)) {
      const configs = decodeConfigs(value);
      if (configs instanceof Error) return this.ignore(key, configs.message);
      this.configRecords.set(key.slice(configsPrefix.length), configs);
      return null;
    }
    const topic = topicOfKey(key);
    if (topic !== null) {
      const record = decodeTopic(value);
      if (record instanceof Error) return this.ignore(key, record.message);
      this.topicRecords.set(topic, { record, modRevision: entry.modRevision });
      return topic;
    }
    const partition = partitionOfKey(key);
    if (partition !== null) {
      const record = decodePartition(value);
      if (record instanceof Error) return this.ignore(key, record.message);
      const states = this.partitionRecords.get(partition.topic) ?? new Map<number, CachedPartition>();
      states.set(partition.index, { record, modRevision: entry.modRevision });
      this.partitionRecords.set(partition.topic, states);
      return partition.topic;
    }
    return null;
  }

  private remove(key: string): string | null {
    if (key.startsWith(brokersPrefix)) {
      const text = key.slice(brokersPrefix.length);
      if (/^(0|[1-9][0-9]{0,9})$/.test(text)) this.brokers.delete(Number(text));
      return null;
    }
    if (key === controllerKey) {
      this.controllerView = null;
      return null;
    }
    if (key.startsWith(configsPrefix)) {
      this.configRecords.delete(key.slice(configsPrefix.length));
      return null;
    }
    const topic = topicOfKey(key);
    if (topic !== null) {
      this.topicRecords.delete(topic);
      return topic;
    }
    const partition = partitionOfKey(key);
    if (partition === null) return null;
    const states = this.partitionRecords.get(partition.topic);
    states?.delete(partition.index);
    if (states?.size === 0) this.partitionRecords.delete(partition.topic);
    return partition.topic;
  }

  private ignore(key: string, problem: string): null {
    this.logger.warn('ignoring a malformed cluster metadata value', { key, problem });
    return null;
  }

  private advanceTo(revision: bigint): void {
    if (revision > this.appliedRevision) this.appliedRevision = revision;
    for (const waiter of this.revisionWaiters) if (waiter.revision <= this.appliedRevision) waiter.resolve();
  }
}
