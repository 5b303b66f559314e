/**
 * Fetch (key 1), versions 4-18, flexible from 12.
 *
 * v4 isolationLevel and abortedTransactions; v5 logStartOffset; v7 fetch sessions (KIP-227); v9
 * currentLeaderEpoch; v10 allows zstd; v11 rackId and preferredReadReplica; v12 flexible, with
 * lastFetchedEpoch and tagged divergingEpoch / currentLeader / snapshotId; v13 topicId replaces topic
 * names (KIP-516); v15 moves the follower's id into tagged replicaState (KIP-903); v16 tagged
 * nodeEndpoints (KIP-951); v17 tagged replicaDirectoryId (KIP-853); v18 tagged per-partition
 * highWatermark from followers (default int64 max: "not supported").
 *
 * v0-3 (message format v0/v1 only) are left out: every client we target starts at v4.
 */
import { array, field, message, struct } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const fetchRequest = message({
  name: 'Fetch',
  apiKey: 1,
  type: 'request',
  validVersions: '4-18',
  flexibleVersions: '12+',
  fields: [
    field('clusterId', 'string', { versions: '12+', nullable: '12+', tag: 0, taggedVersions: '12+', default: null }),
    field('replicaId', 'int32', { versions: '0-14', default: -1 }),
    struct('replicaState', [
      field('replicaId', 'int32', { versions: '15+', default: -1 }),
      field('replicaEpoch', 'int64', { versions: '15+', default: -1 }),
    ], { versions: '15+', tag: 1, taggedVersions: '15+' }),
    field('maxWaitMs', 'int32'),
    field('minBytes', 'int32'),
    field('maxBytes', 'int32', { versions: '3+', default: 2147483647 }),
    field('isolationLevel', 'int8', { versions: '4+', default: 0 }),
    field('sessionId', 'int32', { versions: '7+', default: 0 }),
    field('sessionEpoch', 'int32', { versions: '7+', default: -1 }),
    array('topics', [
      field('topic', 'string', { versions: '0-12' }),
      field('topicId', 'uuid', { versions: '13+' }),
      array('partitions', [
        field('partition', 'int32'),
        field('currentLeaderEpoch', 'int32', { versions: '9+', default: -1 }),
        field('fetchOffset', 'int64'),
        field('lastFetchedEpoch', 'int32', { versions: '12+', default: -1 }),
        field('logStartOffset', 'int64', { versions: '5+', default: -1 }),
        field('partitionMaxBytes', 'int32'),
        field('replicaDirectoryId', 'uuid', { versions: '17+', tag: 0, taggedVersions: '17+' }),
        field('highWatermark', 'int64', { versions: '18+', tag: 1, taggedVersions: '18+', default: '9223372036854775807' }),
      ]),
    ]),
    array('forgottenTopicsData', [
      field('topic', 'string', { versions: '7-12' }),
      field('topicId', 'uuid', { versions: '13+' }),
      array('partitions', 'int32', { versions: '7+' }),
    ], { versions: '7+' }),
    field('rackId', 'string', { versions: '11+', default: '' }),
  ],
});

export const fetchResponse = message({
  name: 'Fetch',
  apiKey: 1,
  type: 'response',
  validVersions: '4-18',
  flexibleVersions: '12+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16', { versions: '7+' }),
    field('sessionId', 'int32', { versions: '7+', default: 0 }),
    array('responses', [
      field('topic', 'string', { versions: '0-12' }),
      field('topicId', 'uuid', { versions: '13+' }),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('errorCode', 'int16'),
        field('highWatermark', 'int64'),
        field('lastStableOffset', 'int64', { versions: '4+', default: -1 }),
        field('logStartOffset', 'int64', { versions: '5+', default: -1 }),
        struct('divergingEpoch', [
          field('epoch', 'int32', { versions: '12+', default: -1 }),
          field('endOffset', 'int64', { versions: '12+', default: -1 }),
        ], { versions: '12+', tag: 0, taggedVersions: '12+' }),
        struct('currentLeader', [
          field('leaderId', 'int32', { versions: '12+', default: -1 }),
          field('leaderEpoch', 'int32', { versions: '12+', default: -1 }),
        ], { versions: '12+', tag: 1, taggedVersions: '12+' }),
        struct('snapshotId', [
          field('endOffset', 'int64', { default: -1 }),
          field('epoch', 'int32', { default: -1 }),
        ], { versions: '12+', tag: 2, taggedVersions: '12+' }),
        array('abortedTransactions', [
          field('producerId', 'int64', { versions: '4+' }),
          field('firstOffset', 'int64', { versions: '4+' }),
        ], { versions: '4+', nullable: '4+' }),
        field('preferredReadReplica', 'int32', { versions: '11+', default: -1 }),
        field('records', 'records', { nullable: '0+' }),
      ]),
    ]),
    array('nodeEndpoints', [
      field('nodeId', 'int32', { versions: '16+' }),
      field('host', 'string', { versions: '16+' }),
      field('port', 'int32', { versions: '16+' }),
      field('rack', 'string', { versions: '16+', nullable: '16+', default: null }),
    ], { versions: '16+', tag: 0, taggedVersions: '16+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type FetchRequest = Decoded<typeof fetchRequest>;
/** A response as the broker's handler builds it. */
export type FetchResponse = Encodable<typeof fetchResponse>;
/** A request as a client builds it. */
export type FetchRequestEncodable = Encodable<typeof fetchRequest>;
/** A response as a client receives it. */
export type FetchResponseDecoded = Decoded<typeof fetchResponse>;
