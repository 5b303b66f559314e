/**
 * ElectLeaders (key 43), versions 0-2, flexible from 2.
 *
 * v0 elects preferred leaders only; v1 adds electionType (0 preferred, 1 unclean; KIP-460) and a
 * top-level errorCode in the response; v2 is flexible. A null topicPartitions means every partition.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const electLeadersRequest = message({
  name: 'ElectLeaders',
  apiKey: 43,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('electionType', 'int8', { versions: '1+', default: 0 }),
    array('topicPartitions', [
      field('topic', 'string'),
      array('partitions', 'int32'),
    ], { nullable: '0+' }),
    field('timeoutMs', 'int32', { default: 60000 }),
  ],
});

export const electLeadersResponse = message({
  name: 'ElectLeaders',
  apiKey: 43,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('throttleTimeMs', 'int32'),
    field('errorCode', 'int16', { versions: '1+', default: 0 }),
    array('replicaElectionResults', [
      field('topic', 'string'),
      array('partitionResult', [
        field('partitionId', 'int32'),
        field('errorCode', 'int16'),
        field('errorMessage', 'string', { nullable: '0+', default: null }),
      ]),
    ]),
  ],
});

/** A request as the broker's handler receives it. */
export type ElectLeadersRequest = Decoded<typeof electLeadersRequest>;
/** A response as the broker's handler builds it. */
export type ElectLeadersResponse = Encodable<typeof electLeadersResponse>;
/** A request as a client builds it. */
export type ElectLeadersRequestEncodable = Encodable<typeof electLeadersRequest>;
/** A response as a client receives it. */
export type ElectLeadersResponseDecoded = Decoded<typeof electLeadersResponse>;
