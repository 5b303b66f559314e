/**
 * SyncGroup (key 14), versions 0-5, flexible from 4.
 *
 * v1 adds throttleTimeMs; v3 groupInstanceId; v4 flexible; v5 protocolType and protocolName in
 * both directions, checked against the group's (KIP-559).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const syncGroupRequest = message({
  name: 'SyncGroup',
  apiKey: 14,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    field('groupId', 'string'),
    field('generationId', 'int32'),
    field('memberId', 'string'),
    field('groupInstanceId', 'string', { versions: '3+', nullable: '3+', default: null }),
    field('protocolType', 'string', { versions: '5+', nullable: '5+', default: null }),
    field('protocolName', 'string', { versions: '5+', nullable: '5+', default: null }),
    array('assignments', [
      field('memberId', 'string'),
      field('assignment', 'bytes'),
    ]),
  ],
});

export const syncGroupResponse = message({
  name: 'SyncGroup',
  apiKey: 14,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16'),
    field('protocolType', 'string', { versions: '5+', nullable: '5+', default: null }),
    field('protocolName', 'string', { versions: '5+', nullable: '5+', default: null }),
    field('assignment', 'bytes'),
  ],
});

/** A request as the broker's handler receives it. */
export type SyncGroupRequest = Decoded<typeof syncGroupRequest>;
/** A response as the broker's handler builds it. */
export type SyncGroupResponse = Encodable<typeof syncGroupResponse>;
/** A request as a client builds it. */
export type SyncGroupRequestEncodable = Encodable<typeof syncGroupRequest>;
/** A response as a client receives it. */
export type SyncGroupResponseDecoded = Decoded<typeof syncGroupResponse>;
