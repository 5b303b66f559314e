/**
 * The queue side of the broker (DESIGN.md: queues/): virtual hosts with their exchanges, queues and
 * bindings; what survives a restart is kept in the definitions store (definitions/) and each
 * durable queue's messages in its own queue store (queue-store/).
 *
 * Every operation that changes definitions runs one at a time, in call order (`serially`), so two
 * channels declaring the same durable queue see one create it and the other find it; routing,
 * publishing and delivery never wait on that chain. Failures are AMQP errors with RabbitMQ's
 * reply texts (protocol/amqp/errors.ts), whoever asked (a channel, the admin API).
 *
 * Policies (policies/) are definitions too: setting or deleting one re-applies, to every queue and
 * exchange of its virtual host, the policy that now applies to it, and a queue or exchange declared
 * later gets its policy when it is made. A queue's options are its arguments' combined with its
 * policy (policies/policy-precedence.ts), handed to Queue.applyOptions when they change.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { mapConcurrently } from '../broker/concurrency.js';
import type { Logger } from '../logging/logger.js';
import { AmqpChannelError, AmqpConnectionError } from '../protocol/amqp/errors.js';
import type { FieldTable, FieldValue } from '../protocol/amqp/field-table.js';
import { writeFieldTable } from '../protocol/amqp/field-table.js';
import { replyCodes } from '../protocol/amqp/reply-codes.js';
import { Writer } from '../protocol/wire/writer.js';
import { DefinitionsConflict, type BindingDefinition, type DefinitionsStore, type DefinitionUpdate, type ExchangeDefinition, type PolicyRecord, type QueueDefinition } from './definitions/definitions.js';
import { appendToQueues } from './append-to-queues.js';
import { DeadLetterRouter } from './dead-lettering.js';
import { delayedExchangeType, delayedRoutingType, headersOf, isDeclarableExchangeType, type DeclarableExchangeType } from './delayed/delayed-exchange-type.js';
import type { DelayedMessageStore, DelayedRouter } from './delayed/delayed-store.js';
import { Exchange, type Destination, type ExchangeSettings } from './exchange.js';
import { Queue, type QueueEvents } from './queue.js';
import { defaultQueueOptions, queueOptionsFromArguments, type QueueOptions } from './queue-options.js';
import { parsePolicy, PolicyValidationError, type Policy, type PolicyInput } from './policies/policy.js';
import { effectiveAlternateExchange, effectiveQueueOptions, sameQueueOptions } from './policies/policy-precedence.js';
import { maxPolicies, PolicySet } from './policies/policy-set.js';
import type { QueueStore } from './queue-store/queue-store-api.js';
import { MemoryQueueStore } from './queue-store/memory-queue-store.js';
import { PriorityQueueStore } from './queue-store/priority-queue-store.js';
import { LedQueueStore } from './queue-store/led-queue-store.js';
import { headersBindingError } from './routing/headers.js';
import { VirtualHost } from './virtual-host.js';
import { isStreamArguments } from './streams/stream-rules.js';
import { Streams } from './streams/streams.js';
import type { TopicAccess } from './streams/topic-access.js';
import { TopicTarget } from './streams/topic-target.js';

export interface QueueBrokerStorage {
  readonly definitions: DefinitionsStore;
  /** Opens (or creates) the store of a durable queue in its folder. */
  openDurableStore(directory: string): Promise<QueueStore>;
  /** Folder holding one folder per durable queue. */
  readonly queuesDirectory: string;
  /** Queue stores opened (recovered) or closed at once; 32 when left out. */
  readonly openConcurrency?: number;
  /** The Kafka topics behind stream queues and exchange-to-topic bindings (streams/); without it they are refused. */
  readonly topics?: TopicAccess;
  /** Where the topic feeds (streams/topic-feeds.ts) keep their file; no feeds when left out. */
  readonly streamsDirectory?: string;
  /** Where x-delayed-message exchanges hold their messages; without it they cannot be declared. */
  readonly delayed?: DelayedStorage;
  /**
   * In a cluster: durable queues, priority queues too, are kept in replicated internal topics and
   * served by the broker leading theirs (cluster/replicated-queues.ts).
   */
  readonly replicated?: ReplicatedQueueStorage;
}

/** Where a queue is, by name. */
export interface QueueAddress {
  readonly virtualHost: string;
  readonly name: string;
}

/** Durable queues kept by the cluster (cluster/queue-partitions.ts). */
export interface ReplicatedQueueStorage {
  /** The store of the queue kept under `storageId` here (`maxPriority` > 0: a priority queue's): it serves the queue while this broker leads the queue's partition, and reaches the broker that does otherwise. */
  store(storageId: string, queue: QueueAddress, maxPriority: number): QueueStore;
  /** Creates the queue's replicated log (the declaring broker) and resolves once this broker serves it. */
  create(storageId: string): Promise<void>;
  /** The queue is gone: its store here closes; `deleteLog` (the broker that deleted it) deletes its replicated log too. */
  remove(storageId: string, deleteLog: boolean): Promise<void>;
}

/** The stores of x-delayed-message exchanges (delayed/), one folder each. */
export interface DelayedStorage {
  /** Folder holding one folder per delayed exchange (its storage id). */
  readonly directory: string;
  /** Opens a store: recovering it (a durable exchange at start-up), or new and empty. */
  open(directory: string, options: { readonly recover: boolean; readonly durable: boolean }): Promise<DelayedMessageStore>;
}

export interface ExchangeDeclaration {
  readonly name: string;
  readonly type: string;
  readonly passive: boolean;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

export interface QueueDeclaration {
  readonly name: string;
  readonly passive: boolean;
  readonly durable: boolean;
  readonly exclusive: boolean;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

export interface BindingRequest {
  readonly source: string;
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

/** How many entities the broker keeps (amqp.maxQueues, …): each costs memory, and a durable queue open files. */
export interface QueueBrokerLimits {
  readonly maxQueues: number;
  readonly maxExchanges: number;
  readonly maxBindings: number;
}

export const unlimitedEntities: QueueBrokerLimits = { maxQueues: Number.MAX_SAFE_INTEGER, maxExchanges: Number.MAX_SAFE_INTEGER, maxBindings: Number.MAX_SAFE_INTEGER };

/** Who asks: the connection (for exclusive queues); null for the admin API, which may see every queue. */
export type Requester = number | null;

const maxNameBytes = 255;
const defaultOpenConcurrency = 32;
/**
 * How often an operation is tried when the cluster's shared definitions changed under it
 * (DefinitionsConflict): each try runs after the change that refused the previous one.
 */
const maxConflictAttempts = 10;

export class QueueBroker {
  readonly virtualHosts = new Map<string, VirtualHost>();
  /** Exclusive queues by owning connection. */
  private readonly exclusiveQueues = new Map<number, Set<Queue>>();
  private readonly policySet = new PolicySet();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** What every queue asks of the broker: dead-lettering within its virtual host, deletion when it expires. */
  private readonly queueEvents: QueueEvents;
  /** Stream queues and exchange-to-topic bindings (streams/). */
  readonly streams: Streams;

  private constructor(
    private readonly storage: QueueBrokerStorage,
    private readonly logger: Logger,
    private readonly limits: QueueBrokerLimits,
  ) {
    const deadLetters = new DeadLetterRouter((name) => this.virtualHosts.get(name), logger);
    this.queueEvents = {
      deadLetter: (queue, message, reason) => deadLetters.deadLetter(queue, message, reason),
      expired: (queue) => this.expireQueue(queue),
    };
    this.streams = new Streams(storage.topics ?? null, logger);
  }

  /** Restores every virtual host, durable exchange, durable queue (with its messages) and binding. */
  static async open(storage: QueueBrokerStorage, logger: Logger, limits: QueueBrokerLimits = unlimitedEntities): Promise<QueueBroker> {
    const broker = new QueueBroker(storage, logger, limits);
    const stored = storage.definitions.definitions;
    // What other brokers of the cluster change from now on waits in the chain until the restore is done.
    let restoreDone!: () => void;
    broker.chain = new Promise<void>((resolve) => (restoreDone = resolve));
    storage.definitions.follow?.((update) => {
      void broker.serially(() => broker.applyUpdate(update)).catch((error: unknown) =>
        logger.error('a change to the shared amqp definitions could not be applied here', { change: update.change, error: error instanceof Error ? error.message : String(error) }),
      );
    });
    for (const name of stored.virtualHosts) broker.virtualHosts.set(name, new VirtualHost(name));
    for (const record of stored.policies) broker.restorePolicy(record);
    const delayedExchanges: Exchange[] = [];
    for (const definition of stored.exchanges) {
      const host = broker.virtualHosts.get(definition.virtualHost);
      if (host === undefined || !isDeclarableExchangeType(definition.type)) continue;
      const settings = { ...definition, type: definition.type, durable: true };
      if (exchangeProblem(settings) !== null) continue;
      const exchange = new Exchange(settings);
      if (exchange.isDelayed) delayedExchanges.push(exchange);
      host.exchanges.set(definition.name, exchange);
    }
    await broker.openDelayedStores(delayedExchanges);
    const known = stored.queues.filter((definition) => broker.virtualHosts.has(definition.virtualHost));
    const queues = known.filter((definition) => !isStreamArguments(definition.arguments));
    for (const definition of known.filter((candidate) => isStreamArguments(candidate.arguments))) {
      const stream = await broker.streams.restore({ ...definition, durable: true, exclusiveOwner: null });
      broker.virtualHosts.get(definition.virtualHost)!.queues.set(definition.name, stream);
    }
    const restored = queues.map((definition) => ({ definition, options: broker.restoredOptions(definition) }));
    const stores = await mapConcurrently(restored, storage.openConcurrency ?? defaultOpenConcurrency, ({ definition, options }) =>
      broker.openDurableQueueStore(join(storage.queuesDirectory, definition.storageId), options, definition),
    );
    for (const [index, { definition, options }] of restored.entries()) {
      const host = broker.virtualHosts.get(definition.virtualHost)!;
      const queue = new Queue({ ...definition, durable: true, exclusiveOwner: null }, stores[index]!, broker.withPolicy(host, definition.name, options, definition.arguments));
      host.queues.set(definition.name, queue);
      queue.attach(broker.queueEvents);
    }
    for (const host of broker.virtualHosts.values()) for (const exchange of host.exchanges.values()) broker.applyExchangePolicy(host, exchange);
    for (const binding of stored.bindings) {
      const ends = broker.bindingEnds(binding);
      if (ends !== null) ends.source.matcher.add({ destination: ends.destination, routingKey: binding.routingKey, arguments: binding.arguments });
    }
    for (const exchange of delayedExchanges) exchange.delayedMessages?.start(broker.delayedRouter(exchange));
    if (storage.streamsDirectory !== undefined) await broker.streams.openFeeds(storage.streamsDirectory, (virtualHost, name) => broker.virtualHosts.get(virtualHost)?.queues.get(name));
    const queueCount = stored.queues.length;
    if (queueCount > 0 || stored.exchanges.length > 0 || stored.policies.length > 0) {
      logger.info('amqp definitions restored', { virtualHosts: stored.virtualHosts.length, exchanges: stored.exchanges.length, queues: queueCount, bindings: stored.bindings.length, policies: broker.policySet.size });
    }
    restoreDone();
    return broker;
  }

  /** The exchange and the destination a stored binding joins; null when one of them is not here. */
  private bindingEnds(binding: BindingDefinition): { readonly source: Exchange; readonly destination: Destination } | null {
    const host = this.virtualHosts.get(binding.virtualHost);
    if (host === undefined) return null;
    const source = host.exchanges.get(binding.source);
    const destination = binding.destinationKind === 'queue' ? host.queues.get(binding.destination)
      : binding.destinationKind === 'topic' ? this.streams.topicTarget(host.name, binding.destination, true)
      : host.exchanges.get(binding.destination);
    return source === undefined || destination === undefined ? null : { source, destination };
  }

  // ── changes other brokers of the cluster made ─────────────────────────────────────────────

  /**
   * Applies a change another broker made to the shared definitions (DefinitionsStore.follow) to what
   * this broker holds, without storing it again. Each change may find its work done already (a read
   * of the definitions after a failed watch hands over what changed as a whole): a put of what is
   * here as it is, or a removal of what is not here, changes nothing. An entity of this broker alone
   * (non-durable, exclusive) is left as it is when a shared one of the same name comes.
   */
  private async applyUpdate(update: DefinitionUpdate): Promise<void> {
    if (this.closed) return;
    switch (update.change) {
      case 'putVirtualHost':
        if (!this.virtualHosts.has(update.name)) this.virtualHosts.set(update.name, new VirtualHost(update.name));
        return;
      case 'removeVirtualHost': {
        const host = this.virtualHosts.get(update.name);
        if (host !== undefined) await this.forgetVirtualHost(host);
        return;
      }
      case 'putExchange':
        return this.learnExchange(update.exchange);
      case 'removeExchange': {
        const host = this.virtualHosts.get(update.virtualHost);
        const exchange = host?.exchanges.get(update.name);
        if (host !== undefined && exchange !== undefined && exchange.settings.durable && !exchange.isDefault) await this.forgetExchange(host, exchange);
        return;
      }
      case 'putQueue':
        return this.learnQueue(update.queue);
      case 'removeQueue': {
        const host = this.virtualHosts.get(update.virtualHost);
        const queue = host?.queues.get(update.name);
        if (host !== undefined && queue !== undefined && queue.settings.storageId !== '') await this.removeQueue(host, queue, false, true);
        return;
      }
      case 'putBinding':
      case 'removeBinding': {
        const ends = this.bindingEnds(update.binding);
        if (ends === null) return;
        const binding = { destination: ends.destination, routingKey: update.binding.routingKey, arguments: update.binding.arguments };
        if (update.change === 'putBinding') ends.source.matcher.add(binding);
        else ends.source.matcher.remove(binding);
        return;
      }
      case 'putPolicy': {
        const host = this.virtualHosts.get(update.policy.virtualHost);
        if (host === undefined) return;
        this.restorePolicy(update.policy);
        this.applyPolicies(host);
        return;
      }
      case 'removePolicy': {
        const host = this.virtualHosts.get(update.virtualHost);
        if (host === undefined) return;
        this.policySet.remove(update.virtualHost, update.name);
        this.applyPolicies(host);
        return;
      }
    }
  }

  /** An exchange another broker declared; one of that name declared otherwise before is replaced (it was deleted there). */
  private async learnExchange(definition: ExchangeDefinition): Promise<void> {
    const host = this.virtualHosts.get(definition.virtualHost);
    if (host === undefined || !isDeclarableExchangeType(definition.type)) return;
    const settings: ExchangeSettings = { ...definition, type: definition.type, durable: true };
    const existing = host.exchanges.get(definition.name);
    if (existing !== undefined) {
      if (sameExchangeSettings(existing.settings, settings)) return;
      if (!existing.settings.durable || existing.isDefault || definition.name.startsWith('amq.')) {
        this.logger.warn('an exchange of this broker alone has the name of a shared one; it is kept', { virtualHost: host.name, exchange: definition.name });
        return;
      }
      await this.forgetExchange(host, existing);
    }
    if (exchangeProblem(settings) !== null) return;
    const exchange = new Exchange(settings);
    if (exchange.isDelayed) await this.openDelayedStore(exchange, false);
    this.applyExchangePolicy(host, exchange);
    host.exchanges.set(definition.name, exchange);
    exchange.delayedMessages?.start(this.delayedRouter(exchange));
  }

  /** Removes an exchange another broker deleted (with the bindings to it; that broker made any auto-deletions that followed). */
  private async forgetExchange(host: VirtualHost, exchange: Exchange): Promise<void> {
    host.exchanges.delete(exchange.name);
    exchange.deleted = true;
    await exchange.delayedMessages?.delete();
    for (const other of host.exchanges.values()) other.matcher.removeDestination(exchange);
  }

  /**
   * A queue another broker declared: known here as a durable queue of its own store (messages
   * published through this broker stay in this broker's copy; docs/cluster.md).
   */
  private async learnQueue(definition: QueueDefinition): Promise<void> {
    const host = this.virtualHosts.get(definition.virtualHost);
    if (host === undefined) return;
    const existing = host.queues.get(definition.name);
    if (existing !== undefined) {
      if (existing.settings.storageId === definition.storageId) return;
      if (existing.settings.storageId === '') {
        this.logger.warn('a queue of this broker alone has the name of a shared one; it is kept', { virtualHost: host.name, queue: definition.name });
        return;
      }
      await this.removeQueue(host, existing, false, true);
    }
    const settings = { ...definition, durable: true, exclusiveOwner: null };
    let queue: Queue;
    if (isStreamArguments(definition.arguments)) {
      queue = this.streams.learnt(settings);
    } else {
      const options = this.restoredOptions(definition);
      const store = await this.openDurableQueueStore(join(this.storage.queuesDirectory, definition.storageId), options, definition);
      queue = new Queue(settings, store, this.withPolicy(host, definition.name, options, definition.arguments));
      queue.attach(this.queueEvents);
    }
    host.queues.set(definition.name, queue);
  }

  /**
   * A queue whose definition the brokers of a cluster share, served by another broker now. Only the
   * broker serving a shared queue judges its use for x-expires and auto-delete: every consumer of it,
   * on whichever broker, is a consumer there (another broker's consumers through its queue link), and
   * basic.get through another broker is answered there. The others leave it be.
   */
  private judgedElsewhere(queue: Queue): boolean {
    return this.storage.definitions.follow !== undefined && queue.settings.storageId !== '' && queue.store.servedHere === false;
  }

  // ── virtual hosts ─────────────────────────────────────────────────────────────────────────

  hasVirtualHost(name: string): boolean {
    return this.virtualHosts.has(name);
  }

  virtualHost(name: string): VirtualHost {
    const host = this.virtualHosts.get(name);
    if (host === undefined) throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - vhost ${name} not found`);
    return host;
  }

  createVirtualHost(name: string): Promise<void> {
    return this.serially(async () => {
      checkName(name, 'vhost');
      if (this.virtualHosts.has(name)) return;
      await this.storage.definitions.putVirtualHost(name);
      this.virtualHosts.set(name, new VirtualHost(name));
      this.logger.info('amqp virtual host created', { virtualHost: name });
    });
  }

  deleteVirtualHost(name: string): Promise<void> {
    return this.serially(async () => {
      const host = this.virtualHosts.get(name);
      if (host === undefined) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no vhost '${name}'`);
      await this.storage.definitions.removeVirtualHost(name);
      await this.forgetVirtualHost(host, true);
      this.logger.info('amqp virtual host deleted', { virtualHost: name });
    });
  }

  /**
   * Removes the virtual host with everything it holds, its definitions already removed from the
   * store; `deletedHere`: by this broker, which then deletes its queues' replicated logs too.
   */
  private async forgetVirtualHost(host: VirtualHost, deletedHere = false): Promise<void> {
    this.virtualHosts.delete(host.name);
    this.policySet.removeVirtualHost(host.name);
    for (const queue of [...host.queues.values()]) await this.removeQueue(host, queue, false, false, deletedHere);
    for (const exchange of host.exchanges.values()) {
      exchange.deleted = true;
      await exchange.delayedMessages?.delete();
    }
  }

  // ── exchanges ─────────────────────────────────────────────────────────────────────────────

  exchange(host: VirtualHost, name: string): Exchange {
    const exchange = host.exchanges.get(name);
    if (exchange === undefined) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no exchange '${name}' in vhost '${host.name}'`);
    return exchange;
  }

  declareExchange(host: VirtualHost, declaration: ExchangeDeclaration): Promise<Exchange> {
    return this.serially(async () => {
      const { name } = declaration;
      if (declaration.passive) return this.exchange(host, name);
      if (name === '') throw defaultExchangeRefusal();
      checkName(name, 'exchange');
      if (!isDeclarableExchangeType(declaration.type)) throw new AmqpConnectionError(replyCodes.commandInvalid, `COMMAND_INVALID - unknown exchange type '${declaration.type}'`);
      const existing = host.exchanges.get(name);
      if (existing !== undefined) {
        const what = `exchange '${name}' in vhost '${host.name}'`;
        checkEquivalent('type', what, declaration.type, existing.type);
        checkEquivalent('durable', what, declaration.durable, existing.settings.durable);
        checkEquivalent('auto_delete', what, declaration.autoDelete, existing.settings.autoDelete);
        checkEquivalent('internal', what, declaration.internal, existing.settings.internal);
        checkEquivalentArguments(what, declaration.arguments, existing.settings.arguments);
        return existing;
      }
      if (name.startsWith('amq.')) throw new AmqpChannelError(replyCodes.accessRefused, `ACCESS_REFUSED - exchange name '${name}' contains reserved prefix 'amq.*'`);
      if (this.exchangeCount() >= this.limits.maxExchanges) throw limitReached(`exchange '${name}'`, host.name, 'exchange', this.limits.maxExchanges, 'amqp.maxExchanges');
      const settings: ExchangeSettings = { virtualHost: host.name, name, type: declaration.type as DeclarableExchangeType, durable: declaration.durable, autoDelete: declaration.autoDelete, internal: declaration.internal, arguments: declaration.arguments };
      const problem = exchangeProblem(settings);
      if (problem !== null) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - ${problem}`);
      const exchange = new Exchange(settings);
      if (exchange.isDelayed) await this.openDelayedStore(exchange, false);
      try {
        if (settings.durable) await this.storage.definitions.putExchange(settings);
      } catch (error) {
        await exchange.delayedMessages?.delete();
        throw error;
      }
      this.applyExchangePolicy(host, exchange);
      host.exchanges.set(name, exchange);
      exchange.delayedMessages?.start(this.delayedRouter(exchange));
      return exchange;
    });
  }

  deleteExchange(host: VirtualHost, name: string, ifUnused: boolean): Promise<void> {
    return this.serially(async () => {
      if (name === '') throw defaultExchangeRefusal();
      const exchange = host.exchanges.get(name);
      if (exchange === undefined) return; // RabbitMQ: deleting what is not there succeeds
      if (name.startsWith('amq.')) throw new AmqpChannelError(replyCodes.accessRefused, `ACCESS_REFUSED - operation not permitted on exchange '${name}' in vhost '${host.name}'`);
      if (ifUnused && exchange.matcher.size > 0) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - exchange '${name}' in vhost '${host.name}' in use`);
      await this.removeExchange(host, exchange);
    });
  }

  private async removeExchange(host: VirtualHost, exchange: Exchange): Promise<void> {
    if (exchange.settings.durable) await this.storage.definitions.removeExchange(host.name, exchange.name);
    host.exchanges.delete(exchange.name);
    exchange.deleted = true;
    await exchange.delayedMessages?.delete(); // its delayed messages go with it
    await this.forgetDestination(host, exchange);
  }

  /** Removes every binding to a deleted queue or exchange; auto-delete exchanges left without bindings go too. */
  private async forgetDestination(host: VirtualHost, destination: Destination): Promise<void> {
    const emptied: Exchange[] = [];
    for (const exchange of host.exchanges.values()) {
      if (exchange.matcher.removeDestination(destination) > 0 && exchange.settings.autoDelete && exchange.matcher.size === 0) emptied.push(exchange);
    }
    for (const exchange of emptied) {
      if (!exchange.deleted) await this.removeExchange(host, exchange);
    }
  }

  // ── queues ────────────────────────────────────────────────────────────────────────────────

  /** The queue, if the requester may use it: 404 when missing, 405 when another connection's exclusive queue. */
  queue(host: VirtualHost, name: string, requester: Requester): Queue {
    const queue = host.queues.get(name);
    if (queue === undefined) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no queue '${name}' in vhost '${host.name}'`);
    checkExclusiveAccess(queue, requester);
    return queue;
  }

  declareQueue(host: VirtualHost, declaration: QueueDeclaration, requester: Requester): Promise<Queue> {
    return this.serially(async () => {
      if (declaration.passive) {
        if (declaration.name === '') throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no queue '' in vhost '${host.name}'`);
        return this.queue(host, declaration.name, requester);
      }
      let name = declaration.name;
      if (name === '') name = `amq.gen-${randomBytes(16).toString('base64url')}`;
      else checkName(name, 'queue');
      const existing = host.queues.get(name);
      if (existing !== undefined) {
        checkExclusiveAccess(existing, requester);
        const what = `queue '${name}' in vhost '${host.name}'`;
        checkEquivalent('durable', what, declaration.durable, existing.durable);
        checkEquivalent('auto_delete', what, declaration.autoDelete, existing.settings.autoDelete);
        if (declaration.exclusive !== (existing.settings.exclusiveOwner !== null)) throw lockedQueue(name, host.name);
        checkEquivalentArguments(what, declaration.arguments, existing.settings.arguments);
        existing.touch();
        return existing;
      }
      const options = queueOptionsFromArguments(declaration.arguments, name, host.name);
      checkQueueType(options, declaration, name, host.name);
      if (declaration.name.startsWith('amq.')) throw new AmqpChannelError(replyCodes.accessRefused, `ACCESS_REFUSED - queue name '${name}' contains reserved prefix 'amq.*'`);
      if (declaration.exclusive && requester === null) throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - an exclusive queue needs a connection to own it');
      if (this.queueCount() >= this.limits.maxQueues) throw limitReached(`queue '${name}'`, host.name, 'queue', this.limits.maxQueues, 'amqp.maxQueues');
      if (isStreamArguments(declaration.arguments)) return this.declareStream(host, name, declaration);
      const exclusiveOwner = declaration.exclusive ? requester : null;
      // Exclusive queues end with their connection, so they are never stored, durable or not.
      const stored = declaration.durable && exclusiveOwner === null;
      const storageId = stored ? `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}` : '';
      const settings = { virtualHost: host.name, name, durable: declaration.durable, exclusiveOwner, autoDelete: declaration.autoDelete, arguments: declaration.arguments, storageId };
      let store: QueueStore;
      if (stored) {
        store = await this.openDurableQueueStore(join(this.storage.queuesDirectory, storageId), options, { virtualHost: host.name, name });
        const definition: QueueDefinition = { virtualHost: host.name, name, storageId, autoDelete: settings.autoDelete, arguments: settings.arguments };
        const replicated = store instanceof LedQueueStore ? this.storage.replicated : undefined;
        if (replicated !== undefined) {
          // Its replicated log first, served here before the definition is shared: a publish right after declare-ok is taken.
          try {
            await replicated.create(storageId);
          } catch (error) {
            await replicated.remove(storageId, true).catch(() => undefined);
            throw new AmqpChannelError(replyCodes.resourceError, `RESOURCE_ERROR - queue '${name}' in vhost '${host.name}' could not be created: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
        try {
          await this.storage.definitions.putQueue(definition);
        } catch (error) {
          if (replicated !== undefined) await replicated.remove(storageId, true).catch(() => undefined);
          else await store.delete().catch(() => undefined);
          throw error;
        }
      } else {
        const maxPriority = priorityLevels(options);
        store = maxPriority === null ? new MemoryQueueStore() : PriorityQueueStore.inMemory(maxPriority, this.logger);
      }
      const queue = new Queue(settings, store, this.withPolicy(host, name, options, declaration.arguments));
      host.queues.set(name, queue);
      queue.attach(this.queueEvents);
      if (exclusiveOwner !== null) {
        let owned = this.exclusiveQueues.get(exclusiveOwner);
        if (owned === undefined) this.exclusiveQueues.set(exclusiveOwner, (owned = new Set()));
        owned.add(queue);
      }
      return queue;
    });
  }

  /** A stream queue (streams/): its topic made or adopted, then its definition stored. */
  private async declareStream(host: VirtualHost, name: string, declaration: QueueDeclaration): Promise<Queue> {
    const settings = { virtualHost: host.name, name, durable: declaration.durable, exclusiveOwner: null, autoDelete: declaration.autoDelete, arguments: declaration.arguments, storageId: `stream-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}` };
    const queue = await this.streams.declare(settings, declaration);
    await this.storage.definitions.putQueue({ virtualHost: host.name, name, storageId: settings.storageId, autoDelete: false, arguments: settings.arguments });
    host.queues.set(name, queue);
    return queue;
  }

  deleteQueue(host: VirtualHost, name: string, options: { readonly ifUnused: boolean; readonly ifEmpty: boolean }, requester: Requester): Promise<number> {
    return this.serially(async () => {
      const queue = host.queues.get(name);
      if (queue === undefined) return 0; // RabbitMQ: deleting what is not there succeeds
      checkExclusiveAccess(queue, requester);
      // Where the queue is served (in a cluster, perhaps another broker): its consumers and messages are there.
      const { messageCount, consumerCount } = await queue.servedCounts();
      if (options.ifUnused && consumerCount > 0) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - queue '${name}' in vhost '${host.name}' in use`);
      if (options.ifEmpty && messageCount > 0) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - queue '${name}' in vhost '${host.name}' not empty`);
      await this.removeQueue(host, queue, true);
      return messageCount;
    });
  }

  /** A queue whose last consumer went (auto-delete). */
  autoDeleteQueue(queue: Queue): void {
    if (this.judgedElsewhere(queue)) return;
    void this.serially(async () => {
      const host = this.virtualHosts.get(queue.virtualHost);
      if (host === undefined || queue.deleted || queue.consumerCount > 0 || host.queues.get(queue.name) !== queue) return;
      await this.removeQueue(host, queue, true);
    }).catch((error: unknown) => this.logger.error('amqp auto-delete of a queue failed', { queue: queue.name, error: String(error) }));
  }

  /** x-expires: a queue unused for its time is deleted, as by queue.delete. */
  private expireQueue(queue: Queue): void {
    if (this.judgedElsewhere(queue)) {
      // Looked at again later: should this broker come to serve it, it judges from then on (queue.ts lastUseMs).
      queue.touch();
      return;
    }
    void this.serially(async () => {
      const host = this.virtualHosts.get(queue.virtualHost);
      if (host === undefined || queue.deleted || queue.consumerCount > 0 || host.queues.get(queue.name) !== queue) return;
      this.logger.info('amqp queue expired (x-expires): deleted', { virtualHost: host.name, queue: queue.name });
      await this.removeQueue(host, queue, true);
    }).catch((error: unknown) => this.logger.error('amqp deletion of an expired queue failed', { queue: queue.name, error: String(error) }));
  }

  /** The options of a restored queue; its arguments were checked when it was declared. */
  private restoredOptions(definition: QueueDefinition): QueueOptions {
    try {
      return queueOptionsFromArguments(definition.arguments, definition.name, definition.virtualHost);
    } catch (error) {
      this.logger.warn('amqp queue arguments no longer valid: the queue is restored without them', { queue: definition.name, error: (error as Error).message });
      return defaultQueueOptions;
    }
  }

  /**
   * Removes the queue (its definition from the store too when `storedDefinition`); exchanges left
   * without bindings by it are auto-deleted unless `locally` (a removal another broker made, which
   * made its own auto-deletions). A queue kept by the cluster has its replicated log deleted when
   * `deleteReplicatedLog` (by the broker that deleted it), else only its store here closes.
   */
  private async removeQueue(host: VirtualHost, queue: Queue, storedDefinition: boolean, locally = false, deleteReplicatedLog = storedDefinition): Promise<void> {
    if (storedDefinition && queue.settings.storageId !== '') await this.storage.definitions.removeQueue(host.name, queue.name);
    host.queues.delete(queue.name);
    queue.markDeleted();
    const owner = queue.settings.exclusiveOwner;
    if (owner !== null) this.exclusiveQueues.get(owner)?.delete(queue);
    queue.cancelConsumers();
    if (locally) for (const exchange of host.exchanges.values()) exchange.matcher.removeDestination(queue);
    else await this.forgetDestination(host, queue);
    if (queue.store instanceof LedQueueStore && this.storage.replicated !== undefined) await this.storage.replicated.remove(queue.settings.storageId, deleteReplicatedLog);
    else await queue.store.delete();
  }

  /** queue.purge, where the queue is served (queue.ts purge): how many ready messages it removed. */
  purgeQueue(host: VirtualHost, name: string, requester: Requester): Promise<number> {
    return this.queue(host, name, requester).purge();
  }

  /** The connection is gone: its exclusive queues go with it. */
  connectionClosed(connectionId: number): void {
    const owned = this.exclusiveQueues.get(connectionId);
    if (owned === undefined) return;
    this.exclusiveQueues.delete(connectionId);
    for (const queue of owned) {
      void this.serially(async () => {
        const host = this.virtualHosts.get(queue.virtualHost);
        if (host !== undefined && !queue.deleted) await this.removeQueue(host, queue, true);
      }).catch((error: unknown) => this.logger.error('amqp removal of an exclusive queue failed', { queue: queue.name, error: String(error) }));
    }
  }

  // ── bindings ──────────────────────────────────────────────────────────────────────────────

  bindQueue(host: VirtualHost, request: BindingRequest, requester: Requester): Promise<void> {
    return this.serially(async () => {
      const queue = this.queue(host, request.destination, requester);
      const source = this.bindableSource(host, request.source);
      await this.addBinding(host, source, queue, request);
    });
  }

  unbindQueue(host: VirtualHost, request: BindingRequest, requester: Requester): Promise<void> {
    return this.serially(async () => {
      const queue = this.queue(host, request.destination, requester);
      const source = this.bindableSource(host, request.source);
      await this.removeBinding(host, source, queue, request);
    });
  }

  bindExchange(host: VirtualHost, request: BindingRequest): Promise<void> {
    return this.serially(async () => {
      const destination = this.bindableSource(host, request.destination);
      const source = this.bindableSource(host, request.source);
      await this.addBinding(host, source, destination, request);
    });
  }

  unbindExchange(host: VirtualHost, request: BindingRequest): Promise<void> {
    return this.serially(async () => {
      const destination = this.bindableSource(host, request.destination);
      const source = this.bindableSource(host, request.source);
      await this.removeBinding(host, source, destination, request);
    });
  }

  /** An exchange-to-topic binding (osprey exchange bind-topic): what the exchange routes there is appended to the topic. */
  bindTopic(host: VirtualHost, request: BindingRequest): Promise<void> {
    return this.serially(async () => {
      const source = this.bindableSource(host, request.source);
      await this.addBinding(host, source, this.streams.topicTarget(host.name, request.destination), request);
    });
  }

  unbindTopic(host: VirtualHost, request: BindingRequest): Promise<void> {
    return this.serially(async () => {
      const source = this.bindableSource(host, request.source);
      await this.removeBinding(host, source, this.streams.topicTarget(host.name, request.destination, true), request);
    });
  }

  private bindableSource(host: VirtualHost, name: string): Exchange {
    if (name === '') throw defaultExchangeRefusal();
    return this.exchange(host, name);
  }

  private async addBinding(host: VirtualHost, source: Exchange, destination: Destination, request: BindingRequest): Promise<void> {
    if (source.routingType === 'headers') {
      const problem = headersBindingError(request.arguments);
      if (problem !== undefined) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - ${problem}`);
    }
    const binding = { destination, routingKey: request.routingKey, arguments: request.arguments };
    if (this.bindingCount() >= this.limits.maxBindings) throw limitReached(`a binding from exchange '${source.name}'`, host.name, 'binding', this.limits.maxBindings, 'amqp.maxBindings');
    if (isDurable(source) && isStoredDestination(destination)) await this.storage.definitions.putBinding(bindingDefinition(host, source, destination, request));
    source.matcher.add(binding);
  }

  private async removeBinding(host: VirtualHost, source: Exchange, destination: Destination, request: BindingRequest): Promise<void> {
    const binding = { destination, routingKey: request.routingKey, arguments: request.arguments };
    if (isDurable(source) && isStoredDestination(destination)) await this.storage.definitions.removeBinding(bindingDefinition(host, source, destination, request));
    if (source.matcher.remove(binding) && source.settings.autoDelete && source.matcher.size === 0) await this.removeExchange(host, source);
  }

  // ── policies ──────────────────────────────────────────────────────────────────────────────

  /** One virtual host's policies, or every one's; by virtual host, then name. */
  policies(virtualHost?: string): Policy[] {
    return this.policySet.list(virtualHost);
  }

  policy(virtualHost: string, name: string): Policy | undefined {
    return this.policySet.get(virtualHost, name);
  }

  /**
   * Adds or replaces a policy (checked by parsePolicy: PolicyValidationError when refused), stores
   * it, and applies it to what it now covers; true when it is new.
   */
  setPolicy(virtualHost: string, name: string, input: PolicyInput): Promise<boolean> {
    return this.serially(async () => {
      const host = this.existingVirtualHost(virtualHost);
      const policy = parsePolicy(virtualHost, name, input);
      const isNew = this.policySet.get(virtualHost, name) === undefined;
      if (isNew && this.policySet.size >= maxPolicies) throw new PolicyValidationError(`the policy limit (${maxPolicies}) is reached: delete one first`);
      await this.storage.definitions.putPolicy(policyRecord(policy));
      this.policySet.put(policy);
      this.applyPolicies(host);
      this.logger.info('amqp policy set', { virtualHost, policy: name, pattern: policy.pattern, applyTo: policy.applyTo, priority: policy.priority });
      return isNew;
    });
  }

  /** Removes a policy (404 when there is none); what it covered gets the next policy that matches, or none. */
  deletePolicy(virtualHost: string, name: string): Promise<void> {
    return this.serially(async () => {
      const host = this.existingVirtualHost(virtualHost);
      if (this.policySet.get(virtualHost, name) === undefined) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no policy '${name}' in vhost '${virtualHost}'`);
      await this.storage.definitions.removePolicy(virtualHost, name);
      this.policySet.remove(virtualHost, name);
      this.applyPolicies(host);
      this.logger.info('amqp policy deleted', { virtualHost, policy: name });
    });
  }

  /** The policy that applies to a queue (its type from its arguments) or an exchange; null when none. */
  appliedPolicy(entity: Queue | Exchange): Policy | null {
    if (entity instanceof Queue) return this.policySet.forQueue(entity.virtualHost, entity.name, entity.options.queueType);
    if (entity.isDefault) return null;
    return this.policySet.forExchange(entity.settings.virtualHost, entity.name);
  }

  private existingVirtualHost(name: string): VirtualHost {
    const host = this.virtualHosts.get(name);
    if (host === undefined) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no vhost '${name}'`);
    return host;
  }

  /** Gives every queue and exchange of the virtual host what its policy (now) asks. */
  private applyPolicies(host: VirtualHost): void {
    for (const queue of host.queues.values()) {
      const options = this.withPolicy(host, queue.name, this.argumentOptions(queue), queue.settings.arguments);
      // Only a queue whose options change is told: applying options may cost the queue some work.
      if (!sameQueueOptions(options, queue.options)) queue.applyOptions(options);
    }
    for (const exchange of host.exchanges.values()) this.applyExchangePolicy(host, exchange);
  }

  private applyExchangePolicy(host: VirtualHost, exchange: Exchange): void {
    if (exchange.isDefault) return; // it routes by queue name, never to an alternate exchange
    exchange.alternateExchange = effectiveAlternateExchange(exchange.argumentAlternateExchange, this.policySet.forExchange(host.name, exchange.name));
  }

  /** A queue's options: those of its arguments (queue-options.ts) combined with the policy that applies to it. */
  private withPolicy(host: VirtualHost, name: string, fromArguments: QueueOptions, args: FieldTable): QueueOptions {
    return effectiveQueueOptions(fromArguments, this.policySet.forQueue(host.name, name, fromArguments.queueType), args);
  }

  /** A running queue's options from its arguments alone (checked at declare; restoredOptions said so if they no longer pass). */
  private argumentOptions(queue: Queue): QueueOptions {
    try {
      return queueOptionsFromArguments(queue.settings.arguments, queue.name, queue.virtualHost);
    } catch {
      return defaultQueueOptions;
    }
  }

  /** A stored policy back in the set; one that no longer passes the checks is left out (and said so). */
  private restorePolicy(record: PolicyRecord): void {
    if (!this.virtualHosts.has(record.virtualHost)) return;
    try {
      this.policySet.put(parsePolicy(record.virtualHost, record.name, { pattern: record.pattern, definition: record.definition, priority: record.priority, applyTo: record.applyTo }));
    } catch (error) {
      this.logger.warn('a stored amqp policy is not valid and is not applied', { virtualHost: record.virtualHost, policy: record.name, error: error instanceof Error ? error.message : String(error) });
    }
  }

  // ── counts (for the limits; entities are few enough to count when one is added) ──────────

  queueCount(): number {
    let count = 0;
    for (const host of this.virtualHosts.values()) count += host.queues.size;
    return count;
  }

  /** Declared exchanges: the predeclared ones of each virtual host do not count. */
  exchangeCount(): number {
    let count = 0;
    for (const host of this.virtualHosts.values()) count += host.exchanges.size - host.predeclaredExchangeCount;
    return count;
  }

  bindingCount(): number {
    let count = 0;
    for (const host of this.virtualHosts.values()) for (const exchange of host.exchanges.values()) count += exchange.matcher.size;
    return count;
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────

  /**
   * A durable queue's store. In a cluster, its replicated log (a priority queue's too, ordered by
   * priority-dispositions.ts). On a single broker, a priority queue's is one store per priority
   * level, each opened as an ordinary queue's is; so is a clustered priority queue's that already
   * has such a folder here (declared before priority queues were replicated: it keeps its messages).
   */
  private async openDurableQueueStore(directory: string, options: QueueOptions, queue: QueueAddress): Promise<QueueStore> {
    const maxPriority = priorityLevels(options);
    const replicated = this.storage.replicated;
    if (replicated !== undefined && (maxPriority === null || !(await pathExists(directory)))) return replicated.store(basename(directory), queue, maxPriority ?? 0);
    if (maxPriority === null) return this.storage.openDurableStore(directory);
    return PriorityQueueStore.open(directory, maxPriority, (levelDirectory) => this.storage.openDurableStore(levelDirectory), this.logger);
  }

  /** Flushes and closes every queue store and the definitions store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // First, before any store closes: no queue's turn (expiry, dead-lettering, drop-head) runs any more.
    for (const host of this.virtualHosts.values()) for (const queue of host.queues.values()) queue.stop();
    await this.chain.catch(() => undefined);
    // Delayed stores first: a message being routed reaches its queues before they close.
    const delayedStores = [...this.virtualHosts.values()].flatMap((host) => [...host.exchanges.values()].flatMap((exchange) => (exchange.delayedMessages === null ? [] : [exchange.delayedMessages])));
    await mapConcurrently(delayedStores, this.storage.openConcurrency ?? defaultOpenConcurrency, (store) =>
      store.close().catch((error: unknown) => this.logger.error('amqp delayed message store failed to close', { directory: store.directory, error: String(error) })),
    );
    await this.streams.close();
    const queues = [...this.virtualHosts.values()].flatMap((host) => [...host.queues.values()]);
    await mapConcurrently(queues, this.storage.openConcurrency ?? defaultOpenConcurrency, (queue) =>
      queue.store.close().catch((error: unknown) => this.logger.error('amqp queue store failed to close', { queue: queue.name, error: String(error) })),
    );
    await this.storage.definitions.close();
  }

  // ── delayed exchanges ─────────────────────────────────────────────────────────────────────

  /** Messages held by every x-delayed-message exchange together. */
  delayedMessageCount(): number {
    let count = 0;
    for (const host of this.virtualHosts.values()) for (const exchange of host.exchanges.values()) count += exchange.delayedMessages?.heldCount ?? 0;
    return count;
  }

  private async openDelayedStores(exchanges: readonly Exchange[]): Promise<void> {
    await mapConcurrently(exchanges, this.storage.openConcurrency ?? defaultOpenConcurrency, (exchange) => this.openDelayedStore(exchange, true));
  }

  private async openDelayedStore(exchange: Exchange, recover: boolean): Promise<void> {
    const delayed = this.storage.delayed;
    if (delayed === undefined) throw new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - exchange type '${exchange.type}' needs a data directory`);
    const { durable } = exchange.settings;
    const storageId = durable ? delayedStorageId(exchange.settings.virtualHost, exchange.name) : `transient-${randomBytes(8).toString('hex')}`;
    exchange.delayedMessages = await delayed.open(join(delayed.directory, storageId), { recover, durable });
  }

  /** Routes a delayed message that fell due: through the exchange as it is bound now, into the queues reached. */
  private delayedRouter(exchange: Exchange): DelayedRouter {
    const routed = new Set<Queue>();
    // A queue that refuses the message (full, reject-publish) does not get it; the others do.
    const refusals = { refused: false };
    return (message) => {
      const host = this.virtualHosts.get(exchange.settings.virtualHost);
      if (host === undefined || exchange.deleted) return null;
      routed.clear();
      host.route(exchange, message.routingKey, headersOf(message.properties), routed);
      const durable = appendToQueues(routed, message, refusals);
      routed.clear();
      return durable;
    };
  }

  /**
   * Runs `work` after everything queued before it. Refused because the cluster's shared definitions
   * changed meanwhile (DefinitionsConflict), it is queued again, behind the change that refused it,
   * and so answers as if it had known of it.
   */
  private serially<T>(work: () => Promise<T>, attempt = 1): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next.catch((error: unknown) => {
      if (!(error instanceof DefinitionsConflict)) throw error;
      if (attempt < maxConflictAttempts) return this.serially(work, attempt + 1);
      throw new AmqpChannelError(replyCodes.resourceError, `RESOURCE_ERROR - the shared definitions kept changing (${maxConflictAttempts} attempts): try again`);
    });
  }
}

/** Removes the folders of durable queues that no definition names (a crash between creating one and recording it). */
export async function removeUnknownQueueFolders(queuesDirectory: string, known: ReadonlySet<string>, present: readonly string[], logger: Logger): Promise<void> {
  for (const folder of present) {
    if (known.has(folder)) continue;
    logger.warn('removing the folder of an unrecorded amqp queue', { folder });
    await rm(join(queuesDirectory, folder), { recursive: true, force: true });
  }
}

function policyRecord(policy: Policy): PolicyRecord {
  const { virtualHost, name, pattern, applyTo, priority, definition } = policy;
  return { virtualHost, name, pattern, applyTo, priority, definition };
}

/**
 * The folder of a durable delayed exchange's store, named after the exchange so that it is found
 * again at start-up without a definition field of its own: 32 hex digits of a SHA-256 of the
 * virtual host and name. Non-durable ones get a random `transient-…` name, removed at start-up.
 */
export function delayedStorageId(virtualHost: string, name: string): string {
  return createHash('sha256').update(virtualHost).update('\u0000').update(name).digest('hex').slice(0, 32);
}

/** Why these exchange settings cannot be declared (an x-delayed-message exchange without a valid x-delayed-type); null when they can. */
function exchangeProblem(settings: ExchangeSettings): string | null {
  if (settings.type !== delayedExchangeType) return null;
  const routingType = delayedRoutingType(settings.arguments);
  return typeof routingType === 'string' ? null : routingType.problem;
}

function isDurable(exchange: Exchange): boolean {
  return exchange.settings.durable;
}

/** The highest priority of a priority queue (x-max-priority 1…255); null for an ordinary queue (none, or 0 as RabbitMQ reads it). */
function priorityLevels(options: QueueOptions): number | null {
  return options.maxPriority === 0 ? null : options.maxPriority;
}

function isStoredDestination(destination: Destination): boolean {
  return destination instanceof Queue ? destination.settings.storageId !== '' : destination.settings.durable;
}

function bindingDefinition(host: VirtualHost, source: Exchange, destination: Destination, request: BindingRequest): BindingDefinition {
  return {
    virtualHost: host.name,
    source: source.name,
    destinationKind: destination instanceof TopicTarget ? 'topic' : destination instanceof Queue ? 'queue' : 'exchange',
    destination: destination.name,
    routingKey: request.routingKey,
    arguments: request.arguments,
  };
}

function limitReached(what: string, virtualHost: string, kind: string, limit: number, setting: string): AmqpChannelError {
  return new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - cannot declare ${what} in vhost '${virtualHost}': ${kind} limit (${limit}, ${setting}) is reached`);
}

function checkExclusiveAccess(queue: Queue, requester: Requester): void {
  const owner = queue.settings.exclusiveOwner;
  if (owner !== null && requester !== null && owner !== requester) throw lockedQueue(queue.name, queue.virtualHost);
}

function lockedQueue(name: string, virtualHost: string): AmqpChannelError {
  return new AmqpChannelError(
    replyCodes.resourceLocked,
    `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${name}' in vhost '${virtualHost}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
  );
}

function defaultExchangeRefusal(): AmqpChannelError {
  return new AmqpChannelError(replyCodes.accessRefused, 'ACCESS_REFUSED - operation not permitted on the default exchange');
}

function checkName(name: string, kind: string): void {
  if (Buffer.byteLength(name, 'utf8') > maxNameBytes) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - ${kind} name is longer than ${maxNameBytes} bytes`);
}

function checkEquivalent(argument: string, what: string, received: string | boolean, current: string | boolean): void {
  if (received !== current) {
    throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - inequivalent arg '${argument}' for ${what}: received '${String(received)}' but current is '${String(current)}'`);
  }
}

/**
 * Declared arguments must match what the queue or exchange has, as RabbitMQ compares them: by name,
 * in any order, integers by value whatever their wire width (amqplib sends 10 as a byte, the Java
 * client and pika as an int32: the same argument), everything else by type and value.
 */
/** Quorum queues (kept like durable classic queues here) must be durable and shared, as RabbitMQ requires. */
function checkQueueType(options: QueueOptions, declaration: QueueDeclaration, name: string, virtualHost: string): void {
  if (options.queueType !== 'quorum') return;
  const invalid = (property: string): AmqpChannelError => new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - invalid property '${property}' for queue '${name}' in vhost '${virtualHost}'`);
  if (!declaration.durable) throw invalid('non-durable');
  if (declaration.exclusive) throw invalid('exclusive');
  if (declaration.autoDelete) throw invalid('auto-delete');
}

function checkEquivalentArguments(what: string, received: FieldTable, current: FieldTable): void {
  const name = inequivalentArgument(received, current);
  if (name !== null) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - inequivalent arg '${name}' for ${what}`);
}

/** The first argument the two tables do not hold equivalently; null when they are equivalent. */
function inequivalentArgument(received: FieldTable, current: FieldTable): string | null {
  const names = new Set([...received.keys(), ...current.keys()]);
  for (const name of names) {
    const left = received.get(name);
    const right = current.get(name);
    if (left === undefined || right === undefined || !equivalentValues(left, right)) return name;
  }
  return null;
}

function sameExchangeSettings(left: ExchangeSettings, right: ExchangeSettings): boolean {
  return left.type === right.type && left.durable === right.durable && left.autoDelete === right.autoDelete && left.internal === right.internal && inequivalentArgument(left.arguments, right.arguments) === null;
}

const integerTypes = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64']);

function equivalentValues(left: FieldValue, right: FieldValue): boolean {
  if (integerTypes.has(left.type) && integerTypes.has(right.type)) {
    return BigInt((left as { value: number | bigint }).value) === BigInt((right as { value: number | bigint }).value);
  }
  return encodedTable(new Map([['', left]])).equals(encodedTable(new Map([['', right]])));
}

function encodedTable(table: FieldTable): Buffer {
  const writer = new Writer();
  writeFieldTable(writer, table);
  return writer.toBuffer();
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
