/**
 * ConsumerGroupHeartbeat (key 68), versions 0-1, flexible in all versions.
 *
 * The KIP-848 consumer protocol. memberEpoch 0 joins, -1 leaves, -2 leaves a static member. v1 adds
 * subscribedTopicRegex and has the client make its own memberId (KIP-1082).
 *
 * The response's assignment is a nullable struct: on the wire an int8 marker (-1 null, 1 present)
 * precedes its fields (codec.ts writes and reads it; golden bytes in consumer-group-heartbeat.test.ts).
 */
import { array, field, message, struct } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const consumerGroupHeartbeatRequest = message({
  name: 'ConsumerGroupHeartbeat',
  apiKey: 68,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    field('groupId', 'string'),
    field('memberId', 'string'),
    field('memberEpoch', 'int32'),
    field('instanceId', 'string', { nullable: '0+', default: null }),
    field('rackId', 'string', { nullable: '0+', default: null }),
    field('rebalanceTimeoutMs', 'int32', { default: -1 }),
    array('subscribedTopicNames', 'string', { nullable: '0+', default: null }),
    field('subscribedTopicRegex', 'string', { versions: '1+', nullable: '1+', default: null }),
    field('serverAssignor', 'string', { nullable: '0+', default: null }),
    array('topicPartitions', [
      field('topicId', 'uuid'),
      array('partitions', 'int32'),
    ], { nullable: '0+', default: null }),
  ],
});

const topicPartitionsFields = [
  field('topicId', 'uuid'),
  array('partitions', 'int32'),
] as const;

export const consumerGroupHeartbeatResponse = message({
  name: 'ConsumerGroupHeartbeat',
  apiKey: 68,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16'),
    field('errorMessage', 'string', { nullable: '0+', default: null }),
    field('memberId', 'string', { nullable: '0+', default: null }),
    field('memberEpoch', 'int32'),
    field('heartbeatIntervalMs', 'int32'),
    struct('assignment', [
      array('topicPartitions', topicPartitionsFields),
    ], { nullable: '0+', default: null }),
  ],
});

/** A request as the broker's handler receives it. */
export type ConsumerGroupHeartbeatRequest = Decoded<typeof consumerGroupHeartbeatRequest>;
/** A response as the broker's handler builds it. */
export type ConsumerGroupHeartbeatResponse = Encodable<typeof consumerGroupHeartbeatResponse>;
/** A request as a client builds it. */
export type ConsumerGroupHeartbeatRequestEncodable = Encodable<typeof consumerGroupHeartbeatRequest>;
/** A response as a client receives it. */
export type ConsumerGroupHeartbeatResponseDecoded = Decoded<typeof consumerGroupHeartbeatResponse>;
