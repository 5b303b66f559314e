/**
 * A batching, pipelining producer.
 *
 *   produce(topic, record, onDelivery?)
 *        │  partition: record.partition, else murmur2(key), else sticky (partitioner.ts)
 *        ▼
 *   open batch per partition ──(batchBytes reached, or lingerMs after its first record)──► closed
 *        │                                                                                │
 *        │                                  compression starts at once, off the main thread (native codecs)
 *        ▼                                                                                ▼
 *   ready queue per leader ──► one Produce request per leader carrying up to maxRequestBytes of
 *                              batches, at most maxInFlightPerBroker requests in flight per leader,
 *                              written in order on the leader's one connection
 *
 * A request carries at most one batch per partition (Kafka's rule), so with at most five requests
 * in flight a partition never has more than five batches in flight.
 *
 * With acks=all the producer is idempotent (as Kafka's is by default): it gets a producer id
 * (InitProducerId) and numbers each partition's batches, so a batch that failed for a reason worth
 * retrying (leader moved, connection lost, timeout, out-of-order sequence behind an earlier failure)
 * is sent again, in sequence order, until deliveryTimeoutMs, and the broker drops the duplicates.
 * Without idempotence (acks 0 or 1, or idempotent: false) nothing is retried: a retry could write
 * twice. The error then reaches each record's callback.
 *
 * `produce` returns false once more than bufferBytes are buffered; `await waitForCapacity()` then.
 * Each record's callback gets its offset (or -1 with acks=0, or for a retried batch the broker
 * had already written) or the error.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { apis } from './apis.js';
import { BatchBuilder } from './batch-builder.js';
import type { Bytes, HeaderToSend } from './batch-builder.js';
import type { KafkaClient, TopicMetadata } from './client.js';
import { compressionCodecs } from '../protocol/kafka/compression.js';
import type { CompressionName } from './compression.js';
import type { Connection } from './connection.js';
import { BrokerUnreachableError, KafkaProtocolError, RequestTimeoutError, isRetriable } from './errors.js';
import { delay } from './client.js';
import { StickyPartitioner, partitionForKey } from './partitioner.js';

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

export interface ProducerRecord {
  readonly key?: Bytes;
  readonly value: Bytes;
  readonly headers?: readonly HeaderToSend[];
  readonly partition?: number;
  readonly timestampMs?: number;
}

/** `offset` is -1 with acks=0. */
export type DeliveryCallback = (error: Error | null, partition: number, offset: number) => void;

interface OpenBatch {
  readonly topic: string;
  readonly partition: number;
  readonly builder: BatchBuilder;
  readonly callbacks: (DeliveryCallback | undefined)[];
}

interface ClosedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly recordCount: number;
  readonly sizeBytes: number;
  /** The batch's bytes; `encode` makes them again if that failed (no producer id yet). */
  encoded: Promise<Buffer>;
  readonly encode: () => Promise<Buffer>;
  readonly callbacks: readonly (DeliveryCallback | undefined)[];
  /** -1 when not idempotent. */
  readonly baseSequence: number;
  readonly closedAtMs: number;
  attempts: number;
}

interface PartitionResult {
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly errorMessage: string | null;
}

type Identity = { readonly producerId: bigint; readonly producerEpoch: number };

interface Leader {
  readonly ready: ClosedBatch[];
  inFlight: number;
  /** Writes happen in this order, whatever order compression finishes in. */
  writeChain: Promise<void>;
}

export class Producer {
  readonly acks: -1 | 0 | 1;
  private readonly codec: number;
  private readonly lingerMs: number;
  private readonly batchBytes: number;
  private readonly maxInFlight: number;
  private readonly maxRequestBytes: number;
  private readonly bufferLimitBytes: number;
  private readonly allowAutoTopicCreation: boolean;
  readonly idempotent: boolean;
  private readonly deliveryTimeoutMs: number;
  private identityPromise: Promise<Identity> | null = null;
  /** Next sequence per topic, indexed by partition. */
  private readonly sequences = new Map<string, number[]>();
  private readonly sticky = new StickyPartitioner();
  /** Open batches per topic, indexed by partition (no per-record string keys). */
  private readonly open = new Map<string, (OpenBatch | undefined)[]>();
  private readonly leaders = new Map<number, Leader>();
  private readonly waitingForMetadata = new Map<string, { record: ProducerRecord; callback: DeliveryCallback | undefined }[]>();
  private lingerTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private bufferedBytes = 0;
  private unfinishedRecords = 0;
  private capacityWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly client: KafkaClient,
    options: ProducerOptions = {},
  ) {
    this.acks = options.acks ?? -1;
    this.codec = compressionCodecs[options.compression ?? 'none'];
    this.lingerMs = options.lingerMs ?? 5;
    this.batchBytes = options.batchBytes ?? 64 * 1024;
    this.maxInFlight = options.maxInFlightPerBroker ?? 5;
    this.maxRequestBytes = Math.max(options.maxRequestBytes ?? 4 * 1024 * 1024, this.batchBytes);
    this.bufferLimitBytes = options.bufferBytes ?? 64 * 1024 * 1024;
    this.allowAutoTopicCreation = options.allowAutoTopicCreation ?? true;
    this.idempotent = (options.idempotent ?? true) && this.acks === -1;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 60_000;
  }

  /** Loads (and, if allowed, creates) a topic's metadata ahead of the first record. */
  async prepare(topic: string): Promise<TopicMetadata> {
    const metadata = await this.client.topicMetadata(topic, { allowAutoTopicCreation: this.allowAutoTopicCreation });
    await this.identity();
    return metadata;
  }

  /** The producer id and epoch of idempotent batches (InitProducerId, once); -1s when not idempotent. */
  private identity(): Promise<Identity> {
    if (!this.idempotent) return Promise.resolve(anonymous);
    this.identityPromise ??= this.initProducerId().catch((error: unknown) => {
      this.identityPromise = null; // asked again by the next batch or retry
      throw error;
    });
    return this.identityPromise;
  }

  private async initProducerId(): Promise<Identity> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.client.anyConnection();
      if (connection.versionRange(apis.initProducerId.key) === undefined) return anonymous; // a broker without idempotence
      const response = await connection.request(apis.initProducerId, { transactionalId: null, transactionTimeoutMs: 2147483647 });
      if (response.errorCode === ErrorCode.none) return { producerId: response.producerId, producerEpoch: response.producerEpoch };
      if (!isRetriable(response.errorCode) || attempt >= 10) throw new KafkaProtocolError(response.errorCode, 'InitProducerId');
      await delay(100 * (attempt + 1));
    }
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
    this.closeAllOpen();
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

  private choosePartition(metadata: TopicMetadata, record: ProducerRecord): number {
    const count = metadata.partitions.length;
    if (record.partition !== undefined) return record.partition;
    const key = record.key ?? null;
    if (key !== null) return partitionForKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key, count);
    return this.sticky.partition(metadata.name, count);
  }

  private append(metadata: TopicMetadata, record: ProducerRecord, callback: DeliveryCallback | undefined): void {
    const partition = this.choosePartition(metadata, record);
    if (partition < 0 || partition >= metadata.partitions.length) {
      this.finishRecord(callback, new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${metadata.name}' has no partition ${partition} (it has ${metadata.partitions.length})`), partition, -1);
      this.checkIdle();
      return;
    }
    let openBatches = this.open.get(metadata.name);
    if (openBatches === undefined) {
      openBatches = [];
      this.open.set(metadata.name, openBatches);
    }
    let batch = openBatches[partition];
    // batchBytes is an upper bound (as in Kafka): a record that would overflow starts the next batch.
    if (batch !== undefined && batch.builder.sizeBytes + approximateRecordBytes(record) > this.batchBytes) {
      openBatches[partition] = undefined;
      this.closeBatch(batch, metadata);
      this.drain();
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { topic: metadata.name, partition, builder: new BatchBuilder(Math.min(this.batchBytes, 1024 * 1024)), callbacks: [] };
      openBatches[partition] = batch;
    }
    const before = batch.builder.sizeBytes;
    batch.builder.append(record.timestampMs ?? Date.now(), record.key ?? null, record.value, record.headers);
    batch.callbacks.push(callback);
    this.bufferedBytes += batch.builder.sizeBytes - before;
    if (batch.builder.sizeBytes >= this.batchBytes) {
      openBatches[partition] = undefined;
      this.closeBatch(batch, metadata);
      this.drain();
    } else {
      this.scheduleLinger();
    }
  }

  private scheduleLinger(): void {
    if (this.lingerTimer !== null) return;
    const fire = () => {
      this.lingerTimer = null;
      this.closeAllOpen();
    };
    this.lingerTimer = this.lingerMs <= 0 ? setImmediate(fire) : setTimeout(fire, this.lingerMs);
  }

  private closeAllOpen(): void {
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer as NodeJS.Timeout);
      clearImmediate(this.lingerTimer as NodeJS.Immediate);
      this.lingerTimer = null;
    }
    for (const [topic, openBatches] of this.open) {
      const metadata = this.client.cachedTopic(topic);
      for (const batch of openBatches) if (batch !== undefined && metadata !== undefined) this.closeBatch(batch, metadata);
    }
    this.open.clear();
    this.drain();
  }

  private closeBatch(batch: OpenBatch, metadata: TopicMetadata): void {
    this.sticky.batchClosed(batch.topic, batch.partition, metadata.partitions.length);
    const recordCount = batch.builder.recordCount;
    const baseSequence = this.idempotent ? this.nextSequence(batch.topic, batch.partition, recordCount) : -1;
    const builder = batch.builder;
    const encode = () => {
      const encoded = this.identity().then((identity) => builder.finish(this.codec, { ...identity, baseSequence }));
      encoded.catch(() => undefined); // reported when the request is formed
      return encoded;
    };
    const closed: ClosedBatch = { topic: batch.topic, partition: batch.partition, recordCount, sizeBytes: builder.sizeBytes, encoded: encode(), encode, callbacks: batch.callbacks, baseSequence, closedAtMs: Date.now(), attempts: 0 };
    this.leaderOf(metadata.partitions[batch.partition]?.leaderId ?? -1).ready.push(closed);
  }

  /** Takes `count` sequence numbers of a partition; they wrap after 2^31 − 1 as Kafka's do. */
  private nextSequence(topic: string, partition: number, count: number): number {
    let perPartition = this.sequences.get(topic);
    if (perPartition === undefined) {
      perPartition = [];
      this.sequences.set(topic, perPartition);
    }
    const first = perPartition[partition] ?? 0;
    perPartition[partition] = (first + count) % 2 ** 31;
    return first;
  }

  private leaderOf(leaderId: number): Leader {
    let leader = this.leaders.get(leaderId);
    if (leader === undefined) {
      leader = { ready: [], inFlight: 0, writeChain: Promise.resolve() };
      this.leaders.set(leaderId, leader);
    }
    return leader;
  }

  private drain(): void {
    for (const [leaderId, leader] of this.leaders) {
      while (leader.ready.length > 0 && leader.inFlight < this.maxInFlight) {
        const batches = takeRequestBatches(leader.ready, this.maxRequestBytes);
        leader.inFlight++;
        this.sendRequest(leaderId, leader, batches);
      }
    }
  }

  private sendRequest(leaderId: number, leader: Leader, batches: ClosedBatch[]): void {
    for (const batch of batches) batch.attempts++;
    const connecting = leaderId < 0 ? Promise.reject(new KafkaProtocolError(ErrorCode.leaderNotAvailable, 'produce')) : this.client.connectionToNode(leaderId);
    const ready = Promise.all([connecting, Promise.all(batches.map((batch) => batch.encoded))]);
    const written = leader.writeChain.then(() => ready).then(([connection, encoded]) => this.write(connection, batches, encoded));
    leader.writeChain = written.then(
      () => undefined,
      () => undefined,
    );
    written
      .then((answer) => this.onAnswer(batches, answer))
      .catch((error: unknown) => this.onFailure(batches, asError(error), null))
      .finally(() => {
        leader.inFlight--;
        this.drain();
        this.checkIdle();
      });
  }

  /** Writes the request; resolves with a promise of its answer (null for acks=0), so writes stay ordered. */
  private write(connection: Connection, batches: readonly ClosedBatch[], encoded: readonly Buffer[]): { answer: Promise<Map<string, PartitionResult>> | null } {
    const byTopic = new Map<string, { index: number; records: Buffer }[]>();
    batches.forEach((batch, index) => {
      const list = byTopic.get(batch.topic) ?? [];
      list.push({ index: batch.partition, records: encoded[index]! });
      byTopic.set(batch.topic, list);
    });
    const body = {
      transactionalId: null,
      acks: this.acks,
      timeoutMs: this.client.requestTimeoutMs,
      topicData: [...byTopic].map(([name, partitionData]) => ({ name, topicId: zeroTopicId, partitionData })),
    };
    if (this.acks === 0) {
      connection.send(apis.produce, body);
      return { answer: null };
    }
    const answer = connection.request(apis.produce, body).then((response) => {
      const results = new Map<string, PartitionResult>();
      for (const topic of response.responses) {
        for (const partition of topic.partitionResponses) {
          results.set(`${topic.name}\u0000${partition.index}`, { errorCode: partition.errorCode, baseOffset: Number(partition.baseOffset), errorMessage: partition.errorMessage });
        }
      }
      return results;
    });
    return { answer };
  }

  private async onAnswer(batches: readonly ClosedBatch[], written: { answer: Promise<Map<string, PartitionResult>> | null }): Promise<void> {
    if (written.answer === null) {
      for (const batch of batches) this.completeBatch(batch, null, -1);
      return;
    }
    let results: Map<string, PartitionResult>;
    try {
      results = await written.answer;
    } catch (error) {
      this.onFailure(batches, asError(error), null);
      return;
    }
    const failed: ClosedBatch[] = [];
    const errors = new Map<ClosedBatch, Error>();
    for (const batch of batches) {
      const result = results.get(`${batch.topic}\u0000${batch.partition}`);
      const where = `produce to '${batch.topic}' partition ${batch.partition}`;
      if (result === undefined) this.failBatch(batch, new KafkaProtocolError(ErrorCode.unknownServerError, where, 'no answer for this partition'));
      else if (result.errorCode === ErrorCode.none) this.completeBatch(batch, null, result.baseOffset);
      else if (result.errorCode === ErrorCode.duplicateSequenceNumber && this.idempotent) this.completeBatch(batch, null, -1); // written before
      else {
        failed.push(batch);
        errors.set(batch, new KafkaProtocolError(result.errorCode, where, result.errorMessage));
      }
    }
    if (failed.length > 0) this.onFailure(failed, null, errors);
  }

  /** Retries what may be retried (idempotent only); fails the rest with their error. */
  private onFailure(batches: readonly ClosedBatch[], sharedError: Error | null, errors: Map<ClosedBatch, Error> | null): void {
    const retry: ClosedBatch[] = [];
    const now = Date.now();
    for (const batch of batches) {
      const error = errors?.get(batch) ?? sharedError ?? new Error('produce failed');
      if (this.idempotent && isWorthRetrying(error) && now - batch.closedAtMs < this.deliveryTimeoutMs) retry.push(batch);
      else this.failBatch(batch, error);
    }
    if (retry.length > 0) void this.retry(retry);
  }

  /** After a pause, with fresh metadata, puts batches back in their leader's queue in sequence order. */
  private async retry(batches: readonly ClosedBatch[]): Promise<void> {
    const attempts = Math.max(...batches.map((batch) => batch.attempts));
    await delay(Math.min(100 * attempts, 1000));
    for (const topic of new Set(batches.map((batch) => batch.topic))) {
      await this.client.topicMetadata(topic, { refresh: true }).catch(() => undefined);
    }
    const ordered = [...batches].sort((left, right) => left.baseSequence - right.baseSequence);
    for (const batch of ordered) {
      batch.encoded = batch.encoded.catch(() => batch.encode());
      const leaderId = this.client.cachedTopic(batch.topic)?.partitions[batch.partition]?.leaderId ?? -1;
      insertInSequence(this.leaderOf(leaderId).ready, batch);
    }
    this.drain();
  }

  private completeBatch(batch: ClosedBatch, error: Error | null, baseOffset: number): void {
    this.bufferedBytes -= batch.sizeBytes;
    batch.callbacks.forEach((callback, index) => this.finishRecord(callback, error, batch.partition, baseOffset < 0 ? -1 : baseOffset + index));
    this.releaseCapacity();
  }

  private failBatch(batch: ClosedBatch, error: Error): void {
    this.completeBatch(batch, error, -1);
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

const zeroTopicId = Buffer.alloc(16);
const anonymous: Identity = { producerId: -1n, producerEpoch: -1 };

/**
 * The batches of one request, oldest first: at most one per partition (Kafka's rule; the others
 * wait for the next request, keeping their order) and up to maxRequestBytes. Taken out of `ready`.
 */
function takeRequestBatches(ready: ClosedBatch[], maxRequestBytes: number): ClosedBatch[] {
  const taken: ClosedBatch[] = [];
  const left: ClosedBatch[] = [];
  const partitions = new Set<string>();
  let bytes = 0;
  for (const batch of ready) {
    const key = `${batch.topic}\u0000${batch.partition}`;
    if (partitions.has(key) || (taken.length > 0 && bytes + batch.sizeBytes > maxRequestBytes)) {
      left.push(batch);
      continue;
    }
    partitions.add(key);
    bytes += batch.sizeBytes;
    taken.push(batch);
  }
  ready.length = 0;
  for (const batch of left) ready.push(batch);
  return taken;
}

/** Before the first queued batch of the same partition with a later sequence; else at the front. */
function insertInSequence(ready: ClosedBatch[], batch: ClosedBatch): void {
  let at = ready.findIndex((queued) => queued.topic === batch.topic && queued.partition === batch.partition && queued.baseSequence > batch.baseSequence);
  if (at < 0) {
    at = 0;
    ready.forEach((queued, index) => {
      if (queued.topic === batch.topic && queued.partition === batch.partition) at = index + 1;
    });
  }
  ready.splice(at, 0, batch);
}

/** Broker answers and transport failures after which an idempotent batch may be sent again. */
function isWorthRetrying(error: Error): boolean {
  if (error instanceof BrokerUnreachableError || error instanceof RequestTimeoutError) return true;
  if (!(error instanceof KafkaProtocolError)) return false;
  return isRetriable(error.code) || error.code === ErrorCode.outOfOrderSequenceNumber;
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
