/**
 * What the coordinator writes to the group log (group-log.ts, log-records.ts), and what it reads
 * back on start. It remembers the metadata record last appended per group, since a cleanup's
 * snapshot must repeat it, and starts that cleanup when the log has grown past its threshold.
 *
 *   GroupRegistry ──► storeGroup / storeConsumerGroup / groupTombstones ──┐
 *   OffsetsService ─► append(offset records) ─────────────────────────────┴─► GroupLog
 *                                                                             │
 *   replay() ◄── groups as the log last described them ◄──────────────────────┘
 *
 * It knows nothing of protocols: which groups exist is the registry's (group-registry.ts).
 */
import { join } from 'node:path';
import type { GroupSettings } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import type { LogOptions } from '../storage/partition-log.js';
import { CommittedOffsets } from './committed-offsets.js';
import type { Group } from './group.js';
import { GroupLog } from './group-log.js';
import type { AppendOutcome, GroupLogStorage } from './group-log.js';
import type { ConsumerGroupValue, GroupLogRecord, GroupValue } from './log-records.js';
import type { Scheduler } from './scheduler.js';

export interface GroupPersistenceOptions {
  /** Folder of a single broker's group log, or the log to use (a partition of the replicated offsets topic). */
  readonly log: { readonly directory: string } | { readonly storage: GroupLogStorage };
  readonly settings: GroupSettings;
  /** Flush policy and interval of the broker; segment size and retention are the group log's own. */
  readonly flush: LogOptions['flush'];
  readonly flushIntervalMs: number;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
}

/** A group as the log last described it: its metadata record (of either protocol) and its offsets. */
export interface ReplayedGroup {
  readonly groupId: string;
  readonly value: GroupValue | null;
  readonly consumerValue: ConsumerGroupValue | null;
  readonly offsets: CommittedOffsets;
}

/** The group log's folder: not of the form `<topic>-<n>`, so never taken for a topic partition's. */
export function groupLogDirectory(dataDir: string): string {
  return join(dataDir, '__internal', 'group-offsets');
}

export class GroupPersistence {
  /** The group metadata record last appended per group (what a snapshot must repeat). */
  private readonly storedValues = new Map<string, GroupValue>();
  /** The consumer group record last appended per KIP-848 group. */
  private readonly storedConsumerValues = new Map<string, ConsumerGroupValue>();
  /** The groups whose offsets a snapshot repeats; set by the coordinator once the registry exists. */
  private liveGroups: () => Iterable<Group> = () => [];
  private closed = false;

  private constructor(
    private readonly log: GroupLog,
    private readonly logger: Logger,
  ) {}

  static async open(options: GroupPersistenceOptions): Promise<GroupPersistence> {
    const clock = { nowMs: () => options.scheduler.nowMs() };
    if ('storage' in options.log) return new GroupPersistence(GroupLog.on(options.log.storage, options.settings.offsetsLogCleanupBytes, clock, options.logger), options.logger);
    const logOptions: LogOptions = {
      segmentBytes: options.settings.offsetsLogSegmentBytes,
      segmentMs: 7 * 24 * 60 * 60 * 1000,
      retentionMs: -1,
      retentionBytes: -1,
      indexIntervalBytes: 4096,
      flush: options.flush,
      flushIntervalMs: options.flushIntervalMs,
    };
    const log = await GroupLog.open(options.log.directory, logOptions, options.settings.offsetsLogCleanupBytes, clock, options.logger);
    return new GroupPersistence(log, options.logger);
  }

  /** Where cleanups find the live groups (the registry's). */
  snapshotGroupsFrom(liveGroups: () => Iterable<Group>): void {
    this.liveGroups = liveGroups;
  }

  /**
   * Replays the group log: every group with metadata or offsets left, in the order first seen.
   * Their metadata records are remembered as stored.
   */
  async replay(): Promise<{ groups: ReplayedGroup[]; records: number }> {
    // A group's metadata is its last group (classic) or consumer group record; a group tombstone
    // deletes everything of the group, a consumer group tombstone only that record.
    const replayed = new Map<string, { value: GroupValue | null; consumerValue: ConsumerGroupValue | null; offsets: CommittedOffsets }>();
    const entry = (groupId: string) => {
      let found = replayed.get(groupId);
      if (found === undefined) {
        found = { value: null, consumerValue: null, offsets: new CommittedOffsets() };
        replayed.set(groupId, found);
      }
      return found;
    };
    const records = await this.log.replay((record, logOffset) => {
      if (record.kind === 'offset') {
        entry(record.groupId).offsets.replayed(record.topic, record.partition, record.value, logOffset);
      } else if (record.kind === 'consumerGroup') {
        const found = entry(record.groupId);
        found.consumerValue = record.value;
        if (record.value !== null) found.value = null;
      } else if (record.value === null) {
        replayed.delete(record.groupId);
      } else {
        const found = entry(record.groupId);
        found.value = record.value;
        found.consumerValue = null;
      }
    });
    const groups: ReplayedGroup[] = [];
    for (const [groupId, { value, consumerValue, offsets }] of replayed) {
      if (consumerValue !== null) this.storedConsumerValues.set(groupId, consumerValue);
      else if (value === null && offsets.isEmpty) continue;
      else if (value !== null) this.storedValues.set(groupId, value);
      groups.push({ groupId, value, consumerValue, offsets });
    }
    return { groups, records };
  }

  /** Appends one batch; null (logged) when the log cannot take writes. Starts a cleanup when one is due. */
  append(records: readonly GroupLogRecord[]): AppendOutcome | null {
    if (records.length === 0) return { logOffset: this.log.logEndOffset, durable: Promise.resolve() };
    let outcome;
    try {
      outcome = this.log.append(records);
    } catch (error) {
      this.logger.error('the group log refused a write', { error: String(error) });
      return null;
    }
    // Callers may not wait (group metadata of a group that became empty): never leave a rejection unhandled.
    outcome.durable.catch(() => undefined);
    // Callers record what they appended (offsets.appended, stored values) right after this returns;
    // the snapshot must include it, so the cleanup starts once the current synchronous step is over.
    if (this.log.cleanupDue) queueMicrotask(() => this.cleanUpLog());
    return outcome;
  }

  /** Appends a classic group's metadata record; resolves when durable, rejects if the log refused it. */
  storeGroup(groupId: string, value: GroupValue): Promise<void> {
    const outcome = this.append([{ kind: 'group', groupId, value }]);
    if (outcome === null) return Promise.reject(new Error('the group log refused the write'));
    this.storedValues.set(groupId, value);
    return outcome.durable;
  }

  /** Appends a KIP-848 group's metadata record; nobody waits for it, so a failure is logged here. */
  storeConsumerGroup(groupId: string, value: ConsumerGroupValue): void {
    const outcome = this.append([{ kind: 'consumerGroup', groupId, value }]);
    if (outcome === null) return;
    this.storedConsumerValues.set(groupId, value);
    this.storedValues.delete(groupId);
    outcome.durable.catch((error: unknown) => this.logger.error('storing consumer group metadata failed', { group: groupId, error: String(error) }));
  }

  /** Whether a metadata record of either protocol is stored for the group. */
  hasMetadata(groupId: string): boolean {
    return this.storedValues.has(groupId) || this.storedConsumerValues.has(groupId);
  }

  /** The group became a consumer group: its classic record no longer describes it. */
  forgetClassicMetadata(groupId: string): void {
    this.storedValues.delete(groupId);
  }

  /** The group became a classic group: a tombstone for its consumer group record, if it had one. */
  dropConsumerMetadata(groupId: string): void {
    if (this.storedConsumerValues.delete(groupId)) this.append([{ kind: 'consumerGroup', groupId, value: null }]);
  }

  /**
   * Tombstones for a whole group: each offset the log holds for it, its consumer group record if
   * one is stored, its group record. Once they are appended, `forget` the group.
   */
  groupTombstones(group: Group): GroupLogRecord[] {
    const records: GroupLogRecord[] = group.offsets.latest().map(({ topic, partition }) => ({ kind: 'offset', groupId: group.groupId, topic, partition, value: null }));
    if (this.storedConsumerValues.has(group.groupId)) records.push({ kind: 'consumerGroup', groupId: group.groupId, value: null });
    records.push({ kind: 'group', groupId: group.groupId, value: null });
    return records;
  }

  /** The group's tombstones were appended: nothing of it is stored any more. */
  forget(groupId: string): void {
    this.storedValues.delete(groupId);
    this.storedConsumerValues.delete(groupId);
  }

  /** Every live record, from what has been appended (not only what is durable): see group-log.ts. */
  private liveRecords(): GroupLogRecord[] {
    const records: GroupLogRecord[] = [];
    for (const group of this.liveGroups()) {
      const value = this.storedValues.get(group.groupId);
      if (value !== undefined) records.push({ kind: 'group', groupId: group.groupId, value });
      const consumerValue = this.storedConsumerValues.get(group.groupId);
      if (consumerValue !== undefined) records.push({ kind: 'consumerGroup', groupId: group.groupId, value: consumerValue });
      for (const { topic, partition, committed } of group.offsets.latest()) records.push({ kind: 'offset', groupId: group.groupId, topic, partition, value: committed });
    }
    return records;
  }

  private cleanUpLog(): void {
    if (this.closed || !this.log.cleanupDue) return;
    this.log.cleanUp(this.liveRecords()).catch((error: unknown) => this.logger.error('group log cleanup failed', { error: String(error) }));
  }

  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  /** The group log's size and offsets (tests). */
  get status(): { sizeBytes: number; logStartOffset: number; logEndOffset: number } {
    return { sizeBytes: this.log.sizeBytes, logStartOffset: this.log.logStartOffset, logEndOffset: this.log.logEndOffset };
  }

  /** No cleanup starts any more; flushes and closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    await this.log.close();
  }
}
