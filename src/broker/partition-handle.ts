/**
 * The narrow handle through which the broker uses one open partition's storage (DESIGN.md,
 * decision 12): append a batch, read whole batches, the offsets (log start, high watermark, log
 * end), the storage-level steps of a timestamp lookup, DeleteRecords, retention and the lifecycle.
 * It owns the partition's PartitionLog and its idempotent-producer state (idempotence/), which
 * follows the log (replayed from it, told of truncations) and sees it only through the narrow
 * ProducerStateLog it declares; nothing else in the broker holds either. It also owns the
 * partition's leader epochs (storage/leader-epoch-cache.ts), kept in step with the log: each
 * appended batch's partitionLeaderEpoch, truncations at either end.
 *
 * Storage knows nothing of record contents: what needs them (a timestamp lookup's exact offset,
 * offset-for-timestamp.ts) is done by the broker on the bytes the handle reads.
 */
import type { Logger } from '../logging/logger.js';
import type { AppendResult, BatchHeader, Clock, LogEnvironment, LogOptions, MaxTimestampBatch, ReadResult } from '../storage/partition-log.js';
import { PartitionLog } from '../storage/partition-log.js';
import { LeaderEpochCache, readLeaderEpochFile, type EpochEnd, type EpochEntry } from '../storage/leader-epoch-cache.js';
import { readPartitionLeaderEpoch } from '../protocol/kafka/batch-header.js';
import type { ReadAllocator } from '../storage/read-buffers.js';
import { PartitionProducers } from './idempotence/partition-producers.js';
import type { ProducerStateLimits } from './idempotence/producer-state.js';
import type { TimestampSource } from './offset-for-timestamp.js';
import { asOffset, type Offset } from './offset.js';
import type { CompactableLog } from './log-cleaner/clean-partition.js';

/** replicatedEndOffset when nothing limits reads but the local log. */
const noReplicationLimit = asOffset(Number.MAX_SAFE_INTEGER);

/** What opening or creating a partition's storage needs besides its folder. */
export interface PartitionStorageSettings {
  readonly logOptions: LogOptions;
  readonly logEnvironment: LogEnvironment;
  readonly producerLimits: ProducerStateLimits;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RetentionOutcome {
  readonly deletedBytes: number;
  /** Idempotent producers forgotten because none of their batches is left. */
  readonly producersForgotten: number;
}

export class PartitionHandle implements TimestampSource {
  private constructor(
    private readonly log: PartitionLog,
    /** Idempotent producers' sequence state (idempotence/partition-producers.ts). */
    readonly producers: PartitionProducers,
    private readonly epochs: LeaderEpochCache,
    private readonly logger: Logger,
  ) {
    // A failed write cut away (or a truncation): epochs starting in the cut part go.
    log.onTruncated((endOffset) => {
      if (epochs.truncateFromEnd(endOffset)) void this.persistEpochs();
    });
  }

  /** Opens (recovers) an existing partition folder and restores its producer state and leader epochs. */
  static async open(directory: string, settings: PartitionStorageSettings): Promise<PartitionHandle> {
    const log = await PartitionLog.open(directory, settings.logOptions, settings.clock, settings.logEnvironment);
    try {
      const epochs = await loadLeaderEpochs(log, settings);
      const producers = await PartitionProducers.open(log, settings.producerLimits, { clock: settings.clock, logger: settings.logger });
      return new PartitionHandle(log, producers, epochs, settings.logger);
    } catch (error) {
      await log.close().catch(() => {});
      throw error;
    }
  }

  /** Creates a new, empty partition in a folder that must not exist yet. */
  static async create(directory: string, settings: PartitionStorageSettings): Promise<PartitionHandle> {
    const log = await PartitionLog.create(directory, settings.logOptions, settings.clock, settings.logEnvironment);
    const epochs = new LeaderEpochCache(directory, [], settings.logEnvironment.syncFile);
    return new PartitionHandle(log, PartitionProducers.forNewLog(log, settings.producerLimits, { clock: settings.clock, logger: settings.logger }), epochs, settings.logger);
  }

  get logStartOffset(): Offset {
    return this.log.logStartOffset;
  }

  /**
   * Replication (cluster/leader-replicas.ts): on a leader with followers in its ISR, the smallest
   * log end among them; offsets at or past it are not on every in-sync replica yet, so consumers
   * are not served them. No limit (the largest offset) for a single broker or a single replica.
   */
  replicatedEndOffset: Offset = noReplicationLimit;

  /** Offsets below it may be served to consumers: durable here (PartitionLog.highWatermark) and, in a cluster, on every in-sync replica. */
  get highWatermark(): Offset {
    const local = this.log.highWatermark;
    return local < this.replicatedEndOffset ? local : this.replicatedEndOffset;
  }

  /** Offsets below it are durable here: what followers may fetch (replication). */
  get localHighWatermark(): Offset {
    return this.log.highWatermark;
  }

  /** The next offset to assign. */
  get logEndOffset(): Offset {
    return this.log.logEndOffset;
  }

  /** Bytes of its segment files (indexes not counted), for DescribeLogDirs. */
  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  /** Segment files of the log (a queue's log frees whole segments: cluster/queue-partitions.ts). */
  get segmentCount(): number {
    return this.log.segmentCount;
  }

  /** Called when a failed write cut the log back (storage/flush.ts), with the new log end; the function returned stops it. */
  onTruncated(listener: (endOffset: Offset) => void): () => void {
    return this.log.onTruncated(listener);
  }

  /** Makes everything appended durable here. */
  flush(): Promise<void> {
    return this.log.flush();
  }

  /** The log's own invariants (tests). */
  invariants(): void {
    this.log.invariants();
  }

  /** Damaged ranges kept in the log and not served. */
  get damagedRangeCount(): number {
    return this.log.damagedRangeCount;
  }

  /** Appends one whole, checked batch; offsets are assigned in call order (PartitionLog.append). */
  append(batch: Buffer): AppendResult {
    return this.withEpochOf(batch, this.log.append(batch));
  }

  /**
   * A batch of a leader epoch newer than the log's latest starts that epoch: the checkpoint is
   * rewritten, and the batch counts as durable only once it is, so no acknowledged (or, on a
   * follower, fetched-past) batch has an epoch the file does not know.
   */
  private withEpochOf(batch: Buffer, appended: AppendResult): AppendResult {
    if (!this.epochs.assign(readPartitionLeaderEpoch(batch, 0), appended.baseOffset)) return appended;
    const durable = Promise.all([appended.durable, this.epochs.persist()]).then(() => undefined);
    durable.catch(() => {}); // a caller ignoring `durable` (acks=0) must not crash the process
    return { ...appended, durable };
  }

  private persistEpochs(): Promise<void> {
    return persistEpochsOrWarn(this.epochs, this.logger, this.log.directory);
  }

  /** The leader epochs the log holds batches of, oldest first, each with its first offset. */
  get leaderEpochs(): readonly EpochEntry[] {
    return this.epochs.all;
  }

  /** The largest leader epoch of a stored batch; -1 when the log holds none. */
  get latestLeaderEpoch(): number {
    return this.epochs.latestEpoch;
  }

  /**
   * OffsetForLeaderEpoch: where `requestedEpoch` ends in this log (LeaderEpochCache.endOffsetFor);
   * `leaderEpoch` is the epoch this broker leads in (it starts at the log end if no batch has it yet).
   */
  endOffsetForEpoch(requestedEpoch: number, leaderEpoch: number = -1): EpochEnd {
    return this.epochs.endOffsetFor(requestedEpoch, this.log.logEndOffset, leaderEpoch);
  }

  /**
   * Replication: cuts the log back to end at or below `endOffset` (PartitionLog.truncateTo); the
   * producer state and the leader epochs forget what was cut. Returns the new log end.
   */
  async truncateTo(endOffset: Offset): Promise<Offset> {
    const logEndOffset = await this.log.truncateTo(endOffset);
    await this.epochs.persist();
    return logEndOffset;
  }

  /**
   * Replication, when the leader's log starts past this whole log: an empty log starting at
   * `offset` (PartitionLog.restartAt), with no producer state and no leader epochs.
   */
  async restartAt(offset: Offset): Promise<void> {
    await this.log.restartAt(offset);
    this.producers.logStartAdvanced();
    this.epochs.clear();
    await this.epochs.persist();
  }

  /** Closed (deleted, or the broker is stopping): reads refuse with LogClosedError. */
  get isClosed(): boolean {
    return this.log.isClosed;
  }

  /**
   * Whole batches from the one holding `offset`, within maxBytes except the first (KIP-74); bytes
   * from the files in buffers from `allocate` (storage/read-buffers.ts).
   */
  read(offset: Offset, maxBytes: number, allocate?: ReadAllocator, maxOffset: Offset = this.highWatermark): Promise<ReadResult> {
    return this.log.read(offset, maxBytes, maxOffset, allocate);
  }

  /** A follower's append of a batch fetched from its leader, with the leader's offsets (PartitionLog.appendAsFollower). */
  appendAsFollower(batch: Buffer): AppendResult {
    const appended = this.withEpochOf(batch, this.log.appendAsFollower(batch));
    this.producers.recordAppend(batch, appended);
    return appended;
  }

  /** Headers of the batches that may hold a record stamped at or after timestampMs (for offset-for-timestamp.ts). */
  batchesAtOrAfterTimestamp(timestampMs: number): AsyncIterable<BatchHeader> {
    return this.log.batchesAtOrAfterTimestamp(timestampMs);
  }

  /** The largest timestamp kept and the header of the batch holding it; null when no batch has one. */
  maxTimestampBatch(): Promise<MaxTimestampBatch | null> {
    return this.log.maxTimestampBatch();
  }

  /** The bytes of the one batch a header describes, CRC-checked; null when gone or damaged. */
  readBatch(header: BatchHeader): Promise<Buffer | null> {
    return this.log.readBatch(header);
  }

  /** DeleteRecords: moves the log start up to `offset` (≤ high watermark); returns the new log start. */
  async deleteRecordsBefore(offset: Offset): Promise<Offset> {
    const logStartOffset = await this.log.deleteRecordsBefore(offset);
    this.producers.logStartAdvanced();
    await this.logStartMoved();
    return logStartOffset;
  }

  /** Retention (PartitionLog.enforceRetention), never past the high watermark: in a cluster, what every in-sync replica holds. */
  async enforceRetention(): Promise<RetentionOutcome> {
    const deletedBytes = await this.log.enforceRetention(this.highWatermark);
    if (deletedBytes > 0) await this.logStartMoved();
    return { deletedBytes, producersForgotten: deletedBytes > 0 ? this.producers.logStartAdvanced() : 0 };
  }

  /** The leader epochs wholly below the new log start go; the one holding it starts there. */
  private async logStartMoved(): Promise<void> {
    if (this.epochs.truncateFromStart(this.log.logStartOffset)) await this.persistEpochs();
  }

  /** The log as the log cleaner uses it (log-cleaner/clean-partition.ts): sealed segments, their cleaned versions, the swap. */
  get compactableLog(): CompactableLog {
    return this.log;
  }

  /** The last offset of each remembered idempotent producer's latest batch: the cleaner keeps those batches. */
  producerLastOffsets(): Set<number> {
    const offsets = new Set<number>();
    for (const entry of this.producers.table.entries()) {
      const latest = entry.batches[entry.batches.length - 1];
      if (latest !== undefined) offsets.add(latest.lastOffset);
    }
    return offsets;
  }

  updateOptions(options: LogOptions): void {
    this.log.updateOptions(options);
  }

  /** Flushes and closes the log, then writes the final producer state snapshot. */
  async close(): Promise<void> {
    await this.log.close();
    await this.producers.closeAfterLog();
  }

  /** Closes and removes the partition's folder. */
  async delete(): Promise<void> {
    await this.producers.discard();
    await this.log.delete();
  }
}

/**
 * The partition's leader epochs as its checkpoint holds them, trimmed to the recovered log (a crash
 * may have cut the log's tail, or moved its start, after the file was written); rebuilt from the
 * log's batch headers when the file is missing or unreadable, and then written.
 */
async function loadLeaderEpochs(log: PartitionLog, settings: PartitionStorageSettings): Promise<LeaderEpochCache> {
  const { logger } = settings;
  const directory = log.directory;
  const stored = await readLeaderEpochFile(directory);
  if (typeof stored === 'string') logger.warn('ignoring the leader epoch checkpoint; rebuilding it from the log', { directory, reason: stored });
  const epochs = new LeaderEpochCache(directory, Array.isArray(stored) ? stored : [], settings.logEnvironment.syncFile);
  let changed: boolean;
  if (Array.isArray(stored)) {
    changed = epochs.truncateFromEnd(log.logEndOffset);
    changed = epochs.truncateFromStart(log.logStartOffset) || changed;
    // Epochs only grow along the log and every write of the file holds every earlier entry, so the
    // file misses an epoch only if the last batch has one newer than its latest (a crash between a
    // batch of a new epoch reaching the disk and the file's write): then the tail is read again.
    const lastEpoch = await log.lastBatchEpoch();
    if (lastEpoch !== null && lastEpoch > epochs.latestEpoch) {
      const from = epochs.all[epochs.all.length - 1]?.startOffset ?? log.logStartOffset;
      await readEpochs(log, asOffset(from), epochs, logger);
      logger.warn('leader epochs of the log\'s tail were missing from the checkpoint; read them from the log', { directory, latestEpoch: epochs.latestEpoch });
      changed = true;
    }
  } else {
    await readEpochs(log, log.logStartOffset, epochs, logger);
    epochs.truncateFromStart(log.logStartOffset);
    changed = epochs.all.length > 0;
  }
  if (changed) await persistEpochsOrWarn(epochs, logger, directory);
  return epochs;
}

/**
 * Writes the leader epochs now; a failure is logged, not thrown: the file is only a cache of the
 * log, rewritten at the next change and trimmed (or rebuilt) from the log at the next open.
 */
async function persistEpochsOrWarn(epochs: LeaderEpochCache, logger: Logger, directory: string): Promise<void> {
  try {
    await epochs.persist();
  } catch (error) {
    logger.warn('writing the leader epoch checkpoint failed', { directory, error: error instanceof Error ? error.message : String(error) });
  }
}

/** Adds the epochs of the log's batches from `fromOffset` on; unreadable data (damage recovery did not see) ends the walk, keeping what came before. */
async function readEpochs(log: PartitionLog, fromOffset: Offset, epochs: LeaderEpochCache, logger: Logger): Promise<void> {
  try {
    await log.forEachBatchEpoch(fromOffset, (baseOffset, epoch) => void epochs.assign(epoch, baseOffset));
  } catch (error) {
    logger.warn('reading the leader epochs of the log stopped at unreadable data', { directory: log.directory, error: error instanceof Error ? error.message : String(error) });
  }
}
