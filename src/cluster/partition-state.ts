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
 *
 * Reassignment (KIP-455): startReassignment widens replicas to target ++ the replicas leaving, the
 * new ones follow the leader and join the ISR once caught up, then completeReassignment narrows
 * replicas to the target (moving leadership first when the leader leaves). Preferred and unclean
 * elections on request: electForRequest.
 */
import { noLeader, reassigning, targetReplicas, withoutReassignment } from './keys.js';
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

/**
 * The state a leader that registered again (a restart, perhaps on an empty disk, or a lease lost and
 * taken again) leads in when it stays leader: `next` (what the pass decided; null, nothing) with a
 * leader epoch above the one its previous life led in. Its followers then compare logs with it by
 * that new epoch (OffsetForLeaderEpoch) rather than take it for the leader they followed, and the
 * broker, which leads no state written before its registration (replica-sync.ts), leads this one.
 */
export function inNewTerm(state: PartitionRecord, next: PartitionRecord | null): PartitionRecord {
  const base = next ?? { ...state, partitionEpoch: state.partitionEpoch + 1 };
  return base.leaderEpoch > state.leaderEpoch ? base : { ...base, leaderEpoch: state.leaderEpoch + 1 };
}

function changed(state: PartitionRecord, leader: number, isr: readonly number[]): PartitionRecord {
  // A reassignment under way stays under way (its fields are kept).
  return { ...state, leader, leaderEpoch: state.leaderEpoch + 1, isr, partitionEpoch: state.partitionEpoch + 1 };
}

/**
 * The state AlterPartitionReassignments writes to start (or replace) a reassignment to target, or
 * to cancel the one under way (target null); a string says why it cannot. Leader and epochs stay:
 * only the replica set changes, and the ISR only narrows.
 *
 *   original = replicas - addingReplicas          (what the partition had before any reassignment)
 *   replicas = target ++ (original - target)      (target first: its first broker is the preferred leader)
 *   addingReplicas = target - original, removingReplicas = original - target, isr = isr ∩ replicas
 *
 * A target holding the same brokers as original only reorders them: no reassignment is under way.
 */
export function startReassignment(state: PartitionRecord, target: readonly number[] | null): PartitionRecord | string {
  const adding = state.addingReplicas ?? [];
  const original = state.replicas.filter((nodeId) => !adding.includes(nodeId));
  if (target === null && !reassigning(state)) return 'no reassignment of this partition is under way';
  const goal = target ?? original;
  const replicas = [...goal, ...original.filter((nodeId) => !goal.includes(nodeId))];
  const isr = state.isr.filter((nodeId) => replicas.includes(nodeId));
  if (state.leader !== noLeader && !replicas.includes(state.leader)) return `broker ${state.leader} leads the partition and would leave it: wait for the reassignment under way to end, then reassign again`;
  if (isr.length === 0) return 'no in-sync replica would be left: wait for the reassignment under way to end, then reassign again';
  const addingReplicas = goal.filter((nodeId) => !original.includes(nodeId));
  const removingReplicas = original.filter((nodeId) => !goal.includes(nodeId));
  const next: PartitionRecord = { ...withoutReassignment(state), replicas, isr, partitionEpoch: state.partitionEpoch + 1 };
  return addingReplicas.length > 0 || removingReplicas.length > 0 ? { ...next, addingReplicas, removingReplicas } : next;
}

/**
 * The controller's step ending a reassignment, or null while it cannot end yet: once every target
 * replica is in the ISR, replicas = target, the removed replicas leave the ISR, and a leader being
 * removed hands over to the first live target replica (leaderEpoch + 1). Every target replica then
 * holds every acknowledged record (it is in the ISR), so the removed ones can go.
 */
export function completeReassignment(state: PartitionRecord, liveBrokers: ReadonlySet<number>): PartitionRecord | null {
  if (!reassigning(state) || state.leader === noLeader) return null;
  const target = targetReplicas(state);
  if (!target.every((nodeId) => state.isr.includes(nodeId))) return null;
  const ended = { ...withoutReassignment(state), replicas: target, isr: state.isr.filter((nodeId) => target.includes(nodeId)), partitionEpoch: state.partitionEpoch + 1 };
  if (target.includes(state.leader)) return ended;
  const leader = target.find((nodeId) => liveBrokers.has(nodeId));
  return leader === undefined ? null : { ...ended, leader, leaderEpoch: state.leaderEpoch + 1 };
}

/** ElectLeaders' answer for one partition: the state to write, or why none is written. */
export type ElectionDecision = { readonly next: PartitionRecord } | { readonly refused: 'not needed' | 'preferred not available' | 'none eligible' };

/**
 * Preferred election moves leadership to the first replica when it is live and in sync; unclean
 * election gives a partition without a leader to a live replica (in sync first, else any).
 */
export function electForRequest(state: PartitionRecord, liveBrokers: ReadonlySet<number>, type: 'preferred' | 'unclean'): ElectionDecision {
  if (type === 'unclean') {
    if (state.leader !== noLeader && liveBrokers.has(state.leader)) return { refused: 'not needed' };
    const next = electLeader(state, liveBrokers, true);
    return next === null || next.leader === noLeader ? { refused: 'none eligible' } : { next };
  }
  const preferred = state.replicas[0]!;
  if (state.leader === preferred) return { refused: 'not needed' };
  if (!liveBrokers.has(preferred) || !state.isr.includes(preferred)) return { refused: 'preferred not available' };
  return { next: changed(state, preferred, state.isr) };
}

/** Replicas of the partition that are not live brokers (Metadata's offlineReplicas). */
export function offlineReplicas(state: PartitionRecord, liveBrokers: ReadonlySet<number>): number[] {
  return state.replicas.filter((nodeId) => !liveBrokers.has(nodeId));
}
