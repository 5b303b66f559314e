/**
 * What the Kafka handlers call on `broker.groups`, whoever coordinates: on a single broker one
 * GroupCoordinator (coordinator.ts) holds every group; in a cluster a PartitionedGroupCoordinator
 * (partitioned-coordinator.ts) holds one GroupCoordinator per partition of `__consumer_offsets`
 * this broker leads, and answers NOT_COORDINATOR for groups of the others.
 */
import type { JoinRequest, JoinResult, LeaveRequestMember, LeaveResultMember, SyncRequest, SyncResult } from './classic-group.js';
import type { ConsumerGroupDescription, ConsumerHeartbeatResult } from './consumer-group.js';
import type { ConsumerHeartbeatRequest } from './consumer-heartbeat-request.js';
import type { GroupDescription } from './group.js';
import type { ListedGroup } from './group-registry.js';
import type { GroupLag } from './lag.js';
import type { CommitRequest, FetchedOffsets, PartitionErrors } from './offsets-service.js';

export interface GroupService {
  /**
   * Whether this broker coordinates the group now: none, NOT_COORDINATOR (another broker does, or
   * this one is closing) or COORDINATOR_LOAD_IN_PROGRESS (its groups are being read back). Every
   * method below answers that code itself; handlers that answer from a lookup (DescribeGroups,
   * ConsumerGroupDescribe) ask it first.
   */
  coordinatorError(groupId: string): number;
  joinGroup(groupId: string, request: JoinRequest): Promise<JoinResult>;
  syncGroup(groupId: string, request: SyncRequest): Promise<SyncResult>;
  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number;
  leaveGroup(groupId: string, members: readonly LeaveRequestMember[]): LeaveResultMember[];
  consumerGroupHeartbeat(request: ConsumerHeartbeatRequest): ConsumerHeartbeatResult;
  describeConsumerGroup(groupId: string): ConsumerGroupDescription | 'classic' | null;
  describeGroup(groupId: string): GroupDescription | null;
  /** ListGroups' error: COORDINATOR_LOAD_IN_PROGRESS while a partition's groups are being read back (as Kafka), else none. */
  listGroupsError(): number;
  /** The groups this broker coordinates. */
  listGroups(statesFilter: readonly string[], typesFilter: readonly string[]): ListedGroup[];
  deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>>;
  commitOffsets(request: CommitRequest): Promise<PartitionErrors>;
  fetchOffsets(
    groupId: string,
    topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null,
    member?: { readonly memberId: string | null; readonly memberEpoch: number } | null,
  ): FetchedOffsets;
  deleteOffsets(groupId: string, topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<{ readonly partitionIndex: number }> }>): Promise<{ errorCode: number; topics: PartitionErrors }>;
  lag(groupId: string): GroupLag | null;
  /** Answers waiting requests with NOT_COORDINATOR, stops timers, closes what it opened. */
  close(): Promise<void>;
}
