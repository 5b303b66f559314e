/**
 * ListOffsets (key 2), versions 1-10, flexible from 6.
 *
 * v1 returns one offset and its timestamp; v2 isolationLevel and throttleTimeMs; v4 leader epochs;
 * v6 flexible; v7 max-timestamp lookup (-3, KIP-734); v8 local log start (-4, KIP-405); v9 last tiered
 * offset (-5, KIP-1005); v10 adds timeoutMs for remote-storage lookups (KIP-1075).
 * v0 (maxNumOffsets, an array of old-style offsets) is left out, as in Kafka 4.x.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const listOffsetsRequest = message({
  name: 'ListOffsets',
  apiKey: 2,
  type: 'request',
  validVersions: '1-10',
  flexibleVersions: '6+',
  fields: [
    field('replicaId', 'int32'),
    field('isolationLevel', 'int8', { versions: '2+' }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('currentLeaderEpoch', 'int32', { versions: '4+', default: -1 }),
        field('timestamp', 'int64'),
      ]),
    ]),
    field('timeoutMs', 'int32', { versions: '10+' }),
  ],
});

export const listOffsetsResponse = message({
  name: 'ListOffsets',
  apiKey: 2,
  type: 'response',
  validVersions: '1-10',
  flexibleVersions: '6+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '2+' }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('errorCode', 'int16'),
        field('timestamp', 'int64', { versions: '1+', default: -1 }),
        field('offset', 'int64', { versions: '1+', default: -1 }),
        field('leaderEpoch', 'int32', { versions: '4+', default: -1 }),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type ListOffsetsRequest = Decoded<typeof listOffsetsRequest>;
/** A response as the broker's handler builds it. */
export type ListOffsetsResponse = Encodable<typeof listOffsetsResponse>;
/** A request as a client builds it. */
export type ListOffsetsRequestEncodable = Encodable<typeof listOffsetsRequest>;
/** A response as a client receives it. */
export type ListOffsetsResponseDecoded = Decoded<typeof listOffsetsResponse>;
