/**
 * AlterPartitionReassignments (key 45), versions 0-1, flexible in all versions (KIP-455).
 *
 * Each partition names its target replicas, or null to cancel the reassignment under way. v1 adds
 * allowReplicationFactorChange (KIP-860; default true): false refuses a target of another size.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const alterPartitionReassignmentsRequest = message({
  name: 'AlterPartitionReassignments',
  apiKey: 45,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    field('timeoutMs', 'int32', { default: 60000 }),
    field('allowReplicationFactorChange', 'bool', { versions: '1+', default: true }),
    array('topics', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        array('replicas', 'int32', { nullable: '0+', default: null }),
      ]),
    ]),
  ],
});

export const alterPartitionReassignmentsResponse = message({
  name: 'AlterPartitionReassignments',
  apiKey: 45,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '0+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('allowReplicationFactorChange', 'bool', { versions: '1+', default: true }),
    field('errorCode', 'int16'),
    field('errorMessage', 'string', { nullable: '0+', default: null }),
    array('responses', [
      field('name', 'string'),
      array('partitions', [
        field('partitionIndex', 'int32'),
        field('errorCode', 'int16'),
        field('errorMessage', 'string', { nullable: '0+', default: null }),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type AlterPartitionReassignmentsRequest = Decoded<typeof alterPartitionReassignmentsRequest>;
/** A response as the broker's handler builds it. */
export type AlterPartitionReassignmentsResponse = Encodable<typeof alterPartitionReassignmentsResponse>;
/** A request as a client builds it. */
export type AlterPartitionReassignmentsRequestEncodable = Encodable<typeof alterPartitionReassignmentsRequest>;
/** A response as a client receives it. */
export type AlterPartitionReassignmentsResponseDecoded = Decoded<typeof alterPartitionReassignmentsResponse>;
