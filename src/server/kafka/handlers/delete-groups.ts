/**
 * DeleteGroups (42), v0-2.
 *
 * Deletes groups that have no members, with their committed offsets (durably: tombstones in the
 * group log, answered once fsynced). NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND for
 * unknown groups.
 */
import { deleteGroupsRequest, deleteGroupsResponse } from '../../../protocol/kafka/messages/delete-groups.js';
import { defineHandler } from '../handler.js';

export const deleteGroupsHandler = defineHandler({
  request: deleteGroupsRequest,
  response: deleteGroupsResponse,
  async handle(request, context) {
    const results = await context.broker.groups.deleteGroups(request.groupsNames);
    return { throttleTimeMs: 0, results };
  },
});
