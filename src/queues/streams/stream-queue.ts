/**
 * A queue declared with x-queue-type: stream: a Kafka topic of the same name (one partition, as a
 * RabbitMQ stream is one log). Publishes routed to it are appended to the topic (its store is a
 * TopicAppendStore); each consumer reads from its own position (StreamCursor) instead of competing
 * for messages, so the queue's own dispatch is replaced by waking every cursor.
 */
import type { Logger } from '../../logging/logger.js';
import { Queue, type QueueConsumer, type QueueSettings } from '../queue.js';
import type { QueuedMessage } from '../queue-store/stored-message.js';
import { StreamCursor } from './stream-cursor.js';
import { basicGetRefusal, type StreamStart } from './stream-rules.js';
import type { TopicAppendStore } from './topic-append-store.js';
import type { TopicAccess } from './topic-access.js';

/** The partition a stream queue's records are in. */
export const streamPartition = 0;

export class StreamQueue extends Queue {
  private readonly cursors = new Map<QueueConsumer, StreamCursor>();

  constructor(
    settings: QueueSettings,
    store: TopicAppendStore,
    private readonly topics: TopicAccess,
    private readonly logger: Logger,
  ) {
    super(settings, store);
  }

  /** The topic holding the stream: the queue's own name. */
  get topic(): string {
    return this.name;
  }

  /** A basic.consume, starting where its x-stream-offset says (checked by stream-rules.ts). */
  addStreamConsumer(consumer: QueueConsumer, start: StreamStart): void {
    const cursor = new StreamCursor(this.topics, this.topic, streamPartition, this, consumer, this.logger);
    this.cursors.set(consumer, cursor);
    super.addConsumer(consumer);
    cursor.begin(start);
  }

  override addConsumer(consumer: QueueConsumer): void {
    this.addStreamConsumer(consumer, { kind: 'next' });
  }

  override removeConsumer(consumer: QueueConsumer): boolean {
    this.cursors.get(consumer)?.stop();
    this.cursors.delete(consumer);
    return super.removeConsumer(consumer);
  }

  override cancelConsumers(): void {
    for (const cursor of this.cursors.values()) cursor.stop();
    this.cursors.clear();
    super.cancelConsumers();
  }

  /** Credit came back (an ack), or a consumer's channel may deliver again: every reader looks. */
  override scheduleDispatch(): void {
    for (const cursor of this.cursors.values()) cursor.schedulePump();
  }

  /** basic.get is refused on a stream, as RabbitMQ does. */
  override take(): QueuedMessage | null {
    throw basicGetRefusal(this.name, this.virtualHost);
  }
}
