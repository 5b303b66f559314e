/**
 * A binary min-heap in one array (children of i at 2i+1 and 2i+2), ordered by a `before` the
 * owner gives: push and pop are O(log n). Requeued messages (lowest offset first) and held
 * delayed messages (earliest due first) are kept in one each.
 */
export class MinHeap<Entry> {
  private heap: Entry[] = [];

  /** `before(left, right)`: whether `left` comes out first. */
  constructor(private readonly before: (left: Entry, right: Entry) => boolean) {}

  get size(): number {
    return this.heap.length;
  }

  /** The first entry, left in place; undefined when empty. */
  peek(): Entry | undefined {
    return this.heap[0];
  }

  push(entry: Entry): void {
    const heap = this.heap;
    let index = heap.length;
    heap.push(entry);
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (!this.before(entry, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = entry;
  }

  /** The first entry, removed; undefined when empty. */
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
      const child = right < heap.length && this.before(heap[right]!, heap[left]!) ? right : left;
      if (!this.before(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }

  /** Calls `visit` for every entry, in no particular order. */
  forEach(visit: (entry: Entry) => void): void {
    for (const entry of this.heap) visit(entry);
  }

  /** Removes every entry; returns them in no particular order. */
  drain(): Entry[] {
    const all = this.heap;
    this.heap = [];
    return all;
  }

  /** Every entry comes no earlier than its parent (for tests). */
  invariants(what: string): void {
    for (let index = 1; index < this.heap.length; index++) {
      if (this.before(this.heap[index]!, this.heap[(index - 1) >>> 1]!)) throw new Error(`${what}: entry ${index} comes before its parent`);
    }
  }
}
