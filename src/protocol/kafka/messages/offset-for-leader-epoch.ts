/**
 * OffsetForLeaderEpoch (key 23), versions 0-4, flexible from 4.
 *
 * A consumer (replicaId -1) asks, per partition, where a leader epoch ends: the end offset of
 * the largest epoch not above the one given, and that epoch (KIP-320, to validate its position
 * after a leader change). v1 adds leaderEpoch to the answer; v2 currentLeaderEpoch (fencing stale
 * metadata) and throttleTimeMs; v3 replicaId (followers; -1 consumers, -2 unset).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const offsetForLeaderEpochRequest = message({
  name: 'OffsetForLeaderEpoch',
  apiKey: 23,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    field('replicaId', 'int32', { versions: '3+', default: -2 }),
    array('topics', [
      field('topic', 'string'),
      array('partitions', [
        field('partition', 'int32'),
        field('currentLeaderEpoch', 'int32', { versions: '2+', default: -1 }),
        field('leaderEpoch', 'int32'),
      ]),
    ]),
  ],
});

export const offsetForLeaderEpochResponse = message({
  name: 'OffsetForLeaderEpoch',
  apiKey: 23,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '2+' }),
    array('topics', [
      field('topic', 'string'),
      array('partitions', [
        field('errorCode', 'int16'),
        field('partition', 'int32'),
        field('leaderEpoch', 'int32', { versions: '1+', default: -1 }),
        field('endOffset', 'int64', { default: -1 }),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type OffsetForLeaderEpochRequest = Decoded<typeof offsetForLeaderEpochRequest>;
/** A response as the broker's handler builds it. */
export type OffsetForLeaderEpochResponse = Encodable<typeof offsetForLeaderEpochResponse>;
/** A request as a client builds it. */
export type OffsetForLeaderEpochRequestEncodable = Encodable<typeof offsetForLeaderEpochRequest>;
/** A response as a client receives it. */
export type OffsetForLeaderEpochResponseDecoded = Decoded<typeof offsetForLeaderEpochResponse>;
