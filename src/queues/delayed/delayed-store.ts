/**
 * The messages one delayed exchange holds until they are due (delayed-exchange-type.ts): a
 * partition log of the message bodies plus the record of which offsets are routed, the same
 * pieces a durable queue is made of (queue-store/), and in memory only small entries.
 *
 *   <dataDir>/amqp/delayed/<storageId>/
 *     log/                  a PartitionLog: one v2 batch per held message (queue-store/message-codec.ts),
 *                           its timestamp being the message's due time, not its publish time
 *     dispositions.state    the state log (queue-store/state-log.ts): offsets routed (or dropped),
 *                           as "settled" ranges; snapshotted and compacted like a queue's
 *
 * In memory, per held message, one entry (due time, offset) in two orders:
 *   - a min-heap on (due time, offset) (due-heap.ts): the next message to route, O(log n);
 *   - an array in offset order (offsets are handed out in append order), from which `routedBelow`
 *     (the lowest offset still held) is read; entries done are skipped from its head, O(1) amortized.
 * The messages themselves stay in memory too while they fit maxBytesInMemory (those held first),
 * so that a burst of short delays is routed without reading anything back; the others are read
 * from the log when due, 64 KiB at a time, the held messages read along kept in memory for later
 * (messages published together tend to fall due together).
 *
 * hold() appends the message (group-committed, like any append) and pushes its entry; a timer
 * runs for the entry due first. When it fires, the entries due are routed one after the other, in
 * due order: the message (from memory, or read back from the log) is handed to
 * the router (the virtual host's routing and the queues' appends), and once the queues hold it as
 * durably as they promise, its offset is recorded as routed. A crash between the two routes the
 * message again at the restart: at least once, never lost. Segments wholly below `routedBelow`
 * are deleted once the state log has made that durable.
 *
 * Recovery (open with recover = true): the log recovers itself, the state file is replayed, and
 * the messages neither routed nor dropped are read once: persistent ones are held again (due at
 * once if their time passed while the broker was down), transient ones (delivery-mode 1) are
 * dropped, as RabbitMQ drops transient messages at a restart. Then the state is written as a fresh
 * snapshot. Nothing is routed before start() (the broker restores its queues and bindings first).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type { Logger } from '../../logging/logger.js';
import { asOffset } from '../../storage/offset.js';
import { CorruptBatchError, LogClosedError, OffsetOutOfRangeError, PartitionLog, type Clock, type LogEnvironment, type LogOptions } from '../../storage/partition-log.js';
import type { DispositionSnapshot } from '../queue-store/dispositions.js';
import { decodeMessages, encodeMessage } from '../queue-store/message-codec.js';
import type { OffsetRanges } from '../queue-store/offset-ranges.js';
import { SegmentReclaimer } from '../queue-store/segment-reclaimer.js';
import { StateLog, readStateFile } from '../queue-store/state-log.js';
import type { StoredMessage } from '../queue-store/stored-message.js';
import { DueHeap, type DueEntry } from './due-heap.js';

export const delayedLogFolderName = 'log';
/** Bytes read at a time by the recovery scan. */
const recoveryReadBytes = 1024 * 1024;
/** setTimeout's longest wait; a later due time is waited for in steps. */
const maxTimerMs = 2 ** 31 - 1;

/** Delayed messages held by all the stores of a broker together (amqp.maxDelayedMessages). */
export interface DelayedMessageCount {
  held: number;
  readonly max: number;
}

export interface DelayedStoreSettings {
  readonly logOptions: LogOptions;
  readonly logEnvironment: LogEnvironment;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly count: DelayedMessageCount;
  /** State log compaction threshold (state-log.ts); its default when left out. */
  readonly stateCompactionMinBytes?: number;
  /** Bytes of held messages also kept in memory, so they are routed without a read (the first held, up to this); 8 MiB when left out. */
  readonly maxBytesInMemory?: number;
}

const defaultMaxBytesInMemory = 8 * 1024 * 1024;
/** Bytes read at a time when a due message is not in memory: the messages next to it come along, while they fit maxBytesInMemory. */
const readAheadBytes = 64 * 1024;
/** Messages routed in a row before the routing loop lets the event loop run. */
const routedPerTurn = 256;

/**
 * Routes a due message (its `publishedAtMs` now the time it is routed); returns what resolves once
 * every queue reached holds it as durably as it promises, or null when there is nothing to wait for.
 */
export type DelayedRouter = (message: StoredMessage) => Promise<unknown> | null;

/** What hold() answers: held (durable when `durable` resolves; null: nothing to wait for), or refused. */
export type HoldResult = { readonly held: true; readonly durable: Promise<void> | null } | { readonly held: false; readonly reason: string };

/** A message to hold: what it will be routed as, and when. */
export interface MessageToHold {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Buffer;
  readonly body: Buffer;
  readonly persistent: boolean;
  /** From now (the store's clock). */
  readonly delayMs: number;
  /** The message's `expiration` property, in ms: its time in a queue starts when it is routed. */
  readonly expirationMs: number | null;
}

interface HeldEntry extends DueEntry {
  /** Routed (or dropped): its offset is, or is about to be, recorded as routed. */
  done: boolean;
  /** The message, while it is kept in memory too (maxBytesInMemory); null: read from the log when due. */
  message: StoredMessage | null;
  /** What it costs in memory while kept (its batch's bytes). */
  bytes: number;
}

export class DelayedMessageStore {
  private readonly dueOrder = new DueHeap<HeldEntry>();
  /** Held entries in offset order; those before `head` are gone, done ones are skipped lazily. */
  private offsetOrder: HeldEntry[] = [];
  private head = 0;
  /** Done entries in offsetOrder at or after `head`. */
  private doneInOrder = 0;
  private held = 0;
  private bytesInMemory = 0;
  private readonly maxBytesInMemory: number;
  private stateLog: StateLog | null = null;
  private router: DelayedRouter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerDueAtMs = Infinity;
  private routing: Promise<void> | null = null;
  /** Routed messages whose queues' durable promise has not resolved yet. */
  private readonly awaitingQueues = new Set<Promise<void>>();
  private lastAppendDurable: Promise<void> = Promise.resolve();
  private readonly segments: SegmentReclaimer;
  private closed = false;
  private readonly logger: Logger;

  private constructor(
    readonly directory: string,
    private readonly log: PartitionLog,
    private readonly settings: DelayedStoreSettings,
    /** Whether appends of persistent messages are waited for (the exchange survives a restart). */
    private readonly durable: boolean,
  ) {
    this.logger = settings.logger.with({ delayedStore: directory });
    this.segments = new SegmentReclaimer(log, settings.logOptions.segmentBytes, (error) => this.logger.warn('deleting routed delayed segments failed', { error: error.message }));
    this.maxBytesInMemory = settings.maxBytesInMemory ?? defaultMaxBytesInMemory;
  }

  /**
   * Opens the store in `directory`: recovering what it holds when `recover`, otherwise starting
   * empty (whatever the folder held is removed). `durable`: confirms of persistent messages wait
   * for their fsync (a durable exchange); otherwise nothing is waited for.
   */
  static async open(directory: string, settings: DelayedStoreSettings, options: { readonly recover: boolean; readonly durable: boolean }): Promise<DelayedMessageStore> {
    if (!options.recover) await rm(directory, { recursive: true, force: true });
    await mkdir(directory, { recursive: true });
    const logOptions = { ...settings.logOptions, segmentMs: Number.MAX_SAFE_INTEGER, retentionMs: -1, retentionBytes: -1 };
    const log = await PartitionLog.open(join(directory, delayedLogFolderName), logOptions, settings.clock, settings.logEnvironment);
    const store = new DelayedMessageStore(directory, log, settings, options.durable);
    try {
      const replayed = await readStateFile(directory, store.logger);
      await store.recover(Math.max(replayed.settledBelow, log.logStartOffset), replayed.settled);
      store.stateLog = await StateLog.create(directory, store.stateSource(), {
        logger: store.logger,
        ...(settings.logEnvironment.syncFile === undefined ? {} : { syncFile: settings.logEnvironment.syncFile }),
        ...(settings.stateCompactionMinBytes === undefined ? {} : { compactionMinBytes: settings.stateCompactionMinBytes }),
        onDurable: (routedBelow) => store.maybeDeleteRoutedSegments(routedBelow, false),
      });
      log.onTruncated((endOffset) => store.truncated(endOffset));
      store.maybeDeleteRoutedSegments(store.routedBelow, true);
      return store;
    } catch (error) {
      settings.count.held -= store.held;
      await log.close().catch(() => {});
      throw error;
    }
  }

  /** Messages held (waiting for their time, or being routed). */
  get heldCount(): number {
    return this.held;
  }

  /** The lowest offset still held; the log end when none is. */
  get routedBelow(): number {
    this.skipDoneHead();
    return this.offsetOrder[this.head]?.offset ?? this.log.logEndOffset;
  }

  /** For tests: the log and the state file. */
  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get segmentCount(): number {
    return this.log.segmentCount;
  }

  get stateSizeBytes(): number {
    return this.stateLog?.sizeBytes ?? 0;
  }

  get stateCompactionCount(): number {
    return this.stateLog?.compactionCount ?? 0;
  }

  /** Holds a message for `delayMs`; refused past amqp.maxDelayedMessages or when the log cannot take it. */
  hold(message: MessageToHold): HoldResult {
    const count = this.settings.count;
    if (count.held >= count.max) return { held: false, reason: `delayed message limit (${count.max}, amqp.maxDelayedMessages) is reached` };
    if (this.closed) return { held: false, reason: 'the exchange is being deleted' };
    const dueAtMs = this.settings.clock.nowMs() + message.delayMs;
    const { exchange, routingKey, properties, body, persistent, expirationMs } = message;
    const encoded = encodeMessage({ exchange, routingKey, properties, body, persistent, publishedAtMs: dueAtMs, expiresAtMs: expirationMs === null ? null : dueAtMs + expirationMs });
    let appended;
    try {
      appended = this.log.append(encoded.batch);
    } catch (error) {
      this.logger.error('a delayed message could not be appended', { error: (error as Error).message });
      return { held: false, reason: 'the delayed message could not be stored' };
    }
    this.lastAppendDurable = appended.durable;
    const bytes = encoded.batch.length;
    const kept = this.bytesInMemory + bytes <= this.maxBytesInMemory;
    if (kept) this.bytesInMemory += bytes;
    const entry: HeldEntry = { dueAtMs, offset: appended.baseOffset, done: false, message: kept ? encoded.message : null, bytes };
    this.add(entry);
    this.schedule();
    if (this.durable && message.persistent) return { held: true, durable: appended.durable };
    appended.durable.catch(() => {}); // nobody waits: a failed write is logged by the log
    return { held: true, durable: null };
  }

  /** Starts routing the messages as they fall due (those overdue at once). */
  start(router: DelayedRouter): void {
    this.router = router;
    this.schedule();
  }

  /** Writes and fsyncs what is pending (messages and state), then deletes the segments routed since. */
  async flush(): Promise<void> {
    await this.log.flush();
    await this.stateLog?.flush();
    await this.segments.running;
    this.maybeDeleteRoutedSegments(this.routedBelow, true);
    await this.segments.running;
  }

  /**
   * Stops routing, waits for the message being routed and for the queues of those routed, then
   * closes the files. What is still held is routed after the next open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    await this.routing;
    await Promise.all(this.awaitingQueues);
    await this.segments.running;
    this.settings.count.held -= this.held;
    try {
      await this.stateLog?.close();
    } finally {
      await this.log.close();
    }
  }

  /** Closes the store and removes its files: the exchange is gone, and its held messages with it. */
  async delete(): Promise<void> {
    await this.close().catch((error: unknown) => this.logger.warn('closing a delayed store to delete it failed', { error: String(error) }));
    await rm(this.directory, { recursive: true, force: true });
  }

  /** Our own invariants, for tests. */
  invariants(): void {
    this.dueOrder.invariants();
    let live = 0;
    for (let index = this.head; index < this.offsetOrder.length; index++) {
      const entry = this.offsetOrder[index]!;
      if (!entry.done) live++;
      if (index > this.head && entry.offset <= this.offsetOrder[index - 1]!.offset) throw new Error('delayed store: offsets out of order');
    }
    if (live !== this.held) throw new Error(`delayed store: ${live} live entries, ${this.held} counted`);
    let keptBytes = 0;
    for (let index = this.head; index < this.offsetOrder.length; index++) keptBytes += this.offsetOrder[index]!.message === null ? 0 : this.offsetOrder[index]!.bytes;
    if (keptBytes !== this.bytesInMemory || keptBytes > this.maxBytesInMemory) throw new Error(`delayed store: ${this.bytesInMemory} bytes in memory counted, ${keptBytes} kept`);
    if (this.offsetOrder.length - this.head - live !== this.doneInOrder) throw new Error(`delayed store: ${this.doneInOrder} done entries counted`);
    if (this.doneInOrder >= 1024 && this.doneInOrder > this.held) throw new Error(`delayed store: ${this.doneInOrder} done entries kept for ${this.held} held`);
    this.log.invariants();
  }

  // ── entries ───────────────────────────────────────────────────────────────────────────────

  private add(entry: HeldEntry): void {
    this.offsetOrder.push(entry);
    this.dueOrder.push(entry);
    this.held++;
    this.settings.count.held++;
  }

  /** The entry's message leaves memory (it is being routed, or dropped). */
  private release(entry: HeldEntry): void {
    if (entry.message === null) return;
    entry.message = null;
    this.bytesInMemory -= entry.bytes;
  }

  /** The entry is routed (or dropped): recorded as routed, and no longer counted. */
  private finish(entry: HeldEntry): void {
    if (entry.done) return;
    this.release(entry);
    entry.done = true;
    this.held--;
    this.doneInOrder++;
    this.settings.count.held--;
    this.stateLog?.recordSettled(entry.offset, entry.offset + 1);
    this.maybeCompactOffsetOrder();
  }

  /**
   * Drops the done entries from offsetOrder once they outnumber the held ones (a long delay at its
   * head would otherwise keep every later entry alive): O(1) amortized per finished entry.
   */
  private maybeCompactOffsetOrder(): void {
    if (this.doneInOrder < 1024 || this.doneInOrder <= this.held) return;
    this.offsetOrder = this.offsetOrder.slice(this.head).filter((entry) => !entry.done);
    this.head = 0;
    this.doneInOrder = 0;
  }

  private skipDoneHead(): void {
    const order = this.offsetOrder;
    while (this.head < order.length && order[this.head]!.done) {
      this.head++;
      this.doneInOrder--;
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.offsetOrder = order.slice(this.head);
      this.head = 0;
    }
  }

  /** The next entry due that is not done (done ones are dropped from the heap on the way). */
  private nextDue(): HeldEntry | undefined {
    for (;;) {
      const top = this.dueOrder.peek();
      if (top === undefined || !top.done) return top;
      this.dueOrder.pop();
    }
  }

  /** A failed write cut the log back to `endOffset`: the entries there were never acknowledged; they go. */
  private truncated(endOffset: number): void {
    const order = this.offsetOrder;
    while (order.length > this.head && order[order.length - 1]!.offset >= endOffset) {
      const entry = order.pop()!;
      this.release(entry);
      if (entry.done) this.doneInOrder--;
      else {
        entry.done = true;
        this.held--;
        this.settings.count.held--;
      }
    }
    this.stateLog?.recordTruncated(endOffset);
  }

  // ── routing ───────────────────────────────────────────────────────────────────────────────

  /** Routes what is due now, or sets the timer for the next entry due. */
  private schedule(): void {
    if (this.router === null || this.closed || this.routing !== null) return;
    const next = this.nextDue();
    if (next === undefined) {
      this.clearTimer();
      return;
    }
    const waitMs = next.dueAtMs - this.settings.clock.nowMs();
    if (waitMs <= 0) {
      this.clearTimer();
      this.routing = this.routeDue();
      return;
    }
    if (this.timer !== null && this.timerDueAtMs <= next.dueAtMs) return;
    this.clearTimer();
    this.timerDueAtMs = next.dueAtMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerDueAtMs = Infinity;
      this.schedule();
    }, Math.min(waitMs, maxTimerMs));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAtMs = Infinity;
  }

  /** Routes the due entries one after the other, in due order, until none is due (or the store closes). */
  private async routeDue(): Promise<void> {
    await null; // `routing` is assigned before this can end
    try {
      for (let routed = 1; ; routed++) {
        const next = this.nextDue();
        if (this.closed || next === undefined || next.dueAtMs > this.settings.clock.nowMs()) break;
        this.dueOrder.pop();
        await this.routeOne(next);
        // Messages kept in memory route without any I/O: let publishes and deliveries in now and then.
        if (routed % routedPerTurn === 0) await setImmediatePromise();
      }
    } catch (error) {
      this.logger.error('routing delayed messages failed; retried with the next one due', { error: (error as Error).message });
    } finally {
      this.routing = null;
      if (!this.closed) this.schedule();
    }
  }

  /** Reads the entry's message (taken off the heap) and routes it; finishes it now, or once its queues hold it. */
  private async routeOne(entry: HeldEntry): Promise<void> {
    const message = entry.message ?? (await this.read(entry));
    if (this.closed || entry.done) return; // closed: still held, routed after the next open
    this.release(entry);
    if (message === null) {
      this.finish(entry);
      return;
    }
    let durable: Promise<unknown> | null = null;
    try {
      durable = this.router!({ ...message, publishedAtMs: this.settings.clock.nowMs() });
    } catch (error) {
      this.logger.error('a due delayed message could not be routed; it is dropped', { offset: entry.offset, error: (error as Error).message });
    }
    this.awaitRouted(entry, durable);
  }

  private awaitRouted(entry: HeldEntry, durable: Promise<unknown> | null): void {
    if (durable === null) {
      this.finish(entry);
      return;
    }
    const waiting: Promise<void> = durable.then(
      () => this.finish(entry),
      (error: unknown) => {
        this.logger.warn('a routed delayed message did not reach disk in every queue', { offset: entry.offset, error: String(error) });
        this.finish(entry);
      },
    );
    this.awaitingQueues.add(waiting);
    void waiting.finally(() => this.awaitingQueues.delete(waiting));
  }

  /**
   * The held message at the entry's offset; null when the log lost it (logged). The held messages
   * read along with it are kept in memory (copied: a view would pin the whole chunk) while they fit.
   */
  private async read(entry: HeldEntry): Promise<StoredMessage | null> {
    for (;;) {
      let chunks: Buffer[];
      try {
        chunks = (await this.log.read(asOffset(entry.offset), readAheadBytes)).chunks;
      } catch (error) {
        if (error instanceof LogClosedError) return null;
        if (error instanceof CorruptBatchError || error instanceof OffsetOutOfRangeError) {
          this.logger.error('a delayed message lost to damaged log data is dropped', { offset: entry.offset, error: error.message });
          return null;
        }
        throw error;
      }
      if (entry.done || this.closed) return null;
      if (chunks.length === 0) {
        // Appended but not written yet: read once the flush cycle has written it.
        await this.lastAppendDurable.catch(() => {});
        continue;
      }
      let found: StoredMessage | null = null;
      decodeMessages(chunks, (offset, message, costBytes) => {
        if (offset === entry.offset) found = message;
        else if (offset > entry.offset) return this.keepReadAhead(offset, message, costBytes);
        return true;
      });
      return found;
    }
  }

  /** Keeps a message read along with a due one, if it is held and fits; false once memory is full. */
  private keepReadAhead(offset: number, message: StoredMessage, costBytes: number): boolean {
    if (this.bytesInMemory + costBytes > this.maxBytesInMemory) return false;
    const entry = this.heldAt(offset);
    if (entry === undefined || entry.done || entry.message !== null) return true;
    const copy = Buffer.allocUnsafe(message.properties.length + message.body.length);
    message.properties.copy(copy, 0);
    message.body.copy(copy, message.properties.length);
    entry.message = { ...message, properties: copy.subarray(0, message.properties.length), body: copy.subarray(message.properties.length) };
    entry.bytes = costBytes;
    this.bytesInMemory += costBytes;
    return true;
  }

  /** The entry at `offset` in offsetOrder (binary search), if there is one. */
  private heldAt(offset: number): HeldEntry | undefined {
    const order = this.offsetOrder;
    let low = this.head;
    let high = order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order[middle]!.offset < offset) low = middle + 1;
      else high = middle;
    }
    const entry = order[low];
    return entry?.offset === offset ? entry : undefined;
  }

  // ── recovery and the state log ───────────────────────────────────────────────────────────

  /** One pass over the messages neither routed nor dropped: persistent ones are held again. */
  private async recover(routedBelow: number, routed: OffsetRanges): Promise<void> {
    const logEnd = this.log.logEndOffset;
    let offset = Math.min(routedBelow, logEnd);
    let droppedTransient = 0;
    while (offset < logEnd) {
      offset = routed.skipFrom(offset);
      if (offset >= logEnd) break;
      let chunks: Buffer[];
      try {
        chunks = (await this.log.read(asOffset(offset), recoveryReadBytes, asOffset(logEnd))).chunks;
      } catch (error) {
        if (!(error instanceof CorruptBatchError)) throw error;
        this.logger.error('delayed messages lost to damaged log data are dropped', { firstOffset: error.damage.firstOffset, lastOffset: error.damage.lastOffset });
        offset = error.damage.lastOffset + 1;
        continue;
      }
      if (chunks.length === 0) throw new Error(`delayed store recovery: the log returned nothing at offset ${offset} below its end ${logEnd}`);
      decodeMessages(chunks, (messageOffset, message) => {
        offset = messageOffset + 1;
        if (routed.contains(messageOffset)) return;
        if (!message.persistent) {
          droppedTransient++;
          return;
        }
        // Not kept in memory: the message would pin the whole chunk read; it is read again when due.
        this.add({ dueAtMs: message.publishedAtMs, offset: messageOffset, done: false, message: null, bytes: 0 });
      });
    }
    if (this.held > 0 || droppedTransient > 0) this.logger.info('delayed messages recovered', { held: this.held, droppedTransient });
  }

  /** What the state log snapshots: every offset below the log end that is not held counts as routed. */
  private stateSource(): { readonly settledBelow: number; readonly deliveredBelow: number; snapshot(): DispositionSnapshot } {
    const routedBelow = (): number => this.routedBelow;
    return {
      get settledBelow(): number {
        return routedBelow();
      },
      deliveredBelow: 0,
      snapshot: () => this.snapshot(),
    };
  }

  private snapshot(): DispositionSnapshot {
    const routedBelow = this.routedBelow;
    const logEnd = this.log.logEndOffset;
    const ranges: number[] = [];
    let from = routedBelow;
    for (let index = this.head; index < this.offsetOrder.length; index++) {
      const entry = this.offsetOrder[index]!;
      if (entry.done || entry.offset >= logEnd) continue;
      if (entry.offset > from) ranges.push(from, entry.offset);
      from = entry.offset + 1;
    }
    if (logEnd > from) ranges.push(from, logEnd);
    return { settledBelow: routedBelow, settledRanges: ranges, deliveredBelow: 0, returnCounts: [] };
  }

  private maybeDeleteRoutedSegments(routedBelow: number, force: boolean): void {
    if (!this.closed) this.segments.reclaim(routedBelow, force);
  }
}
