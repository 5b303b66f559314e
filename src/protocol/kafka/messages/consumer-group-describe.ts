/**
 * ConsumerGroupDescribe (key 69), versions 0-1, flexible in all versions.
 *
 * Describes KIP-848 consumer groups. v1 adds memberType to each member (KIP-1099; -1 unknown,
 * 0 classic, 1 consumer).
 */
import { array, field, message, struct } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const consumerGroupDescribeRequest = message({
  name: 'ConsumerGroupDescribe',
  apiKey: 69,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    array('groupIds', 'string'),
    field('includeAuthorizedOperations', 'bool'),
  ],
});

const topicPartitionsFields = [
  field('topicId', 'uuid'),
  field('topicName', 'string'),
  array('partitions', 'int32'),
] as const;

const assignmentFields = [
  array('topicPartitions', topicPartitionsFields),
] as const;

export const consumerGroupDescribeResponse = message({
  name: 'ConsumerGroupDescribe',
  apiKey: 69,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('groups', [
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { nullable: '0+', default: null }),
      field('groupId', 'string'),
      field('groupState', 'string'),
      field('groupEpoch', 'int32'),
      field('assignmentEpoch', 'int32'),
      field('assignorName', 'string'),
      array('members', [
        field('memberId', 'string'),
        field('instanceId', 'string', { nullable: '0+', default: null }),
        field('rackId', 'string', { nullable: '0+', default: null }),
        field('memberEpoch', 'int32'),
        field('clientId', 'string'),
        field('clientHost', 'string'),
        array('subscribedTopicNames', 'string'),
        field('subscribedTopicRegex', 'string', { nullable: '0+', default: null }),
        struct('assignment', assignmentFields),
        struct('targetAssignment', assignmentFields),
        field('memberType', 'int8', { versions: '1+', default: -1 }),
      ]),
      field('authorizedOperations', 'int32', { default: -2147483648 }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type ConsumerGroupDescribeRequest = Decoded<typeof consumerGroupDescribeRequest>;
/** A response as the broker's handler builds it. */
export type ConsumerGroupDescribeResponse = Encodable<typeof consumerGroupDescribeResponse>;
/** A request as a client builds it. */
export type ConsumerGroupDescribeRequestEncodable = Encodable<typeof consumerGroupDescribeRequest>;
/** A response as a client receives it. */
export type ConsumerGroupDescribeResponseDecoded = Decoded<typeof consumerGroupDescribeResponse>;
