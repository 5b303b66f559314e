/**
 * DeleteRecords (21), v0-2.
 *
 * Behaviour: moves each partition's log start offset up to the given offset (-1: the high watermark)
 * and answers the new low watermark; segments wholly below it are deleted. An offset at or below the
 * current log start changes nothing and answers the current one. An offset above the high watermark,
 * or below -1, is OFFSET_OUT_OF_RANGE; an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION;
 * a failed or closed log, or a log start offset that cannot be written (full disk), KAFKA_STORAGE_ERROR. Errors answer a low watermark of -1. The change is
 * persisted when answered, so timeoutMs is not waited on.
 *
 * Not implemented: nothing further (one broker: no replicas to wait for).
 */
import type { Partition } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../../protocol/kafka/messages/delete-records.js';
import { OffsetOutOfRangeError } from '../../../storage/errors.js';
import type { Logger } from '../../../logging/logger.js';
import { defineHandler } from '../handler.js';

const highWatermarkOffset = -1n;

interface Deleted {
  readonly lowWatermark: bigint;
  readonly errorCode: number;
}

function failed(errorCode: number): Deleted {
  return { lowWatermark: -1n, errorCode };
}

async function deleteBefore(partition: Partition, offset: bigint, logger: Logger): Promise<Deleted> {
  if (partition.unavailableError !== ErrorCode.none) return failed(partition.unavailableError);
  const log = partition.log;
  const target = offset === highWatermarkOffset ? BigInt(log.highWatermark) : offset;
  if (target < 0n || target > BigInt(log.highWatermark)) return failed(ErrorCode.offsetOutOfRange);
  try {
    const lowWatermark = await log.deleteRecordsBefore(Number(target));
    partition.producers.logStartAdvanced();
    return { lowWatermark: BigInt(lowWatermark), errorCode: ErrorCode.none };
  } catch (error) {
    if (error instanceof OffsetOutOfRangeError) return failed(ErrorCode.offsetOutOfRange);
    // A failed or closed log, or the new log start offset not written (a full disk): an answer, not a closed connection.
    logger.warn('delete records failed', { topic: partition.topic.name, partition: partition.index, error: error instanceof Error ? error.message : String(error) });
    return failed(ErrorCode.kafkaStorageError);
  }
}

export const deleteRecordsHandler = defineHandler({
  request: deleteRecordsRequest,
  response: deleteRecordsResponse,
  async handle(request, context) {
    const { broker, logger } = context;
    const topics = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (requested) => {
            const partition = broker.partition(topic.name, requested.partitionIndex);
            const deleted = partition === undefined ? failed(ErrorCode.unknownTopicOrPartition) : await deleteBefore(partition, requested.offset, logger);
            return { partitionIndex: requested.partitionIndex, lowWatermark: deleted.lowWatermark, errorCode: deleted.errorCode };
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
