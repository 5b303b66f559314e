/**
 * DescribeGroups (15), v0-6.
 *
 * State, protocol type, selected protocol and members of each group; member metadata and
 * assignments only while the group is Stable (as Kafka). An unknown group is answered as a Dead
 * group with no error before v6, GROUP_ID_NOT_FOUND with a message from v6 (KIP-1043).
 * Authorized operations (v3+), when asked: every group operation (no ACLs yet, as Kafka without an
 * authorizer); an unknown group's are not given. In a cluster a group another broker coordinates is
 * NOT_COORDINATOR (COORDINATOR_LOAD_IN_PROGRESS while this one reads its partition back).
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../../protocol/kafka/messages/describe-groups.js';
import { authorizedOperations, authorizedOperationsNotRequested } from '../authorized-operations.js';
import { defineHandler } from '../handler.js';

export const describeGroupsHandler = defineHandler({
  request: describeGroupsRequest,
  response: describeGroupsResponse,
  handle(request, context) {
    const { apiVersion, broker } = context;
    const groups = request.groups.map((groupId) => {
      const coordinatorError = broker.groups.coordinatorError(groupId);
      const description = coordinatorError === ErrorCode.none ? broker.groups.describeGroup(groupId) : null;
      if (description === null) {
        const notFound = apiVersion >= 6 ? ErrorCode.groupIdNotFound : ErrorCode.none;
        return {
          errorCode: coordinatorError === ErrorCode.none ? notFound : coordinatorError,
          errorMessage: coordinatorError === ErrorCode.none && apiVersion >= 6 ? `group '${groupId}' not found` : null,
          groupId,
          groupState: 'Dead',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: authorizedOperationsNotRequested,
        };
      }
      return {
        errorCode: ErrorCode.none,
        errorMessage: null,
        groupId,
        groupState: description.state,
        protocolType: description.protocolType,
        protocolData: description.protocolData,
        members: description.members.map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          memberMetadata: member.metadata,
          memberAssignment: member.assignment,
        })),
        authorizedOperations: authorizedOperations('group', request.includeAuthorizedOperations),
      };
    });
    return { throttleTimeMs: 0, groups };
  },
});
