/**
 * ListPartitionReassignments (46), v0 (KIP-455).
 *
 * Behaviour: the reassignments under way, as this broker's copy of the cluster metadata holds them
 * (every one when topics is null, else those of the partitions named; partitions not being
 * reassigned, and unknown ones, are left out as Kafka leaves them out), each with its replicas now
 * (target first, then the replicas leaving), addingReplicas and removingReplicas. A single broker
 * never has one: an empty list.
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { listPartitionReassignmentsRequest, listPartitionReassignmentsResponse } from '../../../protocol/kafka/messages/list-partition-reassignments.js';
import { defineHandler } from '../handler.js';

export const listPartitionReassignmentsHandler = defineHandler({
  request: listPartitionReassignmentsRequest,
  response: listPartitionReassignmentsResponse,
  handle(request, context) {
    const ongoing = context.broker.cluster?.reassignments() ?? [];
    const asked = request.topics === null ? null : new Set(request.topics.flatMap((topic) => topic.partitionIndexes.map((index) => `${topic.name}\u0000${index}`)));
    const byTopic = new Map<string, { partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[]>();
    for (const { topic, index, state } of ongoing) {
      if (asked !== null && !asked.has(`${topic}\u0000${index}`)) continue;
      const partitions = byTopic.get(topic) ?? [];
      partitions.push({ partitionIndex: index, replicas: [...state.replicas], addingReplicas: [...(state.addingReplicas ?? [])], removingReplicas: [...(state.removingReplicas ?? [])] });
      byTopic.set(topic, partitions);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, errorMessage: null, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
  },
});
