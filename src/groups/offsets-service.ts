/**
 * Committed offsets across groups: OffsetCommit, OffsetFetch, OffsetDelete, the expiry of offsets
 * of groups left empty, and lag. Each group keeps its own offsets (committed-offsets.ts); this
 * module checks requests against the partitions that exist, writes to the group log through
 * GroupPersistence, and moves a group's offsets from appended to durable (or back, on failure).
 *
 *   OffsetCommit ──► checks ──► GroupPersistence.append ──► offsets.appended ──► durable? ──► offsets.madeDurable
 *                                                                                   └ failed ─► offsets.appendFailed
 *
 * Everything here answers with Kafka error codes; nothing is thrown at the protocol edge.
 */
import type { CommittedPosition } from '../broker/offset.js';
import type { GroupSettings } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { asOffset, type Offset } from '../storage/offset.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { CommittedOffset } from './committed-offsets.js';
import { ConsumerGroup } from './consumer-group.js';
import type { ConsumerTopics } from './consumer-group.js';
import type { Group } from './group.js';
import type { GroupPersistence } from './group-persistence.js';
import { retryLaterCode } from './group-registry.js';
import type { GroupRegistry } from './group-registry.js';
import { computeGroupLag } from './lag.js';
import type { GroupLag } from './lag.js';
import type { GroupLogRecord } from './log-records.js';
import type { Scheduler, Timer } from './scheduler.js';

/**
 * What the coordinator needs to know of topics: whether a partition exists, and its log positions;
 * for KIP-848 groups, topic ids and partition counts.
 */
export interface TopicDirectory extends ConsumerTopics {
  partitionOffsets(topic: string, partition: number): { readonly logStartOffset: Offset; readonly logEndOffset: Offset; readonly highWatermark: Offset } | undefined;
}

export interface CommitPartition {
  readonly partitionIndex: number;
  /** As the handler converted it (broker/offset.ts); null: beyond 2^53, refused as out of range. */
  readonly committedOffset: CommittedPosition | null;
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

export type PartitionErrors = Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;

export interface FetchedPartition {
  readonly partitionIndex: number;
  /** Null when nothing is committed (−1 on the wire). */
  readonly committedOffset: CommittedPosition | null;
  readonly committedLeaderEpoch: number;
  readonly metadata: string;
  readonly errorCode: number;
}

export interface FetchedOffsets {
  readonly errorCode: number;
  readonly topics: Array<{ name: string; partitions: FetchedPartition[] }>;
}

export interface OffsetsServiceOptions {
  readonly registry: GroupRegistry;
  readonly persistence: GroupPersistence;
  readonly topics: TopicDirectory;
  readonly settings: GroupSettings;
  readonly scheduler: Scheduler;
  readonly logger: Logger;
}

/** Every partition of an OffsetCommit request, answered `errorCode` (later filled in per partition). */
export function commitAnswers(request: CommitRequest, errorCode: number): PartitionErrors {
  return request.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map((partition) => ({ partitionIndex: partition.partitionIndex, errorCode })) }));
}

export class OffsetsService {
  private readonly registry: GroupRegistry;
  private readonly persistence: GroupPersistence;
  private readonly topics: TopicDirectory;
  private readonly settings: GroupSettings;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private expiryTimer: Timer | null = null;
  private stopped = false;

  constructor(options: OffsetsServiceOptions) {
    this.registry = options.registry;
    this.persistence = options.persistence;
    this.topics = options.topics;
    this.settings = options.settings;
    this.scheduler = options.scheduler;
    this.logger = options.logger;
  }

  /**
   * OffsetCommit. Group checks (generation, member) come first and apply to every partition; then
   * each partition is checked on its own: it must exist (UNKNOWN_TOPIC_OR_PARTITION), its metadata
   * fit maxMetadataBytes (OFFSET_METADATA_TOO_LARGE), and its offset be one we can hold (at most
   * 2^53 − 1; OFFSET_OUT_OF_RANGE beyond). Any other offset is accepted, as Kafka does: ahead of the
   * log end (admin tools set positions ahead of time; a consumer resets by its auto.offset.reset if
   * it is still out of range when it fetches), below the log start (a consumer lagging behind
   * retention may commit them), and negative ones:
   * KafkaJS's admin.resetOffsets commits −1 and −2 (latest / earliest) for consumers to resolve,
   * and every client reads a negative committed offset as "no position".
   * Accepted partitions are written as one batch and answered once it is durable.
   */
  async commitOffsets(request: CommitRequest): Promise<PartitionErrors> {
    const results = commitAnswers(request, ErrorCode.none);
    const answerAll = (errorCode: number) => {
      for (const topic of results) for (const partition of topic.partitions) partition.errorCode = errorCode;
      return results;
    };
    const idProblem = this.registry.groupIdProblem(request.groupId, true);
    if (idProblem !== ErrorCode.none) return answerAll(idProblem);
    let group = this.registry.get(request.groupId);
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
        if (result.errorCode !== ErrorCode.none || partition.committedOffset === null) return;
        const value: CommittedOffset = { offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch, metadata: partition.committedMetadata ?? '', commitTimestampMs: now };
        accepted.push({ topic: topic.name, partition: partition.partitionIndex, value, result });
      });
    });
    if (accepted.length === 0) return results;
    if (group === undefined) {
      group = this.registry.createClassicGroup(request.groupId) ?? undefined;
      if (group === undefined) {
        for (const { result } of accepted) result.errorCode = retryLaterCode;
        return results;
      }
    }
    const target = group;
    const outcome = this.persistence.append(accepted.map(({ topic, partition, value }) => ({ kind: 'offset', groupId: target.groupId, topic, partition, value })));
    if (outcome === null) {
      for (const { result } of accepted) result.errorCode = retryLaterCode;
      this.registry.dropIfUnused(target);
      return results;
    }
    accepted.forEach(({ topic, partition, value }, index) => target.offsets.appended(topic, partition, value, asOffset(outcome.logOffset + index)));
    try {
      await outcome.durable;
      accepted.forEach(({ topic, partition, value }, index) => target.offsets.madeDurable(topic, partition, value, asOffset(outcome.logOffset + index)));
    } catch (error) {
      this.logger.debug('committing offsets failed', { group: target.groupId, error: String(error) }); // the group log reported the cause
      accepted.forEach(({ topic, partition, value, result }, index) => {
        target.offsets.appendFailed(topic, partition, value, asOffset(outcome.logOffset + index));
        result.errorCode = retryLaterCode;
      });
    }
    return results;
  }

  private commitProblem(topic: string, partition: CommitPartition): number {
    const offsets = this.topics.partitionOffsets(topic, partition.partitionIndex);
    if (offsets === undefined) return ErrorCode.unknownTopicOrPartition;
    if (partition.committedMetadata !== null && Buffer.byteLength(partition.committedMetadata, 'utf8') > this.settings.maxMetadataBytes) return ErrorCode.offsetMetadataTooLarge;
    if (partition.committedOffset === null) return ErrorCode.offsetOutOfRange;
    return ErrorCode.none;
  }

  /**
   * OffsetFetch for one group: the durable committed offsets of the partitions asked for (all the
   * group has when `topics` is null); −1 with no error where nothing is committed.
   */
  fetchOffsets(
    groupId: string,
    topics: ReadonlyArray<{ readonly name: string; readonly partitionIndexes: readonly number[] }> | null,
    member: { readonly memberId: string | null; readonly memberEpoch: number } | null,
  ): FetchedOffsets {
    if (this.registry.groupIdProblem(groupId, true) !== ErrorCode.none) return { errorCode: ErrorCode.invalidGroupId, topics: [] };
    const group = this.registry.get(groupId);
    // v9+ name the member: a KIP-848 group checks it (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH); classic groups do not, as Kafka.
    if (member !== null && group instanceof ConsumerGroup) {
      const memberError = group.validateOffsetFetch(member.memberId, member.memberEpoch);
      if (memberError !== ErrorCode.none) return { errorCode: memberError, topics: [] };
    }
    const offsets = group?.offsets;
    const describe = (partitionIndex: number, committed: CommittedOffset | undefined): FetchedPartition =>
      committed === undefined
        ? { partitionIndex, committedOffset: null, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.none }
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
    if (this.registry.groupIdProblem(groupId, true) !== ErrorCode.none) return { errorCode: ErrorCode.invalidGroupId, topics: [] };
    const group = this.registry.get(groupId);
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
    const outcome = this.persistence.append(records);
    if (outcome === null) return { errorCode: retryLaterCode, topics: [] };
    records.forEach((record, index) => {
      if (record.kind === 'offset') group.offsets.appended(record.topic, record.partition, null, asOffset(outcome.logOffset + index));
    });
    try {
      await outcome.durable;
    } catch {
      records.forEach((record, index) => {
        if (record.kind === 'offset') group.offsets.appendFailed(record.topic, record.partition, null, asOffset(outcome.logOffset + index));
      });
      return { errorCode: retryLaterCode, topics: [] };
    }
    records.forEach((record, index) => {
      if (record.kind === 'offset') group.offsets.madeDurable(record.topic, record.partition, null, asOffset(outcome.logOffset + index));
    });
    return { errorCode: ErrorCode.none, topics: results };
  }

  /** Per-partition committed offset, high watermark and lag of a group, with totals; null for an unknown group. */
  lag(groupId: string): GroupLag | null {
    const group = this.registry.get(groupId);
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

  // ── Expiry ──────────────────────────────────────────────────────────────────────────────────

  /** Runs expireOffsets every `groups.offsetsRetentionCheckIntervalMs` until stop(). */
  scheduleExpiry(): void {
    this.expiryTimer = this.scheduler.schedule(this.settings.offsetsRetentionCheckIntervalMs, () => {
      this.expireOffsets().catch((error: unknown) => this.logger.error('offset expiry failed', { error: String(error) }));
      if (!this.stopped) this.scheduleExpiry();
    });
  }

  /**
   * Deletes the committed offsets of groups that have had no members for offsetsRetentionMs, each
   * once it is itself that old, and drops empty groups with no offsets left. Returns the number of
   * offsets expired.
   */
  async expireOffsets(): Promise<number> {
    if (this.stopped) return 0;
    const now = this.scheduler.nowMs();
    const retentionMs = this.settings.offsetsRetentionMs;
    const records: GroupLogRecord[] = [];
    const expiredGroups: Group[] = [];
    const doomedGroups: Group[] = [];
    for (const group of this.registry.values()) {
      const emptySince = group.emptySinceMs;
      if (emptySince === null) continue;
      const latest = group.offsets.latest();
      const expired = latest.filter(({ committed }) => now - Math.max(emptySince, committed.commitTimestampMs) >= retentionMs);
      for (const { topic, partition } of expired) records.push({ kind: 'offset', groupId: group.groupId, topic, partition, value: null });
      if (expired.length > 0) expiredGroups.push(group);
      if (expired.length === latest.length) doomedGroups.push(group);
    }
    const outcome = this.persistence.append(records);
    if (outcome === null) return 0;
    records.forEach((record, index) => {
      if (record.kind === 'offset') this.registry.get(record.groupId)?.offsets.appended(record.topic, record.partition, null, asOffset(outcome.logOffset + index));
    });
    const removals = doomedGroups.map((group) => this.registry.remove(group));
    await outcome.durable;
    records.forEach((record, index) => {
      if (record.kind === 'offset') expiredGroups.find((group) => group.groupId === record.groupId)?.offsets.madeDurable(record.topic, record.partition, null, asOffset(outcome.logOffset + index));
    });
    await Promise.all(removals);
    if (records.length > 0 || doomedGroups.length > 0) this.logger.info('expired offsets', { offsets: records.length, groupsRemoved: doomedGroups.length });
    return records.length;
  }

  /** No more expiry: the timer is cancelled and expireOffsets does nothing. */
  stop(): void {
    this.stopped = true;
    this.expiryTimer?.cancel();
  }
}
