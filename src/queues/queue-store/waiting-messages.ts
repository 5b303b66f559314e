/**
 * The messages of a priority level whose durable store is still being opened (priority-queue-store.ts):
 * opening a store takes a few milliseconds (a folder, a log) and append cannot wait, so they are held
 * here in append order, and served meanwhile as a store serves them (taken in order, requeued ones
 * ahead of fresh ones and flagged redelivered, settled, purged): a message published to a level
 * used for the first time is at once there for basic.get and consumers, as RabbitMQ's is.
 *
 * Once the store is open, handOver() moves each message into it in the state it is in:
 *   1. messages taken meanwhile, or requeued, are appended one at a time and taken at once (the
 *      store is new and holds nothing ready, so the take returns the message just appended), then
 *      requeued and taken again as often as they were requeued here, so that the store counts
 *      their returns (deliveryCount, x-delivery-limit) as they were counted here; the store's
 *      object for a taken one is remembered (`replaced`), so that its settle or requeue, which
 *      comes with the object handed out here, reaches the store; requeued ones are then requeued
 *      there, ahead of fresh ones, flagged redelivered;
 *   2. the ready ones are appended, in order;
 *   3. settled and purged ones are not written: nothing is left to deliver (their `durable`
 *      resolves at once).
 * Each appended message's `durable` resolves when the store has it on disk.
 */
import type { Logger } from '../../logging/logger.js';
import { ownCopy } from './memory-queue-store.js';
import type { AppendedMessage, QueueStore } from './queue-store-api.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

interface WaitingMessage {
  /** Its place in append order. */
  readonly index: number;
  readonly message: StoredMessage;
  /** done = settled or purged. */
  state: 'ready' | 'taken' | 'done';
  redelivered: boolean;
  /** Times requeued. */
  deliveryCount: number;
  /** The object peekNext and takeNext hand out for it (the same one, as the queue settles what it peeked), until requeued or settled. */
  handedOut: QueuedMessage | null;
  /** Settles its `durable` with the store's, once appended there. */
  readonly stored: (durable: Promise<void>) => void;
  readonly failed: (error: unknown) => void;
}

const resolved = Promise.resolve();

export class WaitingMessages {
  private readonly messages: WaitingMessage[] = [];
  /** No message below this index is ready. */
  private firstReady = 0;
  private readyMessages = 0;
  private takenMessages = 0;
  /** What takeNext handed out, to its waiting message; an entry goes when settled or requeued. */
  private readonly byTaken = new WeakMap<QueuedMessage, WaitingMessage>();

  get readyCount(): number {
    return this.readyMessages;
  }

  get unackedCount(): number {
    return this.takenMessages;
  }

  /** Body bytes of the ready messages (O(messages waiting): only while a level opens). */
  get readyBytes(): number {
    let bytes = 0;
    for (const waiting of this.messages) if (waiting.state === 'ready') bytes += waiting.message.body.length;
    return bytes;
  }

  append(message: StoredMessage): AppendedMessage {
    const index = this.messages.length;
    // Copied, as a MemoryQueueStore does: a message handed out here may be held unacknowledged long after the hand-over.
    message = ownCopy(message);
    const durable = new Promise<void>((resolve, reject) => {
      this.messages.push({ index, message, state: 'ready', redelivered: false, deliveryCount: 0, handedOut: null, stored: (stored) => stored.then(resolve, reject), failed: reject });
    });
    durable.catch(() => undefined); // a transient message's durable is not awaited; a failure is logged where it happens
    this.readyMessages++;
    return { offset: index, durable };
  }

  /** The first ready message, not taken (requeued ones are ahead of fresh ones: they come first in append order). */
  peekNext(): QueuedMessage | null {
    const waiting = this.firstReadyMessage();
    return waiting === null ? null : handOut(waiting);
  }

  takeNext(): QueuedMessage | null {
    const waiting = this.firstReadyMessage();
    if (waiting === null) return null;
    this.firstReady = waiting.index + 1;
    waiting.state = 'taken';
    this.readyMessages--;
    this.takenMessages++;
    const taken = handOut(waiting);
    this.byTaken.set(taken, waiting);
    return taken;
  }

  /** False when `taken` is not a message taken here. */
  requeue(taken: QueuedMessage): boolean {
    const waiting = this.release(taken);
    if (waiting === null) return false;
    waiting.state = 'ready';
    waiting.redelivered = true;
    waiting.deliveryCount++;
    this.readyMessages++;
    this.firstReady = Math.min(this.firstReady, waiting.index);
    return true;
  }

  /** False when `taken` is not a message taken here. */
  settle(taken: QueuedMessage): boolean {
    const waiting = this.release(taken);
    if (waiting === null) return false;
    waiting.state = 'done';
    return true;
  }

  purge(): number {
    const count = this.readyMessages;
    for (const waiting of this.messages) if (waiting.state === 'ready') waiting.state = 'done';
    this.readyMessages = 0;
    this.firstReady = this.messages.length;
    return count;
  }

  /**
   * Moves every message into the newly opened `store` (see above); `replaced` learns the store's
   * object for each message taken here and not settled yet.
   */
  handOver(store: QueueStore, replaced: WeakMap<QueuedMessage, QueuedMessage>, logger: Logger): void {
    const requeue: QueuedMessage[] = [];
    for (const waiting of this.messages) {
      if (waiting.state === 'done' || (waiting.state === 'ready' && !waiting.redelivered)) continue;
      const appended = store.append(waiting.message);
      waiting.stored(appended.durable);
      let inStore = store.takeNext();
      const returns = waiting.state === 'taken' ? waiting.deliveryCount : waiting.deliveryCount - 1;
      for (let count = 0; count < returns && inStore !== null && inStore.offset === appended.offset; count++) {
        store.requeue(inStore);
        inStore = store.takeNext();
      }
      if (inStore === null || inStore.offset !== appended.offset) {
        // Only if the store was not new: the message stays ready there, the object handed out is forgotten.
        logger.error('a priority level opened with messages already in it; a message taken before it opened is ready again', { offset: appended.offset });
        if (inStore !== null) store.requeue(inStore);
        continue;
      }
      if (waiting.state === 'taken') replaced.set(waiting.handedOut!, inStore);
      else requeue.push(inStore);
    }
    for (const inStore of requeue) store.requeue(inStore);
    for (const waiting of this.messages) {
      if (waiting.state === 'ready' && !waiting.redelivered) waiting.stored(store.append(waiting.message).durable);
      else if (waiting.state === 'done') waiting.stored(resolved);
    }
    this.clear();
  }

  /** The store could not be opened: every waiting message is lost; their `durable` rejects. */
  fail(error: unknown): number {
    const lost = this.readyMessages + this.takenMessages;
    for (const waiting of this.messages) waiting.failed(error);
    this.clear();
    return lost;
  }

  private firstReadyMessage(): WaitingMessage | null {
    while (this.firstReady < this.messages.length && this.messages[this.firstReady]!.state !== 'ready') this.firstReady++;
    return this.messages[this.firstReady] ?? null;
  }

  /** Forgets a taken message (settled or requeued); null when it is not one taken here. */
  private release(taken: QueuedMessage): WaitingMessage | null {
    const waiting = this.byTaken.get(taken);
    if (waiting === undefined || waiting.state !== 'taken') return null;
    this.byTaken.delete(taken);
    waiting.handedOut = null;
    this.takenMessages--;
    return waiting;
  }

  private clear(): void {
    // A message handed out before may still come back through settle or requeue: nothing to do here then.
    for (const waiting of this.messages) waiting.state = 'done';
    this.messages.length = 0;
    this.firstReady = 0;
    this.readyMessages = 0;
    this.takenMessages = 0;
  }
}

function handOut(waiting: WaitingMessage): QueuedMessage {
  waiting.handedOut ??= { offset: waiting.index, message: waiting.message, redelivered: waiting.redelivered, deliveryCount: waiting.deliveryCount };
  return waiting.handedOut;
}

