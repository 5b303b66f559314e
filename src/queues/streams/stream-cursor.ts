/**
 * One AMQP consumer reading a stream queue's topic from its own position, as a RabbitMQ stream
 * consumer does: deliveries go out while its prefetch window has room, an ack (or nack, or reject)
 * only gives the room back, nothing is removed, and each delivery carries its offset in the
 * x-stream-offset header.
 *
 *   resolve start (first | last | next | offset | timestamp) ──► position
 *   pump: buffered records ──deliver while consumer.canTake()──► consumer
 *         buffer empty: position < end ? read (≤ readBytes) : wait for new data (onNewData)
 *
 * One read at a time, at most one buffer of records held per consumer; the pump runs once per
 * event-loop turn at most (schedulePump), like a queue's dispatch.
 */
import type { Logger } from '../../logging/logger.js';
import type { Queue, QueueConsumer } from '../queue.js';
import type { QueuedMessage } from '../queue-store/stored-message.js';
import { messageFromRecord } from './record-mapping.js';
import type { StreamStart } from './stream-rules.js';
import type { TopicAccess, TopicRecord } from './topic-access.js';

/** Bytes read from the log at a time per consumer (at least one whole batch). */
const readBytes = 256 * 1024;
/** After a read fails (the log closing, a partition recovering), the next try comes this much later. */
const retryDelayMs = 500;

export class StreamCursor {
  private position: number | null = null;
  private buffer: readonly TopicRecord[] = [];
  private bufferIndex = 0;
  private reading = false;
  private stopped = false;
  private pumpScheduled = false;
  private cancelWait: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly topics: TopicAccess,
    private readonly topic: string,
    private readonly partition: number,
    private readonly queue: Queue,
    readonly consumer: QueueConsumer,
    private readonly logger: Logger,
  ) {}

  /** Finds the first offset to deliver, then starts delivering. */
  begin(start: StreamStart): void {
    this.startOffset(start).then(
      (offset) => {
        this.position = offset;
        this.schedulePump();
      },
      (error: unknown) => {
        // The partition may still be recovering (start-up): look again shortly.
        if (this.stopped) return;
        this.logger.warn('stream consumer could not start; trying again', { topic: this.topic, error: error instanceof Error ? error.message : String(error) });
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (!this.stopped) this.begin(start);
        }, retryDelayMs);
      },
    );
  }

  private async startOffset(start: StreamStart): Promise<number> {
    const bounds = this.topics.bounds(this.topic, this.partition);
    switch (start.kind) {
      case 'first':
        return bounds.logStartOffset;
      case 'next':
        return bounds.endOffset;
      case 'last':
        return (await this.topics.lastBatchOffset(this.topic, this.partition)) ?? bounds.endOffset;
      case 'offset':
        return Math.min(Math.max(start.offset, bounds.logStartOffset), bounds.endOffset);
      case 'timestamp':
        return (await this.topics.offsetForTimestamp(this.topic, this.partition, start.timestampMs)) ?? bounds.endOffset;
    }
  }

  schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  stop(): void {
    this.stopped = true;
    this.cancelWait?.();
    this.cancelWait = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.buffer = [];
  }

  private pump(): void {
    if (this.stopped || this.position === null || this.queue.deleted) return;
    while (this.bufferIndex < this.buffer.length && this.consumer.canTake()) {
      const record = this.buffer[this.bufferIndex++]!;
      this.consumer.deliver(this.queue, delivery(record));
    }
    if (this.bufferIndex < this.buffer.length || this.reading || this.cancelWait !== null || !this.consumer.canTake()) return;
    let endOffset: number;
    try {
      const bounds = this.topics.bounds(this.topic, this.partition);
      this.position = Math.max(this.position, bounds.logStartOffset);
      endOffset = bounds.endOffset;
    } catch (error) {
      this.retryLater(error);
      return;
    }
    if (this.position >= endOffset) {
      this.cancelWait = this.topics.onNewData(this.topic, this.partition, () => {
        this.cancelWait = null;
        this.schedulePump();
      });
      return;
    }
    this.read(this.position);
  }

  private read(from: number): void {
    this.reading = true;
    this.topics.read(this.topic, this.partition, from, readBytes).then(
      ({ records, nextOffset }) => {
        this.reading = false;
        if (this.stopped) return;
        this.buffer = records;
        this.bufferIndex = 0;
        this.position = Math.max(nextOffset, from);
        this.schedulePump();
      },
      (error: unknown) => {
        this.reading = false;
        this.retryLater(error);
      },
    );
  }

  private retryLater(error: unknown): void {
    if (this.stopped || this.retryTimer !== null) return;
    this.logger.debug('stream read failed; trying again', { topic: this.topic, error: error instanceof Error ? error.message : String(error) });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedulePump();
    }, retryDelayMs);
  }
}

/** A record as a delivery: never redelivered (a stream has no requeue), offset in x-stream-offset. */
function delivery(record: TopicRecord): QueuedMessage {
  const message = { offset: record.offset, message: messageFromRecord(record, { withStreamOffset: true }), redelivered: false, deliveryCount: 0 };
  return message;
}
