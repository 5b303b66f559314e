/**
 * Kafka topics feeding AMQP queues (`osprey queue feed-from-topic QUEUE TOPIC`): the broker reads
 * the records of the topic that come after the feed was made and publishes each into the queue
 * (record-mapping.ts: properties from the amqp.* headers, persistent whatever their delivery mode,
 * since they come from a durable log). Its position (the next offset, per partition) is kept
 * durably, like a consumer group's committed offset, and moves on only once the queue holds the
 * records durably, so a crash can deliver a record twice (at least once) but never lose one.
 *
 *   per partition:  position ──read (≤ readBytes)──► records ──append to the queue──► all durable
 *                   ──► position = after the last batch ──► feeds file written (coalesced)
 *                   at the end of the topic: wait for new data (TopicAccess.onNewData)
 *
 *   <dataDir>/amqp/topic-feeds.json   { "version": 1, "feeds": [ { "virtualHost": "/", "queue": "q",
 *                                       "topic": "t", "positions": [ 0, 12 ] } ] }
 *   replaced atomically (broker/snapshot-file.ts) after each pass that moved a position.
 *
 * A feed whose queue does not exist (deleted, or not declared yet) waits for it; a topic that gains
 * partitions is read from their start.
 */
import type { Logger } from '../../logging/logger.js';
import { readSnapshotText, removeTemporaryFiles, writeSnapshotText } from '../../broker/snapshot-file.js';
import { join } from 'node:path';
import type { Queue } from '../queue.js';
import { messageFromRecord } from './record-mapping.js';
import { TopicAccessError, type TopicAccess } from './topic-access.js';

export interface TopicFeed {
  readonly virtualHost: string;
  readonly queue: string;
  readonly topic: string;
  /** The next offset to read, per partition. */
  readonly positions: number[];
}

export const feedsFileName = 'topic-feeds.json';
const fileVersion = 1;
/** Bytes read per pass from one partition (at least one batch). */
const readBytes = 256 * 1024;
/** How soon a feed looks again for its queue, or after a failed read or append. */
const retryDelayMs = 500;

export type QueueLookup = (virtualHost: string, name: string) => Queue | undefined;

export class TopicFeeds {
  private readonly feeds = new Map<string, { readonly feed: TopicFeed; readonly runners: FeedRunner[] }>();
  private writing: Promise<void> | null = null;
  private writeAgain = false;
  private closed = false;

  private constructor(
    private readonly directory: string,
    private readonly topics: TopicAccess,
    private readonly findQueue: QueueLookup,
    private readonly logger: Logger,
  ) {}

  static async open(directory: string, topics: TopicAccess, findQueue: QueueLookup, logger: Logger): Promise<TopicFeeds> {
    const feeds = new TopicFeeds(directory, topics, findQueue, logger);
    await removeTemporaryFiles(directory, [feedsFileName]);
    const text = await readSnapshotText(join(directory, feedsFileName));
    if (text !== null) {
      const stored = JSON.parse(text) as { version: number; feeds: TopicFeed[] };
      if (stored.version !== fileVersion) throw new Error(`${feedsFileName}: version ${stored.version} is not ${fileVersion}`);
      for (const feed of stored.feeds) feeds.start({ ...feed, positions: [...feed.positions] });
      if (stored.feeds.length > 0) logger.info('topic feeds restored', { feeds: stored.feeds.length });
    }
    return feeds;
  }

  list(): TopicFeed[] {
    return [...this.feeds.values()].map(({ feed }) => ({ ...feed, positions: [...feed.positions] }));
  }

  /** Starts feeding the queue from what the topic gets from now on; true when new, false when it already was. */
  async add(virtualHost: string, queue: string, topic: string): Promise<boolean> {
    if (this.feeds.has(feedKey(virtualHost, queue, topic))) return false;
    const partitionCount = this.topics.partitionCount(topic);
    if (partitionCount === null) throw new FeedError(404, `NOT_FOUND - no topic '${topic}'`);
    let positions: number[];
    try {
      positions = Array.from({ length: partitionCount }, (_, partition) => this.topics.bounds(topic, partition).endOffset);
    } catch (error) {
      // A partition not served here (not open yet; in a cluster, led by another broker).
      if (error instanceof TopicAccessError) throw new FeedError(400, error.message);
      throw error;
    }
    this.start({ virtualHost, queue, topic, positions });
    await this.persist();
    this.logger.info('topic feed added', { virtualHost, queue, topic });
    return true;
  }

  async remove(virtualHost: string, queue: string, topic: string): Promise<boolean> {
    const key = feedKey(virtualHost, queue, topic);
    const entry = this.feeds.get(key);
    if (entry === undefined) return false;
    this.feeds.delete(key);
    await Promise.all(entry.runners.map((runner) => runner.stop()));
    await this.persist();
    this.logger.info('topic feed removed', { virtualHost, queue, topic });
    return true;
  }

  /** Stops every feed after its pass under way and writes the positions reached. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.feeds.values()].flatMap(({ runners }) => runners.map((runner) => runner.stop())));
    await this.persist();
    this.closed = true;
  }

  private start(feed: TopicFeed): void {
    const partitionCount = this.topics.partitionCount(feed.topic) ?? feed.positions.length;
    while (feed.positions.length < partitionCount) feed.positions.push(0);
    const runners = feed.positions.map((_, partition) => new FeedRunner(feed, partition, this.topics, this.findQueue, () => void this.persist().catch(() => undefined), this.logger));
    this.feeds.set(feedKey(feed.virtualHost, feed.queue, feed.topic), { feed, runners });
    for (const runner of runners) runner.pump();
  }

  /** Writes the feeds file; writes asked for while one is under way are coalesced into one more. */
  private persist(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.writing !== null) {
      this.writeAgain = true;
      return this.writing;
    }
    this.writing = (async () => {
      try {
        do {
          this.writeAgain = false;
          const text = JSON.stringify({ version: fileVersion, feeds: this.list() });
          await writeSnapshotText(this.directory, feedsFileName, text);
        } while (this.writeAgain);
      } catch (error) {
        this.logger.error('topic feeds file could not be written', { error: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        this.writing = null;
      }
    })();
    return this.writing;
  }
}

export class FeedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function feedKey(virtualHost: string, queue: string, topic: string): string {
  return JSON.stringify([virtualHost, queue, topic]);
}

/** One partition of one feed: reads, publishes into the queue, waits for durability, moves its position. */
class FeedRunner {
  private stopped = false;
  private pass: Promise<void> | null = null;
  private cancelWait: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly feed: TopicFeed,
    private readonly partition: number,
    private readonly topics: TopicAccess,
    private readonly findQueue: QueueLookup,
    private readonly positionMoved: () => void,
    private readonly logger: Logger,
  ) {}

  pump(): void {
    if (this.stopped || this.pass !== null) return;
    this.pass = this.runPass().then(
      (next) => {
        this.pass = null;
        this.after(next);
      },
      (error: unknown) => {
        this.pass = null;
        this.logger.warn('topic feed pass failed; trying again', { topic: this.feed.topic, queue: this.feed.queue, error: error instanceof Error ? error.message : String(error) });
        this.after('retry');
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelWait?.();
    if (this.timer !== null) clearTimeout(this.timer);
    await this.pass?.catch(() => undefined);
  }

  private after(next: 'again' | 'wait' | 'retry'): void {
    if (this.stopped) return;
    if (next === 'again') this.pump();
    else if (next === 'wait') {
      this.cancelWait = this.topics.onNewData(this.feed.topic, this.partition, () => {
        this.cancelWait = null;
        this.pump();
      });
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, retryDelayMs);
    }
  }

  /** One read and its publishes; says what to do next. */
  private async runPass(): Promise<'again' | 'wait' | 'retry'> {
    const queue = this.findQueue(this.feed.virtualHost, this.feed.queue);
    if (queue === undefined || queue.deleted) return 'retry';
    const { topic } = this.feed;
    const position = this.feed.positions[this.partition]!;
    const bounds = this.topics.bounds(topic, this.partition);
    if (Math.max(position, bounds.logStartOffset) >= bounds.endOffset) return 'wait';
    const { records, nextOffset } = await this.topics.read(topic, this.partition, position, readBytes);
    const durables: Promise<void>[] = [];
    // Through the queue's own rules (length limits, TTL); a full queue that refuses publishes
    // holds the feed at the record it refused, tried again later: the feed waits, nothing is lost.
    let refusedAt: number | null = null;
    for (const record of records) {
      const message = messageFromRecord(record, { withStreamOffset: false, persistent: true });
      const appended = queue.enqueue(message);
      if (appended === null) {
        refusedAt = record.offset;
        break;
      }
      if (queue.holdsDurably(message)) durables.push(appended.durable);
    }
    await Promise.all(durables);
    this.feed.positions[this.partition] = Math.max(refusedAt ?? nextOffset, position);
    this.positionMoved();
    return refusedAt === null ? 'again' : 'retry';
  }
}
