/**
 * Produce (0), v0-13 advertised; v3+ handled (v0-2 carry message formats 0/1, which we do not
 * store: each partition is answered UNSUPPORTED_VERSION, as Kafka 4 does). Advertising v0 keeps
 * librdkafka's compression enabled (KAFKA-18659).
 *
 * Each partition's batch is checked (broker/produce.ts) and appended; acks 1 and -1 are answered
 * once the batch is durable (group-commit fsync by default); acks 0 gets no response at all. Topics
 * are auto-created when enabled. Idempotent producers: a retried batch gets its original offset and
 * is not written twice; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER, a stale epoch
 * INVALID_PRODUCER_EPOCH (broker/idempotence/producer-state.ts). Check and append happen without yielding,
 * but for batches recompressed or key-checked first (broker/produce.ts, produceInOrder): those are
 * appended only while this broker still leads in the epoch they were accepted in, else answered
 * NOT_LEADER_OR_FOLLOWER with nothing appended.
 * A partition still being recovered at start-up answers NOT_LEADER_OR_FOLLOWER (retriable); a
 * compressed batch declaring more than limits.maxDecompressedBytes, MESSAGE_TOO_LARGE. A topic whose
 * compression.type is a codec stores every batch in it: others are recompressed on the way in.
 * In a cluster, acks -1 on a partition with followers is answered once every in-sync replica holds
 * the batch (the high watermark passed it, cluster/leader-replicas.ts), REQUEST_TIMED_OUT when that
 * takes longer than the request's timeoutMs; acks 1 as on a single broker. With acks -1, a partition
 * whose ISR (as etcd holds it) is smaller than min.insync.replicas (capped at its replica count, as
 * in Kafka) is refused with NOT_ENOUGH_REPLICAS before anything is appended, and a batch whose ISR
 * shrank below it while the request waited is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND.
 * Not implemented yet: transactions.
 */
import type { OperationResult, Partition, Topic } from '../../../broker/broker.js';
import { awaitInSyncReplicas } from '../../../broker/partition.js';
import type { PartitionReplication } from '../../../broker/partition.js';
import { checkBatch, produceInOrder } from '../../../broker/produce.js';
import { checkDecompressedSize } from '../../../broker/decompressed-size.js';
import type { PartitionProduceResult } from '../../../broker/produce.js';
import { asOffset, offsetToWire } from '../../../broker/offset.js';
import { readLastOffsetDelta } from '../../../protocol/kafka/batch-header.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { produceRequest, produceResponse } from '../../../protocol/kafka/messages/produce.js';
import { defineHandler } from '../handler.js';
import type { RequestContext } from '../handler.js';

const firstStoredProduceVersion = 3;

function failed(errorCode: number, errorMessage: string): PartitionProduceResult {
  return { errorCode, errorMessage, baseOffset: null, logAppendTimeMs: -1n, logStartOffset: null };
}

function notEnoughReplicas(partition: Partition, errorCode: number): PartitionProduceResult {
  const replication = partition.replication;
  const inSync = replication?.inSyncReplicaCount ?? 1;
  const what = errorCode === ErrorCode.notEnoughReplicas ? 'nothing was appended' : 'the batch was appended but the ISR shrank while it waited';
  return failed(errorCode, `the partition has ${inSync} in-sync replicas, fewer than min.insync.replicas ${partition.topic.effective.minInsyncReplicas}: ${what}; retry`);
}

/**
 * Replication, acks=all: the answer once every in-sync replica holds the batch (a single replica:
 * at once), else REQUEST_TIMED_OUT after timeoutMs. When the ISR that got there is smaller than
 * min.insync.replicas (a follower left it while the request waited), NOT_ENOUGH_REPLICAS_AFTER_APPEND
 * as Kafka answers. `records` is the batch as sent (its record count is what the log stored).
 */
async function awaitReplicas(partition: Partition, replication: PartitionReplication, result: PartitionProduceResult, records: Buffer, timeoutMs: number): Promise<PartitionProduceResult> {
  if (result.baseOffset === null) return result;
  const endOffset = asOffset(result.baseOffset + readLastOffsetDelta(records, 0) + 1);
  switch (await awaitInSyncReplicas(partition, replication, endOffset, timeoutMs)) {
    case 'replicated':
      return result;
    case 'leadership moved':
      return failed(ErrorCode.notLeaderOrFollower, 'leadership of the partition moved before every in-sync replica held the batch');
    case 'timed out':
      return failed(ErrorCode.requestTimedOut, 'not every in-sync replica acknowledged the batch within the request timeout');
    case 'too few in sync':
      return notEnoughReplicas(partition, ErrorCode.notEnoughReplicasAfterAppend);
  }
}

/**
 * Finds the topic without yielding when it exists, so that batches of requests read together are
 * appended in the order they arrived; only a topic that must be created waits.
 */
function resolveTopic(context: RequestContext, name: string, topicId: Buffer): Topic | OperationResult | Promise<Topic | OperationResult> {
  const { broker, apiVersion } = context;
  if (apiVersion >= 13) {
    return broker.topicById(topicId) ?? { errorCode: ErrorCode.unknownTopicId, errorMessage: 'unknown topic id' };
  }
  return broker.topic(name) ?? broker.autoCreateTopic(name);
}

/**
 * Auto-creating the topic threw (its metadata or files could not be written, e.g. on a full disk):
 * KAFKA_STORAGE_ERROR for its partitions, which clients retry, instead of closing the connection.
 */
function creationFailed(context: RequestContext, name: string, error: unknown): OperationResult {
  const message = error instanceof Error ? error.message : String(error);
  context.logger.warn('auto-creating a topic for Produce failed', { topic: name, error: message });
  const code = (error as NodeJS.ErrnoException).code;
  return { errorCode: ErrorCode.kafkaStorageError, errorMessage: `topic '${name}' could not be created${code === undefined ? '' : ` (${code})`}; retry` };
}

export const produceHandler = defineHandler({
  request: produceRequest,
  response: produceResponse,
  async handle(request, context) {
    const { apiVersion } = context;
    const acks = request.acks;
    const refuseAll =
      apiVersion < firstStoredProduceVersion
        ? failed(ErrorCode.unsupportedVersion, `Produce v${apiVersion} is not supported; use v${firstStoredProduceVersion} or later`)
        : acks !== 0 && acks !== 1 && acks !== -1
          ? failed(ErrorCode.invalidRequiredAcks, `acks must be 0, 1 or -1, got ${acks}`)
          : request.transactionalId !== null
            ? failed(ErrorCode.invalidTxnState, 'transactions are not supported yet')
            : null;
    const responses = await Promise.all(
      request.topicData.map(async (topicData) => {
        const found = refuseAll === null ? resolveTopic(context, topicData.name, topicData.topicId) : null;
        const target = found instanceof Promise ? await found.catch((error: unknown) => creationFailed(context, topicData.name, error)) : found;
        // Once per topic rather than per partition: only the group coordinators write to an internal topic.
        const internal = target !== null && 'partitions' in target && context.broker.isInternalTopic(target.name);
        const partitionResponses = await Promise.all(
          topicData.partitionData.map(async (partitionData) => {
            let result: PartitionProduceResult;
            if (refuseAll !== null) result = refuseAll;
            else if (target === null || !('partitions' in target)) result = failed(target?.errorCode ?? ErrorCode.unknownServerError, target?.errorMessage ?? '');
            else {
              const partition: Partition | undefined = target.partitions[partitionData.index];
              if (partition === undefined) {
                result = failed(ErrorCode.unknownTopicOrPartition, `topic '${target.name}' has no partition ${partitionData.index}`);
              } else if (internal) {
                // Kafka refuses clients the same way.
                result = failed(ErrorCode.invalidTopicException, `cannot produce to the internal topic '${target.name}'`);
              } else if (partition.unavailableError !== ErrorCode.none) {
                result = failed(partition.unavailableError, `partition ${partition.index} of '${target.name}' is not open yet (${partition.state}); retry`);
              } else if (acks === -1 && partition.missingInSyncReplicas > 0) {
                // Checked first, as Kafka does before its append: nothing is written that acks=all could not cover.
                result = notEnoughReplicas(partition, ErrorCode.notEnoughReplicas);
              } else {
                // Taken as the batch is appended: leadership may move while the append becomes
                // durable, and a batch appended as leader must then still wait for (or fail on) the
                // replicas of that leadership, never be answered as if it had none.
                const replication = partition.replication;
                result =
                  checkBatch(partitionData.records, partition, apiVersion) ??
                  checkDecompressedSize(partitionData.records!, context.broker.config.limits.maxDecompressedBytes) ??
                  (await produceInOrder(context.broker, partition, partitionData.records!, acks));
                // Replication: acks=all waits until every in-sync replica holds the batch.
                // (A partition without followers, every one on a single broker, skips the extra await.)
                if (acks === -1 && result.errorCode === ErrorCode.none && replication !== null) result = await awaitReplicas(partition, replication, result, partitionData.records!, request.timeoutMs);
              }
            }
            if (result.errorCode !== ErrorCode.none) {
              context.logger.debug('produce refused', { topic: topicData.name, partition: partitionData.index, error: result.errorCode, reason: result.errorMessage ?? '' });
            }
            return {
              index: partitionData.index,
              errorCode: result.errorCode,
              baseOffset: offsetToWire(result.baseOffset),
              logAppendTimeMs: result.logAppendTimeMs,
              logStartOffset: offsetToWire(result.logStartOffset),
              recordErrors: result.recordErrors ?? [],
              errorMessage: result.errorMessage,
            };
          }),
        );
        return { name: topicData.name, topicId: topicData.topicId, partitionResponses };
      }),
    );
    if (acks === 0) return null;
    return { responses, throttleTimeMs: 0 };
  },
});
