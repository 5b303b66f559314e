/**
 * Heartbeat (key 12), versions 0-4, flexible from 4.
 *
 * v1 adds throttleTimeMs; v3 groupInstanceId; v4 flexible.
 */
import { field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const heartbeatRequest = message({
  name: 'Heartbeat',
  apiKey: 12,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    field('groupId', 'string'),
    field('generationId', 'int32'),
    field('memberId', 'string'),
    field('groupInstanceId', 'string', { versions: '3+', nullable: '3+', default: null }),
  ],
});

export const heartbeatResponse = message({
  name: 'Heartbeat',
  apiKey: 12,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16'),
  ],
});

/** A request as the broker's handler receives it. */
export type HeartbeatRequest = Decoded<typeof heartbeatRequest>;
/** A response as the broker's handler builds it. */
export type HeartbeatResponse = Encodable<typeof heartbeatResponse>;
/** A request as a client builds it. */
export type HeartbeatRequestEncodable = Encodable<typeof heartbeatRequest>;
/** A response as a client receives it. */
export type HeartbeatResponseDecoded = Decoded<typeof heartbeatResponse>;
