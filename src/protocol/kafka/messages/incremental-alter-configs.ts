/**
 * IncrementalAlterConfigs (key 44), versions 0-1, flexible from 1.
 *
 * configOperation: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (KIP-339).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const incrementalAlterConfigsRequest = message({
  name: 'IncrementalAlterConfigs',
  apiKey: 44,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    array('resources', [
      field('resourceType', 'int8'),
      field('resourceName', 'string'),
      array('configs', [
        field('name', 'string'),
        field('configOperation', 'int8'),
        field('value', 'string', { nullable: '0+' }),
      ]),
    ]),
    field('validateOnly', 'bool'),
  ],
});

export const incrementalAlterConfigsResponse = message({
  name: 'IncrementalAlterConfigs',
  apiKey: 44,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
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
export type IncrementalAlterConfigsRequest = Decoded<typeof incrementalAlterConfigsRequest>;
/** A response as the broker's handler builds it. */
export type IncrementalAlterConfigsResponse = Encodable<typeof incrementalAlterConfigsResponse>;
/** A request as a client builds it. */
export type IncrementalAlterConfigsRequestEncodable = Encodable<typeof incrementalAlterConfigsRequest>;
/** A response as a client receives it. */
export type IncrementalAlterConfigsResponseDecoded = Decoded<typeof incrementalAlterConfigsResponse>;
