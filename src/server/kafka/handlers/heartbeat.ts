/**
 * Heartbeat (12), v0-4 (v0 advertised for librdkafka < 2.11, KAFKA-19444).
 *
 * Keeps a classic member's session alive. REBALANCE_IN_PROGRESS tells it to rejoin;
 * ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and (v3+) FENCED_INSTANCE_ID as Kafka answers them.
 */
import { heartbeatRequest, heartbeatResponse } from '../../../protocol/kafka/messages/heartbeat.js';
import { defineHandler } from '../handler.js';

export const heartbeatHandler = defineHandler({
  request: heartbeatRequest,
  response: heartbeatResponse,
  handle(request, context) {
    const errorCode = context.broker.groups.heartbeat(request.groupId, request.memberId, request.groupInstanceId, request.generationId);
    return { throttleTimeMs: 0, errorCode };
  },
});
