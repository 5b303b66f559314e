/**
 * One classic consumer group (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) and its state
 * machine, after Kafka's GroupCoordinator:
 *
 *                 first join                       every member rejoined, or the rebalance
 *      ┌───────┐ ───────────► ┌────────────────────┐ timeout removed those that did not ┌──────────────────────┐
 *      │ Empty │              │ PreparingRebalance │ ─────────────────────────────────► │ CompletingRebalance  │
 *      └───────┘ ◄─────────── └────────────────────┘ ◄──── a member joins, leaves ──── └──────────────────────┘
 *          ▲     no member left      ▲                      or expires                       │ the leader's
 *          │                         │ a member joins, leaves, expires, or                   │ SyncGroup is durable
 *          │                         │ the leader rejoins                                    ▼
 *          │                         └─────────────────────────────────────────────── ┌────────┐
 *          └─ (DeleteGroups / expiry: Dead, removed by the coordinator)                │ Stable │
 *                                                                                      └────────┘
 * Timers (all through the Scheduler):
 *   - join: the first rebalance of an empty group waits initialRebalanceDelayMs, again while new
 *     members keep coming, at most the rebalance timeout; later rebalances end when every member
 *     has rejoined, or at the rebalance timeout (the largest of the members'), which removes the
 *     members that did not rejoin;
 *   - sync: members that do not send SyncGroup within the rebalance timeout are removed;
 *   - session: a member not heard from (Heartbeat, JoinGroup, SyncGroup) within its session timeout
 *     is removed; it does not run while the member waits for a JoinGroup or SyncGroup answer;
 *   - pending: a member id handed out with MEMBER_ID_REQUIRED is forgotten after the session timeout.
 *
 * Methods are synchronous and decide at once; JoinGroup and SyncGroup answers that must wait are
 * promises resolved by later events. Nothing here throws at clients: answers carry error codes.
 */
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { CommittedOffsets } from './committed-offsets.js';
import { CommittedOffsets as Offsets } from './committed-offsets.js';
import { assignmentPartitions, consumerProtocolType, subscriptionTopics } from '../protocol/kafka/consumer-protocol.js';
import type { Group, GroupDescription, GroupMemberSummary } from './group.js';
import type { GroupValue } from './log-records.js';
import type { Scheduler, Timer } from './scheduler.js';

export type ClassicState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Protocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinRequest {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly Protocol[];
  /** JoinGroup v4+: an unknown member first gets MEMBER_ID_REQUIRED and its id. */
  readonly requireKnownMemberId: boolean;
  /** JoinGroup v9+: a static leader rejoining a stable group is told to skip the assignment. */
  readonly supportsSkipAssignment: boolean;
}

export interface JoinMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  readonly skipAssignment: boolean;
  readonly memberId: string;
  readonly members: readonly JoinMember[];
}

export interface SyncRequest {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: ReadonlyArray<{ readonly memberId: string; readonly assignment: Buffer }>;
}

export interface SyncResult {
  readonly errorCode: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export interface LeaveRequestMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeaveResultMember extends LeaveRequestMember {
  readonly errorCode: number;
}

export interface ClassicGroupEnvironment {
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  readonly initialRebalanceDelayMs: number;
  readonly maxGroupSize: number;
  /** A fresh member id starting with `prefix` (client id or group instance id). */
  newMemberId(prefix: string): string;
  /** Appends the group's metadata record; resolves when it is durable. */
  persist(group: ClassicGroup, value: GroupValue): Promise<void>;
}

interface ClassicMember {
  memberId: string;
  readonly groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly Protocol[];
  assignment: Buffer;
  awaitingJoin: ((result: JoinResult) => void) | null;
  awaitingSync: ((result: SyncResult) => void) | null;
  sessionTimer: Timer | null;
}

const emptyBytes = Buffer.alloc(0);

export class ClassicGroup implements Group {
  readonly type = 'classic' as const;
  private state: ClassicState = 'Empty';
  private stateSinceMs: number;
  private generation = 0;
  private groupProtocolType: string | null = null;
  private groupProtocolName: string | null = null;
  private leader: string | null = null;
  private readonly memberMap = new Map<string, ClassicMember>();
  /** group.instance.id → member id of the static member holding it. */
  private readonly staticMembers = new Map<string, string>();
  /** Member ids given out with MEMBER_ID_REQUIRED, not yet used to join. */
  private readonly pendingMembers = new Map<string, Timer>();
  /** Members of this generation that have not sent SyncGroup yet. */
  private readonly pendingSync = new Set<string>();
  private joinTimer: Timer | null = null;
  private syncTimer: Timer | null = null;
  /** The rebalance started from Empty: it waits out the initial delay rather than ending early. */
  private initialRebalance = false;
  private newMemberAdded = false;

  constructor(
    readonly groupId: string,
    private readonly environment: ClassicGroupEnvironment,
    readonly offsets: CommittedOffsets = new Offsets(),
  ) {
    this.stateSinceMs = environment.scheduler.nowMs();
  }

  /** A group as the log last stored it: Empty, its members gone (they must rejoin), generation kept. */
  static restore(groupId: string, value: GroupValue, environment: ClassicGroupEnvironment, offsets: CommittedOffsets): ClassicGroup {
    const group = new ClassicGroup(groupId, environment, offsets);
    group.generation = value.generationId;
    group.groupProtocolType = value.protocolType;
    group.stateSinceMs = value.members.length === 0 ? value.stateTimestampMs : environment.scheduler.nowMs();
    return group;
  }

  // ── What the coordinator and DescribeGroups read ─────────────────────────────────────────────

  get stateName(): ClassicState {
    return this.state;
  }

  get generationId(): number {
    return this.generation;
  }

  get protocolType(): string | null {
    return this.groupProtocolType;
  }

  get protocolName(): string | null {
    return this.groupProtocolName;
  }

  get leaderId(): string | null {
    return this.leader;
  }

  get protocolTypeName(): string {
    return this.groupProtocolType ?? '';
  }

  get isEmpty(): boolean {
    return this.memberMap.size === 0 && this.pendingMembers.size === 0;
  }

  get emptySinceMs(): number | null {
    return this.state === 'Empty' && this.isEmpty ? this.stateSinceMs : null;
  }

  get memberCount(): number {
    return this.memberMap.size;
  }

  get pendingMemberCount(): number {
    return this.pendingMembers.size;
  }

  hasMember(memberId: string): boolean {
    return this.memberMap.has(memberId) || this.pendingMembers.has(memberId);
  }

  /** DescribeGroups: protocol, metadata and assignments only when Stable, as Kafka answers. */
  describe(): GroupDescription {
    const stable = this.state === 'Stable';
    return {
      state: this.state,
      protocolType: this.protocolTypeName,
      protocolData: stable ? (this.groupProtocolName ?? '') : '',
      members: this.describeMembers(stable),
    };
  }

  private describeMembers(stable: boolean): GroupDescription['members'] {
    return [...this.memberMap.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      metadata: stable ? this.metadataFor(member, this.groupProtocolName) : emptyBytes,
      assignment: stable ? member.assignment : emptyBytes,
    }));
  }

  members(): GroupMemberSummary[] {
    const consumer = this.groupProtocolType === consumerProtocolType;
    return [...this.memberMap.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      subscribedTopics: consumer ? this.subscribedTopicsOf(member) : null,
      assignment: consumer && this.state === 'Stable' ? assignmentPartitions(member.assignment) : null,
    }));
  }

  private subscribedTopicsOf(member: ClassicMember): string[] | null {
    const protocols = this.groupProtocolName === null ? member.protocols : member.protocols.filter((protocol) => protocol.name === this.groupProtocolName);
    const topics = new Set<string>();
    for (const protocol of protocols) {
      const subscribed = subscriptionTopics(protocol.metadata);
      if (subscribed === null) return null;
      for (const topic of subscribed) topics.add(topic);
    }
    return [...topics];
  }

  isSubscribedToTopic(topic: string): boolean {
    if (this.groupProtocolType !== consumerProtocolType) return this.memberMap.size > 0;
    for (const member of this.memberMap.values()) {
      const topics = this.subscribedTopicsOf(member);
      if (topics === null || topics.includes(topic)) return true;
    }
    return false;
  }

  storedValue(): GroupValue {
    return this.valueWith((member) => member.assignment);
  }

  private valueWith(assignmentOf: (member: ClassicMember) => Buffer): GroupValue {
    return {
      groupType: this.type,
      protocolType: this.groupProtocolType,
      generationId: this.generation,
      protocolName: this.groupProtocolName,
      leaderId: this.leader,
      stateTimestampMs: this.stateSinceMs,
      members: [...this.memberMap.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
        sessionTimeoutMs: member.sessionTimeoutMs,
        subscription: this.metadataFor(member, this.groupProtocolName),
        assignment: assignmentOf(member),
      })),
    };
  }

  // ── OffsetCommit ────────────────────────────────────────────────────────────────────────────

  /**
   * Kafka's rules: generation −1 with no member id commits only to an Empty group (simple
   * consumers, admin tools); otherwise the member must be known, not fenced, of this generation,
   * and the group not between JoinGroup and SyncGroup.
   */
  validateOffsetCommit(memberId: string, groupInstanceId: string | null, generation: number): number {
    if (this.state === 'Dead') return ErrorCode.coordinatorNotAvailable;
    if (generation < 0 && memberId === '' && groupInstanceId === null) {
      return this.state === 'Empty' ? ErrorCode.none : ErrorCode.unknownMemberId;
    }
    if (generation < 0 && this.state === 'Empty') return ErrorCode.none;
    const memberError = this.validateMember(memberId, groupInstanceId);
    if (memberError !== ErrorCode.none) return memberError;
    if (generation !== this.generation) return ErrorCode.illegalGeneration;
    if (this.state === 'CompletingRebalance') return ErrorCode.rebalanceInProgress;
    return ErrorCode.none;
  }

  private validateMember(memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const holder = this.staticMembers.get(groupInstanceId);
      if (holder !== undefined && holder !== memberId) return ErrorCode.fencedInstanceId;
    }
    return this.memberMap.has(memberId) ? ErrorCode.none : ErrorCode.unknownMemberId;
  }

  // ── JoinGroup ───────────────────────────────────────────────────────────────────────────────

  /** Room for one more member (joined or pending)? Known members, and static members replacing themselves, always have room. */
  canAccept(memberId: string, groupInstanceId: string | null): boolean {
    if (memberId !== '' && this.hasMember(memberId)) return true;
    if (groupInstanceId !== null && this.staticMembers.has(groupInstanceId)) return true;
    return this.memberMap.size + this.pendingMembers.size < this.environment.maxGroupSize;
  }

  join(request: JoinRequest): Promise<JoinResult> {
    if (this.state === 'Dead') return Promise.resolve(this.joinError(request.memberId, ErrorCode.coordinatorNotAvailable));
    if (!this.canAccept(request.memberId, request.groupInstanceId)) return Promise.resolve(this.joinError(request.memberId, ErrorCode.groupMaxSizeReached));
    if (!this.supportsProtocols(request.protocolType, request.protocols)) return Promise.resolve(this.joinError(request.memberId, ErrorCode.inconsistentGroupProtocol));
    return request.memberId === '' ? this.joinUnknownMember(request) : this.joinKnownMember(request);
  }

  private joinError(memberId: string, errorCode: number): JoinResult {
    return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] };
  }

  /**
   * An empty group takes any non-empty protocol type and protocol list; otherwise the type must be
   * the group's and at least one protocol must be one that every member supports.
   */
  private supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.memberMap.size === 0) return protocolType !== '' && protocols.length > 0;
    if (protocolType !== this.groupProtocolType) return false;
    const common = this.commonProtocols();
    return protocols.some((protocol) => common.has(protocol.name));
  }

  /** Protocol names every member supports. */
  private commonProtocols(): Set<string> {
    let common: Set<string> | undefined;
    for (const member of this.memberMap.values()) {
      const names = new Set(member.protocols.map((protocol) => protocol.name));
      if (common === undefined) common = names;
      else for (const name of common) if (!names.has(name)) common.delete(name);
    }
    return common ?? new Set<string>();
  }

  private joinUnknownMember(request: JoinRequest): Promise<JoinResult> {
    const instanceId = request.groupInstanceId;
    const memberId = this.environment.newMemberId(instanceId ?? request.clientId);
    if (instanceId !== null) {
      const existing = this.staticMembers.get(instanceId);
      if (existing !== undefined) return this.replaceStaticMember(this.memberMap.get(existing)!, memberId, request);
      return this.addMemberAndRebalance(memberId, request);
    }
    if (request.requireKnownMemberId) {
      this.addPendingMember(memberId, request.sessionTimeoutMs);
      return Promise.resolve(this.joinError(memberId, ErrorCode.memberIdRequired));
    }
    return this.addMemberAndRebalance(memberId, request);
  }

  private joinKnownMember(request: JoinRequest): Promise<JoinResult> {
    const { memberId } = request;
    if (this.pendingMembers.has(memberId)) {
      this.pendingMembers.get(memberId)!.cancel();
      this.pendingMembers.delete(memberId);
      return this.addMemberAndRebalance(memberId, request);
    }
    const memberError = this.validateMember(memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.none) return Promise.resolve(this.joinError(memberId, memberError));
    const member = this.memberMap.get(memberId)!;
    switch (this.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(member, request);
      case 'CompletingRebalance':
        // Rejoining with the same protocols: the answer of this generation again.
        if (sameProtocols(member.protocols, request.protocols)) return Promise.resolve(this.currentJoinResult(member, false));
        return this.updateMemberAndRebalance(member, request);
      case 'Stable':
        // The leader rejoins to reassign (e.g. metadata changed); a follower with new protocols too.
        if (memberId === this.leader || !sameProtocols(member.protocols, request.protocols)) return this.updateMemberAndRebalance(member, request);
        this.touch(member);
        return Promise.resolve(this.currentJoinResult(member, false));
      default:
        return Promise.resolve(this.joinError(memberId, ErrorCode.unknownMemberId));
    }
  }

  private currentJoinResult(member: ClassicMember, skipAssignment: boolean, leaderShown: string | null = this.leader): JoinResult {
    const isLeader = member.memberId === this.leader;
    return {
      errorCode: ErrorCode.none,
      generationId: this.generation,
      protocolType: this.groupProtocolType,
      protocolName: this.groupProtocolName,
      leader: leaderShown ?? '',
      skipAssignment,
      memberId: member.memberId,
      members: isLeader ? this.joinMembers() : [],
    };
  }

  private joinMembers(): JoinMember[] {
    return [...this.memberMap.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: this.metadataFor(member, this.groupProtocolName),
    }));
  }

  private metadataFor(member: ClassicMember, protocolName: string | null): Buffer {
    if (protocolName === null) return emptyBytes;
    return member.protocols.find((protocol) => protocol.name === protocolName)?.metadata ?? emptyBytes;
  }

  private addPendingMember(memberId: string, sessionTimeoutMs: number): void {
    const timer = this.schedule(sessionTimeoutMs, () => {
      if (!this.pendingMembers.delete(memberId)) return;
      this.environment.logger.debug('pending member expired', { group: this.groupId, member: memberId });
      if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    });
    this.pendingMembers.set(memberId, timer);
  }

  private addMemberAndRebalance(memberId: string, request: JoinRequest): Promise<JoinResult> {
    if (this.memberMap.size === 0) this.groupProtocolType = request.protocolType;
    const member: ClassicMember = {
      memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocolType: request.protocolType,
      protocols: copyProtocols(request.protocols),
      assignment: emptyBytes,
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
    };
    this.memberMap.set(memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, memberId);
    this.leader ??= memberId;
    this.newMemberAdded = true;
    const answer = this.awaitJoin(member);
    this.rebalanceOrCompleteJoin(`member ${memberId} joined`);
    return answer;
  }

  private updateMemberAndRebalance(member: ClassicMember, request: JoinRequest): Promise<JoinResult> {
    updateMember(member, request);
    const answer = this.awaitJoin(member);
    this.rebalanceOrCompleteJoin(`member ${member.memberId} rejoined`);
    return answer;
  }

  private rebalanceOrCompleteJoin(reason: string): void {
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    else this.prepareRebalance(reason);
  }

  /** The member waits for the end of the join phase; its session timer pauses meanwhile. */
  private awaitJoin(member: ClassicMember): Promise<JoinResult> {
    this.stopSession(member);
    // A second JoinGroup from the same member replaces the first, which is told to rejoin.
    member.awaitingJoin?.(this.joinError(member.memberId, ErrorCode.rebalanceInProgress));
    return new Promise((resolve) => {
      member.awaitingJoin = resolve;
    });
  }

  /**
   * A static member rejoins with a new member id (a restarted process): the old id is fenced. In a
   * Stable group whose protocol stays the same no rebalance happens; the member gets its current
   * assignment with SyncGroup (a static leader is told to skip assigning, or, before v9, is shown the
   * old leader id so that it does not assign).
   */
  private replaceStaticMember(old: ClassicMember, newMemberId: string, request: JoinRequest): Promise<JoinResult> {
    const oldMemberId = old.memberId;
    old.awaitingJoin?.(this.joinError(oldMemberId, ErrorCode.fencedInstanceId));
    old.awaitingJoin = null;
    old.awaitingSync?.({ errorCode: ErrorCode.fencedInstanceId, protocolType: null, protocolName: null, assignment: emptyBytes });
    old.awaitingSync = null;
    this.memberMap.delete(oldMemberId);
    old.memberId = newMemberId;
    this.memberMap.set(newMemberId, old);
    this.staticMembers.set(request.groupInstanceId!, newMemberId);
    const wasLeader = this.leader === oldMemberId;
    if (wasLeader) this.leader = newMemberId;
    if (this.pendingSync.delete(oldMemberId)) this.pendingSync.add(newMemberId);
    this.environment.logger.info('static member replaced', { group: this.groupId, instance: request.groupInstanceId, old: oldMemberId, member: newMemberId });
    if (this.state === 'Stable') {
      const previousProtocols = old.protocols;
      updateMember(old, request);
      if (this.selectProtocol() === this.groupProtocolName) {
        this.touch(old);
        const generation = this.generation;
        const skip = wasLeader && request.supportsSkipAssignment;
        const leaderShown = wasLeader && !request.supportsSkipAssignment ? oldMemberId : this.leader;
        return this.environment.persist(this, this.storedValue()).then(
          () => (this.memberMap.get(newMemberId) === old && this.generation === generation ? this.currentJoinResult(old, skip, leaderShown) : this.joinError(newMemberId, ErrorCode.rebalanceInProgress)),
          () => {
            old.protocols = previousProtocols;
            return this.joinError(newMemberId, ErrorCode.coordinatorNotAvailable);
          },
        );
      }
      return this.updateMemberAndRebalance(old, request);
    }
    return this.updateMemberAndRebalance(old, request);
  }

  // ── Rebalance ───────────────────────────────────────────────────────────────────────────────

  private get rebalanceTimeoutMs(): number {
    let longest = 0;
    for (const member of this.memberMap.values()) longest = Math.max(longest, member.rebalanceTimeoutMs);
    return longest;
  }

  private prepareRebalance(reason: string): void {
    if (this.state === 'CompletingRebalance') this.failPendingSyncs(ErrorCode.rebalanceInProgress);
    this.cancelSyncTimer();
    this.joinTimer?.cancel();
    const initial = this.state === 'Empty';
    this.transition('PreparingRebalance');
    this.environment.logger.info('preparing rebalance', { group: this.groupId, generation: this.generation, reason });
    this.initialRebalance = initial;
    if (initial) {
      const delayMs = this.environment.initialRebalanceDelayMs;
      this.newMemberAdded = false;
      this.scheduleInitialDelay(delayMs, Math.max(this.rebalanceTimeoutMs - delayMs, 0));
    } else {
      this.joinTimer = this.schedule(this.rebalanceTimeoutMs, () => this.completeJoin());
      this.maybeCompleteJoin();
    }
  }

  /** Kafka's InitialDelayedJoin: wait `delayMs`; if members joined meanwhile, wait again, within `remainingMs`. */
  private scheduleInitialDelay(delayMs: number, remainingMs: number): void {
    this.joinTimer = this.schedule(delayMs, () => {
      if (this.newMemberAdded && remainingMs > 0) {
        this.newMemberAdded = false;
        const nextDelayMs = Math.min(this.environment.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelay(nextDelayMs, Math.max(remainingMs - nextDelayMs, 0));
      } else {
        this.completeJoin();
      }
    });
  }

  private get allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.memberMap.values()) if (member.awaitingJoin === null) return false;
    return true;
  }

  private maybeCompleteJoin(): void {
    if (this.state === 'PreparingRebalance' && !this.initialRebalance && this.allMembersJoined) this.completeJoin();
  }

  /** Ends the join phase: members that did not rejoin leave, the next generation starts. */
  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    this.joinTimer?.cancel();
    this.joinTimer = null;
    this.initialRebalance = false;
    for (const member of [...this.memberMap.values()]) {
      if (member.awaitingJoin === null) this.removeMember(member, 'did not rejoin within the rebalance timeout');
    }
    this.generation++;
    if (this.memberMap.size === 0) {
      this.groupProtocolName = null;
      this.leader = null;
      this.transition('Empty');
      this.environment.logger.info('group is empty', { group: this.groupId, generation: this.generation });
      this.persistQuietly();
      return;
    }
    this.groupProtocolName = this.selectProtocol();
    if (this.leader === null || !this.memberMap.has(this.leader)) this.leader = this.memberMap.keys().next().value!;
    this.transition('CompletingRebalance');
    this.environment.logger.info('generation started', { group: this.groupId, generation: this.generation, members: this.memberMap.size, protocol: this.groupProtocolName, leader: this.leader });
    this.pendingSync.clear();
    for (const member of this.memberMap.values()) {
      this.pendingSync.add(member.memberId);
      const answer = member.awaitingJoin!;
      member.awaitingJoin = null;
      this.startSession(member);
      answer(this.currentJoinResult(member, false));
    }
    const generation = this.generation;
    this.syncTimer = this.schedule(this.rebalanceTimeoutMs, () => this.expirePendingSyncs(generation));
  }

  /** The protocol most members prefer among those every member supports (Kafka's vote). */
  private selectProtocol(): string | null {
    const candidates = this.commonProtocols();
    if (candidates.size === 0) return null;
    const votes = new Map<string, number>();
    for (const member of this.memberMap.values()) {
      const choice = member.protocols.find((protocol) => candidates.has(protocol.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best: string | null = null;
    let bestVotes = -1;
    const leaderOrder = this.memberMap.get(this.leader ?? '')?.protocols ?? this.memberMap.values().next().value!.protocols;
    for (const { name } of leaderOrder) {
      if (!candidates.has(name)) continue;
      const count = votes.get(name) ?? 0;
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  private expirePendingSyncs(generation: number): void {
    this.syncTimer = null;
    if (generation !== this.generation || (this.state !== 'CompletingRebalance' && this.state !== 'Stable')) return;
    const late = [...this.pendingSync].map((memberId) => this.memberMap.get(memberId)).filter((member) => member !== undefined);
    if (late.length === 0) return;
    for (const member of late) this.removeMember(member, 'did not send SyncGroup within the rebalance timeout');
    this.prepareRebalance(`${late.length} member(s) did not sync`);
  }

  private cancelSyncTimer(): void {
    this.syncTimer?.cancel();
    this.syncTimer = null;
  }

  // ── SyncGroup ───────────────────────────────────────────────────────────────────────────────

  sync(request: SyncRequest): Promise<SyncResult> {
    const memberError = this.validateMember(request.memberId, request.groupInstanceId);
    if (this.state === 'Dead') return Promise.resolve(this.syncError(ErrorCode.coordinatorNotAvailable));
    if (memberError !== ErrorCode.none) return Promise.resolve(this.syncError(memberError));
    if (request.generationId !== this.generation) return Promise.resolve(this.syncError(ErrorCode.illegalGeneration));
    if ((request.protocolType !== null && request.protocolType !== this.groupProtocolType) || (request.protocolName !== null && request.protocolName !== this.groupProtocolName)) {
      return Promise.resolve(this.syncError(ErrorCode.inconsistentGroupProtocol));
    }
    const member = this.memberMap.get(request.memberId)!;
    this.pendingSync.delete(member.memberId);
    switch (this.state) {
      case 'PreparingRebalance':
        return Promise.resolve(this.syncError(ErrorCode.rebalanceInProgress));
      case 'Stable':
        this.touch(member);
        return Promise.resolve(this.syncAnswer(member));
      case 'CompletingRebalance': {
        this.stopSession(member);
        member.awaitingSync?.(this.syncError(ErrorCode.rebalanceInProgress));
        const answer = new Promise<SyncResult>((resolve) => {
          member.awaitingSync = resolve;
        });
        if (member.memberId === this.leader) this.storeAssignments(request.assignments);
        return answer;
      }
      default:
        return Promise.resolve(this.syncError(ErrorCode.unknownMemberId));
    }
  }

  private syncError(errorCode: number): SyncResult {
    return { errorCode, protocolType: null, protocolName: null, assignment: emptyBytes };
  }

  private syncAnswer(member: ClassicMember): SyncResult {
    return { errorCode: ErrorCode.none, protocolType: this.groupProtocolType, protocolName: this.groupProtocolName, assignment: member.assignment };
  }

  /** The leader's assignments: made durable, then handed to every member, and the group is Stable. */
  private storeAssignments(assignments: SyncRequest['assignments']): void {
    const byMember = new Map<string, Buffer>();
    for (const { memberId, assignment } of assignments) if (this.memberMap.has(memberId)) byMember.set(memberId, Buffer.from(assignment));
    const assignmentOf = (member: ClassicMember) => byMember.get(member.memberId) ?? emptyBytes;
    const generation = this.generation;
    const stillCurrent = () => this.state === 'CompletingRebalance' && this.generation === generation;
    this.environment.persist(this, this.valueWith(assignmentOf)).then(
      () => {
        if (!stillCurrent()) return;
        for (const member of this.memberMap.values()) member.assignment = assignmentOf(member);
        this.transition('Stable');
        this.environment.logger.info('group is stable', { group: this.groupId, generation, members: this.memberMap.size });
        for (const member of this.memberMap.values()) {
          const answer = member.awaitingSync;
          if (answer === null) continue;
          member.awaitingSync = null;
          this.startSession(member);
          answer(this.syncAnswer(member));
        }
      },
      (error: unknown) => {
        this.environment.logger.error('storing the group assignment failed', { group: this.groupId, error: String(error) });
        if (!stillCurrent()) return;
        this.failPendingSyncs(ErrorCode.coordinatorNotAvailable);
        this.prepareRebalance('storing the assignment failed');
      },
    );
  }

  private failPendingSyncs(errorCode: number): void {
    for (const member of this.memberMap.values()) {
      member.assignment = emptyBytes;
      const answer = member.awaitingSync;
      if (answer === null) continue;
      member.awaitingSync = null;
      this.startSession(member);
      answer(this.syncError(errorCode));
    }
  }

  // ── Heartbeat and LeaveGroup ────────────────────────────────────────────────────────────────

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Dead') return ErrorCode.coordinatorNotAvailable;
    const memberError = this.validateMember(memberId, groupInstanceId);
    if (memberError !== ErrorCode.none) return memberError;
    if (generationId !== this.generation) return ErrorCode.illegalGeneration;
    this.touch(this.memberMap.get(memberId)!);
    return this.state === 'PreparingRebalance' ? ErrorCode.rebalanceInProgress : ErrorCode.none;
  }

  /** LeaveGroup: each member by id, or by group instance id (static members, v3+). */
  leave(members: readonly LeaveRequestMember[]): LeaveResultMember[] {
    const results: LeaveResultMember[] = [];
    let removed = 0;
    for (const request of members) {
      const errorCode = this.leaveOne(request);
      if (errorCode === ErrorCode.none) removed++;
      results.push({ ...request, errorCode });
    }
    if (removed > 0) this.afterMembersLeft(`${removed} member(s) left`);
    return results;
  }

  private leaveOne({ memberId, groupInstanceId }: LeaveRequestMember): number {
    if (this.state === 'Dead') return ErrorCode.coordinatorNotAvailable;
    if (groupInstanceId !== null) {
      const holder = this.staticMembers.get(groupInstanceId);
      if (holder === undefined) return ErrorCode.unknownMemberId;
      if (memberId !== '' && memberId !== holder) return ErrorCode.fencedInstanceId;
      this.removeMember(this.memberMap.get(holder)!, 'left the group');
      return ErrorCode.none;
    }
    const pending = this.pendingMembers.get(memberId);
    if (pending !== undefined) {
      pending.cancel();
      this.pendingMembers.delete(memberId);
      return ErrorCode.none;
    }
    const member = this.memberMap.get(memberId);
    if (member === undefined) return ErrorCode.unknownMemberId;
    this.removeMember(member, 'left the group');
    return ErrorCode.none;
  }

  private afterMembersLeft(reason: string): void {
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance(reason);
    else if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
  }

  /** Takes the member out; its waiting requests are answered UNKNOWN_MEMBER_ID. No state change here. */
  private removeMember(member: ClassicMember, reason: string): void {
    this.stopSession(member);
    this.memberMap.delete(member.memberId);
    this.pendingSync.delete(member.memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === member.memberId) this.staticMembers.delete(member.groupInstanceId);
    if (this.leader === member.memberId) this.leader = this.nextLeader();
    this.environment.logger.info('member removed', { group: this.groupId, member: member.memberId, reason });
    const join = member.awaitingJoin;
    member.awaitingJoin = null;
    join?.(this.joinError(member.memberId, ErrorCode.unknownMemberId));
    const sync = member.awaitingSync;
    member.awaitingSync = null;
    sync?.(this.syncError(ErrorCode.unknownMemberId));
  }

  /** A member already waiting in the join phase if any (it will surely be in the next generation). */
  private nextLeader(): string | null {
    let first: string | null = null;
    for (const member of this.memberMap.values()) {
      if (member.awaitingJoin !== null) return member.memberId;
      first ??= member.memberId;
    }
    return first;
  }

  // ── Sessions ────────────────────────────────────────────────────────────────────────────────

  /** The member was heard from: its session starts again (unless it waits for an answer). */
  private touch(member: ClassicMember): void {
    if (member.awaitingJoin === null && member.awaitingSync === null) this.startSession(member);
  }

  private startSession(member: ClassicMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = this.schedule(member.sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (this.memberMap.get(member.memberId) !== member) return;
      this.removeMember(member, `session timeout (${member.sessionTimeoutMs} ms) expired`);
      this.afterMembersLeft(`member ${member.memberId} expired`);
    });
  }

  private stopSession(member: ClassicMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = null;
  }

  // ── Plumbing ────────────────────────────────────────────────────────────────────────────────

  private transition(next: ClassicState): void {
    this.state = next;
    this.stateSinceMs = this.environment.scheduler.nowMs();
  }

  private schedule(delayMs: number, action: () => void): Timer {
    return this.environment.scheduler.schedule(delayMs, () => {
      try {
        action();
      } catch (error) {
        this.environment.logger.error('group timer failed', { group: this.groupId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      }
    });
  }

  private persistQuietly(): void {
    this.environment.persist(this, this.storedValue()).catch((error: unknown) => {
      this.environment.logger.error('storing group metadata failed', { group: this.groupId, error: String(error) });
    });
  }

  /** DeleteGroups (only when Empty) and broker shutdown: answers waiting requests, stops timers. */
  shutDown(errorCode: number): void {
    this.joinTimer?.cancel();
    this.cancelSyncTimer();
    for (const timer of this.pendingMembers.values()) timer.cancel();
    this.pendingMembers.clear();
    for (const member of this.memberMap.values()) {
      this.stopSession(member);
      member.awaitingJoin?.(this.joinError(member.memberId, errorCode));
      member.awaitingJoin = null;
      member.awaitingSync?.(this.syncError(errorCode));
      member.awaitingSync = null;
    }
    this.transition('Dead');
  }

  /** Our own invariants, for tests. */
  invariants(): void {
    const fail = (message: string): never => {
      throw new Error(`group ${this.groupId}: ${message}`);
    };
    if (this.leader !== null && !this.memberMap.has(this.leader) && this.state !== 'Dead') fail(`leader ${this.leader} is not a member`);
    if (this.memberMap.size > 0 && this.leader === null) fail('members but no leader');
    if (this.state === 'Empty' && this.memberMap.size > 0) fail('Empty with members');
    if ((this.state === 'Stable' || this.state === 'CompletingRebalance') && this.memberMap.size === 0) fail(`${this.state} without members`);
    for (const [instance, memberId] of this.staticMembers) {
      if (this.memberMap.get(memberId)?.groupInstanceId !== instance) fail(`static member ${instance} maps to ${memberId}`);
    }
    for (const member of this.memberMap.values()) {
      if (member.awaitingJoin !== null && this.state !== 'PreparingRebalance') fail(`${member.memberId} awaits join in ${this.state}`);
      if (member.awaitingSync !== null && this.state !== 'CompletingRebalance') fail(`${member.memberId} awaits sync in ${this.state}`);
      if ((member.awaitingJoin !== null || member.awaitingSync !== null) && member.sessionTimer !== null) fail(`${member.memberId} waits with its session running`);
    }
  }
}

function sameProtocols(left: readonly Protocol[], right: readonly Protocol[]): boolean {
  return left.length === right.length && left.every((protocol, index) => protocol.name === right[index]!.name && protocol.metadata.equals(right[index]!.metadata));
}

/** Request buffers are views into the frame: keep copies, not the frame. */
function copyProtocols(protocols: readonly Protocol[]): Protocol[] {
  return protocols.map((protocol) => ({ name: protocol.name, metadata: Buffer.from(protocol.metadata) }));
}

function updateMember(member: ClassicMember, request: JoinRequest): void {
  member.clientId = request.clientId;
  member.clientHost = request.clientHost;
  member.sessionTimeoutMs = request.sessionTimeoutMs;
  member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
  member.protocolType = request.protocolType;
  member.protocols = copyProtocols(request.protocols);
}
