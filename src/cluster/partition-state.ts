/**
 * A partition's leadership state and its transitions (docs/cluster.md, "Partition state machine").
 * Pure functions: the controller (partition-leadership.ts) reads the state from etcd, asks here what
 * it should become, and writes that back conditioned on what it read.
 *
 *            created: leader = first replica, isr = [leader], epoch 0
 *                      │
 *                      ▼
 *   ┌──────────► led by L ──L gone, a live ISR member M──► led by M (epoch+1, isr = live ISR)
 *   │                  │
 *   │                  └──L gone, no live ISR member──► offline: leader -1 (epoch+1, isr kept)
 *   │                                                    │                 │
 *   └──an ISR member is live again (epoch+1)─────────────┘                 │
 *      unclean.leader.election.enable and a live replica R (epoch+1, isr=[R])┘
 *
 * With a live leader, followers whose broker is gone leave the ISR (isr = live members, leaderEpoch
 * kept): a dead follower would otherwise hold acks=all back. The ISR is never widened here: only the
 * leader adds a follower that caught up (leader-replicas.ts), so a broker is never claimed to be in
 * sync unless it is.
 */
import { noLeader } from './keys.js';
import type { PartitionRecord } from './keys.js';

/** The first partition state of a new partition placed on these replicas (preferred leader first). */
export function initialPartitionState(replicas: readonly number[]): PartitionRecord {
  const leader = replicas[0];
  if (leader === undefined) throw new Error('a partition needs at least one replica');
  // Followers join the ISR once they caught up (leader-replicas.ts).
  return { replicas, leader, leaderEpoch: 0, isr: [leader], partitionEpoch: 0 };
}

/**
 * What the partition should become given which brokers are live, or null when it stays as it is
 * (its leader is live, or it is offline and nothing live may lead it).
 */
export function electLeader(state: PartitionRecord, liveBrokers: ReadonlySet<number>, uncleanElectionEnabled: boolean): PartitionRecord | null {
  if (state.leader !== noLeader && liveBrokers.has(state.leader)) {
    const liveMembers = state.isr.filter((nodeId) => liveBrokers.has(nodeId));
    if (liveMembers.length === state.isr.length) return null;
    return { ...state, isr: liveMembers, partitionEpoch: state.partitionEpoch + 1 };
  }
  const liveIsr = state.isr.filter((nodeId) => liveBrokers.has(nodeId));
  // Preference follows the replica list (its first entry is the preferred leader).
  const inSync = state.replicas.find((nodeId) => liveIsr.includes(nodeId));
  if (inSync !== undefined) return changed(state, inSync, liveIsr);
  const anyLive = state.replicas.find((nodeId) => liveBrokers.has(nodeId));
  if (uncleanElectionEnabled && anyLive !== undefined) return changed(state, anyLive, [anyLive]);
  if (state.leader === noLeader) return null;
  // Offline. The ISR is kept as it was: its members are the only replicas known to hold every
  // acknowledged record, so one of them must lead next (unless unclean election is allowed).
  return changed(state, noLeader, state.isr);
}

function changed(state: PartitionRecord, leader: number, isr: readonly number[]): PartitionRecord {
  return { replicas: state.replicas, leader, leaderEpoch: state.leaderEpoch + 1, isr, partitionEpoch: state.partitionEpoch + 1 };
}

/** Replicas of the partition that are not live brokers (Metadata's offlineReplicas). */
export function offlineReplicas(state: PartitionRecord, liveBrokers: ReadonlySet<number>): number[] {
  return state.replicas.filter((nodeId) => !liveBrokers.has(nodeId));
}
