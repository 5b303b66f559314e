import type { QueuedMessage } from './stored-message.js';

/**
 * Requeued messages, lowest offset first: a binary min-heap on the offset, in one array
 * (children of i at 2i+1 and 2i+2). Requeues arrive in any order (several channels give back
 * their deliveries); they go out before messages never delivered, oldest first.
 */
export class RequeuedMessages {
  private heap: QueuedMessage[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(message: QueuedMessage): void {
    const heap = this.heap;
    let index = heap.length;
    heap.push(message);
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (heap[parent]!.offset <= message.offset) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = message;
  }

  /** The lowest-offset message, left in place; null when empty. */
  peek(): QueuedMessage | null {
    return this.heap[0] ?? null;
  }

  /** The lowest-offset message, removed; null when empty. */
  pop(): QueuedMessage | null {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return null;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.offset < heap[left]!.offset ? right : left;
      if (heap[child]!.offset >= last.offset) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }

  /** Removes every message; returns them in no particular order. */
  drain(): QueuedMessage[] {
    const all = this.heap;
    this.heap = [];
    return all;
  }

  /** Keeps only the messages `keep` accepts. */
  filter(keep: (message: QueuedMessage) => boolean): void {
    const kept = this.drain().filter(keep);
    for (const message of kept) this.push(message);
  }
}
