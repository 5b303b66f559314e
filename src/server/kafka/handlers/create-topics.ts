/**
 * CreateTopics (19), v2-7.
 *
 * Behaviour: topics are created several at a time, each answered on its own, in request order.
 * Beyond maxTopics or maxPartitions a topic is POLICY_VIOLATION (as Kafka's own partition limits);
 * a storage failure (full disk) is KAFKA_STORAGE_ERROR with nothing created. numPartitions -1 takes
 * the broker's num.partitions. This cluster has one broker, so the replication factor must be 1 (or
 * -1, the default); anything else is INVALID_REPLICATION_FACTOR. Manual assignments are accepted when
 * they list partitions 0..n-1, each with exactly this broker as its replica (else
 * INVALID_REPLICA_ASSIGNMENT), and only with numPartitions and replicationFactor left at -1 (else
 * INVALID_REQUEST, as Kafka). A name given twice in one request is INVALID_REQUEST, answered once.
 * Config values must not be null (INVALID_CONFIG), keys must not repeat (INVALID_REQUEST); keys and
 * values are checked by the broker (topic-config.ts). validateOnly checks everything and creates
 * nothing. v5+ answers the partition count, the replication factor and the effective configs; v7
 * the new topic's id. The topic is ready when answered, so timeoutMs is not waited on.
 *
 * In a cluster (docs/cluster.md) the topic is created in etcd by whichever broker receives the
 * request: the replication factor (-1: 1, Kafka's default.replication.factor) must not exceed the
 * live brokers (else INVALID_REPLICATION_FACTOR), replicas are placed across them, racks first
 * (cluster/placement.ts); manual assignments may name any live brokers, as many per partition
 * (else INVALID_REPLICA_ASSIGNMENT). Answered once this broker holds the topic. While etcd does not
 * answer, the creation is tried again until timeoutMs has passed, then answered REQUEST_TIMED_OUT
 * (retriable; cluster/cluster-topics.ts).
 *
 * Not implemented: creation policies (other than the limits above), quotas (THROTTLING_QUOTA_EXCEEDED), the
 * tagged topicConfigErrorCode (configs are never hidden from the caller).
 */
import { topicCreationConcurrency } from '../../../broker/broker.js';
import type { Broker, OperationResult } from '../../../broker/broker.js';
import { mapConcurrently } from '../../../broker/concurrency.js';
import { describeTopicConfigEntries } from '../../../broker/config-description.js';
import { topicNameProblem } from '../../../broker/topic-name.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../../protocol/kafka/messages/create-topics.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../../../protocol/kafka/messages/create-topics.js';
import { configListToMap, isProblem, problem, repeatedNames } from '../config-resources.js';
import { defineHandler } from '../handler.js';
import { InvalidRequestNotes } from '../invalid-request.js';

type RequestedTopic = CreateTopicsRequest['topics'][number];
type TopicResult = CreateTopicsResponse['topics'][number];

const zeroTopicId = Buffer.alloc(16);
const useDefault = -1;

function failed(name: string, result: OperationResult): TopicResult {
  return { name, topicId: zeroTopicId, errorCode: result.errorCode, errorMessage: result.errorMessage, numPartitions: -1, replicationFactor: -1, configs: [] };
}

/** The partition count a request asks for, or why it cannot have it. */
function partitionCount(requested: RequestedTopic, broker: Broker): number | OperationResult {
  if (requested.assignments.length > 0) {
    if (requested.numPartitions !== useDefault || requested.replicationFactor !== useDefault) {
      return problem(ErrorCode.invalidRequest, 'give either numPartitions and replicationFactor, or assignments, not both');
    }
    return assignedPartitionCount(requested.assignments, broker.inCluster ? null : broker.nodeId);
  }
  if (!broker.inCluster && requested.replicationFactor !== useDefault && requested.replicationFactor !== 1) {
    return problem(
      ErrorCode.invalidReplicationFactor,
      `replication factor ${requested.replicationFactor} cannot be met: this cluster has one broker, so the replication factor must be 1 (or -1 for the default)`,
    );
  }
  return requested.numPartitions === useDefault ? broker.config.topicDefaults.numPartitions : requested.numPartitions;
}

/** nodeId: the one broker every partition must be assigned to; null in a cluster (cluster-topics.ts checks the brokers). */
function assignedPartitionCount(assignments: RequestedTopic['assignments'], nodeId: number | null): number | OperationResult {
  const indexes = new Set(assignments.map((assignment) => assignment.partitionIndex));
  for (let index = 0; index < assignments.length; index++) {
    if (!indexes.has(index)) {
      return problem(ErrorCode.invalidReplicaAssignment, `assignments must list partitions 0 to ${assignments.length - 1} once each; partition ${index} is missing`);
    }
  }
  for (const assignment of assignments) {
    if (nodeId === null) continue;
    if (assignment.brokerIds.length !== 1 || assignment.brokerIds[0] !== nodeId) {
      return problem(
        ErrorCode.invalidReplicaAssignment,
        `partition ${assignment.partitionIndex} is assigned to brokers [${assignment.brokerIds.join(', ')}]; this cluster has one broker, so each partition must list exactly [${nodeId}]`,
      );
    }
  }
  return assignments.length;
}

function requestedConfigs(requested: RequestedTopic): Map<string, string> | OperationResult {
  const configs = configListToMap(requested.configs);
  if (isProblem(configs)) return configs;
  const values = new Map<string, string>();
  for (const [key, value] of configs) {
    if (value === null) return problem(ErrorCode.invalidConfig, `null value not supported for topic config '${key}'`);
    values.set(key, value);
  }
  return values;
}

async function createOne(requested: RequestedTopic, validateOnly: boolean, timeoutMs: number, broker: Broker, invalid: InvalidRequestNotes): Promise<TopicResult> {
  const { name } = requested;
  // Kafka's order: the name, whether it exists, then what is asked for.
  const nameProblem = topicNameProblem(name);
  if (nameProblem !== null) return failed(name, problem(ErrorCode.invalidTopicException, nameProblem));
  if (broker.topic(name) !== undefined) return failed(name, problem(ErrorCode.topicAlreadyExists, `topic '${name}' already exists`));
  const count = partitionCount(requested, broker);
  if (typeof count !== 'number') return failed(name, invalid.check('Assignments', count));
  const configs = requestedConfigs(requested);
  if (isProblem(configs)) return failed(name, invalid.check('Configs', configs));

  const result = broker.inCluster ? await createInCluster(requested, count, configs, validateOnly, timeoutMs, broker) : validateOnly ? broker.validateNewTopic(name, count, configs) : await broker.createTopic(name, count, configs);
  if (result.errorCode !== ErrorCode.none) return failed(name, result);
  const created = validateOnly ? undefined : broker.topic(name);
  const overrides = created?.configOverrides ?? configs;
  return {
    name,
    topicId: created?.id ?? zeroTopicId,
    errorCode: ErrorCode.none,
    errorMessage: null,
    numPartitions: created?.partitions.length ?? count,
    replicationFactor: broker.inCluster ? (requested.assignments[0]?.brokerIds.length ?? (requested.replicationFactor === useDefault ? 1 : requested.replicationFactor)) : 1,
    configs: describeTopicConfigEntries(overrides, broker.config, broker.dynamicConfigs).map((config) => ({
      name: config.name,
      value: config.value,
      readOnly: config.readOnly,
      configSource: config.source,
      isSensitive: false,
    })),
  };
}

/** The topic created through etcd, after the checks a single broker makes too. */
async function createInCluster(requested: RequestedTopic, count: number, configs: ReadonlyMap<string, string>, validateOnly: boolean, timeoutMs: number, broker: Broker): Promise<OperationResult> {
  const checked = broker.validateNewTopic(requested.name, count, configs);
  if (checked.errorCode !== ErrorCode.none) return checked;
  if (broker.cluster === null) return problem(ErrorCode.notController, 'this broker has not joined the cluster yet; retry');
  const assignment = requested.assignments.length === 0 ? null : [...requested.assignments].sort((left, right) => left.partitionIndex - right.partitionIndex).map((entry) => entry.brokerIds);
  const replicationFactor = requested.replicationFactor === useDefault ? 1 : requested.replicationFactor;
  return broker.cluster.createTopic({ name: requested.name, partitionCount: count, replicationFactor, assignment, configs }, validateOnly, timeoutMs);
}

export const createTopicsHandler = defineHandler({
  request: createTopicsRequest,
  response: createTopicsResponse,
  async handle(request, context) {
    const repeated = repeatedNames(request.topics.map((topic) => topic.name));
    const answered = new Set<string>();
    // The first entry of each name; a repeated name is answered once, with INVALID_REQUEST.
    const once = request.topics.filter((requested) => !answered.has(requested.name) && answered.add(requested.name));
    const invalid = new InvalidRequestNotes('CreateTopics');
    const topics = await mapConcurrently(once, topicCreationConcurrency, async (requested) =>
      repeated.has(requested.name)
        ? failed(requested.name, invalid.check('Name', problem(ErrorCode.invalidRequest, `topic '${requested.name}' appears more than once in the request`)))
        : createOne(requested, request.validateOnly, request.timeoutMs, context.broker, invalid),
    );
    invalid.write(context.logger);
    return { throttleTimeMs: 0, topics };
  },
});
