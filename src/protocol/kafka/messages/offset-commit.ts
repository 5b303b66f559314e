/**
 * OffsetCommit (key 8), versions 0-9, flexible from 8.
 *
 * v1 adds generationIdOrMemberEpoch, memberId and a per-partition commitTimestamp (v1 only); v2
 * retentionTimeMs (v2-4); v3 throttleTimeMs; v6 committedLeaderEpoch; v7 groupInstanceId; v8
 * flexible; v9 usable by KIP-848 consumer groups (member epoch in generationIdOrMemberEpoch).
 * Kafka 4.0 dropped v0-1 (and with them commitTimestamp); kept here for older clients.
 * (Kafka 4.1 also has v10 with topic ids; not declared here.)
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const offsetCommitRequest = message({
  name: 'OffsetCommit',
  apiKey: 8,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    field('groupId', 'string'),
    field('generationIdOrMemberEpoch', 'int32', { versions: '1+', default: -1 }),
    field('memberId', 'string', { versions: '1+' }),
    field('groupInstanceId', 'string', { versions: '7+', nullable: '7+', default: null }),
    field('retentionTimeMs', 'int64', { versions: '2-4', default: -1 }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('committedOffset', 'int64'),
        field('committedLeaderEpoch', 'int32', { versions: '6+', default: -1 }),
        field('commitTimestamp', 'int64', { versions: '1', default: -1 }),
        field('committedMetadata', 'string', { nullable: '0+' }),
      ]),
    ]),
  ],
});

export const offsetCommitResponse = message({
  name: 'OffsetCommit',
  apiKey: 8,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '8+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '3+' }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('errorCode', 'int16'),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type OffsetCommitRequest = Decoded<typeof offsetCommitRequest>;
/** A response as the broker's handler builds it. */
export type OffsetCommitResponse = Encodable<typeof offsetCommitResponse>;
/** A request as a client builds it. */
export type OffsetCommitRequestEncodable = Encodable<typeof offsetCommitRequest>;
/** A response as a client receives it. */
export type OffsetCommitResponseDecoded = Decoded<typeof offsetCommitResponse>;
