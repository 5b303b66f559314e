/**
 * The committed offsets of one group, by topic and partition.
 *
 * Each entry has two views of the same key in the group log:
 *   latest   what the log says once everything appended so far is replayed (set at append time,
 *            in log order); snapshots and expiry read it.
 *   visible  what has been made durable (set when the append's fsync completes, unless a later
 *            write to the key is already visible); OffsetFetch, lag and DescribeGroups read it.
 * Both remember the log offset of the record they come from, so a write can never be overtaken by
 * an older one, whatever order durability is reported in: committed offsets never go backwards by
 * themselves (a client may of course commit a lower offset).
 */
import type { Offset } from '../storage/offset.js';
import type { OffsetValue } from './log-records.js';

export type CommittedOffset = OffsetValue;

/** `…LogOffset`: the group log offset of the record the view comes from; null before any. */
interface OffsetEntry {
  latest: CommittedOffset | null;
  latestLogOffset: Offset | null;
  visible: CommittedOffset | null;
  visibleLogOffset: Offset | null;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly committed: CommittedOffset;
}

/** Whether a write at `logOffset` is older than the one at `current` (null: no write yet). */
function isBefore(logOffset: Offset, current: Offset | null): boolean {
  return current !== null && logOffset < current;
}

export class CommittedOffsets {
  private readonly topics = new Map<string, Map<number, OffsetEntry>>();

  /** A write (value, or null for a deletion) appended at `logOffset`; not yet durable. */
  appended(topic: string, partition: number, value: CommittedOffset | null, logOffset: Offset): void {
    const entry = this.entry(topic, partition, value !== null);
    if (entry === undefined || isBefore(logOffset, entry.latestLogOffset)) return;
    entry.latest = value;
    entry.latestLogOffset = logOffset;
    this.dropIfGone(topic, partition, entry);
  }

  /** The write appended at `logOffset` is durable: show it, unless a later write already shows. */
  madeDurable(topic: string, partition: number, value: CommittedOffset | null, logOffset: Offset): void {
    const entry = this.entry(topic, partition, value !== null);
    if (entry === undefined || isBefore(logOffset, entry.visibleLogOffset)) return;
    entry.visible = value;
    entry.visibleLogOffset = logOffset;
    this.dropIfGone(topic, partition, entry);
  }

  /**
   * The write appended at `logOffset` failed (a full disk): the log cut it away, so `latest` goes
   * back to what is durable, unless a later write already replaced it. Otherwise a later snapshot
   * of the group log would store a commit the client was told had failed.
   */
  appendFailed(topic: string, partition: number, value: CommittedOffset | null, logOffset: Offset): void {
    const entry = this.entry(topic, partition, false);
    if (entry === undefined || entry.latestLogOffset !== logOffset || entry.latest !== value) return;
    entry.latest = entry.visible;
    entry.latestLogOffset = entry.visibleLogOffset;
    this.dropIfGone(topic, partition, entry);
  }

  /** Replay: the write is in the log, hence durable. */
  replayed(topic: string, partition: number, value: CommittedOffset | null, logOffset: Offset): void {
    this.appended(topic, partition, value, logOffset);
    this.madeDurable(topic, partition, value, logOffset);
  }

  private entry(topic: string, partition: number, create: boolean): OffsetEntry | undefined {
    let partitions = this.topics.get(topic);
    if (partitions === undefined) {
      if (!create) return undefined;
      partitions = new Map();
      this.topics.set(topic, partitions);
    }
    let entry = partitions.get(partition);
    if (entry === undefined && create) {
      entry = { latest: null, latestLogOffset: null, visible: null, visibleLogOffset: null };
      partitions.set(partition, entry);
    }
    return entry;
  }

  private dropIfGone(topic: string, partition: number, entry: OffsetEntry): void {
    if (entry.latest !== null || entry.visible !== null) return;
    const partitions = this.topics.get(topic);
    partitions?.delete(partition);
    if (partitions?.size === 0) this.topics.delete(topic);
  }

  /** The durable committed offset, or undefined. */
  get(topic: string, partition: number): CommittedOffset | undefined {
    return this.topics.get(topic)?.get(partition)?.visible ?? undefined;
  }

  /** Every durable committed offset, by topic then partition. */
  visible(): TopicPartitionOffset[] {
    return this.collect((entry) => entry.visible);
  }

  /** Every offset the log holds once replayed (snapshots, expiry). */
  latest(): TopicPartitionOffset[] {
    return this.collect((entry) => entry.latest);
  }

  private collect(pick: (entry: OffsetEntry) => CommittedOffset | null): TopicPartitionOffset[] {
    const result: TopicPartitionOffset[] = [];
    for (const topic of [...this.topics.keys()].sort()) {
      const partitions = this.topics.get(topic)!;
      for (const partition of [...partitions.keys()].sort((left, right) => left - right)) {
        const committed = pick(partitions.get(partition)!);
        if (committed !== null) result.push({ topic, partition, committed });
      }
    }
    return result;
  }

  /** True when the log holds no offset for this group (nothing latest). */
  get isEmpty(): boolean {
    for (const partitions of this.topics.values()) {
      for (const entry of partitions.values()) if (entry.latest !== null) return false;
    }
    return true;
  }

  get partitionCount(): number {
    let count = 0;
    for (const partitions of this.topics.values()) count += partitions.size;
    return count;
  }
}
