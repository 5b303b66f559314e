/**
 * DescribeCluster (key 60), versions 0-2, flexible in all versions.
 *
 * v1 adds endpointType (1 brokers, 2 controllers; KIP-919); v2 adds includeFencedBrokers and a
 * per-broker isFenced (KIP-1073).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const describeClusterRequest = message({
  name: 'DescribeCluster',
  apiKey: 60,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '0+',
  fields: [
    field('includeClusterAuthorizedOperations', 'bool'),
    field('endpointType', 'int8', { versions: '1+', default: 1 }),
    field('includeFencedBrokers', 'bool', { versions: '2+' }),
  ],
});

export const describeClusterResponse = message({
  name: 'DescribeCluster',
  apiKey: 60,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16'),
    field('errorMessage', 'string', { nullable: '0+', default: null }),
    field('endpointType', 'int8', { versions: '1+', default: 1 }),
    field('clusterId', 'string'),
    field('controllerId', 'int32', { default: -1 }),
    array('brokers', [
      field('brokerId', 'int32'),
      field('host', 'string'),
      field('port', 'int32'),
      field('rack', 'string', { nullable: '0+', default: null }),
      field('isFenced', 'bool', { versions: '2+' }),
    ]),
    field('clusterAuthorizedOperations', 'int32', { default: -2147483648 }),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeClusterRequest = Decoded<typeof describeClusterRequest>;
/** A response as the broker's handler builds it. */
export type DescribeClusterResponse = Encodable<typeof describeClusterResponse>;
/** A request as a client builds it. */
export type DescribeClusterRequestEncodable = Encodable<typeof describeClusterRequest>;
/** A response as a client receives it. */
export type DescribeClusterResponseDecoded = Decoded<typeof describeClusterResponse>;
