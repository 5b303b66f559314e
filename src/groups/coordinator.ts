/**
 * The group coordinator: this broker coordinates every group. It keeps the registry of groups
 * (each with a type: classic, or KIP-848 consumer), their committed offsets, and the group log
 * that makes both durable (group-log.ts, log-records.ts).
 *
 *   handlers ──► GroupCoordinator ──► groups: Map<groupId, Group>   (ClassicGroup, ConsumerGroup)
 *                      │                       └─ CommittedOffsets per group
 *                      └──────────► GroupLog (PartitionLog in <dataDir>/__internal/group-offsets)
 *
 * Writes (commits, deletions, group metadata) are appended to the group log first and answered
 * once durable. On start the log is replayed: groups come back Empty with their generation and
 * committed offsets; their members must rejoin. A timer expires the offsets of groups that have
 * been empty longer than the retention and drops empty groups with no offsets left.
 *
 * Everything here answers with Kafka error codes; nothing is thrown at the protocol edge.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BrokerConfig, GroupSettings } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { LogOptions } from '../storage/partition-log.js';
import { ClassicGroup } from './classic-group.js';
import type { ClassicGroupEnvironment, JoinRequest, JoinResult, LeaveRequestMember, LeaveResultMember, SyncRequest, SyncResult } from './classic-group.js';
import { CommittedOffsets } from './committed-offsets.js';
import type { CommittedOffset } from './committed-offsets.js';
import { assignors } from './assignors.js';
import { ConsumerGroup, consumerHeartbeatError, joinEpoch, leaveEpoch, staticLeaveEpoch } from './consumer-group.js';
import type { ConsumerGroupDescription, ConsumerGroupEnvironment, ConsumerHeartbeatResult, ConsumerTopics, WireTopicPartitions } from './consumer-group.js';
import type { Group, GroupDescription, GroupType } from './group.js';
import { GroupLog } from './group-log.js';
import { computeGroupLag } from './lag.js';
import type { GroupLag } from './lag.js';
import type { ConsumerGroupValue, GroupLogRecord, GroupValue } from './log-records.js';
import { systemScheduler } from './scheduler.js';
import type { Scheduler, Timer } from './scheduler.js';

/**
 * What the coordinator needs to know of topics: whether a partition exists, and its log positions;
 * for KIP-848 groups, topic ids and partition counts.
 */
export interface TopicDirectory extends ConsumerTopics {
  partitionOffsets(topic: string, partition: number): { readonly logStartOffset: number; readonly logEndOffset: number; readonly highWatermark: number } | undefined;
}

export interface CoordinatorOptions {
  /** Folder of the group log. */
  readonly directory: string;
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
}

export interface CommitPartition {
  readonly partitionIndex: number;
  readonly committedOffset: number;
  readonly committedLeaderEpoch: number;
  readonly committedMetadata: string | null;
}

export interface CommitRequest {
  readonly groupId: string;
  /** Classic generation id, or −1 for commits from outside group management. */
  readonly generationIdOrMemberEpoch: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly topics: ReadonlyArray<{ readonly name: string; readonly partitions: readonly CommitPartition[] }>;
  /** OffsetCommit version: members of KIP-848 groups must use v9+ (UNSUPPORTED_VERSION below). */
  readonly apiVersion?: number;
}

/** A ConsumerGroupHeartbeat as the handler read it. */
export interface ConsumerHeartbeatRequest {
  readonly apiVersion: number;
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: string | null;
  readonly topicPartitions: readonly WireTopicPartitions[] | null;
  readonly clientId: string;
  readonly clientHost: string;
}

/** Longest topic name Kafka allows. */
const maxTopicNameLength = 249;

export type PartitionErrors = Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;

export interface FetchedPartition {
  readonly partitionIndex: number;
  readonly committedOffset: number;
  readonly committedLeaderEpoch: number;
  readonly metadata: string;
  readonly errorCode: number;
}

export interface FetchedOffsets {
  readonly errorCode: number;
  readonly topics: Array<{ name: string; partitions: FetchedPartition[] }>;
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly groupState: string;
  readonly groupType: GroupType;
}

const retryLaterCode = ErrorCode.coordinatorNotAvailable;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** The group metadata record last appended per group (what a snapshot must repeat). */
  private readonly storedValues = new Map<string, GroupValue>();
  /** The consumer group record last appended per KIP-848 group. */
  private readonly storedConsumerValues = new Map<string, ConsumerGroupValue>();
  private readonly scheduler: Scheduler;
  private readonly settings: GroupSettings;
  private readonly logger: Logger;
  private readonly topics: TopicDirectory;
  private readonly classicEnvironment: ClassicGroupEnvironment;
  private readonly consumerEnvironment: ConsumerGroupEnvironment;
  private expiryTimer: Timer | null = null;
  private closed = false;

  private constructor(
    private readonly log: GroupLog,
    options: CoordinatorOptions,
    scheduler: Scheduler,
  ) {
    this.scheduler = scheduler;
    this.settings = options.settings;
    this.logger = options.logger;
    this.topics = options.topics;
    const newMemberId = options.newMemberId ?? ((prefix: string) => `${prefix}-${randomUUID()}`);
    this.classicEnvironment = {
      scheduler,
      logger: options.logger,
      initialRebalanceDelayMs: options.settings.initialRebalanceDelayMs,
      maxGroupSize: options.settings.maxGroupSize,
      newMemberId,
      persist: (group, value) => this.persistGroup(group, value),
    };
    this.consumerEnvironment = {
      scheduler,
      logger: options.logger,
      topics: options.topics,
      sessionTimeoutMs: options.settings.consumerSessionTimeoutMs,
      heartbeatIntervalMs: options.settings.consumerHeartbeatIntervalMs,
      maxGroupSize: options.settings.consumerMaxGroupSize,
      newMemberId: options.newConsumerMemberId ?? (() => randomUUID()),
      persist: (group, value) => this.persistConsumerGroup(group, value),
    };
  }

  static async open(options: CoordinatorOptions): Promise<GroupCoordinator> {
    const scheduler = options.scheduler ?? systemScheduler;
    const logOptions: LogOptions = {
      segmentBytes: options.settings.offsetsLogSegmentBytes,
      segmentMs: 7 * 24 * 60 * 60 * 1000,
      retentionMs: -1,
      retentionBytes: -1,
      indexIntervalBytes: 4096,
      flush: options.flush,
      flushIntervalMs: options.flushIntervalMs,
    };
    const log = await GroupLog.open(options.directory, logOptions, options.settings.offsetsLogCleanupBytes, { nowMs: () => scheduler.nowMs() }, options.logger);
    const coordinator = new GroupCoordinator(log, options, scheduler);
    const records = await coordinator.load();
    coordinator.scheduleExpiry();
    options.logger.info('group coordinator loaded', { groups: coordinator.groups.size, records, logBytes: log.sizeBytes });
    return coordinator;
  }

  /** Replays the group log into groups and offsets. */
  private async load(): Promise<number> {
    // A group's metadata is its last group (classic) or consumer group record; a group tombstone
    // deletes everything of the group, a consumer group tombstone only that record.
    const replayed = new Map<string, { value: GroupValue | null; consumerValue: ConsumerGroupValue | null; offsets: CommittedOffsets }>();
    const entry = (groupId: string) => {
      let found = replayed.get(groupId);
      if (found === undefined) {
        found = { value: null, consumerValue: null, offsets: new CommittedOffsets() };
        replayed.set(groupId, found);
      }
      return found;
    };
    const count = await this.log.replay((record, logOffset) => {
      if (record.kind === 'offset') {
        entry(record.groupId).offsets.replayed(record.topic, record.partition, record.value, logOffset);
      } else if (record.kind === 'consumerGroup') {
        const found = entry(record.groupId);
        found.consumerValue = record.value;
        if (record.value !== null) found.value = null;
      } else if (record.value === null) {
        replayed.delete(record.groupId);
      } else {
        const found = entry(record.groupId);
        found.value = record.value;
        found.consumerValue = null;
      }
    });
    for (const [groupId, { value, consumerValue, offsets }] of replayed) {
      if (consumerValue !== null) {
        this.storedConsumerValues.set(groupId, consumerValue);
        this.groups.set(groupId, ConsumerGroup.restore(groupId, consumerValue, this.consumerEnvironment, offsets));
        continue;
      }
      if (value === null && offsets.isEmpty) continue;
      if (value !== null) this.storedValues.set(groupId, value);
      if (value !== null && value.groupType !== 'classic') {
        this.logger.warn('group log: a group of a type this broker does not run comes back as a plain group with its offsets', { group: groupId, type: value.groupType });
      }
      const group = value !== null && value.groupType === 'classic'
        ? ClassicGroup.restore(groupId, value, this.classicEnvironment, offsets)
        : new ClassicGroup(groupId, this.classicEnvironment, offsets);
      this.groups.set(groupId, group);
    }
    return count;
  }

  // ── Registry ────────────────────────────────────────────────────────────────────────────────

  group(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** INVALID_GROUP_ID for ids that are too long (and, where `allowEmpty` is false, empty ones). */
  private groupIdProblem(groupId: string, allowEmpty: boolean): number {
    if (groupId === '' && !allowEmpty) return ErrorCode.invalidGroupId;
    return Buffer.byteLength(groupId, 'utf8') > this.settings.maxGroupIdBytes ? ErrorCode.invalidGroupId : ErrorCode.none;
  }

  private createClassicGroup(groupId: string): ClassicGroup | null {
    if (this.groups.size >= this.settings.maxGroups) {
      this.logger.warn('group refused: too many groups', { group: groupId, limit: this.settings.maxGroups });
      return null;
    }
    const group = new ClassicGroup(groupId, this.classicEnvironment);
    this.groups.set(groupId, group);
    return group;
  }

  /** A group nobody uses (a refused first join) is not kept. */
  private dropIfUnused(group: Group): void {
    if (this.groups.get(group.groupId) !== group) return;
    if (group.isEmpty && group.stateName === 'Empty' && group.offsets.isEmpty && !this.storedValues.has(group.groupId) && !this.storedConsumerValues.has(group.groupId)) {
      this.groups.delete(group.groupId);
    }
  }

  // ── Classic protocol ────────────────────────────────────────────────────────────────────────

  async joinGroup(groupId: string, request: JoinRequest): Promise<JoinResult> {
    const refuse = (errorCode: number): JoinResult => ({ errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: request.memberId, members: [] });
    if (this.closed) return refuse(ErrorCode.notCoordinator);
    const idProblem = this.groupIdProblem(groupId, false);
    if (idProblem !== ErrorCode.none) return refuse(idProblem);
    const { minSessionTimeoutMs, maxSessionTimeoutMs, maxProtocolsPerMember, maxMemberMetadataBytes } = this.settings;
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) return refuse(ErrorCode.invalidSessionTimeout);
    let metadataBytes = 0;
    for (const protocol of request.protocols) metadataBytes += protocol.metadata.length;
    if (request.protocols.length > maxProtocolsPerMember || metadataBytes > maxMemberMetadataBytes) {
      this.logger.warn('join refused: protocol metadata over the limit', { group: groupId, protocols: request.protocols.length, bytes: metadataBytes });
      return refuse(ErrorCode.inconsistentGroupProtocol);
    }
    let group = this.groups.get(groupId);
    if (group === undefined) {
      if (request.memberId !== '') return refuse(ErrorCode.unknownMemberId);
      group = this.createClassicGroup(groupId) ?? undefined;
      if (group === undefined) return refuse(retryLaterCode);
    }
    if (group instanceof ConsumerGroup && group.isEmpty) group = this.convertToClassic(group);
    if (!(group instanceof ClassicGroup)) return refuse(ErrorCode.inconsistentGroupProtocol);
    const result = await group.join(request);
    if (result.errorCode !== ErrorCode.none && result.errorCode !== ErrorCode.memberIdRequired) this.dropIfUnused(group);
    return result;
  }

  syncGroup(groupId: string, request: SyncRequest): Promise<SyncResult> {
    const group = this.groups.get(groupId);
    if (this.closed) return Promise.resolve({ errorCode: ErrorCode.notCoordinator, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    if (!(group instanceof ClassicGroup)) {
      const errorCode = group === undefined ? ErrorCode.unknownMemberId : ErrorCode.inconsistentGroupProtocol;
      return Promise.resolve({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    }
    return group.sync(request);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.closed) return ErrorCode.notCoordinator;
    const group = this.groups.get(groupId);
    if (group === undefined) return ErrorCode.unknownMemberId;
    if (!(group instanceof ClassicGroup)) return ErrorCode.inconsistentGroupProtocol;
    return group.heartbeat(memberId, groupInstanceId, generationId);
  }

  /** Per-member answers; an unknown group answers UNKNOWN_MEMBER_ID for each. */
  leaveGroup(groupId: string, members: readonly LeaveRequestMember[]): LeaveResultMember[] {
    const group = this.groups.get(groupId);
    if (this.closed || !(group instanceof ClassicGroup)) {
      const errorCode = this.closed ? ErrorCode.notCoordinator : group === undefined ? ErrorCode.unknownMemberId : ErrorCode.inconsistentGroupProtocol;
      return members.map((member) => ({ ...member, errorCode }));
    }
    return group.leave(members);
  }

  // ── KIP-848 consumer protocol ───────────────────────────────────────────────────────────────

  /**
   * ConsumerGroupHeartbeat. The request's own consistency is checked here (INVALID_REQUEST,
   * UNSUPPORTED_ASSIGNOR, INVALID_GROUP_ID), then the group decides. A group that does not exist is
   * created by a member joining (epoch 0); any other epoch gets UNKNOWN_MEMBER_ID, so that members
   * of a group this broker forgot (restart) rejoin. An empty classic group becomes a consumer group
   * (its offsets kept); one with members answers INCONSISTENT_GROUP_PROTOCOL.
   */
  consumerGroupHeartbeat(request: ConsumerHeartbeatRequest): ConsumerHeartbeatResult {
    if (this.closed) return consumerHeartbeatError(ErrorCode.notCoordinator, null);
    const problem = this.heartbeatProblem(request);
    if (problem !== null) return consumerHeartbeatError(problem.code, problem.message);
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      if (request.memberEpoch !== joinEpoch) return consumerHeartbeatError(ErrorCode.unknownMemberId, `group ${request.groupId} has no member ${request.memberId}`);
      if (this.groups.size >= this.settings.maxGroups) {
        this.logger.warn('group refused: too many groups', { group: request.groupId, limit: this.settings.maxGroups });
        return consumerHeartbeatError(retryLaterCode, 'too many groups');
      }
      group = new ConsumerGroup(request.groupId, this.consumerEnvironment);
      this.groups.set(request.groupId, group);
    } else if (group instanceof ClassicGroup) {
      if (!group.isEmpty || group.stateName !== 'Empty') return consumerHeartbeatError(ErrorCode.inconsistentGroupProtocol, `group ${request.groupId} is a classic group with members`);
      if (request.memberEpoch !== joinEpoch) return consumerHeartbeatError(ErrorCode.unknownMemberId, `group ${request.groupId} has no member ${request.memberId}`);
      group = this.convertToConsumer(group);
    }
    if (!(group instanceof ConsumerGroup)) return consumerHeartbeatError(ErrorCode.inconsistentGroupProtocol, null);
    const result = group.heartbeat({
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      serverAssignor: request.serverAssignor,
      ownedPartitions: request.topicPartitions,
      clientId: request.clientId,
      clientHost: request.clientHost,
    });
    if (result.errorCode !== ErrorCode.none) this.dropIfUnused(group);
    return result;
  }

  /** Kafka's request checks, plus bounds on what a member may make us keep. */
  private heartbeatProblem(request: ConsumerHeartbeatRequest): { code: number; message: string } | null {
    const invalid = (message: string) => ({ code: ErrorCode.invalidRequest, message });
    if (request.groupId === '') return invalid('GroupId can not be empty');
    if (this.groupIdProblem(request.groupId, false) !== ErrorCode.none) return { code: ErrorCode.invalidGroupId, message: `group id longer than ${this.settings.maxGroupIdBytes} bytes` };
    const maxIdBytes = this.settings.maxGroupIdBytes;
    for (const [name, value] of [['MemberId', request.memberId], ['InstanceId', request.instanceId], ['RackId', request.rackId]] as const) {
      if (value !== null && Buffer.byteLength(value, 'utf8') > maxIdBytes) return invalid(`${name} longer than ${maxIdBytes} bytes`);
    }
    if (request.instanceId === '') return invalid('InstanceId can not be empty');
    if (request.rackId === '') return invalid('RackId can not be empty');
    if (request.subscribedTopicRegex !== null) return invalid('SubscribedTopicRegex is not supported by this broker: subscribe by topic names');
    if (request.rebalanceTimeoutMs < -1) return invalid(`RebalanceTimeoutMs ${request.rebalanceTimeoutMs} is invalid`);
    const topics = request.subscribedTopicNames;
    if (topics !== null) {
      if (topics.length > this.settings.consumerMaxSubscribedTopics) return invalid(`more than ${this.settings.consumerMaxSubscribedTopics} subscribed topics`);
      if (topics.some((topic) => topic.length === 0 || topic.length > maxTopicNameLength)) return invalid('a subscribed topic name is empty or too long');
    }
    const epoch = request.memberEpoch;
    if (epoch > 0 || epoch === leaveEpoch) {
      if (request.memberId === '') return invalid('MemberId can not be empty');
    } else if (epoch === joinEpoch) {
      if (request.apiVersion >= 1 && request.memberId === '') return invalid('MemberId can not be empty: from version 1 the member makes its own');
      if (request.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in the first request');
      if (request.topicPartitions === null || request.topicPartitions.length > 0) return invalid('TopicPartitions must be empty when (re-)joining');
      if (topics === null || topics.length === 0) return invalid('SubscribedTopicNames must be set in the first request');
    } else if (epoch === staticLeaveEpoch) {
      if (request.memberId === '') return invalid('MemberId can not be empty');
      if (request.instanceId === null) return invalid('InstanceId can not be null when a static member leaves');
    } else {
      return invalid(`MemberEpoch ${epoch} is invalid`);
    }
    if (request.serverAssignor !== null && !assignors.has(request.serverAssignor)) {
      return { code: ErrorCode.unsupportedAssignor, message: `ServerAssignor ${request.serverAssignor} is not supported; supported: ${[...assignors.keys()].join(', ')}` };
    }
    return null;
  }

  /** ConsumerGroupDescribe: null for an unknown group, 'classic' for a group of the other protocol. */
  describeConsumerGroup(groupId: string): ConsumerGroupDescription | 'classic' | null {
    const group = this.groups.get(groupId);
    if (group === undefined) return null;
    return group instanceof ConsumerGroup ? group.describeConsumerGroup() : 'classic';
  }

  /** An empty classic group taken over by a consumer-protocol member; its offsets stay. */
  private convertToConsumer(group: ClassicGroup): ConsumerGroup {
    group.shutDown(ErrorCode.unknownMemberId);
    const converted = new ConsumerGroup(group.groupId, this.consumerEnvironment, group.offsets);
    this.groups.set(group.groupId, converted);
    this.storedValues.delete(group.groupId);
    this.logger.info('empty classic group becomes a consumer group', { group: group.groupId });
    return converted;
  }

  /** An empty consumer group taken over by a classic member; its offsets stay. */
  private convertToClassic(group: ConsumerGroup): ClassicGroup {
    group.shutDown(ErrorCode.unknownMemberId);
    const converted = new ClassicGroup(group.groupId, this.classicEnvironment, group.offsets);
    this.groups.set(group.groupId, converted);
    if (this.storedConsumerValues.delete(group.groupId)) this.append([{ kind: 'consumerGroup', groupId: group.groupId, value: null }]);
    this.logger.info('empty consumer group becomes a classic group', { group: group.groupId });
    return converted;
  }

  private persistConsumerGroup(group: ConsumerGroup, value: ConsumerGroupValue): void {
    if (this.groups.get(group.groupId) !== group) return;
    const outcome = this.append([{ kind: 'consumerGroup', groupId: group.groupId, value }]);
    if (outcome === null) return;
    this.storedConsumerValues.set(group.groupId, value);
    this.storedValues.delete(group.groupId);
    outcome.durable.catch((error: unknown) => this.logger.error('storing consumer group metadata failed', { group: group.groupId, error: String(error) }));
  }

  // ── Across protocols: DescribeGroups, ListGroups, DeleteGroups ──────────────────────────────

  /** Null for an unknown group (DescribeGroups answers Dead, or GROUP_ID_NOT_FOUND from v6). */
  describeGroup(groupId: string): GroupDescription | null {
    return this.groups.get(groupId)?.describe() ?? null;
  }

  /** ListGroups; filters compare case-insensitively, as Kafka does; empty filters match all. */
  listGroups(statesFilter: readonly string[], typesFilter: readonly string[]): ListedGroup[] {
    const states = new Set(statesFilter.map((state) => state.toLowerCase()));
    const types = new Set(typesFilter.map((type) => type.toLowerCase()));
    const listed: ListedGroup[] = [];
    for (const group of this.groups.values()) {
      if (states.size > 0 && !states.has(group.stateName.toLowerCase())) continue;
      if (types.size > 0 && !types.has(group.type)) continue;
      listed.push({ groupId: group.groupId, protocolType: group.protocolTypeName, groupState: group.stateName, groupType: group.type });
    }
    return listed;
  }

  /** DeleteGroups: only groups without members; their offsets and metadata are deleted durably. */
  async deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    const results = groupIds.map((groupId): { groupId: string; errorCode: number } => ({ groupId, errorCode: ErrorCode.none }));
    const pending: Array<{ index: number; durable: Promise<void> }> = [];
    groupIds.forEach((groupId, index) => {
      const result = results[index]!;
      if (this.closed) return void (result.errorCode = ErrorCode.notCoordinator);
      if (this.groupIdProblem(groupId, true) !== ErrorCode.none) return void (result.errorCode = ErrorCode.invalidGroupId);
      const group = this.groups.get(groupId);
      if (group === undefined) return void (result.errorCode = ErrorCode.groupIdNotFound);
      if (!group.isEmpty || group.stateName !== 'Empty') return void (result.errorCode = ErrorCode.nonEmptyGroup);
      const durable = this.removeGroup(group);
      if (durable === null) result.errorCode = retryLaterCode;
      else pending.push({ index, durable });
    });
    for (const { index, durable } of pending) {
      try {
        await durable;
      } catch {
        results[index]!.errorCode = retryLaterCode;
      }
    }
    return results;
  }

  /** Tombstones for the group and its offsets; the group leaves the registry at once. Null if the log refused. */
  private removeGroup(group: Group): Promise<void> | null {
    const records: GroupLogRecord[] = group.offsets.latest().map(({ topic, partition }) => ({ kind: 'offset', groupId: group.groupId, topic, partition, value: null }));
    if (this.storedConsumerValues.has(group.groupId)) records.push({ kind: 'consumerGroup', groupId: group.groupId, value: null });
    records.push({ kind: 'group', groupId: group.groupId, value: null });
    const outcome = this.append(records);
    if (outcome === null) return null;
    this.groups.delete(group.groupId);
    this.storedValues.delete(group.groupId);
    this.storedConsumerValues.delete(group.groupId);
    group.shutDown(ErrorCode.unknownMemberId);
    this.logger.info('group deleted', { group: group.groupId });
    return outcome.durable;
  }

  // ── Offsets ─────────────────────────────────────────────────────────────────────────────────

  /**
   * OffsetCommit. Group checks (generation, member) come first and apply to every partition; then
   * each partition is checked on its own: it must exist (UNKNOWN_TOPIC_OR_PARTITION), its metadata
   * fit maxMetadataBytes (OFFSET_METADATA_TOO_LARGE), and its offset not lie beyond the partition's
   * log end offset (OFFSET_OUT_OF_RANGE; Kafka itself does not check this, we do, so a committed
   * position names a record that exists or the end). Offsets below the log start are accepted (a
   * consumer lagging behind retention may commit them), and so are negative ones, as Kafka does:
   * KafkaJS's admin.resetOffsets commits −1 and −2 (latest / earliest) for consumers to resolve,
   * and every client reads a negative committed offset as "no position".
   * Accepted partitions are written as one batch and answered once it is durable.
   */
  async commitOffsets(request: CommitRequest): Promise<PartitionErrors> {
    const results: PartitionErrors = request.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode: ErrorCode.none })) }));
    const answerAll = (errorCode: number) => {
      for (const topic of results) for (const partition of topic.partitions) partition.errorCode = errorCode;
      return results;
    };
    if (this.closed) return answerAll(ErrorCode.notCoordinator);
    const idProblem = this.groupIdProblem(request.groupId, true);
    if (idProblem !== ErrorCode.none) return answerAll(idProblem);
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      // Only commits from outside group management (generation −1) may create a group.
      if (request.generationIdOrMemberEpoch >= 0) return answerAll(ErrorCode.illegalGeneration);
    } else {
      let groupError = group.validateOffsetCommit(request.memberId, request.groupInstanceId, request.generationIdOrMemberEpoch);
      // Members of KIP-848 groups commit with v9+, which carries the member epoch (Kafka's rule).
      if (groupError === ErrorCode.none && group instanceof ConsumerGroup && group.hasMember(request.memberId) && (request.apiVersion ?? 9) < 9) groupError = ErrorCode.unsupportedVersion;
      if (groupError !== ErrorCode.none) {
        this.logger.debug('offset commit refused', { group: request.groupId, member: request.memberId, generation: request.generationIdOrMemberEpoch, state: group.stateName, errorCode: groupError });
        return answerAll(groupError);
      }
    }
    const now = this.scheduler.nowMs();
    const accepted: Array<{ topic: string; partition: number; value: CommittedOffset; result: { errorCode: number } }> = [];
    request.topics.forEach((topic, topicIndex) => {
      topic.partitions.forEach((partition, partitionIndex) => {
        const result = results[topicIndex]!.partitions[partitionIndex]!;
        result.errorCode = this.commitProblem(topic.name, partition);
        if (result.errorCode !== ErrorCode.none) return;
        const value: CommittedOffset = { offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch, metadata: partition.committedMetadata ?? '', commitTimestampMs: now };
        accepted.push({ topic: topic.name, partition: partition.partitionIndex, value, result });
      });
    });
    if (accepted.length === 0) return results;
    if (group === undefined) {
      group = this.createClassicGroup(request.groupId) ?? undefined;
      if (group === undefined) {
        for (const { result } of accepted) result.errorCode = retryLaterCode;
        return results;
      }
    }
    const target = group;
    const outcome = this.append(accepted.map(({ topic, partition, value }) => ({ kind: 'offset', groupId: target.groupId, topic, partition, value })));
    if (outcome === null) {
      for (const { result } of accepted) result.errorCode = retryLaterCode;
      this.dropIfUnused(target);
      return results;
    }
    accepted.forEach(({ topic, partition, value }, index) => target.offsets.appended(topic, partition, value, outcome.logOffset + index));
    try {
      await outcome.durable;
      accepted.forEach(({ topic, partition, value }, index) => target.offsets.madeDurable(topic, partition, value, outcome.logOffset + index));
    } catch (error) {
      this.logger.debug('committing offsets failed', { group: target.groupId, error: String(error) }); // the group log reported the cause
      accepted.forEach(({ topic, partition, value, result }, index) => {
        target.offsets.appendFailed(topic, partition, value, outcome.logOffset + index);
        result.errorCode = retryLaterCode;
      });
    }
    return results;
  }

  private commitProblem(topic: string, partition: CommitPartition): number {
    const offsets = this.topics.partitionOffsets(topic, partition.partitionIndex);
    if (offsets === undefined) return ErrorCode.unknownTopicOrPartition;
    if (partition.committedMetadata !== null && Buffer.byteLength(partition.committedMetadata, 'utf8') > this.settings.maxMetadataBytes) return ErrorCode.offsetMetadataTooLarge;
    if (partition.committedOffset > offsets.logEndOffset) return ErrorCode.offsetOutOfRange;
    return ErrorCode.none;
  }

  /**
   * OffsetFetch for one group: the durable committed offsets of the partitions asked for (all the
   * group has when `topics` is null); −1 with no error where nothing is committed.
   */
  fetchOffsets(
    groupId: string,
    topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null = null,
  ): FetchedOffsets {
    if (this.closed) return { errorCode: ErrorCode.notCoordinator, topics: [] };
    if (this.groupIdProblem(groupId, true) !== ErrorCode.none) return { errorCode: ErrorCode.invalidGroupId, topics: [] };
    const group = this.groups.get(groupId);
    // v9+ name the member: a KIP-848 group checks it (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH); classic groups do not, as Kafka.
    if (member !== null && group instanceof ConsumerGroup) {
      const memberError = group.validateOffsetFetch(member.memberId, member.memberEpoch);
      if (memberError !== ErrorCode.none) return { errorCode: memberError, topics: [] };
    }
    const offsets = group?.offsets;
    const describe = (partitionIndex: number, committed: CommittedOffset | undefined): FetchedPartition =>
      committed === undefined
        ? { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.none }
        : { partitionIndex, committedOffset: committed.offset, committedLeaderEpoch: committed.leaderEpoch, metadata: committed.metadata, errorCode: ErrorCode.none };
    if (topics !== null) {
      return {
        errorCode: ErrorCode.none,
        topics: topics.map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes.map((partition) => describe(partition, offsets?.get(topic.name, partition))) })),
      };
    }
    const byTopic = new Map<string, FetchedPartition[]>();
    for (const { topic, partition, committed } of offsets?.visible() ?? []) {
      let list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, (list = []));
      list.push(describe(partition, committed));
    }
    return { errorCode: ErrorCode.none, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
  }

  /**
   * OffsetDelete: deletes committed offsets of partitions no member is subscribed to
   * (GROUP_SUBSCRIBED_TO_TOPIC for the others). A group of another protocol type must be empty
   * (NON_EMPTY_GROUP); an unknown group is GROUP_ID_NOT_FOUND.
   */
  async deleteOffsets(groupId: string, topics: ReadonlyArray<{ readonly name: string; readonly partitions: ReadonlyArray<{ readonly partitionIndex: number }> }>): Promise<{ errorCode: number; topics: PartitionErrors }> {
    const results: PartitionErrors = topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map(({ partitionIndex }) => ({ partitionIndex, errorCode: ErrorCode.none })) }));
    if (this.closed) return { errorCode: ErrorCode.notCoordinator, topics: [] };
    if (this.groupIdProblem(groupId, true) !== ErrorCode.none) return { errorCode: ErrorCode.invalidGroupId, topics: [] };
    const group = this.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.groupIdNotFound, topics: [] };
    const checksSubscriptions = group.type === 'consumer' || group.protocolTypeName === 'consumer';
    if (!checksSubscriptions && !group.isEmpty) return { errorCode: ErrorCode.nonEmptyGroup, topics: [] };
    const records: GroupLogRecord[] = [];
    topics.forEach((topic, topicIndex) => {
      const subscribed = checksSubscriptions && group.isSubscribedToTopic(topic.name);
      topic.partitions.forEach(({ partitionIndex }, index) => {
        const result = results[topicIndex]!.partitions[index]!;
        if (this.topics.partitionOffsets(topic.name, partitionIndex) === undefined) result.errorCode = ErrorCode.unknownTopicOrPartition;
        else if (subscribed) result.errorCode = ErrorCode.groupSubscribedToTopic;
        else records.push({ kind: 'offset', groupId, topic: topic.name, partition: partitionIndex, value: null });
      });
    });
    if (records.length === 0) return { errorCode: ErrorCode.none, topics: results };
    const outcome = this.append(records);
    if (outcome === null) return { errorCode: retryLaterCode, topics: [] };
    records.forEach((record, index) => {
      if (record.kind === 'offset') group.offsets.appended(record.topic, record.partition, null, outcome.logOffset + index);
    });
    try {
      await outcome.durable;
    } catch {
      records.forEach((record, index) => {
        if (record.kind === 'offset') group.offsets.appendFailed(record.topic, record.partition, null, outcome.logOffset + index);
      });
      return { errorCode: retryLaterCode, topics: [] };
    }
    records.forEach((record, index) => {
      if (record.kind === 'offset') group.offsets.madeDurable(record.topic, record.partition, null, outcome.logOffset + index);
    });
    return { errorCode: ErrorCode.none, topics: results };
  }

  // ── Lag ─────────────────────────────────────────────────────────────────────────────────────

  /** Per-partition committed offset, high watermark and lag of a group, with totals; null for an unknown group. */
  lag(groupId: string): GroupLag | null {
    const group = this.groups.get(groupId);
    if (group === undefined) return null;
    const assigned: Array<{ topic: string; partition: number; memberId: string; clientId: string }> = [];
    for (const member of group.members()) {
      for (const { topic, partitions } of member.assignment ?? []) {
        for (const partition of partitions) assigned.push({ topic, partition, memberId: member.memberId, clientId: member.clientId });
      }
    }
    return computeGroupLag({
      groupId,
      state: group.stateName,
      committed: group.offsets.visible().map(({ topic, partition, committed }) => ({ topic, partition, offset: committed.offset })),
      assigned,
      logEndOffset: (topic, partition) => this.topics.partitionOffsets(topic, partition)?.highWatermark ?? null,
    });
  }

  // ── The group log ───────────────────────────────────────────────────────────────────────────

  private persistGroup(group: Group, value: GroupValue): Promise<void> {
    if (this.groups.get(group.groupId) !== group) return Promise.resolve();
    const outcome = this.append([{ kind: 'group', groupId: group.groupId, value }]);
    if (outcome === null) return Promise.reject(new Error('the group log refused the write'));
    this.storedValues.set(group.groupId, value);
    return outcome.durable;
  }

  /** Appends one batch; null (logged) when the log cannot take writes. Starts a cleanup when one is due. */
  private append(records: readonly GroupLogRecord[]): { logOffset: number; durable: Promise<void> } | null {
    if (records.length === 0) return { logOffset: this.log.logEndOffset, durable: Promise.resolve() };
    let outcome;
    try {
      outcome = this.log.append(records);
    } catch (error) {
      this.logger.error('the group log refused a write', { error: String(error) });
      return null;
    }
    // Callers may not wait (group metadata of a group that became empty): never leave a rejection unhandled.
    outcome.durable.catch(() => undefined);
    // Callers record what they appended (offsets.appended, storedValues) right after this returns;
    // the snapshot must include it, so the cleanup starts once the current synchronous step is over.
    if (this.log.cleanupDue) queueMicrotask(() => this.cleanUpLog());
    return outcome;
  }

  /** Every live record, from what has been appended (not only what is durable): see group-log.ts. */
  private liveRecords(): GroupLogRecord[] {
    const records: GroupLogRecord[] = [];
    for (const group of this.groups.values()) {
      const value = this.storedValues.get(group.groupId);
      if (value !== undefined) records.push({ kind: 'group', groupId: group.groupId, value });
      const consumerValue = this.storedConsumerValues.get(group.groupId);
      if (consumerValue !== undefined) records.push({ kind: 'consumerGroup', groupId: group.groupId, value: consumerValue });
      for (const { topic, partition, committed } of group.offsets.latest()) records.push({ kind: 'offset', groupId: group.groupId, topic, partition, value: committed });
    }
    return records;
  }

  private cleanUpLog(): void {
    if (this.closed || !this.log.cleanupDue) return;
    this.log.cleanUp(this.liveRecords()).catch((error: unknown) => this.logger.error('group log cleanup failed', { error: String(error) }));
  }

  // ── Expiry ──────────────────────────────────────────────────────────────────────────────────

  private scheduleExpiry(): void {
    this.expiryTimer = this.scheduler.schedule(this.settings.offsetsRetentionCheckIntervalMs, () => {
      this.expireOffsets().catch((error: unknown) => this.logger.error('offset expiry failed', { error: String(error) }));
      if (!this.closed) this.scheduleExpiry();
    });
  }

  /**
   * Deletes the committed offsets of groups that have had no members for offsetsRetentionMs, each
   * once it is itself that old, and drops empty groups with no offsets left. Returns the number of
   * offsets expired.
   */
  async expireOffsets(): Promise<number> {
    if (this.closed) return 0;
    const now = this.scheduler.nowMs();
    const retentionMs = this.settings.offsetsRetentionMs;
    const records: GroupLogRecord[] = [];
    const expiredGroups: Group[] = [];
    const doomedGroups: Group[] = [];
    for (const group of this.groups.values()) {
      const emptySince = group.emptySinceMs;
      if (emptySince === null) continue;
      const latest = group.offsets.latest();
      const expired = latest.filter(({ committed }) => now - Math.max(emptySince, committed.commitTimestampMs) >= retentionMs);
      for (const { topic, partition } of expired) records.push({ kind: 'offset', groupId: group.groupId, topic, partition, value: null });
      if (expired.length > 0) expiredGroups.push(group);
      if (expired.length === latest.length) doomedGroups.push(group);
    }
    const outcome = this.append(records);
    if (outcome === null) return 0;
    records.forEach((record, index) => {
      if (record.kind === 'offset') this.groups.get(record.groupId)?.offsets.appended(record.topic, record.partition, null, outcome.logOffset + index);
    });
    const removals = doomedGroups.map((group) => this.removeGroup(group));
    await outcome.durable;
    records.forEach((record, index) => {
      if (record.kind === 'offset') expiredGroups.find((group) => group.groupId === record.groupId)?.offsets.madeDurable(record.topic, record.partition, null, outcome.logOffset + index);
    });
    await Promise.all(removals);
    if (records.length > 0 || doomedGroups.length > 0) this.logger.info('expired offsets', { offsets: records.length, groupsRemoved: doomedGroups.length });
    return records.length;
  }

  // ── Lifecycle ───────────────────────────────────────────────────────────────────────────────

  /** Answers waiting JoinGroup/SyncGroup requests with NOT_COORDINATOR, stops timers, flushes and closes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.expiryTimer?.cancel();
    for (const group of this.groups.values()) group.shutDown(ErrorCode.notCoordinator);
    await this.log.close();
  }

  /** For tests: the group log's size and offsets. */
  get logStatus(): { sizeBytes: number; logStartOffset: number; logEndOffset: number } {
    return { sizeBytes: this.log.sizeBytes, logStartOffset: this.log.logStartOffset, logEndOffset: this.log.logEndOffset };
  }
}

/** The group log's folder: not of the form `<topic>-<n>`, so never taken for a topic partition's. */
export function groupLogDirectory(dataDir: string): string {
  return join(dataDir, '__internal', 'group-offsets');
}

/** The broker's coordinator, from its configuration (what broker.ts calls). */
export function openGroupCoordinator(config: BrokerConfig, topics: TopicDirectory, logger: Logger): Promise<GroupCoordinator> {
  return GroupCoordinator.open({ directory: groupLogDirectory(config.dataDir), settings: config.groups, flush: config.flush, flushIntervalMs: config.flushIntervalMs, topics, logger });
}
