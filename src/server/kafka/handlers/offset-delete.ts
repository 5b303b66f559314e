/**
 * OffsetDelete (47), v0.
 *
 * Deletes a group's committed offsets for partitions its members do not subscribe to (KIP-496):
 * GROUP_SUBSCRIBED_TO_TOPIC for partitions of a subscribed topic (read from the members' consumer
 * protocol metadata), UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist; NON_EMPTY_GROUP
 * for a group of another protocol type that has members; GROUP_ID_NOT_FOUND for unknown groups.
 * Answered once the deletions are durable.
 */
import { offsetDeleteRequest, offsetDeleteResponse } from '../../../protocol/kafka/messages/offset-delete.js';
import { defineHandler } from '../handler.js';

export const offsetDeleteHandler = defineHandler({
  request: offsetDeleteRequest,
  response: offsetDeleteResponse,
  async handle(request, context) {
    const result = await context.broker.groups.deleteOffsets(request.groupId, request.topics);
    return { errorCode: result.errorCode, throttleTimeMs: 0, topics: result.topics };
  },
});
