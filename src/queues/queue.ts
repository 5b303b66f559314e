/**
 * An AMQP queue: its store (a log plus dispositions, queue-store/), the consumers competing for its
 * messages, the dispatch that hands each ready message to the next consumer able to take it
 * (round-robin, skipping consumers whose prefetch window or connection is full), and what its
 * options (queue-options.ts: x- arguments and policy) ask of it:
 *
 *   x-max-length(-bytes)   enqueue() refuses a publish that would go past the limit (reject-publish,
 *                          reject-publish-dlx), or the oldest ready messages are dropped (drop-head)
 *   message TTL            a ready message at the head whose time is up is removed, by a timer set
 *                          for the head's expiry, consumers or not; one that expired behind a
 *                          longer-lived head goes when it reaches the head or a consumer (as RabbitMQ)
 *   dead-lettering         what is dropped, expired or rejected goes to the dead-letter exchange
 *                          (QueueEvents.deadLetter, dead-lettering.ts) and is settled once stored there
 *   x-delivery-limit       a message given back more times than that is dead-lettered instead
 *   single active consumer only the first consumer still registered gets messages
 *   x-expires              a queue unused (no consumer, no basic.get, no redeclare) that long is deleted
 *
 * Work runs once per event-loop turn at most (scheduleTurn), so a burst of publishes or acks in one
 * turn becomes one pass: deliver what the consumers will take, expire the head, drop past the limit.
 */
import { AmqpChannelError } from '../protocol/amqp/errors.js';
import type { FieldTable } from '../protocol/amqp/field-table.js';
import { replyCodes } from '../protocol/amqp/reply-codes.js';
import { propertiesWithDeliveryCount, type DeathReason } from './dead-lettering.js';
import { defaultQueueOptions, type QueueOptions } from './queue-options.js';
import type { AppendedMessage, QueueStore, ServedGet, ServedQueueCounts } from './queue-store/queue-store-api.js';
import { InExclusiveUseError } from './queue-store/remote-queue-source.js';
import type { QueuedMessage, StoredMessage } from './queue-store/stored-message.js';

/** How long servedCounts waits for the broker serving a queue before it gives this broker's own counts. */
const servedCountsTimeoutMs = 2_000;

/** Something that takes deliveries from a queue: a basic.consume on some channel. */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** How many unacknowledged deliveries it may hold (its prefetch limit); 0: no limit. */
  readonly deliveryWindow: number;
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

/** What a queue asks of the broker around it (queue-broker.ts provides it). */
export interface QueueEvents {
  /**
   * Routes a copy of `message`, dead-lettered for `reason`, through the queue's dead-letter
   * exchange; resolves once it is stored durably where it went; null when there is nothing to wait
   * for (no dead-letter exchange, routed nowhere, or only where nothing is kept on disk).
   */
  deadLetter(queue: Queue, message: StoredMessage, reason: DeathReason): Promise<unknown> | null;
  /** x-expires: the queue went unused for its time and is to be deleted. */
  expired(queue: Queue): void;
}

export class Queue {
  private consumers: QueueConsumer[] = [];
  private nextConsumerIndex = 0;
  private turnScheduled = false;
  /** An auto-delete queue goes once it has had a consumer and has none left. */
  private hadConsumer = false;
  deleted = false;
  /** The broker is shutting down (stop()): no more turns or timers, while the stores close. */
  private stopped = false;
  /** What its arguments and policy ask of it (queue-options.ts); applyOptions changes it. */
  private currentOptions: QueueOptions;
  private events: QueueEvents | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private expiryTimerAtMs = Number.POSITIVE_INFINITY;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastUsedAtMs = Date.now();
  /**
   * Whether a ready message may carry an expiration of its own: one was published here, or the
   * queue was restored with messages (which may). Until then a queue without consumers, TTL or
   * drop-head limit has nothing to do on a turn, and does not take one.
   */
  private mayHoldExpiringMessages: boolean;

  constructor(
    readonly settings: QueueSettings,
    readonly store: QueueStore,
    options: QueueOptions = defaultQueueOptions,
  ) {
    this.currentOptions = options;
    this.mayHoldExpiringMessages = store.readyCount > 0;
    store.onReady(() => this.scheduleDispatch());
  }

  get options(): QueueOptions {
    return this.currentOptions;
  }

  /** Connects the queue to the broker around it (dead-lettering, x-expires); starts its timers. */
  attach(events: QueueEvents): void {
    this.events = events;
    this.touch();
    this.scheduleDispatch();
  }

  /** New effective options (a policy was set, changed or cleared): limits and TTL apply from the next turn. */
  applyOptions(options: QueueOptions): void {
    this.currentOptions = options;
    this.clearExpiryTimer();
    this.armIdleTimer();
    this.scheduleDispatch();
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

  /** The consumer that gets the messages of a single-active-consumer queue; null otherwise or when none. */
  get activeConsumer(): QueueConsumer | null {
    return this.currentOptions.singleActiveConsumer ? (this.consumers[0] ?? null) : null;
  }

  // ── publishing ────────────────────────────────────────────────────────────────────────────

  /**
   * Takes a published (or dead-lettered) message; null when the queue refuses it: full, with
   * overflow reject-publish or reject-publish-dlx (which dead-letters it).
   */
  enqueue(message: StoredMessage): AppendedMessage | null {
    const options = this.currentOptions;
    if (options.overflow !== 'drop-head' && this.wouldOverflow(message, options)) {
      if (options.overflow === 'reject-publish-dlx') void this.events?.deadLetter(this, message, 'maxlen');
      return null;
    }
    if (message.expiresAtMs !== null) this.mayHoldExpiringMessages = true;
    const appended = this.store.append(message);
    // A TTL of 0: deliverable only to a consumer able to take it now, so dispatch now, at the
    // publish's time, instead of on the next turn, when it would have expired.
    if (this.expiresAtMs(message) <= message.publishedAtMs && this.consumers.length > 0) this.dispatch(message.publishedAtMs);
    return appended;
  }

  /**
   * Whether a confirm of `message` waits for this queue's disk: a persistent message in a queue
   * kept on disk, or any message in a store that keeps them all (a topic).
   */
  holdsDurably(message: StoredMessage): boolean {
    return this.settings.storageId !== '' && (message.persistent || this.store.keepsTransientMessages === true);
  }

  private wouldOverflow(message: StoredMessage, options: QueueOptions): boolean {
    return (options.maxLength !== null && this.store.readyCount + 1 > options.maxLength) || (options.maxLengthBytes !== null && this.store.readyBytes + message.body.length > options.maxLengthBytes);
  }

  // ── consumers ─────────────────────────────────────────────────────────────────────────────

  /**
   * basic.consume of a queue another broker serves asks that broker first (remote-queue-source.ts,
   * admit): refused with 403 when the queue is in exclusive use there (or has consumers and an
   * exclusive consumer is asked for), with 404 when an exclusive consumer is asked for and that
   * broker cannot be reached. Null when there is nothing to ask: addConsumer at once.
   */
  admitConsumer(exclusive: boolean, deliveryWindow: number): Promise<void> | null {
    const asked = this.store.admitConsumer?.(exclusive, deliveryWindow) ?? null;
    if (asked === null) return null;
    return asked.catch((error: unknown) => {
      this.noteConsumers();
      throw error instanceof InExclusiveUseError ? this.inExclusiveUse() : this.serverUnreachable(error);
    });
  }

  /**
   * Tells the store the consumers as they are (also after an admission that added none: a
   * subscription made for it closes, unless consumers came meanwhile).
   */
  noteConsumers(): void {
    if (this.store.consumersChanged === undefined) return;
    let window = 0;
    for (const consumer of this.consumers) {
      if (consumer.deliveryWindow === 0) {
        window = 0;
        break;
      }
      window += consumer.deliveryWindow;
    }
    this.store.consumersChanged(this.consumers.length, window);
  }

  /** basic.consume refused: the queue has an exclusive consumer, or consumers when an exclusive one is asked for. */
  inExclusiveUse(): AmqpChannelError {
    return new AmqpChannelError(replyCodes.accessRefused, `ACCESS_REFUSED - queue '${this.name}' in vhost '${this.virtualHost}' in exclusive use`);
  }

  addConsumer(consumer: QueueConsumer): void {
    this.consumers.push(consumer);
    this.noteConsumers();
    this.hadConsumer = true;
    this.touch();
    this.scheduleDispatch();
  }

  /** Removes a consumer; true when the queue should now be auto-deleted. */
  removeConsumer(consumer: QueueConsumer): boolean {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) {
      this.consumers.splice(index, 1);
      this.noteConsumers();
      if (this.nextConsumerIndex > index) this.nextConsumerIndex--;
      this.touch();
      // A single-active-consumer queue hands over to the next consumer.
      if (index === 0) this.scheduleDispatch();
    }
    return this.settings.autoDelete && this.hadConsumer && this.consumers.length === 0;
  }

  /** The consumers, cancelled by the broker because the queue is being deleted. */
  cancelConsumers(): void {
    const cancelled = this.consumers;
    this.consumers = [];
    this.noteConsumers();
    for (const consumer of cancelled) consumer.cancelledByBroker(this);
  }

  /** basic.get: the next ready message that has not expired, taken; null when none is ready now. */
  take(): QueuedMessage | null {
    this.touch();
    return this.takeUnexpired(Date.now());
  }

  /**
   * basic.get of a queue another broker serves: the message is got there, with the count of ready
   * messages left there; null when the queue is served here (take() then). Expiry is that broker's
   * to apply.
   */
  takeFromServer(): Promise<ServedGet | null> | null {
    const fetched = this.store.takeFromServer?.() ?? null;
    if (fetched === null) return null;
    this.touch();
    return fetched.catch((error: unknown) => Promise.reject(this.serverUnreachable(error)));
  }

  /**
   * queue.purge: the ready messages removed where the queue is served, how many. A queue another
   * broker serves is purged there (404 when that broker cannot be reached).
   */
  async purge(): Promise<number> {
    const onServer = this.store.purgeOnServer?.() ?? null;
    if (onServer === null) return this.store.purge();
    return onServer.catch((error: unknown) => Promise.reject(this.serverUnreachable(error)));
  }

  /**
   * Ready messages and consumers as the broker serving the queue counts them (queue.declare-ok,
   * the admin API): this broker's own counts for a queue served here, or when the broker serving it
   * does not answer within servedCountsTimeoutMs.
   */
  async servedCounts(): Promise<ServedQueueCounts> {
    const own = (): ServedQueueCounts => ({ messageCount: this.messageCount, consumerCount: this.consumerCount });
    const asked = this.store.countsOnServer?.() ?? null;
    if (asked === null) return own();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), servedCountsTimeoutMs)));
    try {
      return (await Promise.race([asked.catch(() => null), timeout])) ?? own();
    } finally {
      clearTimeout(timer);
    }
  }

  /** A queue served by another broker of the cluster that cannot be reached now: RabbitMQ's 404 for a queue whose home node is down. */
  private serverUnreachable(error: unknown): AmqpChannelError {
    const reason = error instanceof Error ? error.message : String(error);
    return new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - queue '${this.name}' in vhost '${this.virtualHost}' is served by another broker of the cluster, which cannot be reached now (${reason})`.slice(0, 255));
  }

  // ── settling ──────────────────────────────────────────────────────────────────────────────

  /** An acknowledged delivery (or one dropped without dead-lettering). */
  settle(message: QueuedMessage): void {
    this.store.settle(message);
    this.scheduleDispatch();
  }

  /**
   * A delivery given back: ready again, flagged redelivered, its delivery count one higher; past
   * the delivery limit it is dead-lettered (reason delivery_limit) instead.
   */
  requeue(message: QueuedMessage): void {
    const limit = this.currentOptions.deliveryLimit;
    if (limit !== null && message.deliveryCount + 1 > limit) this.deadLetter(message, 'delivery_limit');
    else this.store.requeue(message);
  }

  /**
   * Given back by another broker of the cluster that held it for its consumers and closed its link
   * (queue-links.ts): ready again without a return counted, so messages it only buffered do not
   * creep towards x-delivery-limit. What its consumers gave back it nacks, and that counts.
   */
  giveBack(message: QueuedMessage): void {
    this.store.requeue(message, false);
  }

  /** basic.reject or basic.nack without requeue: dead-lettered (reason rejected), or dropped. */
  reject(message: QueuedMessage): void {
    this.deadLetter(message, 'rejected');
  }

  /** The properties a delivery carries: the stored ones, with x-delivery-count once the message has been given back. */
  deliveryProperties(message: QueuedMessage): Buffer {
    const properties = message.message.properties;
    if (message.deliveryCount === 0 || (this.currentOptions.deliveryLimit === null && this.currentOptions.queueType !== 'quorum')) return properties;
    return propertiesWithDeliveryCount(properties, message.deliveryCount);
  }

  /**
   * A taken message leaves the queue for `reason`: dead-lettered when the queue has a dead-letter
   * exchange (settled once stored there), settled at once otherwise.
   */
  private deadLetter(message: QueuedMessage, reason: DeathReason): void {
    const stored = this.events?.deadLetter(this, message.message, reason) ?? null;
    if (stored === null) {
      this.settle(message);
      return;
    }
    // Settled whatever happened there: a message that could not be stored is not kept here either.
    const settle = (): void => {
      if (!this.deleted) this.settle(message);
    };
    stored.then(settle, settle);
  }

  // ── the turn: dispatch, expiry, length limit ──────────────────────────────────────────────

  /** Called when there may be work: a publish, an ack, qos, flow, a drained socket, a timer. */
  scheduleDispatch(): void {
    if (this.turnScheduled || this.deleted || this.stopped) return;
    if (this.consumers.length === 0 && !this.needsUpkeep()) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      if (this.deleted || this.stopped) return;
      const nowMs = Date.now();
      this.dispatch(nowMs);
      this.expireHead(nowMs);
      this.dropOverflow();
    });
  }

  /** Whether a turn has work without consumers: expiring messages, or a drop-head limit to keep. */
  private needsUpkeep(): boolean {
    const options = this.currentOptions;
    return this.mayHoldExpiringMessages || options.messageTtlMs !== null || options.maxLength !== null || options.maxLengthBytes !== null;
  }

  private dispatch(nowMs: number): void {
    if (this.currentOptions.singleActiveConsumer) {
      this.dispatchTo(nowMs);
      return;
    }
    let refusals = 0;
    while (!this.deleted && this.consumers.length > 0 && refusals < this.consumers.length) {
      if (this.nextConsumerIndex >= this.consumers.length) this.nextConsumerIndex = 0;
      const consumer = this.consumers[this.nextConsumerIndex]!;
      if (!consumer.canTake()) {
        this.nextConsumerIndex++;
        refusals++;
        continue;
      }
      const message = this.takeUnexpired(nowMs);
      // Nothing ready: this consumer keeps its turn for the next message.
      if (message === null) return;
      this.nextConsumerIndex++;
      refusals = 0;
      consumer.deliver(this, message);
    }
  }

  /** Single active consumer: everything goes to the first consumer, while it can take. */
  private dispatchTo(nowMs: number): void {
    for (;;) {
      const consumer = this.consumers[0];
      if (this.deleted || consumer === undefined || !consumer.canTake()) return;
      const message = this.takeUnexpired(nowMs);
      if (message === null) return;
      consumer.deliver(this, message);
    }
  }

  /** The next ready message for a consumer, expired ones dead-lettered on the way. */
  private takeUnexpired(nowMs: number): QueuedMessage | null {
    for (;;) {
      const message = this.store.takeNext();
      if (message === null || !this.hasExpired(message, nowMs)) return message;
      this.deadLetter(message, 'expired');
    }
  }

  /** When a message expires here (its own expiration or the queue's TTL, whichever comes first); +∞ for never. */
  private expiresAtMs(message: StoredMessage): number {
    const ttl = this.currentOptions.messageTtlMs;
    const byQueue = ttl === null ? Number.POSITIVE_INFINITY : message.publishedAtMs + ttl;
    return message.expiresAtMs === null ? byQueue : Math.min(byQueue, message.expiresAtMs);
  }

  /** Expired once its time is past (a TTL of 0: after the dispatch at publish time, see enqueue). */
  private hasExpired(message: QueuedMessage, nowMs: number): boolean {
    return this.expiresAtMs(message.message) < nowMs;
  }

  /** Removes expired messages from the head; sets the timer for the next head's expiry. */
  private expireHead(nowMs: number): void {
    for (;;) {
      const head = this.store.peekNext();
      if (head === null) return;
      const expiresAtMs = this.expiresAtMs(head.message);
      if (expiresAtMs >= nowMs) {
        if (expiresAtMs !== Number.POSITIVE_INFINITY) this.armExpiryTimer(expiresAtMs, nowMs);
        return;
      }
      this.store.takeNext();
      this.deadLetter(head, 'expired');
    }
  }

  private armExpiryTimer(atMs: number, nowMs: number): void {
    if (this.stopped) return;
    if (this.expiryTimer !== null && this.expiryTimerAtMs <= atMs) return;
    this.clearExpiryTimer();
    this.expiryTimerAtMs = atMs;
    this.expiryTimer = setTimeout(
      () => {
        this.expiryTimer = null;
        this.expiryTimerAtMs = Number.POSITIVE_INFINITY;
        this.scheduleDispatch();
      },
      Math.min(atMs - nowMs + 1, 2 ** 31 - 1),
    );
    this.expiryTimer.unref();
  }

  private clearExpiryTimer(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.expiryTimerAtMs = Number.POSITIVE_INFINITY;
  }

  /** drop-head: while the ready messages are past a limit, the oldest goes (dead-lettered, reason maxlen). */
  private dropOverflow(): void {
    const { maxLength, maxLengthBytes, overflow } = this.currentOptions;
    if (overflow !== 'drop-head' || (maxLength === null && maxLengthBytes === null)) return;
    const store = this.store;
    while ((maxLength !== null && store.readyCount > maxLength) || (maxLengthBytes !== null && store.readyBytes > maxLengthBytes)) {
      const head = store.takeNext();
      if (head === null) return; // read from disk first: the next turn goes on
      this.deadLetter(head, 'maxlen');
    }
  }

  // ── x-expires ─────────────────────────────────────────────────────────────────────────────

  /** The queue was used (declared again, consumed from, got from): its x-expires time starts again. */
  touch(): void {
    this.lastUsedAtMs = Date.now();
    this.armIdleTimer();
  }

  /** When the queue was last used as far as this broker knows: not before it began serving it. */
  private get lastUseMs(): number {
    return Math.max(this.lastUsedAtMs, this.store.servedSinceMs ?? 0);
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const expiresMs = this.currentOptions.expiresMs;
    if (expiresMs === null || this.deleted || this.stopped || this.events === null || this.consumers.length > 0) return;
    const dueInMs = this.lastUseMs + expiresMs - Date.now();
    this.idleTimer = setTimeout(
      () => {
        this.idleTimer = null;
        if (this.deleted || this.consumers.length > 0) return;
        if (Date.now() - this.lastUseMs >= expiresMs) this.events?.expired(this);
        else this.armIdleTimer();
      },
      Math.max(0, Math.min(dueInMs, 2 ** 31 - 1)),
    );
    this.idleTimer.unref();
  }

  /**
   * The broker is shutting down: no turn runs any more (no dispatch, expiry or length limit, which
   * would dead-letter into queues whose stores are closing) and the timers stop. Messages may still
   * be appended (a delayed message falling due) until the store closes.
   */
  stop(): void {
    this.stopped = true;
    this.clearExpiryTimer();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** The queue is gone: its timers stop. */
  markDeleted(): void {
    this.deleted = true;
    this.clearExpiryTimer();
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
