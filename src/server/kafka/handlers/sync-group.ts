/**
 * SyncGroup (14), v0-5 (v0 advertised for librdkafka < 2.11, KAFKA-19444).
 *
 * The leader hands in the assignment; it is made durable in the group log, then every member gets
 * its part and the group is Stable. Followers wait for that. v3 groupInstanceId (fencing); v5
 * protocolType and protocolName, checked against the group's (INCONSISTENT_GROUP_PROTOCOL).
 */
import { syncGroupRequest, syncGroupResponse } from '../../../protocol/kafka/messages/sync-group.js';
import { defineHandler } from '../handler.js';

export const syncGroupHandler = defineHandler({
  request: syncGroupRequest,
  response: syncGroupResponse,
  async handle(request, context) {
    const result = await context.broker.groups.syncGroup(request.groupId, {
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      generationId: request.generationId,
      protocolType: request.protocolType,
      protocolName: request.protocolName,
      assignments: request.assignments,
    });
    return { throttleTimeMs: 0, errorCode: result.errorCode, protocolType: result.protocolType, protocolName: result.protocolName, assignment: result.assignment };
  },
});
