/**
 * ListOffsets (2), v1-10.
 *
 * Special timestamps: -1 latest (the high watermark), -2 earliest (log start), -3 the record with
 * the largest timestamp (v7+), -4 earliest local (v8+; all our data is local, so the log start),
 * -5 earliest pending tiered upload (v9+; we have no tiered storage: answered like -4).
 * A timestamp ≥ 0 finds the first offset whose timestamp is at least that; damaged stored batches
 * are skipped (a lookup that first meets one answers KAFKA_STORAGE_ERROR, and a retry skips it).
 */
import type { Partition } from '../../../broker/broker.js';
import { readErrorCode } from '../../../broker/fetch.js';
import { maxTimestampOffset, offsetForTimestamp } from '../../../broker/offset-for-timestamp.js';
import { offsetToWire, type Offset } from '../../../broker/offset.js';
import type { Logger } from '../../../logging/logger.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../../protocol/kafka/messages/list-offsets.js';
import { defineHandler } from '../handler.js';
import { InvalidRequestNotes } from '../invalid-request.js';

const latestTimestamp = -1n;
const earliestTimestamp = -2n;
const maxTimestamp = -3n;
const earliestLocalTimestamp = -4n;
const earliestPendingUploadTimestamp = -5n;

interface OffsetAnswer {
  errorCode: number;
  timestamp: bigint;
  /** Null (answered -1): none found, or an error. */
  offset: Offset | null;
}

const notFound: OffsetAnswer = { errorCode: ErrorCode.none, timestamp: -1n, offset: null };

function failed(errorCode: number): OffsetAnswer {
  return { errorCode, timestamp: -1n, offset: null };
}

async function lookUp(partition: Partition, timestamp: bigint, apiVersion: number, maxDecompressedBytes: number): Promise<OffsetAnswer> {
  if (partition.unavailableError !== ErrorCode.none) return failed(partition.unavailableError);
  const handle = partition.handle;
  if (timestamp === latestTimestamp) return { errorCode: ErrorCode.none, timestamp: -1n, offset: handle.highWatermark };
  if (timestamp === earliestTimestamp || (timestamp === earliestLocalTimestamp && apiVersion >= 8) || (timestamp === earliestPendingUploadTimestamp && apiVersion >= 9)) {
    return { errorCode: ErrorCode.none, timestamp: -1n, offset: handle.logStartOffset };
  }
  if (timestamp === maxTimestamp && apiVersion >= 7) {
    const found = await maxTimestampOffset(handle, maxDecompressedBytes);
    return found === null ? notFound : { errorCode: ErrorCode.none, timestamp: BigInt(found.timestamp), offset: found.offset };
  }
  if (timestamp < 0n) return failed(ErrorCode.invalidRequest);
  const found = await offsetForTimestamp(handle, Number(timestamp), maxDecompressedBytes);
  if (found === null || found.offset >= handle.highWatermark) return notFound;
  return { errorCode: ErrorCode.none, timestamp: BigInt(found.timestamp), offset: found.offset };
}

/**
 * A lookup the storage could not answer: KAFKA_STORAGE_ERROR (retriable) for that partition. A
 * damaged batch met on the way is remembered by the log, so a retry looks past it.
 */
function storageFailure(error: unknown, partition: Partition, logger: Logger): OffsetAnswer {
  readErrorCode(error, partition, logger);
  return failed(ErrorCode.kafkaStorageError);
}

export const listOffsetsHandler = defineHandler({
  request: listOffsetsRequest,
  response: listOffsetsResponse,
  versions: { min: 1, max: 10 },
  async handle(request, context) {
    const { broker, apiVersion } = context;
    const invalid = new InvalidRequestNotes('ListOffsets');
    const topics = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map(async (requested) => {
            const partition = broker.partition(topic.name, requested.partitionIndex);
            const answer =
              partition === undefined
                ? failed(ErrorCode.unknownTopicOrPartition)
                : await lookUp(partition, requested.timestamp, apiVersion, broker.config.limits.maxDecompressedBytes).catch((error: unknown) => storageFailure(error, partition, broker.logger));
            if (answer.errorCode === ErrorCode.invalidRequest) {
              invalid.note('Timestamp', `timestamp ${requested.timestamp} of ${topic.name}-${requested.partitionIndex} is neither at least 0 nor a special timestamp of version ${apiVersion}`);
            }
            return { partitionIndex: requested.partitionIndex, errorCode: answer.errorCode, timestamp: answer.timestamp, offset: offsetToWire(answer.offset), leaderEpoch: 0 };
          }),
        ),
      })),
    );
    invalid.write(context.logger);
    return { throttleTimeMs: 0, topics };
  },
});
