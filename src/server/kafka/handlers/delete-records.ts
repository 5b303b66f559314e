/**
 * DeleteRecords (21), v0-2.
 *
 * Behaviour: moves each partition's log start offset up to the given offset (-1: the high watermark)
 * and answers the new low watermark; segments wholly below it are deleted. An offset at or below the
 * current log start changes nothing and answers the current one. An offset above the high watermark,
 * or below -1, is OFFSET_OUT_OF_RANGE; an unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION;
 * a failed or closed log, or a log start offset that cannot be written (full disk), KAFKA_STORAGE_ERROR
 * (broker/delete-records.ts). Errors answer a low watermark of -1. The change is
 * persisted when answered.
 *
 * In a cluster, only the partition's leader answers (others: NOT_LEADER_OR_FOLLOWER). With
 * followers, the leader's log start moves at once and the answer waits until the low watermark
 * (the smallest log start among the in-sync replicas, which followers name in their Fetches)
 * reached the offset, as Kafka's does (KIP-107): REQUEST_TIMED_OUT if it has not within timeoutMs,
 * NOT_LEADER_OR_FOLLOWER if leadership moved meanwhile. A single broker answers at once, so
 * timeoutMs is not waited on there.
 */
import { deleteRecordsBefore, unknownPartitionDeletion } from '../../../broker/delete-records.js';
import type { DeletionTarget } from '../../../broker/delete-records.js';
import { offsetFromWire, offsetToWire } from '../../../broker/offset.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../../protocol/kafka/messages/delete-records.js';
import { defineHandler } from '../handler.js';

/** DeleteRecords' offset -1: up to the high watermark. */
const highWatermarkOffset = -1n;

function deletionTarget(offset: bigint): DeletionTarget {
  return offset === highWatermarkOffset ? 'highWatermark' : offsetFromWire(offset);
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
            const deleted = partition === undefined ? unknownPartitionDeletion : await deleteRecordsBefore(partition, deletionTarget(requested.offset), request.timeoutMs, logger);
            return { partitionIndex: requested.partitionIndex, lowWatermark: offsetToWire(deleted.lowWatermark), errorCode: deleted.errorCode };
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
