/**
 * DeleteRecords for one partition: move its log start offset up to a given offset and answer the
 * new low watermark, or an error code (storage errors end here, as codes; the handler answers them).
 */
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { OffsetOutOfRangeError } from '../storage/errors.js';
import type { Offset } from './offset.js';
import type { Partition } from './partition.js';

/**
 * Where to move the log start: an offset, up to the high watermark (DeleteRecords' -1), or null for
 * an offset no log can hold (any other negative one).
 */
export type DeletionTarget = Offset | 'highWatermark' | null;

export interface DeletedRecords {
  /** The new log start offset; null with an error. */
  readonly lowWatermark: Offset | null;
  readonly errorCode: number;
}

function failed(errorCode: number): DeletedRecords {
  return { lowWatermark: null, errorCode };
}

/**
 * An offset above the high watermark, or below -1, is OFFSET_OUT_OF_RANGE; a partition not open
 * answers its unavailable code; a failed or closed log, or a log start offset that cannot be
 * written (full disk), KAFKA_STORAGE_ERROR.
 */
export async function deleteRecordsBefore(partition: Partition, requested: DeletionTarget, logger: Logger): Promise<DeletedRecords> {
  if (partition.unavailableError !== ErrorCode.none) return failed(partition.unavailableError);
  const handle = partition.handle;
  const target = requested === 'highWatermark' ? handle.highWatermark : requested;
  if (target === null || target > handle.highWatermark) return failed(ErrorCode.offsetOutOfRange);
  try {
    return { lowWatermark: await handle.deleteRecordsBefore(target), errorCode: ErrorCode.none };
  } catch (error) {
    if (error instanceof OffsetOutOfRangeError) return failed(ErrorCode.offsetOutOfRange);
    // A failed or closed log, or the new log start offset not written (a full disk): an answer, not a closed connection.
    logger.warn('delete records failed', { topic: partition.topic.name, partition: partition.index, error: error instanceof Error ? error.message : String(error) });
    return failed(ErrorCode.kafkaStorageError);
  }
}

/** The answer for a partition that could not be resolved. */
export const unknownPartitionDeletion: DeletedRecords = failed(ErrorCode.unknownTopicOrPartition);
