/**
 * OffsetForLeaderEpoch (23), v2-4 (v0-1 are gone from Kafka 4, KIP-896).
 *
 * One broker leads every partition in leader epoch 0 (what Metadata reports, and what every
 * stored batch carries), so the answer is simple: for epoch 0 the epoch's end is the log end
 * offset; for a larger epoch, unknown to this leader, Kafka's "undefined" (epoch -1, offset -1);
 * a negative one the same. currentLeaderEpoch fences a client whose metadata disagrees: larger than
 * 0 is UNKNOWN_LEADER_EPOCH (it knows of a leader we are not), smaller (but not -1, "no check") is
 * FENCED_LEADER_EPOCH. An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION; one still
 * being recovered answers its unavailable code (retriable). Followers (replicaId ≥ 0) get the same
 * answer: there are none yet.
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../../protocol/kafka/messages/offset-for-leader-epoch.js';
import { defineHandler } from '../handler.js';
import { leaderEpoch } from '../partition-replicas.js';

const noEpochCheck = -1;

export const offsetForLeaderEpochHandler = defineHandler({
  request: offsetForLeaderEpochRequest,
  response: offsetForLeaderEpochResponse,
  versions: { min: 2, max: 4 },
  handle(request, context) {
    const { broker } = context;
    const answer = (partition: number, errorCode: number, epoch = -1, endOffset = -1n) => ({ errorCode, partition, leaderEpoch: epoch, endOffset });
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((requested) => {
          const partition = broker.partition(topic.topic, requested.partition);
          if (partition === undefined || partition.deleted) return answer(requested.partition, ErrorCode.unknownTopicOrPartition);
          if (partition.unavailableError !== ErrorCode.none) return answer(requested.partition, partition.unavailableError);
          const current = requested.currentLeaderEpoch;
          if (current !== noEpochCheck && current > leaderEpoch) return answer(requested.partition, ErrorCode.unknownLeaderEpoch);
          if (current !== noEpochCheck && current < leaderEpoch) return answer(requested.partition, ErrorCode.fencedLeaderEpoch);
          if (requested.leaderEpoch !== leaderEpoch) return answer(requested.partition, ErrorCode.none);
          return answer(requested.partition, ErrorCode.none, leaderEpoch, BigInt(partition.handle.logEndOffset));
        }),
      })),
    };
  },
});
