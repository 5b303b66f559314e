/**
 * Fetch (1), v4-18.
 *
 * Consumers read stored batches, as stored, up to the high watermark; a request with too little
 * data waits up to maxWaitMs (capped by limits.maxFetchWaitMs) for minBytes. Incremental fetch
 * sessions (KIP-227) are declined: sessionId 0 tells the client to keep sending full requests.
 * A topic deleted while a fetch waits (or reads) answers UNKNOWN_TOPIC_OR_PARTITION for its
 * partitions (UNKNOWN_TOPIC_ID when fetched by id, v13+); the connection and the other partitions go on.
 * A follower's fetch (replica id ≥ 0, docs/cluster.md "Replication") reads up to what is durable on
 * the leader and tells the leader its log end (the fetch offset) and its log start (logStartOffset,
 * v5+: DeleteRecords waits for it); a leader epoch other than the
 * leader's is fenced (FENCED_LEADER_EPOCH when older, UNKNOWN_LEADER_EPOCH when newer).
 * Not implemented yet: transactions (no aborted transactions ever), rack-aware preferred replicas.
 */
import type { Broker } from '../../../broker/broker.js';
import { fetchWithWait } from '../../../broker/fetch.js';
import { offsetFromWire, offsetToWire } from '../../../broker/offset.js';
import type { FetchTarget } from '../../../broker/fetch.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { fetchRequest, fetchResponse } from '../../../protocol/kafka/messages/fetch.js';
import { defineHandler } from '../handler.js';

const firstTopicIdVersion = 13;

function resolveTarget(broker: Broker, topicName: string, topicId: Buffer, byId: boolean, partitionIndex: number, fetchOffset: bigint, partitionMaxBytes: number): FetchTarget {
  const topic = byId ? broker.topicById(topicId) : broker.topic(topicName);
  const partition = topic?.partitions[partitionIndex];
  const errorCode = topic === undefined ? (byId ? ErrorCode.unknownTopicId : ErrorCode.unknownTopicOrPartition) : partition === undefined ? ErrorCode.unknownTopicOrPartition : ErrorCode.none;
  return { partition, errorCode, fetchOffset: offsetFromWire(fetchOffset), partitionMaxBytes, deletedErrorCode: byId ? ErrorCode.unknownTopicId : ErrorCode.unknownTopicOrPartition };
}

/**
 * Replication: a follower's fetch of one partition. Fenced when its leader epoch is not ours; else
 * the leader learns the follower's log end and log start, and the read may go up to what is durable here.
 */
function replicaTarget(target: FetchTarget, replicaId: number, currentLeaderEpoch: number, logStartOffset: bigint): FetchTarget {
  const replication = target.partition?.replication ?? null;
  if (target.errorCode !== ErrorCode.none || replication === null) return { ...target, fromReplica: true };
  if (currentLeaderEpoch >= 0 && currentLeaderEpoch !== replication.leaderEpoch) {
    return { ...target, errorCode: currentLeaderEpoch < replication.leaderEpoch ? ErrorCode.fencedLeaderEpoch : ErrorCode.unknownLeaderEpoch };
  }
  if (target.fetchOffset !== null) replication.followerFetched(replicaId, target.fetchOffset, offsetFromWire(logStartOffset));
  return { ...target, fromReplica: true };
}

export const fetchHandler = defineHandler({
  request: fetchRequest,
  response: fetchResponse,
  versions: { min: 4, max: 18 },
  async handle(request, context) {
    const { broker, apiVersion } = context;
    const limits = broker.config.limits;
    const byId = apiVersion >= firstTopicIdVersion;
    if (request.sessionId !== 0) {
      // We never hand out sessions, so any session id is unknown to us.
      return { throttleTimeMs: 0, errorCode: ErrorCode.fetchSessionIdNotFound, sessionId: 0, responses: [] };
    }
    // Replication: a broker's own node id marks a follower's fetch (v15 moved it into replicaState).
    const replicaId = apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
    const targets: FetchTarget[] = [];
    for (const topic of request.topics) {
      for (const partition of topic.partitions) {
        const target = resolveTarget(broker, topic.topic, topic.topicId, byId, partition.partition, partition.fetchOffset, partition.partitionMaxBytes);
        targets.push(replicaId >= 0 ? replicaTarget(target, replicaId, partition.currentLeaderEpoch, partition.logStartOffset) : target);
      }
    }
    const results = await fetchWithWait(broker, targets, {
      maxBytes: Math.min(request.maxBytes, limits.maxFetchResponseBytes),
      minBytes: request.minBytes,
      maxWaitMs: Math.max(0, Math.min(request.maxWaitMs, limits.maxFetchWaitMs)),
      readBuffers: broker.readBuffers,
    });
    // The records are written from the buffers they were read into; those go back to the pool once
    // the socket has taken the response (nothing else refers to them).
    context.afterResponseWritten(() => {
      for (const result of results) broker.readBuffers.give(result.records);
    });
    let index = 0;
    const responses = request.topics.map((topic) => ({
      topic: topic.topic,
      topicId: topic.topicId,
      partitions: topic.partitions.map((partition) => {
        const result = results[index++]!;
        return {
          partitionIndex: partition.partition,
          errorCode: result.errorCode,
          highWatermark: offsetToWire(result.highWatermark),
          lastStableOffset: offsetToWire(result.highWatermark),
          logStartOffset: offsetToWire(result.logStartOffset),
          abortedTransactions: [],
          preferredReadReplica: -1,
          records: result.records,
        };
      }),
    }));
    return { throttleTimeMs: 0, errorCode: ErrorCode.none, sessionId: 0, responses };
  },
});
