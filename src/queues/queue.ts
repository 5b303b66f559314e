/**
 * An AMQP queue: its store (a log plus dispositions, queue-store/), the consumers competing for its
 * messages, and the dispatch that hands each ready message to the next consumer able to take it
 * (round-robin, skipping consumers whose prefetch window or connection is full).
 *
 * Dispatch runs once per event-loop turn at most (scheduleDispatch), so a burst of publishes or
 * acks in one turn becomes one pass that delivers as many messages as the consumers will take.
 */
import type { FieldTable } from '../protocol/amqp/field-table.js';
import { defaultQueueOptions, type QueueOptions } from './queue-options.js';
import type { QueueStore } from './queue-store/queue-store-api.js';
import type { QueuedMessage } from './queue-store/stored-message.js';

/** Something that takes deliveries from a queue: a basic.consume on some channel. */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** Whether it may take one more message now (prefetch, flow, socket). */
  canTake(): boolean;
  /** Hands over a taken message. */
  deliver(queue: Queue, message: QueuedMessage): void;
  /** The queue was deleted: the consumer is cancelled by the broker. */
  cancelledByBroker(queue: Queue): void;
}

export interface QueueSettings {
  readonly virtualHost: string;
  readonly name: string;
  readonly durable: boolean;
  /** The connection owning an exclusive queue; null for shared queues. */
  readonly exclusiveOwner: number | null;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
  /** Folder name of a durable queue's store; '' for queues kept in memory. */
  readonly storageId: string;
}

export class Queue {
  private consumers: QueueConsumer[] = [];
  private nextConsumerIndex = 0;
  private dispatchScheduled = false;
  /** An auto-delete queue goes once it has had a consumer and has none left. */
  private hadConsumer = false;
  deleted = false;
  /** What its arguments and policy ask of it (queue-options.ts); applyOptions changes it. */
  private currentOptions: QueueOptions;

  constructor(
    readonly settings: QueueSettings,
    readonly store: QueueStore,
    options: QueueOptions = defaultQueueOptions,
  ) {
    this.currentOptions = options;
    store.onReady(() => this.scheduleDispatch());
  }

  get options(): QueueOptions {
    return this.currentOptions;
  }

  /** New effective options (a policy was set, changed or cleared). */
  applyOptions(options: QueueOptions): void {
    this.currentOptions = options;
  }

  get name(): string {
    return this.settings.name;
  }

  get virtualHost(): string {
    return this.settings.virtualHost;
  }

  get durable(): boolean {
    return this.settings.durable;
  }

  /** Ready messages: what queue.declare-ok, get-ok and purge-ok report, as RabbitMQ counts. */
  get messageCount(): number {
    return this.store.readyCount;
  }

  get unackedCount(): number {
    return this.store.unackedCount;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.some((consumer) => consumer.exclusive);
  }

  addConsumer(consumer: QueueConsumer): void {
    this.consumers.push(consumer);
    this.hadConsumer = true;
    this.scheduleDispatch();
  }

  /** Removes a consumer; true when the queue should now be auto-deleted. */
  removeConsumer(consumer: QueueConsumer): boolean {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) {
      this.consumers.splice(index, 1);
      if (this.nextConsumerIndex > index) this.nextConsumerIndex--;
    }
    return this.settings.autoDelete && this.hadConsumer && this.consumers.length === 0;
  }

  /** The consumers, cancelled by the broker because the queue is being deleted. */
  cancelConsumers(): void {
    const cancelled = this.consumers;
    this.consumers = [];
    for (const consumer of cancelled) consumer.cancelledByBroker(this);
  }

  /** basic.get: the next ready message, taken; null when none is ready now. */
  take(): QueuedMessage | null {
    return this.store.takeNext();
  }

  /** An acknowledged (or dropped) delivery. */
  settle(message: QueuedMessage): void {
    this.store.settle(message);
    this.scheduleDispatch();
  }

  /** A delivery given back: ready again, flagged redelivered. */
  requeue(message: QueuedMessage): void {
    this.store.requeue(message);
  }

  /** Called when a consumer may take messages again (an ack, qos, flow, a drained socket). */
  scheduleDispatch(): void {
    if (this.dispatchScheduled || this.deleted || this.consumers.length === 0) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    let refusals = 0;
    while (!this.deleted && this.consumers.length > 0 && refusals < this.consumers.length) {
      if (this.nextConsumerIndex >= this.consumers.length) this.nextConsumerIndex = 0;
      const consumer = this.consumers[this.nextConsumerIndex]!;
      if (!consumer.canTake()) {
        this.nextConsumerIndex++;
        refusals++;
        continue;
      }
      const message = this.store.takeNext();
      // Nothing ready: this consumer keeps its turn for the next message.
      if (message === null) return;
      this.nextConsumerIndex++;
      refusals = 0;
      consumer.deliver(this, message);
    }
  }
}
