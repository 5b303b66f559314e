/**
 * DeleteTopics (20), v1-6.
 *
 * Behaviour: v1-5 name topics in topicNames; v6 in topics, each by name or by topicId (not both, not
 * neither: INVALID_REQUEST, as Kafka). An unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown id
 * UNKNOWN_TOPIC_ID (answered with a null name). A name or id given twice is INVALID_REQUEST,
 * answered once. Topics are deleted one after another; a deletion is done (metadata and data
 * removed) when answered, so timeoutMs is not waited on. v6 answers each topic's id.
 *
 * In a cluster the topic and its partitions' states are deleted from etcd, in one transaction
 * conditioned on the topic as read (docs/cluster.md); every broker then drops its replicas, this one
 * before answering. The internal topic `__consumer_offsets` (the groups) is not deleted: INVALID_REQUEST.
 *
 * Not implemented: delete.topic.enable (TOPIC_DELETION_DISABLED), quotas (THROTTLING_QUOTA_EXCEEDED).
 */
import type { Broker, OperationResult } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../../protocol/kafka/messages/delete-topics.js';
import type { DeleteTopicsResponse } from '../../../protocol/kafka/messages/delete-topics.js';
import { problem, repeatedNames } from '../config-resources.js';
import { defineHandler } from '../handler.js';
import { InvalidRequestNotes } from '../invalid-request.js';

type TopicResult = DeleteTopicsResponse['responses'][number];

const zeroTopicId = Buffer.alloc(16);

interface Target {
  readonly name: string | null;
  readonly topicId: Buffer;
}

/** How a target is told apart from the others, for finding repeats. */
function targetKey(target: Target): string {
  return target.name !== null ? `name:${target.name}` : `id:${target.topicId.toString('hex')}`;
}

function answer(target: Target, result: OperationResult): TopicResult {
  return { name: target.name, topicId: target.topicId, errorCode: result.errorCode, errorMessage: result.errorMessage };
}

async function deleteOne(target: Target, broker: Broker, invalid: InvalidRequestNotes): Promise<TopicResult> {
  const hasId = !target.topicId.equals(zeroTopicId);
  if (target.name !== null && hasId) return answer(target, invalid.check('TopicId', problem(ErrorCode.invalidRequest, 'give a topic name or a topic id, not both')));
  if (target.name === null && !hasId) return answer(target, invalid.check('Name', problem(ErrorCode.invalidRequest, 'neither a topic name nor a topic id was given')));
  const topic = target.name !== null ? broker.topic(target.name) : broker.topicById(target.topicId);
  if (topic === undefined) {
    return target.name !== null
      ? answer(target, problem(ErrorCode.unknownTopicOrPartition, `topic '${target.name}' does not exist`))
      : answer(target, problem(ErrorCode.unknownTopicId, `no topic has the id ${target.topicId.toString('hex')}`));
  }
  const found: Target = { name: topic.name, topicId: topic.id };
  if (!broker.inCluster) return answer(found, await broker.deleteTopic(topic.name));
  // Deleting it would drop every group's committed offsets at once.
  if (broker.isInternalTopic(topic.name)) return answer(found, problem(ErrorCode.invalidRequest, `the internal topic '${topic.name}' is the broker's own (consumer groups, or an AMQP queue: delete the queue) and cannot be deleted`));
  if (broker.cluster === null) return answer(found, problem(ErrorCode.notController, 'this broker has not joined the cluster yet; retry'));
  return answer(found, await broker.cluster.deleteTopic(topic.name));
}

export const deleteTopicsHandler = defineHandler({
  request: deleteTopicsRequest,
  response: deleteTopicsResponse,
  async handle(request, context) {
    const targets: Target[] = context.apiVersion >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: zeroTopicId }));
    const repeated = repeatedNames(targets.map(targetKey));
    const answered = new Set<string>();
    const responses: TopicResult[] = [];
    const invalid = new InvalidRequestNotes('DeleteTopics');
    for (const target of targets) {
      const key = targetKey(target);
      if (answered.has(key)) continue;
      answered.add(key);
      responses.push(
        repeated.has(key)
          ? answer(target, invalid.check(target.name !== null ? 'Name' : 'TopicId', problem(ErrorCode.invalidRequest, `topic ${target.name ?? target.topicId.toString('hex')} appears more than once in the request`)))
          : await deleteOne(target, context.broker, invalid),
      );
    }
    invalid.write(context.logger);
    return { throttleTimeMs: 0, responses };
  },
});
