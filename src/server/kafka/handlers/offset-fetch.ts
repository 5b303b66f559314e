/**
 * OffsetFetch (9), v0-9.
 *
 * The durable committed offsets of the partitions asked for; −1 (and empty metadata) where nothing
 * is committed; null topics (v2+) ask for every offset the group has. v8+ ask for several groups at
 * once, each answered with its own error code. v0 is answered like v1.
 * v9's member id and epoch are checked for KIP-848 consumer groups (UNKNOWN_MEMBER_ID,
 * STALE_MEMBER_EPOCH; no member id and epoch −1 read freely) and not for classic ones (as Kafka).
 * Not implemented: requireStable (v7) has nothing to wait for without transactions.
 */
import { committedPositionToWire } from '../../../broker/offset.js';
import type { FetchedOffsets } from '../../../groups/coordinator.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../../protocol/kafka/messages/offset-fetch.js';
import { defineHandler } from '../handler.js';

/** int64 offsets on the wire. */
function wireTopics(topics: FetchedOffsets['topics']) {
  return topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => ({ ...partition, committedOffset: committedPositionToWire(partition.committedOffset) })) }));
}

export const offsetFetchHandler = defineHandler({
  request: offsetFetchRequest,
  response: offsetFetchResponse,
  handle(request, context) {
    const { apiVersion, broker } = context;
    if (apiVersion >= 8) {
      const groups = request.groups.map((group) => {
        const member = apiVersion >= 9 ? { memberId: group.memberId, memberEpoch: group.memberEpoch } : null;
        const fetched = broker.groups.fetchOffsets(group.groupId, group.topics, member);
        return { groupId: group.groupId, errorCode: fetched.errorCode, topics: wireTopics(fetched.topics) };
      });
      return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.none, groups };
    }
    const fetched = broker.groups.fetchOffsets(request.groupId, apiVersion >= 2 ? request.topics : (request.topics ?? []));
    if (apiVersion < 2 && fetched.errorCode !== ErrorCode.none) {
      // No top-level error field before v2: the group's error goes on every partition.
      const topics = (request.topics ?? []).map((topic) => ({
        name: topic.name,
        partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: fetched.errorCode })),
      }));
      return { throttleTimeMs: 0, topics, errorCode: fetched.errorCode, groups: [] };
    }
    return { throttleTimeMs: 0, topics: wireTopics(fetched.topics), errorCode: fetched.errorCode, groups: [] };
  },
});
