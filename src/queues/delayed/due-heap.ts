/**
 * Held messages by due time, then by offset (publish order) for messages due at the same
 * millisecond: a min-heap (../min-heap.ts) of small entries (the bodies stay in the log).
 */
import { MinHeap } from '../min-heap.js';

export interface DueEntry {
  /** When the message is to be routed, ms since the epoch. */
  readonly dueAtMs: number;
  /** Its offset in the delayed store's log. */
  readonly offset: number;
}

function before(left: DueEntry, right: DueEntry): boolean {
  return left.dueAtMs < right.dueAtMs || (left.dueAtMs === right.dueAtMs && left.offset < right.offset);
}

export class DueHeap<Entry extends DueEntry> extends MinHeap<Entry> {
  constructor() {
    super(before);
  }

  /** Every entry is due no earlier than its parent (for tests). */
  override invariants(): void {
    super.invariants('due heap');
  }
}
