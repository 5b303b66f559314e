/**
 * The AMQP definitions of a cluster, kept in etcd and shared by its brokers (keys and values:
 * amqp-definition-keys.ts), the way a RabbitMQ cluster shares its metadata: what is declared
 * through one broker exists on all of them. It takes the place of a broker's own journal
 * (queues/definitions/definitions-store.ts) when the broker runs with etcd.
 *
 * Every broker follows the amqp prefix (prefix-follower.ts) into a mirror of it: each key with its
 * modRevision. Changes made through this store are etcd transactions conditioned on what the mirror
 * holds, and hand changes other brokers made to the queue broker (follow):
 *
 *   queue broker ──put/remove──► transaction, conditioned on the mirror's revisions of the keys
 *        ▲                             │ succeeded at revision R      │ failed: something changed
 *        │                             ▼                              ▼
 *        │              resolves once the mirror is at R   DefinitionsConflict once the mirror has
 *        │              (the change is then the queue      seen the change that made it fail (the
 *        │              broker's own to apply)             queue broker tries again after it)
 *        │
 *   follow(listener) ◄── etcd watch ── every change not made through this store, in etcd's order
 *
 * - A declare is create-if-absent (the key's modRevision 0), with its virtual host present as the
 *   mirror knows it; a binding needs its ends too (not the predeclared amq.* exchanges, which have
 *   no key, nor a topic). A policy is replaced conditioned on the revision read.
 * - Removing a virtual host is one transaction: its key and the prefixes of everything it holds.
 *   Removing an exchange or a queue deletes its key with the bindings from and to it that the mirror
 *   knows, at most maxOperationsPerTransaction keys per transaction, each conditioned on its revision
 *   (a binding added concurrently on another broker can outlive the exchange: such a binding routes
 *   nowhere, and it is deleted when an exchange or queue of that name is declared again).
 * - A change made through this store is not handed back to the listener: the queue broker applies it
 *   itself. Its revision is known only when etcd answers, so watch events are held while a
 *   transaction of ours is unanswered.
 * - When the watch fails, the prefix is read again and the listener gets the difference.
 *
 * The first broker to open the store writes the virtual host "/" with a marker key, once, so that a
 * cluster whose "/" was deleted keeps it deleted.
 */
import type { Logger } from '../logging/logger.js';
import {
  DefinitionsConflict,
  type BindingDefinition,
  type Definitions,
  type DefinitionsStore,
  type DefinitionUpdate,
  type ExchangeDefinition,
  type PolicyRecord,
  type QueueDefinition,
} from '../queues/definitions/definitions.js';
import {
  checkBindingNames,
  checkName,
  checkNames,
  decodeDefinition,
  DefinitionsState,
  storedBinding,
  storedExchange,
  storedPolicy,
  storedQueue,
  type StoredBinding,
} from '../queues/definitions/definitions-state.js';
import {
  amqpInitialisedKey,
  amqpPrefix,
  bindingKey,
  decodeSharedDefinition,
  encodeSharedDefinition,
  exchangeKey,
  keyOf,
  policyKey,
  queueKey,
  virtualHostContentPrefixes,
  virtualHostKey,
  type SharedDefinition,
} from './amqp-definition-keys.js';
import type { ClusterStore, KeyValue, RevisionCondition, StoreOperation, WatchEvent } from './cluster-store.js';
import { PrefixFollower } from './prefix-follower.js';

export interface EtcdDefinitionsStoreSettings {
  /** How long a change waits for the mirror to reach its revision before it is reported as failed. */
  readonly waitMs: number;
  /** How soon a failed read of the prefix (after a failed watch) is tried again. */
  readonly retryMs: number;
}

/** Keys deleted by one transaction (etcd refuses more than 128 operations by default). */
export const maxOperationsPerTransaction = 100;

const defaultVirtualHost = '/';

interface MirrorEntry {
  readonly modRevision: bigint;
  readonly definition: SharedDefinition;
}

type FollowedChange = { readonly kind: 'loaded'; readonly entries: readonly KeyValue[]; readonly revision: bigint } | { readonly kind: 'event'; readonly event: WatchEvent };

interface Waiter {
  readonly ready: () => boolean;
  readonly resolve: () => void;
}

export class EtcdDefinitionsStore implements DefinitionsStore {
  private readonly mirror = new Map<string, MirrorEntry>();
  /** The revision the mirror is at: that of the last event applied, or of the last read. */
  private revision = 0n;
  private listener: ((update: DefinitionUpdate) => void) | null = null;
  private transactionsInFlight = 0;
  /** Revisions of transactions made through this store whose events the mirror has not passed yet. */
  private readonly ownRevisions = new Set<bigint>();
  /** What the follower reported while a transaction of ours was unanswered, in order. */
  private readonly held: FollowedChange[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly follower: PrefixFollower;

  private constructor(
    private readonly store: ClusterStore,
    private readonly logger: Logger,
    private readonly settings: EtcdDefinitionsStoreSettings,
  ) {
    this.follower = new PrefixFollower(
      store,
      amqpPrefix,
      { loaded: (entries, revision) => this.receive({ kind: 'loaded', entries, revision }), changed: (event) => this.receive({ kind: 'event', event }) },
      logger,
      { watchFailed: 'amqp definitions watch failed; reading them again', readFailed: 'cannot read the amqp definitions from etcd; trying again' },
      settings.retryMs,
    );
  }

  /** Reads the shared definitions and follows them; the store is closed with this one. */
  static async open(store: ClusterStore, logger: Logger, settings: EtcdDefinitionsStoreSettings): Promise<EtcdDefinitionsStore> {
    await store.transaction(
      [{ key: amqpInitialisedKey, modRevision: 0n }],
      [
        { type: 'put', key: amqpInitialisedKey, value: Buffer.from('{}') },
        { type: 'put', key: virtualHostKey(defaultVirtualHost), value: encodeSharedDefinition({ kind: 'vhost', name: defaultVirtualHost }) },
      ],
    );
    const definitions = new EtcdDefinitionsStore(store, logger, settings);
    await definitions.follower.start();
    return definitions;
  }

  /** Everything the mirror holds (what a virtual host that is not there holds left out). */
  get definitions(): Definitions {
    const virtualHosts: string[] = [];
    const exchanges = [];
    const queues = [];
    const bindings = [];
    const policies = [];
    for (const { definition } of this.mirror.values()) {
      if (definition.kind === 'vhost') virtualHosts.push(definition.name);
      else if (definition.kind === 'exchange') exchanges.push(definition.exchange);
      else if (definition.kind === 'queue') queues.push(definition.queue);
      else if (definition.kind === 'binding') bindings.push(definition.binding);
      else policies.push(definition.policy);
    }
    return new DefinitionsState({ virtualHosts, exchanges, queues, bindings, policies }).definitions;
  }

  follow(listener: (update: DefinitionUpdate) => void): void {
    this.listener = listener;
  }

  async putVirtualHost(name: string): Promise<void> {
    checkName('virtual host name', name);
    const key = virtualHostKey(name);
    if (this.mirror.has(key)) return;
    // Whatever an earlier virtual host of that name left behind goes (a removal deletes it all at once, so nothing should).
    await this.commit([{ key, modRevision: 0n }], [put({ kind: 'vhost', name }), ...virtualHostContentPrefixes(name).map(deletePrefix)]);
  }

  async removeVirtualHost(name: string): Promise<void> {
    checkName('virtual host name', name);
    const key = virtualHostKey(name);
    const entry = this.mirror.get(key);
    if (entry === undefined) return;
    await this.commit([{ key, modRevision: entry.modRevision }], [{ type: 'delete', key }, ...virtualHostContentPrefixes(name).map(deletePrefix)]);
  }

  async putExchange(definition: ExchangeDefinition): Promise<void> {
    checkNames(definition.virtualHost, ['exchange name', definition.name], ['exchange type', definition.type]);
    const { virtualHost, name } = definition;
    await this.create({ kind: 'exchange', exchange: storedExchange(definition) }, virtualHost, this.bindingsOf(virtualHost, (binding) => refersToExchange(binding, name)));
  }

  async removeExchange(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['exchange name', name]);
    await this.removeWithBindings(exchangeKey(virtualHost, name), this.bindingsOf(virtualHost, (binding) => refersToExchange(binding, name)));
  }

  async putQueue(definition: QueueDefinition): Promise<void> {
    checkNames(definition.virtualHost, ['queue name', definition.name], ['queue storage id', definition.storageId]);
    const { virtualHost, name } = definition;
    await this.create({ kind: 'queue', queue: storedQueue(definition) }, virtualHost, this.bindingsOf(virtualHost, (binding) => refersToQueue(binding, name)));
  }

  async removeQueue(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['queue name', name]);
    await this.removeWithBindings(queueKey(virtualHost, name), this.bindingsOf(virtualHost, (binding) => refersToQueue(binding, name)));
  }

  async putBinding(definition: BindingDefinition): Promise<void> {
    checkBindingNames(definition);
    const key = bindingKey(definition);
    if (this.mirror.has(key)) return; // the same binding (its key is its identity)
    const { virtualHost, source, destination, destinationKind } = definition;
    const conditions = [this.existing(virtualHostKey(virtualHost))];
    if (!isPredeclared(source)) conditions.push(this.existing(exchangeKey(virtualHost, source)));
    if (destinationKind === 'queue') conditions.push(this.existing(queueKey(virtualHost, destination)));
    if (destinationKind === 'exchange' && !isPredeclared(destination)) conditions.push(this.existing(exchangeKey(virtualHost, destination)));
    await this.commit([...conditions, { key, modRevision: 0n }], [put({ kind: 'binding', binding: storedBinding(definition) })]);
  }

  async removeBinding(definition: BindingDefinition): Promise<void> {
    checkBindingNames(definition);
    await this.removeKeys([bindingKey(definition)]);
  }

  async putPolicy(record: PolicyRecord): Promise<void> {
    checkNames(record.virtualHost, ['policy name', record.name]);
    const key = policyKey(record.virtualHost, record.name);
    await this.commit([this.existing(virtualHostKey(record.virtualHost)), { key, modRevision: this.mirror.get(key)?.modRevision ?? 0n }], [put({ kind: 'policy', policy: storedPolicy(record) })]);
  }

  async removePolicy(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['policy name', name]);
    await this.removeKeys([policyKey(virtualHost, name)]);
  }

  /** Stops following, answers whatever waits for the mirror, and closes the etcd client. */
  async close(): Promise<void> {
    await this.follower.stop();
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
    this.store.close();
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────────

  /** Creates the key of an exchange or a queue (absent until now), deleting the leftover bindings that refer to it. */
  private async create(definition: SharedDefinition, virtualHost: string, leftoverBindings: readonly string[]): Promise<void> {
    const key = keyOf(definition);
    const host = this.existing(virtualHostKey(virtualHost));
    // Known to the mirror but not (yet) to the queue broker: its put is on its way there.
    if (this.mirror.has(key)) throw new DefinitionsConflict(`${key} exists`);
    const leftovers = leftoverBindings.slice(0, maxOperationsPerTransaction).map((bindingKey): StoreOperation => ({ type: 'delete', key: bindingKey }));
    await this.commit([host, { key, modRevision: 0n }], [put(definition), ...leftovers]);
  }

  /** Deletes the bindings (batches of at most maxOperationsPerTransaction), then the key with the last of them. */
  private async removeWithBindings(key: string, bindings: readonly string[]): Promise<void> {
    const remaining = [...bindings];
    while (remaining.length >= maxOperationsPerTransaction) await this.removeKeys(remaining.splice(0, maxOperationsPerTransaction));
    await this.removeKeys([...remaining, key]);
  }

  /** Deletes those of the keys the mirror holds, each conditioned on the revision it holds. */
  private async removeKeys(keys: readonly string[]): Promise<void> {
    const conditions: RevisionCondition[] = [];
    for (const key of keys) {
      const entry = this.mirror.get(key);
      if (entry !== undefined) conditions.push({ key, modRevision: entry.modRevision });
    }
    if (conditions.length === 0) return;
    await this.commit(
      conditions,
      conditions.map(({ key }) => ({ type: 'delete', key })),
    );
  }

  /** The condition that the key exists as the mirror holds it; a conflict when the mirror does not hold it. */
  private existing(key: string): RevisionCondition {
    const entry = this.mirror.get(key);
    if (entry === undefined) throw new DefinitionsConflict(`${key} does not exist`);
    return { key, modRevision: entry.modRevision };
  }

  /** The keys of the bindings of the virtual host that match. */
  private bindingsOf(virtualHost: string, matches: (binding: StoredBinding) => boolean): string[] {
    const keys: string[] = [];
    for (const [key, { definition }] of this.mirror) {
      if (definition.kind === 'binding' && definition.binding.virtualHost === virtualHost && matches(definition.binding)) keys.push(key);
    }
    return keys;
  }

  /**
   * Runs the transaction. Succeeded: resolves once the mirror holds its revision. Failed: throws
   * DefinitionsConflict once the mirror has seen a key of the conditions change (or waitMs passed).
   * Every transaction here changes at least one key when it succeeds, so its revision has an event.
   */
  private async commit(conditions: readonly RevisionCondition[], operations: readonly StoreOperation[]): Promise<void> {
    this.transactionsInFlight += 1;
    let succeeded: boolean;
    let revision: bigint;
    try {
      ({ succeeded, revision } = await this.store.transaction(conditions, operations));
      if (succeeded) this.ownRevisions.add(revision);
    } finally {
      this.transactionEnded();
    }
    if (succeeded) {
      const seen = await this.waitUntil(() => this.revision >= revision);
      if (seen) return;
      // Applied by the follower when it comes, as another broker's change would be.
      this.ownRevisions.delete(revision);
      throw new Error(`etcd took the change at revision ${revision}, but this broker has not seen it within ${this.settings.waitMs} ms; it applies it when it does`);
    }
    await this.waitUntil(() => conditions.some((condition) => (this.mirror.get(condition.key)?.modRevision ?? 0n) !== condition.modRevision));
    throw new DefinitionsConflict('the shared definitions changed meanwhile');
  }

  /** True once ready() holds after a change the follower reported; false when waitMs passed first. */
  private waitUntil(ready: () => boolean): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(false);
      }, this.settings.waitMs);
      const waiter: Waiter = {
        ready,
        resolve: () => {
          clearTimeout(timer);
          resolve(ready());
        },
      };
      this.waiters.add(waiter);
    });
  }

  private transactionEnded(): void {
    this.transactionsInFlight -= 1;
    while (this.transactionsInFlight === 0 && this.held.length > 0) this.apply(this.held.shift()!);
    this.wakeWaiters();
  }

  // ── following ───────────────────────────────────────────────────────────────────────────

  private receive(change: FollowedChange): void {
    if (this.transactionsInFlight > 0 || this.held.length > 0) {
      this.held.push(change);
      return;
    }
    this.apply(change);
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const waiter of this.waiters) {
      if (!waiter.ready()) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }

  private apply(change: FollowedChange): void {
    if (change.kind === 'loaded') this.reload(change.entries, change.revision);
    else if (change.event.type === 'put') this.applyPut(change.event.entry);
    else this.applyDelete(change.event.key, change.event.modRevision);
  }

  private applyPut(entry: KeyValue): void {
    this.advanceTo(entry.modRevision);
    const definition = decodeSharedDefinition(entry.key, entry.value);
    if (definition === null) return;
    if (definition instanceof Error) {
      this.logger.warn('a malformed amqp definition in etcd is ignored', { error: definition.message });
      this.applyDelete(entry.key, entry.modRevision);
      return;
    }
    this.mirror.set(entry.key, { modRevision: entry.modRevision, definition });
    if (!this.ownRevisions.has(entry.modRevision)) this.listener?.(putUpdate(definition));
  }

  private applyDelete(key: string, modRevision: bigint): void {
    this.advanceTo(modRevision);
    const previous = this.mirror.get(key);
    if (previous === undefined) return;
    this.mirror.delete(key);
    if (!this.ownRevisions.has(modRevision)) this.listener?.(removalUpdate(previous.definition));
  }

  /** Moves the mirror to the revision; our revisions before it have had every event. */
  private advanceTo(revision: bigint): void {
    if (revision > this.revision) this.revision = revision;
    for (const own of this.ownRevisions) if (own < revision) this.ownRevisions.delete(own);
  }

  /** A read of the whole prefix: the listener gets what changed since the mirror, removals first. */
  private reload(entries: readonly KeyValue[], revision: bigint): void {
    const next = new Map<string, MirrorEntry>();
    for (const entry of entries) {
      const definition = decodeSharedDefinition(entry.key, entry.value);
      if (definition instanceof Error) this.logger.warn('a malformed amqp definition in etcd is ignored', { error: definition.message });
      else if (definition !== null) next.set(entry.key, { modRevision: entry.modRevision, definition });
    }
    const removals: SharedDefinition[] = [];
    const puts: SharedDefinition[] = [];
    for (const [key, entry] of this.mirror) {
      const now = next.get(key);
      if (now === undefined || (now.modRevision !== entry.modRevision && now.definition.kind !== 'policy')) removals.push(entry.definition);
    }
    for (const [key, entry] of next) {
      if (this.mirror.get(key)?.modRevision !== entry.modRevision && !this.ownRevisions.has(entry.modRevision)) puts.push(entry.definition);
    }
    this.mirror.clear();
    for (const [key, entry] of next) this.mirror.set(key, entry);
    this.revision = revision > this.revision ? revision : this.revision;
    for (const own of this.ownRevisions) if (own <= revision) this.ownRevisions.delete(own);
    removals.sort((left, right) => removalOrder.indexOf(left.kind) - removalOrder.indexOf(right.kind));
    puts.sort((left, right) => putOrder.indexOf(left.kind) - putOrder.indexOf(right.kind));
    for (const definition of removals) this.listener?.(removalUpdate(definition));
    for (const definition of puts) this.listener?.(putUpdate(definition));
  }
}

/** What may be removed first when a read finds several changes: what refers to others before them. */
const removalOrder: readonly SharedDefinition['kind'][] = ['binding', 'policy', 'queue', 'exchange', 'vhost'];
const putOrder: readonly SharedDefinition['kind'][] = ['vhost', 'exchange', 'queue', 'binding', 'policy'];

function put(definition: SharedDefinition): StoreOperation {
  return { type: 'put', key: keyOf(definition), value: encodeSharedDefinition(definition) };
}

function deletePrefix(prefix: string): StoreOperation {
  return { type: 'deletePrefix', prefix };
}

/** amq.* exchanges are predeclared in every virtual host (no client can declare one): they have no key. */
function isPredeclared(exchange: string): boolean {
  return exchange.startsWith('amq.');
}

function refersToExchange(binding: StoredBinding, name: string): boolean {
  return binding.source === name || (binding.destinationKind === 'exchange' && binding.destination === name);
}

function refersToQueue(binding: StoredBinding, name: string): boolean {
  return binding.destinationKind === 'queue' && binding.destination === name;
}

export function putUpdate(definition: SharedDefinition): DefinitionUpdate {
  switch (definition.kind) {
    case 'vhost':
      return { change: 'putVirtualHost', name: definition.name };
    case 'exchange':
      return { change: 'putExchange', exchange: decodeDefinition(definition.exchange) };
    case 'queue':
      return { change: 'putQueue', queue: decodeDefinition(definition.queue) };
    case 'binding':
      return { change: 'putBinding', binding: decodeDefinition(definition.binding) };
    case 'policy':
      return { change: 'putPolicy', policy: definition.policy };
  }
}

export function removalUpdate(definition: SharedDefinition): DefinitionUpdate {
  switch (definition.kind) {
    case 'vhost':
      return { change: 'removeVirtualHost', name: definition.name };
    case 'exchange':
      return { change: 'removeExchange', virtualHost: definition.exchange.virtualHost, name: definition.exchange.name };
    case 'queue':
      return { change: 'removeQueue', virtualHost: definition.queue.virtualHost, name: definition.queue.name };
    case 'binding':
      return { change: 'removeBinding', binding: decodeDefinition(definition.binding) };
    case 'policy':
      return { change: 'removePolicy', virtualHost: definition.policy.virtualHost, name: definition.policy.name };
  }
}
