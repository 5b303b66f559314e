/**
 * The store of a durable queue in a cluster (cluster/queue-partitions.ts): the queue's messages and
 * state live in the one partition of its replicated internal topic, and only the broker leading
 * that partition serves them. Every broker has the queue (its definition is shared through etcd);
 * this store is what it holds of it:
 *
 *   not leading      no inner store: publishes are forwarded to the broker serving the queue (its
 *                    confirm is the publisher's), and while consumers here want messages they are
 *                    taken from there (remote-queue-source.ts); without a link (QueueLeaderLink)
 *                    publishes are refused (the publisher gets a nack) and nothing is ready
 *   leading (term)   a LogQueueStore opened over the partition's log (openOnLog), recovered from
 *                    what the log holds, whoever wrote it; it serves the queue until the term ends
 *
 * When a term ends, its store is closed; the log stays the broker's. Messages taken in an ended
 * term and acked or requeued later are ignored here: the new term (here or on another broker)
 * recovered its state from the log, where an unsettled message is ready again (redelivered).
 */
import type { Logger } from '../../logging/logger.js';
import type { QueueLog } from './queue-log.js';
import { refusedAppend, type AppendedMessage, type QueueStore, type QueueStoreSettings, type ServedGet, type ServedQueueCounts } from './queue-store-api.js';
import { LogQueueStore, type LogQueueStoreTuning } from './queue-store.js';
import { RemoteQueueSource, type QueueLeaderLink } from './remote-queue-source.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

/** A publish to a queue this broker does not lead (the publisher's nack). */
export class QueueNotLedHereError extends Error {}

export class LedQueueStore implements QueueStore {
  private inner: LogQueueStore | null = null;
  /** The term being opened or closed, in order: each change waits for the one before. */
  private changing: Promise<void> = Promise.resolve();
  /** Which store gave out each message still taken: an ack of an ended term's message is ignored. */
  private readonly takenFrom = new WeakMap<QueuedMessage, LogQueueStore>();
  private readonly listeners: Array<() => void> = [];
  private leadingSinceMs = 0;
  /** Callers of whenLeading waiting for the next term to start. */
  private leadWaiters: Array<() => void> = [];
  private closed = false;
  /** While not leading: the queue's messages as the broker serving it hands them over; null without a link. */
  private readonly remote: RemoteQueueSource | null;

  constructor(
    /** For log lines and refusals: "queue 'q' in vhost '/'". */
    private readonly name: string,
    private readonly settings: QueueStoreSettings,
    private readonly logger: Logger,
    private readonly tuning: LogQueueStoreTuning = {},
    private readonly link: QueueLeaderLink | null = null,
  ) {
    this.remote = link === null ? null : new RemoteQueueSource(link, name, logger, () => this.notifyReady());
    this.remote?.setActive(true);
  }

  get servedBy(): number | undefined {
    return this.link?.servingNodeId();
  }

  get servedHere(): boolean {
    return this.inner !== null;
  }

  consumersChanged(count: number, window: number): void {
    this.remote?.consumersChanged(count, window);
  }

  admitConsumer(exclusive: boolean, window: number): Promise<void> | null {
    return this.inner !== null ? null : (this.remote?.admit(exclusive, window) ?? null);
  }

  /**
   * While not leading, a publisher's confirm waits for every append, transient messages' too, so
   * the refusal reaches it as a nack rather than an ack for a message that was not kept.
   */
  get keepsTransientMessages(): boolean {
    return this.inner === null;
  }

  get servedSinceMs(): number | undefined {
    return this.inner === null ? undefined : this.leadingSinceMs;
  }

  /** Whether this broker serves the queue now. */
  get leading(): boolean {
    return this.inner !== null;
  }

  /** Starts a term: the queue is recovered from `log` and served from here. Resolves once it is. */
  lead(log: QueueLog, term: string): Promise<void> {
    return this.change(async () => {
      await this.closeInner();
      if (this.closed) return;
      const store = await LogQueueStore.openOnLog(log, `${this.name} (${term})`, this.settings, this.tuning);
      if (this.closed) {
        await store.close();
        return;
      }
      store.onReady(() => this.notifyReady());
      this.remote?.setActive(false);
      this.inner = store;
      this.leadingSinceMs = Date.now();
      const waiters = this.leadWaiters;
      this.leadWaiters = [];
      for (const resolve of waiters) resolve();
      this.logger.info('serving a replicated queue', { queue: this.name, term, ready: store.readyCount });
      this.notifyReady();
    });
  }

  /** Resolves once this broker serves the queue (at once if it does); rejects after `timeoutMs`. */
  whenLeading(timeoutMs: number): Promise<void> {
    if (this.inner !== null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.leadWaiters = this.leadWaiters.filter((waiter) => waiter !== done);
        reject(new Error(`${this.name} was not served by this broker within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.leadWaiters.push(done);
    });
  }

  /** Ends the current term, if any: its store closes, and the queue is taken from wherever it is served next. */
  resign(): Promise<void> {
    return this.change(async () => {
      await this.closeInner();
      if (!this.closed) this.remote?.setActive(true);
    });
  }

  private change(step: () => Promise<void>): Promise<void> {
    const next = this.changing.then(step).catch((error: unknown) => {
      this.logger.error('opening or closing a replicated queue failed', { queue: this.name, error: error instanceof Error ? error.message : String(error) });
    });
    this.changing = next;
    return next;
  }

  private async closeInner(): Promise<void> {
    const store = this.inner;
    if (store === null) return;
    this.inner = null;
    await store.close();
  }

  append(message: StoredMessage): AppendedMessage {
    const store = this.inner;
    if (store !== null) {
      try {
        return store.append(message);
      } catch (error) {
        return refusedAppend(error);
      }
    }
    if (this.link !== null) {
      const durable = this.link.forward(message);
      durable.catch(() => undefined); // a publisher without confirms does not wait for it
      return { offset: -1, durable };
    }
    return refusedAppend(new QueueNotLedHereError(`${this.name} is served by the broker leading its partition, not this one`));
  }

  get readyCount(): number {
    return this.inner?.readyCount ?? this.remote?.readyCount ?? 0;
  }

  get unackedCount(): number {
    return (this.inner?.unackedCount ?? 0) + (this.remote?.unackedCount ?? 0);
  }

  get readyBytes(): number {
    return this.inner?.readyBytes ?? this.remote?.readyBytes ?? 0;
  }

  takeNext(): QueuedMessage | null {
    const store = this.inner;
    if (store === null) return this.remote?.takeNext() ?? null;
    const next = store.takeNext();
    if (next !== null) this.takenFrom.set(next, store);
    return next;
  }

  peekNext(): QueuedMessage | null {
    const store = this.inner;
    return store === null ? (this.remote?.peekNext() ?? null) : store.peekNext();
  }

  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  requeue(message: QueuedMessage, counted = true): void {
    if (this.remote?.owns(message) === true) return this.remote.requeue(message);
    const store = this.takenFrom.get(message);
    if (store !== undefined && store === this.inner) store.requeue(message, counted);
  }

  settle(message: QueuedMessage): void {
    if (this.remote?.owns(message) === true) return this.remote.settle(message);
    const store = this.takenFrom.get(message);
    if (store !== undefined && store === this.inner) store.settle(message);
  }

  purge(): number {
    return this.inner?.purge() ?? 0;
  }

  takeFromServer(): Promise<ServedGet | null> | null {
    return this.inner === null ? (this.remote?.takeFromServer() ?? null) : null;
  }

  purgeOnServer(): Promise<number> | null {
    return this.inner === null ? (this.link?.purge() ?? null) : null;
  }

  countsOnServer(): Promise<ServedQueueCounts> | null {
    return this.inner === null ? (this.link?.counts() ?? null) : null;
  }

  async flush(): Promise<void> {
    await this.changing;
    await this.inner?.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.remote?.stop();
    await this.resign();
  }

  /** The log is the cluster's (its topic is deleted with the queue): only the store closes. */
  async delete(): Promise<void> {
    await this.close();
  }

  private notifyReady(): void {
    for (const listener of this.listeners) listener();
  }
}
