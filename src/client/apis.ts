/**
 * The APIs the client speaks, each a pair of generated codecs (src/protocol/kafka/codec.ts), with
 * the highest version whose shape this client fills in (`clientMaxVersion`). The version used on a
 * connection is the highest one both sides support (see connection.ts).
 *
 * Caps and why: Produce ≤ 12 and Fetch ≤ 12 (v13 names topics by id, which this client does not
 * track); OffsetFetch ≤ 7 (v8 batches groups in another shape); FindCoordinator ≤ 3 (v4 batches
 * keys). Every broker that offers the newer versions also offers these.
 */
import { codecFor } from '../protocol/kafka/codec.js';
import type { MessageCodec } from '../protocol/kafka/codec.js';
import type { MessageSchema } from '../protocol/kafka/schema.js';
import { alterConfigsRequest, alterConfigsResponse } from '../protocol/kafka/messages/alter-configs.js';
import { alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse } from '../protocol/kafka/messages/alter-partition-reassignments.js';
import { apiVersionsRequest, apiVersionsResponse } from '../protocol/kafka/messages/api-versions.js';
import { createPartitionsRequest, createPartitionsResponse } from '../protocol/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../protocol/kafka/messages/create-topics.js';
import { deleteGroupsRequest, deleteGroupsResponse } from '../protocol/kafka/messages/delete-groups.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../protocol/kafka/messages/delete-records.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../protocol/kafka/messages/delete-topics.js';
import { describeClusterRequest, describeClusterResponse } from '../protocol/kafka/messages/describe-cluster.js';
import { describeConfigsRequest, describeConfigsResponse } from '../protocol/kafka/messages/describe-configs.js';
import { describeGroupsRequest, describeGroupsResponse } from '../protocol/kafka/messages/describe-groups.js';
import { describeLogDirsRequest, describeLogDirsResponse } from '../protocol/kafka/messages/describe-log-dirs.js';
import { electLeadersRequest, electLeadersResponse } from '../protocol/kafka/messages/elect-leaders.js';
import { fetchRequest, fetchResponse } from '../protocol/kafka/messages/fetch.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../protocol/kafka/messages/find-coordinator.js';
import { heartbeatRequest, heartbeatResponse } from '../protocol/kafka/messages/heartbeat.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../protocol/kafka/messages/incremental-alter-configs.js';
import { initProducerIdRequest, initProducerIdResponse } from '../protocol/kafka/messages/init-producer-id.js';
import { joinGroupRequest, joinGroupResponse } from '../protocol/kafka/messages/join-group.js';
import { leaveGroupRequest, leaveGroupResponse } from '../protocol/kafka/messages/leave-group.js';
import { listGroupsRequest, listGroupsResponse } from '../protocol/kafka/messages/list-groups.js';
import { listOffsetsRequest, listOffsetsResponse } from '../protocol/kafka/messages/list-offsets.js';
import { listPartitionReassignmentsRequest, listPartitionReassignmentsResponse } from '../protocol/kafka/messages/list-partition-reassignments.js';
import { metadataRequest, metadataResponse } from '../protocol/kafka/messages/metadata.js';
import { offsetCommitRequest, offsetCommitResponse } from '../protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../protocol/kafka/messages/offset-fetch.js';
import { produceRequest, produceResponse } from '../protocol/kafka/messages/produce.js';
import { syncGroupRequest, syncGroupResponse } from '../protocol/kafka/messages/sync-group.js';

export interface Api<Request extends MessageSchema, Response extends MessageSchema> {
  readonly key: number;
  readonly name: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
  /** Highest version whose shape the client fills in. */
  readonly clientMaxVersion: number;
}

function api<Request extends MessageSchema, Response extends MessageSchema>(request: Request, response: Response, clientMaxVersion = Infinity): Api<Request, Response> {
  const requestCodec = codecFor(request);
  return {
    key: request.apiKey,
    name: request.name,
    request: requestCodec,
    response: codecFor(response),
    clientMaxVersion: Math.min(clientMaxVersion, requestCodec.highestVersion),
  };
}

export const apis = {
  produce: api(produceRequest, produceResponse, 12),
  fetch: api(fetchRequest, fetchResponse, 12),
  listOffsets: api(listOffsetsRequest, listOffsetsResponse),
  metadata: api(metadataRequest, metadataResponse, 12),
  offsetCommit: api(offsetCommitRequest, offsetCommitResponse),
  offsetFetch: api(offsetFetchRequest, offsetFetchResponse, 7),
  findCoordinator: api(findCoordinatorRequest, findCoordinatorResponse, 3),
  joinGroup: api(joinGroupRequest, joinGroupResponse),
  heartbeat: api(heartbeatRequest, heartbeatResponse),
  leaveGroup: api(leaveGroupRequest, leaveGroupResponse),
  syncGroup: api(syncGroupRequest, syncGroupResponse),
  describeGroups: api(describeGroupsRequest, describeGroupsResponse),
  listGroups: api(listGroupsRequest, listGroupsResponse),
  apiVersions: api(apiVersionsRequest, apiVersionsResponse),
  createTopics: api(createTopicsRequest, createTopicsResponse),
  deleteTopics: api(deleteTopicsRequest, deleteTopicsResponse),
  deleteRecords: api(deleteRecordsRequest, deleteRecordsResponse),
  describeConfigs: api(describeConfigsRequest, describeConfigsResponse),
  alterConfigs: api(alterConfigsRequest, alterConfigsResponse),
  createPartitions: api(createPartitionsRequest, createPartitionsResponse),
  deleteGroups: api(deleteGroupsRequest, deleteGroupsResponse),
  electLeaders: api(electLeadersRequest, electLeadersResponse),
  alterPartitionReassignments: api(alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse),
  listPartitionReassignments: api(listPartitionReassignmentsRequest, listPartitionReassignmentsResponse),
  incrementalAlterConfigs: api(incrementalAlterConfigsRequest, incrementalAlterConfigsResponse),
  describeCluster: api(describeClusterRequest, describeClusterResponse),
  describeLogDirs: api(describeLogDirsRequest, describeLogDirsResponse),
  initProducerId: api(initProducerIdRequest, initProducerIdResponse),
} as const;
