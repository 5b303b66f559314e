/**
 * Metadata (key 3), versions 0-13, flexible from 9.
 *
 * v0: an empty topics array means all topics; from v1 null means all and empty means none. v1 adds
 * rack, controllerId and isInternal; v2 clusterId; v3 throttleTimeMs; v4 allowAutoTopicCreation; v5
 * offlineReplicas; v7 leaderEpoch; v8 authorized operations; v9 flexible; v10 topicId (v10-11 must not
 * use it); v11 drops includeClusterAuthorizedOperations (see DescribeCluster); v12 lookups by topicId
 * with a null name; v13 top-level errorCode.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const metadataRequest = message({
  name: 'Metadata',
  apiKey: 3,
  type: 'request',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    array('topics', [
      field('topicId', 'uuid', { versions: '10+' }),
      field('name', 'string', { nullable: '10+' }),
    ], { nullable: '1+' }),
    field('allowAutoTopicCreation', 'bool', { versions: '4+', default: true }),
    field('includeClusterAuthorizedOperations', 'bool', { versions: '8-10' }),
    field('includeTopicAuthorizedOperations', 'bool', { versions: '8+' }),
  ],
});

export const metadataResponse = message({
  name: 'Metadata',
  apiKey: 3,
  type: 'response',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '3+' }),
    array('brokers', [
      field('nodeId', 'int32'),
      field('host', 'string'),
      field('port', 'int32'),
      field('rack', 'string', { versions: '1+', nullable: '1+', default: null }),
    ]),
    field('clusterId', 'string', { versions: '2+', nullable: '2+', default: null }),
    field('controllerId', 'int32', { versions: '1+', default: -1 }),
    array('topics', [
      field('errorCode', 'int16'),
      field('name', 'string', { nullable: '12+' }),
      field('topicId', 'uuid', { versions: '10+' }),
      field('isInternal', 'bool', { versions: '1+', default: false }),
      array('partitions', [
        field('errorCode', 'int16'),
        field('partitionIndex', 'int32'),
        field('leaderId', 'int32'),
        field('leaderEpoch', 'int32', { versions: '7+', default: -1 }),
        array('replicaNodes', 'int32'),
        array('isrNodes', 'int32'),
        array('offlineReplicas', 'int32', { versions: '5+' }),
      ]),
      field('topicAuthorizedOperations', 'int32', { versions: '8+', default: -2147483648 }),
    ]),
    field('clusterAuthorizedOperations', 'int32', { versions: '8-10', default: -2147483648 }),
    field('errorCode', 'int16', { versions: '13+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type MetadataRequest = Decoded<typeof metadataRequest>;
/** A response as the broker's handler builds it. */
export type MetadataResponse = Encodable<typeof metadataResponse>;
/** A request as a client builds it. */
export type MetadataRequestEncodable = Encodable<typeof metadataRequest>;
/** A response as a client receives it. */
export type MetadataResponseDecoded = Decoded<typeof metadataResponse>;
