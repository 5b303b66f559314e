/**
 * What the queue side needs from the Kafka side to keep messages in topics (stream queues,
 * exchange-to-topic bindings, topics feeding queues), and nothing more: the queue side never sees
 * the Kafka broker, its partitions or its storage. server/start.ts hands the queue broker an
 * implementation over the Kafka broker (broker/topic-access.ts).
 *
 * Offsets are per partition, as in Kafka; `endOffset` is the high watermark (what may be read:
 * with flush=always, what is fsynced).
 */

export interface TopicRecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** A record read back from a topic (decompressed, control batches left out). */
export interface TopicRecord {
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly TopicRecordHeader[];
}

export interface TopicRead {
  readonly records: readonly TopicRecord[];
  /** Where the next read starts: after the last batch read (control batches and gaps included). */
  readonly nextOffset: number;
}

export interface TopicRecordToAppend {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestampMs: number;
  readonly headers: readonly TopicRecordHeader[];
}

export interface AppendedRecord {
  readonly partition: number;
  readonly offset: number;
  /** Resolves once the record is durable under the broker's flush policy (in a cluster, and held by every in-sync replica); rejects when it could not be written. */
  readonly durable: Promise<void>;
}

export interface TopicCreation {
  readonly partitionCount: number;
  /** Topic configs (retention.ms, retention.bytes, …) for a topic created now; ignored for one that exists. */
  readonly configs: ReadonlyMap<string, string>;
}

/** Where a topic's partition can be read from: its log start and its end (high watermark). */
export interface PartitionBounds {
  readonly logStartOffset: number;
  readonly endOffset: number;
}

/** A refusal the queue side turns into an AMQP error (bad name, storage trouble, …). */
export class TopicAccessError extends Error {}

export interface TopicAccess {
  /** Creates the topic, or finds the one of that name; resolves once its partitions are open, with their count. */
  ensureTopic(name: string, creation: TopicCreation): Promise<{ readonly created: boolean; readonly partitionCount: number }>;
  /** The topic's partition count; null when there is no such topic. */
  partitionCount(name: string): number | null;
  /**
   * Appends one record: to `partition`, or when it is left out to the partition its key hashes to
   * (Kafka's default partitioner; round-robin for a null key). Throws TopicAccessError when the topic
   * or partition is missing or not open, or storage refuses writes.
   */
  append(topic: string, record: TopicRecordToAppend, partition?: number): AppendedRecord;
  /** Records from `fromOffset` (at least one batch when there is one, about maxBytes), below the end offset. */
  read(topic: string, partition: number, fromOffset: number, maxBytes: number): Promise<TopicRead>;
  bounds(topic: string, partition: number): PartitionBounds;
  /** The first offset of the last batch (RabbitMQ's "last chunk"); null when the partition is empty. */
  lastBatchOffset(topic: string, partition: number): Promise<number | null>;
  /** The first offset whose record timestamp is at or after timestampMs; null when none is. */
  offsetForTimestamp(topic: string, partition: number, timestampMs: number): Promise<number | null>;
  /** Calls `callback` once, when the partition has new readable data (or goes away); the function returned cancels it. */
  onNewData(topic: string, partition: number, callback: () => void): () => void;
  /** Deletes the topic; false when it stays (in a cluster a topic is etcd's: DeleteTopics removes it everywhere). */
  deleteTopic(name: string): Promise<boolean>;
}
