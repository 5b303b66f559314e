/**
 * DeleteGroups (key 42), versions 0-2, flexible from 2.
 *
 * v1 is v0; v2 flexible.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const deleteGroupsRequest = message({
  name: 'DeleteGroups',
  apiKey: 42,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    array('groupsNames', 'string'),
  ],
});

export const deleteGroupsResponse = message({
  name: 'DeleteGroups',
  apiKey: 42,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('results', [
      field('groupId', 'string'),
      field('errorCode', 'int16'),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DeleteGroupsRequest = Decoded<typeof deleteGroupsRequest>;
/** A response as the broker's handler builds it. */
export type DeleteGroupsResponse = Encodable<typeof deleteGroupsResponse>;
/** A request as a client builds it. */
export type DeleteGroupsRequestEncodable = Encodable<typeof deleteGroupsRequest>;
/** A response as a client receives it. */
export type DeleteGroupsResponseDecoded = Decoded<typeof deleteGroupsResponse>;
