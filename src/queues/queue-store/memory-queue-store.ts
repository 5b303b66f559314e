/**
 * The store of a queue whose messages need not outlive the broker (non-durable and exclusive
 * queues, as RabbitMQ keeps them): messages in memory only, in publish order; requeued ones
 * go back ahead of those never delivered, in their original order.
 */
import type { AppendedMessage, QueueStore } from './queue-store-api.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

const resolved = Promise.resolve();

export class MemoryQueueStore implements QueueStore {
  /** Never delivered, in offset order; entries before `head` are taken. */
  private fresh: QueuedMessage[] = [];
  private head = 0;
  /** Requeued, sorted by offset. */
  private requeued: QueuedMessage[] = [];
  private nextOffset = 0;
  private taken = 0;
  private readyBodyBytes = 0;
  private readonly readyListeners: Array<() => void> = [];

  append(message: StoredMessage): AppendedMessage {
    const offset = this.nextOffset++;
    this.fresh.push({ offset, message: ownCopy(message), redelivered: false, deliveryCount: 0 });
    this.readyBodyBytes += message.body.length;
    this.notifyReady();
    return { offset, durable: resolved };
  }

  get readyCount(): number {
    return this.fresh.length - this.head + this.requeued.length;
  }

  get unackedCount(): number {
    return this.taken;
  }

  get readyBytes(): number {
    return this.readyBodyBytes;
  }

  peekNext(): QueuedMessage | null {
    return this.requeued[0] ?? (this.head < this.fresh.length ? this.fresh[this.head]! : null);
  }

  takeNext(): QueuedMessage | null {
    let next: QueuedMessage | undefined;
    if (this.requeued.length > 0) {
      next = this.requeued.shift();
    } else if (this.head < this.fresh.length) {
      next = this.fresh[this.head];
      this.fresh[this.head++] = undefined as unknown as QueuedMessage;
      if (this.head > 1024 && this.head * 2 > this.fresh.length) {
        this.fresh = this.fresh.slice(this.head);
        this.head = 0;
      }
    }
    if (next === undefined) return null;
    this.taken++;
    this.readyBodyBytes -= next.message.body.length;
    return next;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  requeue(message: QueuedMessage, counted = true): void {
    this.taken--;
    this.readyBodyBytes += message.message.body.length;
    const again: QueuedMessage = { ...message, redelivered: true, deliveryCount: counted ? message.deliveryCount + 1 : message.deliveryCount };
    let low = 0;
    let high = this.requeued.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.requeued[middle]!.offset < again.offset) low = middle + 1;
      else high = middle;
    }
    this.requeued.splice(low, 0, again);
    this.notifyReady();
  }

  settle(_message: QueuedMessage): void {
    this.taken--;
  }

  purge(): number {
    const count = this.readyCount;
    this.fresh = [];
    this.head = 0;
    this.requeued = [];
    this.readyBodyBytes = 0;
    return count;
  }

  flush(): Promise<void> {
    return resolved;
  }

  close(): Promise<void> {
    return resolved;
  }

  delete(): Promise<void> {
    this.purge();
    return resolved;
  }

  private notifyReady(): void {
    for (const listener of this.readyListeners) listener();
  }
}

/**
 * The message with its properties and body copied into one buffer of their own: what a publisher
 * sends are views of the socket's chunks (up to 64 KiB each), which a kept message must not hold.
 */
export function ownCopy(message: StoredMessage): StoredMessage {
  const propertiesBytes = message.properties.length;
  const bytes = Buffer.allocUnsafe(propertiesBytes + message.body.length);
  message.properties.copy(bytes, 0);
  message.body.copy(bytes, propertiesBytes);
  return { ...message, properties: bytes.subarray(0, propertiesBytes), body: bytes.subarray(propertiesBytes) };
}
