/**
 * Reads partitions back without a consumer group, through @platformatic/kafka's public
 * `Consumer.fetch()`: plain Fetch requests to the partition leader, no FindCoordinator or JoinGroup
 * (the consumer's groupId is required by its constructor and never used). A client we did not
 * write decodes and decompresses the batches and hands back every record field as bytes, with
 * header pairs in wire order (duplicates and null values kept), so tests can compare byte for byte.
 *
 *   const reader = new PartitionReader(broker.bootstrap);
 *   const { records, highWatermark, codecs } = await reader.readPartition('orders', 2);
 *   await reader.close();
 *
 * On Node 20, @platformatic/kafka has no zstd (it uses zlib's, from Node 22.15); this helper plugs a
 * pure-JavaScript zstd decompressor (fzstd) into its codec table so zstd batches can be read too.
 * That is read-side only: @platformatic/kafka still cannot produce zstd here.
 *
 * readTopicWithKcat() gives a second, independent reading of the same partitions: kcat -J
 * (librdkafka 2.0.2, CRCs checked), in the same shape. recordsOnDisk() and valuesOnDisk() read a
 * broker's segment files instead, for a follower, which no Kafka request can read from.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Consumer, compressionsAlgorithms } from '@platformatic/kafka';
import { decompress as zstdDecompress } from 'fzstd';
import type { BrokerProcess } from './broker-process.js';
import { consumeJson, inPartition } from './kcat.js';
import { decodeRecordBatches } from './raw-kafka-client.js';

export interface ReadRecord {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<readonly [Buffer | null, Buffer | null]>;
}

export interface PartitionContents {
  /** From the first offset asked for up to the high watermark, in offset order. */
  readonly records: ReadRecord[];
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  /** Codec ids (attributes & 7) of the batches seen: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
  readonly codecs: ReadonlySet<number>;
  /** Batches decoded; one that two fetches returned counts twice. */
  readonly batchCount: number;
}

const fetchMaxBytes = 16 * 1024 * 1024;
const partitionMaxBytes = 4 * 1024 * 1024;
/** A safety net: a partition that takes more Fetch round trips than this is not being served. */
const maxFetchesPerPartition = 10_000;

/** Lets @platformatic/kafka decompress zstd batches where Node's zlib has no zstd. */
function enableZstdDecompression(): void {
  if (compressionsAlgorithms.zstd.available) return;
  const zstd = compressionsAlgorithms.zstd as { decompressSync: (data: Buffer | { buffer: Buffer }) => Buffer };
  zstd.decompressSync = (data) => {
    const compressed = Buffer.isBuffer(data) ? data : data.buffer;
    const plain = zstdDecompress(compressed);
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  };
}

export class PartitionReader {
  private readonly consumer: Consumer;

  constructor(bootstrap: string, clientId = 'osprey-partition-reader') {
    enableZstdDecompression();
    this.consumer = new Consumer({ clientId, bootstrapBrokers: [bootstrap], groupId: `${clientId}-never-joined`, retries: 2, retryDelay: 100, maxWaitTime: 10 });
  }

  /** Every partition of `topic`, indexed by partition number. */
  async readTopic(topic: string): Promise<PartitionContents[]> {
    const metadata = await this.consumer.metadata({ topics: [topic], forceUpdate: true });
    const topicMetadata = metadata.topics.get(topic);
    if (topicMetadata === undefined) throw new Error(`no metadata for topic ${topic}`);
    const contents: PartitionContents[] = [];
    for (let partition = 0; partition < topicMetadata.partitionsCount; partition++) {
      contents.push(await this.readPartition(topic, partition));
    }
    return contents;
  }

  /** Fetches from `fromOffset` until the high watermark; throws on an error code or a stalled fetch. */
  async readPartition(topic: string, partition: number, fromOffset = 0n): Promise<PartitionContents> {
    const metadata = await this.consumer.metadata({ topics: [topic], forceUpdate: true });
    const topicMetadata = metadata.topics.get(topic);
    const leader = topicMetadata?.partitions[partition]?.leader;
    if (topicMetadata === undefined || leader === undefined) throw new Error(`no leader known for ${topic}/${partition}`);

    const records: ReadRecord[] = [];
    const codecs = new Set<number>();
    let batchCount = 0;
    let fetchOffset = fromOffset;
    for (let fetches = 0; fetches < maxFetchesPerPartition; fetches++) {
      const response = await this.consumer.fetch({
        node: leader,
        maxBytes: fetchMaxBytes,
        minBytes: 1,
        maxWaitTime: 10,
        topics: [{ topicId: topicMetadata.id, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, partitionMaxBytes }] }],
      });
      const answer = response.responses[0]?.partitions.find((candidate) => candidate.partitionIndex === partition);
      if (answer === undefined) throw new Error(`Fetch of ${topic}/${partition} at ${fetchOffset}: no answer for the partition (errorCode ${response.errorCode})`);
      if (answer.errorCode !== 0) throw new Error(`Fetch of ${topic}/${partition} at ${fetchOffset}: error code ${answer.errorCode}`);
      if (fetchOffset >= answer.highWatermark) {
        return { records, highWatermark: answer.highWatermark, logStartOffset: answer.logStartOffset, codecs, batchCount };
      }
      const before = fetchOffset;
      for (const batch of answer.records ?? []) {
        batchCount++;
        codecs.add(batch.attributes & 0x07);
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta);
          // A fetch starts with the whole batch holding fetchOffset; records before it were read already.
          if (offset < fetchOffset) continue;
          records.push({ offset, timestamp: batch.firstTimestamp + record.timestampDelta, key: record.key, value: record.value, headers: record.headers });
          fetchOffset = offset + 1n;
        }
      }
      if (fetchOffset === before) {
        throw new Error(`Fetch of ${topic}/${partition} at ${fetchOffset} returned no records below the high watermark ${answer.highWatermark}`);
      }
    }
    throw new Error(`reading ${topic}/${partition} took more than ${maxFetchesPerPartition} fetches`);
  }

  async close(): Promise<void> {
    await this.consumer.close(true);
  }
}

/**
 * The values of one partition, read once through `bootstrap` (its leader serves them), as UTF-8 text
 * (a null value as `nullAs`), asserting that the offsets run 0, 1, 2 … without a gap.
 */
export async function readPartitionValues(bootstrap: string, topic: string, partition: number, clientId: string, nullAs = ''): Promise<string[]> {
  const reader = new PartitionReader(bootstrap, clientId);
  try {
    const contents = await reader.readPartition(topic, partition);
    assert.deepEqual(contents.records.map((record) => record.offset), contents.records.map((_, index) => BigInt(index)), `${topic}/${partition}: offsets without gaps`);
    return contents.records.map((record) => record.value?.toString('utf8') ?? nullAs);
  } finally {
    await reader.close();
  }
}

/** Every partition of `topic` as kcat (librdkafka, check.crcs=true) reads it, indexed by partition. */
export async function readTopicWithKcat(bootstrap: string, topic: string, partitionCount: number): Promise<ReadRecord[][]> {
  const consumed = await consumeJson(bootstrap, topic);
  return Array.from({ length: partitionCount }, (_, partition) =>
    inPartition(consumed, partition).map((record) => ({
      offset: BigInt(record.offset),
      timestamp: BigInt(record.timestamp),
      key: record.key,
      value: record.value,
      headers: (record.headers ?? []).map(([key, value]) => [Buffer.from(key), value] as const),
    })),
  );
}

/** A record as a broker's segment files hold it: its offset, its value as UTF-8 text ('<null>' for none), and whether its batch's CRC holds. */
export interface StoredRecord {
  readonly offset: bigint;
  readonly value: string;
  readonly crcValid: boolean;
}

/**
 * The records of one partition as `broker` holds them on disk (its segment files, read while it
 * runs; a batch not yet wholly written at the end is left out): what a follower has replicated, which
 * no Kafka request can ask it for.
 */
export function recordsOnDisk(broker: BrokerProcess, topic: string, partition: number): StoredRecord[] {
  const directory = join(broker.dataDir, `${topic}-${partition}`);
  const segments = readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
  const records: StoredRecord[] = [];
  for (const segment of segments) {
    for (const batch of decodeRecordBatches(readFileSync(join(directory, segment)))) {
      for (const record of batch.records) records.push({ offset: record.offset, value: record.value?.toString('utf8') ?? '<null>', crcValid: batch.crcValid });
    }
  }
  return records;
}

/** The values of one partition as `broker` holds them on disk (recordsOnDisk). */
export function valuesOnDisk(broker: BrokerProcess, topic: string, partition: number): string[] {
  return recordsOnDisk(broker, topic, partition).map((record) => record.value);
}
