/**
 * The partition state machine (src/cluster/partition-state.ts, docs/cluster.md): a new partition is
 * led by its first replica with only the leader in sync; a leader that is gone is replaced by a live
 * ISR member, else the partition goes offline keeping its ISR, and comes back with an ISR member;
 * unclean election only when the topic allows it. Every change bumps the leader epoch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { electLeader, initialPartitionState, offlineReplicas } from '../../../src/cluster/partition-state.js';
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
