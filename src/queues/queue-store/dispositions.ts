import { strict as assert } from 'node:assert';
import type { OffsetRanges } from './offset-ranges.js';
import { RequeuedMessages } from './requeued-messages.js';
import { SettledOffsets } from './settled-offsets.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

/**
 * What has become of each message of a queue's log, in memory (DESIGN.md decision 11). No I/O:
 * the store (queue-store.ts) reads the log and writes the state batches (log-state.ts) around it.
 *
 *   log offsets  0 ……………………………………………………………………………………………………………………………………………▶ logEnd
 *                ├── settled ──┤ S ·T· R · T ·· S ·· ┤ B B B B ┤ · · · on disk · · · ┤
 *                          settledBelow          cursor      bufferedEnd            logEnd
 *
 *   below settledBelow   every message is settled (acknowledged, rejected, purged, dropped)
 *   above it             settled ones (S) are ranges in `settled`; the others below the cursor are
 *                        taken (T, delivered and not settled) or requeued (R, ready again, kept in
 *                        memory with their QueuedMessage, delivered before anything else, lowest
 *                        offset first)
 *   cursor … logEnd      never taken: ready unless settled (purge, transient at recovery, damage).
 *                        [cursor, bufferedEnd) is held in memory (B: every unsettled message there,
 *                        in order); [bufferedEnd, logEnd) is only on disk: when the buffer runs dry
 *                        the store reads the next chunk from nextOffsetToRead().
 *
 * An append goes into the buffer when the buffer reaches the log end and has room
 * (maxReadyBytesInMemory; one message always fits an empty buffer); otherwise the buffer lags
 * and the message is read back when its turn comes.
 *
 * readyCount = requeued + (logEnd − cursor) − settledAhead, where settledAhead counts the settled
 * offsets in [cursor, logEnd): kept up to date as settles and the cursor move, so counts are O(1).
 * readyBytes (body bytes of the ready messages, for x-max-length-bytes) is kept the same way: added
 * at append (and by the store for what recovery finds), taken off at take, back at requeue.
 *
 * Return counts: a message given back (requeued) has its count of returns here, kept durably by the
 * state batches, until it is settled; the QueuedMessage handed out carries it (x-delivery-limit).
 */

export interface DispositionListener {
  /** Offsets [start, end) became settled (some may have been already). */
  settled(start: number, end: number): void;
  /** The cursor moved: deliveredBelow may have grown. */
  deliveredMoved(): void;
  /** Everything from endOffset on was cut from the log (a failed write): settles there are void. */
  truncated(endOffset: number): void;
  /** The message at `offset` was given back; it has now been returned `count` times. */
  returned(offset: number, count: number): void;
}

/**
 * What a durable queue's store (queue-store.ts) asks of its dispositions: handed out in log order
 * (Dispositions, below) or highest priority first (priority-dispositions.ts). Both keep the same
 * durable state (settled offsets, delivered mark, return counts), so the same state batches.
 */
export interface MessageDispositions {
  readonly settledBelow: number;
  readonly deliveredBelow: number;
  readonly logEndOffset: number;
  readonly readyCount: number;
  readonly unackedCount: number;
  readonly readyBytes: number;
  /** Ready messages whose bodies are in memory, and what they cost. */
  readonly bufferedCount: number;
  readonly bufferedBytes: number;
  /** Bytes a read from the log may bring in now (at least 1). */
  readonly bufferRoomBytes: number;
  readonly settledRangeCount: number;
  /** Changes whenever the in-memory messages are reset (purge, truncation): a read started before is stale. */
  readonly generation: number;
  isSettled(offset: number): boolean;
  skipSettled(offset: number): number;
  /** A new message at the log end, `costBytes` its size in memory. */
  appended(offset: number, message: StoredMessage, costBytes: number): void;
  /** The log end's offset went to something that is no message (a state batch): settled at once. */
  occupied(offset: number): void;
  /** Recovery found this unsettled, persistent message in the log (in log order). */
  recovered(offset: number, message: StoredMessage, costBytes: number): void;
  /** A message read from the log to refill memory (from nextOffsetToRead() on); false: read no further. */
  offerRead(offset: number, message: StoredMessage, costBytes: number): boolean;
  takeNext(): QueuedMessage | null;
  peekNext(): QueuedMessage | null;
  /** Where the store should read the log now for takeNext to have a message; null when there is nothing to read. */
  nextOffsetToRead(): number | null;
  requeue(message: QueuedMessage, counted?: boolean): boolean;
  settle(message: QueuedMessage): boolean;
  /** Offsets [start, end) that are neither taken nor given back are settled: transient messages at recovery, damaged ranges. */
  settleAhead(start: number, end: number): void;
  purge(): number;
  truncated(endOffset: number): void;
  snapshot(): DispositionSnapshot;
  invariants(): void;
}

/** The durable part of the state: what a state-log snapshot holds. */
export interface DispositionSnapshot {
  readonly settledBelow: number;
  /** Settled ranges above settledBelow, flat: start, end (exclusive), start, end, … lowest first. */
  readonly settledRanges: readonly number[];
  /** Every message below it may have been delivered (it comes back flagged redelivered after a restart). */
  readonly deliveredBelow: number;
  /** Return counts of unsettled messages: offset, count, offset, count, … */
  readonly returnCounts: readonly number[];
}

/** Forgets the entries of offsets ≥ endOffset (a truncated log lost them). */
export function deleteOffsetsFrom(byOffset: Map<number, unknown>, endOffset: number): void {
  // Deleting the entry being visited is safe while iterating a Map.
  for (const offset of byOffset.keys()) if (offset >= endOffset) byOffset.delete(offset);
}

/** A snapshot of the durable state, as both kinds of dispositions keep it. */
export function snapshotOf(settled: SettledOffsets, deliveredBelow: number, returnCounts: ReadonlyMap<number, number>): DispositionSnapshot {
  const settledRanges: number[] = [];
  settled.ranges.forEach((start, end) => settledRanges.push(start, end));
  const counts: number[] = [];
  for (const [offset, count] of returnCounts) counts.push(offset, count);
  return { settledBelow: settled.below, settledRanges, deliveredBelow, returnCounts: counts };
}

export interface DispositionsStart {
  readonly settledBelow: number;
  /** Settled offsets (any at or below settledBelow, or at or beyond logEndOffset, are dropped). */
  readonly settled: OffsetRanges;
  readonly logEndOffset: number;
  /** Messages below it are handed out flagged redelivered (they may have been delivered before a restart). */
  readonly redeliveredBelow: number;
  readonly maxReadyBytesInMemory: number;
  readonly listener: DispositionListener;
  /** Return counts by offset (those of settled offsets are dropped). */
  readonly returnCounts?: ReadonlyMap<number, number>;
}

export class Dispositions implements MessageDispositions {
  private readonly settled: SettledOffsets;
  private readonly taken = new Map<number, QueuedMessage>();
  private readonly requeued = new RequeuedMessages();
  private cursorOffset: number;
  private logEnd: number;
  private settledAhead: number;
  private redeliveredBelow: number;
  private readonly maxReadyBytesInMemory: number;
  private readonly listener: DispositionListener;
  /** The in-memory ready messages (entries before bufferedHead are spent) and the bytes each costs. */
  private bufferedMessages: Array<QueuedMessage | undefined> = [];
  private bufferedCosts: number[] = [];
  private bufferedHead = 0;
  private bufferedBytesTotal = 0;
  private bufferedEndOffset: number;
  private readyBodyBytes = 0;
  private readonly returnCounts = new Map<number, number>();
  /** Changes whenever the buffer is reset (purge, truncation): a read started before is stale. */
  generation = 0;
  /** Whether recovered messages still go into the buffer (recovered()). */
  private recoveryBuffering = true;

  constructor(start: DispositionsStart) {
    assert(start.settledBelow <= start.logEndOffset, 'settledBelow ≤ log end');
    start.settled.removeFrom(start.logEndOffset);
    this.settled = new SettledOffsets(start.settledBelow, start.settled);
    this.logEnd = start.logEndOffset;
    this.cursorOffset = this.settled.below;
    this.bufferedEndOffset = this.settled.below;
    this.settledAhead = this.settled.ranges.size;
    this.redeliveredBelow = Math.min(start.redeliveredBelow, start.logEndOffset);
    this.maxReadyBytesInMemory = start.maxReadyBytesInMemory;
    this.listener = start.listener;
    for (const [offset, count] of start.returnCounts ?? []) if (offset < this.logEnd && !this.isSettled(offset)) this.returnCounts.set(offset, count);
  }

  get settledBelow(): number {
    return this.settled.below;
  }

  get cursor(): number {
    return this.cursorOffset;
  }

  get logEndOffset(): number {
    return this.logEnd;
  }

  get bufferedEnd(): number {
    return this.bufferedEndOffset;
  }

  get bufferedCount(): number {
    return this.bufferedMessages.length - this.bufferedHead;
  }

  get bufferedBytes(): number {
    return this.bufferedBytesTotal;
  }

  get readyCount(): number {
    return this.requeued.size + (this.logEnd - this.cursorOffset) - this.settledAhead;
  }

  get unackedCount(): number {
    return this.taken.size;
  }

  get readyBytes(): number {
    return this.readyBodyBytes;
  }

  /** Recovery found `bytes` more of ready bodies on disk (they were appended before the restart). */
  addRecoveredReadyBytes(bytes: number): void {
    this.readyBodyBytes += bytes;
  }

  get settledRangeCount(): number {
    return this.settled.ranges.rangeCount;
  }

  /** What the delivered mark says: every message below it may have been handed out. */
  get deliveredBelow(): number {
    return Math.max(this.cursorOffset, this.redeliveredBelow);
  }

  isSettled(offset: number): boolean {
    return this.settled.contains(offset);
  }

  /** `offset`, or the first offset after it that is not settled when it is. */
  skipSettled(offset: number): number {
    return this.settled.skipFrom(offset);
  }

  recovered(offset: number, message: StoredMessage, costBytes: number): void {
    this.readyBodyBytes += message.body.length;
    // The first ones fill the buffer; once one does not fit, the rest is read when its turn comes.
    if (this.recoveryBuffering && this.hasRoomFor(costBytes)) this.buffer(offset, message, costBytes);
    else this.recoveryBuffering = false;
  }

  offerRead(offset: number, message: StoredMessage, costBytes: number): boolean {
    if (!this.hasRoomFor(costBytes)) return false;
    this.buffer(offset, message, costBytes);
    return true;
  }

  /** A new message at the log end (offset = logEndOffset), `costBytes` its size in memory. */
  appended(offset: number, message: StoredMessage, costBytes: number): void {
    assert.equal(offset, this.logEnd, 'appends come in offset order');
    const caughtUp = this.bufferedEndOffset === this.logEnd;
    this.logEnd = offset + 1;
    this.readyBodyBytes += message.body.length;
    if (caughtUp && this.hasRoomFor(costBytes)) this.pushBuffered({ offset, message, redelivered: false, deliveryCount: 0 }, costBytes);
  }

  /**
   * The log end's offset went to something that is no message (a state batch, log-state.ts): it is
   * settled at once, without a settle record (replay knows state batches by their kind).
   */
  occupied(offset: number): void {
    assert.equal(offset, this.logEnd, 'appends come in offset order');
    const caughtUp = this.bufferedEndOffset === this.logEnd;
    this.logEnd = offset + 1;
    const added = this.insertSettled(offset, offset + 1); // may move the cursor, so not `settledAhead += insertSettled(…)`
    this.settledAhead += added;
    // A buffer that held everything up to the log end still does, so that appends after it go in.
    if (caughtUp && this.bufferedEndOffset < this.logEnd) this.bufferedEndOffset = this.logEnd;
  }

  /** Whether a message of `costBytes` may join the in-memory buffer. */
  hasRoomFor(costBytes: number): boolean {
    return this.bufferedCount === 0 || this.bufferedBytesTotal + costBytes <= this.maxReadyBytesInMemory;
  }

  /** Bytes the buffer may still take (at least 1: one message always fits an empty buffer). */
  get bufferRoomBytes(): number {
    return Math.max(1, this.maxReadyBytesInMemory - this.bufferedBytesTotal);
  }

  /**
   * The next ready message, now taken: requeued first, then the buffer. Null when neither has one;
   * the store then asks nextOffsetToRead() whether the log has more.
   */
  takeNext(): QueuedMessage | null {
    let next = this.requeued.pop();
    if (next !== null) this.readyBodyBytes -= next.message.body.length;
    if (next === null) {
      next = this.shiftBuffered();
      if (next === null) return null;
      this.settledAhead -= next.offset - this.cursorOffset; // the buffer holds every unsettled offset it spans
      this.cursorOffset = next.offset + 1;
      this.readyBodyBytes -= next.message.body.length;
      this.listener.deliveredMoved();
    }
    this.taken.set(next.offset, next);
    return next;
  }

  /** What takeNext would return now, not taken. */
  peekNext(): QueuedMessage | null {
    return this.requeued.peek() ?? (this.bufferedHead < this.bufferedMessages.length ? this.bufferedMessages[this.bufferedHead]! : null);
  }

  /**
   * Where the store should read the log from to refill the buffer; null when the buffer holds
   * messages or everything up to the log end is in memory or settled. Skips settled ranges.
   */
  nextOffsetToRead(): number | null {
    if (this.bufferedCount > 0) return null;
    const next = this.settled.skipFrom(this.bufferedEndOffset);
    this.bufferedEndOffset = next;
    this.advanceCursorOverSettled(next);
    return next < this.logEnd ? next : null;
  }

  /**
   * A message read from the log at or after bufferedEnd (the store reads from nextOffsetToRead()
   * and checks hasRoomFor first). Settled ones are skipped.
   */
  buffer(offset: number, message: StoredMessage, costBytes: number): void {
    if (offset < this.bufferedEndOffset || offset >= this.logEnd) return;
    if (this.isSettled(offset)) {
      this.bufferedEndOffset = offset + 1;
      return;
    }
    const deliveryCount = this.returnCounts.size === 0 ? 0 : (this.returnCounts.get(offset) ?? 0);
    this.pushBuffered({ offset, message, redelivered: offset < this.redeliveredBelow, deliveryCount }, costBytes);
  }

  /**
   * A taken message goes back, flagged redelivered, its return count one higher; false when it is
   * not taken (identity compared).
   */
  requeue(message: QueuedMessage, counted = true): boolean {
    if (this.taken.get(message.offset) !== message) return false;
    this.taken.delete(message.offset);
    const deliveryCount = counted ? message.deliveryCount + 1 : message.deliveryCount;
    if (counted) {
      this.returnCounts.set(message.offset, deliveryCount);
      this.listener.returned(message.offset, deliveryCount);
    }
    this.requeued.push({ offset: message.offset, message: message.message, redelivered: true, deliveryCount });
    this.readyBodyBytes += message.message.body.length;
    return true;
  }

  /** A taken message is done; false when it is not taken (identity compared). */
  settle(message: QueuedMessage): boolean {
    if (this.taken.get(message.offset) !== message) return false;
    this.taken.delete(message.offset);
    if (this.returnCounts.size > 0) this.returnCounts.delete(message.offset);
    this.insertSettled(message.offset, message.offset + 1);
    this.listener.settled(message.offset, message.offset + 1);
    return true;
  }

  /**
   * Offsets [start, end) at or beyond bufferedEnd, never taken, are settled: transient messages at
   * recovery, damaged ranges the log cannot serve.
   */
  settleAhead(start: number, end: number): void {
    start = Math.max(start, this.bufferedEndOffset);
    end = Math.min(end, this.logEnd);
    if (end <= start) return;
    const added = this.insertSettled(start, end); // may move the cursor, so not `settledAhead += insertSettled(…)`
    this.settledAhead += added;
    for (const offset of this.returnCounts.keys()) if (offset >= start && offset < end) this.returnCounts.delete(offset);
    this.listener.settled(start, end);
  }

  /** Settles every ready message (requeued, buffered, on disk); taken ones stay. Returns how many. */
  purge(): number {
    const count = this.readyCount;
    for (const offset of this.returnCounts.keys()) if (!this.taken.has(offset)) this.returnCounts.delete(offset);
    for (const message of this.requeued.drain()) {
      this.insertSettled(message.offset, message.offset + 1);
      this.listener.settled(message.offset, message.offset + 1);
    }
    this.readyBodyBytes = 0;
    this.clearBuffer();
    const start = this.cursorOffset;
    if (this.logEnd > start) {
      const added = this.insertSettled(start, this.logEnd);
      this.settledAhead += added;
      this.listener.settled(start, this.logEnd);
    }
    this.advanceCursorOverSettled(this.logEnd);
    this.bufferedEndOffset = this.logEnd;
    this.generation++;
    return count;
  }

  /** The log lost every offset from endOffset on (a failed write was cut away). */
  truncated(endOffset: number): void {
    if (endOffset >= this.logEnd) return;
    this.logEnd = endOffset;
    this.settled.removeFrom(endOffset);
    this.cursorOffset = Math.min(this.cursorOffset, endOffset);
    this.redeliveredBelow = Math.min(this.redeliveredBelow, endOffset);
    deleteOffsetsFrom(this.taken, endOffset);
    deleteOffsetsFrom(this.returnCounts, endOffset);
    this.requeued.filter((message) => message.offset < endOffset);
    while (this.bufferedCount > 0 && this.bufferedMessages[this.bufferedMessages.length - 1]!.offset >= endOffset) {
      this.bufferedMessages.pop();
      this.bufferedBytesTotal -= this.bufferedCosts.pop()!;
    }
    this.bufferedEndOffset = Math.max(this.cursorOffset, Math.min(this.bufferedEndOffset, endOffset));
    this.settledAhead = this.settled.ranges.countIn(this.cursorOffset, endOffset);
    // The bodies cut away are not known one by one; only an empty queue is sure to hold none.
    if (this.readyCount === 0) this.readyBodyBytes = 0;
    this.generation++;
    this.listener.truncated(endOffset);
  }

  snapshot(): DispositionSnapshot {
    return snapshotOf(this.settled, this.deliveredBelow, this.returnCounts);
  }

  /** Our own invariants, for tests. */
  invariants(): void {
    this.settled.invariants(this.logEnd);
    assert(this.settled.below <= this.cursorOffset, 'settledBelow ≤ cursor');
    assert(this.cursorOffset <= this.bufferedEndOffset, 'cursor ≤ bufferedEnd');
    assert(this.bufferedEndOffset <= this.logEnd, 'bufferedEnd ≤ logEnd');
    assert.equal(this.settledAhead, this.settled.ranges.countIn(this.cursorOffset, this.logEnd), 'settledAhead counts the settled offsets from the cursor');
    let previous = this.cursorOffset - 1;
    let bytes = 0;
    for (let index = this.bufferedHead; index < this.bufferedMessages.length; index++) {
      const message = this.bufferedMessages[index]!;
      assert(message.offset > previous && message.offset < this.bufferedEndOffset, 'the buffer is in order within [cursor, bufferedEnd)');
      assert(!this.isSettled(message.offset), 'buffered messages are not settled');
      for (let offset = previous + 1; offset < message.offset; offset++) assert(this.isSettled(offset), 'the buffer holds every unsettled offset it spans');
      previous = message.offset;
      bytes += this.bufferedCosts[index]!;
    }
    assert.equal(bytes, this.bufferedBytesTotal, 'bufferedBytes adds up');
    for (const message of this.taken.values()) assert(message.offset < this.cursorOffset && !this.isSettled(message.offset), 'taken messages are below the cursor, unsettled');
    assert(this.readyCount >= 0, 'readyCount ≥ 0');
    assert(this.readyBodyBytes >= 0, 'readyBytes ≥ 0');
    for (const offset of this.returnCounts.keys()) assert(!this.isSettled(offset) && offset < this.logEnd, 'return counts are of unsettled messages');
  }

  /** Adds [start, end) to the settled offsets (the cursor moves over any it now has before it); returns how many were not settled before. */
  private insertSettled(start: number, end: number): number {
    const added = this.settled.add(start, end);
    this.advanceCursorOverSettled(this.settled.below);
    return added;
  }

  /** Moves the cursor to `target` over offsets that are all settled. */
  private advanceCursorOverSettled(target: number): void {
    if (target <= this.cursorOffset) return;
    this.settledAhead -= target - this.cursorOffset;
    this.cursorOffset = target;
    if (this.bufferedEndOffset < target) this.bufferedEndOffset = target;
  }

  private pushBuffered(message: QueuedMessage, costBytes: number): void {
    this.bufferedMessages.push(message);
    this.bufferedCosts.push(costBytes);
    this.bufferedBytesTotal += costBytes;
    this.bufferedEndOffset = message.offset + 1;
  }

  private shiftBuffered(): QueuedMessage | null {
    if (this.bufferedHead >= this.bufferedMessages.length) return null;
    const message = this.bufferedMessages[this.bufferedHead]!;
    this.bufferedBytesTotal -= this.bufferedCosts[this.bufferedHead]!;
    this.bufferedMessages[this.bufferedHead] = undefined;
    this.bufferedHead++;
    if (this.bufferedHead === this.bufferedMessages.length) {
      this.clearBuffer();
    } else if (this.bufferedHead >= 1024 && this.bufferedHead * 2 >= this.bufferedMessages.length) {
      this.bufferedMessages = this.bufferedMessages.slice(this.bufferedHead);
      this.bufferedCosts = this.bufferedCosts.slice(this.bufferedHead);
      this.bufferedHead = 0;
    }
    return message;
  }

  private clearBuffer(): void {
    this.bufferedMessages = [];
    this.bufferedCosts = [];
    this.bufferedHead = 0;
    this.bufferedBytesTotal = 0;
  }
}
