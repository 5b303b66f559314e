import { MinHeap } from '../min-heap.js';
import type { QueuedMessage } from './stored-message.js';

/**
 * Requeued messages, lowest offset first (a min-heap on the offset). Requeues arrive in any order
 * (several channels give back their deliveries); they go out before messages never delivered,
 * oldest first.
 */
export class RequeuedMessages {
  private readonly heap = new MinHeap<QueuedMessage>((left, right) => left.offset < right.offset);

  get size(): number {
    return this.heap.size;
  }

  push(message: QueuedMessage): void {
    this.heap.push(message);
  }

  /** The lowest-offset message, left in place; null when empty. */
  peek(): QueuedMessage | null {
    return this.heap.peek() ?? null;
  }

  /** The lowest-offset message, removed; null when empty. */
  pop(): QueuedMessage | null {
    return this.heap.pop() ?? null;
  }

  /** Calls `visit` for every message, in no particular order. */
  forEach(visit: (message: QueuedMessage) => void): void {
    this.heap.forEach(visit);
  }

  /** Removes every message; returns them in no particular order. */
  drain(): QueuedMessage[] {
    return this.heap.drain();
  }

  /** Keeps only the messages `keep` accepts. */
  filter(keep: (message: QueuedMessage) => boolean): void {
    for (const message of this.heap.drain().filter(keep)) this.heap.push(message);
  }
}
