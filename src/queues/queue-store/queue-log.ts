/**
 * The log a durable queue keeps its messages and state batches in (queue-store.ts), as the store
 * uses it. On a single broker it is a PartitionLog in the queue's own folder, which the store
 * opens, owns and closes. In a cluster it will be the one partition of the queue's replicated
 * internal topic, on that partition's leader (the way group-partitions.ts hands the group
 * coordinator its offsets partition): the store is opened over it when this broker starts to lead
 * and closed when it stops, while the partition itself stays the broker's.
 *
 * PartitionLog has all of it as it is.
 */
import type { AppendResult, ReadResult } from '../../storage/partition-log.js';
import type { Offset } from '../../storage/offset.js';

/** What SegmentReclaimer needs: where the log starts and ends, its size, and dropping whole segments. */
export interface ReclaimableLog {
  readonly logStartOffset: Offset;
  readonly logEndOffset: Offset;
  /** Below it the log may be dropped from: what is durable here, and in a cluster what every in-sync replica holds. */
  readonly highWatermark: Offset;
  readonly segmentCount: number;
  readonly sizeBytes: number;
  /** Drops the whole segments below `offset` (never past the high watermark); resolves to the new log start. */
  deleteRecordsBefore(offset: Offset): Promise<Offset>;
}

export interface QueueLog extends ReclaimableLog {
  /**
   * False once writes to it are refused for good (in a cluster, when this broker's term of
   * leadership ended); absent or true otherwise.
   */
  readonly writable?: boolean;
  /** Appends one batch at the log end (offsets in call order); `durable` resolves once it counts as kept. */
  append(batch: Buffer): AppendResult;
  /** Whole batches from the one holding `offset`, up to `maxBytes` (at least one batch), none at or past `maxOffset`. */
  read(offset: Offset, maxBytes: number, maxOffset: Offset): Promise<ReadResult>;
  /** Called when a failed write cut the log back to `endOffset` (storage/flush.ts): what was above it is gone. The function returned stops the calls. */
  onTruncated(listener: (endOffset: Offset) => void): () => void;
  /** Makes everything appended durable. */
  flush(): Promise<void>;
  /** Checks the log's own invariants (tests). */
  invariants(): void;
}
