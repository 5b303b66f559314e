/**
 * Metadata (3), v0-13.
 *
 * Describes this single broker and the requested topics (all of them when the list is null, or
 * empty in v0). Unknown topics are created when auto-creation is on and the request allows it
 * (always before v4), several at a time; beyond maxTopics or maxPartitions a topic is answered
 * POLICY_VIOLATION, and a storage failure KAFKA_STORAGE_ERROR. Every partition is led by this
 * broker, with itself as the only replica; a partition whose stored data is damaged lists it in
 * offlineReplicas (v5+) and is still served (partition-replicas.ts, shared with
 * DescribeTopicPartitions).
 * In a cluster (docs/cluster.md) the answer is the cluster's, the same from every broker: every live
 * broker (host, port, rack as registered), the controller, and each partition's leader, leader
 * epoch, replicas, ISR and offline replicas as etcd holds them; auto-creation goes through etcd.
 * Authorized operations (v8+), when asked: every operation of the topic or cluster (no ACLs yet,
 * as Kafka without an authorizer).
 */
import type { Broker, Topic } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { metadataRequest, metadataResponse } from '../../../protocol/kafka/messages/metadata.js';
import { topicNameProblem } from '../../../broker/topic-name.js';
import { authorizedOperations, authorizedOperationsNotRequested } from '../authorized-operations.js';
import { partitionReplicas } from '../partition-replicas.js';
import { defineHandler } from '../handler.js';

const zeroTopicId = Buffer.alloc(16);

function describeTopic(broker: Broker, topic: Topic, includeOperations: boolean) {
  return {
    errorCode: ErrorCode.none,
    name: topic.name,
    topicId: topic.id,
    isInternal: broker.isInternalTopic(topic.name),
    partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.index, ...partitionReplicas(broker, partition) })),
    topicAuthorizedOperations: authorizedOperations('topic', includeOperations),
  };
}

function missingTopic(name: string | null, topicId: Buffer, errorCode: number) {
  return {
    errorCode,
    name: name ?? '',
    topicId,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: authorizedOperationsNotRequested,
  };
}

/** Whether the topic is one to describe: in a cluster, only those etcd knows (a topic left on disk from before is not). */
function isServed(broker: Broker, topic: Topic): boolean {
  return !broker.inCluster || broker.cluster?.partitionState(topic.name, 0) !== undefined;
}

/** An unknown topic with a valid name: auto-created when the request allows it. */
function needsCreating(broker: Broker, name: string): boolean {
  return broker.topic(name) === undefined && topicNameProblem(name) === null;
}

export const metadataHandler = defineHandler({
  request: metadataRequest,
  response: metadataResponse,
  async handle(request, context) {
    const { broker, apiVersion } = context;
    const allTopics = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const allowAutoCreate = apiVersion < 4 || request.allowAutoTopicCreation;
    const topics = [];
    if (allTopics) {
      for (const topic of broker.allTopics()) if (isServed(broker, topic)) topics.push(describeTopic(broker, topic, request.includeTopicAuthorizedOperations));
    } else {
      const requestedTopics = request.topics ?? [];
      const toCreate = allowAutoCreate ? requestedTopics.map((requested) => requested.name).filter((name): name is string => name !== null && needsCreating(broker, name)) : [];
      const created = await broker.autoCreateTopics(toCreate);
      for (const requested of requestedTopics) {
        if (requested.name === null) {
          const topic = broker.topicById(requested.topicId);
          topics.push(topic === undefined ? missingTopic(null, requested.topicId, ErrorCode.unknownTopicId) : describeTopic(broker, topic, request.includeTopicAuthorizedOperations));
          continue;
        }
        const existing = created.get(requested.name) ?? broker.topic(requested.name);
        const nameProblem = existing === undefined ? topicNameProblem(requested.name) : null;
        if (nameProblem !== null) {
          topics.push(missingTopic(requested.name, zeroTopicId, ErrorCode.invalidTopicException));
        } else if (existing === undefined) {
          topics.push(missingTopic(requested.name, zeroTopicId, ErrorCode.unknownTopicOrPartition));
        } else {
          topics.push('partitions' in existing ? describeTopic(broker, existing, request.includeTopicAuthorizedOperations) : missingTopic(requested.name, zeroTopicId, existing.errorCode));
        }
      }
    }
    const cluster = broker.cluster;
    const liveBrokers = cluster?.liveBrokers() ?? [];
    return {
      throttleTimeMs: 0,
      // Until this broker has read the registrations (or if its own lapsed), it names itself only.
      brokers: liveBrokers.length > 0 ? liveBrokers.map(({ nodeId, host, port, rack }) => ({ nodeId, host, port, rack })) : [{ nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null }],
      clusterId: broker.clusterId,
      controllerId: cluster === null ? (broker.inCluster ? -1 : broker.nodeId) : cluster.controllerId(),
      topics,
      clusterAuthorizedOperations: authorizedOperations('cluster', request.includeClusterAuthorizedOperations),
      errorCode: ErrorCode.none,
    };
  },
});
