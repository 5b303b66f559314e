/**
 * CreatePartitions (37), v0-3.
 *
 * Behaviour: raises a topic's partition count to `count`, one topic after another. An unknown topic
 * is UNKNOWN_TOPIC_OR_PARTITION; a count not above the current one, or above the limit, is
 * INVALID_PARTITIONS. Assignments, when given, must hold one entry per new partition, each listing
 * exactly this broker (one-broker cluster), else INVALID_REPLICA_ASSIGNMENT. In a cluster the new
 * partitions are written to etcd (cluster/cluster-topics.ts): placed as CreateTopics places them,
 * or on the assignments, which must name live brokers, as many as the topic's replication factor. A topic named twice is
 * INVALID_REQUEST, answered once. validateOnly checks and changes nothing. The partitions exist when
 * answered, so timeoutMs is not waited on.
 *
 * Not implemented: quotas (THROTTLING_QUOTA_EXCEEDED).
 */
import type { Broker, OperationResult } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../../protocol/kafka/messages/create-partitions.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../../../protocol/kafka/messages/create-partitions.js';
import { problem, repeatedNames } from '../config-resources.js';
import { defineHandler } from '../handler.js';
import { InvalidRequestNotes } from '../invalid-request.js';

type RequestedTopic = CreatePartitionsRequest['topics'][number];
type TopicResult = CreatePartitionsResponse['results'][number];

function assignmentProblem(requested: RequestedTopic, currentCount: number, nodeId: number): OperationResult | null {
  if (requested.assignments === null || requested.count <= currentCount) return null;
  const added = requested.count - currentCount;
  if (requested.assignments.length !== added) {
    return problem(ErrorCode.invalidReplicaAssignment, `the partition count rises by ${added} but ${requested.assignments.length} assignments were given`);
  }
  for (const assignment of requested.assignments) {
    if (assignment.brokerIds.length !== 1 || assignment.brokerIds[0] !== nodeId) {
      return problem(
        ErrorCode.invalidReplicaAssignment,
        `a new partition is assigned to brokers [${assignment.brokerIds.join(', ')}]; this cluster has one broker, so each must list exactly [${nodeId}]`,
      );
    }
  }
  return null;
}

async function createOne(requested: RequestedTopic, validateOnly: boolean, broker: Broker): Promise<OperationResult> {
  // In a cluster the assignment names brokers of the cluster: checked where the partitions are placed.
  if (broker.inCluster) return broker.createPartitions(requested.name, requested.count, validateOnly, requested.assignments?.map((assignment) => assignment.brokerIds) ?? null);
  const topic = broker.topic(requested.name);
  const assignment = topic === undefined ? null : assignmentProblem(requested, topic.partitions.length, broker.nodeId);
  return assignment ?? broker.createPartitions(requested.name, requested.count, validateOnly);
}

export const createPartitionsHandler = defineHandler({
  request: createPartitionsRequest,
  response: createPartitionsResponse,
  async handle(request, context) {
    const repeated = repeatedNames(request.topics.map((topic) => topic.name));
    const answered = new Set<string>();
    const results: TopicResult[] = [];
    const invalid = new InvalidRequestNotes('CreatePartitions');
    for (const requested of request.topics) {
      if (answered.has(requested.name)) continue;
      answered.add(requested.name);
      const result = repeated.has(requested.name)
        ? invalid.check('Name', problem(ErrorCode.invalidRequest, `topic '${requested.name}' appears more than once in the request`))
        : await createOne(requested, request.validateOnly, context.broker);
      results.push({ name: requested.name, errorCode: result.errorCode, errorMessage: result.errorMessage });
    }
    invalid.write(context.logger);
    return { throttleTimeMs: 0, results };
  },
});
