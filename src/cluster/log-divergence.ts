/**
 * Where a follower's log leaves its leader's (KIP-101, KIP-279), one OffsetForLeaderEpoch answer at
 * a time: the follower asked where its latest epoch ends on the leader, and the leader answered an
 * epoch and its end (storage/leader-epoch-cache.ts, endOffsetFor). Pure: the replica fetcher
 * (replica-fetcher.ts) asks, truncates to `targetOffset` and, unless `agreed`, asks again with the
 * latest epoch left in its log.
 *
 *   - the leader answers an epoch the follower has too: both logs hold that epoch up to where the
 *     shorter one ends it, and differ after; cut there (min of the two ends). Done.
 *   - the leader answers an epoch the follower lacks (its own epochs there are smaller): what the
 *     follower holds past the end of its largest epoch below the answer came from epochs the leader
 *     never had; cut there, and ask again with that smaller epoch. Not done.
 *   - the leader knows no epoch that old (undefined): keep what lies below the high watermark the
 *     follower last learned (every in-sync replica had it), or everything if it learned none.
 */
import { undefinedEpoch, type EpochEnd } from '../storage/leader-epoch-cache.js';

/** What the follower's log tells about itself. */
export interface FollowerLog {
  readonly logEndOffset: number;
  /** Where `epoch` ends in this log (LeaderEpochCache.endOffsetFor). */
  endOffsetForEpoch(epoch: number): EpochEnd;
}

export interface TruncationStep {
  /** Cut the log to end here (nothing to cut when it is at or past the log end). */
  readonly targetOffset: number;
  /** Both logs agree up to targetOffset: fetching may start; false: ask again with the new latest epoch. */
  readonly agreed: boolean;
}

export function truncationStep(log: FollowerLog, leaderAnswer: EpochEnd, knownHighWatermark: number | undefined): TruncationStep {
  const logEndOffset = log.logEndOffset;
  if (leaderAnswer.epoch === undefinedEpoch || leaderAnswer.endOffset < 0) {
    return { targetOffset: Math.min(knownHighWatermark ?? logEndOffset, logEndOffset), agreed: true };
  }
  const own = log.endOffsetForEpoch(leaderAnswer.epoch);
  if (own.epoch === leaderAnswer.epoch) return { targetOffset: Math.min(leaderAnswer.endOffset, own.endOffset, logEndOffset), agreed: true };
  if (own.epoch === undefinedEpoch) return { targetOffset: logEndOffset, agreed: true };
  // Nothing left to cut (cannot happen with epochs that grow along the log): asking again would loop.
  if (own.endOffset >= logEndOffset) return { targetOffset: logEndOffset, agreed: true };
  return { targetOffset: own.endOffset, agreed: false };
}
