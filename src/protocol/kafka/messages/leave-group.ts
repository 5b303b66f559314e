/**
 * LeaveGroup (key 13), versions 0-5, flexible from 4.
 *
 * v1 adds throttleTimeMs; v3 turns the single memberId into a batch of members with
 * groupInstanceId (KIP-345) and answers per member; v4 flexible; v5 per-member reason (KIP-800).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const leaveGroupRequest = message({
  name: 'LeaveGroup',
  apiKey: 13,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    field('groupId', 'string'),
    field('memberId', 'string', { versions: '0-2' }),
    array('members', [
      field('memberId', 'string', { versions: '3+' }),
      field('groupInstanceId', 'string', { versions: '3+', nullable: '3+', default: null }),
      field('reason', 'string', { versions: '5+', nullable: '5+', default: null }),
    ], { versions: '3+' }),
  ],
});

export const leaveGroupResponse = message({
  name: 'LeaveGroup',
  apiKey: 13,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16'),
    array('members', [
      field('memberId', 'string', { versions: '3+' }),
      field('groupInstanceId', 'string', { versions: '3+', nullable: '3+' }),
      field('errorCode', 'int16', { versions: '3+' }),
    ], { versions: '3+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type LeaveGroupRequest = Decoded<typeof leaveGroupRequest>;
/** A response as the broker's handler builds it. */
export type LeaveGroupResponse = Encodable<typeof leaveGroupResponse>;
/** A request as a client builds it. */
export type LeaveGroupRequestEncodable = Encodable<typeof leaveGroupRequest>;
/** A response as a client receives it. */
export type LeaveGroupResponseDecoded = Decoded<typeof leaveGroupResponse>;
