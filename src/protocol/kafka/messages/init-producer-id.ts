/**
 * InitProducerId (key 22), versions 0-5, flexible from 2.
 *
 * v2 flexible; v3 adds producerId/producerEpoch so a producer can resume after INVALID_PRODUCER_EPOCH
 * (KIP-360); v4 may return PRODUCER_FENCED; v5 TRANSACTION_ABORTABLE (KIP-890).
 * (Kafka 4.1 also has a v6 response for two-phase commit, KIP-939; not declared here.)
 */
import { field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const initProducerIdRequest = message({
  name: 'InitProducerId',
  apiKey: 22,
  type: 'request',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    field('transactionalId', 'string', { nullable: '0+' }),
    field('transactionTimeoutMs', 'int32'),
    field('producerId', 'int64', { versions: '3+', default: -1 }),
    field('producerEpoch', 'int16', { versions: '3+', default: -1 }),
  ],
});

export const initProducerIdResponse = message({
  name: 'InitProducerId',
  apiKey: 22,
  type: 'response',
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16'),
    field('producerId', 'int64', { default: -1 }),
    field('producerEpoch', 'int16'),
  ],
});

/** A request as the broker's handler receives it. */
export type InitProducerIdRequest = Decoded<typeof initProducerIdRequest>;
/** A response as the broker's handler builds it. */
export type InitProducerIdResponse = Encodable<typeof initProducerIdResponse>;
/** A request as a client builds it. */
export type InitProducerIdRequestEncodable = Encodable<typeof initProducerIdRequest>;
/** A response as a client receives it. */
export type InitProducerIdResponseDecoded = Decoded<typeof initProducerIdResponse>;
