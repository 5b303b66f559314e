/**
 * The messages of a queue served by another broker of the cluster, taken from there for the
 * consumers here (led-queue-store.ts uses it while this broker does not serve the queue). A
 * subscription on the serving broker (cluster/queue-links.ts: basic.consume over an inter-broker
 * AMQP link, manual acks, `linkWindow` messages unsettled at most) fills a buffer; the queue here
 * takes from the buffer as it takes from a store of its own, and its acks and requeues go back to
 * the serving broker by delivery tag:
 *
 *   consumers here 0 → n   subscribe
 *   delivery               buffered (ready here), notifyReady
 *   takeNext               out of the buffer, taken; settle → ack there, requeue → nack(requeue) there
 *   consumers here n → 0   unsubscribe once what they took is settled or given back: the serving
 *                          broker gives back what is still buffered
 *   subscription ended     (link lost, leadership moved) the buffer is dropped; acks of what it
 *                          gave are ignored (the serving broker gave those back already: they come
 *                          again, flagged redelivered); subscribe again after `resubscribeDelayMs`
 */
import type { Logger } from '../../logging/logger.js';
import type { ServedGet, ServedQueueCounts } from './queue-store-api.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

/** A message as the serving broker delivered it over the link. */
export interface LinkedMessage {
  readonly deliveryTag: bigint;
  readonly message: StoredMessage;
  readonly redelivered: boolean;
  readonly deliveryCount: number;
}

/** What receives a subscription's deliveries and hears when it ends. */
export interface LinkReceiver {
  delivered(message: LinkedMessage): void;
  /** The subscription ended (link lost, leadership moved, closed): what it gave and was not acked is the serving broker's again. */
  ended(reason: string): void;
}

export interface LinkSubscription {
  /** Resolves once the serving broker took the subscription (consume-ok); rejects when it refused it or could not be reached. */
  readonly started: Promise<void>;
  /** Messages unsettled at once from now on (basic.qos there). */
  setWindow(window: number): void;
  ack(deliveryTag: bigint): void;
  requeue(deliveryTag: bigint): void;
  close(): void;
}

/** A message basic.get took where the queue is served, settled or given back there. */
export interface LinkedGet {
  readonly linked: LinkedMessage;
  /** Ready messages left there (get-ok's message-count). */
  readonly messageCount: number;
  ack(): void;
  requeue(): void;
}

/**
 * How a store reaches the broker serving its queue when that is not this one (cluster/queue-links.ts).
 * Each promise rejects when that broker cannot be reached or refuses.
 */
export interface QueueLeaderLink {
  /** Stores the message in the queue where it is served; resolves once kept as that broker promises (its confirm). */
  forward(message: StoredMessage): Promise<void>;
  /**
   * Takes the queue's messages from where it is served, at most `window` unsettled at a time, as an
   * exclusive consumer there when `exclusive`; `receiver.ended` is called once.
   */
  subscribe(window: number, receiver: LinkReceiver, exclusive: boolean): LinkSubscription;
  /** basic.get where the queue is served (manual ack); null when nothing is ready there. */
  get(): Promise<LinkedGet | null>;
  /** queue.purge where the queue is served: how many ready messages went. */
  purge(): Promise<number>;
  counts(): Promise<ServedQueueCounts>;
  /** The node id of the broker serving the queue now, this one's included; -1 when none does just now. */
  servingNodeId(): number;
}

/** The serving broker refused a subscription: the queue has an exclusive consumer there, or has consumers and an exclusive one was asked for (403 there). */
export class InExclusiveUseError extends Error {}

/**
 * Messages unsettled at once on a subscription at most: enough to keep consumers here busy across a
 * round trip. Less when the consumers here may hold fewer together (their prefetch limits): a
 * prefetch-1 worker here takes one message at a time from the queue, as it would where the queue is
 * served, rather than a buffer-full that workers there could have had.
 */
export const linkWindow = 256;
const resubscribeDelayMs = 500;

export class RemoteQueueSource {
  private subscription: LinkSubscription | null = null;
  private readonly buffer: QueuedMessage[] = [];
  private bufferedBytes = 0;
  /** The subscription and tag of each message taken and not yet settled or given back. */
  private readonly taken = new Map<QueuedMessage, { subscription: Pick<LinkSubscription, 'ack' | 'requeue'>; deliveryTag: bigint }>();
  private consumerCount = 0;
  private active = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastEndReason = '';
  /** Whether the subscription is (or the next one will be) an exclusive consumer where the queue is served: the consumer here is exclusive. */
  private exclusive = false;
  /** How many unacknowledged deliveries the consumers here may hold together; 0: no limit. */
  private consumersWindow = 0;

  constructor(
    private readonly link: QueueLeaderLink,
    private readonly name: string,
    private readonly logger: Logger,
    private readonly notifyReady: () => void,
  ) {}

  /** Starts (this broker does not serve the queue) or stops (it does now) taking messages from where it is served. */
  setActive(active: boolean): void {
    this.active = active;
    this.update();
  }

  consumersChanged(count: number, window: number): void {
    this.consumerCount = count;
    // With none here, a subscription left for what they took keeps its window.
    if (count > 0) {
      this.consumersWindow = window;
      this.subscription?.setWindow(this.subscriptionWindow());
    }
    this.update();
  }

  /** The subscription's window: what the consumers here may hold, at most linkWindow. */
  private subscriptionWindow(): number {
    return this.consumersWindow === 0 ? linkWindow : Math.min(this.consumersWindow, linkWindow);
  }

  /**
   * A consumer is about to be added here. The first one here needs the serving broker's word, as
   * RabbitMQ refuses a consumer of a queue in exclusive use, and an exclusive consumer of a queue
   * that has consumers, wherever they are: its subscription is made now (exclusive there when the
   * consumer is). Resolves once the serving broker took it; rejects with InExclusiveUseError when it
   * refused. When it cannot be reached, a plain consumer is admitted all the same (it gets messages
   * once a broker serves the queue again) and an exclusive one is refused (rejects with the cause).
   * Null when there is nothing to ask: consumers here hold a subscription already, which the serving
   * broker counts as a consumer, or this broker serves the queue. `window`: the consumer's prefetch
   * limit (0: none), the most the subscription then takes at a time.
   */
  admit(exclusive: boolean, window: number): Promise<void> | null {
    if (!this.active || (this.consumerCount > 0 && !exclusive)) return null;
    // A subscription left from consumers gone (kept until what they took is settled) serves a
    // consumer of the same kind; one of the other kind is closed, what it gave going back there.
    if (this.subscription !== null && this.exclusive === exclusive) return null;
    this.unsubscribe();
    this.exclusive = exclusive;
    this.consumersWindow = window;
    const subscription = this.subscribe();
    const started = subscription?.started ?? Promise.reject(new Error(this.lastEndReason || 'the link to the broker serving the queue ended'));
    if (exclusive) return started;
    return started.catch((error: unknown) => {
      if (error instanceof InExclusiveUseError) throw error;
    });
  }

  /**
   * Subscribes while consumers here want messages. Once they are gone the subscription stays until
   * what they took is settled or given back (a cancelled consumer may still ack what it got), then
   * closes: only what is buffered goes back unseen.
   */
  private update(): void {
    if (!this.active) this.unsubscribe();
    else if (this.consumerCount > 0) {
      if (this.subscription === null && this.retryTimer === null) this.subscribe();
    } else if (this.unackedCount === 0) this.unsubscribe();
  }

  /** Subscribes; returns the subscription, or null when the link ended it at once. */
  private subscribe(): LinkSubscription | null {
    let subscription: LinkSubscription | null = null;
    /** The link reported the end before subscribe() returned (it may, though the real one does not). */
    let endedAtOnce = false;
    const receiver: LinkReceiver = {
      delivered: (linked) => {
        if (subscription === null || this.subscription !== subscription) return;
        const message: QueuedMessage = { offset: Number(linked.deliveryTag), message: linked.message, redelivered: linked.redelivered, deliveryCount: linked.deliveryCount };
        this.lastEndReason = '';
        this.taken.set(message, { subscription, deliveryTag: linked.deliveryTag });
        this.buffer.push(message);
        this.bufferedBytes += linked.message.body.length;
        this.notifyReady();
      },
      ended: (reason) => {
        if (subscription === null) endedAtOnce = true;
        else if (this.subscription !== subscription) return;
        // Retried every resubscribeDelayMs while no broker serves the queue: said once per reason.
        if (reason !== this.lastEndReason) this.logger.info('a link to the broker serving a queue ended', { queue: this.name, reason });
        this.lastEndReason = reason;
        this.dropSubscription(subscription);
        if (this.active && this.consumerCount > 0 && this.retryTimer === null) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.update();
          }, resubscribeDelayMs);
          this.retryTimer.unref();
        }
      },
    };
    subscription = this.link.subscribe(this.subscriptionWindow(), receiver, this.exclusive);
    if (endedAtOnce) return null;
    this.subscription = subscription;
    return subscription;
  }

  private unsubscribe(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const subscription = this.subscription;
    if (subscription === null) return;
    this.dropSubscription(subscription);
    subscription.close();
  }

  /**
   * Forgets the subscription's buffer and what was taken from it: the serving broker has them back.
   * Messages got with basic.get (on the link's operations channel, not this subscription) stay.
   */
  private dropSubscription(subscription: LinkSubscription | null): void {
    this.subscription = null;
    this.buffer.length = 0;
    this.bufferedBytes = 0;
    for (const [message, taken] of this.taken) if (taken.subscription === subscription) this.taken.delete(message);
  }

  get readyCount(): number {
    return this.buffer.length;
  }

  get readyBytes(): number {
    return this.bufferedBytes;
  }

  get unackedCount(): number {
    return this.taken.size - this.buffer.length;
  }

  takeNext(): QueuedMessage | null {
    const next = this.buffer.shift() ?? null;
    if (next !== null) this.bufferedBytes -= next.message.body.length;
    return next;
  }

  peekNext(): QueuedMessage | null {
    return this.buffer[0] ?? null;
  }

  /**
   * basic.get: the next buffered message, or one got where the queue is served (settled or given
   * back there by settle/requeue, as a delivery is); null when none is ready there.
   */
  async takeFromServer(): Promise<ServedGet | null> {
    const buffered = this.takeNext();
    // What the serving broker has ready besides is not known here without asking.
    if (buffered !== null) return { message: buffered, messageCount: this.readyCount };
    const got = await this.link.get();
    if (got === null) return null;
    const { linked } = got;
    const message: QueuedMessage = { offset: Number(linked.deliveryTag), message: linked.message, redelivered: linked.redelivered, deliveryCount: linked.deliveryCount };
    this.taken.set(message, { subscription: { ack: () => got.ack(), requeue: () => got.requeue() }, deliveryTag: linked.deliveryTag });
    return { message, messageCount: got.messageCount };
  }

  /** Whether `message` was taken from here (rather than from a store of this broker's own). */
  owns(message: QueuedMessage): boolean {
    return this.taken.has(message);
  }

  settle(message: QueuedMessage): void {
    this.answerServer(message, 'ack');
  }

  requeue(message: QueuedMessage): void {
    this.answerServer(message, 'requeue');
  }

  /** A taken message settled or given back where it is served, by the delivery tag it came with there. */
  private answerServer(message: QueuedMessage, answer: 'ack' | 'requeue'): void {
    const taken = this.taken.get(message);
    if (taken === undefined) return;
    this.taken.delete(message);
    taken.subscription[answer](taken.deliveryTag);
    // The subscription may close once nothing taken through it is left unsettled.
    if (this.consumerCount === 0) this.update();
  }

  stop(): void {
    this.active = false;
    this.unsubscribe();
  }
}
