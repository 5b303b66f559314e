/**
 * Produce (key 0), versions 0-13, flexible from 9.
 *
 * v1 adds throttleTimeMs, v2 logAppendTimeMs; v3 adds transactionalId and record batch v2 (magic 2);
 * v5 logStartOffset; v7 allows zstd; v8 per-record errors (recordErrors, errorMessage); v9 flexible;
 * v10 tagged currentLeader and nodeEndpoints (KIP-951); v11-12 only new error codes (KIP-890);
 * v13 identifies topics by topicId instead of name (KIP-516).
 *
 * Kafka 4.x accepts only v3+ but still advertises v0 for librdkafka (KAFKA-18659); v0-2 are declared
 * here so they can be advertised and answered (v0-2 carry message format v0/v1 batches).
 */
import { array, field, message, struct } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const produceRequest = message({
  name: 'Produce',
  apiKey: 0,
  type: 'request',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    field('transactionalId', 'string', { versions: '3+', nullable: '3+', default: null }),
    field('acks', 'int16'),
    field('timeoutMs', 'int32'),
    array('topicData', [
      field('name', 'string', { versions: '0-12' }),
      field('topicId', 'uuid', { versions: '13+' }),
      array('partitionData', [
        field('index', 'int32'),
        field('records', 'records', { nullable: '0+' }),
      ]),
    ]),
  ],
});

export const produceResponse = message({
  name: 'Produce',
  apiKey: 0,
  type: 'response',
  validVersions: '0-13',
  flexibleVersions: '9+',
  fields: [
    array('responses', [
      field('name', 'string', { versions: '0-12' }),
      field('topicId', 'uuid', { versions: '13+' }),
      array('partitionResponses', [
        field('index', 'int32'),
        field('errorCode', 'int16'),
        field('baseOffset', 'int64'),
        field('logAppendTimeMs', 'int64', { versions: '2+', default: -1 }),
        field('logStartOffset', 'int64', { versions: '5+', default: -1 }),
        array('recordErrors', [
          field('batchIndex', 'int32', { versions: '8+' }),
          field('batchIndexErrorMessage', 'string', { versions: '8+', nullable: '8+', default: null }),
        ], { versions: '8+' }),
        field('errorMessage', 'string', { versions: '8+', nullable: '8+', default: null }),
        struct('currentLeader', [
          field('leaderId', 'int32', { versions: '10+', default: -1 }),
          field('leaderEpoch', 'int32', { versions: '10+', default: -1 }),
        ], { versions: '10+', tag: 0, taggedVersions: '10+' }),
      ]),
    ]),
    field('throttleTimeMs', 'int32', { versions: '1+', default: 0 }),
    array('nodeEndpoints', [
      field('nodeId', 'int32', { versions: '10+' }),
      field('host', 'string', { versions: '10+' }),
      field('port', 'int32', { versions: '10+' }),
      field('rack', 'string', { versions: '10+', nullable: '10+', default: null }),
    ], { versions: '10+', tag: 0, taggedVersions: '10+' }),
  ],
});

/** A request as the broker's handler receives it. */
export type ProduceRequest = Decoded<typeof produceRequest>;
/** A response as the broker's handler builds it. */
export type ProduceResponse = Encodable<typeof produceResponse>;
/** A request as a client builds it. */
export type ProduceRequestEncodable = Encodable<typeof produceRequest>;
/** A response as a client receives it. */
export type ProduceResponseDecoded = Decoded<typeof produceResponse>;
