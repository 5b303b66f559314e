/**
 * The fetch path: read whole stored batches for a set of partitions within byte budgets, and wait
 * (long poll) until enough data is there or the wait is over.
 *
 * Budgets follow Kafka (KIP-74): each partition gives at most partitionMaxBytes and the response at
 * most maxBytes, except that the first batch of the first partition with data is returned whole even
 * when larger, so a consumer can always make progress. A later partition whose next batch does not
 * fit what is left returns nothing (a client whose receive limit is its fetch size would otherwise
 * get more than it can take). The partitions are read concurrently and the answer is the one reading
 * them one after the other would give (readPartitions).
 */
import { batchTotalBytes } from '../protocol/kafka/batch-header.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { Logger } from '../logging/logger.js';
import { CorruptBatchError, LogClosedError, LogFailedError, OffsetOutOfRangeError } from '../storage/partition-log.js';
import type { ReadAllocator, ReadBufferPool } from '../storage/read-buffers.js';
import type { Broker, Partition } from './broker.js';
import type { PartitionHandle } from './partition-handle.js';
import type { Offset } from './offset.js';

export interface FetchTarget {
  readonly partition: Partition | undefined;
  /** Error for a partition that could not be resolved (unknown topic, id or index). */
  readonly errorCode: number;
  /** Null: an offset no log can hold (negative, or beyond 2^53): out of range. */
  readonly fetchOffset: Offset | null;
  readonly partitionMaxBytes: number;
  /** What to answer if the topic is deleted while the fetch waits: UNKNOWN_TOPIC_OR_PARTITION, or UNKNOWN_TOPIC_ID when fetched by id. */
  readonly deletedErrorCode: number;
  /**
   * Replication: a follower's fetch (replica id ≥ 0) reads up to what is durable on the leader
   * (localHighWatermark), not only up to the high watermark, which needs the followers to advance.
   * Absent: a consumer's fetch.
   */
  readonly fromReplica?: boolean;
}

export interface PartitionFetchResult {
  errorCode: number;
  /** Null (answered -1) when the partition could not be read at all. */
  highWatermark: Offset | null;
  logStartOffset: Offset | null;
  records: Buffer[];
  byteCount: number;
}

const emptyRecords: Buffer[] = [];

/**
 * A partition's answer: at once when its log need not be read (not resolved, deleted, unavailable,
 * out of range, at its high watermark, no budget), else a promise of the read. A fetch of many
 * partitions waiting at the end of their logs then costs no promise, no closure and no microtask
 * turn per partition each time one of them wakes it.
 */
function readPartition(
  target: FetchTarget,
  budgetBytes: number,
  mustMakeProgress: boolean,
  logger: Logger,
  allocate: ReadAllocator | undefined,
): PartitionFetchResult | Promise<PartitionFetchResult> {
  const partition = target.partition;
  if (partition === undefined || target.errorCode !== ErrorCode.none) {
    return { errorCode: target.errorCode, highWatermark: null, logStartOffset: null, records: emptyRecords, byteCount: 0 };
  }
  if (partition.deleted) return { errorCode: target.deletedErrorCode, highWatermark: null, logStartOffset: null, records: emptyRecords, byteCount: 0 };
  if (partition.unavailableError !== ErrorCode.none) {
    // Still being recovered at start-up (retriable): the consumer refreshes metadata and retries.
    return { errorCode: partition.unavailableError, highWatermark: null, logStartOffset: null, records: emptyRecords, byteCount: 0 };
  }
  const log = partition.handle;
  const fetchOffset = target.fetchOffset;
  if (fetchOffset === null) return logResult(log, ErrorCode.offsetOutOfRange, emptyRecords, 0);
  // Replication: a follower reads to the leader's durable end, a consumer to the high watermark.
  const highWatermark = target.fromReplica === true ? log.localHighWatermark : log.highWatermark;
  if (fetchOffset < log.logStartOffset || fetchOffset > highWatermark) {
    // Between the high watermark and the log end is data not yet durable: nothing to serve yet.
    if (fetchOffset >= log.logStartOffset && fetchOffset <= log.logEndOffset) return logResult(log, ErrorCode.none, emptyRecords, 0);
    return logResult(log, ErrorCode.offsetOutOfRange, emptyRecords, 0);
  }
  // At the high watermark a read would find nothing (unless the log is closed: it answers that).
  if (fetchOffset === highWatermark && !log.isClosed) return logResult(log, ErrorCode.none, emptyRecords, 0);
  const maxBytes = Math.min(target.partitionMaxBytes, budgetBytes);
  if (maxBytes <= 0 && !mustMakeProgress) return logResult(log, ErrorCode.none, emptyRecords, 0);
  return readLog(target, partition, fetchOffset, maxBytes, mustMakeProgress, logger, allocate, highWatermark);
}

function logResult(log: PartitionHandle, errorCode: number, records: Buffer[], byteCount: number): PartitionFetchResult {
  return { errorCode, highWatermark: log.highWatermark, logStartOffset: log.logStartOffset, records, byteCount };
}

async function readLog(
  target: FetchTarget,
  partition: Partition,
  fetchOffset: Offset,
  maxBytes: number,
  mustMakeProgress: boolean,
  logger: Logger,
  allocate: ReadAllocator | undefined,
  readEndOffset: Offset,
): Promise<PartitionFetchResult> {
  const log = partition.handle;
  const result = (errorCode: number, records: Buffer[], byteCount: number): PartitionFetchResult => logResult(log, errorCode, records, byteCount);
  try {
    // With maxBytes 0 the log still returns the first batch whole (KIP-74); only the first partition with data keeps it.
    const read = await log.read(fetchOffset, Math.max(maxBytes, 0), allocate, readEndOffset);
    const whole = result(ErrorCode.none, read.chunks, read.byteCount);
    return mustMakeProgress ? whole : cutToBudget(whole, Math.max(maxBytes, 0), false);
  } catch (error) {
    if (error instanceof OffsetOutOfRangeError) return result(ErrorCode.offsetOutOfRange, emptyRecords, 0);
    // Deleted while it was being read.
    if (partition.deleted) return { errorCode: target.deletedErrorCode, highWatermark: null, logStartOffset: null, records: emptyRecords, byteCount: 0 };
    return result(readErrorCode(error, partition, logger), emptyRecords, 0);
  }
}

/**
 * A read that failed answers for its partition only; the connection and the other partitions go
 * on. Damaged data is CORRUPT_MESSAGE (the storage logged it once, when it found it); a failed or
 * closed log and any other error of the storage are KAFKA_STORAGE_ERROR (unexpected ones logged here).
 */
export function readErrorCode(error: unknown, partition: Partition, logger: Logger): number {
  if (error instanceof CorruptBatchError) return ErrorCode.corruptMessage;
  // A failed log was logged when it failed, a closed one is shutting down or being deleted.
  if (!(error instanceof LogClosedError) && !(error instanceof LogFailedError)) {
    const message = error instanceof Error ? error.message : String(error);
    // Consumers retry at once: the same failure of the same partition is logged once, not per fetch.
    if (lastReadFailure.get(partition) !== message) {
      lastReadFailure.set(partition, message);
      logger.error('read of a partition failed', { topic: partition.topic.name, partition: partition.index, error: message });
    }
  }
  return ErrorCode.kafkaStorageError;
}

const lastReadFailure = new WeakMap<Partition, string>();

/**
 * One pass over the partitions within the response budget, answered as if they were read one after
 * the other in request order (each gets what the ones before it left), but read concurrently:
 *
 *   1. allot: partition i may use min(partitionMaxBytes, what the allotments before it left);
 *      every partition with an allotment (and the first one in any case) is read at once with it;
 *   2. settle, in request order: the budget partition i really has is min(partitionMaxBytes,
 *      maxBytes − bytes answered before it). Within its allotment the read is cut to that budget at
 *      a batch boundary (what a read with that budget returns: whole batches, at least the first);
 *      beyond it (partitions before it answered less than allotted) the partition is read again
 *      with the budget it has.
 *
 * So the bytes held at once stay within maxBytes (plus one first batch per partition), as when
 * reading one at a time, and the answer is the same.
 */
export async function readPartitions(
  targets: readonly FetchTarget[],
  maxBytes: number,
  logger: Logger,
  allocate?: ReadAllocator,
): Promise<{ results: PartitionFetchResult[]; byteCount: number; anyError: boolean }> {
  const allotments: number[] = [];
  let allotted = 0;
  for (const target of targets) {
    const allotment = Math.max(0, Math.min(target.partitionMaxBytes, maxBytes - allotted));
    allotments.push(allotment);
    allotted += allotment;
  }
  const early = targets.map((target, index) => (index === 0 || allotments[index]! > 0 ? readPartition(target, allotments[index]!, true, logger, allocate) : null));
  // Settling awaits them in order: a rejection of a later one must not go unhandled meanwhile.
  for (const pending of early) if (pending instanceof Promise) pending.catch(() => undefined);
  const results: PartitionFetchResult[] = [];
  let byteCount = 0;
  let anyError = false;
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    const budgetBytes = maxBytes - byteCount;
    const mustMakeProgress = byteCount === 0;
    const wantedBytes = Math.min(target.partitionMaxBytes, budgetBytes);
    const allottedBytes = Math.min(target.partitionMaxBytes, allotments[index]!);
    const pending = early[index] ?? null;
    let partitionResult: PartitionFetchResult;
    if (pending !== null && (wantedBytes > 0 || mustMakeProgress) && Math.max(wantedBytes, 0) <= allottedBytes) {
      partitionResult = cutToBudget(pending instanceof Promise ? await pending : pending, Math.max(wantedBytes, 0), mustMakeProgress);
    } else {
      // Nothing to read (no budget left: no I/O), or more budget than allotted: read it now.
      const read = readPartition(target, budgetBytes, mustMakeProgress, logger, allocate);
      partitionResult = read instanceof Promise ? await read : read;
    }
    byteCount += partitionResult.byteCount;
    if (partitionResult.errorCode !== ErrorCode.none) anyError = true;
    results.push(partitionResult);
  }
  return { results, byteCount, anyError };
}

/**
 * The whole batches at the start of a read that fit in maxBytes, and the first one anyway when
 * `keepFirst` (the first partition with data: KIP-74); what a read with maxBytes returns (storage
 * reads whole batches greedily, the first one always whole).
 */
function cutToBudget(result: PartitionFetchResult, maxBytes: number, keepFirst: boolean): PartitionFetchResult {
  if (result.byteCount <= maxBytes) return result;
  const records: Buffer[] = [];
  let byteCount = 0;
  for (const chunk of result.records) {
    let at = 0;
    while (at < chunk.length) {
      const batchBytes = batchTotalBytes(chunk, at);
      if ((byteCount > 0 || !keepFirst) && byteCount + batchBytes > maxBytes) break;
      at += batchBytes;
      byteCount += batchBytes;
    }
    if (at > 0) records.push(at === chunk.length ? chunk : chunk.subarray(0, at));
    if (at < chunk.length) break;
  }
  return { ...result, records, byteCount };
}

/**
 * Reads, and if fewer than minBytes are available, waits for new data (or the deadline) and reads
 * again. Errors are returned at once, as Kafka does.
 *
 * With `readBuffers`, bytes read from segment files land in that pool's buffers; the caller gives
 * the records of the results back to it once they are written (a pass read again is given back here).
 */
export async function fetchWithWait(
  broker: Broker,
  targets: readonly FetchTarget[],
  options: { maxBytes: number; minBytes: number; maxWaitMs: number; readBuffers?: ReadBufferPool },
): Promise<PartitionFetchResult[]> {
  const deadline = Date.now() + options.maxWaitMs;
  const partitions = targets.flatMap((target) => (target.partition === undefined ? [] : [target.partition]));
  const readBuffers = options.readBuffers;
  for (;;) {
    const pass = await readPartitions(targets, options.maxBytes, broker.logger, readBuffers?.allocate);
    const remainingMs = deadline - Date.now();
    if (pass.byteCount >= options.minBytes || pass.anyError || remainingMs <= 0 || partitions.length === 0 || broker.closing) {
      return pass.results;
    }
    // Too little to answer: this pass is dropped, nothing refers to its bytes.
    if (readBuffers !== undefined) for (const result of pass.results) readBuffers.give(result.records);
    await broker.waitForData(partitions, remainingMs);
  }
}
