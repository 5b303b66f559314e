/**
 * What every group is to the coordinator, whatever protocol its members speak. The classic
 * protocol (JoinGroup/SyncGroup/Heartbeat, classic-group.ts) and the KIP-848 consumer protocol
 * (ConsumerGroupHeartbeat, consumer-group.ts) implement it side by side, so that ListGroups,
 * DescribeGroups, OffsetCommit, OffsetFetch, OffsetDelete, DeleteGroups, expiry and lag work on
 * both through this one interface.
 */
import type { CommittedOffsets } from './committed-offsets.js';
import type { GroupValue } from './log-records.js';

/** ListGroups v5 `groupType`. */
export type GroupType = 'classic' | 'consumer';

export interface GroupMemberSummary {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** For the consumer protocol: the topics it subscribes to; null when unknown. */
  readonly subscribedTopics: readonly string[] | null;
  /** Its assigned partitions, when known. */
  readonly assignment: ReadonlyArray<{ readonly topic: string; readonly partitions: readonly number[] }> | null;
}

/** What DescribeGroups shows of a group. */
export interface GroupDescription {
  readonly state: string;
  readonly protocolType: string;
  /** The selected protocol (classic: the assignor), '' when none. */
  readonly protocolData: string;
  readonly members: ReadonlyArray<{
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly clientId: string;
    readonly clientHost: string;
    readonly metadata: Buffer;
    readonly assignment: Buffer;
  }>;
}

export interface Group {
  readonly groupId: string;
  readonly type: GroupType;
  readonly offsets: CommittedOffsets;
  /** Kafka's state name (classic: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead). */
  readonly stateName: string;
  /** What ListGroups and DescribeGroups show as protocolType ('' when none). */
  readonly protocolTypeName: string;
  /** No members (joined or pending). */
  readonly isEmpty: boolean;
  /** Since when the group has had no members; null while it has some. */
  readonly emptySinceMs: number | null;
  /**
   * Error code for an OffsetCommit with these identifiers (0 when it may commit).
   * generation is the classic generation id or the KIP-848 member epoch.
   */
  validateOffsetCommit(memberId: string, groupInstanceId: string | null, generation: number): number;
  /** Whether some member subscribes to the topic (OffsetDelete refuses those); true when unknown. */
  isSubscribedToTopic(topic: string): boolean;
  members(): GroupMemberSummary[];
  describe(): GroupDescription;
  /** The group's metadata record, as it stands now (snapshots). Null when there is nothing to store. */
  storedValue(): GroupValue | null;
  /** Ends the group: timers stopped, requests waiting on it answered with `errorCode`. */
  shutDown(errorCode: number): void;
}
