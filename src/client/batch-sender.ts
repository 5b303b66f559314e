/**
 * The producer's sending: closed batches (batch-accumulator.ts) queue per partition leader and go
 * out in Produce requests, with retries and idempotence.
 *
 *   enqueue(batch) ── sequence numbers taken (idempotent), compression started at once, off the
 *        │            main thread (native codecs), while more records accumulate
 *        ▼
 *   ready queue per leader ──► one Produce request per leader carrying up to maxRequestBytes of
 *                              batches, at most maxInFlightPerBroker requests in flight per leader,
 *                              written in order on the leader's one connection
 *
 * A request carries at most one batch per partition (Kafka's rule), so with at most five requests
 * in flight a partition never has more than five batches in flight.
 *
 * Idempotent (acks=all by default): the producer id and epoch come from InitProducerId, once, and
 * each partition's batches are numbered; a batch that failed for a reason worth retrying (leader
 * moved, connection lost, timeout, out-of-order sequence behind an earlier failure) goes back into
 * its leader's queue in sequence order, until deliveryTimeoutMs, and the broker drops duplicates.
 * Not idempotent (acks 0 or 1, or idempotent: false): nothing is retried, since a retry could write
 * twice; the error reaches the batch's records.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { apis } from './apis.js';
import type { AccumulatedBatch, BatchSink, DeliveryCallback } from './batch-accumulator.js';
import type { KafkaClient } from './client.js';
import { delay } from './client.js';
import type { Connection } from './connection.js';
import { BrokerUnreachableError, KafkaProtocolError, RequestTimeoutError, isRetriable } from './errors.js';

export interface SenderOptions {
  readonly acks: -1 | 0 | 1;
  /** Compression codec id of every batch. */
  readonly codec: number;
  readonly maxInFlightPerBroker: number;
  readonly maxRequestBytes: number;
  readonly idempotent: boolean;
  readonly deliveryTimeoutMs: number;
}

/** A closed batch on its way: encoded (or being encoded), queued, in flight or waiting to be retried. */
export interface SentBatch {
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

/** What the producer hears back: each batch's outcome once, and each request's end. */
export interface SenderEvents {
  /** The batch is done: written at `baseOffset` (-1 when unknown: acks=0, or written before), or failed. */
  batchDone(batch: SentBatch, error: Error | null, baseOffset: number): void;
  /** A request (or its failure) has been dealt with. */
  requestSettled(): void;
}

interface PartitionResult {
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly errorMessage: string | null;
}

type Identity = { readonly producerId: bigint; readonly producerEpoch: number };

interface Leader {
  readonly ready: SentBatch[];
  /** Bytes of the batches in `ready`. */
  readyBytes: number;
  inFlight: number;
  /** Writes happen in this order, whatever order compression finishes in. */
  writeChain: Promise<void>;
}

const zeroTopicId = Buffer.alloc(16);
const anonymous: Identity = { producerId: -1n, producerEpoch: -1 };

export class BatchSender implements BatchSink {
  private identityPromise: Promise<Identity> | null = null;
  /** Next sequence per topic, indexed by partition. */
  private readonly sequences = new Map<string, number[]>();
  private readonly leaders = new Map<number, Leader>();

  constructor(
    private readonly client: KafkaClient,
    private readonly options: SenderOptions,
    private readonly events: SenderEvents,
  ) {}

  /** The producer id and epoch of idempotent batches (InitProducerId, once); -1s when not idempotent. */
  identity(): Promise<Identity> {
    if (!this.options.idempotent) return Promise.resolve(anonymous);
    this.identityPromise ??= this.initProducerId().catch((error: unknown) => {
      this.identityPromise = null; // asked again by the next batch or retry
      throw error;
    });
    return this.identityPromise;
  }

  /** Takes the closed batch's sequence numbers, starts encoding it and queues it for its leader. */
  enqueue(batch: AccumulatedBatch, leaderId: number): void {
    const recordCount = batch.builder.recordCount;
    const baseSequence = this.options.idempotent ? this.nextSequence(batch.topic, batch.partition, recordCount) : -1;
    const builder = batch.builder;
    const encode = () => {
      const encoded = this.identity().then((identity) => builder.finish(this.options.codec, { ...identity, baseSequence }));
      encoded.catch(() => undefined); // reported when the request is formed
      return encoded;
    };
    const sent: SentBatch = { topic: batch.topic, partition: batch.partition, recordCount, sizeBytes: builder.sizeBytes, encoded: encode(), encode, callbacks: batch.callbacks, baseSequence, closedAtMs: Date.now(), attempts: 0 };
    const leader = this.leaderOf(leaderId);
    leader.ready.push(sent);
    leader.readyBytes += sent.sizeBytes;
  }

  /**
   * True when a batch for this leader enqueued now would be sent at once: a request can still go out,
   * and what waits for it does not fill it yet. (drain() runs after every close, so batches wait only
   * while every request is in flight, or while a pass over many partitions closes them one by one:
   * those share the next request, one batch per partition.)
   */
  hasRoom(leaderId: number): boolean {
    const leader = this.leaders.get(leaderId);
    return leader === undefined || (leader.inFlight < this.options.maxInFlightPerBroker && leader.readyBytes < this.options.maxRequestBytes);
  }

  /** Sends what is queued, as far as each leader's in-flight limit allows. */
  drain(): void {
    for (const [leaderId, leader] of this.leaders) {
      while (leader.ready.length > 0 && leader.inFlight < this.options.maxInFlightPerBroker) {
        const batches = takeRequestBatches(leader.ready, this.options.maxRequestBytes);
        for (const batch of batches) leader.readyBytes -= batch.sizeBytes;
        leader.inFlight++;
        this.sendRequest(leaderId, leader, batches);
      }
    }
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
      leader = { ready: [], readyBytes: 0, inFlight: 0, writeChain: Promise.resolve() };
      this.leaders.set(leaderId, leader);
    }
    return leader;
  }

  private sendRequest(leaderId: number, leader: Leader, batches: SentBatch[]): void {
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
        this.events.requestSettled();
      });
  }

  /** Writes the request; resolves with a promise of its answer (null for acks=0), so writes stay ordered. */
  private write(connection: Connection, batches: readonly SentBatch[], encoded: readonly Buffer[]): { answer: Promise<Map<string, PartitionResult>> | null } {
    const byTopic = new Map<string, { index: number; records: Buffer }[]>();
    batches.forEach((batch, index) => {
      const list = byTopic.get(batch.topic) ?? [];
      list.push({ index: batch.partition, records: encoded[index]! });
      byTopic.set(batch.topic, list);
    });
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.client.requestTimeoutMs,
      topicData: [...byTopic].map(([name, partitionData]) => ({ name, topicId: zeroTopicId, partitionData })),
    };
    if (this.options.acks === 0) {
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

  private async onAnswer(batches: readonly SentBatch[], written: { answer: Promise<Map<string, PartitionResult>> | null }): Promise<void> {
    if (written.answer === null) {
      for (const batch of batches) this.events.batchDone(batch, null, -1);
      return;
    }
    let results: Map<string, PartitionResult>;
    try {
      results = await written.answer;
    } catch (error) {
      this.onFailure(batches, asError(error), null);
      return;
    }
    const failed: SentBatch[] = [];
    const errors = new Map<SentBatch, Error>();
    for (const batch of batches) {
      const result = results.get(`${batch.topic}\u0000${batch.partition}`);
      const where = `produce to '${batch.topic}' partition ${batch.partition}`;
      if (result === undefined) this.events.batchDone(batch, new KafkaProtocolError(ErrorCode.unknownServerError, where, 'no answer for this partition'), -1);
      else if (result.errorCode === ErrorCode.none) this.events.batchDone(batch, null, result.baseOffset);
      else if (result.errorCode === ErrorCode.duplicateSequenceNumber && this.options.idempotent) this.events.batchDone(batch, null, -1); // written before
      else {
        failed.push(batch);
        errors.set(batch, new KafkaProtocolError(result.errorCode, where, result.errorMessage));
      }
    }
    if (failed.length > 0) this.onFailure(failed, null, errors);
  }

  /** Retries what may be retried (idempotent only); fails the rest with their error. */
  private onFailure(batches: readonly SentBatch[], sharedError: Error | null, errors: Map<SentBatch, Error> | null): void {
    const retry: SentBatch[] = [];
    const now = Date.now();
    for (const batch of batches) {
      const error = errors?.get(batch) ?? sharedError ?? new Error('produce failed');
      if (this.options.idempotent && isWorthRetrying(error) && now - batch.closedAtMs < this.options.deliveryTimeoutMs) retry.push(batch);
      else this.events.batchDone(batch, error, -1);
    }
    if (retry.length > 0) void this.retry(retry);
  }

  /** After a pause, with fresh metadata, puts batches back in their leader's queue in sequence order. */
  private async retry(batches: readonly SentBatch[]): Promise<void> {
    const attempts = Math.max(...batches.map((batch) => batch.attempts));
    await delay(Math.min(100 * attempts, 1000));
    for (const topic of new Set(batches.map((batch) => batch.topic))) {
      await this.client.topicMetadata(topic, { refresh: true }).catch(() => undefined);
    }
    const ordered = [...batches].sort((left, right) => left.baseSequence - right.baseSequence);
    for (const batch of ordered) {
      batch.encoded = batch.encoded.catch(() => batch.encode());
      const leaderId = this.client.cachedTopic(batch.topic)?.partitions[batch.partition]?.leaderId ?? -1;
      const leader = this.leaderOf(leaderId);
      insertInSequence(leader.ready, batch);
      leader.readyBytes += batch.sizeBytes;
    }
    this.drain();
  }
}

/**
 * The batches of one request, oldest first: at most one per partition (Kafka's rule; the others
 * wait for the next request, keeping their order) and up to maxRequestBytes. Taken out of `ready`.
 */
export function takeRequestBatches(ready: SentBatch[], maxRequestBytes: number): SentBatch[] {
  const taken: SentBatch[] = [];
  const left: SentBatch[] = [];
  const partitions = new Set<string>();
  let bytes = 0;
  for (const batch of ready) {
    const key = `${batch.topic}\u0000${batch.partition}`;
    if (partitions.has(key) || (taken.length > 0 && bytes + batch.sizeBytes > maxRequestBytes)) {
      // Later batches of the partition wait too: sent before this one, they would break its sequence order.
      partitions.add(key);
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
function insertInSequence(ready: SentBatch[], batch: SentBatch): void {
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

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
