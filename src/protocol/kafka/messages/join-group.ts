/**
 * JoinGroup (key 11), versions 0-9, flexible from 6.
 *
 * v1 rebalanceTimeoutMs; v2 throttleTimeMs; v4 an empty memberId gets MEMBER_ID_REQUIRED and must
 * rejoin; v5 groupInstanceId (static membership, KIP-345); v6 flexible; v7 protocolType in the
 * response (KIP-559); v8 reason (KIP-800); v9 skipAssignment.
 * Kafka 4.0 dropped v0-1 and 4.0.1 restored them: librdkafka < 2.11 needs v0 advertised (KAFKA-19444).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const joinGroupRequest = message({
  name: 'JoinGroup',
  apiKey: 11,
  type: 'request',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    field('groupId', 'string'),
    field('sessionTimeoutMs', 'int32'),
    field('rebalanceTimeoutMs', 'int32', { versions: '1+', default: -1 }),
    field('memberId', 'string'),
    field('groupInstanceId', 'string', { versions: '5+', nullable: '5+', default: null }),
    field('protocolType', 'string'),
    array('protocols', [
      field('name', 'string'),
      field('metadata', 'bytes'),
    ]),
    field('reason', 'string', { versions: '8+', nullable: '8+', default: null }),
  ],
});

export const joinGroupResponse = message({
  name: 'JoinGroup',
  apiKey: 11,
  type: 'response',
  validVersions: '0-9',
  flexibleVersions: '6+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '2+' }),
    field('errorCode', 'int16'),
    field('generationId', 'int32', { default: -1 }),
    field('protocolType', 'string', { versions: '7+', nullable: '7+', default: null }),
    field('protocolName', 'string', { nullable: '7+' }),
    field('leader', 'string'),
    field('skipAssignment', 'bool', { versions: '9+', default: false }),
    field('memberId', 'string'),
    array('members', [
      field('memberId', 'string'),
      field('groupInstanceId', 'string', { versions: '5+', nullable: '5+', default: null }),
      field('metadata', 'bytes'),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type JoinGroupRequest = Decoded<typeof joinGroupRequest>;
/** A response as the broker's handler builds it. */
export type JoinGroupResponse = Encodable<typeof joinGroupResponse>;
/** A request as a client builds it. */
export type JoinGroupRequestEncodable = Encodable<typeof joinGroupRequest>;
/** A response as a client receives it. */
export type JoinGroupResponseDecoded = Decoded<typeof joinGroupResponse>;
