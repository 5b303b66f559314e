/**
 * A ConsumerGroupHeartbeat (KIP-848) as the handler read it, and the checks of its own consistency
 * that come before any group looks at it: Kafka's (INVALID_REQUEST with its messages,
 * UNSUPPORTED_ASSIGNOR, INVALID_REGULAR_EXPRESSION), plus bounds on what a member may make us keep
 * (ids up to `groups.maxGroupIdBytes`, at most `groups.consumerMaxSubscribedTopics` topic names, a
 * regex of at most maxRegexLength characters, topic-regex.ts).
 */
import type { GroupSettings } from '../config/broker-config.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { assignors } from './assignors.js';
import { compileTopicRegex } from './topic-regex.js';
import { joinEpoch, leaveEpoch, staticLeaveEpoch } from './consumer-group.js';
import type { WireTopicPartitions } from './consumer-group.js';

export interface ConsumerHeartbeatRequest {
  readonly apiVersion: number;
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: string | null;
  readonly topicPartitions: readonly WireTopicPartitions[] | null;
  readonly clientId: string;
  readonly clientHost: string;
}

/** Longest topic name Kafka allows. */
const maxTopicNameLength = 249;

/** What is wrong with a request: the error code, the message the member is told, and the field at fault (Kafka's name for it). */
export interface ConsumerHeartbeatProblem {
  readonly code: number;
  readonly message: string;
  readonly field: string;
}

/** The first problem of the request; null when none. */
export function consumerHeartbeatProblem(request: ConsumerHeartbeatRequest, settings: GroupSettings): ConsumerHeartbeatProblem | null {
  const invalid = (field: string, message: string): ConsumerHeartbeatProblem => ({ code: ErrorCode.invalidRequest, message, field });
  const maxIdBytes = settings.maxGroupIdBytes;
  if (request.groupId === '') return invalid('GroupId', 'GroupId can not be empty');
  if (Buffer.byteLength(request.groupId, 'utf8') > maxIdBytes) return { code: ErrorCode.invalidGroupId, message: `group id longer than ${maxIdBytes} bytes`, field: 'GroupId' };
  for (const [name, value] of [['MemberId', request.memberId], ['InstanceId', request.instanceId], ['RackId', request.rackId]] as const) {
    if (value !== null && Buffer.byteLength(value, 'utf8') > maxIdBytes) return invalid(name, `${name} longer than ${maxIdBytes} bytes`);
  }
  if (request.instanceId === '') return invalid('InstanceId', 'InstanceId can not be empty');
  if (request.rackId === '') return invalid('RackId', 'RackId can not be empty');
  // An empty regex is "no regex" (librdkafka 2.12 and Kafka 4 clients send it so with topic names).
  const regex = request.subscribedTopicRegex;
  if (regex !== null && regex !== '') {
    const compiled = compileTopicRegex(regex);
    if (typeof compiled === 'string') return { code: ErrorCode.invalidRegularExpression, message: compiled, field: 'SubscribedTopicRegex' };
  }
  if (request.rebalanceTimeoutMs < -1) return invalid('RebalanceTimeoutMs', `RebalanceTimeoutMs ${request.rebalanceTimeoutMs} is invalid`);
  const topics = request.subscribedTopicNames;
  if (topics !== null) {
    if (topics.length > settings.consumerMaxSubscribedTopics) return invalid('SubscribedTopicNames', `more than ${settings.consumerMaxSubscribedTopics} subscribed topics`);
    if (topics.some((topic) => topic.length === 0 || topic.length > maxTopicNameLength)) return invalid('SubscribedTopicNames', 'a subscribed topic name is empty or too long');
  }
  const epoch = request.memberEpoch;
  if (epoch > 0 || epoch === leaveEpoch) {
    if (request.memberId === '') return invalid('MemberId', 'MemberId can not be empty');
  } else if (epoch === joinEpoch) {
    if (request.apiVersion >= 1 && request.memberId === '') return invalid('MemberId', 'MemberId can not be empty: from version 1 the member makes its own');
    if (request.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs', 'RebalanceTimeoutMs must be provided in the first request');
    if (request.topicPartitions === null || request.topicPartitions.length > 0) return invalid('TopicPartitions', 'TopicPartitions must be empty when (re-)joining');
    if ((topics === null || topics.length === 0) && (regex === null || regex === '')) return invalid('SubscribedTopicNames', 'SubscribedTopicNames or SubscribedTopicRegex must be set in the first request');
  } else if (epoch === staticLeaveEpoch) {
    if (request.memberId === '') return invalid('MemberId', 'MemberId can not be empty');
    if (request.instanceId === null) return invalid('InstanceId', 'InstanceId can not be null when a static member leaves');
  } else {
    return invalid('MemberEpoch', `MemberEpoch ${epoch} is invalid`);
  }
  if (request.serverAssignor !== null && !assignors.has(request.serverAssignor)) {
    return { code: ErrorCode.unsupportedAssignor, message: `ServerAssignor ${request.serverAssignor} is not supported; supported: ${[...assignors.keys()].join(', ')}`, field: 'ServerAssignor' };
  }
  return null;
}
