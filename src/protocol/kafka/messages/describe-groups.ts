/**
 * DescribeGroups (key 15), versions 0-6, flexible from 5.
 *
 * v1 adds throttleTimeMs; v3 authorized operations; v4 members' groupInstanceId; v5 flexible;
 * v6 per-group errorMessage and GROUP_ID_NOT_FOUND for unknown groups (KIP-1043).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const describeGroupsRequest = message({
  name: 'DescribeGroups',
  apiKey: 15,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    array('groups', 'string'),
    field('includeAuthorizedOperations', 'bool', { versions: '3+' }),
  ],
});

export const describeGroupsResponse = message({
  name: 'DescribeGroups',
  apiKey: 15,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '5+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    array('groups', [
      field('errorCode', 'int16'),
      field('errorMessage', 'string', { versions: '6+', nullable: '6+', default: null }),
      field('groupId', 'string'),
      field('groupState', 'string'),
      field('protocolType', 'string'),
      field('protocolData', 'string'),
      array('members', [
        field('memberId', 'string'),
        field('groupInstanceId', 'string', { versions: '4+', nullable: '4+', default: null }),
        field('clientId', 'string'),
        field('clientHost', 'string'),
        field('memberMetadata', 'bytes'),
        field('memberAssignment', 'bytes'),
      ]),
      field('authorizedOperations', 'int32', { versions: '3+', default: -2147483648 }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeGroupsRequest = Decoded<typeof describeGroupsRequest>;
/** A response as the broker's handler builds it. */
export type DescribeGroupsResponse = Encodable<typeof describeGroupsResponse>;
/** A request as a client builds it. */
export type DescribeGroupsRequestEncodable = Encodable<typeof describeGroupsRequest>;
/** A response as a client receives it. */
export type DescribeGroupsResponseDecoded = Decoded<typeof describeGroupsResponse>;
