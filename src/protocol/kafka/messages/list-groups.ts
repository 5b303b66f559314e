/**
 * ListGroups (key 16), versions 0-5, flexible from 3.
 *
 * v1 adds throttleTimeMs; v3 flexible; v4 statesFilter and groupState (KIP-518); v5 typesFilter and
 * groupType (classic / consumer / share, KIP-848).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const listGroupsRequest = message({
  name: 'ListGroups',
  apiKey: 16,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    array('statesFilter', 'string', { versions: '4+' }),
    array('typesFilter', 'string', { versions: '5+' }),
  ],
});

export const listGroupsResponse = message({
  name: 'ListGroups',
  apiKey: 16,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '3+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16'),
    array('groups', [
      field('groupId', 'string'),
      field('protocolType', 'string'),
      field('groupState', 'string', { versions: '4+' }),
      field('groupType', 'string', { versions: '5+' }),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type ListGroupsRequest = Decoded<typeof listGroupsRequest>;
/** A response as the broker's handler builds it. */
export type ListGroupsResponse = Encodable<typeof listGroupsResponse>;
/** A request as a client builds it. */
export type ListGroupsRequestEncodable = Encodable<typeof listGroupsRequest>;
/** A response as a client receives it. */
export type ListGroupsResponseDecoded = Decoded<typeof listGroupsResponse>;
