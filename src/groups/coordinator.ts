/**
 * The group coordinator of one group log: on a single broker the only one (`broker.groups`),
 * coordinating every group; in a cluster one per `__consumer_offsets` partition this broker leads
 * (partitioned-coordinator.ts). It routes each request to the group of the right protocol and to
 * the module whose job it is, and answers NOT_COORDINATOR once closed.
 *
 *   handlers ──► GroupCoordinator ─┬─► GroupRegistry (group-registry.ts): groups by id, ClassicGroup | ConsumerGroup
 *                                  ├─► OffsetsService (offsets-service.ts): commit, fetch, delete, expiry, lag
 *                                  └─► GroupPersistence (group-persistence.ts): the group log, replay, cleanup
 *
 * Writes (commits, deletions, group metadata) are appended to the group log first and answered
 * once durable (in a cluster: on every in-sync replica). On opening the log is replayed: groups
 * come back Empty with their generation and committed offsets; their members must rejoin. A timer
 * expires the offsets of groups that have been empty longer than the retention and drops empty
 * groups with no offsets left.
 *
 * Everything here answers with Kafka error codes; nothing is thrown at the protocol edge.
 */
import type { BrokerConfig, GroupSettings } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { LogOptions } from '../storage/partition-log.js';
import { ClassicGroup } from './classic-group.js';
import type { JoinRequest, JoinResult, LeaveRequestMember, LeaveResultMember, SyncRequest, SyncResult } from './classic-group.js';
import { ConsumerGroup, consumerHeartbeatError, joinEpoch } from './consumer-group.js';
import type { ConsumerGroupConfig, ConsumerGroupDescription, ConsumerHeartbeatResult } from './consumer-group.js';
import { consumerHeartbeatProblem } from './consumer-heartbeat-request.js';
import type { ConsumerHeartbeatRequest } from './consumer-heartbeat-request.js';
import type { Group, GroupDescription } from './group.js';
import { GroupPersistence, groupLogDirectory } from './group-persistence.js';
import type { GroupPersistenceOptions } from './group-persistence.js';
import { GroupRegistry, retryLaterCode } from './group-registry.js';
import type { ListedGroup } from './group-registry.js';
import type { GroupLag } from './lag.js';
import { OffsetsService, commitAnswers } from './offsets-service.js';
import type { CommitRequest, FetchedOffsets, PartitionErrors, TopicDirectory } from './offsets-service.js';
import { systemScheduler } from './scheduler.js';
import type { Scheduler } from './scheduler.js';
import type { GroupService } from './group-service.js';

// What handlers and tests name through the coordinator.
export type { ConsumerHeartbeatRequest } from './consumer-heartbeat-request.js';
export type { CommitRequest, FetchedOffsets, TopicDirectory } from './offsets-service.js';

export interface CoordinatorOptions {
  /** Folder of a single broker's group log, or the log to use (a partition of the replicated offsets topic). */
  readonly log: GroupPersistenceOptions['log'];
  readonly settings: GroupSettings;
  /** Flush policy and interval of the broker; segment size and retention are the coordinator's own. */
  readonly flush: LogOptions['flush'];
  readonly flushIntervalMs: number;
  readonly topics: TopicDirectory;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  /** Member ids; `${prefix}-${uuid}` by default (Kafka's form). */
  readonly newMemberId?: (prefix: string) => string;
  /** Member ids of KIP-848 members joining with ConsumerGroupHeartbeat v0 (v1 clients make their own); a UUID by default. */
  readonly newConsumerMemberId?: () => string;
  /** A KIP-848 group's own session timeout and heartbeat interval (GROUP config resources). */
  readonly consumerGroupConfig?: (groupId: string) => ConsumerGroupConfig;
  /** What `groups.maxGroups` counts when a broker has several coordinators (a cluster); this one's groups when absent. */
  readonly brokerGroupCount?: () => number;
}

/** A JoinGroup answered with an error only. */
export function refusedJoin(request: JoinRequest, errorCode: number): JoinResult {
  return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: request.memberId, members: [] };
}

/** A SyncGroup answered with an error only. */
export function refusedSync(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
}

export class GroupCoordinator implements GroupService {
  private closed = false;

  private constructor(
    private readonly persistence: GroupPersistence,
    private readonly registry: GroupRegistry,
    private readonly offsets: OffsetsService,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
  ) {}

  static async open(options: CoordinatorOptions): Promise<GroupCoordinator> {
    const scheduler = options.scheduler ?? systemScheduler;
    const { settings, logger, topics } = options;
    const persistence = await GroupPersistence.open({ log: options.log, settings, flush: options.flush, flushIntervalMs: options.flushIntervalMs, logger, scheduler });
    const registry = new GroupRegistry({
      settings,
      logger,
      scheduler,
      topics,
      persistence,
      ...(options.newMemberId === undefined ? {} : { newMemberId: options.newMemberId }),
      ...(options.newConsumerMemberId === undefined ? {} : { newConsumerMemberId: options.newConsumerMemberId }),
      ...(options.consumerGroupConfig === undefined ? {} : { consumerGroupConfig: options.consumerGroupConfig }),
      ...(options.brokerGroupCount === undefined ? {} : { brokerGroupCount: options.brokerGroupCount }),
    });
    persistence.snapshotGroupsFrom(() => registry.values());
    const replayed = await persistence.replay();
    registry.restore(replayed.groups);
    const offsets = new OffsetsService({ registry, persistence, topics, settings, scheduler, logger });
    offsets.scheduleExpiry();
    logger.info('group coordinator loaded', { groups: registry.size, records: replayed.records, logBytes: persistence.sizeBytes });
    return new GroupCoordinator(persistence, registry, offsets, settings, logger);
  }

  /** NOT_COORDINATOR once closed; a single broker coordinates every group. */
  coordinatorError(): number {
    return this.closed ? ErrorCode.notCoordinator : ErrorCode.none;
  }

  // ── Registry ────────────────────────────────────────────────────────────────────────────────

  group(groupId: string): Group | undefined {
    return this.registry.get(groupId);
  }

  get groupCount(): number {
    return this.registry.size;
  }

  // ── Classic protocol ────────────────────────────────────────────────────────────────────────

  async joinGroup(groupId: string, request: JoinRequest): Promise<JoinResult> {
    const refuse = (errorCode: number): JoinResult => refusedJoin(request, errorCode);
    if (this.closed) return refuse(ErrorCode.notCoordinator);
    const idProblem = this.registry.groupIdProblem(groupId, false);
    if (idProblem !== ErrorCode.none) return refuse(idProblem);
    const { minSessionTimeoutMs, maxSessionTimeoutMs, maxProtocolsPerMember, maxMemberMetadataBytes } = this.settings;
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) return refuse(ErrorCode.invalidSessionTimeout);
    let metadataBytes = 0;
    for (const protocol of request.protocols) metadataBytes += protocol.metadata.length;
    if (request.protocols.length > maxProtocolsPerMember || metadataBytes > maxMemberMetadataBytes) {
      this.logger.warn('join refused: protocol metadata over the limit', { group: groupId, protocols: request.protocols.length, bytes: metadataBytes });
      return refuse(ErrorCode.inconsistentGroupProtocol);
    }
    let group = this.registry.get(groupId);
    if (group === undefined) {
      if (request.memberId !== '') return refuse(ErrorCode.unknownMemberId);
      group = this.registry.createClassicGroup(groupId) ?? undefined;
      if (group === undefined) return refuse(retryLaterCode);
    }
    if (group instanceof ConsumerGroup && group.isEmpty) group = this.registry.convertToClassic(group);
    if (!(group instanceof ClassicGroup)) return refuse(ErrorCode.inconsistentGroupProtocol);
    const result = await group.join(request);
    if (result.errorCode !== ErrorCode.none && result.errorCode !== ErrorCode.memberIdRequired) this.registry.dropIfUnused(group);
    return result;
  }

  syncGroup(groupId: string, request: SyncRequest): Promise<SyncResult> {
    const group = this.registry.get(groupId);
    if (this.closed) return Promise.resolve(refusedSync(ErrorCode.notCoordinator));
    if (!(group instanceof ClassicGroup)) return Promise.resolve(refusedSync(group === undefined ? ErrorCode.unknownMemberId : ErrorCode.inconsistentGroupProtocol));
    return group.sync(request);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.closed) return ErrorCode.notCoordinator;
    const group = this.registry.get(groupId);
    if (group === undefined) return ErrorCode.unknownMemberId;
    if (!(group instanceof ClassicGroup)) return ErrorCode.inconsistentGroupProtocol;
    return group.heartbeat(memberId, groupInstanceId, generationId);
  }

  /** Per-member answers; an unknown group answers UNKNOWN_MEMBER_ID for each. */
  leaveGroup(groupId: string, members: readonly LeaveRequestMember[]): LeaveResultMember[] {
    const group = this.registry.get(groupId);
    if (this.closed || !(group instanceof ClassicGroup)) {
      const errorCode = this.closed ? ErrorCode.notCoordinator : group === undefined ? ErrorCode.unknownMemberId : ErrorCode.inconsistentGroupProtocol;
      return members.map((member) => ({ ...member, errorCode }));
    }
    return group.leave(members);
  }

  // ── KIP-848 consumer protocol ───────────────────────────────────────────────────────────────

  /**
   * ConsumerGroupHeartbeat. The request's own consistency is checked first
   * (consumer-heartbeat-request.ts), then the group decides. A group that does not exist is
   * created by a member joining (epoch 0); any other epoch gets UNKNOWN_MEMBER_ID, so that members
   * of a group this broker forgot (restart) rejoin. An empty classic group becomes a consumer group
   * (its offsets kept); one with members answers INCONSISTENT_GROUP_PROTOCOL.
   */
  consumerGroupHeartbeat(request: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    if (this.closed) return consumerHeartbeatError(ErrorCode.notCoordinator, null);
    const problem = consumerHeartbeatProblem(request, this.settings);
    if (problem !== null) {
      // INVALID_REQUEST has its own line across handlers (server/kafka/invalid-request.ts); other refusals say their code.
      if (problem.code === ErrorCode.invalidRequest) {
        this.logger.debug('invalid request', { api: 'ConsumerGroupHeartbeat', field: problem.field, reason: problem.message, group: request.groupId, member: request.memberId });
      } else {
        this.logger.debug('consumer group heartbeat refused', { group: request.groupId, member: request.memberId, epoch: request.memberEpoch, errorCode: problem.code, field: problem.field, reason: problem.message });
      }
      return consumerHeartbeatError(problem.code, problem.message);
    }
    let group = this.registry.get(request.groupId);
    if (group === undefined) {
      if (request.memberEpoch !== joinEpoch) return consumerHeartbeatError(ErrorCode.unknownMemberId, `group ${request.groupId} has no member ${request.memberId}`);
      group = this.registry.createConsumerGroup(request.groupId) ?? undefined;
      if (group === undefined) return consumerHeartbeatError(retryLaterCode, 'too many groups');
    } else if (group instanceof ClassicGroup) {
      if (!group.isEmpty || group.stateName !== 'Empty') return consumerHeartbeatError(ErrorCode.inconsistentGroupProtocol, `group ${request.groupId} is a classic group with members`);
      if (request.memberEpoch !== joinEpoch) return consumerHeartbeatError(ErrorCode.unknownMemberId, `group ${request.groupId} has no member ${request.memberId}`);
      group = this.registry.convertToConsumer(group);
    }
    if (!(group instanceof ConsumerGroup)) return consumerHeartbeatError(ErrorCode.inconsistentGroupProtocol, null);
    const result = group.heartbeat({
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      subscribedTopicRegex: request.subscribedTopicRegex,
      serverAssignor: request.serverAssignor,
      ownedPartitions: request.topicPartitions,
      clientId: request.clientId,
      clientHost: request.clientHost,
    });
    if (result.errorCode !== ErrorCode.none) this.registry.dropIfUnused(group);
    return result;
  }

  /** ConsumerGroupDescribe: null for an unknown group, 'classic' for a group of the other protocol. */
  describeConsumerGroup(groupId: string): ConsumerGroupDescription | 'classic' | null {
    return this.registry.describeConsumerGroup(groupId);
  }

  // ── Across protocols: DescribeGroups, ListGroups, DeleteGroups ──────────────────────────────

  /** Null for an unknown group (DescribeGroups answers Dead, or GROUP_ID_NOT_FOUND from v6). */
  describeGroup(groupId: string): GroupDescription | null {
    return this.registry.describeGroup(groupId);
  }

  /** A single log is read back before the coordinator exists: nothing is ever loading. */
  listGroupsError(): number {
    return ErrorCode.none;
  }

  /** ListGroups; filters compare case-insensitively, as Kafka does; empty filters match all. */
  listGroups(statesFilter: readonly string[], typesFilter: readonly string[]): ListedGroup[] {
    return this.registry.listGroups(statesFilter, typesFilter);
  }

  /** DeleteGroups: only groups without members; their offsets and metadata are deleted durably. */
  deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    if (this.closed) return Promise.resolve(groupIds.map((groupId) => ({ groupId, errorCode: ErrorCode.notCoordinator })));
    return this.registry.deleteGroups(groupIds);
  }

  // ── Offsets (offsets-service.ts) ────────────────────────────────────────────────────────────

  /** OffsetCommit: see OffsetsService.commitOffsets for the checks. */
  commitOffsets(request: CommitRequest): Promise<PartitionErrors> {
    if (this.closed) return Promise.resolve(commitAnswers(request, ErrorCode.notCoordinator));
    return this.offsets.commitOffsets(request);
  }

  /** OffsetFetch for one group; `member` is given from v9 (KIP-848 groups check it). */
  fetchOffsets(
    groupId: string,
    topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): FetchedOffsets {
    if (this.closed) return { errorCode: ErrorCode.notCoordinator, topics: [] };
    return this.offsets.fetchOffsets(groupId, topics, member);
  }

  /** OffsetDelete. */
  deleteOffsets(groupId: string, topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<{ readonly partitionIndex: number }> }>): Promise<{ errorCode: number; topics: PartitionErrors }> {
    if (this.closed) return Promise.resolve({ errorCode: ErrorCode.notCoordinator, topics: [] });
    return this.offsets.deleteOffsets(groupId, topics);
  }

  /** Per-partition committed offset, high watermark and lag of a group, with totals; null for an unknown group. */
  lag(groupId: string): GroupLag | null {
    return this.offsets.lag(groupId);
  }

  /** Expires the offsets of groups empty for longer than the retention (the timer calls it too); the number expired. */
  expireOffsets(): Promise<number> {
    return this.offsets.expireOffsets();
  }

  // ── Lifecycle ───────────────────────────────────────────────────────────────────────────────

  /** Answers waiting JoinGroup/SyncGroup requests with NOT_COORDINATOR, stops timers, flushes and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offsets.stop();
    this.registry.shutDown(ErrorCode.notCoordinator);
    await this.persistence.close();
  }

  /** For tests: the group log's size and offsets. */
  get logStatus(): { sizeBytes: number; logStartOffset: number; logEndOffset: number } {
    return this.persistence.status;
  }
}

/** What every coordinator of a broker is opened with, besides its log. */
export function coordinatorOptions(config: BrokerConfig, topics: TopicDirectory, logger: Logger, consumerGroupConfig?: (groupId: string) => ConsumerGroupConfig): Omit<CoordinatorOptions, 'log'> {
  const options = { settings: config.groups, flush: config.flush, flushIntervalMs: config.flushIntervalMs, topics, logger };
  return consumerGroupConfig === undefined ? options : { ...options, consumerGroupConfig };
}

/** A single broker's coordinator, over its own group log (what broker/broker.ts calls without etcd). */
export function openGroupCoordinator(config: BrokerConfig, topics: TopicDirectory, logger: Logger, consumerGroupConfig?: (groupId: string) => ConsumerGroupConfig): Promise<GroupCoordinator> {
  return GroupCoordinator.open({ ...coordinatorOptions(config, topics, logger, consumerGroupConfig), log: { directory: groupLogDirectory(config.dataDir) } });
}
