/**
 * AlterPartitionReassignments (45), v0-1 (KIP-455).
 *
 * Behaviour in a cluster: each partition's target is written to etcd as the start of a
 * reassignment (replicas = target then the replicas leaving, addingReplicas, removingReplicas), or
 * the reassignment under way is cancelled (replicas null); the controller carries it out and ends
 * it once every target replica is in sync (docs/cluster.md, "Reassignment"). Answered once written,
 * not once done, as in Kafka: ListPartitionReassignments shows progress. Errors per partition:
 * UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty, a broker twice, a broker not
 * live), INVALID_REPLICATION_FACTOR (v1 allowReplicationFactorChange false and another size),
 * NO_REASSIGNMENT_IN_PROGRESS (cancelling none), REASSIGNMENT_IN_PROGRESS (a new target would drop
 * the leader or every in-sync replica of the reassignment under way). A partition named twice is
 * INVALID_REQUEST.
 *
 * A single broker: the only placement is this broker, so a target of exactly [nodeId] succeeds
 * (nothing to move), any other INVALID_REPLICA_ASSIGNMENT, and a cancel NO_REASSIGNMENT_IN_PROGRESS.
 */
import type { Broker } from '../../../broker/broker.js';
import type { ClusterOutcome } from '../../../cluster/cluster-view.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse } from '../../../protocol/kafka/messages/alter-partition-reassignments.js';
import { defineHandler } from '../handler.js';

async function reassignOne(broker: Broker, topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ClusterOutcome> {
  if (broker.cluster !== null) return broker.cluster.reassignPartition(topic, index, target, allowReplicationFactorChange);
  if (broker.partition(topic, index) === undefined) return { errorCode: ErrorCode.unknownTopicOrPartition, errorMessage: `topic '${topic}' has no partition ${index}` };
  if (target === null) return { errorCode: ErrorCode.noReassignmentInProgress, errorMessage: `no reassignment of partition ${index} of '${topic}' is under way` };
  if (target.length === 1 && target[0] === broker.nodeId) return { errorCode: ErrorCode.none, errorMessage: null };
  return { errorCode: ErrorCode.invalidReplicaAssignment, errorMessage: `this is a single broker: partition ${index} can only be placed on [${broker.nodeId}], not [${target.join(', ')}]` };
}

export const alterPartitionReassignmentsHandler = defineHandler({
  request: alterPartitionReassignmentsRequest,
  response: alterPartitionReassignmentsResponse,
  async handle(request, context) {
    const { broker } = context;
    const seen = new Set<string>();
    const responses = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const partition of topic.partitions) {
        const name = `${topic.name}\u0000${partition.partitionIndex}`;
        let outcome: ClusterOutcome;
        if (seen.has(name)) {
          outcome = { errorCode: ErrorCode.invalidRequest, errorMessage: `partition ${partition.partitionIndex} of '${topic.name}' appears more than once in the request` };
          context.logger.debug('invalid request', { api: 'AlterPartitionReassignments', field: 'PartitionIndex', reason: outcome.errorMessage ?? '' });
        } else {
          seen.add(name);
          outcome = await reassignOne(broker, topic.name, partition.partitionIndex, partition.replicas, request.allowReplicationFactorChange);
        }
        partitions.push({ partitionIndex: partition.partitionIndex, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
      }
      responses.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, allowReplicationFactorChange: request.allowReplicationFactorChange, errorCode: ErrorCode.none, errorMessage: null, responses };
  },
});
