/**
 * The registry of groups: which groups this broker coordinates, of which protocol, and within
 * which limits (`groups.maxGroups`, `groups.maxGroupIdBytes`). It creates groups, restores them
 * from the group log's replay, turns an empty group of one protocol into a group of the other (its
 * offsets kept), removes groups, and answers ListGroups, DescribeGroups and ConsumerGroupDescribe.
 *
 *   groups: Map<groupId, Group>      ClassicGroup (classic-group.ts) | ConsumerGroup (consumer-group.ts)
 *              │ metadata records, tombstones
 *              ▼
 *   GroupPersistence (group-persistence.ts)
 *
 * A group writes its metadata record only while it is the registry's group of that id: a group
 * replaced or removed meanwhile writes nothing.
 */
import { randomUUID } from 'node:crypto';
import type { GroupSettings } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { ClassicGroup } from './classic-group.js';
import type { ClassicGroupEnvironment } from './classic-group.js';
import { ConsumerGroup } from './consumer-group.js';
import type { ConsumerGroupConfig, ConsumerGroupDescription, ConsumerGroupEnvironment, ConsumerTopics } from './consumer-group.js';
import type { Group, GroupDescription, GroupType } from './group.js';
import type { GroupPersistence, ReplayedGroup } from './group-persistence.js';
import type { Scheduler } from './scheduler.js';

export interface GroupRegistryOptions {
  readonly settings: GroupSettings;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
  readonly topics: ConsumerTopics;
  readonly persistence: GroupPersistence;
  /** Member ids; `${prefix}-${uuid}` by default (Kafka's form). */
  readonly newMemberId?: (prefix: string) => string;
  /** Member ids of KIP-848 members joining with ConsumerGroupHeartbeat v0 (v1 clients make their own); a UUID by default. */
  readonly newConsumerMemberId?: () => string;
  /** A KIP-848 group's own session timeout and heartbeat interval (GROUP config resources). */
  readonly consumerGroupConfig?: (groupId: string) => ConsumerGroupConfig;
  /** The groups `groups.maxGroups` counts: the whole broker's when it has several registries (a cluster); this registry's when absent. */
  readonly brokerGroupCount?: () => number;
}

/** What a write the group log refused is answered with: the client retries. */
export const retryLaterCode = ErrorCode.coordinatorNotAvailable;

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly groupState: string;
  readonly groupType: GroupType;
}

export class GroupRegistry {
  private readonly groups = new Map<string, Group>();
  private readonly settings: GroupSettings;
  private readonly logger: Logger;
  private readonly persistence: GroupPersistence;
  private readonly classicEnvironment: ClassicGroupEnvironment;
  private readonly consumerEnvironment: ConsumerGroupEnvironment;
  private readonly brokerGroupCount: () => number;

  constructor(options: GroupRegistryOptions) {
    this.brokerGroupCount = options.brokerGroupCount ?? (() => this.groups.size);
    this.settings = options.settings;
    this.logger = options.logger;
    this.persistence = options.persistence;
    const newMemberId = options.newMemberId ?? ((prefix: string) => `${prefix}-${randomUUID()}`);
    this.classicEnvironment = {
      scheduler: options.scheduler,
      logger: options.logger,
      initialRebalanceDelayMs: options.settings.initialRebalanceDelayMs,
      maxGroupSize: options.settings.maxGroupSize,
      newMemberId,
      persist: (group, value) => (this.groups.get(group.groupId) === group ? this.persistence.storeGroup(group.groupId, value) : Promise.resolve()),
    };
    this.consumerEnvironment = {
      scheduler: options.scheduler,
      logger: options.logger,
      topics: options.topics,
      sessionTimeoutMs: options.settings.consumerSessionTimeoutMs,
      heartbeatIntervalMs: options.settings.consumerHeartbeatIntervalMs,
      ...(options.consumerGroupConfig === undefined ? {} : { groupConfig: options.consumerGroupConfig }),
      maxGroupSize: options.settings.consumerMaxGroupSize,
      newMemberId: options.newConsumerMemberId ?? (() => randomUUID()),
      persist: (group, value) => {
        if (this.groups.get(group.groupId) === group) this.persistence.storeConsumerGroup(group.groupId, value);
      },
    };
  }

  /** The groups of the group log's replay: they come back Empty, their members must rejoin. */
  restore(replayed: readonly ReplayedGroup[]): void {
    for (const { groupId, value, consumerValue, offsets } of replayed) {
      if (consumerValue !== null) {
        this.groups.set(groupId, ConsumerGroup.restore(groupId, consumerValue, this.consumerEnvironment, offsets));
        continue;
      }
      if (value !== null && value.groupType !== 'classic') {
        this.logger.warn('group log: a group of a type this broker does not run comes back as a plain group with its offsets', { group: groupId, type: value.groupType });
      }
      const group = value !== null && value.groupType === 'classic'
        ? ClassicGroup.restore(groupId, value, this.classicEnvironment, offsets)
        : new ClassicGroup(groupId, this.classicEnvironment, offsets);
      this.groups.set(groupId, group);
    }
  }

  get(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  get size(): number {
    return this.groups.size;
  }

  values(): IterableIterator<Group> {
    return this.groups.values();
  }

  /** INVALID_GROUP_ID for ids that are too long (and, where `allowEmpty` is false, empty ones). */
  groupIdProblem(groupId: string, allowEmpty: boolean): number {
    if (groupId === '' && !allowEmpty) return ErrorCode.invalidGroupId;
    return Buffer.byteLength(groupId, 'utf8') > this.settings.maxGroupIdBytes ? ErrorCode.invalidGroupId : ErrorCode.none;
  }

  /** A new classic group; null (logged) when the registry is full. */
  createClassicGroup(groupId: string): ClassicGroup | null {
    if (!this.hasRoom(groupId)) return null;
    const group = new ClassicGroup(groupId, this.classicEnvironment);
    this.groups.set(groupId, group);
    return group;
  }

  /** A new KIP-848 consumer group; null (logged) when the registry is full. */
  createConsumerGroup(groupId: string): ConsumerGroup | null {
    if (!this.hasRoom(groupId)) return null;
    const group = new ConsumerGroup(groupId, this.consumerEnvironment);
    this.groups.set(groupId, group);
    return group;
  }

  private hasRoom(groupId: string): boolean {
    if (this.brokerGroupCount() < this.settings.maxGroups) return true;
    this.logger.warn('group refused: too many groups', { group: groupId, limit: this.settings.maxGroups });
    return false;
  }

  /** A group nobody uses (a refused first join) is not kept. */
  dropIfUnused(group: Group): void {
    if (this.groups.get(group.groupId) !== group) return;
    if (group.isEmpty && group.stateName === 'Empty' && group.offsets.isEmpty && !this.persistence.hasMetadata(group.groupId)) {
      this.groups.delete(group.groupId);
    }
  }

  /** An empty classic group taken over by a consumer-protocol member; its offsets stay. */
  convertToConsumer(group: ClassicGroup): ConsumerGroup {
    group.shutDown(ErrorCode.unknownMemberId);
    const converted = new ConsumerGroup(group.groupId, this.consumerEnvironment, group.offsets);
    this.groups.set(group.groupId, converted);
    this.persistence.forgetClassicMetadata(group.groupId);
    this.logger.info('empty classic group becomes a consumer group', { group: group.groupId });
    return converted;
  }

  /** An empty consumer group taken over by a classic member; its offsets stay. */
  convertToClassic(group: ConsumerGroup): ClassicGroup {
    group.shutDown(ErrorCode.unknownMemberId);
    const converted = new ClassicGroup(group.groupId, this.classicEnvironment, group.offsets);
    this.groups.set(group.groupId, converted);
    this.persistence.dropConsumerMetadata(group.groupId);
    this.logger.info('empty consumer group becomes a classic group', { group: group.groupId });
    return converted;
  }

  /** Tombstones for the group and its offsets; the group leaves the registry at once. Null if the log refused. */
  remove(group: Group): Promise<void> | null {
    const outcome = this.persistence.append(this.persistence.groupTombstones(group));
    if (outcome === null) return null;
    this.groups.delete(group.groupId);
    this.persistence.forget(group.groupId);
    group.shutDown(ErrorCode.unknownMemberId);
    this.logger.info('group deleted', { group: group.groupId });
    return outcome.durable;
  }

  /** DeleteGroups: only groups without members; their offsets and metadata are deleted durably. */
  async deleteGroups(groupIds: readonly string[]): Promise<Array<{ groupId: string; errorCode: number }>> {
    const results = groupIds.map((groupId): { groupId: string; errorCode: number } => ({ groupId, errorCode: ErrorCode.none }));
    const pending: Array<{ index: number; durable: Promise<void> }> = [];
    groupIds.forEach((groupId, index) => {
      const result = results[index]!;
      if (this.groupIdProblem(groupId, true) !== ErrorCode.none) return void (result.errorCode = ErrorCode.invalidGroupId);
      const group = this.groups.get(groupId);
      if (group === undefined) return void (result.errorCode = ErrorCode.groupIdNotFound);
      if (!group.isEmpty || group.stateName !== 'Empty') return void (result.errorCode = ErrorCode.nonEmptyGroup);
      const durable = this.remove(group);
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

  /** Null for an unknown group (DescribeGroups answers Dead, or GROUP_ID_NOT_FOUND from v6). */
  describeGroup(groupId: string): GroupDescription | null {
    return this.groups.get(groupId)?.describe() ?? null;
  }

  /** ConsumerGroupDescribe: null for an unknown group, 'classic' for a group of the other protocol. */
  describeConsumerGroup(groupId: string): ConsumerGroupDescription | 'classic' | null {
    const group = this.groups.get(groupId);
    if (group === undefined) return null;
    return group instanceof ConsumerGroup ? group.describeConsumerGroup() : 'classic';
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

  /** Ends every group: timers stopped, waiting requests answered with `errorCode`. */
  shutDown(errorCode: number): void {
    for (const group of this.groups.values()) group.shutDown(errorCode);
  }
}
