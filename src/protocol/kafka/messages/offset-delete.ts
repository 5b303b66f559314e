/**
 * OffsetDelete (key 47), version 0 only, never flexible.
 *
 * Deletes committed offsets of partitions a group no longer subscribes to (KIP-496).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const offsetDeleteRequest = message({
  name: 'OffsetDelete',
  apiKey: 47,
  type: 'request',
  validVersions: '0',
  flexibleVersions: 'none',
  fields: [
    field('groupId', 'string'),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
      ]),
    ]),
  ],
});

export const offsetDeleteResponse = message({
  name: 'OffsetDelete',
  apiKey: 47,
  type: 'response',
  validVersions: '0',
  flexibleVersions: 'none',
  fields: [
    field('errorCode', 'int16'),
    field('throttleTimeMs', 'int32'),
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
export type OffsetDeleteRequest = Decoded<typeof offsetDeleteRequest>;
/** A response as the broker's handler builds it. */
export type OffsetDeleteResponse = Encodable<typeof offsetDeleteResponse>;
/** A request as a client builds it. */
export type OffsetDeleteRequestEncodable = Encodable<typeof offsetDeleteRequest>;
/** A response as a client receives it. */
export type OffsetDeleteResponseDecoded = Decoded<typeof offsetDeleteResponse>;
