/**
 * ListPartitionReassignments (key 46), version 0, flexible (KIP-455).
 *
 * A null topics lists every reassignment under way; otherwise only those of the partitions named.
 * Each lists the partition's replicas now (target and those leaving) and the replicas being added
 * and removed.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const listPartitionReassignmentsRequest = message({
  name: 'ListPartitionReassignments',
  apiKey: 46,
  type: 'request',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    field('timeoutMs', 'int32', { default: 60000 }),
    array('topics', [
      field('name', 'string'),
      array('partitionIndexes', 'int32'),
    ], { nullable: '0+', default: null }),
  ],
});

export const listPartitionReassignmentsResponse = message({
  name: 'ListPartitionReassignments',
  apiKey: 46,
  type: 'response',
  validVersions: '0',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16'),
    field('errorMessage', 'string', { nullable: '0+', default: null }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        array('replicas', 'int32'),
        array('addingReplicas', 'int32'),
        array('removingReplicas', 'int32'),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type ListPartitionReassignmentsRequest = Decoded<typeof listPartitionReassignmentsRequest>;
/** A response as the broker's handler builds it. */
export type ListPartitionReassignmentsResponse = Encodable<typeof listPartitionReassignmentsResponse>;
/** A request as a client builds it. */
export type ListPartitionReassignmentsRequestEncodable = Encodable<typeof listPartitionReassignmentsRequest>;
/** A response as a client receives it. */
export type ListPartitionReassignmentsResponseDecoded = Decoded<typeof listPartitionReassignmentsResponse>;
