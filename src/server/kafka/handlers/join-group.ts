/**
 * JoinGroup (11), v0-9 (v0 advertised for librdkafka < 2.11, KAFKA-19444).
 *
 * The classic group protocol's join phase; the state machine is in groups/classic-group.ts. From v4
 * an empty member id is answered MEMBER_ID_REQUIRED with an id to rejoin with; v5 static members
 * (group.instance.id); v7 protocolType in the answer; v9 skipAssignment for a static leader
 * rejoining a stable group. v0 has no rebalance timeout: the session timeout is used, as Kafka does.
 * The answer may wait for the whole join phase (up to the rebalance timeout).
 */
import { joinGroupRequest, joinGroupResponse } from '../../../protocol/kafka/messages/join-group.js';
import { defineHandler } from '../handler.js';

export const joinGroupHandler = defineHandler({
  request: joinGroupRequest,
  response: joinGroupResponse,
  async handle(request, context) {
    const { apiVersion, broker } = context;
    const result = await broker.groups.joinGroup(request.groupId, {
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: context.clientId ?? '',
      clientHost: context.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols,
      requireKnownMemberId: apiVersion >= 4,
      supportsSkipAssignment: apiVersion >= 9,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      // Nullable only from v7.
      protocolName: result.protocolName ?? (apiVersion >= 7 ? null : ''),
      leader: result.leader,
      skipAssignment: result.skipAssignment,
      memberId: result.memberId,
      members: result.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, metadata: member.metadata })),
    };
  },
});
