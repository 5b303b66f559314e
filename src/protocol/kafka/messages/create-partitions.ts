/**
 * CreatePartitions (key 37), versions 0-3, flexible from 2.
 *
 * v1 is v0; v2 flexible; v3 may return THROTTLING_QUOTA_EXCEEDED (KIP-599).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const createPartitionsRequest = message({
  name: 'CreatePartitions',
  apiKey: 37,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    array('topics', [
      field('name', 'string'),
      field('count', 'int32'),
      array('assignments', [
        array('brokerIds', 'int32'),
      ], { nullable: '0+' }),
    ]),
    field('timeoutMs', 'int32'),
    field('validateOnly', 'bool'),
  ],
});

export const createPartitionsResponse = message({
  name: 'CreatePartitions',
  apiKey: 37,
  type: 'response',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('results', [
      field('name', 'string'),
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { nullable: '0+', default: null }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type CreatePartitionsRequest = Decoded<typeof createPartitionsRequest>;
/** A response as the broker's handler builds it. */
export type CreatePartitionsResponse = Encodable<typeof createPartitionsResponse>;
/** A request as a client builds it. */
export type CreatePartitionsRequestEncodable = Encodable<typeof createPartitionsRequest>;
/** A response as a client receives it. */
export type CreatePartitionsResponseDecoded = Decoded<typeof createPartitionsResponse>;
