/**
 * Classic consumer-group membership (protocol type "consumer", the range assignor):
 *
 *   FindCoordinator ─► JoinGroup (again with the member id if MEMBER_ID_REQUIRED) ─► the leader
 *   computes the assignment ─► SyncGroup ─► Heartbeat every heartbeatIntervalMs; a heartbeat
 *   answering REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION sets
 *   `rebalanceNeeded`, and the owner commits and calls join() again. leave() sends LeaveGroup.
 *
 * Range assignor (Kafka's RangeAssignor): per topic, partitions in order, members subscribed to it
 * sorted by member id; each gets ⌊P/M⌋ consecutive partitions and the first P mod M one more.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { assignmentPartitions, encodeAssignment, encodeSubscription, subscriptionTopics } from '../protocol/kafka/consumer-protocol.js';
import type { TopicPartitions } from '../protocol/kafka/consumer-protocol.js';
import { commitWith } from './admin.js';
import { apis } from './apis.js';
import type { KafkaClient } from './client.js';
import { delay } from './client.js';
import type { Connection } from './connection.js';
import { KafkaProtocolError, checkErrorCode, isRetriable } from './errors.js';

export interface GroupMemberOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
}

export const rangeAssignorName = 'range';

/** Pure: member id → its partitions, for members subscribed to topics with these partition counts. */
export function rangeAssign(members: readonly { memberId: string; topics: readonly string[] }[], partitionCounts: ReadonlyMap<string, number>): Map<string, TopicPartitions[]> {
  const result = new Map<string, TopicPartitions[]>(members.map((member) => [member.memberId, []]));
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    const subscribed = members.filter((member) => member.topics.includes(topic)).map((member) => member.memberId).sort();
    if (subscribed.length === 0 || count === 0) continue;
    const each = Math.floor(count / subscribed.length);
    const extra = count % subscribed.length;
    let next = 0;
    subscribed.forEach((memberId, index) => {
      const take = each + (index < extra ? 1 : 0);
      if (take === 0) return;
      const partitions = Array.from({ length: take }, (_, offset) => next + offset);
      next += take;
      result.get(memberId)!.push({ topic, partitions });
    });
  }
  return result;
}

export class GroupMember {
  readonly groupId: string;
  memberId = '';
  generationId = -1;
  /** Set when the coordinator asks for a rebalance; the owner then calls join() again. */
  rebalanceNeeded = false;
  private coordinator: Connection | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;

  constructor(
    readonly client: KafkaClient,
    readonly options: GroupMemberOptions,
  ) {
    this.groupId = options.groupId;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
  }

  /** Joins (or re-joins) and resolves with this member's assignment. */
  async join(): Promise<TopicPartitions[]> {
    this.stopHeartbeats();
    this.rebalanceNeeded = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const assignment = await this.joinOnce();
        if (assignment !== null) {
          this.startHeartbeats();
          return assignment;
        }
      } catch (error) {
        if (!(error instanceof KafkaProtocolError) || !isRetriable(error.code) || attempt >= 20) throw error;
        this.coordinator = null;
        await delay(200);
      }
    }
  }

  /** The assignment, or null when the round must be repeated. */
  private async joinOnce(): Promise<TopicPartitions[] | null> {
    const coordinator = await this.coordinatorConnection();
    const joined = await coordinator.request(
      apis.joinGroup,
      {
        groupId: this.groupId,
        sessionTimeoutMs: this.sessionTimeoutMs,
        rebalanceTimeoutMs: this.rebalanceTimeoutMs,
        memberId: this.memberId,
        protocolType: 'consumer',
        protocols: [{ name: rangeAssignorName, metadata: encodeSubscription(this.options.topics) }],
      },
      { timeoutMs: this.rebalanceTimeoutMs + this.client.requestTimeoutMs },
    );
    if (joined.errorCode === ErrorCode.memberIdRequired) {
      this.memberId = joined.memberId;
      return null;
    }
    if (joined.errorCode === ErrorCode.unknownMemberId) {
      this.memberId = '';
      return null;
    }
    if (joined.errorCode === ErrorCode.rebalanceInProgress) return null;
    if (joined.errorCode === ErrorCode.notCoordinator || joined.errorCode === ErrorCode.coordinatorNotAvailable) {
      this.coordinator = null;
      return null;
    }
    checkErrorCode(joined.errorCode, `join group '${this.groupId}'`);
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;
    const assignments = joined.leader === joined.memberId ? await this.assignAsLeader(joined.members) : [];
    const synced = await coordinator.request(
      apis.syncGroup,
      { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, protocolType: 'consumer', protocolName: rangeAssignorName, assignments },
      { timeoutMs: this.rebalanceTimeoutMs + this.client.requestTimeoutMs },
    );
    if (synced.errorCode === ErrorCode.rebalanceInProgress || synced.errorCode === ErrorCode.illegalGeneration) return null;
    if (synced.errorCode === ErrorCode.unknownMemberId) {
      this.memberId = '';
      return null;
    }
    checkErrorCode(synced.errorCode, `sync group '${this.groupId}'`);
    const partitions = assignmentPartitions(synced.assignment);
    if (partitions === null) throw new KafkaProtocolError(ErrorCode.inconsistentGroupProtocol, `group '${this.groupId}'`, 'the leader sent an assignment this client cannot read');
    return partitions;
  }

  private async assignAsLeader(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = members.map((member) => ({ memberId: member.memberId, topics: subscriptionTopics(member.metadata) ?? [] }));
    const counts = new Map<string, number>();
    for (const topic of new Set(subscriptions.flatMap((member) => member.topics))) {
      try {
        counts.set(topic, (await this.client.topicMetadata(topic, { refresh: true })).partitions.length);
      } catch (error) {
        if (!(error instanceof KafkaProtocolError)) throw error; // an unknown topic gets no partitions
      }
    }
    const assigned = rangeAssign(subscriptions, counts);
    return [...assigned].map(([memberId, partitions]) => ({ memberId, assignment: encodeAssignment(partitions) }));
  }

  async commit(offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    const coordinator = await this.coordinatorConnection();
    await commitWith(coordinator, this.groupId, this.generationId, this.memberId, offsets);
  }

  async leave(): Promise<void> {
    this.stopHeartbeats();
    if (this.memberId === '') return;
    const coordinator = await this.coordinatorConnection();
    // LeaveGroup v0-2 names one member at the top level; v3+ lists members.
    const batched = coordinator.versionFor(apis.leaveGroup) >= 3;
    const response = await coordinator.request(apis.leaveGroup, batched ? { groupId: this.groupId, memberId: '', members: [{ memberId: this.memberId }] } : { groupId: this.groupId, memberId: this.memberId, members: [] });
    this.memberId = '';
    this.generationId = -1;
    if (response.errorCode !== ErrorCode.unknownMemberId) checkErrorCode(response.errorCode, `leave group '${this.groupId}'`);
  }

  stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  private async heartbeat(): Promise<void> {
    try {
      const coordinator = await this.coordinatorConnection();
      const response = await coordinator.request(apis.heartbeat, { groupId: this.groupId, generationId: this.generationId, memberId: this.memberId });
      if (response.errorCode === ErrorCode.unknownMemberId) this.memberId = '';
      if (response.errorCode !== ErrorCode.none) this.rebalanceNeeded = true;
    } catch {
      this.coordinator = null; // found again on the next heartbeat
    }
  }

  private async coordinatorConnection(): Promise<Connection> {
    if (this.coordinator === null || this.coordinator.isClosed) this.coordinator = await this.client.coordinator(this.groupId);
    return this.coordinator;
  }
}
