/**
 * DeleteRecords for one partition: move its log start offset up to a given offset and answer the
 * new low watermark, or an error code (storage errors end here, as codes; the handler answers them).
 */
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { OffsetOutOfRangeError } from '../storage/errors.js';
import type { Partition } from './partition.js';

/** DeleteRecords' offset -1: up to the high watermark. */
const highWatermarkOffset = -1n;

export interface DeletedRecords {
  readonly lowWatermark: bigint;
  readonly errorCode: number;
}

function failed(errorCode: number): DeletedRecords {
  return { lowWatermark: -1n, errorCode };
}

/**
 * An offset above the high watermark, or below -1, is OFFSET_OUT_OF_RANGE; a partition not open
 * answers its unavailable code; a failed or closed log, or a log start offset that cannot be
 * written (full disk), KAFKA_STORAGE_ERROR.
 */
export async function deleteRecordsBefore(partition: Partition, offset: bigint, logger: Logger): Promise<DeletedRecords> {
  if (partition.unavailableError !== ErrorCode.none) return failed(partition.unavailableError);
  const log = partition.handle;
  const target = offset === highWatermarkOffset ? BigInt(log.highWatermark) : offset;
  if (target < 0n || target > BigInt(log.highWatermark)) return failed(ErrorCode.offsetOutOfRange);
  try {
    const lowWatermark = await log.deleteRecordsBefore(Number(target));
    return { lowWatermark: BigInt(lowWatermark), errorCode: ErrorCode.none };
  } catch (error) {
    if (error instanceof OffsetOutOfRangeError) return failed(ErrorCode.offsetOutOfRange);
    // A failed or closed log, or the new log start offset not written (a full disk): an answer, not a closed connection.
    logger.warn('delete records failed', { topic: partition.topic.name, partition: partition.index, error: error instanceof Error ? error.message : String(error) });
    return failed(ErrorCode.kafkaStorageError);
  }
}

/** The answer for a partition that could not be resolved. */
export const unknownPartitionDeletion: DeletedRecords = failed(ErrorCode.unknownTopicOrPartition);
