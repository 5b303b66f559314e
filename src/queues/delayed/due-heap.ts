/**
 * Held messages by due time: a binary min-heap in one array (children of i at 2i+1 and 2i+2),
 * ordered by due time, then by offset (publish order) for messages due at the same millisecond.
 * push and pop are O(log n); the entries are small (the bodies stay in the log).
 */
export interface DueEntry {
  /** When the message is to be routed, ms since the epoch. */
  readonly dueAtMs: number;
  /** Its offset in the delayed store's log. */
  readonly offset: number;
}

function before(left: DueEntry, right: DueEntry): boolean {
  return left.dueAtMs < right.dueAtMs || (left.dueAtMs === right.dueAtMs && left.offset < right.offset);
}

export class DueHeap<Entry extends DueEntry> {
  private readonly heap: Entry[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The entry due first, left in place; undefined when empty. */
  peek(): Entry | undefined {
    return this.heap[0];
  }

  push(entry: Entry): void {
    const heap = this.heap;
    let index = heap.length;
    heap.push(entry);
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = entry;
  }

  /** The entry due first, removed; undefined when empty. */
  pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }

  /** Every entry is due no earlier than its parent (for tests). */
  invariants(): void {
    for (let index = 1; index < this.heap.length; index++) {
      if (before(this.heap[index]!, this.heap[(index - 1) >>> 1]!)) throw new Error(`due heap: entry ${index} comes before its parent`);
    }
  }
}
