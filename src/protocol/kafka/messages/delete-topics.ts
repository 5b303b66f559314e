/**
 * DeleteTopics (key 20), versions 1-6, flexible from 4.
 *
 * v1 adds throttleTimeMs; v4 flexible; v5 errorMessage and THROTTLING_QUOTA_EXCEEDED (KIP-599);
 * v6 replaces topicNames by topics {name | topicId} and returns topicId (name may be null).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const deleteTopicsRequest = message({
  name: 'DeleteTopics',
  apiKey: 20,
  type: 'request',
  validVersions: '1-6',
  flexibleVersions: '4+',
  fields: [
    array('topics', [
      field('name', 'string', { versions: '6+', nullable: '6+', default: null }),
      field('topicId', 'uuid', { versions: '6+' }),
    ], { versions: '6+' }),
    array('topicNames', 'string', { versions: '0-5' }),
    field('timeoutMs', 'int32'),
  ],
});

export const deleteTopicsResponse = message({
  name: 'DeleteTopics',
  apiKey: 20,
  type: 'response',
  validVersions: '1-6',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    array('responses', [
      field('name', 'string', { nullable: '6+' }),
      field('topicId', 'uuid', { versions: '6+' }),
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { versions: '5+', nullable: '5+', default: null }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DeleteTopicsRequest = Decoded<typeof deleteTopicsRequest>;
/** A response as the broker's handler builds it. */
export type DeleteTopicsResponse = Encodable<typeof deleteTopicsResponse>;
/** A request as a client builds it. */
export type DeleteTopicsRequestEncodable = Encodable<typeof deleteTopicsRequest>;
/** A response as a client receives it. */
export type DeleteTopicsResponseDecoded = Decoded<typeof deleteTopicsResponse>;
