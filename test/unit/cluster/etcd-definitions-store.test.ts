/**
 * src/cluster/etcd-definitions-store.ts against an in-memory model of etcd's key-value store
 * (revisions, conditioned transactions, prefix watches whose events the test can hold back, drop
 * or break): a change resolves once the store's own follower has seen it and is not handed back to
 * the listener, while other brokers' changes are; a declaration that lost to another broker is a
 * DefinitionsConflict raised only once that broker's change has been handed over; a cascading
 * removal stays within maxOperationsPerTransaction keys per transaction; a read after a failed watch
 * hands over the difference, removals first. The same store against a real etcd and real brokers:
 * test/integration/cluster-amqp-definitions.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeSharedDefinition, exchangeKey, queueKey, virtualHostContentPrefixes } from '../../../src/cluster/amqp-definition-keys.js';
import type { ClusterStore, KeyValue, Lease, RangeResult, RevisionCondition, StoreOperation, TransactionResult, WatchEvent, WatchOptions } from '../../../src/cluster/cluster-store.js';
import { EtcdDefinitionsStore, maxOperationsPerTransaction } from '../../../src/cluster/etcd-definitions-store.js';
import { createLogger } from '../../../src/logging/logger.js';
import { DefinitionsConflict, type DefinitionUpdate, type ExchangeDefinition, type QueueDefinition } from '../../../src/queues/definitions/definitions.js';
import { storedExchange, storedQueue } from '../../../src/queues/definitions/definitions-state.js';

class MemoryEtcd implements ClusterStore {
  revision = 1n;
  readonly keys = new Map<string, KeyValue>();
  readonly transactions: { readonly conditions: readonly RevisionCondition[]; readonly operations: readonly StoreOperation[] }[] = [];
  /** While set, watch events wait in `held` until release() (or are lost with drop()). */
  holdEvents = false;
  private held: (() => void)[] = [];
  private readonly watches: { readonly prefix: string; readonly options: WatchOptions; cancelled: boolean }[] = [];

  async get(key: string): Promise<KeyValue | null> {
    return this.keys.get(key) ?? null;
  }

  async rangeByPrefix(prefix: string): Promise<RangeResult> {
    const entries = [...this.keys.values()].filter((entry) => entry.key.startsWith(prefix)).sort((left, right) => (left.key < right.key ? -1 : 1));
    return { revision: this.revision, entries };
  }

  async transaction(conditions: readonly RevisionCondition[], onSuccess: readonly StoreOperation[], onFailure: readonly StoreOperation[] = []): Promise<TransactionResult> {
    this.transactions.push({ conditions, operations: onSuccess });
    const holds = conditions.every((condition) => (this.keys.get(condition.key)?.modRevision ?? 0n) === condition.modRevision);
    const next = this.revision + 1n;
    const events: WatchEvent[] = [];
    for (const operation of holds ? onSuccess : onFailure) {
      if (operation.type === 'put') {
        const entry: KeyValue = { key: operation.key, value: operation.value, createRevision: this.keys.get(operation.key)?.createRevision ?? next, modRevision: next, leaseId: null };
        this.keys.set(operation.key, entry);
        events.push({ type: 'put', entry });
        continue;
      }
      const keys = operation.type === 'delete' ? [operation.key] : [...this.keys.keys()].filter((key) => key.startsWith(operation.prefix));
      for (const key of keys) if (this.keys.delete(key)) events.push({ type: 'delete', key, modRevision: next });
    }
    if (events.length > 0) {
      this.revision = next;
      const deliver = () => {
        for (const watch of this.watches) {
          if (watch.cancelled || next < watch.options.fromRevision) continue;
          for (const event of events) if ((event.type === 'put' ? event.entry.key : event.key).startsWith(watch.prefix)) watch.options.onEvent(event);
        }
      };
      if (this.holdEvents) this.held.push(deliver);
      else setImmediate(deliver);
    }
    return { succeeded: holds, revision: this.revision };
  }

  /** What another broker writes. */
  async write(operations: readonly StoreOperation[]): Promise<void> {
    await this.transaction([], operations);
  }

  release(): void {
    this.holdEvents = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  /** The held events are lost and the watch fails (as when etcd compacted the revision it would resume from). */
  breakWatch(): void {
    this.held = [];
    this.holdEvents = false;
    for (const watch of this.watches) if (!watch.cancelled) watch.options.onError('compacted');
  }

  async watchPrefix(prefix: string, options: WatchOptions) {
    const watch = { prefix, options, cancelled: false };
    this.watches.push(watch);
    return { cancel: async () => void (watch.cancelled = true) };
  }

  grantLease(): Promise<Lease> {
    throw new Error('no leases here');
  }

  close(): void {}
}

const exchange = (name: string, type = 'topic'): ExchangeDefinition => ({ virtualHost: '/', name, type, autoDelete: false, internal: false, arguments: new Map() });
const queue = (name: string, storageId = `${name}-id`): QueueDefinition => ({ virtualHost: '/', name, storageId, autoDelete: false, arguments: new Map() });

async function openStore(etcd: MemoryEtcd) {
  const store = await EtcdDefinitionsStore.open(etcd, createLogger('error', () => undefined), { waitMs: 2000, retryMs: 10 });
  const updates: DefinitionUpdate[] = [];
  store.follow((update) => updates.push(update));
  return { store, updates };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waitedMs = 0; !condition(); waitedMs += 5) {
    if (waitedMs > 2000) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('a change resolves once the store has seen it come back from etcd, and is not handed to the listener; another broker\'s change is', async () => {
  const etcd = new MemoryEtcd();
  const { store, updates } = await openStore(etcd);
  assert.deepEqual(store.definitions.virtualHosts, ['/'], 'the first store writes the virtual host "/"');

  etcd.holdEvents = true;
  let resolved = false;
  const putting = store.putExchange(exchange('logs')).then(() => (resolved = true));
  await sleep(30);
  assert.equal(resolved, false, 'not before the follower saw its revision');
  assert.ok(etcd.keys.has(exchangeKey('/', 'logs')), 'though etcd holds it');
  etcd.release();
  await putting;
  assert.deepEqual(updates, []);

  await etcd.write([{ type: 'put', key: queueKey('/', 'errors'), value: encodeSharedDefinition({ kind: 'queue', queue: storedQueue(queue('errors')) }) }]);
  await until(() => updates.length === 1, 'the other broker\'s queue');
  assert.deepEqual(updates, [{ change: 'putQueue', queue: queue('errors') }]);
  assert.deepEqual(store.definitions.exchanges, [exchange('logs')]);
  assert.deepEqual(store.definitions.queues, [queue('errors')]);
  await store.close();
});

test('a declaration another broker made first is a DefinitionsConflict, raised once that declaration was handed to the listener', async () => {
  const etcd = new MemoryEtcd();
  const { store, updates } = await openStore(etcd);
  etcd.holdEvents = true;
  await etcd.write([{ type: 'put', key: exchangeKey('/', 'logs'), value: encodeSharedDefinition({ kind: 'exchange', exchange: storedExchange(exchange('logs', 'fanout')) }) }]);
  let updatesAtRefusal = -1;
  const declaring = store.putExchange(exchange('logs', 'topic')).catch((error: unknown) => {
    updatesAtRefusal = updates.length;
    throw error;
  });
  await sleep(30);
  assert.equal(updatesAtRefusal, -1, 'not refused before the other declaration is seen');
  etcd.release();
  await assert.rejects(declaring, DefinitionsConflict);
  assert.equal(updatesAtRefusal, 1);
  assert.deepEqual(updates, [{ change: 'putExchange', exchange: exchange('logs', 'fanout') }]);
  // Known now: a second try is refused at once, without a transaction.
  const transactions = etcd.transactions.length;
  await assert.rejects(store.putExchange(exchange('logs', 'topic')), DefinitionsConflict);
  assert.equal(etcd.transactions.length, transactions);
  await store.close();
});

test('removing an exchange removes its bindings, in transactions of at most maxOperationsPerTransaction keys; a binding needs both its ends', async () => {
  const etcd = new MemoryEtcd();
  const { store, updates } = await openStore(etcd);
  await store.putExchange(exchange('logs'));
  await store.putQueue(queue('errors'));
  await assert.rejects(store.putBinding({ virtualHost: '/', source: 'logs', destinationKind: 'queue', destination: 'missing', routingKey: '', arguments: new Map() }), DefinitionsConflict);
  const bindingCount = 2 * maxOperationsPerTransaction + 50;
  for (let index = 0; index < bindingCount; index += 1) {
    await store.putBinding({ virtualHost: '/', source: 'logs', destinationKind: 'queue', destination: 'errors', routingKey: `key.${index}`, arguments: new Map() });
  }
  // Bound from a predeclared exchange (no key of its own) too: that binding stays.
  await store.putBinding({ virtualHost: '/', source: 'amq.topic', destinationKind: 'queue', destination: 'errors', routingKey: '#', arguments: new Map() });
  const bindingsPrefix = virtualHostContentPrefixes('/')[2]!;
  assert.equal((await etcd.rangeByPrefix(bindingsPrefix)).entries.length, bindingCount + 1);

  const before = etcd.transactions.length;
  await store.removeExchange('/', 'logs');
  const removals = etcd.transactions.slice(before);
  assert.deepEqual(removals.map((transaction) => transaction.operations.length), [maxOperationsPerTransaction, maxOperationsPerTransaction, 51]);
  assert.ok(removals.every((transaction) => transaction.conditions.length === transaction.operations.length));
  assert.equal((await etcd.rangeByPrefix(bindingsPrefix)).entries.length, 1);
  assert.equal(etcd.keys.has(exchangeKey('/', 'logs')), false);
  assert.equal(store.definitions.bindings.length, 1);
  assert.deepEqual(updates, []);
  await store.close();
});

test('after a failed watch the prefix is read again and the listener gets what changed meanwhile, removals first', async () => {
  const etcd = new MemoryEtcd();
  const { store, updates } = await openStore(etcd);
  await store.putQueue(queue('old'));
  etcd.holdEvents = true;
  await etcd.write([{ type: 'put', key: exchangeKey('/', 'new'), value: encodeSharedDefinition({ kind: 'exchange', exchange: storedExchange(exchange('new')) }) }]);
  await etcd.write([{ type: 'delete', key: queueKey('/', 'old') }]);
  etcd.breakWatch();
  await until(() => updates.length === 2, 'the difference');
  assert.deepEqual(updates, [
    { change: 'removeQueue', virtualHost: '/', name: 'old' },
    { change: 'putExchange', exchange: exchange('new') },
  ]);
  // Its own changes still resolve after the read again.
  await store.putQueue(queue('after'));
  assert.deepEqual(store.definitions.queues, [queue('after')]);
  await store.close();
});
