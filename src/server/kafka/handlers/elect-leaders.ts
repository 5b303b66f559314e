/**
 * ElectLeaders (43), v0-2 (KIP-460 for the election type).
 *
 * Behaviour in a cluster, on the controller: preferred election (type 0) moves each partition's
 * leadership to its first replica when that broker is live and in the ISR (ELECTION_NOT_NEEDED
 * when it leads already, PREFERRED_LEADER_NOT_AVAILABLE otherwise); unclean election (type 1) gives
 * a partition without a live leader to a live replica, in sync first (ELECTION_NOT_NEEDED when it
 * has a live leader, ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is live). Each change is the
 * controller's conditioned write (docs/cluster.md). Null topicPartitions means every partition.
 * Another broker answers NOT_CONTROLLER (top level from v1, and for every partition named), as
 * Kafka brokers did before KRaft: clients send ElectLeaders to the controller.
 *
 * A single broker leads everything: ELECTION_NOT_NEEDED for each known partition (every partition
 * when null), UNKNOWN_TOPIC_OR_PARTITION for the others. Other election types are INVALID_REQUEST.
 */
import type { Broker } from '../../../broker/broker.js';
import type { ElectionResult } from '../../../cluster/partition-leadership.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { electLeadersRequest, electLeadersResponse } from '../../../protocol/kafka/messages/elect-leaders.js';
import { defineHandler } from '../handler.js';

const ElectionType = { preferred: 0, unclean: 1 } as const;

interface PartitionAnswer {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

function answerOf(result: ElectionResult): PartitionAnswer {
  const { topic, partition } = result;
  switch (result.outcome) {
    case 'elected':
      return { topic, partition, errorCode: ErrorCode.none, errorMessage: null };
    case 'not needed':
      return { topic, partition, errorCode: ErrorCode.electionNotNeeded, errorMessage: 'the partition is led by the broker the election would choose' };
    case 'preferred not available':
      return { topic, partition, errorCode: ErrorCode.preferredLeaderNotAvailable, errorMessage: 'the preferred replica is not live or not in sync' };
    case 'none eligible':
      return { topic, partition, errorCode: ErrorCode.eligibleLeadersNotAvailable, errorMessage: 'no replica of the partition is live' };
    case 'unknown partition':
      return { topic, partition, errorCode: ErrorCode.unknownTopicOrPartition, errorMessage: null };
    case 'lost a race':
      return { topic, partition, errorCode: ErrorCode.unknownServerError, errorMessage: 'the partition kept changing during the election; retry' };
  }
}

/** Every partition a single broker holds, or those named; each answered as a single broker answers. */
function singleBrokerAnswers(broker: Broker, asked: readonly { topic: string; partition: number }[] | null): PartitionAnswer[] {
  const partitions = asked ?? broker.allTopics().flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.index })));
  return partitions.map(({ topic, partition }) =>
    broker.partition(topic, partition) === undefined
      ? { topic, partition, errorCode: ErrorCode.unknownTopicOrPartition, errorMessage: null }
      : { topic, partition, errorCode: ErrorCode.electionNotNeeded, errorMessage: 'a single broker leads every partition' },
  );
}

function grouped(answers: readonly PartitionAnswer[]): { topic: string; partitionResult: { partitionId: number; errorCode: number; errorMessage: string | null }[] }[] {
  const byTopic = new Map<string, { partitionId: number; errorCode: number; errorMessage: string | null }[]>();
  for (const answer of answers) {
    const results = byTopic.get(answer.topic) ?? [];
    results.push({ partitionId: answer.partition, errorCode: answer.errorCode, errorMessage: answer.errorMessage });
    byTopic.set(answer.topic, results);
  }
  return [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult }));
}

export const electLeadersHandler = defineHandler({
  request: electLeadersRequest,
  response: electLeadersResponse,
  async handle(request, context) {
    const { broker } = context;
    const asked = request.topicPartitions === null ? null : request.topicPartitions.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.topic, partition })));
    const type = request.electionType === ElectionType.preferred ? 'preferred' : request.electionType === ElectionType.unclean ? 'unclean' : null;
    if (type === null) {
      const reason = `election type ${request.electionType} is unknown: 0 is preferred, 1 unclean`;
      context.logger.debug('invalid request', { api: 'ElectLeaders', field: 'ElectionType', reason });
      return { throttleTimeMs: 0, errorCode: ErrorCode.invalidRequest, replicaElectionResults: grouped((asked ?? []).map(({ topic, partition }) => ({ topic, partition, errorCode: ErrorCode.invalidRequest, errorMessage: reason }))) };
    }
    if (broker.cluster === null) return { throttleTimeMs: 0, errorCode: ErrorCode.none, replicaElectionResults: grouped(singleBrokerAnswers(broker, asked)) };
    let results: ElectionResult[] | null;
    try {
      results = await broker.cluster.electLeaders(asked, type);
    } catch (error) {
      context.logger.warn('leader election on request failed', { error: error instanceof Error ? error.message : String(error) });
      results = null;
    }
    if (results === null) {
      const notController = (asked ?? []).map(({ topic, partition }) => ({ topic, partition, errorCode: ErrorCode.notController, errorMessage: 'this broker is not the controller' }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.notController, replicaElectionResults: grouped(notController) };
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, replicaElectionResults: grouped(results.map(answerOf)) };
  },
});
