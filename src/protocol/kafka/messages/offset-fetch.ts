/**
 * OffsetFetch (key 9), versions 0-9, flexible from 6.
 *
 * v0 read ZooKeeper-stored offsets (answered here like v1); v2 null topics means all, and a
 * top-level errorCode; v3 throttleTimeMs; v5 committedLeaderEpoch; v6 flexible; v7 requireStable;
 * v8 several groups per request (groups replaces groupId/topics); v9 memberId and memberEpoch for
 * KIP-848 groups. Kafka 4.0 dropped v0. (Kafka 4.1 also has v10 with topic ids; not declared here.)
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const offsetFetchRequest = message({
  name: 'OffsetFetch',
  apiKey: 9,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    field('groupId', 'string', { versions: '0-7' }),
    array('topics', [
      field('name', 'string', { versions: '0-7' }),
      array('partitionIndexes', 'int32', { versions: '0-7' }),
    ], { versions: '0-7', nullable: '2-7' }),
    array('groups', [
      field('groupId', 'string', { versions: '8+' }),
      field('memberId', 'string', { versions: '9+', nullable: '9+', default: null }),
      field('memberEpoch', 'int32', { versions: '9+', default: -1 }),
      array('topics', [
        field('name', 'string', { versions: '8+' }),
        array('partitionIndexes', 'int32', { versions: '8+' }),
      ], { versions: '8+', nullable: '8+' }),
    ], { versions: '8+' }),
    field('requireStable', 'bool', { versions: '7+', default: false }),
  ],
});

export const offsetFetchResponse = message({
  name: 'OffsetFetch',
  apiKey: 9,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '3+' }),
    array('topics', [
      field('name', 'string', { versions: '0-7' }),
      array('partitions', [
        field('partitionIndex', 'int32', { versions: '0-7' }),
        field('committedOffset', 'int64', { versions: '0-7' }),
        field('committedLeaderEpoch', 'int32', { versions: '5-7', default: -1 }),
        field('metadata', 'string', { versions: '0-7', nullable: '0-7' }),
        field('errorCode', 'int16', { versions: '0-7' }),
      ], { versions: '0-7' }),
    ], { versions: '0-7' }),
    field('errorCode', 'int16', { versions: '2-7', default: 0 }),
    array('groups', [
      field('groupId', 'string', { versions: '8+' }),
      array('topics', [
        field('name', 'string', { versions: '8+' }),
        array('partitions', [
          field('partitionIndex', 'int32', { versions: '8+' }),
          field('committedOffset', 'int64', { versions: '8+' }),
          field('committedLeaderEpoch', 'int32', { versions: '8+', default: -1 }),
          field('metadata', 'string', { versions: '8+', nullable: '8+' }),
          field('errorCode', 'int16', { versions: '8+' }),
        ], { versions: '8+' }),
      ], { versions: '8+' }),
      field('errorCode', 'int16', { versions: '8+', default: 0 }),
    ], { versions: '8+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type OffsetFetchRequest = Decoded<typeof offsetFetchRequest>;
/** A response as the broker's handler builds it. */
export type OffsetFetchResponse = Encodable<typeof offsetFetchResponse>;
/** A request as a client builds it. */
export type OffsetFetchRequestEncodable = Encodable<typeof offsetFetchRequest>;
/** A response as a client receives it. */
export type OffsetFetchResponseDecoded = Decoded<typeof offsetFetchResponse>;
