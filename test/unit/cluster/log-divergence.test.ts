/**
 * Where a follower's log leaves its leader's (src/cluster/log-divergence.ts), driven round by round
 * as the replica fetcher does it: the follower asks for its latest epoch, the leader answers from
 * its own epochs (LeaderEpochCache.endOffsetFor, as OffsetForLeaderEpoch does), the follower cuts
 * and asks again until both agree. Each case's oracle is the offset where the two logs (drawn as
 * one epoch per offset) first differ.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncationStep } from '../../../src/cluster/log-divergence.js';
import { LeaderEpochCache } from '../../../src/storage/leader-epoch-cache.js';

/** A log drawn as the epoch of each offset: its epoch cache and log end. */
class DrawnLog {
  readonly epochs = new LeaderEpochCache('/nowhere');
  constructor(public offsets: number[]) {
    offsets.forEach((epoch, offset) => this.epochs.assign(epoch, offset));
  }
  get logEndOffset(): number {
    return this.offsets.length;
  }
  endOffsetForEpoch(epoch: number) {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }
  truncateTo(offset: number): void {
    this.offsets = this.offsets.slice(0, offset);
    this.epochs.truncateFromEnd(offset);
  }
}

/** Runs rounds until the follower agrees; returns its final log end and the rounds taken. */
function converge(follower: DrawnLog, leader: DrawnLog, leaderEpoch: number, knownHighWatermark?: number): { logEndOffset: number; rounds: number } {
  for (let rounds = 1; rounds <= 10; rounds++) {
    const asked = follower.epochs.latestEpoch;
    if (asked < 0) return { logEndOffset: follower.logEndOffset, rounds: rounds - 1 };
    const answer = leader.epochs.endOffsetFor(asked, leader.logEndOffset, leaderEpoch);
    const step = truncationStep(follower, answer, knownHighWatermark);
    if (step.targetOffset < follower.logEndOffset) follower.truncateTo(step.targetOffset);
    if (step.agreed) return { logEndOffset: follower.logEndOffset, rounds };
  }
  throw new Error('no agreement after 10 rounds');
}

function firstDifference(left: readonly number[], right: readonly number[]): number {
  let offset = 0;
  while (offset < left.length && offset < right.length && left[offset] === right[offset]) offset++;
  return offset;
}

test('an old leader\'s unreplicated tail in its own epoch is cut where the new leader\'s epoch begins', () => {
  const follower = new DrawnLog([0, 0, 0, 0, 0, 0, 0, 0]); // led epoch 0 up to 8 (5-7 never replicated)
  const leader = new DrawnLog([0, 0, 0, 0, 0, 1, 1]); // took over at 5 in epoch 1
  assert.deepEqual(converge(follower, leader, 1), { logEndOffset: 5, rounds: 1 });
  assert.equal(follower.logEndOffset, firstDifference(follower.offsets, leader.offsets));
});

test('a follower behind the leader in the same epoch keeps everything', () => {
  const follower = new DrawnLog([0, 0, 2, 2]);
  const leader = new DrawnLog([0, 0, 2, 2, 2, 2, 4]);
  assert.deepEqual(converge(follower, leader, 4), { logEndOffset: 4, rounds: 1 });
});

test('an epoch the leader never had: cut where the follower leaves its older epoch, then agree on that one', () => {
  // The follower led epoch 2 briefly (offsets 5-8); the leader's line went 0 → 1 → 3 and has epoch 0 only up to 4.
  const follower = new DrawnLog([0, 0, 0, 0, 0, 2, 2, 2, 2]);
  const leader = new DrawnLog([0, 0, 0, 0, 1, 1, 1, 3, 3, 3, 3, 3]);
  const result = converge(follower, leader, 3);
  assert.deepEqual(result, { logEndOffset: 4, rounds: 2 });
  assert.equal(follower.logEndOffset, firstDifference([0, 0, 0, 0, 0, 2, 2, 2, 2], leader.offsets));
  assert.deepEqual(follower.epochs.all, [{ epoch: 0, startOffset: 0 }]);
});

test('several epochs the leader lacks are peeled off one round each', () => {
  const follower = new DrawnLog([1, 1, 1, 4, 4, 6, 6, 6]);
  const leader = new DrawnLog([1, 1, 1, 1, 1, 5, 5, 7]);
  const result = converge(follower, leader, 7);
  assert.equal(result.logEndOffset, 3);
  assert.equal(result.logEndOffset, firstDifference([1, 1, 1, 4, 4, 6, 6, 6], leader.offsets));
  assert.ok(result.rounds >= 2);
});

test('a leader that knows no epoch that old: the follower keeps what lies below the high watermark it learned', () => {
  const step = truncationStep(new DrawnLog([0, 0, 0, 0]), { epoch: -1, endOffset: -1 }, 2);
  assert.deepEqual(step, { targetOffset: 2, agreed: true });
  assert.deepEqual(truncationStep(new DrawnLog([0, 0, 0, 0]), { epoch: -1, endOffset: -1 }, undefined), { targetOffset: 4, agreed: true }, 'none learned: nothing cut');
});

test('the leader\'s current epoch without a batch yet counts as starting at its log end', () => {
  // The new leader (epoch 3) has appended nothing yet; the old leader wrote 4-5 in epoch 2 that it never got.
  const follower = new DrawnLog([0, 0, 2, 2, 2, 2]);
  const leader = new DrawnLog([0, 0, 2, 2]);
  assert.deepEqual(converge(follower, leader, 3), { logEndOffset: 4, rounds: 1 });
});
