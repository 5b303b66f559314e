/**
 * AlterConfigs (key 33), versions 0-2, flexible from 2.
 *
 * v1 is v0; v2 is flexible. Replaces the whole configuration of each resource (the incremental
 * form is IncrementalAlterConfigs).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const alterConfigsRequest = message({
  name: 'AlterConfigs',
  apiKey: 33,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    array('resources', [
      field('resourceType', 'int8'),
      field('resourceName', 'string'),
      array('configs', [
        field('name', 'string'),
        field('value', 'string', { nullable: '0+' }),
      ]),
    ]),
    field('validateOnly', 'bool'),
  ],
});

export const alterConfigsResponse = message({
  name: 'AlterConfigs',
  apiKey: 33,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('responses', [
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { nullable: '0+' }),
      field('resourceType', 'int8'),
      field('resourceName', 'string'),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type AlterConfigsRequest = Decoded<typeof alterConfigsRequest>;
/** A response as the broker's handler builds it. */
export type AlterConfigsResponse = Encodable<typeof alterConfigsResponse>;
/** A request as a client builds it. */
export type AlterConfigsRequestEncodable = Encodable<typeof alterConfigsRequest>;
/** A response as a client receives it. */
export type AlterConfigsResponseDecoded = Decoded<typeof alterConfigsResponse>;
