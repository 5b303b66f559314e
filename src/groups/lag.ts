/**
 * Consumer lag of a group, per partition and in total, in a form the CLI can print:
 *
 *   TOPIC   PARTITION  COMMITTED  LOG-END  LAG  MEMBER
 *   orders  0          120        130      10   consumer-1-6f1c…
 *   orders  1          -          42       -    consumer-2-9a0e…   (assigned, nothing committed yet)
 *
 * The log end offset is the partition's high watermark (what consumers can read). Lag is
 * logEnd − committed, never below 0; unknown (null) when nothing is committed or the partition no
 * longer exists. The partitions shown are those with a committed offset and those assigned to a
 * member (for groups whose members' assignments the broker can read).
 */
import { isOffset, type Offset } from '../storage/offset.js';

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Null when the group has committed nothing for this partition (or a negative "no position"). */
  readonly committedOffset: Offset | null;
  /** High watermark; null when the partition does not exist (any more). */
  readonly logEndOffset: number | null;
  readonly lag: number | null;
  /** The member the partition is assigned to, when known. */
  readonly memberId: string | null;
  readonly clientId: string | null;
}

export interface GroupLag {
  readonly groupId: string;
  readonly state: string;
  readonly partitions: readonly PartitionLag[];
  /** Sum of the known lags. */
  readonly totalLag: number;
  /** Partitions whose lag is unknown (no commit, or partition gone). */
  readonly partitionsWithUnknownLag: number;
}

export interface LagInput {
  readonly groupId: string;
  readonly state: string;
  readonly committed: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly offset: number }>;
  readonly assigned: ReadonlyArray<{ readonly topic: string; readonly partition: number; readonly memberId: string; readonly clientId: string }>;
  /** High watermark of a partition; null when it does not exist. */
  logEndOffset(topic: string, partition: number): number | null;
}

/** Pure: also usable by a client that gathered the same facts over the wire (OffsetFetch, ListOffsets, DescribeGroups). */
export function computeGroupLag(input: LagInput): GroupLag {
  const rows = new Map<string, { topic: string; partition: number; committedOffset: Offset | null; memberId: string | null; clientId: string | null }>();
  const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  for (const { topic, partition, offset } of input.committed) {
    rows.set(keyOf(topic, partition), { topic, partition, committedOffset: isOffset(offset) ? offset : null, memberId: null, clientId: null });
  }
  for (const { topic, partition, memberId, clientId } of input.assigned) {
    const row = rows.get(keyOf(topic, partition)) ?? { topic, partition, committedOffset: null, memberId: null, clientId: null };
    row.memberId = memberId;
    row.clientId = clientId;
    rows.set(keyOf(topic, partition), row);
  }
  const partitions: PartitionLag[] = [];
  let totalLag = 0;
  let partitionsWithUnknownLag = 0;
  for (const row of [...rows.values()].sort((left, right) => (left.topic === right.topic ? left.partition - right.partition : left.topic < right.topic ? -1 : 1))) {
    const logEndOffset = input.logEndOffset(row.topic, row.partition);
    const lag = logEndOffset === null || row.committedOffset === null ? null : Math.max(0, logEndOffset - row.committedOffset);
    if (lag === null) partitionsWithUnknownLag++;
    else totalLag += lag;
    partitions.push({ ...row, logEndOffset, lag });
  }
  return { groupId: input.groupId, state: input.state, partitions, totalLag, partitionsWithUnknownLag };
}
