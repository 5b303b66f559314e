/**
 * The QueueStore of a queue whose messages live in a Kafka topic (a stream queue, or the topic end
 * of an exchange-to-topic binding): an append is a record appended to the topic (record-mapping.ts),
 * durable when the topic's log has it on disk. Nothing is taken, requeued or settled here: readers
 * keep their own position (stream-cursor.ts) and the log keeps every record until retention removes
 * it.
 */
import type { Logger } from '../../logging/logger.js';
import { refusedAppend, type AppendedMessage, type QueueStore } from '../queue-store/queue-store-api.js';
import type { QueuedMessage, StoredMessage } from '../queue-store/stored-message.js';
import { recordFromMessage } from './record-mapping.js';
import type { TopicAccess } from './topic-access.js';

export interface TopicAppendStoreSettings {
  readonly topics: TopicAccess;
  readonly topic: string;
  /** The partition appended to; left out, the routing key chooses (as Kafka's default partitioner does with the key). */
  readonly partition?: number;
  /** Refuses queue.purge (stream queues, as RabbitMQ). */
  readonly purgeRefusal: () => Error;
  /** What deleting the queue does to the topic. */
  readonly onDelete: () => Promise<void>;
  readonly logger: Logger;
}

export class TopicAppendStore implements QueueStore {
  readonly readyBytes = 0;
  readonly unackedCount = 0;
  readonly keepsTransientMessages = true;

  constructor(private readonly settings: TopicAppendStoreSettings) {}

  get topic(): string {
    return this.settings.topic;
  }

  append(message: StoredMessage): AppendedMessage {
    const { topics, topic, partition } = this.settings;
    try {
      const appended = topics.append(topic, recordFromMessage(message), partition);
      return { offset: appended.offset, durable: appended.durable };
    } catch (error) {
      this.settings.logger.warn('append to a topic refused', { topic, error: error instanceof Error ? error.message : String(error) });
      return refusedAppend(error);
    }
  }

  /** Records a reader has not read yet are not "ready" in the classic sense; a stream reports what it holds. */
  get readyCount(): number {
    const { topics, topic, partition } = this.settings;
    if (partition === undefined) return 0;
    try {
      const bounds = topics.bounds(topic, partition);
      return bounds.endOffset - bounds.logStartOffset;
    } catch {
      return 0;
    }
  }

  takeNext(): QueuedMessage | null {
    return null;
  }

  peekNext(): QueuedMessage | null {
    return null;
  }

  onReady(_listener: () => void): void {
    // Readers learn of new records from the topic itself (TopicAccess.onNewData).
  }

  requeue(_message: QueuedMessage): void {
    // A stream keeps every record: giving one back only returns credit (RabbitMQ's streams do the same).
  }

  settle(_message: QueuedMessage): void {
    // Nothing is removed from a stream by an ack.
  }

  purge(): number {
    throw this.settings.purgeRefusal();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  delete(): Promise<void> {
    return this.settings.onDelete();
  }
}
