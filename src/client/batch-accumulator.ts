/**
 * The producer's batching: records accumulate per partition into one open batch each, written in
 * place (batch-builder.ts), until the batch is closed and handed to the sender (batch-sender.ts):
 *
 *   append(record) ──► open batch of its partition ──(batchBytes reached, or the next record
 *                                                     would overflow it, or lingerMs after the
 *                                                     first open record, or closeAll)──► sink
 *
 * A batch whose linger is over while its leader has no room (all its requests in flight, or a
 * request's worth of batches already waiting) is held open instead, and keeps taking records until
 * closeHeld() once the leader has room (or until it is full, or closeAll). Closed, it would wait in
 * the sender's queue all the same, and the batches of its partition closed meanwhile would each wait
 * for a request of their own (a request carries one batch per partition), so after a slow fsync the
 * records that came during it would need several round trips instead of one; held, they leave
 * together in the next request (as Kafka's producer does: a batch stays open in its accumulator
 * until the sender drains it). The batches of many partitions closed by one linger pass share that
 * request.
 *
 * `batchBytes` is an upper bound, as in Kafka: a record that would overflow an open batch closes
 * it and starts the next one (a single record larger than batchBytes gets a batch of its own).
 * Which partition a record goes to is decided here too (partitioner.ts): the record's own, else
 * murmur2 of its key, else the sticky partition, which moves on when a batch closes.
 */
import { BatchBuilder } from './batch-builder.js';
import type { Bytes, HeaderToSend } from './batch-builder.js';
import type { TopicMetadata } from './client.js';
import { StickyPartitioner, partitionForKey } from './partitioner.js';

export interface ProducerRecord {
  readonly key?: Bytes;
  readonly value: Bytes;
  readonly headers?: readonly HeaderToSend[];
  readonly partition?: number;
  readonly timestampMs?: number;
}

/** `offset` is -1 with acks=0. */
export type DeliveryCallback = (error: Error | null, partition: number, offset: number) => void;

/** Records of one partition, in one batch being written or just closed. */
export interface AccumulatedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly builder: BatchBuilder;
  /** One per record, in offset order. */
  readonly callbacks: (DeliveryCallback | undefined)[];
}

/** Where closed batches go: queued for their leader, then sent when `drain` is called. */
export interface BatchSink {
  enqueue(batch: AccumulatedBatch, leaderId: number): void;
  drain(): void;
  /** True when a batch for this leader closed now would be sent at once (nothing queued, a request free). */
  hasRoom(leaderId: number): boolean;
}

export interface AccumulatorOptions {
  readonly lingerMs: number;
  readonly batchBytes: number;
}

/**
 * A new batch's buffer starts at the size of the partition's previous batch (at least this, at most
 * batchBytes) and grows as records come. Starting every batch at batchBytes (64 KiB) cost a fresh
 * 64 KiB ArrayBuffer per batch: at 1,000 one-record batches a second that churn alone kept the
 * process in major GCs (every ~150 ms), which showed as end-to-end p99 (10 ms instead of 5 at 1k
 * msg/s). Below 4 KiB, Buffer.allocUnsafe carves from Node's shared pool.
 */
const minInitialBatchBytes = 2048;

export class BatchAccumulator {
  private readonly sticky = new StickyPartitioner();
  /** Open batches per topic, indexed by partition (no per-record string keys). */
  private readonly open = new Map<string, (AccumulatedBatch | undefined)[]>();
  private lingerTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  /** Open batches whose linger is over, kept open while their leader has no room (see the top). */
  private readonly held = new Set<AccumulatedBatch>();
  /** Size of the last batch closed, per topic and partition: where the next one's buffer starts. */
  private readonly lastBatchBytes = new Map<string, number[]>();

  constructor(
    private readonly options: AccumulatorOptions,
    private readonly cachedTopic: (topic: string) => TopicMetadata | undefined,
    private readonly sink: BatchSink,
  ) {}

  /** The partition a record goes to; may be out of range when the record names its own. */
  choosePartition(metadata: TopicMetadata, record: ProducerRecord): number {
    const count = metadata.partitions.length;
    if (record.partition !== undefined) return record.partition;
    const key = record.key ?? null;
    if (key !== null) return partitionForKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key, count);
    return this.sticky.partition(metadata.name, count);
  }

  /** Adds a record to its partition's open batch; returns the bytes the batch grew by. */
  append(metadata: TopicMetadata, partition: number, record: ProducerRecord, callback: DeliveryCallback | undefined): number {
    let openBatches = this.open.get(metadata.name);
    if (openBatches === undefined) {
      openBatches = [];
      this.open.set(metadata.name, openBatches);
    }
    let batch = openBatches[partition];
    if (batch !== undefined && batch.builder.sizeBytes + approximateRecordBytes(record) > this.options.batchBytes) {
      openBatches[partition] = undefined;
      this.held.delete(batch);
      this.close(batch, metadata);
      this.sink.drain();
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { topic: metadata.name, partition, builder: new BatchBuilder(this.initialBytes(metadata.name, partition)), callbacks: [] };
      openBatches[partition] = batch;
    }
    const before = batch.builder.sizeBytes;
    batch.builder.append(record.timestampMs ?? Date.now(), record.key ?? null, record.value, record.headers);
    batch.callbacks.push(callback);
    const grownBytes = batch.builder.sizeBytes - before;
    if (batch.builder.sizeBytes >= this.options.batchBytes) {
      openBatches[partition] = undefined;
      this.held.delete(batch);
      this.close(batch, metadata);
      this.sink.drain();
    } else if (!this.held.has(batch)) {
      this.scheduleLinger();
    }
    return grownBytes;
  }

  /** Closes every open batch (linger over, or a flush) and lets the sink send them. */
  closeAll(): void {
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer as NodeJS.Timeout);
      clearImmediate(this.lingerTimer as NodeJS.Immediate);
      this.lingerTimer = null;
    }
    for (const [topic, openBatches] of this.open) {
      const metadata = this.cachedTopic(topic);
      for (const batch of openBatches) if (batch !== undefined) this.close(batch, metadata);
    }
    this.open.clear();
    this.held.clear();
    // Topics produced to once do not stay in the map for the producer's life.
    this.lastBatchBytes.clear();
    this.sink.drain();
  }

  /** Closes the held batches whose leader has room now (the sender calls this when a request settles). */
  closeHeld(): void {
    if (this.held.size === 0) return;
    for (const batch of this.held) {
      const metadata = this.cachedTopic(batch.topic);
      if (!this.sink.hasRoom(leaderOf(batch, metadata))) continue;
      this.held.delete(batch);
      const openBatches = this.open.get(batch.topic);
      if (openBatches !== undefined) openBatches[batch.partition] = undefined;
      this.close(batch, metadata);
    }
    this.sink.drain();
  }

  /** Linger is over: each open batch closes if its leader has room, else it is held (see the top). */
  private lingerOver(): void {
    for (const [topic, openBatches] of this.open) {
      const metadata = this.cachedTopic(topic);
      openBatches.forEach((batch, partition) => {
        if (batch === undefined || this.held.has(batch)) return;
        if (!this.sink.hasRoom(leaderOf(batch, metadata))) {
          this.held.add(batch);
          return;
        }
        openBatches[partition] = undefined;
        this.close(batch, metadata);
      });
    }
    this.sink.drain();
  }

  private initialBytes(topic: string, partition: number): number {
    const last = this.lastBatchBytes.get(topic)?.[partition] ?? 0;
    return Math.min(this.options.batchBytes, Math.max(minInitialBatchBytes, last));
  }

  private scheduleLinger(): void {
    if (this.lingerTimer !== null) return;
    const fire = () => {
      this.lingerTimer = null;
      this.lingerOver();
    };
    this.lingerTimer = this.options.lingerMs <= 0 ? setImmediate(fire) : setTimeout(fire, this.options.lingerMs);
  }

  /**
   * Hands a batch to the sink. The topic's metadata may have left the client's cache since the
   * batch opened (a refresh found the topic unknown): the batch still goes, with no leader (-1),
   * so the sender's retry path looks the leader up again or, after the delivery timeout, reports
   * the error to the records' callbacks. Dropping it would leave those callbacks, and a flush
   * waiting for them, hanging forever.
   */
  private close(batch: AccumulatedBatch, metadata: TopicMetadata | undefined): void {
    let sizes = this.lastBatchBytes.get(batch.topic);
    if (sizes === undefined) this.lastBatchBytes.set(batch.topic, (sizes = []));
    sizes[batch.partition] = batch.builder.sizeBytes;
    if (metadata !== undefined) this.sticky.batchClosed(batch.topic, batch.partition, metadata.partitions.length);
    this.sink.enqueue(batch, leaderOf(batch, metadata));
  }
}

function leaderOf(batch: AccumulatedBatch, metadata: TopicMetadata | undefined): number {
  return metadata?.partitions[batch.partition]?.leaderId ?? -1;
}

/** A record's size in a batch, closely enough to decide whether it still fits. */
function approximateRecordBytes(record: ProducerRecord): number {
  let bytes = 24 + sizeOf(record.key ?? null) + sizeOf(record.value);
  if (record.headers !== undefined) for (const header of record.headers) bytes += 10 + header.key.length + sizeOf(header.value);
  return bytes;
}

function sizeOf(value: Bytes): number {
  if (value === null) return 0;
  return typeof value === 'string' ? value.length * 3 : value.length;
}
