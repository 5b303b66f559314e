/**
 * DeleteRecords for one partition: move its log start offset up to a given offset and answer the
 * new low watermark, or an error code (storage errors end here, as codes; the handler answers them).
 *
 * On the leader of a partition with followers (docs/cluster.md, "Replication") the leader's log
 * start moves at once; the answer then waits, as Kafka's does (KIP-107), until the low watermark
 * (the smallest log start among the in-sync replicas) reached the offset: every in-sync replica
 * has dropped the records. A single broker, and a partition with one replica, answer at once.
 */
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { OffsetOutOfRangeError } from '../storage/errors.js';
import type { Offset } from './offset.js';
import type { Partition, PartitionReplication } from './partition.js';

/**
 * Where to move the log start: an offset, up to the high watermark (DeleteRecords' -1), or null for
 * an offset no log can hold (any other negative one).
 */
export type DeletionTarget = Offset | 'highWatermark' | null;

export interface DeletedRecords {
  /** The new low watermark; null with an error. */
  readonly lowWatermark: Offset | null;
  readonly errorCode: number;
}

function failed(errorCode: number): DeletedRecords {
  return { lowWatermark: null, errorCode };
}

/**
 * An offset above the high watermark, or below -1, is OFFSET_OUT_OF_RANGE; a partition not open
 * (or not led here) answers its unavailable code; a failed or closed log, or a log start offset
 * that cannot be written (full disk), KAFKA_STORAGE_ERROR. With followers: REQUEST_TIMED_OUT when
 * the low watermark has not reached the offset within `timeoutMs`, NOT_LEADER_OR_FOLLOWER when
 * leadership moved meanwhile (the leader's own log start has moved either way).
 */
export async function deleteRecordsBefore(partition: Partition, requested: DeletionTarget, timeoutMs: number, logger: Logger): Promise<DeletedRecords> {
  if (partition.unavailableError !== ErrorCode.none) return failed(partition.unavailableError);
  const handle = partition.handle;
  // Taken before the log start moves: the wait is on the followers of this leadership.
  const replication = partition.replication;
  const target = requested === 'highWatermark' ? handle.highWatermark : requested;
  if (target === null || target > handle.highWatermark) return failed(ErrorCode.offsetOutOfRange);
  let logStartOffset: Offset;
  try {
    logStartOffset = await handle.deleteRecordsBefore(target);
  } catch (error) {
    if (error instanceof OffsetOutOfRangeError) return failed(ErrorCode.offsetOutOfRange);
    // A failed or closed log, or the new log start offset not written (a full disk): an answer, not a closed connection.
    logger.warn('delete records failed', { topic: partition.topic.name, partition: partition.index, error: error instanceof Error ? error.message : String(error) });
    return failed(ErrorCode.kafkaStorageError);
  }
  if (replication === null) return { lowWatermark: logStartOffset, errorCode: ErrorCode.none };
  return awaitLowWatermark(partition, replication, target, timeoutMs);
}

/** Replication: the answer once every in-sync replica's log starts at `target` or later. */
async function awaitLowWatermark(partition: Partition, replication: PartitionReplication, target: Offset, timeoutMs: number): Promise<DeletedRecords> {
  const lowWatermark = await replication.waitForLowWatermark(target, Math.max(timeoutMs, 0));
  if (lowWatermark !== null) return { lowWatermark, errorCode: ErrorCode.none };
  if (partition.replication !== replication) return failed(ErrorCode.notLeaderOrFollower);
  return failed(ErrorCode.requestTimedOut);
}

/** The answer for a partition that could not be resolved. */
export const unknownPartitionDeletion: DeletedRecords = failed(ErrorCode.unknownTopicOrPartition);
