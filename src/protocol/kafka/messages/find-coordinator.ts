/**
 * FindCoordinator (key 10), versions 0-6, flexible from 3.
 *
 * v1 adds keyType (0 group, 1 transaction), throttleTimeMs and errorMessage; v3 flexible; v4 batches
 * keys into coordinatorKeys / coordinators (KIP-699), replacing the single key and answer; v5
 * TRANSACTION_ABORTABLE; v6 keyType 2 for share groups (KIP-932).
 * Kafka 4.x must keep v0 advertised for librdkafka < 2.11 (KAFKA-19444).
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const findCoordinatorRequest = message({
  name: 'FindCoordinator',
  apiKey: 10,
  type: 'request',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    field('key', 'string', { versions: '0-3' }),
    field('keyType', 'int8', { versions: '1+', default: 0 }),
    array('coordinatorKeys', 'string', { versions: '4+' }),
  ],
});

export const findCoordinatorResponse = message({
  name: 'FindCoordinator',
  apiKey: 10,
  type: 'response',
  validVersions: '0-6',
  flexibleVersions: '3+',
  fields: [
    field('throttleTimeMs', 'int32', { versions: '1+' }),
    field('errorCode', 'int16', { versions: '0-3' }),
    field('errorMessage', 'string', { versions: '1-3', nullable: '1-3' }),
    field('nodeId', 'int32', { versions: '0-3' }),
    field('host', 'string', { versions: '0-3' }),
    field('port', 'int32', { versions: '0-3' }),
    array('coordinators', [
      field('key', 'string', { versions: '4+' }),
      field('nodeId', 'int32', { versions: '4+' }),
      field('host', 'string', { versions: '4+' }),
      field('port', 'int32', { versions: '4+' }),
      field('errorCode', 'int16', { versions: '4+' }),
      field('errorMessage', 'string', { versions: '4+', nullable: '4+' }),
    ], { versions: '4+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type FindCoordinatorRequest = Decoded<typeof findCoordinatorRequest>;
/** A response as the broker's handler builds it. */
export type FindCoordinatorResponse = Encodable<typeof findCoordinatorResponse>;
/** A request as a client builds it. */
export type FindCoordinatorRequestEncodable = Encodable<typeof findCoordinatorRequest>;
/** A response as a client receives it. */
export type FindCoordinatorResponseDecoded = Decoded<typeof findCoordinatorResponse>;
