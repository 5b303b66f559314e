/**
 * DescribeTopicPartitions (key 75), version 0, flexible (KIP-966).
 *
 * What Metadata says of topics and partitions, plus each partition's eligible leader replicas (ELR)
 * and last known ELR, in pages: the response holds at most responsePartitionLimit partitions (the
 * broker caps it further), topics in name order, and nextCursor names the first topic and
 * partition left out (null when nothing was). An empty topics array means every topic; a cursor
 * asks to start at that topic and partition. Admin clients of Kafka 3.8+ describe topics with it.
 * Both cursors are nullable structs: an int8 marker (-1 null, 1 present) before their fields.
 */
import { array, field, message, struct } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

const cursorFields = [
  field('topicName', 'string'),
  field('partitionIndex', 'int32'),
] as const;

export const describeTopicPartitionsRequest = message({
  name: 'DescribeTopicPartitions',
  apiKey: 75,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    array('topics', [
      field('name', 'string'),
    ]),
    field('responsePartitionLimit', 'int32', { default: 2000 }),
    struct('cursor', cursorFields, { nullable: '0+', default: null }),
  ],
});

export const describeTopicPartitionsResponse = message({
  name: 'DescribeTopicPartitions',
  apiKey: 75,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('topics', [
      field('errorCode', 'int16'),
      field('name', 'string', { nullable: '0+' }),
      field('topicId', 'uuid'),
      field('isInternal', 'bool', { default: false }),
      array('partitions', [
        field('errorCode', 'int16'),
        field('partitionIndex', 'int32'),
        field('leaderId', 'int32'),
        field('leaderEpoch', 'int32', { default: -1 }),
        array('replicaNodes', 'int32'),
        array('isrNodes', 'int32'),
        array('eligibleLeaderReplicas', 'int32', { nullable: '0+', default: null }),
        array('lastKnownElr', 'int32', { nullable: '0+', default: null }),
        array('offlineReplicas', 'int32'),
      ]),
      field('topicAuthorizedOperations', 'int32', { default: -2147483648 }),
    ]),
    struct('nextCursor', cursorFields, { nullable: '0+', default: null }),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeTopicPartitionsRequest = Decoded<typeof describeTopicPartitionsRequest>;
/** A response as the broker's handler builds it. */
export type DescribeTopicPartitionsResponse = Encodable<typeof describeTopicPartitionsResponse>;
/** A request as a client builds it. */
export type DescribeTopicPartitionsRequestEncodable = Encodable<typeof describeTopicPartitionsRequest>;
/** A response as a client receives it. */
export type DescribeTopicPartitionsResponseDecoded = Decoded<typeof describeTopicPartitionsResponse>;
