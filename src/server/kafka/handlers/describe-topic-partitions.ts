/**
 * DescribeTopicPartitions (75), v0 (KIP-966; Kafka admin clients 3.8+ describe topics with it).
 *
 * Metadata's picture of topics and partitions (partition-replicas.ts, shared with Metadata), in
 * pages, as Kafka 4.1 answers:
 *
 *   topics      the names asked (each once), or every topic when the array is empty; those sorting
 *               before the cursor's topic are dropped; answered in name order
 *   page size   responsePartitionLimit, raised to 1 and capped at limits.maxDescribedPartitions
 *               (Kafka's max.request.partition.size.limit); 0 or negative asks for 1
 *   cursor      the cursor's topic starts at its partitionIndex, every other topic at 0
 *   nextCursor  where the page ended: the topic whose partitions did not all fit and its next
 *               index, or the next topic at 0 when the page is full at a topic's end; null when all
 *               was answered
 *
 * A name asked that is no topic is answered UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION when
 * no topic could have it) with no partitions, while the page has room; asking for every topic
 * lists only topics. A cursor with a negative partition index, or naming a topic missing from the
 * names asked, is INVALID_REQUEST for every topic of the request. No ELR on one broker: eligible
 * leader replicas and last known ELR are empty. Authorized operations are always answered: every
 * topic operation (no authorizer, as Kafka without one). No internal topics.
 */
import type { Broker, Topic } from '../../../broker/broker.js';
import { topicNameProblem } from '../../../broker/topic-name.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import {
  describeTopicPartitionsRequest,
  describeTopicPartitionsResponse,
  type DescribeTopicPartitionsRequest,
  type DescribeTopicPartitionsResponse,
} from '../../../protocol/kafka/messages/describe-topic-partitions.js';
import { authorizedOperations } from '../authorized-operations.js';
import { defineHandler, type RequestContext } from '../handler.js';
import { partitionReplicas } from '../partition-replicas.js';

type TopicAnswer = DescribeTopicPartitionsResponse['topics'][number];
type Cursor = NonNullable<DescribeTopicPartitionsRequest['cursor']>;

const zeroTopicId = Buffer.alloc(16);
const topicOperations = authorizedOperations('topic', true);

function describedTopic(broker: Broker, topic: Topic, firstIndex: number, endIndex: number): TopicAnswer {
  return {
    errorCode: ErrorCode.none,
    name: topic.name,
    topicId: topic.id,
    isInternal: broker.isInternalTopic(topic.name),
    partitions: topic.partitions.slice(firstIndex, endIndex).map((partition) => ({
      partitionIndex: partition.index,
      ...partitionReplicas(broker, partition),
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
    })),
    topicAuthorizedOperations: topicOperations,
  };
}

function topicError(name: string, errorCode: number): TopicAnswer {
  return { errorCode, name, topicId: zeroTopicId, isInternal: false, partitions: [], topicAuthorizedOperations: topicOperations };
}

/** Why the cursor cannot be followed, or null. */
function cursorProblem(cursor: Cursor | null, askedNames: ReadonlySet<string> | null): string | null {
  if (cursor === null) return null;
  if (cursor.partitionIndex < 0) return `cursor partition index ${cursor.partitionIndex} is negative`;
  if (askedNames !== null && !askedNames.has(cursor.topicName)) return `cursor topic '${cursor.topicName}' is not among the topics asked`;
  return null;
}

function invalidRequest(request: DescribeTopicPartitionsRequest, context: RequestContext, reason: string): DescribeTopicPartitionsResponse {
  context.logger.debug('invalid request', { api: 'DescribeTopicPartitions', field: 'cursor', reason });
  // Kafka's error answer: every topic of the request, as asked (repeats included), with the error.
  return {
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({ errorCode: ErrorCode.invalidRequest, name: topic.name, topicId: zeroTopicId, isInternal: false, partitions: [] })),
    nextCursor: null,
  };
}

export const describeTopicPartitionsHandler = defineHandler({
  request: describeTopicPartitionsRequest,
  response: describeTopicPartitionsResponse,
  handle(request, context) {
    const { broker } = context;
    const everyTopic = request.topics.length === 0;
    const askedNames = everyTopic ? null : new Set(request.topics.map((topic) => topic.name));
    const { cursor } = request;
    const problem = cursorProblem(cursor, askedNames);
    if (problem !== null) return invalidRequest(request, context, problem);
    const firstName = cursor?.topicName ?? '';
    const names = (askedNames === null ? broker.allTopics().map((topic) => topic.name) : [...askedNames]).filter((name) => name >= firstName).sort();
    let remaining = Math.max(1, Math.min(request.responsePartitionLimit, broker.config.limits.maxDescribedPartitions));
    const topics: TopicAnswer[] = [];
    let nextCursor: Cursor | null = null;
    for (const name of names) {
      if (remaining === 0) {
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const topic = broker.topic(name);
      if (topic === undefined) {
        if (!everyTopic) topics.push(topicError(name, topicNameProblem(name) === null ? ErrorCode.unknownTopicOrPartition : ErrorCode.invalidTopicException));
        continue;
      }
      const firstIndex = cursor !== null && name === cursor.topicName ? cursor.partitionIndex : 0;
      const partitionCount = topic.partitions.length;
      const endIndex = Math.min(partitionCount, firstIndex + remaining);
      topics.push(describedTopic(broker, topic, firstIndex, endIndex));
      if (endIndex < partitionCount) {
        nextCursor = { topicName: name, partitionIndex: endIndex };
        break;
      }
      remaining -= Math.max(0, endIndex - firstIndex);
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
});
