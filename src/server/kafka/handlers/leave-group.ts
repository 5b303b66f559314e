/**
 * LeaveGroup (13), v0-5 (v0 advertised for librdkafka < 2.11, KAFKA-19444).
 *
 * v0-2 one member by id, its error as the top-level error; v3+ a batch of members by member id or
 * group instance id (KIP-345), answered per member, the top-level error NONE. An empty batch is
 * INVALID_REQUEST. The remaining members rebalance.
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { leaveGroupRequest, leaveGroupResponse } from '../../../protocol/kafka/messages/leave-group.js';
import { defineHandler } from '../handler.js';

export const leaveGroupHandler = defineHandler({
  request: leaveGroupRequest,
  response: leaveGroupResponse,
  handle(request, context) {
    const { apiVersion, broker } = context;
    if (apiVersion < 3) {
      const [result] = broker.groups.leaveGroup(request.groupId, [{ memberId: request.memberId, groupInstanceId: null }]);
      return { throttleTimeMs: 0, errorCode: result!.errorCode, members: [] };
    }
    if (request.members.length === 0) {
      context.logger.debug('invalid request', { api: 'LeaveGroup', field: 'Members', reason: 'no member to remove' });
      return { throttleTimeMs: 0, errorCode: ErrorCode.invalidRequest, members: [] };
    }
    const members = broker.groups.leaveGroup(
      request.groupId,
      request.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId })),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, members };
  },
});
