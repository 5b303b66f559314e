/**
 * The queue side's TopicAccess (queues/streams/topic-access.ts) over the Kafka broker: stream
 * queues, exchange-to-topic bindings and topic feeds read and write topics through it, and through
 * the same paths Kafka clients use: an append is one record batch put into the partition's log as
 * the produce path puts one (disk alarm checked, stamped with the leader epoch this broker leads
 * in, waiting fetches woken once it is durable, and durable for the publisher once it is on disk
 * here and, in a cluster, held by every in-sync replica, as an acks=all produce); a read returns
 * what a consumer's fetch would (below the high watermark), decoded.
 *
 * In a cluster only the partitions this broker leads are served, as Produce and Fetch serve only
 * those: appending to a follower's copy would put a record into its log that the leader never has
 * (cut again when the follower compares epochs, or worse, kept by a follower that becomes leader
 * while the leader's own records at those offsets differ). Any other partition is refused with a
 * TopicAccessError (an AMQP publish is nacked, a reader retries). Nor are topics created here in a
 * cluster: Broker.createTopic would make one etcd does not know; a stream queue adopts a topic
 * created with CreateTopics instead, and deleting the queue leaves the topic (DeleteTopics deletes it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Broker, Partition } from '../broker/broker.js';
import { offsetForTimestamp } from '../broker/offset-for-timestamp.js';
import { awaitInSyncReplicas } from '../broker/partition.js';
import { asOffset } from '../broker/offset.js';
import { topicNameProblem } from '../broker/topic-name.js';
import { partitionForKey } from '../client/partitioner.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { batchHeaderBytes, currentMagic, isControl, readBaseOffset, readCompressionCodec, readLastOffset, readMagic, recordsAt, setLogAppendTime, setPartitionLeaderEpoch } from '../protocol/kafka/batch-header.js';
import { decompressRecords } from '../protocol/kafka/compression.js';
import { encodeRecordBatch, recordBatchTotalBytes, RecordIterator } from '../protocol/kafka/records.js';
import { TopicAccessError, type AppendedRecord, type PartitionBounds, type TopicAccess, type TopicCreation, type TopicRead, type TopicRecord, type TopicRecordToAppend } from '../queues/streams/topic-access.js';

/** How often a partition still being recovered at start-up is looked at again. */
const openPollIntervalMs = 10;

export class KafkaTopicAccess implements TopicAccess {
  /** Round-robin position per topic for records without a key. */
  private readonly nextUnkeyedPartition = new Map<string, number>();

  constructor(private readonly broker: Broker) {}

  async ensureTopic(name: string, creation: TopicCreation): Promise<{ readonly created: boolean; readonly partitionCount: number }> {
    const problem = topicNameProblem(name);
    if (problem !== null) throw new TopicAccessError(`'${name}' cannot name a Kafka topic: ${problem}`);
    let created = false;
    if (this.broker.topic(name) === undefined && this.broker.inCluster) {
      // Broker.createTopic would make a topic of this broker alone, which etcd does not know and nobody leads.
      throw new TopicAccessError(`topic '${name}' does not exist; in a cluster, create it first with CreateTopics (osprey topic create), then declare the stream queue on the broker leading its partition`);
    }
    if (this.broker.topic(name) === undefined) {
      const result = await this.broker.createTopic(name, creation.partitionCount, creation.configs);
      if (result.errorCode !== ErrorCode.none && result.errorCode !== ErrorCode.topicAlreadyExists) {
        throw new TopicAccessError(`topic '${name}' could not be created: ${result.errorMessage ?? `error ${result.errorCode}`}`);
      }
      created = result.errorCode === ErrorCode.none;
    }
    const topic = this.broker.topic(name);
    if (topic === undefined) throw new TopicAccessError(`topic '${name}' went away while it was being created`);
    // In a cluster a partition led elsewhere is refused rather than waited for (file comment). Before
    // joining (stream queues restored at start-up) nothing is led yet and a partition this broker no
    // longer hosts never opens: the queue is restored as it is, and served once etcd's leadership
    // reaches this broker.
    if (this.broker.inCluster && this.broker.cluster === null) return { created, partitionCount: topic.partitions.length };
    for (const partition of topic.partitions) {
      if (!partition.ledHere) throw notLedHere(name, partition.index);
      await untilOpen(partition);
    }
    return { created, partitionCount: topic.partitions.length };
  }

  partitionCount(name: string): number | null {
    return this.broker.topic(name)?.partitions.length ?? null;
  }

  append(topicName: string, record: TopicRecordToAppend, partitionIndex?: number): AppendedRecord {
    const topic = this.broker.topic(topicName);
    if (topic === undefined) throw new TopicAccessError(`topic '${topicName}' does not exist`);
    const index = partitionIndex ?? this.choosePartition(topicName, record.key, topic.partitions.length);
    const partition = this.servedPartition(topicName, index);
    if (this.broker.diskAlarm.raised) throw new TopicAccessError(this.broker.diskAlarm.refusalMessage);
    // min.insync.replicas, as for acks=all.
    if (partition.missingInSyncReplicas > 0) throw new TopicAccessError(`partition ${index} of topic '${topicName}' has fewer in-sync replicas than min.insync.replicas ${topic.effective.minInsyncReplicas}`);
    const batch = encodeRecordBatch({ records: [record], baseTimestampMs: record.timestampMs });
    if (batch.length > topic.effective.maxMessageBytes) throw new TopicAccessError(`a record of ${batch.length} bytes exceeds max.message.bytes ${topic.effective.maxMessageBytes} of topic '${topicName}'`);
    // As the produce path does: the broker's clock under LogAppendTime, the partition's leader epoch (outside the CRC).
    if (topic.effective.messageTimestampType === 'LogAppendTime') setLogAppendTime(batch, 0, Date.now());
    setPartitionLeaderEpoch(batch, 0, partition.leaderEpoch);
    let appended;
    try {
      appended = partition.handle.append(batch);
    } catch (error) {
      throw new TopicAccessError(`partition ${index} of topic '${topicName}' refused the append: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.broker.diskAlarm.noteAppended(batch.length);
    // The replication role of the term the record was appended in: a new term closes it (false below).
    const replication = partition.replication;
    const timeoutMs = this.broker.config.amqp.topicConfirmTimeoutMs;
    const durable = appended.durable.then(async () => {
      this.broker.notifyData(partition);
      if (replication === null) return;
      const outcome = await awaitInSyncReplicas(partition, replication, asOffset(appended.lastOffset + 1), timeoutMs);
      if (outcome === 'too few in sync') throw new TopicAccessError(`the in-sync replicas of partition ${index} of topic '${topicName}' fell below min.insync.replicas while the record waited`);
      if (outcome !== 'replicated') throw new TopicAccessError(`partition ${index} of topic '${topicName}': ${outcome === 'timed out' ? `not every in-sync replica held the record within ${timeoutMs} ms` : 'leadership moved before every in-sync replica held the record'}`);
    });
    return { partition: index, offset: appended.baseOffset, durable };
  }

  async read(topicName: string, partitionIndex: number, fromOffset: number, maxBytes: number): Promise<TopicRead> {
    const partition = this.servedPartition(topicName, partitionIndex);
    const handle = partition.handle;
    const from = Math.max(fromOffset, handle.logStartOffset);
    if (from >= handle.highWatermark) return { records: [], nextOffset: from };
    const { chunks } = await handle.read(asOffset(from), maxBytes);
    const records: TopicRecord[] = [];
    let nextOffset = from;
    for (const chunk of chunks) nextOffset = Math.max(nextOffset, await decodeInto(chunk, from, records));
    return { records, nextOffset };
  }

  bounds(topicName: string, partitionIndex: number): PartitionBounds {
    const handle = this.servedPartition(topicName, partitionIndex).handle;
    return { logStartOffset: handle.logStartOffset, endOffset: handle.highWatermark };
  }

  async lastBatchOffset(topicName: string, partitionIndex: number): Promise<number | null> {
    const handle = this.servedPartition(topicName, partitionIndex).handle;
    const end = handle.highWatermark;
    if (end <= handle.logStartOffset) return null;
    // The read starts with the batch holding the last offset: its first offset is the answer.
    const { chunks } = await handle.read(asOffset(end - 1), 1);
    const first = chunks[0];
    if (first === undefined || first.length < batchHeaderBytes) return end - 1;
    return Math.max(readBaseOffset(first, 0), handle.logStartOffset);
  }

  async offsetForTimestamp(topicName: string, partitionIndex: number, timestampMs: number): Promise<number | null> {
    const found = await offsetForTimestamp(this.servedPartition(topicName, partitionIndex).handle, timestampMs);
    return found === null ? null : found.offset;
  }

  onNewData(topicName: string, partitionIndex: number, callback: () => void): () => void {
    const partition = this.broker.partition(topicName, partitionIndex);
    if (partition === undefined) {
      const timer = setImmediate(callback);
      return () => clearImmediate(timer);
    }
    return partition.onNextData(callback);
  }

  async deleteTopic(name: string): Promise<boolean> {
    // In a cluster the topic is etcd's (created with CreateTopics, file comment): Broker.deleteTopic
    // would delete only this broker's copy of it. It stays; DeleteTopics removes it everywhere.
    if (this.broker.inCluster) return false;
    const result = await this.broker.deleteTopic(name);
    if (result.errorCode !== ErrorCode.none && result.errorCode !== ErrorCode.unknownTopicOrPartition) {
      throw new TopicAccessError(`topic '${name}' could not be deleted: ${result.errorMessage ?? `error ${result.errorCode}`}`);
    }
    return true;
  }

  /** The partition, if this broker may serve it: open, and (in a cluster) led here (Partition.unavailableError). */
  private servedPartition(topicName: string, partitionIndex: number): Partition {
    const partition = this.broker.partition(topicName, partitionIndex);
    if (partition === undefined) throw new TopicAccessError(`topic '${topicName}' has no partition ${partitionIndex}`);
    if (!partition.ledHere) throw notLedHere(topicName, partitionIndex);
    if (!partition.isOpen) throw new TopicAccessError(`partition ${partitionIndex} of topic '${topicName}' is not open (state ${partition.state})`);
    return partition;
  }

  private choosePartition(topicName: string, key: Buffer | null, partitionCount: number): number {
    if (key !== null) return partitionForKey(key, partitionCount);
    const next = this.nextUnkeyedPartition.get(topicName) ?? 0;
    this.nextUnkeyedPartition.set(topicName, (next + 1) % partitionCount);
    return next % partitionCount;
  }
}

function notLedHere(topicName: string, partitionIndex: number): TopicAccessError {
  return new TopicAccessError(`partition ${partitionIndex} of topic '${topicName}' is not led by this broker: in a cluster, records are written to and read from a partition on its leader only`);
}

/** Waits while a partition is still being recovered (start-up); a partition that failed to open is refused. */
async function untilOpen(partition: Partition): Promise<void> {
  while (!partition.isOpen) {
    if (partition.state === 'failed') throw new TopicAccessError(`partition ${partition.index} of topic '${partition.topic.name}' failed to open`);
    await sleep(openPollIntervalMs);
  }
}

/**
 * Decodes the whole batches of one read chunk into records at or after `from` (a read starts with
 * the batch holding it); returns the offset after the last batch.
 */
async function decodeInto(bytes: Buffer, from: number, output: TopicRecord[]): Promise<number> {
  let position = 0;
  let nextOffset = from;
  for (;;) {
    const total = recordBatchTotalBytes(bytes, position);
    if (total === null || total < batchHeaderBytes) return nextOffset;
    const start = position;
    position += total;
    nextOffset = Math.max(nextOffset, readLastOffset(bytes, start) + 1);
    if (readMagic(bytes, start) !== currentMagic || isControl(bytes, start) || readLastOffset(bytes, start) < from) continue;
    const codec = readCompressionCodec(bytes, start);
    const stored = bytes.subarray(start + recordsAt, start + total);
    const section = codec === 0 ? stored : await decompressRecords(codec, stored);
    const records = new RecordIterator(bytes, start, section, 0, section.length);
    while (records.next()) {
      if (records.offset < from) continue;
      output.push({ offset: records.offset, timestampMs: records.timestampMs, key: copy(records.key()), value: copy(records.value()), headers: records.headers().map((header) => ({ key: header.key, value: copy(header.value) })) });
    }
  }
}

/** Records are views of the read's buffer; a copy lets the buffer go once its records are delivered. */
function copy(bytes: Buffer | null): Buffer | null {
  return bytes === null ? null : Buffer.from(bytes);
}
