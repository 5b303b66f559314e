/**
 * One KIP-848 consumer group (ConsumerGroupHeartbeat): the broker assigns partitions, members
 * reconcile towards that target one heartbeat at a time, after Kafka's GroupMetadataManager and
 * CurrentAssignmentBuilder.
 *
 *   group epoch        bumped when membership, a subscription or the subscribed topics' metadata
 *                      (topic id, partition count; looked at on every heartbeat) change
 *   assignment epoch   the group epoch the target assignment was computed for (the assignor runs
 *                      at once, so it catches up within the heartbeat or timer that bumped it)
 *   member epoch       the assignment epoch the member has reconciled to
 *
 * A member's reconciliation, on each of its heartbeats (owned = the partitions it reports):
 *
 *                     the target moved on and the member
 *                     holds partitions no longer its own
 *     ┌────────┐ ───────────────────────────────────────► ┌───────────┐ rebalance timeout:
 *     │ stable │                                          │ unrevoked │ the member is removed
 *     └────────┘ ◄─── its heartbeat no longer lists ───── └───────────┘
 *       ▲   │         them and all its target is free          │ the same, but some partitions
 *       │   │         (it takes the assignment epoch)          │ of its target are still owned
 *       │   │ the target moved on, nothing to revoke,          │ by others
 *       │   │ some new partitions still owned by others        │
 *       │   ▼                                                  │
 *       │ ┌────────────┐ ◄───────────────────────────────────┘
 *       └─│ unreleased │  (at the assignment epoch, with the free part of its target; the rest
 *         └────────────┘   comes on later heartbeats, and then it is stable)
 *
 * A partition is owned by the member that has it assigned or is revoking it, and is only ever
 * given to another member once that owner has let it go (or left, or was removed): no partition
 * has two owners at once.
 *
 * Members: epoch 0 joins (a known member id rejoining starts afresh, owning nothing), −1 leaves,
 * −2 leaves a static member for now (it keeps its partitions until its session expires or its
 * instance id rejoins, taking them over without a rebalance). A member not heard from within
 * the session timeout is removed; one that does not revoke within its rebalance timeout too.
 *
 * Nothing here throws at clients: answers carry error codes. Group state is not persisted beyond
 * the group epoch (log-records.ts): after a restart, members rejoin.
 */
import type { Logger } from '../logging/logger.js';
import type { RE2JS } from 're2js';
import { compileTopicRegex } from './topic-regex.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { Assignor, TopicAssignment } from './assignors.js';
import { assignors, countPartitions, defaultAssignorName } from './assignors.js';
import { CommittedOffsets } from './committed-offsets.js';
import { encodeAssignment, encodeSubscription } from '../protocol/kafka/consumer-protocol.js';
import type { Group, GroupDescription, GroupMemberSummary } from './group.js';
import type { ConsumerGroupValue } from './log-records.js';
import type { Scheduler, Timer } from './scheduler.js';

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';
export type MemberState = 'stable' | 'unrevoked' | 'unreleased';

export const joinEpoch = 0;
export const leaveEpoch = -1;
export const staticLeaveEpoch = -2;

/** What a consumer group needs to know of topics. */
export interface ConsumerTopics {
  topicMetadata(name: string): { readonly id: Buffer; readonly partitionCount: number } | undefined;
  topicName(id: Buffer): string | undefined;
  /** Every topic's name (regex subscriptions are matched against them). */
  topicNames(): Iterable<string>;
}

/** A group's own settings (GROUP config resources, KIP-848); absent ones take the broker's. */
export interface ConsumerGroupConfig {
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
}

export interface ConsumerGroupEnvironment {
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly topics: ConsumerTopics;
  /** The broker's consumer.session.timeout.ms and heartbeat interval, unless groupConfig says otherwise. */
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** The group's own settings, asked at each heartbeat so that a change applies at once. */
  readonly groupConfig?: (groupId: string) => ConsumerGroupConfig;
  readonly maxGroupSize: number;
  newMemberId(): string;
  /** Stores the group's metadata record (log-records.ts key type 3); failures are the coordinator's to log. */
  persist(group: ConsumerGroup, value: ConsumerGroupValue): void;
}

export interface WireTopicPartitions {
  readonly topicId: Buffer;
  readonly partitions: readonly number[];
}

/** A validated ConsumerGroupHeartbeat (the coordinator checks the request's own consistency). */
export interface ConsumerHeartbeat {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  /** −1: unchanged. */
  readonly rebalanceTimeoutMs: number;
  /** null: unchanged. */
  readonly subscribedTopicNames: readonly string[] | null;
  /** null: unchanged; '': none. RE2 syntax, checked already (consumer-heartbeat-request.ts). */
  readonly subscribedTopicRegex: string | null;
  /** null: unchanged. */
  readonly serverAssignor: string | null;
  /** null: unchanged (not reported). */
  readonly ownedPartitions: readonly WireTopicPartitions[] | null;
  readonly clientId: string;
  readonly clientHost: string;
}

export interface ConsumerHeartbeatResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly memberId: string | null;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: { readonly topicPartitions: WireTopicPartitions[] } | null;
}

interface ConsumerMember {
  readonly memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  /** The topic names it subscribed to. */
  subscribedNames: string[];
  /** Its SubscribedTopicRegex, matched against whole topic names; null when none. */
  subscribedRegex: { readonly source: string; readonly pattern: RE2JS } | null;
  /** What it is subscribed to in effect, sorted: its names and the topics its regex matches now. */
  subscribedTopics: string[];
  serverAssignor: string | null;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  /** Partitions the member may use now. */
  assigned: TopicAssignment;
  /** Partitions it must give up before it moves to the next epoch. */
  revoking: TopicAssignment;
  sessionTimer: Timer | null;
  revocationTimer: Timer | null;
}

export interface DescribedConsumerMember {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly memberEpoch: number;
  readonly clientId: string;
  readonly clientHost: string;
  readonly subscribedTopicNames: readonly string[];
  readonly subscribedTopicRegex: string | null;
  readonly assignment: ReadonlyArray<{ topicId: Buffer; topicName: string; partitions: number[] }>;
  readonly targetAssignment: ReadonlyArray<{ topicId: Buffer; topicName: string; partitions: number[] }>;
}

export interface ConsumerGroupDescription {
  readonly state: ConsumerGroupState;
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly assignorName: string;
  readonly members: readonly DescribedConsumerMember[];
}

const noTimeout = -1;
/** How often regex subscriptions are matched again against the topics (Kafka checks about as often). */
const regexRefreshIntervalMs = 1000;
const zeroTopicId = Buffer.alloc(16);

export class ConsumerGroup implements Group {
  readonly type = 'consumer' as const;
  private readonly memberMap = new Map<string, ConsumerMember>();
  /** instance id → member id of the static member holding it. */
  private readonly staticMembers = new Map<string, string>();
  /** `${topic}\0${partition}` → the member that owns it (assigned or revoking). */
  private readonly owners = new Map<string, string>();
  private target = new Map<string, TopicAssignment>();
  private groupEpochValue = 0;
  private assignmentEpochValue = 0;
  private assignor = defaultAssignorName;
  /** What the last target assignment was computed from: the subscribed topics' ids and sizes. */
  private metadataFingerprint = '';
  private partitionCounts = new Map<string, number>();
  private emptySince: number;
  private dead = false;
  private regexResolvedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly groupId: string,
    private readonly environment: ConsumerGroupEnvironment,
    readonly offsets: CommittedOffsets = new CommittedOffsets(),
  ) {
    this.emptySince = environment.scheduler.nowMs();
  }

  /** A group as the log last stored it: Empty, its epoch kept. */
  static restore(groupId: string, value: ConsumerGroupValue, environment: ConsumerGroupEnvironment, offsets: CommittedOffsets): ConsumerGroup {
    const group = new ConsumerGroup(groupId, environment, offsets);
    group.groupEpochValue = value.groupEpoch;
    group.assignmentEpochValue = value.groupEpoch;
    group.assignor = assignors.has(value.assignorName) ? value.assignorName : defaultAssignorName;
    if (value.emptySinceMs >= 0) group.emptySince = value.emptySinceMs;
    return group;
  }

  // ── What the coordinator, ListGroups and DescribeGroups read ─────────────────────────────────

  get groupEpoch(): number {
    return this.groupEpochValue;
  }

  get assignmentEpoch(): number {
    return this.assignmentEpochValue;
  }

  get assignorName(): string {
    return this.assignor;
  }

  get memberCount(): number {
    return this.memberMap.size;
  }

  get stateName(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.memberMap.size === 0) return 'Empty';
    if (this.assignmentEpochValue < this.groupEpochValue) return 'Assigning';
    for (const member of this.memberMap.values()) {
      if (member.memberEpoch === staticLeaveEpoch) continue;
      if (member.state !== 'stable' || member.memberEpoch !== this.assignmentEpochValue) return 'Reconciling';
    }
    return 'Stable';
  }

  get protocolTypeName(): string {
    return 'consumer';
  }

  get isEmpty(): boolean {
    return this.memberMap.size === 0;
  }

  get emptySinceMs(): number | null {
    return this.memberMap.size === 0 && !this.dead ? this.emptySince : null;
  }

  hasMember(memberId: string): boolean {
    return this.memberMap.has(memberId);
  }

  /** Kafka's rules: epoch < 0 commits only to an empty group; otherwise the member's current epoch. */
  validateOffsetCommit(memberId: string, _groupInstanceId: string | null, memberEpoch: number): number {
    if (this.dead) return ErrorCode.coordinatorNotAvailable;
    if (memberEpoch < 0 && this.memberMap.size === 0) return ErrorCode.none;
    const member = this.memberMap.get(memberId);
    if (member === undefined) return ErrorCode.unknownMemberId;
    return member.memberEpoch === memberEpoch ? ErrorCode.none : ErrorCode.staleMemberEpoch;
  }

  /** OffsetFetch v9+: no member id and epoch < 0 reads freely; otherwise the member's current epoch. */
  validateOffsetFetch(memberId: string | null, memberEpoch: number): number {
    if (memberId === null && memberEpoch < 0) return ErrorCode.none;
    const member = this.memberMap.get(memberId ?? '');
    if (member === undefined) return ErrorCode.unknownMemberId;
    return member.memberEpoch === memberEpoch ? ErrorCode.none : ErrorCode.staleMemberEpoch;
  }

  isSubscribedToTopic(topic: string): boolean {
    for (const member of this.memberMap.values()) if (member.subscribedTopics.includes(topic)) return true;
    return false;
  }

  members(): GroupMemberSummary[] {
    return [...this.memberMap.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.instanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      subscribedTopics: [...member.subscribedTopics],
      assignment: toList(member.assigned).map(({ topic, partitions }) => ({ topic, partitions })),
    }));
  }

  /** DescribeGroups: the subscription and assignment in the embedded consumer protocol's format. */
  describe(): GroupDescription {
    return {
      state: this.stateName,
      protocolType: 'consumer',
      protocolData: this.memberMap.size === 0 ? '' : this.assignor,
      members: [...this.memberMap.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.instanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: encodeSubscription(member.subscribedTopics),
        assignment: encodeAssignment(toList(member.assigned)),
      })),
    };
  }

  /** ConsumerGroupDescribe. */
  describeConsumerGroup(): ConsumerGroupDescription {
    const wire = (assignment: TopicAssignment) =>
      toList(assignment).map(({ topic, partitions }) => ({ topicId: this.environment.topics.topicMetadata(topic)?.id ?? zeroTopicId, topicName: topic, partitions }));
    return {
      state: this.stateName,
      groupEpoch: this.groupEpochValue,
      assignmentEpoch: this.assignmentEpochValue,
      assignorName: this.assignor,
      members: [...this.memberMap.values()].map((member) => ({
        memberId: member.memberId,
        instanceId: member.instanceId,
        rackId: member.rackId,
        memberEpoch: member.memberEpoch,
        clientId: member.clientId,
        clientHost: member.clientHost,
        subscribedTopicNames: [...member.subscribedNames],
        subscribedTopicRegex: member.subscribedRegex?.source ?? null,
        assignment: wire(member.assigned),
        targetAssignment: wire(this.target.get(member.memberId) ?? new Map()),
      })),
    };
  }

  storedValue(): null {
    return null;
  }

  consumerValue(): ConsumerGroupValue {
    return { groupEpoch: this.groupEpochValue, emptySinceMs: this.memberMap.size === 0 ? this.emptySince : -1, assignorName: this.assignor };
  }

  // ── ConsumerGroupHeartbeat ──────────────────────────────────────────────────────────────────

  heartbeat(request: ConsumerHeartbeat): ConsumerHeartbeatResult {
    if (this.dead) return consumerHeartbeatError(ErrorCode.coordinatorNotAvailable, 'the group is being deleted');
    if (request.memberEpoch === leaveEpoch || request.memberEpoch === staticLeaveEpoch) return this.leave(request);
    const found = request.memberEpoch === joinEpoch ? this.join(request) : this.knownMember(request);
    if ('code' in found) return consumerHeartbeatError(found.code, found.message);
    const member = found;
    const assignedBefore = fingerprint(member.assigned);
    const epochBefore = member.memberEpoch;
    const subscriptionChanged = this.update(member, request) || this.refreshRegexSubscriptions();
    const metadataChanged = this.refreshMetadata();
    if (subscriptionChanged || metadataChanged) this.bumpGroupEpoch(subscriptionChanged ? `member ${member.memberId} subscription changed` : 'subscribed topic metadata changed');
    this.computeTargetIfBehind();
    this.reconcile(member, this.ownedByName(request.ownedPartitions));
    this.startSession(member);
    const fullRequest = request.memberEpoch === joinEpoch || (request.rebalanceTimeoutMs !== noTimeout && request.subscribedTopicNames !== null && request.ownedPartitions !== null);
    const changed = fingerprint(member.assigned) !== assignedBefore || member.memberEpoch !== epochBefore;
    return {
      errorCode: ErrorCode.none,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs(),
      assignment: fullRequest || changed ? { topicPartitions: this.wireAssignment(member.assigned) } : null,
    };
  }

  /** Epoch 0: a new member, a static member taking over its instance, or a known member starting afresh. */
  private join(request: ConsumerHeartbeat): ConsumerMember | { code: number; message: string } {
    const memberId = request.memberId === '' ? this.environment.newMemberId() : request.memberId;
    if (request.instanceId !== null) {
      const holderId = this.staticMembers.get(request.instanceId);
      const holder = holderId === undefined ? undefined : this.memberMap.get(holderId);
      if (holder !== undefined && holder.memberId !== memberId) {
        if (holder.memberEpoch !== staticLeaveEpoch) {
          return { code: ErrorCode.unreleasedInstanceId, message: `instance id ${request.instanceId} is still held by member ${holder.memberId}` };
        }
        return this.replaceStaticMember(holder, memberId);
      }
    }
    const existing = this.memberMap.get(memberId);
    if (existing !== undefined) {
      this.releaseAll(existing);
      existing.memberEpoch = 0;
      existing.previousMemberEpoch = 0;
      existing.state = 'stable';
      this.environment.logger.info('consumer group member rejoins', { group: this.groupId, member: memberId });
      return existing;
    }
    if (this.memberMap.size >= this.environment.maxGroupSize) {
      return { code: ErrorCode.groupMaxSizeReached, message: `the group has reached its maximum size of ${this.environment.maxGroupSize} members` };
    }
    const member: ConsumerMember = {
      memberId,
      instanceId: null,
      rackId: null,
      clientId: request.clientId,
      clientHost: request.clientHost,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedNames: [],
      subscribedRegex: null,
      subscribedTopics: [],
      serverAssignor: null,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      state: 'stable',
      assigned: new Map(),
      revoking: new Map(),
      sessionTimer: null,
      revocationTimer: null,
    };
    this.memberMap.set(memberId, member);
    this.environment.logger.info('consumer group member joins', { group: this.groupId, member: memberId, instance: request.instanceId });
    // Its subscription (empty so far) is set next, which bumps the group epoch and stores it.
    return member;
  }

  /** The static member's instance id rejoins under a new member id: it takes over the assignment, no rebalance. */
  private replaceStaticMember(holder: ConsumerMember, memberId: string): ConsumerMember {
    this.stopTimers(holder);
    this.memberMap.delete(holder.memberId);
    const member: ConsumerMember = { ...holder, memberId, memberEpoch: 0, previousMemberEpoch: 0, sessionTimer: null, revocationTimer: null };
    this.memberMap.set(memberId, member);
    this.staticMembers.set(member.instanceId!, memberId);
    for (const [key, owner] of this.owners) if (owner === holder.memberId) this.owners.set(key, memberId);
    const target = this.target.get(holder.memberId);
    this.target.delete(holder.memberId);
    if (target !== undefined) this.target.set(memberId, target);
    this.environment.logger.info('static member replaced', { group: this.groupId, instance: member.instanceId, previous: holder.memberId, member: memberId });
    return member;
  }

  private knownMember(request: ConsumerHeartbeat): ConsumerMember | { code: number; message: string } {
    if (request.instanceId !== null) {
      const holderId = this.staticMembers.get(request.instanceId);
      if (holderId === undefined) return { code: ErrorCode.unknownMemberId, message: `instance id ${request.instanceId} is unknown` };
      if (holderId !== request.memberId) return { code: ErrorCode.fencedInstanceId, message: `instance id ${request.instanceId} belongs to member ${holderId}` };
    }
    const member = this.memberMap.get(request.memberId);
    if (member === undefined) return { code: ErrorCode.unknownMemberId, message: `member ${request.memberId} is not in group ${this.groupId}` };
    const fenced = (): { code: number; message: string } => ({
      code: ErrorCode.fencedMemberEpoch,
      message: `member epoch ${request.memberEpoch} is not the coordinator's (${member.memberEpoch}): abandon all partitions and rejoin`,
    });
    if (request.memberEpoch > member.memberEpoch) return fenced();
    if (request.memberEpoch < member.memberEpoch) {
      // The response with the new epoch may have been lost: the previous epoch is accepted while
      // the member owns nothing beyond its current assignment.
      const owned = this.ownedByName(request.ownedPartitions);
      if (request.memberEpoch !== member.previousMemberEpoch || owned === null || !isSubset(owned, member.assigned)) return fenced();
    }
    return member;
  }

  /** Applies the request's non-null fields; true when the subscription (or preferred assignor) changed. */
  private update(member: ConsumerMember, request: ConsumerHeartbeat): boolean {
    member.clientId = request.clientId;
    member.clientHost = request.clientHost;
    if (request.rackId !== null) member.rackId = request.rackId;
    if (request.rebalanceTimeoutMs !== noTimeout) member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    if (request.instanceId !== null && member.instanceId === null) {
      member.instanceId = request.instanceId;
      this.staticMembers.set(request.instanceId, member.memberId);
    }
    let changed = false;
    if (request.subscribedTopicNames !== null) member.subscribedNames = [...new Set(request.subscribedTopicNames)].sort();
    const regex = request.subscribedTopicRegex;
    if (regex !== null && regex !== (member.subscribedRegex?.source ?? '')) {
      const compiled = regex === '' ? null : compileTopicRegex(regex);
      // Checked before the group saw the request: a string (a reason) cannot come back here.
      member.subscribedRegex = compiled === null || typeof compiled === 'string' ? null : { source: regex, pattern: compiled };
    }
    if (this.resolveSubscription(member)) changed = true;
    if (request.serverAssignor !== null && request.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = request.serverAssignor;
      changed = true;
    }
    return changed;
  }

  /** The member's subscription in effect: its names and the topics its regex matches; true when it changed. */
  private resolveSubscription(member: ConsumerMember): boolean {
    let topics = member.subscribedNames;
    const regex = member.subscribedRegex;
    if (regex !== null) {
      const all = new Set(topics);
      for (const name of this.environment.topics.topicNames()) if (regex.pattern.matches(name)) all.add(name);
      topics = [...all].sort();
    }
    if (topics.join('\u0000') === member.subscribedTopics.join('\u0000')) return false;
    member.subscribedTopics = topics;
    return true;
  }

  /**
   * Regex subscriptions follow topics as they are created and deleted: matched again at most every
   * regexRefreshIntervalMs, on a heartbeat (as Kafka refreshes them periodically); true when a
   * member's subscription in effect changed.
   */
  private refreshRegexSubscriptions(): boolean {
    const nowMs = this.environment.scheduler.nowMs();
    if (nowMs - this.regexResolvedAtMs < regexRefreshIntervalMs) return false;
    this.regexResolvedAtMs = nowMs;
    let changed = false;
    for (const member of this.memberMap.values()) if (member.subscribedRegex !== null && this.resolveSubscription(member)) changed = true;
    return changed;
  }

  /** Epoch −1 removes the member; −2 keeps a static member (and its partitions) until its session expires or its instance rejoins. */
  private leave(request: ConsumerHeartbeat): ConsumerHeartbeatResult {
    let member = this.memberMap.get(request.memberId);
    if (request.instanceId !== null) {
      const holderId = this.staticMembers.get(request.instanceId);
      if (holderId === undefined) return consumerHeartbeatError(ErrorCode.unknownMemberId, `instance id ${request.instanceId} is unknown`);
      if (holderId !== request.memberId) return consumerHeartbeatError(ErrorCode.fencedInstanceId, `instance id ${request.instanceId} belongs to member ${holderId}`);
      member = this.memberMap.get(holderId);
    }
    if (member === undefined) return consumerHeartbeatError(ErrorCode.unknownMemberId, `member ${request.memberId} is not in group ${this.groupId}`);
    if (request.memberEpoch === staticLeaveEpoch && member.instanceId !== null) {
      member.memberEpoch = staticLeaveEpoch;
      member.revocationTimer?.cancel();
      member.revocationTimer = null;
      this.startSession(member);
      this.environment.logger.info('static member left for now', { group: this.groupId, member: member.memberId, instance: member.instanceId });
    } else {
      this.removeMember(member, 'left the group');
    }
    return { errorCode: ErrorCode.none, errorMessage: null, memberId: member.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  // ── Target assignment ───────────────────────────────────────────────────────────────────────

  /** The new epoch is stored (not waited for), so that it never goes back after a restart. */
  private bumpGroupEpoch(reason: string): void {
    this.groupEpochValue++;
    this.persist();
    this.environment.logger.debug('consumer group epoch bumped', { group: this.groupId, epoch: this.groupEpochValue, reason });
  }

  /** Whether the subscribed topics were created, deleted or grown since last looked at (which bumps the group epoch). */
  private refreshMetadata(): boolean {
    const topics = new Set<string>();
    for (const member of this.memberMap.values()) for (const topic of member.subscribedTopics) topics.add(topic);
    const counts = new Map<string, number>();
    const parts: string[] = [];
    for (const topic of [...topics].sort()) {
      const metadata = this.environment.topics.topicMetadata(topic);
      if (metadata === undefined) continue;
      counts.set(topic, metadata.partitionCount);
      parts.push(`${topic}\u0000${metadata.id.toString('hex')}\u0000${metadata.partitionCount}`);
    }
    const fingerprintNow = parts.join('\u0001');
    if (fingerprintNow === this.metadataFingerprint) return false;
    this.metadataFingerprint = fingerprintNow;
    this.partitionCounts = counts;
    return true;
  }

  private computeTargetIfBehind(): void {
    if (this.assignmentEpochValue >= this.groupEpochValue || this.memberMap.size === 0) return;
    this.assignor = this.chooseAssignor();
    const assign: Assignor = assignors.get(this.assignor)!;
    const members = [...this.memberMap.values()]
      .sort((left, right) => (left.memberId < right.memberId ? -1 : 1))
      .map((member) => ({ memberId: member.memberId, subscribedTopics: member.subscribedTopics }));
    this.target = assign({ members, partitionCounts: this.partitionCounts, previous: this.target });
    this.assignmentEpochValue = this.groupEpochValue;
    this.environment.logger.info('consumer group target assignment', {
      group: this.groupId,
      epoch: this.assignmentEpochValue,
      assignor: this.assignor,
      members: members.length,
      partitions: [...this.target.values()].reduce((sum, assignment) => sum + countPartitions(assignment), 0),
    });
  }

  /** The assignor most members ask for (ties: by name); the default when none asks. */
  private chooseAssignor(): string {
    const votes = new Map<string, number>();
    for (const member of this.memberMap.values()) if (member.serverAssignor !== null) votes.set(member.serverAssignor, (votes.get(member.serverAssignor) ?? 0) + 1);
    let best = defaultAssignorName;
    let bestVotes = 0;
    for (const [name, count] of [...votes].sort(([left], [right]) => (left < right ? -1 : 1))) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  // ── Reconciliation ──────────────────────────────────────────────────────────────────────────

  private reconcile(member: ConsumerMember, owned: TopicAssignment | null): void {
    if (member.memberEpoch === staticLeaveEpoch) return;
    if (member.state === 'unrevoked') {
      if (owned === null || intersects(owned, member.revoking)) return;
      for (const [topic, partitions] of member.revoking) for (const partition of partitions) this.releaseOne(member, topic, partition);
      member.revoking = new Map();
      member.revocationTimer?.cancel();
      member.revocationTimer = null;
      member.state = 'stable';
    }
    if (member.state === 'stable' && member.memberEpoch === this.assignmentEpochValue) return;
    this.moveTowardsTarget(member);
  }

  private moveTowardsTarget(member: ConsumerMember): void {
    const target = this.target.get(member.memberId) ?? new Map<string, Set<number>>();
    const keep: TopicAssignment = new Map();
    const revoke: TopicAssignment = new Map();
    for (const [topic, partitions] of member.assigned) {
      for (const partition of partitions) addTo(target.get(topic)?.has(partition) === true ? keep : revoke, topic, partition);
    }
    if (countPartitions(revoke) > 0) {
      member.assigned = keep;
      member.revoking = revoke;
      member.state = 'unrevoked';
      this.startRevocationTimer(member);
      return;
    }
    let unreleased = 0;
    for (const [topic, partitions] of target) {
      for (const partition of partitions) {
        const owner = this.owners.get(partitionKey(topic, partition));
        if (owner === undefined || owner === member.memberId) {
          addTo(keep, topic, partition);
          this.owners.set(partitionKey(topic, partition), member.memberId);
        } else {
          unreleased++;
        }
      }
    }
    member.assigned = keep;
    if (member.memberEpoch !== this.assignmentEpochValue) {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = this.assignmentEpochValue;
    }
    member.state = unreleased > 0 ? 'unreleased' : 'stable';
  }

  private startRevocationTimer(member: ConsumerMember): void {
    member.revocationTimer?.cancel();
    const epoch = member.memberEpoch;
    member.revocationTimer = this.schedule(Math.max(0, member.rebalanceTimeoutMs), () => {
      member.revocationTimer = null;
      if (this.memberMap.get(member.memberId) !== member || member.state !== 'unrevoked' || member.memberEpoch !== epoch) return;
      this.removeMember(member, `did not revoke its partitions within the rebalance timeout (${member.rebalanceTimeoutMs} ms)`);
    });
  }

  private releaseOne(member: ConsumerMember, topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    if (this.owners.get(key) === member.memberId) this.owners.delete(key);
  }

  private releaseAll(member: ConsumerMember): void {
    for (const assignment of [member.assigned, member.revoking]) {
      for (const [topic, partitions] of assignment) for (const partition of partitions) this.releaseOne(member, topic, partition);
    }
    member.assigned = new Map();
    member.revoking = new Map();
    member.revocationTimer?.cancel();
    member.revocationTimer = null;
  }

  // ── Members leaving ─────────────────────────────────────────────────────────────────────────

  private removeMember(member: ConsumerMember, reason: string): void {
    this.stopTimers(member);
    this.releaseAll(member);
    this.memberMap.delete(member.memberId);
    this.target.delete(member.memberId);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === member.memberId) this.staticMembers.delete(member.instanceId);
    this.environment.logger.info('consumer group member removed', { group: this.groupId, member: member.memberId, reason });
    if (this.memberMap.size === 0) {
      this.emptySince = this.environment.scheduler.nowMs();
      this.target = new Map();
      this.metadataFingerprint = '';
      this.bumpGroupEpoch(`member ${member.memberId} ${reason}`);
      this.assignmentEpochValue = this.groupEpochValue;
      return;
    }
    this.bumpGroupEpoch(`member ${member.memberId} ${reason}`);
    this.refreshMetadata();
    this.computeTargetIfBehind();
  }

  private startSession(member: ConsumerMember): void {
    member.sessionTimer?.cancel();
    const sessionTimeoutMs = this.environment.groupConfig?.(this.groupId).sessionTimeoutMs ?? this.environment.sessionTimeoutMs;
    member.sessionTimer = this.schedule(sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (this.memberMap.get(member.memberId) !== member) return;
      this.removeMember(member, `session timeout (${sessionTimeoutMs} ms) expired`);
    });
  }

  private heartbeatIntervalMs(): number {
    return this.environment.groupConfig?.(this.groupId).heartbeatIntervalMs ?? this.environment.heartbeatIntervalMs;
  }

  private stopTimers(member: ConsumerMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = null;
    member.revocationTimer?.cancel();
    member.revocationTimer = null;
  }

  // ── Plumbing ────────────────────────────────────────────────────────────────────────────────

  /** Owned partitions as the request reports them, by topic name; ids of unknown topics are dropped. */
  private ownedByName(owned: readonly WireTopicPartitions[] | null): TopicAssignment | null {
    if (owned === null) return null;
    const result: TopicAssignment = new Map();
    for (const { topicId, partitions } of owned) {
      const topic = this.environment.topics.topicName(topicId);
      if (topic === undefined) continue;
      for (const partition of partitions) addTo(result, topic, partition);
    }
    return result;
  }

  private wireAssignment(assignment: TopicAssignment): WireTopicPartitions[] {
    const result: WireTopicPartitions[] = [];
    for (const { topic, partitions } of toList(assignment)) {
      const metadata = this.environment.topics.topicMetadata(topic);
      if (metadata !== undefined) result.push({ topicId: metadata.id, partitions });
    }
    return result;
  }

  private persist(): void {
    this.environment.persist(this, this.consumerValue());
  }

  private schedule(delayMs: number, action: () => void): Timer {
    return this.environment.scheduler.schedule(delayMs, () => {
      try {
        action();
      } catch (error) {
        this.environment.logger.error('consumer group timer failed', { group: this.groupId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    });
  }

  /** DeleteGroups (only when empty) and broker shutdown: timers stopped. */
  shutDown(_errorCode: number): void {
    for (const member of this.memberMap.values()) this.stopTimers(member);
    this.dead = true;
  }

  /** Our own invariants, for tests: no partition has two owners, owners match members' partitions. */
  invariants(): void {
    const fail = (message: string): never => {
      throw new Error(`consumer group ${this.groupId}: ${message}`);
    };
    const seen = new Map<string, string>();
    for (const member of this.memberMap.values()) {
      for (const assignment of [member.assigned, member.revoking]) {
        for (const [topic, partitions] of assignment) {
          for (const partition of partitions) {
            const key = partitionKey(topic, partition);
            const other = seen.get(key);
            if (other !== undefined) fail(`${topic}-${partition} owned by ${other} and ${member.memberId}`);
            seen.set(key, member.memberId);
            if (this.owners.get(key) !== member.memberId) fail(`${topic}-${partition} of ${member.memberId} is recorded as ${this.owners.get(key)}'s`);
          }
        }
      }
      if (member.state === 'unrevoked' && countPartitions(member.revoking) === 0) fail(`${member.memberId} unrevoked with nothing to revoke`);
      if (member.state !== 'unrevoked' && countPartitions(member.revoking) > 0) fail(`${member.memberId} revoking while ${member.state}`);
      if (member.memberEpoch > this.assignmentEpochValue) fail(`${member.memberId} epoch ${member.memberEpoch} ahead of the assignment epoch ${this.assignmentEpochValue}`);
    }
    if (seen.size !== this.owners.size) fail(`${this.owners.size} owners recorded for ${seen.size} owned partitions`);
    if (this.assignmentEpochValue > this.groupEpochValue) fail('assignment epoch ahead of the group epoch');
    for (const [instance, memberId] of this.staticMembers) if (this.memberMap.get(memberId)?.instanceId !== instance) fail(`static member ${instance} maps to ${memberId}`);
  }
}

/** An error answer carries nothing else (Kafka's defaults: no member id, epoch 0). */
export function consumerHeartbeatError(errorCode: number, errorMessage: string | null): ConsumerHeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function addTo(assignment: TopicAssignment, topic: string, partition: number): void {
  let partitions = assignment.get(topic);
  if (partitions === undefined) assignment.set(topic, (partitions = new Set()));
  partitions.add(partition);
}

function isSubset(owned: TopicAssignment, assigned: TopicAssignment): boolean {
  for (const [topic, partitions] of owned) for (const partition of partitions) if (assigned.get(topic)?.has(partition) !== true) return false;
  return true;
}

function intersects(left: TopicAssignment, right: TopicAssignment): boolean {
  for (const [topic, partitions] of left) for (const partition of partitions) if (right.get(topic)?.has(partition) === true) return true;
  return false;
}

function toList(assignment: TopicAssignment): Array<{ topic: string; partitions: number[] }> {
  return [...assignment]
    .filter(([, partitions]) => partitions.size > 0)
    .sort(([left], [right]) => (left < right ? -1 : 1))
    .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((left, right) => left - right) }));
}

function fingerprint(assignment: TopicAssignment): string {
  return toList(assignment).map(({ topic, partitions }) => `${topic}:${partitions.join(',')}`).join(';');
}
