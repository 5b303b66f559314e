import { strict as assert } from 'node:assert';

/**
 * A set of log offsets kept as sorted, disjoint, non-adjacent half-open ranges [start, end), in two
 * parallel arrays; entries before `head` are dead (taken off the front without shifting the arrays):
 *
 *   head ▼
 *   starts: [ ·  ·  5   9  20 ]
 *   ends:   [ ·  ·  7  10  31 ]      → {5, 6, 9, 20 … 30}
 *
 * What a queue's settled messages above its first unsettled one look like (dispositions.ts):
 * acknowledged in order they stay one range, each exception costs one more. Adding at the end or
 * at the front is O(1); elsewhere a binary search and a splice (O(ranges) moved, not O(offsets)).
 */
export class OffsetRanges {
  private starts: number[] = [];
  private ends: number[] = [];
  private head = 0;
  private offsetCount = 0;

  /** Offsets held. */
  get size(): number {
    return this.offsetCount;
  }

  get rangeCount(): number {
    return this.starts.length - this.head;
  }

  /** The lowest offset held; -1 when empty. */
  get firstStart(): number {
    return this.head < this.starts.length ? this.starts[this.head]! : -1;
  }

  /** The end of the first range; -1 when empty. */
  get firstEnd(): number {
    return this.head < this.ends.length ? this.ends[this.head]! : -1;
  }

  /** The offset after the highest one held; -1 when empty. */
  get lastEnd(): number {
    return this.head < this.ends.length ? this.ends[this.ends.length - 1]! : -1;
  }

  contains(offset: number): boolean {
    const index = this.lastStartingAtOrBelow(offset);
    return index >= this.head && offset < this.ends[index]!;
  }

  /** The end of the range holding `offset`; `offset` itself when it is not held. */
  skipFrom(offset: number): number {
    const index = this.lastStartingAtOrBelow(offset);
    return index >= this.head && offset < this.ends[index]! ? this.ends[index]! : offset;
  }

  /** Adds [start, end); returns how many of its offsets were not held before. */
  add(start: number, end: number): number {
    if (end <= start) return 0;
    const last = this.starts.length - 1;
    if (last < this.head || start > this.ends[last]!) {
      this.starts.push(start);
      this.ends.push(end);
      this.offsetCount += end - start;
      return end - start;
    }
    if (start === this.ends[last]!) {
      this.ends[last] = end;
      this.offsetCount += end - start;
      return end - start;
    }
    // First range that ends at or after `start` (it touches or overlaps from the left) …
    let low = this.head;
    let high = this.starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.ends[middle]! < start) low = middle + 1;
      else high = middle;
    }
    const first = low;
    // … and the last one that starts at or before `end` (it touches or overlaps from the right).
    const lastTouching = this.lastStartingAtOrBelow(end);
    if (lastTouching < first) {
      this.insertAt(first, start, end);
      this.offsetCount += end - start;
      return end - start;
    }
    let covered = 0;
    for (let index = first; index <= lastTouching; index++) covered += this.ends[index]! - this.starts[index]!;
    const mergedStart = Math.min(start, this.starts[first]!);
    const mergedEnd = Math.max(end, this.ends[lastTouching]!);
    this.starts.splice(first, lastTouching - first + 1, mergedStart);
    this.ends.splice(first, lastTouching - first + 1, mergedEnd);
    const added = mergedEnd - mergedStart - covered;
    this.offsetCount += added;
    return added;
  }

  /** Removes the first range (the caller has looked at it). */
  removeFirst(): void {
    assert(this.head < this.starts.length, 'removeFirst on an empty set');
    this.offsetCount -= this.ends[this.head]! - this.starts[this.head]!;
    this.head++;
    if (this.head === this.starts.length) {
      this.starts = [];
      this.ends = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }

  /** Removes every offset ≥ `offset`. */
  removeFrom(offset: number): void {
    while (this.rangeCount > 0) {
      const last = this.starts.length - 1;
      if (this.ends[last]! <= offset) return;
      if (this.starts[last]! >= offset) {
        this.offsetCount -= this.ends[last]! - this.starts[last]!;
        this.starts.pop();
        this.ends.pop();
      } else {
        this.offsetCount -= this.ends[last]! - offset;
        this.ends[last] = offset;
        return;
      }
    }
    this.starts = [];
    this.ends = [];
    this.head = 0;
  }

  /** Removes every offset < `offset`. */
  removeBelow(offset: number): void {
    while (this.rangeCount > 0 && this.starts[this.head]! < offset) {
      if (this.ends[this.head]! <= offset) {
        this.removeFirst();
      } else {
        this.offsetCount -= offset - this.starts[this.head]!;
        this.starts[this.head] = offset;
      }
    }
  }

  /** How many offsets in [start, end) are held; O(ranges in between). */
  countIn(start: number, end: number): number {
    let count = 0;
    for (let index = Math.max(this.lastStartingAtOrBelow(start), this.head); index < this.starts.length; index++) {
      const rangeStart = this.starts[index]!;
      if (rangeStart >= end) break;
      count += Math.max(0, Math.min(end, this.ends[index]!) - Math.max(start, rangeStart));
    }
    return count;
  }

  /** Calls `visit` for each range, lowest first. */
  forEach(visit: (start: number, end: number) => void): void {
    for (let index = this.head; index < this.starts.length; index++) visit(this.starts[index]!, this.ends[index]!);
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
    this.head = 0;
    this.offsetCount = 0;
  }

  invariants(): void {
    let count = 0;
    for (let index = this.head; index < this.starts.length; index++) {
      assert(this.starts[index]! < this.ends[index]!, 'a range is not empty');
      if (index > this.head) assert(this.ends[index - 1]! < this.starts[index]!, 'ranges are sorted, disjoint and not adjacent');
      count += this.ends[index]! - this.starts[index]!;
    }
    assert.equal(count, this.offsetCount, 'the offset count matches the ranges');
  }

  /** Index of the last live range whose start ≤ offset; head − 1 when none. */
  private lastStartingAtOrBelow(offset: number): number {
    let low = this.head;
    let high = this.starts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.starts[middle]! <= offset) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }

  private insertAt(index: number, start: number, end: number): void {
    if (index === this.head && this.head > 0) {
      this.head--;
      this.starts[this.head] = start;
      this.ends[this.head] = end;
      return;
    }
    this.starts.splice(index, 0, start);
    this.ends.splice(index, 0, end);
  }
}
