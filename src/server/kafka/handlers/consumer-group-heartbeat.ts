/**
 * ConsumerGroupHeartbeat (68), v0-1: the KIP-848 consumer protocol.
 *
 * Joins (epoch 0), heartbeats, reconciles and leaves (−1; −2 for a static member) members of
 * consumer groups, whose partitions the broker assigns (`uniform`, the default, or `range`).
 * Subscriptions are topic names, a SubscribedTopicRegex (RE2 syntax, matched against whole topic
 * names and again as topics come and go; an empty one is none), or both. The rules are in
 * groups/consumer-group.ts; the request checks in groups/consumer-heartbeat-request.ts, which name
 * the field at fault in the debug line of an INVALID_REQUEST (server/kafka/invalid-request.ts).
 * v0: a member joining with an empty member id gets one from the broker; v1: the member makes its
 * own (an empty one is INVALID_REQUEST).
 * Errors as Kafka answers them: INVALID_REQUEST, INVALID_REGULAR_EXPRESSION, UNSUPPORTED_ASSIGNOR,
 * UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, FENCED_INSTANCE_ID, UNRELEASED_INSTANCE_ID,
 * GROUP_MAX_SIZE_REACHED (groups.consumerMaxGroupSize), INCONSISTENT_GROUP_PROTOCOL for a classic
 * group with members.
 * Differences from Kafka: a heartbeat with a non-zero epoch for a group this broker does not know
 * gets UNKNOWN_MEMBER_ID (Kafka: GROUP_ID_NOT_FOUND), because members are not kept across
 * restarts and must rejoin.
 * Not implemented: rack-aware assignment (RackId is kept and shown, not used).
 */
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../../protocol/kafka/messages/consumer-group-heartbeat.js';
import { defineHandler } from '../handler.js';

export const consumerGroupHeartbeatHandler = defineHandler({
  request: consumerGroupHeartbeatRequest,
  response: consumerGroupHeartbeatResponse,
  handle(request, context) {
    const result = context.broker.groups.consumerGroupHeartbeat({
      apiVersion: context.apiVersion,
      groupId: request.groupId,
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      subscribedTopicRegex: request.subscribedTopicRegex,
      serverAssignor: request.serverAssignor,
      topicPartitions: request.topicPartitions,
      clientId: context.clientId ?? '',
      clientHost: context.clientHost,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      memberId: result.memberId,
      memberEpoch: result.memberEpoch,
      heartbeatIntervalMs: result.heartbeatIntervalMs,
      assignment: result.assignment === null ? null : { topicPartitions: result.assignment.topicPartitions.map((topic) => ({ topicId: topic.topicId, partitions: [...topic.partitions] })) },
    };
  },
});
