/**
 * OffsetCommit (8), v0-9.
 *
 * Commits are written to the group log and answered once durable. For a classic group the member
 * and generation are checked (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID,
 * REBALANCE_IN_PROGRESS between JoinGroup and SyncGroup); generation −1 without a member id commits
 * to an empty or unknown group (consumers without group management, admin tools). Per partition:
 * UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE (groups.maxMetadataBytes), and
 * OFFSET_OUT_OF_RANGE only for an offset beyond 2^53 − 1, which no log here can reach. Offsets
 * ahead of the log end, below the log start, and negative ones (KafkaJS's resetOffsets commits
 * −1/−2) are accepted, as in Kafka. The rules are in groups/offsets-service.ts.
 *
 * For a KIP-848 consumer group: generationIdOrMemberEpoch is the member epoch; a member must
 * commit with its current epoch (STALE_MEMBER_EPOCH otherwise) and with v9+ (UNSUPPORTED_VERSION
 * below); epoch −1 commits only while the group is empty (UNKNOWN_MEMBER_ID otherwise).
 *
 * v0 (ZooKeeper-era) commits are taken as generation −1 commits. v1's per-partition commit
 * timestamp and v2-4's retention time are ignored: offsets expire by groups.offsetsRetentionMs,
 * as in Kafka since 2.1 (KIP-211).
 */
import { offsetCommitRequest, offsetCommitResponse } from '../../../protocol/kafka/messages/offset-commit.js';
import { committedPositionFromWire } from '../../../broker/offset.js';
import { defineHandler } from '../handler.js';

export const offsetCommitHandler = defineHandler({
  request: offsetCommitRequest,
  response: offsetCommitResponse,
  async handle(request, context) {
    const topics = await context.broker.groups.commitOffsets({
      groupId: request.groupId,
      generationIdOrMemberEpoch: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      apiVersion: context.apiVersion,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          // Null beyond 2^53: beyond every log end, refused as out of range.
          committedOffset: committedPositionFromWire(partition.committedOffset),
          committedLeaderEpoch: partition.committedLeaderEpoch,
          committedMetadata: partition.committedMetadata,
        })),
      })),
    });
    return { throttleTimeMs: 0, topics };
  },
});
