/**
 * Group coordination in a cluster (docs/cluster.md, "Consumer groups"): a group lives in partition
 * hash(group id) mod N of `__consumer_offsets` (offsets-topic.ts), and the leader of that
 * partition coordinates it. This broker holds one GroupCoordinator per partition it leads, over
 * that partition's replicated log; a group of any other partition is answered NOT_COORDINATOR,
 * so its clients ask FindCoordinator again.
 *
 *   cluster/group-partitions.ts ── lead(index, storage) ──► shard: loading ──replayed──► ready
 *                               ── resign(index) ────────► shard closed (waiting requests: NOT_COORDINATOR)
 *
 *   handler ──► route(groupId) ─┬─ no shard for its partition ─► NOT_COORDINATOR
 *                               ├─ shard loading ──────────────► COORDINATOR_LOAD_IN_PROGRESS
 *                               └─ shard ready ────────────────► its GroupCoordinator
 *
 * A shard is the coordinator of one partition in one term of leadership: the cluster side resigns
 * it and leads again whenever the partition's leader epoch changes, so the groups are always read
 * back from the log as this leader holds it.
 */
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { JoinRequest, JoinResult, LeaveRequestMember, LeaveResultMember, SyncRequest, SyncResult } from './classic-group.js';
import { consumerHeartbeatError } from './consumer-group.js';
import type { ConsumerGroupDescription, ConsumerHeartbeatResult } from './consumer-group.js';
import type { ConsumerHeartbeatRequest } from './consumer-heartbeat-request.js';
import { GroupCoordinator, refusedJoin, refusedSync } from './coordinator.js';
import type { CoordinatorOptions } from './coordinator.js';
import type { GroupDescription } from './group.js';
import type { GroupLogStorage } from './group-log.js';
import type { ListedGroup } from './group-registry.js';
import type { GroupService } from './group-service.js';
import type { GroupLag } from './lag.js';
import { commitAnswers } from './offsets-service.js';
import type { CommitRequest, FetchedOffsets, PartitionErrors } from './offsets-service.js';
import { groupPartition } from './offsets-topic.js';

/** What every shard's coordinator is opened with, besides its log. */
export type ShardOptions = Omit<CoordinatorOptions, 'log'>;

interface Shard {
  readonly index: number;
  /** Null while the partition is being replayed. */
  coordinator: GroupCoordinator | null;
}

export class PartitionedGroupCoordinator implements GroupService {
  private readonly shards = new Map<number, Shard>();
  /** The partition count of the offsets topic, as the partitions led here were given. */
  private partitionCount: number | null = null;
  private closed = false;
  private readonly logger: Logger;

  constructor(private readonly options: ShardOptions) {
    this.logger = options.logger;
  }

  /**
   * This broker now leads partition `index` (of `partitionCount`) of the offsets topic: its log is
   * replayed into a new coordinator, which serves the partition's groups once done. A shard the
   * partition had is closed first.
   */
  lead(index: number, partitionCount: number, storage: GroupLogStorage): void {
    if (this.closed) return;
    this.resign(index);
    this.partitionCount = partitionCount;
    const shard: Shard = { index, coordinator: null };
    this.shards.set(index, shard);
    const startedMs = Date.now();
    // groups.maxGroups bounds the broker's groups, all partitions together.
    const brokerGroupCount = () => this.readyCoordinators().reduce((sum, coordinator) => sum + coordinator.groupCount, 0);
    GroupCoordinator.open({ ...this.options, logger: this.logger.with({ offsetsPartition: index }), log: { storage }, brokerGroupCount }).then(
      (coordinator) => {
        if (this.shards.get(index) !== shard) return void coordinator.close();
        shard.coordinator = coordinator;
        this.logger.debug('coordinating the groups of an offsets partition', { partition: index, groups: coordinator.groupCount, loadMs: Date.now() - startedMs });
      },
      (error: unknown) => {
        if (this.shards.get(index) === shard) this.shards.delete(index);
        this.logger.error('cannot read back the groups of an offsets partition; its groups are answered NOT_COORDINATOR until it is led here again', { partition: index, error: String(error) });
      },
    );
  }

  /**
   * This broker is named leader of partition `index` but cannot take it up yet (its log still
   * opening, or etcd's new term not yet seen): its groups are answered COORDINATOR_LOAD_IN_PROGRESS,
   * which clients retry here, rather than NOT_COORDINATOR, which sends them to FindCoordinator
   * only to be named this broker again (Kafka answers the same while it loads a partition).
   */
  loading(index: number, partitionCount: number): void {
    if (this.closed) return;
    this.resign(index);
    this.partitionCount = partitionCount;
    this.shards.set(index, { index, coordinator: null });
  }

  /** This broker no longer leads partition `index`: its groups are dropped, their members get NOT_COORDINATOR. */
  resign(index: number): void {
    const shard = this.shards.get(index);
    if (shard === undefined) return;
    this.shards.delete(index);
    if (shard.coordinator !== null) {
      this.logger.info('no longer coordinating the groups of an offsets partition', { partition: index });
      void shard.coordinator.close();
    }
  }

  /** The partitions whose groups are served here (tests, logs). */
  get coordinatedPartitions(): number[] {
    return [...this.shards.values()].filter((shard) => shard.coordinator !== null).map((shard) => shard.index).sort((left, right) => left - right);
  }

  private route(groupId: string): GroupCoordinator | number {
    if (this.closed || this.partitionCount === null) return ErrorCode.notCoordinator;
    const shard = this.shards.get(groupPartition(groupId, this.partitionCount));
    if (shard === undefined) return ErrorCode.notCoordinator;
    return shard.coordinator ?? ErrorCode.coordinatorLoadInProgress;
  }

  private readyCoordinators(): GroupCoordinator[] {
    const ready: GroupCoordinator[] = [];
    for (const shard of this.shards.values()) if (shard.coordinator !== null) ready.push(shard.coordinator);
    return ready;
  }

  coordinatorError(groupId: string): number {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? routed : routed.coordinatorError();
  }

  joinGroup(groupId: string, request: JoinRequest): Promise<JoinResult> {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? Promise.resolve(refusedJoin(request, routed)) : routed.joinGroup(groupId, request);
  }

  syncGroup(groupId: string, request: SyncRequest): Promise<SyncResult> {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? Promise.resolve(refusedSync(routed)) : routed.syncGroup(groupId, request);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? routed : routed.heartbeat(groupId, memberId, groupInstanceId, generationId);
  }

  leaveGroup(groupId: string, members: readonly LeaveRequestMember[]): LeaveResultMember[] {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? members.map((member) => ({ ...member, errorCode: routed })) : routed.leaveGroup(groupId, members);
  }

  consumerGroupHeartbeat(request: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    const routed = this.route(request.groupId);
    return typeof routed === 'number' ? consumerHeartbeatError(routed, null) : routed.consumerGroupHeartbeat(request);
  }

  describeConsumerGroup(groupId: string): ConsumerGroupDescription | 'classic' | null {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? null : routed.describeConsumerGroup(groupId);
  }

  describeGroup(groupId: string): GroupDescription | null {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? null : routed.describeGroup(groupId);
  }

  listGroupsError(): number {
    for (const shard of this.shards.values()) if (shard.coordinator === null) return ErrorCode.coordinatorLoadInProgress;
    return ErrorCode.none;
  }

  /** The groups of every partition served here. */
  listGroups(statesFilter: readonly string[], typesFilter: readonly string[]): ListedGroup[] {
    return this.readyCoordinators().flatMap((coordinator) => coordinator.listGroups(statesFilter, typesFilter));
  }

  async deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const routed = this.route(groupId);
        if (typeof routed === 'number') return { groupId, errorCode: routed };
        const [result] = await routed.deleteGroups([groupId]);
        return result ?? { groupId, errorCode: ErrorCode.unknownServerError };
      }),
    );
  }

  commitOffsets(request: CommitRequest): Promise<PartitionErrors> {
    const routed = this.route(request.groupId);
    return typeof routed === 'number' ? Promise.resolve(commitAnswers(request, routed)) : routed.commitOffsets(request);
  }

  fetchOffsets(
    groupId: string,
    topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): FetchedOffsets {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? { errorCode: routed, topics: [] } : routed.fetchOffsets(groupId, topics, member);
  }

  deleteOffsets(groupId: string, topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<{ readonly partitionIndex: number }> }>): Promise<{ errorCode: number; topics: PartitionErrors }> {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? Promise.resolve({ errorCode: routed, topics: [] }) : routed.deleteOffsets(groupId, topics);
  }

  lag(groupId: string): GroupLag | null {
    const routed = this.route(groupId);
    return typeof routed === 'number' ? null : routed.lag(groupId);
  }

  async close(): Promise<void> {
    this.closed = true;
    const coordinators = this.readyCoordinators();
    this.shards.clear();
    await Promise.all(coordinators.map((coordinator) => coordinator.close()));
  }
}
