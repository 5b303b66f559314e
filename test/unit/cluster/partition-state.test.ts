/**
 * The partition state machine (src/cluster/partition-state.ts, docs/cluster.md): a new partition is
 * led by its first replica with only the leader in sync; a leader that is gone is replaced by a live
 * ISR member, else the partition goes offline keeping its ISR, and comes back with an ISR member;
 * unclean election only when the topic allows it. Every change bumps the leader epoch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeReassignment, electForRequest, electLeader, inNewTerm, initialPartitionState, offlineReplicas, startReassignment } from '../../../src/cluster/partition-state.js';
import type { PartitionRecord } from '../../../src/cluster/keys.js';

const led: PartitionRecord = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 5, isr: [1, 2], partitionEpoch: 9 };

test('a new partition: first replica leads, alone in the ISR, epochs 0', () => {
  assert.deepEqual(initialPartitionState([2, 3, 1]), { replicas: [2, 3, 1], leader: 2, leaderEpoch: 0, isr: [2], partitionEpoch: 0 });
  assert.throws(() => initialPartitionState([]), /at least one replica/);
});

test('a live leader stays', () => {
  assert.equal(electLeader(led, new Set([1, 2]), false), null);
  assert.equal(electLeader(led, new Set([1, 2, 3]), true), null);
});

test('leader live, a follower of the ISR gone: it leaves the ISR, the leader epoch stays', () => {
  assert.deepEqual(electLeader(led, new Set([1]), false), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 5, isr: [1], partitionEpoch: 10 });
  assert.deepEqual(electLeader(led, new Set([1, 3]), true), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 5, isr: [1], partitionEpoch: 10 });
});

test('a leader that registered again and stays leader leads in a new term: leader epoch + 1, whatever else the pass decided', () => {
  // Nothing else to change: the same state one leader epoch on.
  assert.deepEqual(inNewTerm(led, null), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 6, isr: [1, 2], partitionEpoch: 10 });
  // A follower left the ISR in the same pass: both changes, one partition epoch on.
  assert.deepEqual(inNewTerm(led, electLeader(led, new Set([1]), false)), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 6, isr: [1], partitionEpoch: 10 });
  // Already a new leader epoch (an offline partition led again): not bumped twice.
  const offline: PartitionRecord = { ...led, leader: -1, leaderEpoch: 6, partitionEpoch: 10 };
  const ledAgain = electLeader(offline, new Set([1]), false)!;
  assert.deepEqual(inNewTerm(offline, ledAgain), ledAgain);
});

test('leader gone, an ISR member live: it leads, the dead leave the ISR, epochs bumped', () => {
  assert.deepEqual(electLeader(led, new Set([2, 3]), false), { replicas: [1, 2, 3], leader: 2, leaderEpoch: 6, isr: [2], partitionEpoch: 10 });
  // Preference follows the replica order, not the ISR order.
  const state: PartitionRecord = { replicas: [1, 3, 2], leader: 1, leaderEpoch: 0, isr: [1, 2, 3], partitionEpoch: 0 };
  assert.deepEqual(electLeader(state, new Set([2, 3]), false), { replicas: [1, 3, 2], leader: 3, leaderEpoch: 1, isr: [2, 3], partitionEpoch: 1 });
});

test('leader gone, no ISR member live: offline, ISR kept; a replica out of sync is not chosen', () => {
  const offline = electLeader(led, new Set([3]), false);
  assert.deepEqual(offline, { replicas: [1, 2, 3], leader: -1, leaderEpoch: 6, isr: [1, 2], partitionEpoch: 10 });
  // Already offline and still nobody in sync: nothing to write.
  assert.equal(electLeader(offline!, new Set([3]), false), null);
  // An ISR member returns: it leads again.
  assert.deepEqual(electLeader(offline!, new Set([3, 1]), false), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 7, isr: [1], partitionEpoch: 11 });
});

test('unclean election: a live replica out of sync leads when the topic allows it, alone in the ISR', () => {
  assert.deepEqual(electLeader(led, new Set([3]), true), { replicas: [1, 2, 3], leader: 3, leaderEpoch: 6, isr: [3], partitionEpoch: 10 });
  const offline: PartitionRecord = { replicas: [1, 2, 3], leader: -1, leaderEpoch: 6, isr: [1], partitionEpoch: 10 };
  assert.deepEqual(electLeader(offline, new Set([2]), true), { replicas: [1, 2, 3], leader: 2, leaderEpoch: 7, isr: [2], partitionEpoch: 11 });
  // A live ISR member is still preferred.
  assert.equal(electLeader(led, new Set([2, 3]), true)?.leader, 2);
  // No live replica at all: offline even with unclean election.
  assert.equal(electLeader(led, new Set([7]), true)?.leader, -1);
});

test('offline replicas: those whose broker is not live', () => {
  assert.deepEqual(offlineReplicas(led, new Set([2])), [1, 3]);
  assert.deepEqual(offlineReplicas(led, new Set([1, 2, 3])), []);
});

test('starting a reassignment: target first, then the replicas leaving; leader and epochs kept', () => {
  const state: PartitionRecord = { replicas: [1, 2], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 6 };
  assert.deepEqual(startReassignment(state, [2, 3]), { replicas: [2, 3, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 7, addingReplicas: [3], removingReplicas: [1] });
  // The same brokers in another order: no reassignment, only the order (and so the preferred leader) changes.
  assert.deepEqual(startReassignment(state, [2, 1]), { replicas: [2, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 7 });
  // Removing only: nothing to add.
  assert.deepEqual(startReassignment({ ...state, replicas: [1, 2, 3], isr: [1, 2, 3] }, [1, 2]), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 3, isr: [1, 2, 3], partitionEpoch: 7, addingReplicas: [], removingReplicas: [3] });
  assert.match(String(startReassignment(state, null)), /no reassignment/);
});

test('replacing or cancelling a reassignment under way: computed from the replicas before it', () => {
  const moving: PartitionRecord = { replicas: [2, 3, 1], leader: 1, leaderEpoch: 3, isr: [1, 2, 3], partitionEpoch: 7, addingReplicas: [3], removingReplicas: [1] };
  // Cancelled: back to [1, 2]; broker 3 (being added, already in sync) leaves the ISR.
  assert.deepEqual(startReassignment(moving, null), { replicas: [2, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 8 });
  // Replaced by [2, 4]: 3 is no longer added, 4 is.
  assert.deepEqual(startReassignment(moving, [2, 4]), { replicas: [2, 4, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 8, addingReplicas: [4], removingReplicas: [1] });
  // Broker 3 leads (the old leader died): a target without it is refused.
  assert.match(String(startReassignment({ ...moving, leader: 3, isr: [3] }, [2, 4])), /broker 3 leads/);
});

test('ending a reassignment: once every target replica is in sync; a leader leaving hands over to the first live target replica', () => {
  const moving: PartitionRecord = { replicas: [2, 3, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 7, addingReplicas: [3], removingReplicas: [1] };
  assert.equal(completeReassignment(moving, new Set([1, 2, 3])), null, 'broker 3 is not in sync yet');
  const caughtUp = { ...moving, isr: [1, 2, 3], partitionEpoch: 8 };
  assert.deepEqual(completeReassignment(caughtUp, new Set([1, 2, 3])), { replicas: [2, 3], leader: 2, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 9 });
  assert.deepEqual(completeReassignment(caughtUp, new Set([1, 3])), { replicas: [2, 3], leader: 3, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 9 });
  assert.equal(completeReassignment(caughtUp, new Set([1])), null, 'no live target replica to lead');
  // A leader that stays keeps its epoch.
  const kept = { ...caughtUp, replicas: [1, 3, 2], removingReplicas: [2] };
  assert.deepEqual(completeReassignment(kept, new Set([1, 2, 3])), { replicas: [1, 3], leader: 1, leaderEpoch: 3, isr: [1, 3], partitionEpoch: 9 });
  assert.equal(completeReassignment({ ...caughtUp, leader: -1 }, new Set([1, 2, 3])), null, 'an offline partition is elected first');
  assert.equal(completeReassignment(led, new Set([1, 2, 3])), null, 'nothing under way');
});

test('leader gone during a reassignment: the election keeps the reassignment fields', () => {
  const moving: PartitionRecord = { replicas: [2, 3, 1], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 7, addingReplicas: [3], removingReplicas: [1] };
  assert.deepEqual(electLeader(moving, new Set([2, 3]), false), { replicas: [2, 3, 1], leader: 2, leaderEpoch: 4, isr: [2], partitionEpoch: 8, addingReplicas: [3], removingReplicas: [1] });
});

test('elections on request: preferred when live and in sync, else refused; unclean only without a live leader', () => {
  const elsewhere: PartitionRecord = { replicas: [1, 2, 3], leader: 2, leaderEpoch: 5, isr: [2, 3, 1], partitionEpoch: 9 };
  assert.deepEqual(electForRequest(elsewhere, new Set([1, 2, 3]), 'preferred'), { next: { replicas: [1, 2, 3], leader: 1, leaderEpoch: 6, isr: [2, 3, 1], partitionEpoch: 10 } });
  assert.deepEqual(electForRequest(led, new Set([1, 2, 3]), 'preferred'), { refused: 'not needed' });
  assert.deepEqual(electForRequest(elsewhere, new Set([2, 3]), 'preferred'), { refused: 'preferred not available' });
  assert.deepEqual(electForRequest({ ...elsewhere, isr: [2, 3] }, new Set([1, 2, 3]), 'preferred'), { refused: 'preferred not available' });
  assert.deepEqual(electForRequest(elsewhere, new Set([1, 2, 3]), 'unclean'), { refused: 'not needed' });
  const offline: PartitionRecord = { replicas: [1, 2, 3], leader: -1, leaderEpoch: 6, isr: [1], partitionEpoch: 10 };
  assert.deepEqual(electForRequest(offline, new Set([3]), 'unclean'), { next: { replicas: [1, 2, 3], leader: 3, leaderEpoch: 7, isr: [3], partitionEpoch: 11 } });
  assert.deepEqual(electForRequest(offline, new Set([]), 'unclean'), { refused: 'none eligible' });
});
