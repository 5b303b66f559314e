/**
 * DescribeProducers (key 61), version 0, flexible (KIP-664).
 *
 * The producers a partition's leader holds state for: id, epoch, the last sequence and timestamp
 * it appended, and, for transactional producers, the coordinator epoch and the first offset of the
 * open transaction (-1 without one). Errors are per partition, with an optional message.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const describeProducersRequest = message({
  name: 'DescribeProducers',
  apiKey: 61,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    array('topics', [
      field('name', 'string'),
      array('partitionIndexes', 'int32'),
    ]),
  ],
});

export const describeProducersResponse = message({
  name: 'DescribeProducers',
  apiKey: 61,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('errorCode', 'int16'),
        field('errorMessage', 'string', { nullable: '0+', default: null }),
        array('activeProducers', [
          field('producerId', 'int64'),
          field('producerEpoch', 'int32'),
          field('lastSequence', 'int32', { default: -1 }),
          field('lastTimestamp', 'int64', { default: -1 }),
          field('coordinatorEpoch', 'int32'),
          field('currentTxnStartOffset', 'int64', { default: -1 }),
        ]),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type DescribeProducersRequest = Decoded<typeof describeProducersRequest>;
/** A response as the broker's handler builds it. */
export type DescribeProducersResponse = Encodable<typeof describeProducersResponse>;
/** A request as a client builds it. */
export type DescribeProducersRequestEncodable = Encodable<typeof describeProducersRequest>;
/** A response as a client receives it. */
export type DescribeProducersResponseDecoded = Decoded<typeof describeProducersResponse>;
