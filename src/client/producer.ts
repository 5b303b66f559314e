/**
 * A batching, pipelining producer: the public face of two parts, each with one job.
 *
 *   produce(topic, record, onDelivery?)
 *        │  metadata (loaded, or auto-created, on a topic's first record)
 *        ▼
 *   batch-accumulator.ts  partition: record.partition, else murmur2(key), else sticky; open batch
 *        │                per partition, closed at batchBytes or lingerMs after its first record
 *        ▼
 *   batch-sender.ts       sequence numbers, compression, ready queue per leader, Produce requests
 *        │                (maxRequestBytes, maxInFlightPerBroker), retries, idempotence
 *        ▼
 *   this file             buffer accounting (bufferBytes), each record's callback, flush
 *
 * With acks=all the producer is idempotent (as Kafka's is by default) and retries what is worth
 * retrying until deliveryTimeoutMs; with acks 0 or 1 (or idempotent: false) nothing is retried, and
 * the error reaches each record's callback (batch-sender.ts says why).
 *
 * `produce` returns false once more than bufferBytes are buffered; `await waitForCapacity()` then.
 * Each record's callback gets its offset (or -1 with acks=0, or for a retried batch the broker
 * had already written) or the error.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { compressionCodecs } from '../protocol/kafka/compression.js';
import type { CompressionName } from '../protocol/kafka/compression.js';
import { BatchAccumulator } from './batch-accumulator.js';
import type { DeliveryCallback, ProducerRecord } from './batch-accumulator.js';
import { BatchSender, asError } from './batch-sender.js';
import type { SentBatch } from './batch-sender.js';
import type { KafkaClient, TopicMetadata } from './client.js';
import { KafkaProtocolError } from './errors.js';

export type { DeliveryCallback, ProducerRecord };

export interface ProducerOptions {
  /** -1 (all in-sync replicas, default), 1 (leader) or 0 (no answer). */
  readonly acks?: -1 | 0 | 1;
  readonly compression?: CompressionName;
  /** How long a batch waits for more records before it is sent (default 5 ms; 0: the same tick). */
  readonly lingerMs?: number;
  /** A batch is sent once it holds this many (uncompressed) bytes (default 64 KiB). */
  readonly batchBytes?: number;
  /** Produce requests in flight per broker (default 5). */
  readonly maxInFlightPerBroker?: number;
  /** Largest Produce request, in batch bytes (default 4 MiB). */
  readonly maxRequestBytes?: number;
  /** Bytes buffered before produce() answers false (default 64 MiB). */
  readonly bufferBytes?: number;
  /** Ask the broker to create unknown topics (default true, as the Java producer does). */
  readonly allowAutoTopicCreation?: boolean;
  /** Idempotent batches and retries (default: true with acks=all). */
  readonly idempotent?: boolean;
  /** How long a batch may keep being retried (default 60 s). */
  readonly deliveryTimeoutMs?: number;
}

export class Producer {
  readonly acks: -1 | 0 | 1;
  readonly idempotent: boolean;
  private readonly bufferLimitBytes: number;
  private readonly allowAutoTopicCreation: boolean;
  private readonly accumulator: BatchAccumulator;
  private readonly sender: BatchSender;
  private readonly waitingForMetadata = new Map<string, { record: ProducerRecord; callback: DeliveryCallback | undefined }[]>();
  private bufferedBytes = 0;
  private unfinishedRecords = 0;
  private capacityWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly client: KafkaClient,
    options: ProducerOptions = {},
  ) {
    this.acks = options.acks ?? -1;
    const batchBytes = options.batchBytes ?? 64 * 1024;
    this.bufferLimitBytes = options.bufferBytes ?? 64 * 1024 * 1024;
    this.allowAutoTopicCreation = options.allowAutoTopicCreation ?? true;
    this.idempotent = (options.idempotent ?? true) && this.acks === -1;
    this.sender = new BatchSender(
      client,
      {
        acks: this.acks,
        codec: compressionCodecs[options.compression ?? 'none'],
        maxInFlightPerBroker: options.maxInFlightPerBroker ?? 5,
        maxRequestBytes: Math.max(options.maxRequestBytes ?? 4 * 1024 * 1024, batchBytes),
        idempotent: this.idempotent,
        deliveryTimeoutMs: options.deliveryTimeoutMs ?? 60_000,
      },
      {
        batchDone: (batch, error, baseOffset) => this.completeBatch(batch, error, baseOffset),
        requestSettled: () => {
          // A request's slot is free: a batch held open for want of one may go now.
          this.accumulator.closeHeld();
          this.checkIdle();
        },
      },
    );
    this.accumulator = new BatchAccumulator({ lingerMs: options.lingerMs ?? 5, batchBytes }, (topic) => client.cachedTopic(topic), this.sender);
  }

  /** Loads (and, if allowed, creates) a topic's metadata ahead of the first record. */
  async prepare(topic: string): Promise<TopicMetadata> {
    const metadata = await this.client.topicMetadata(topic, { allowAutoTopicCreation: this.allowAutoTopicCreation });
    await this.sender.identity();
    return metadata;
  }

  /** Queues one record; false when the buffer is full (await waitForCapacity() before more). */
  produce(topic: string, record: ProducerRecord, callback?: DeliveryCallback): boolean {
    this.unfinishedRecords++;
    const metadata = this.client.cachedTopic(topic);
    if (metadata === undefined) {
      this.awaitMetadata(topic, record, callback);
      return this.bufferedBytes < this.bufferLimitBytes;
    }
    this.append(metadata, record, callback);
    return this.bufferedBytes < this.bufferLimitBytes;
  }

  /** Queues one record and resolves with its partition and offset once acknowledged. */
  send(topic: string, record: ProducerRecord): Promise<{ partition: number; offset: number }> {
    return new Promise((resolve, reject) => {
      this.produce(topic, record, (error, partition, offset) => (error === null ? resolve({ partition, offset }) : reject(error)));
    });
  }

  waitForCapacity(): Promise<void> {
    if (this.bufferedBytes < this.bufferLimitBytes) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** Sends everything buffered and resolves once every record has its answer. */
  flush(): Promise<void> {
    this.accumulator.closeAll();
    if (this.unfinishedRecords === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private awaitMetadata(topic: string, record: ProducerRecord, callback: DeliveryCallback | undefined): void {
    let waiting = this.waitingForMetadata.get(topic);
    if (waiting !== undefined) {
      waiting.push({ record, callback });
      return;
    }
    waiting = [{ record, callback }];
    this.waitingForMetadata.set(topic, waiting);
    this.prepare(topic).then(
      (metadata) => {
        this.waitingForMetadata.delete(topic);
        for (const entry of waiting) this.append(metadata, entry.record, entry.callback);
      },
      (error: unknown) => {
        this.waitingForMetadata.delete(topic);
        for (const entry of waiting) this.finishRecord(entry.callback, asError(error), entry.record.partition ?? -1, -1);
        this.checkIdle();
      },
    );
  }

  private append(metadata: TopicMetadata, record: ProducerRecord, callback: DeliveryCallback | undefined): void {
    const partition = this.accumulator.choosePartition(metadata, record);
    if (partition < 0 || partition >= metadata.partitions.length) {
      this.finishRecord(callback, new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${metadata.name}' has no partition ${partition} (it has ${metadata.partitions.length})`), partition, -1);
      this.checkIdle();
      return;
    }
    this.bufferedBytes += this.accumulator.append(metadata, partition, record, callback);
  }

  private completeBatch(batch: SentBatch, error: Error | null, baseOffset: number): void {
    this.bufferedBytes -= batch.sizeBytes;
    batch.callbacks.forEach((callback, index) => this.finishRecord(callback, error, batch.partition, baseOffset < 0 ? -1 : baseOffset + index));
    this.releaseCapacity();
  }

  private finishRecord(callback: DeliveryCallback | undefined, error: Error | null, partition: number, offset: number): void {
    this.unfinishedRecords--;
    if (callback !== undefined) callback(error, partition, offset);
  }

  private releaseCapacity(): void {
    if (this.bufferedBytes >= this.bufferLimitBytes || this.capacityWaiters.length === 0) return;
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private checkIdle(): void {
    if (this.unfinishedRecords !== 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
