/**
 * DeleteRecords (key 21), versions 0-2, flexible from 2.
 *
 * v1 is v0; v2 is flexible. An offset of -1 means "up to the high watermark".
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const deleteRecordsRequest = message({
  name: 'DeleteRecords',
  apiKey: 21,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('offset', 'int64'),
      ]),
    ]),
    field('timeoutMs', 'int32'),
  ],
});

export const deleteRecordsResponse = message({
  name: 'DeleteRecords',
  apiKey: 21,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('lowWatermark', 'int64'),
        field('errorCode', 'int16'),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DeleteRecordsRequest = Decoded<typeof deleteRecordsRequest>;
/** A response as the broker's handler builds it. */
export type DeleteRecordsResponse = Encodable<typeof deleteRecordsResponse>;
/** A request as a client builds it. */
export type DeleteRecordsRequestEncodable = Encodable<typeof deleteRecordsRequest>;
/** A response as a client receives it. */
export type DeleteRecordsResponseDecoded = Decoded<typeof deleteRecordsResponse>;
