/**
 * ListGroups (16), v0-5.
 *
 * Every group this broker coordinates (a single broker: all of them; in a cluster: those of the
 * `__consumer_offsets` partitions it leads; COORDINATOR_LOAD_IN_PROGRESS and no groups while one of
 * them is being read back, as Kafka), with its protocol type; v4 its state and a
 * states filter (KIP-518), v5 its type (classic / consumer) and a types filter (KIP-848). Filters
 * compare case-insensitively; an empty filter matches everything.
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { listGroupsRequest, listGroupsResponse } from '../../../protocol/kafka/messages/list-groups.js';
import { defineHandler } from '../handler.js';

export const listGroupsHandler = defineHandler({
  request: listGroupsRequest,
  response: listGroupsResponse,
  handle(request, context) {
    const errorCode = context.broker.groups.listGroupsError();
    if (errorCode !== ErrorCode.none) return { throttleTimeMs: 0, errorCode, groups: [] };
    const groups = context.broker.groups.listGroups(request.statesFilter, request.typesFilter);
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, groups };
  },
});
