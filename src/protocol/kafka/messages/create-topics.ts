/**
 * CreateTopics (key 19), versions 2-7, flexible from 5.
 *
 * v1 validateOnly and per-topic errorMessage; v2 throttleTimeMs; v4 numPartitions and
 * replicationFactor may be -1 (broker defaults, KIP-464); v5 flexible, and the response carries the
 * resulting configs, partitions and replication factor, plus tagged topicConfigErrorCode (KIP-525);
 * v6 may return THROTTLING_QUOTA_EXCEEDED (KIP-599); v7 returns the new topicId.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const createTopicsRequest = message({
  name: 'CreateTopics',
  apiKey: 19,
  type: 'request',
  validVersions: '2-7',
  flexibleVersions: '5+',
  fields: [
    array('topics', [
      field('name', 'string'),
      field('numPartitions', 'int32'),
      field('replicationFactor', 'int16'),
      array('assignments', [
        field('partitionIndex', 'int32'),
        array('brokerIds', 'int32'),
      ]),
      array('configs', [
        field('name', 'string'),
        field('value', 'string', { nullable: '0+' }),
      ]),
    ]),
    field('timeoutMs', 'int32', { default: 60000 }),
    field('validateOnly', 'bool', { versions: '1+', default: false }),
  ],
});

export const createTopicsResponse = message({
  name: 'CreateTopics',
  apiKey: 19,
  type: 'response',
  validVersions: '2-7',
  flexibleVersions: '5+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '2+' }),
    array('topics', [
      field('name', 'string'),
      field('topicId', 'uuid', { versions: '7+' }),
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { versions: '1+', nullable: '0+' }),
      field('topicConfigErrorCode', 'int16', { versions: '5+', tag: 0, taggedVersions: '5+' }),
      field('numPartitions', 'int32', { versions: '5+', default: -1 }),
      field('replicationFactor', 'int16', { versions: '5+', default: -1 }),
      array('configs', [
        field('name', 'string', { versions: '5+' }),
        field('value', 'string', { versions: '5+', nullable: '5+' }),
        field('readOnly', 'bool', { versions: '5+' }),
        field('configSource', 'int8', { versions: '5+', default: -1 }),
        field('isSensitive', 'bool', { versions: '5+' }),
      ], { versions: '5+', nullable: '5+' }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type CreateTopicsRequest = Decoded<typeof createTopicsRequest>;
/** A response as the broker's handler builds it. */
export type CreateTopicsResponse = Encodable<typeof createTopicsResponse>;
/** A request as a client builds it. */
export type CreateTopicsRequestEncodable = Encodable<typeof createTopicsRequest>;
/** A response as a client receives it. */
export type CreateTopicsResponseDecoded = Decoded<typeof createTopicsResponse>;
