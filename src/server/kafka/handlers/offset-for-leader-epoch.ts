/**
 * OffsetForLeaderEpoch (23), v2-4 (v0-1 are gone from Kafka 4, KIP-896).
 *
 * Answered by a partition's leader from its leader epochs (storage/leader-epoch-cache.ts, KIP-101
 * and KIP-279): for the requested epoch, the largest epoch ≤ it that the log knows and where that
 * epoch ends (the start of the next larger one, or the log end for the latest, including the epoch
 * this broker leads in when it has no batch yet); Kafka's "undefined" (epoch -1, offset -1) for an
 * epoch larger than every known one, or a negative one. A single broker leads every partition in
 * epoch 0; in a cluster the epoch comes from etcd. Followers (replicaId ≥ 0) ask it before they
 * fetch, to find where their log diverges from the leader's (cluster/replica-fetcher.ts).
 *
 * currentLeaderEpoch fences a caller whose metadata disagrees (KIP-320): larger than ours is
 * UNKNOWN_LEADER_EPOCH (it knows of a leader we are not yet), smaller (but not -1, "no check") is
 * FENCED_LEADER_EPOCH. A partition this broker does not lead answers NOT_LEADER_OR_FOLLOWER; an
 * unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION; one still being recovered its unavailable
 * code (retriable).
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { offsetForLeaderEpochRequest, offsetForLeaderEpochResponse } from '../../../protocol/kafka/messages/offset-for-leader-epoch.js';
import { defineHandler } from '../handler.js';

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
          const leaderEpoch = partition.leaderEpoch;
          if (current !== noEpochCheck && current > leaderEpoch) return answer(requested.partition, ErrorCode.unknownLeaderEpoch);
          if (current !== noEpochCheck && current < leaderEpoch) return answer(requested.partition, ErrorCode.fencedLeaderEpoch);
          const end = partition.handle.endOffsetForEpoch(requested.leaderEpoch, leaderEpoch);
          return answer(requested.partition, ErrorCode.none, end.epoch, BigInt(end.endOffset));
        }),
      })),
    };
  },
});
