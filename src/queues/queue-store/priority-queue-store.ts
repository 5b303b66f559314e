/**
 * A priority queue's store (`x-max-priority`, as RabbitMQ's priority queues): one QueueStore per
 * priority level in use, created with the first message of its level, each kept like any other
 * queue's messages: a LogQueueStore in a folder of its own for a durable queue, a MemoryQueueStore
 * for a transient one.
 *
 *   <queue dir>/
 *     priority-0/       a LogQueueStore (queue-store.ts): log/
 *     priority-7/
 *     …                 only the levels that hold messages
 *
 * A message's level is its `priority` property, read from its stored property bytes (so whatever
 * made the message, a publish or a broker-side copy, it lands where its properties say): 0 when it
 * has none, the queue's maximum when above it.
 *
 * takeNext takes from the highest level holding ready messages: higher priorities first, FIFO
 * within a level, requeued messages ahead of fresh ones within their own level (each level's store
 * keeps that order). It walks the levels in use, highest first, so a take costs O(levels in use),
 * at most 256, never a scan of messages. A taken message is the object its level handed out:
 * settle and requeue find the level by that object and hand it back there, where identity is
 * checked.
 *
 * Opening a durable level is asynchronous (a folder, a log) and append is not: while a new level's
 * store opens, its messages wait in memory (waiting-messages.ts), served from there as a store
 * would serve them, and move into the store, each in the state it is in, once it is open; their
 * `durable` resolves when the store has them on disk. A level whose store fails to open loses its
 * waiting messages (their `durable` rejects, so a confirming publisher gets a nack); the next
 * message of that priority tries again.
 *
 * Recovery (open): every priority-<n> folder is reopened, each level recovering itself; a level
 * left with no message is removed, so that levels used once do not keep files open for ever.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import { priorityOfProperties } from '../../protocol/amqp/content-header.js';
import { MemoryQueueStore } from './memory-queue-store.js';
import { WaitingMessages } from './waiting-messages.js';
import type { AppendedMessage, QueueStore } from './queue-store-api.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

/** The highest priority a queue may declare (RabbitMQ's limit; the property is an octet). */
const highestPriority = 255;
const levelFolderPattern = /^priority-(0|[1-9][0-9]{0,2})$/;

export function levelFolderName(priority: number): string {
  return `priority-${priority}`;
}

/** Opens (recovers, or creates) the store of one durable level in its folder. */
export type OpenLevelStore = (directory: string) => Promise<QueueStore>;

/** One priority level: its store, or while a durable one is being opened, the messages waiting for it. */
class Level {
  /** Null while a durable level's store is being opened. */
  store: QueueStore | null = null;
  readonly waiting = new WaitingMessages();
  /** Messages taken while waiting, to the store's own objects for them (waiting-messages.ts). */
  readonly replaced = new WeakMap<QueuedMessage, QueuedMessage>();

  constructor(readonly priority: number) {}

  get readyCount(): number {
    return this.store === null ? this.waiting.readyCount : this.store.readyCount;
  }

  get unackedCount(): number {
    return this.store === null ? this.waiting.unackedCount : this.store.unackedCount;
  }

  get readyBytes(): number {
    return this.store === null ? this.waiting.readyBytes : this.store.readyBytes;
  }

  takeNext(): QueuedMessage | null {
    return this.store === null ? this.waiting.takeNext() : this.store.takeNext();
  }

  peekNext(): QueuedMessage | null {
    return this.store === null ? this.waiting.peekNext() : this.store.peekNext();
  }

  requeue(message: QueuedMessage): void {
    if (this.store === null) this.waiting.requeue(message);
    else this.store.requeue(this.replaced.get(message) ?? message);
  }

  settle(message: QueuedMessage): void {
    if (this.store === null) this.waiting.settle(message);
    else this.store.settle(this.replaced.get(message) ?? message);
  }

  purge(): number {
    return this.store === null ? this.waiting.purge() : this.store.purge();
  }
}

export class PriorityQueueStore implements QueueStore {
  /** The levels in use, highest priority first. */
  private readonly levels: Level[] = [];
  /** The same levels by priority (a sparse array of at most 256 entries). */
  private readonly levelsByPriority: Array<Level | undefined> = [];
  /** Which level each taken message came from; weak, so a message the queue drops costs nothing. */
  private readonly levelOfTaken = new WeakMap<QueuedMessage, Level>();
  private readonly listeners: Array<() => void> = [];
  /** Durable levels being opened. */
  private readonly openings = new Set<Promise<void>>();

  private constructor(
    readonly maxPriority: number,
    /** The queue's folder; null for a transient queue, whose levels are kept in memory. */
    private readonly directory: string | null,
    private readonly openLevelStore: OpenLevelStore | null,
    private readonly logger: Logger,
  ) {
    if (!Number.isInteger(maxPriority) || maxPriority < 1 || maxPriority > highestPriority) throw new RangeError(`a priority queue has 1 to ${highestPriority} levels above 0, not ${maxPriority}`);
  }

  /** The store of a transient priority queue: each level a MemoryQueueStore. */
  static inMemory(maxPriority: number, logger: Logger): PriorityQueueStore {
    return new PriorityQueueStore(maxPriority, null, null, logger);
  }

  /** Opens a durable priority queue's store in `directory`, creating it when missing, recovering its levels otherwise. */
  static async open(directory: string, maxPriority: number, openLevelStore: OpenLevelStore, logger: Logger): Promise<PriorityQueueStore> {
    const store = new PriorityQueueStore(maxPriority, directory, openLevelStore, logger);
    await mkdir(directory, { recursive: true });
    const priorities = (await readdir(directory))
      .map((name) => levelFolderPattern.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .filter((priority) => priority <= highestPriority);
    try {
      for (const priority of priorities) {
        const levelStore = await openLevelStore(join(directory, levelFolderName(priority)));
        if (levelStore.readyCount === 0 && levelStore.unackedCount === 0) {
          await levelStore.delete();
          continue;
        }
        store.addLevel(priority).store = store.watched(levelStore);
      }
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /** The priorities of the levels in use, highest first (for tests and metrics). */
  get levelPriorities(): number[] {
    return this.levels.map((level) => level.priority);
  }

  get readyCount(): number {
    let count = 0;
    for (const level of this.levels) count += level.readyCount;
    return count;
  }

  get unackedCount(): number {
    let count = 0;
    for (const level of this.levels) count += level.unackedCount;
    return count;
  }

  get readyBytes(): number {
    let bytes = 0;
    for (const level of this.levels) bytes += level.readyBytes;
    return bytes;
  }

  /** What takeNext would return: the highest ready level's next message (the same object takeNext then hands out). */
  peekNext(): QueuedMessage | null {
    return this.highestReadyLevel()?.peekNext() ?? null;
  }

  append(message: StoredMessage): AppendedMessage {
    const priority = Math.min(priorityOfProperties(message.properties) ?? 0, this.maxPriority);
    const level = this.levelsByPriority[priority] ?? this.createLevel(priority);
    if (level.store !== null) return level.store.append(message);
    const appended = level.waiting.append(message);
    this.notifyReady();
    return appended;
  }

  takeNext(): QueuedMessage | null {
    const level = this.highestReadyLevel();
    if (level === null) return null;
    const message = level.takeNext();
    if (message !== null) this.levelOfTaken.set(message, level);
    return message;
  }

  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** A message that is not taken (settled or requeued already) is ignored. */
  requeue(message: QueuedMessage): void {
    const level = this.levelOfTaken.get(message);
    if (level === undefined) return this.logger.debug('requeue of a message that is not taken ignored', { offset: message.offset });
    this.levelOfTaken.delete(message);
    level.requeue(message);
  }

  /** A message that is not taken (settled or requeued already) is ignored. */
  settle(message: QueuedMessage): void {
    const level = this.levelOfTaken.get(message);
    if (level === undefined) return this.logger.debug('settle of a message that is not taken ignored', { offset: message.offset });
    this.levelOfTaken.delete(message);
    level.settle(message);
  }

  purge(): number {
    let count = 0;
    for (const level of this.levels) count += level.purge();
    return count;
  }

  async flush(): Promise<void> {
    await this.levelsOpened();
    await Promise.all(this.levels.map((level) => level.store?.flush()));
  }

  async close(): Promise<void> {
    await this.levelsOpened();
    await Promise.all(this.levels.map((level) => level.store?.close()));
  }

  /** Closes and removes every level, and the queue's folder. */
  async delete(): Promise<void> {
    await this.levelsOpened();
    await Promise.all(this.levels.map((level) => level.store?.delete()));
    if (this.directory !== null) await rm(this.directory, { recursive: true, force: true });
  }

  private highestReadyLevel(): Level | null {
    for (const level of this.levels) if (level.readyCount > 0) return level;
    return null;
  }

  /** A new level: in memory at once for a transient queue; for a durable one, its store is opened now and takes the waiting messages when open. */
  private createLevel(priority: number): Level {
    const level = this.addLevel(priority);
    if (this.directory === null || this.openLevelStore === null) {
      level.store = this.watched(new MemoryQueueStore());
      return level;
    }
    const opening: Promise<void> = this.openLevelStore(join(this.directory, levelFolderName(priority)))
      .then(
        (store) => this.levelOpened(level, store),
        (error: unknown) => this.levelFailed(level, error),
      )
      .catch((error: unknown) => this.logger.error('a priority level of a queue failed to take its waiting messages', { priority, error: (error as Error).message }))
      .finally(() => this.openings.delete(opening));
    this.openings.add(opening);
    return level;
  }

  /** Adds a level where its priority sorts it, highest first. */
  private addLevel(priority: number): Level {
    const level = new Level(priority);
    let index = 0;
    while (index < this.levels.length && this.levels[index]!.priority > priority) index++;
    this.levels.splice(index, 0, level);
    this.levelsByPriority[priority] = level;
    return level;
  }

  /** The waiting messages move into the store, each in the state it is in (waiting-messages.ts). */
  private levelOpened(level: Level, store: QueueStore): void {
    level.waiting.handOver(store, level.replaced, this.logger);
    level.store = this.watched(store);
    this.notifyReady();
  }

  private levelFailed(level: Level, error: unknown): void {
    this.levels.splice(this.levels.indexOf(level), 1);
    this.levelsByPriority[level.priority] = undefined;
    const lost = level.waiting.fail(error);
    this.logger.error('opening a priority level of a queue failed; its waiting messages are lost', { priority: level.priority, messages: lost, error: (error as Error).message });
    // Lower levels may flow now.
    this.notifyReady();
  }

  private async levelsOpened(): Promise<void> {
    while (this.openings.size > 0) await Promise.all(this.openings);
  }

  private watched(store: QueueStore): QueueStore {
    store.onReady(() => this.notifyReady());
    return store;
  }

  private notifyReady(): void {
    for (const listener of this.listeners) listener();
  }
}
