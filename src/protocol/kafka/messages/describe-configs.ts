/**
 * DescribeConfigs (key 32), versions 1-4, flexible from 4.
 *
 * v1 adds includeSynonyms, configSource and synonyms (v0's isDefault is gone); v3 adds
 * includeDocumentation, configType and documentation; v4 flexible.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const describeConfigsRequest = message({
  name: 'DescribeConfigs',
  apiKey: 32,
  type: 'request',
  validVersions: '1-4',
  flexibleVersions: '4+',
  fields: [
    array('resources', [
      field('resourceType', 'int8'),
      field('resourceName', 'string'),
      array('configurationKeys', 'string', { nullable: '0+' }),
    ]),
    field('includeSynonyms', 'bool', { versions: '1+', default: false }),
    field('includeDocumentation', 'bool', { versions: '3+', default: false }),
  ],
});

export const describeConfigsResponse = message({
  name: 'DescribeConfigs',
  apiKey: 32,
  type: 'response',
  validVersions: '1-4',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('results', [
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { nullable: '0+' }),
      field('resourceType', 'int8'),
      field('resourceName', 'string'),
      array('configs', [
        field('name', 'string'),
        field('value', 'string', { nullable: '0+' }),
        field('readOnly', 'bool'),
        field('configSource', 'int8', { versions: '1+', default: -1 }),
        field('isSensitive', 'bool'),
        array('synonyms', [
          field('name', 'string', { versions: '1+' }),
          field('value', 'string', { versions: '1+', nullable: '0+' }),
          field('source', 'int8', { versions: '1+' }),
        ], { versions: '1+' }),
        field('configType', 'int8', { versions: '3+', default: 0 }),
        field('documentation', 'string', { versions: '3+', nullable: '0+' }),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeConfigsRequest = Decoded<typeof describeConfigsRequest>;
/** A response as the broker's handler builds it. */
export type DescribeConfigsResponse = Encodable<typeof describeConfigsResponse>;
/** A request as a client builds it. */
export type DescribeConfigsRequestEncodable = Encodable<typeof describeConfigsRequest>;
/** A response as a client receives it. */
export type DescribeConfigsResponseDecoded = Decoded<typeof describeConfigsResponse>;
