/**
 * DescribeProducers (61), v0 (KIP-664; kafka-transactions.sh describe-producers, Admin
 * describeProducers).
 *
 * For each partition asked, the idempotent producers whose state it holds (idempotence/): id,
 * epoch, the last sequence appended and when (broker time of the append; Kafka gives the batch's
 * max timestamp, which is the same under LogAppendTime), coordinator epoch -1 and current
 * transaction start offset -1 (no transactions). Errors per partition, as Kafka answers them: a
 * name no topic could have is INVALID_TOPIC_EXCEPTION with a message, an unknown topic or partition
 * UNKNOWN_TOPIC_OR_PARTITION; a partition still recovering NOT_LEADER_OR_FOLLOWER and one whose log
 * failed to open KAFKA_STORAGE_ERROR (Partition.unavailableError). Every occurrence of a partition
 * is answered, as in Kafka, so one response lists at most limits.maxDescribedProducers producers:
 * a partition that would pass it is answered POLICY_VIOLATION with a message (Kafka has no such
 * bound). No authorizer: every topic may be described (Kafka checks READ on the topic).
 */
import type { Broker } from '../../../broker/broker.js';
import { topicNameProblem } from '../../../broker/topic-name.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeProducersRequest, describeProducersResponse, type DescribeProducersResponse } from '../../../protocol/kafka/messages/describe-producers.js';
import { defineHandler } from '../handler.js';

type PartitionAnswer = DescribeProducersResponse['topics'][number]['partitions'][number];

const noCoordinatorEpoch = -1;
const noTransactionOffset = -1n;

function partitionError(partitionIndex: number, errorCode: number, errorMessage: string | null = null): PartitionAnswer {
  return { partitionIndex, errorCode, errorMessage, activeProducers: [] };
}

/** The answer for a topic as a whole when it cannot be described, or null. */
function topicError(broker: Broker, name: string): { errorCode: number; errorMessage: string | null } | null {
  const problem = topicNameProblem(name);
  if (problem !== null) return { errorCode: ErrorCode.invalidTopicException, errorMessage: problem };
  if (broker.topic(name) === undefined) return { errorCode: ErrorCode.unknownTopicOrPartition, errorMessage: null };
  return null;
}

export const describeProducersHandler = defineHandler({
  request: describeProducersRequest,
  response: describeProducersResponse,
  handle(request, context) {
    const { broker } = context;
    const maxProducers = broker.config.limits.maxDescribedProducers;
    let listedProducers = 0;
    const describe = (name: string, index: number): PartitionAnswer => {
      const partition = broker.partition(name, index);
      if (partition === undefined || partition.deleted) return partitionError(index, ErrorCode.unknownTopicOrPartition);
      if (partition.unavailableError !== ErrorCode.none) return partitionError(index, partition.unavailableError);
      const producers = partition.handle.producers.activeProducers();
      if (listedProducers + producers.length > maxProducers) {
        return partitionError(index, ErrorCode.policyViolation, `this response already lists ${listedProducers} producers and may list at most ${maxProducers} (limits.maxDescribedProducers); ask for fewer partitions`);
      }
      listedProducers += producers.length;
      return {
        partitionIndex: index,
        errorCode: ErrorCode.none,
        errorMessage: null,
        activeProducers: producers.map((producer) => ({
          producerId: producer.producerId,
          producerEpoch: producer.epoch,
          lastSequence: producer.lastSequence,
          lastTimestamp: BigInt(producer.lastTimestampMs),
          coordinatorEpoch: noCoordinatorEpoch,
          currentTxnStartOffset: noTransactionOffset,
        })),
      };
    };
    return {
      throttleTimeMs: 0,
      topics: request.topics.map(({ name, partitionIndexes }) => {
        const error = topicError(broker, name);
        return {
          name,
          partitions: partitionIndexes.map((index) => (error === null ? describe(name, index) : partitionError(index, error.errorCode, error.errorMessage))),
        };
      }),
    };
  },
});
