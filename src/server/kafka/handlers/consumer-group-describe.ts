/**
 * ConsumerGroupDescribe (69), v0-1: KIP-848 consumer groups as Kafka describes them.
 *
 * State (Empty, Assigning, Reconciling, Stable), group epoch, assignment epoch, the assignor in
 * use, and each member with its epoch, subscription, current assignment and target assignment;
 * v1 adds the member type (1: consumer protocol). An unknown group, or a classic one, is
 * GROUP_ID_NOT_FOUND (as Kafka); a group id over groups.maxGroupIdBytes is INVALID_GROUP_ID.
 * Authorized operations, when asked: every group operation (no ACLs yet, as Kafka without an
 * authorizer). In a cluster a group another broker coordinates is NOT_COORDINATOR
 * (COORDINATOR_LOAD_IN_PROGRESS while this one reads its partition back).
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { consumerGroupDescribeRequest, consumerGroupDescribeResponse } from '../../../protocol/kafka/messages/consumer-group-describe.js';
import { authorizedOperations, authorizedOperationsNotRequested } from '../authorized-operations.js';
import { defineHandler } from '../handler.js';

const consumerMemberType = 1;

function notDescribed(groupId: string, errorCode: number, errorMessage: string) {
  return { errorCode, errorMessage, groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: authorizedOperationsNotRequested };
}

export const consumerGroupDescribeHandler = defineHandler({
  request: consumerGroupDescribeRequest,
  response: consumerGroupDescribeResponse,
  handle(request, context) {
    const { broker } = context;
    const groups = request.groupIds.map((groupId) => {
      if (Buffer.byteLength(groupId, 'utf8') > broker.config.groups.maxGroupIdBytes) return notDescribed(groupId, ErrorCode.invalidGroupId, 'group id too long');
      const coordinatorError = broker.groups.coordinatorError(groupId);
      if (coordinatorError !== ErrorCode.none) return notDescribed(groupId, coordinatorError, 'this broker does not coordinate the group; find its coordinator');
      const described = broker.groups.describeConsumerGroup(groupId);
      if (described === null) return notDescribed(groupId, ErrorCode.groupIdNotFound, `group ${groupId} not found`);
      if (described === 'classic') return notDescribed(groupId, ErrorCode.groupIdNotFound, `group ${groupId} is not a consumer group`);
      return {
        errorCode: ErrorCode.none,
        errorMessage: null,
        groupId,
        groupState: described.state,
        groupEpoch: described.groupEpoch,
        assignmentEpoch: described.assignmentEpoch,
        assignorName: described.assignorName,
        members: described.members.map((member) => ({
          memberId: member.memberId,
          instanceId: member.instanceId,
          rackId: member.rackId,
          memberEpoch: member.memberEpoch,
          clientId: member.clientId,
          clientHost: member.clientHost,
          subscribedTopicNames: [...member.subscribedTopicNames],
          subscribedTopicRegex: member.subscribedTopicRegex,
          assignment: { topicPartitions: member.assignment.map((topic) => ({ ...topic })) },
          targetAssignment: { topicPartitions: member.targetAssignment.map((topic) => ({ ...topic })) },
          memberType: consumerMemberType,
        })),
        authorizedOperations: authorizedOperations('group', request.includeAuthorizedOperations),
      };
    });
    return { throttleTimeMs: 0, groups };
  },
});
