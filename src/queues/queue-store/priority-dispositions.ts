import { strict as assert } from 'node:assert';
import { priorityOfProperties } from '../../protocol/amqp/content-header.js';
import { deleteOffsetsFrom, snapshotOf, type DispositionListener, type DispositionSnapshot, type DispositionsStart, type MessageDispositions } from './dispositions.js';
import { RequeuedMessages } from './requeued-messages.js';
import { SettledOffsets } from './settled-offsets.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

/**
 * What has become of each message of a priority queue kept in one log (x-max-priority; in a cluster,
 * where the queue's log is replicated): DESIGN.md decision 11, priorities as an index over the same
 * log. The durable state is Dispositions' (settled offsets, delivered mark, return counts: the same
 * state batches); only the order differs: highest priority first, FIFO within a priority.
 *
 *   levels[0 … maxPriority]   requeued  given-back messages, bodies kept, lowest offset first
 *                             fresh     offsets of ready messages never taken, ascending (8 B each)
 *   cached                    bodies of fresh messages held in memory (≤ maxReadyBytesInMemory,
 *                             plus at most the one a take waits for); the others are read back
 *
 * A message's level is its `priority` property (0 without one, maxPriority above it), read from its
 * stored property bytes.
 *
 * takeNext takes from the highest level holding a ready message: its requeued messages first, then
 * its first fresh offset when that one's body is cached. When it is not, takeNext returns null and
 * nextOffsetToRead() names that offset: the store reads the log from there, offering what it reads
 * (offerRead), and the cache takes it (making room by dropping the cached bodies of lower levels).
 *
 * Fresh offsets settled by something else than a take (damage, recovery's transient messages) are
 * dropped from their level at the next look (`stale`: one pass over the fresh offsets).
 *
 * The delivered mark: messages leave out of log order, so it is one past the highest offset ever
 * taken (or the recovered mark, when higher). After a restart every unsettled message below it comes
 * back flagged redelivered, some never delivered among them: the flag means "may have been
 * delivered", so flagging too many is allowed, missing one is not.
 */
export class PriorityDispositions implements MessageDispositions {
  private readonly settled: SettledOffsets;
  private readonly levels: PriorityLevel[] = [];
  /** Every level above it is empty (it may be too: looked at by highestReady). */
  private top = -1;
  private readonly taken = new Map<number, QueuedMessage>();
  private readonly cached = new Map<number, CachedMessage>();
  private cachedBytes = 0;
  private readyTotal = 0;
  private readyBodyBytes = 0;
  private logEnd: number;
  private takenEnd: number;
  private redeliveredBelow: number;
  private readonly maxReadyBytesInMemory: number;
  private readonly listener: DispositionListener;
  private readonly returnCounts = new Map<number, number>();
  /** Some fresh offset may have been settled other than by a take: the levels are filtered at the next look. */
  private stale = false;
  generation = 0;

  constructor(
    start: DispositionsStart,
    readonly maxPriority: number,
  ) {
    assert(start.settledBelow <= start.logEndOffset, 'settledBelow ≤ log end');
    assert(Number.isInteger(maxPriority) && maxPriority >= 1 && maxPriority <= 255, 'maxPriority is 1 to 255');
    start.settled.removeFrom(start.logEndOffset);
    this.settled = new SettledOffsets(start.settledBelow, start.settled);
    this.logEnd = start.logEndOffset;
    this.takenEnd = this.settled.below;
    this.redeliveredBelow = Math.min(start.redeliveredBelow, start.logEndOffset);
    this.maxReadyBytesInMemory = start.maxReadyBytesInMemory;
    this.listener = start.listener;
    for (let priority = 0; priority <= maxPriority; priority++) this.levels.push(new PriorityLevel());
    for (const [offset, count] of start.returnCounts ?? []) if (offset < this.logEnd && !this.isSettled(offset)) this.returnCounts.set(offset, count);
  }

  get settledBelow(): number {
    return this.settled.below;
  }

  get deliveredBelow(): number {
    return Math.max(this.takenEnd, this.redeliveredBelow);
  }

  get logEndOffset(): number {
    return this.logEnd;
  }

  get readyCount(): number {
    this.refresh();
    return this.readyTotal;
  }

  get unackedCount(): number {
    return this.taken.size;
  }

  get readyBytes(): number {
    return this.readyBodyBytes;
  }

  get bufferedCount(): number {
    return this.cached.size;
  }

  get bufferedBytes(): number {
    return this.cachedBytes;
  }

  get bufferRoomBytes(): number {
    return Math.max(1, this.maxReadyBytesInMemory - this.cachedBytes);
  }

  get settledRangeCount(): number {
    return this.settled.ranges.rangeCount;
  }

  isSettled(offset: number): boolean {
    return this.settled.contains(offset);
  }

  skipSettled(offset: number): number {
    return this.settled.skipFrom(offset);
  }

  appended(offset: number, message: StoredMessage, costBytes: number): void {
    assert.equal(offset, this.logEnd, 'appends come in offset order');
    this.logEnd = offset + 1;
    this.addFresh(offset, message, costBytes);
  }

  occupied(offset: number): void {
    assert.equal(offset, this.logEnd, 'appends come in offset order');
    this.logEnd = offset + 1;
    this.settled.add(offset, offset + 1);
  }

  recovered(offset: number, message: StoredMessage, costBytes: number): void {
    this.addFresh(offset, message, costBytes);
  }

  offerRead(offset: number, message: StoredMessage, costBytes: number): boolean {
    if (offset >= this.logEnd || this.cached.has(offset)) return true;
    const priority = this.priorityOf(message);
    const level = this.levels[priority]!;
    // Only fresh messages are cached (a taken or given-back one has its body already).
    if (!level.fresh.includes(offset)) return true;
    const first = level.fresh.first() === offset;
    if (!first && !this.hasRoomFor(costBytes)) return false;
    this.cache(offset, message, costBytes, priority);
    return true;
  }

  takeNext(): QueuedMessage | null {
    const level = this.highestReady();
    if (level === null) return null;
    let next = level.requeued.pop();
    if (next === null) {
      const cached = this.cached.get(level.fresh.first());
      if (cached === undefined) return null;
      level.fresh.shift();
      this.uncache(cached);
      next = cached.queued;
      if (next.offset >= this.takenEnd) {
        this.takenEnd = next.offset + 1;
        this.listener.deliveredMoved();
      }
    }
    this.readyTotal--;
    this.readyBodyBytes -= next.message.body.length;
    this.taken.set(next.offset, next);
    return next;
  }

  peekNext(): QueuedMessage | null {
    const level = this.highestReady();
    if (level === null) return null;
    return level.requeued.peek() ?? this.cached.get(level.fresh.first())?.queued ?? null;
  }

  nextOffsetToRead(): number | null {
    const level = this.highestReady();
    if (level === null || level.requeued.size > 0) return null;
    const offset = level.fresh.first();
    if (this.cached.has(offset)) return null;
    // Bodies of lower priorities make room for the ones wanted first.
    if (this.cachedBytes >= this.maxReadyBytesInMemory) this.uncacheBelow(this.levels.indexOf(level));
    return offset;
  }

  requeue(message: QueuedMessage, counted = true): boolean {
    if (this.taken.get(message.offset) !== message) return false;
    this.taken.delete(message.offset);
    const deliveryCount = counted ? message.deliveryCount + 1 : message.deliveryCount;
    if (counted) {
      this.returnCounts.set(message.offset, deliveryCount);
      this.listener.returned(message.offset, deliveryCount);
    }
    const priority = this.priorityOf(message.message);
    this.levels[priority]!.requeued.push({ offset: message.offset, message: message.message, redelivered: true, deliveryCount });
    this.top = Math.max(this.top, priority);
    this.readyTotal++;
    this.readyBodyBytes += message.message.body.length;
    return true;
  }

  settle(message: QueuedMessage): boolean {
    if (this.taken.get(message.offset) !== message) return false;
    this.taken.delete(message.offset);
    if (this.returnCounts.size > 0) this.returnCounts.delete(message.offset);
    this.settled.add(message.offset, message.offset + 1);
    this.listener.settled(message.offset, message.offset + 1);
    return true;
  }

  settleAhead(start: number, end: number): void {
    end = Math.min(end, this.logEnd);
    if (end <= start) return;
    this.settleReadyIn(start, end);
    for (const offset of this.returnCounts.keys()) if (offset >= start && offset < end && this.isSettled(offset)) this.returnCounts.delete(offset);
    this.uncacheIn(start, end);
    this.stale = true;
  }

  purge(): number {
    const count = this.readyCount;
    for (const level of this.levels) {
      for (const message of level.requeued.drain()) {
        this.settled.add(message.offset, message.offset + 1);
        this.listener.settled(message.offset, message.offset + 1);
      }
      level.fresh.clear();
    }
    // Every fresh message is somewhere in [settledBelow, logEnd), and nothing else is ready there.
    this.settleReadyIn(this.settled.below, this.logEnd);
    for (const offset of this.returnCounts.keys()) if (!this.taken.has(offset)) this.returnCounts.delete(offset);
    this.cached.clear();
    this.cachedBytes = 0;
    this.readyTotal = 0;
    this.readyBodyBytes = 0;
    this.top = -1;
    this.generation++;
    return count;
  }

  truncated(endOffset: number): void {
    if (endOffset >= this.logEnd) return;
    this.logEnd = endOffset;
    this.settled.removeFrom(endOffset);
    this.takenEnd = Math.min(this.takenEnd, endOffset);
    this.redeliveredBelow = Math.min(this.redeliveredBelow, endOffset);
    deleteOffsetsFrom(this.taken, endOffset);
    deleteOffsetsFrom(this.returnCounts, endOffset);
    this.uncacheIn(endOffset, Number.MAX_SAFE_INTEGER);
    for (const level of this.levels) {
      level.requeued.filter((message) => message.offset < endOffset);
      level.fresh.dropFrom(endOffset);
    }
    this.stale = true;
    this.refresh();
    // The bodies cut away are not known one by one; only an empty queue is sure to hold none.
    if (this.readyTotal === 0) this.readyBodyBytes = 0;
    this.generation++;
    this.listener.truncated(endOffset);
  }

  snapshot(): DispositionSnapshot {
    return snapshotOf(this.settled, this.deliveredBelow, this.returnCounts);
  }

  invariants(): void {
    this.refresh();
    this.settled.invariants(this.logEnd);
    let ready = 0;
    for (const [priority, level] of this.levels.entries()) {
      if (priority > this.top) assert.equal(level.readyCount, 0, 'levels above top are empty');
      ready += level.readyCount;
      let previous = -1;
      level.fresh.forEach((offset) => {
        assert(offset > previous && offset < this.logEnd, 'fresh offsets ascend within the log');
        assert(!this.isSettled(offset) && !this.taken.has(offset), 'fresh offsets are neither settled nor taken');
        previous = offset;
      });
      level.requeued.forEach((message) => assert(!this.isSettled(message.offset) && !this.taken.has(message.offset), 'requeued messages are neither settled nor taken'));
    }
    assert.equal(ready, this.readyTotal, 'readyCount adds up');
    let bytes = 0;
    for (const [offset, cached] of this.cached) {
      assert(this.levels[cached.priority]!.fresh.includes(offset), 'cached bodies are of fresh messages, at their level');
      bytes += cached.costBytes;
    }
    assert.equal(bytes, this.cachedBytes, 'cachedBytes adds up');
    for (const message of this.taken.values()) assert(!this.isSettled(message.offset) && message.offset < this.takenEnd, 'taken messages are unsettled, below the delivered mark');
    assert(this.readyBodyBytes >= 0, 'readyBytes ≥ 0');
    for (const offset of this.returnCounts.keys()) assert(!this.isSettled(offset) && offset < this.logEnd, 'return counts are of unsettled messages');
  }

  private priorityOf(message: StoredMessage): number {
    return Math.min(priorityOfProperties(message.properties) ?? 0, this.maxPriority);
  }

  private hasRoomFor(costBytes: number): boolean {
    return this.cachedBytes + costBytes <= this.maxReadyBytesInMemory;
  }

  private addFresh(offset: number, message: StoredMessage, costBytes: number): void {
    const priority = this.priorityOf(message);
    this.levels[priority]!.fresh.push(offset);
    this.top = Math.max(this.top, priority);
    this.readyTotal++;
    this.readyBodyBytes += message.body.length;
    if (this.hasRoomFor(costBytes)) this.cache(offset, message, costBytes, priority);
  }

  private cache(offset: number, message: StoredMessage, costBytes: number, priority: number): void {
    const deliveryCount = this.returnCounts.size === 0 ? 0 : (this.returnCounts.get(offset) ?? 0);
    this.cached.set(offset, { queued: { offset, message, redelivered: offset < this.redeliveredBelow, deliveryCount }, costBytes, priority });
    this.cachedBytes += costBytes;
  }

  private uncache(cached: CachedMessage): void {
    this.cached.delete(cached.queued.offset);
    this.cachedBytes -= cached.costBytes;
  }

  /** Drops the cached bodies of offsets [start, end); by offset for a short range (recovery settles transient messages one by one). */
  private uncacheIn(start: number, end: number): void {
    if (end - start <= this.cached.size) {
      for (let offset = start; offset < end; offset++) {
        const cached = this.cached.get(offset);
        if (cached !== undefined) this.uncache(cached);
      }
      return;
    }
    for (const cached of [...this.cached.values()]) if (cached.queued.offset >= start && cached.queued.offset < end) this.uncache(cached);
  }

  /** Drops the cached bodies of every level below `priority` (read back when their turn comes). */
  private uncacheBelow(priority: number): void {
    for (const cached of [...this.cached.values()]) if (cached.priority < priority) this.uncache(cached);
  }

  /** The highest level holding a ready message; null when none does. */
  private highestReady(): PriorityLevel | null {
    this.refresh();
    while (this.top >= 0 && this.levels[this.top]!.readyCount === 0) this.top--;
    return this.top >= 0 ? this.levels[this.top]! : null;
  }

  /** Settles [start, end) but for the taken and given-back messages in it. */
  private settleReadyIn(start: number, end: number): void {
    const kept: number[] = [];
    for (const offset of this.taken.keys()) if (offset >= start && offset < end) kept.push(offset);
    for (const level of this.levels) level.requeued.forEach((message) => message.offset >= start && message.offset < end && kept.push(message.offset));
    kept.sort((left, right) => left - right);
    let from = start;
    for (const offset of [...kept, end]) {
      if (offset > from) {
        this.settled.add(from, offset);
        this.listener.settled(from, offset);
      }
      from = offset + 1;
    }
  }

  /** Drops settled offsets from the levels (after settleAhead or a truncation) and counts again. */
  private refresh(): void {
    if (!this.stale) return;
    this.stale = false;
    let ready = 0;
    for (const level of this.levels) {
      level.fresh.keepOnly((offset) => !this.settled.contains(offset));
      ready += level.readyCount;
    }
    this.readyTotal = ready;
  }
}

/** A fresh message's body in memory, handed out as `queued` when taken. */
interface CachedMessage {
  readonly queued: QueuedMessage;
  readonly costBytes: number;
  readonly priority: number;
}

class PriorityLevel {
  readonly requeued = new RequeuedMessages();
  readonly fresh = new AscendingOffsets();

  get readyCount(): number {
    return this.requeued.size + this.fresh.size;
  }
}

/** Offsets pushed in ascending order, taken from the front (entries before `head` are spent). */
class AscendingOffsets {
  private offsets: number[] = [];
  private head = 0;

  get size(): number {
    return this.offsets.length - this.head;
  }

  /** The lowest offset; -1 when empty. */
  first(): number {
    return this.head < this.offsets.length ? this.offsets[this.head]! : -1;
  }

  push(offset: number): void {
    this.offsets.push(offset);
  }

  shift(): void {
    this.head++;
    if (this.head === this.offsets.length) this.clear();
    else if (this.head >= 1024 && this.head * 2 >= this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
  }

  /** Binary search. */
  includes(offset: number): boolean {
    let low = this.head;
    let high = this.offsets.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = this.offsets[middle]!;
      if (found === offset) return true;
      if (found < offset) low = middle + 1;
      else high = middle - 1;
    }
    return false;
  }

  /** Removes every offset ≥ `offset`. */
  dropFrom(offset: number): void {
    while (this.size > 0 && this.offsets[this.offsets.length - 1]! >= offset) this.offsets.pop();
    if (this.size === 0) this.clear();
  }

  keepOnly(keep: (offset: number) => boolean): void {
    this.offsets = this.offsets.slice(this.head).filter(keep);
    this.head = 0;
  }

  forEach(visit: (offset: number) => void): void {
    for (let index = this.head; index < this.offsets.length; index++) visit(this.offsets[index]!);
  }

  clear(): void {
    this.offsets = [];
    this.head = 0;
  }
}
