import { strict as assert } from 'node:assert';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { RecentBatchCache, type TailCacheBudget } from './batch-cache.js';
import { logStartOffsetFileName, readOffsetCheckpoint, recoveryPointFileName, writeOffsetCheckpoint } from './checkpoint.js';
import { CorruptBatchError, LogClosedError, LogFailedError, OffsetOutOfRangeError, SegmentGoneError } from './errors.js';
import type { DamagedRange } from './errors.js';
import { Flusher } from './flush.js';
import type { FlushPolicy, LogMark, RollbackPlan, WriteFailure } from './flush.js';
import {
  batchTotalBytes,
  forEachBatch,
  hasValidCrc,
  noTimestamp,
  readLastOffset,
  readBaseOffset,
  readLastOffsetDelta,
  readMaxTimestamp,
  readPartitionLeaderEpoch,
  setBaseOffset,
} from '../protocol/kafka/batch-header.js';
import { damageFoundByRead, logDamage, missingTail } from './damage.js';
import { recoverLog } from './recovery.js';
import { asOffset, type Offset } from './offset.js';
import { unlimitedOpenSegmentFiles, type OpenSegmentFiles } from './open-segment-files.js';
import { allocateUnpooled, type ReadAllocator } from './read-buffers.js';
import { unlimitedSegmentIndexes, type SegmentIndexCache } from './segment-index-cache.js';
import { Segment, UnreadableHeaderError, defaultSyncFile, syncDirectory, type BatchHeader, type FoundBatch, type SyncFile } from './segment.js';
import { cleanedSuffix, readCleanerState, removeCleanerSwap, writeCleanerState, writeCleanerSwap, type CleanerState } from './cleaner-state.js';
import { CleanedSegmentWriter } from './segment-rewrite.js';
import type { Journal, JournalLog } from './journal.js';

export { OffsetOutOfRangeError, LogFailedError, LogClosedError, LogWriteError, CorruptBatchError, SegmentGoneError } from './errors.js';
export type { DamagedRange } from './errors.js';
export type { BatchHeader } from './segment.js';
export type { FlushPolicy, WriteFailure } from './flush.js';
export type { CleanerState, CleaningPass } from './cleaner-state.js';
export type { CleanedSegmentWriter } from './segment-rewrite.js';

/**
 * One partition's log: a directory of segments (segment.ts), the newest of which is active and
 * takes appends. See docs/storage-format.md for the files.
 *
 *   segments:  [ 0000…0000.log ][ 0000…4711.log ][ 0000…9000.log (active) ]
 *               ▲ logStartOffset may point inside the first segment
 *                                              highWatermark ▲    ▲ logEndOffset
 *                                       (servable: fsynced or written)  (assigned)
 *
 * Appends are synchronous (offsets assigned in call order) and queue the bytes for the flusher
 * (flush.ts), which writes each event-loop turn's appends together and fsyncs them per policy.
 * Reads serve whole batches from the recent-batch cache or from the segment files, never past
 * what has been written, by default never past the high watermark.
 */

export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export interface LogOptions {
  segmentBytes: number;
  segmentMs: number;
  /** -1 keeps forever. */
  retentionMs: number;
  /** -1 is unlimited. */
  retentionBytes: number;
  indexIntervalBytes: number;
  flush: FlushPolicy;
  flushIntervalMs: number;
}

/** What the log needs from its surroundings besides options and clock; every field has a default. */
export interface LogEnvironment {
  logger?: Logger;
  /** fsync hook (count, delay or fail syncs in tests); default FileHandle.datasync(). */
  syncFile?: SyncFile;
  /** Bytes of recently appended batches kept in memory for tail readers. */
  tailCacheBytes?: number;
  /** The budget all logs' tail caches share (batch-cache.ts); none by default. */
  tailCacheBudget?: TailCacheBudget;
  /** The cap on segment files open at once, shared by all logs (open-segment-files.ts); none by default. */
  openSegmentFiles?: OpenSegmentFiles;
  /** The budget for sealed segments' indexes in memory, shared by all logs (segment-index-cache.ts); none by default. */
  segmentIndexCache?: SegmentIndexCache;
  /** Called after each flush cycle, e.g. to wake fetches waiting for the high watermark. */
  onProgress?: () => void;
  /** Called when a write or fsync failed and the log was rolled back (after it was logged). */
  onWriteFailure?: (failure: WriteFailure) => void;
  /**
   * The broker's shared journal (journal.ts): under flush=always, cycles are made durable by it
   * instead of an fsync of this log's segments; open() replays what it holds for this log.
   */
  journal?: Journal;
}

export const defaultTailCacheBytes = 1024 * 1024;
/** What time retention compares with retention.ms: the largest timestamp, or the creation time without timestamps. */
function newestTimestampOf(segment: Segment): number {
  return segment.maxTimestamp === noTimestamp ? segment.createdMs : segment.maxTimestamp;
}

/** Index positions and relative offsets are int32. */
const maxSegmentBytes = 0x7fffffff;
const maxRelativeOffset = 0x7fffffff;

export interface AppendResult {
  baseOffset: Offset;
  lastOffset: Offset;
  /** Resolves per the flush policy (after fsync under `always`); rejects if the write fails. */
  durable: Promise<void>;
}

export interface ReadResult {
  /** Whole batches, in order, starting with the batch that contains fetchOffset; may be several buffers. */
  chunks: Buffer[];
  byteCount: number;
}

/** What maxTimestampBatch finds. */
export interface MaxTimestampBatch {
  timestamp: number;
  /** The batch holding a record with that timestamp; null when its header could not be found. */
  header: BatchHeader | null;
  /** The offset to answer when the batch's records do not tell: its last offset, or the indexed one without a header. */
  fallbackOffset: number;
}

const candidateBatchesPerPass = 8;

/** A sealed segment as the log cleaner sees it (compactionView). */
export interface SealedSegmentSummary {
  readonly baseOffset: number;
  /** One past its last offset: the next segment's base offset. */
  readonly nextOffset: number;
  readonly sizeBytes: number;
  /** Largest batch maxTimestamp (noTimestamp when none). */
  readonly maxTimestamp: number;
  /** maxTimestamp of its first batch (noTimestamp when unknown). */
  readonly firstBatchTimestamp: number;
}

/** What the log cleaner needs to decide whether and what to clean. */
export interface CompactionView {
  readonly logStartOffset: number;
  readonly cleanerState: CleanerState;
  /** Sealed segments wholly below the high watermark, oldest first; never the active one. */
  readonly sealedSegments: readonly SealedSegmentSummary[];
  readonly damaged: boolean;
}

/** Reads of cleaned segments retried after a swap took the segment being read (see read()). */
const readAttemptsAcrossSwaps = 3;

export class PartitionLog {
  readonly directory: string;
  private options: LogOptions;
  private readonly clock: Clock;
  private readonly syncFile: SyncFile;
  private readonly segments: Segment[];
  private startOffset: number;
  private readonly cache: RecentBatchCache;
  private readonly openSegmentFiles: OpenSegmentFiles;
  private readonly segmentIndexCache: SegmentIndexCache;
  private readonly flusher: Flusher;
  private closed = false;
  private readonly logger: Logger | null;
  private readonly onWriteFailure: (failure: WriteFailure) => void;
  private readonly truncationListeners = new Set<(endOffset: Offset) => void>();
  /** Retention, DeleteRecords and the swap of cleaned segments run one at a time. */
  private maintenance: Promise<unknown> = Promise.resolve();
  /** How far the log is cleaned (cleaner-state.ts); moved only by swapInCleanedSegments. */
  private cleaner: CleanerState;
  /** Counts swaps of cleaned segments begun; a read that fails across one is tried again. */
  private swapGeneration = 0;
  /** Resolves when the swap under way (if any) is done. */
  private swapping: Promise<void> = Promise.resolve();
  private readonly journal: Journal | null;
  private journalLog: JournalLog | null = null;

  private constructor(directory: string, options: LogOptions, clock: Clock, environment: LogEnvironment, segments: Segment[], logStartOffset: number, recoveryPoint: number) {
    this.directory = directory;
    this.options = options;
    this.clock = clock;
    this.syncFile = environment.syncFile ?? defaultSyncFile;
    this.logger = environment.logger ?? null;
    this.segments = segments;
    this.startOffset = logStartOffset;
    this.cleaner = readCleanerState(directory);
    this.cache = new RecentBatchCache(environment.tailCacheBytes ?? defaultTailCacheBytes, environment.tailCacheBudget ?? null);
    this.openSegmentFiles = environment.openSegmentFiles ?? unlimitedOpenSegmentFiles;
    for (const segment of segments) segment.openFiles = this.openSegmentFiles;
    this.segmentIndexCache = environment.segmentIndexCache ?? unlimitedSegmentIndexes;
    for (const segment of segments) segment.indexBudget = this.segmentIndexCache;
    this.onWriteFailure = environment.onWriteFailure ?? (() => {});
    this.journal = environment.journal ?? null;
    const onProgress = environment.onProgress ?? (() => {});
    this.flusher = new Flusher(options.flush, options.flushIntervalMs, recoveryPoint, {
      syncFile: this.syncFile,
      activeSegment: () => this.active,
      writeRecoveryPoint: (offset) => writeOffsetCheckpoint(directory, recoveryPointFileName, offset, this.syncFile),
      onProgress,
      rollBack: (mark, failure) => this.rollBack(mark, failure),
      onRollbackFailed: (error) => this.logger?.error('log failed: a failed write could not be cut away; it refuses writes until the broker restarts', { directory, error: error.message }),
      onMaintenanceProblem: (error) => this.reportMaintenanceProblem(error),
      onWriteOutProblem: (error) => this.reportWriteOutProblem(error),
      onWritesResumed: (failedCycles) => this.logger?.info('log writes succeed again', { directory, failedCycles }),
    });
  }

  /** Creates the directory if missing, runs recovery (recovery.ts) and opens the log. */
  static async open(directory: string, options: LogOptions, clock: Clock = systemClock, environment: LogEnvironment = {}): Promise<PartitionLog> {
    const syncFile = environment.syncFile ?? defaultSyncFile;
    const journal = environment.journal ?? null;
    const recovered = recoverLog({
      directory,
      indexIntervalBytes: options.indexIntervalBytes,
      nowMs: clock.nowMs(),
      logger: environment.logger ?? null,
      journaled: journal?.hasReplayFor(directory) ?? false,
    });
    const { segments, logStartOffset } = recovered;
    // Under the shared cap from the start: the syncs below open files too.
    for (const segment of segments) segment.openFiles = environment.openSegmentFiles ?? unlimitedOpenSegmentFiles;
    const active = segments[segments.length - 1]!;
    // Make what recovery validated stable, with complete indexes, before serving it.
    for (const segment of recovered.rebuilt) {
      await segment.sync(syncFile);
      if (segment === active) continue;
      segment.finishTimeIndex();
      await segment.persistIndexes(syncFile);
      segment.sealed = true;
    }
    // With the active segment's indexes on disk matching its data, the recovery point is the log end:
    // a crash later scans only what is appended after it (recovery rule 8), and a damaged range
    // kept by recovery is never taken for a torn write. After a clean shutdown recovery trusted every
    // segment and the checkpoint already names the log end, written only after that data was fsynced:
    // syncing the active segment and rewriting the checkpoint would cost fsyncs per partition at every
    // start, and two more at close, for nothing.
    const storedRecoveryPoint = readOffsetCheckpoint(directory, recoveryPointFileName);
    const cleanStart = recovered.rebuilt.length === 0 && recovered.truncatedBytes === 0 && storedRecoveryPoint === active.nextOffset;
    let recoveryPoint = active.nextOffset;
    if (!cleanStart) {
      await active.sync(syncFile); // also creates the file of a new empty segment, so a log always has one .log
      active.finishTimeIndex();
      try {
        if (!active.indexesPersisted) await active.persistIndexes(syncFile);
        await writeOffsetCheckpoint(directory, recoveryPointFileName, active.nextOffset, syncFile);
      } catch (error) {
        // A full disk must not keep a log (or the broker) from opening: its data is validated and
        // synced; what is missing only shortens the next recovery. Keep the old recovery point, so
        // the next start scans from there again; a later flush writes the new one.
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        recoveryPoint = Math.min(storedRecoveryPoint ?? active.baseOffset, active.baseOffset);
        environment.logger?.warn('log opened on a full disk: its indexes or recovery point are written later', { directory, recoveryPoint, error: (error as Error).message });
      }
    }
    if (readOffsetCheckpoint(directory, logStartOffsetFileName) !== logStartOffset && logStartOffset > 0) {
      await writeOffsetCheckpoint(directory, logStartOffsetFileName, logStartOffset, syncFile);
    }
    environment.logger?.debug('log opened', { directory, logStartOffset, logEndOffset: active.nextOffset, segments: segments.length, scannedBytes: recovered.scannedBytes, truncatedBytes: recovered.truncatedBytes });
    const log = new PartitionLog(directory, options, clock, environment, segments, logStartOffset, recoveryPoint);
    if (journal !== null) {
      try {
        await log.replayJournal(journal);
      } catch (error) {
        await log.close().catch(() => {});
        throw error;
      }
    }
    return log;
  }

  /**
   * Appends what the journal holds for this log past its end (batches acknowledged before a crash
   * whose segment writes had not reached the disk), then writes to the journal. With a journal that
   * takes writes, the batches are adopted as durable and unwritten (the journal keeps the files
   * holding them until the segments are fsynced past them), so opening needs no disk space; without
   * one (journal: false) they are appended, written and fsynced here.
   */
  private async replayJournal(journal: Journal): Promise<void> {
    let replayed = 0;
    const adopt = journal.acceptsWrites;
    for (const batch of await journal.replayFor(this.directory)) {
      const logEnd = this.active.nextOffset;
      if (readLastOffset(batch, 0) < logEnd) continue;
      const baseOffset = readBaseOffset(batch, 0);
      if (baseOffset !== logEnd) {
        this.logger?.error('journal replay stops: the journal lacks offsets between the log end and its next batch', { directory: this.directory, logEndOffset: logEnd, journalBaseOffset: baseOffset });
        break;
      }
      if (adopt) this.place(batch, readLastOffsetDelta(batch, 0), true);
      else void this.append(batch).durable.catch(() => {});
      replayed++;
    }
    if (adopt) this.flusher.adoptReplayed();
    else if (replayed > 0) await this.flusher.flush();
    if (replayed > 0) this.logger?.info('log brought up to date from the journal', { directory: this.directory, batches: replayed, logEndOffset: this.active.nextOffset });
    this.attachJournal(journal);
  }

  /**
   * Rolls the active segment when due, gives `batch` the next offsets (patching baseOffset),
   * accounts for it at the end of the active segment, caches it and hands it to the flusher: as a
   * new append (resolving once durable), or as a batch of the journal's replay (durable already,
   * left for write-behind). The flusher gets the cache's copy when it made one, so a batch waiting
   * to be written does not keep its whole Produce frame alive.
   */
  private place(batch: Buffer, lastOffsetDelta: number, replayed: false): Promise<void>;
  private place(batch: Buffer, lastOffsetDelta: number, replayed: true): void;
  private place(batch: Buffer, lastOffsetDelta: number, replayed: boolean): Promise<void> | void {
    this.maybeRoll(batch.length, lastOffsetDelta, readMaxTimestamp(batch, 0));
    const segment = this.active;
    const baseOffset = segment.nextOffset;
    setBaseOffset(batch, 0, baseOffset);
    const position = segment.recordAppend(batch);
    const owned = this.cache.add(batch, baseOffset, baseOffset + lastOffsetDelta);
    if (replayed) this.flusher.enqueueReplayed(segment, owned, position);
    else return this.flusher.enqueue(segment, owned, position);
  }

  private attachJournal(journal: Journal): void {
    if (!journal.acceptsWrites) return;
    const log = journal.register(
      {
        directory: this.directory,
        segmentSyncedEndOffset: () => this.flusher.segmentSyncedEndOffset,
        syncSegments: () => this.flush(),
      },
      this.flusher.durableEndOffset,
    );
    this.journalLog = log;
    for (const segment of this.segments) segment.syncBeforeClosing = this.syncFile;
    const writeBehindLog = { writeOut: () => this.flusher.writeOut() };
    this.flusher.journal = {
      append: (buffers, byteCount, baseOffset, endOffset) => journal.append(log, buffers, byteCount, baseOffset, endOffset),
      writeBehindBytes: journal.writeBehind.logBytes,
      unwrittenChanged: (byteCount) => journal.writeBehind.update(writeBehindLog, byteCount),
      scheduleCycle: (startCycle) => journal.scheduleCycle(startCycle),
    };
    // Batches adopted by the replay count against the budget (and its age limit writes them out).
    if (this.flusher.unwrittenByteCount > 0) this.flusher.journal.unwrittenChanged(this.flusher.unwrittenByteCount);
  }

  /**
   * A new, empty log in a folder that must not exist yet (a topic or partition created at run time):
   * no recovery and no synchronous file calls, so a large creation does not stall other clients.
   * The folder, its first `.log` and the folder's entry in its parent are fsynced before it returns.
   */
  static async create(directory: string, options: LogOptions, clock: Clock = systemClock, environment: LogEnvironment = {}): Promise<PartitionLog> {
    const syncFile = environment.syncFile ?? defaultSyncFile;
    await mkdir(directory);
    const segment = new Segment(directory, 0, clock.nowMs(), options.indexIntervalBytes);
    const log = new PartitionLog(directory, options, clock, environment, [segment], 0, 0);
    try {
      await segment.sync(syncFile); // creates the .log: a partition folder always has one
      await syncDirectory(dirname(directory), syncFile);
      const journal = environment.journal;
      if (journal?.acceptsWrites === true) {
        log.attachJournal(journal);
        // Whatever the journal holds from an earlier log of the same folder name is never replayed into this one.
        await journal.recordReset(log.journalLog!);
      }
    } catch (error) {
      await log.delete();
      throw error;
    }
    return log;
  }

  get logStartOffset(): Offset {
    return asOffset(this.startOffset);
  }

  /** Next offset to assign. */
  get logEndOffset(): Offset {
    return asOffset(this.active.nextOffset);
  }

  /** Offsets below it may be served: with flush=always only what is fsynced, else what is written. */
  get highWatermark(): Offset {
    return asOffset(this.flusher.servableEndOffset);
  }

  /** Closed: reads and appends refuse with LogClosedError. */
  get isClosed(): boolean {
    return this.closed;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Damaged ranges known so far (found by recovery or by reads), oldest first; their offsets are not
   * served. Ranges wholly below the log start offset (DeleteRecords moved past them) are left out.
   */
  get damagedRanges(): DamagedRange[] {
    return this.segments.flatMap((segment) => segment.damage).filter((range) => range.lastOffset >= this.startOffset);
  }

  get damagedRangeCount(): number {
    let count = 0;
    for (const segment of this.segments) {
      for (const range of segment.damage) if (range.lastOffset >= this.startOffset) count++;
    }
    return count;
  }

  /** fsyncs of segment data done by flush cycles so far (observability). */
  get syncCycleCount(): number {
    return this.flusher.syncCycles;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  updateOptions(options: LogOptions): void {
    this.options = options;
    this.flusher.setPolicy(options.flush, options.flushIntervalMs);
    this.active.indexIntervalBytes = options.indexIntervalBytes;
  }

  /**
   * `batch` is exactly one complete v2 batch, already validated by the caller (CRC, counts).
   * Assigns offsets [logEndOffset, logEndOffset + lastOffsetDelta], patches baseOffset in place and
   * queues the write. Synchronous so offsets are assigned in call order; the log owns the bytes after.
   */
  append(batch: Buffer): AppendResult {
    this.checkWritable();
    assert(batch.length >= 61 && batchTotalBytes(batch, 0) === batch.length, 'append takes exactly one whole batch');
    const lastOffsetDelta = readLastOffsetDelta(batch, 0);
    const baseOffset = this.active.nextOffset; // a roll begins the next segment at this offset too
    const durable = this.place(batch, lastOffsetDelta, false);
    return { baseOffset: asOffset(baseOffset), lastOffset: asOffset(baseOffset + lastOffsetDelta), durable };
  }

  /**
   * A follower's append (replication, cluster/replica-fetcher.ts): `batch` is one whole batch as the
   * leader stored it, and keeps the leader's offsets. It must start exactly at logEndOffset and its
   * CRC-32C must match (the leader's bytes crossed the network); otherwise it throws
   * ReplicaAppendError and nothing is written. Durability as for append: the same flush policy.
   */
  appendAsFollower(batch: Buffer): AppendResult {
    this.checkWritable();
    if (batch.length < 61 || batchTotalBytes(batch, 0) !== batch.length) throw new ReplicaAppendError('not exactly one whole batch');
    const baseOffset = readBaseOffset(batch, 0);
    if (baseOffset !== this.active.nextOffset) throw new ReplicaAppendError(`batch at offset ${baseOffset} does not continue the log ending at ${this.active.nextOffset}`);
    if (!hasValidCrc(batch, 0, batch.length)) throw new ReplicaAppendError(`batch at offset ${baseOffset} fails its CRC-32C check`);
    return this.append(batch);
  }

  /**
   * Replication (a follower whose log diverged from its leader's, cluster/replica-fetcher.ts): cuts
   * away every batch whose last offset is ≥ `endOffset`, durable or not, and returns the new log end
   * (below `endOffset` when a batch held it; the log start moves down with it only when the batch
   * holding the start goes). The caller appends nothing meanwhile. Crash-safe: everything is
   * flushed first; the journal is told before any file changes (its replay never brings the cut
   * batches back); later segments are deleted before the segment holding the cut is shortened, so
   * the files always hold a prefix of the old log (and recovery accepts any such prefix); then its
   * indexes and the recovery point are rewritten. The truncation listeners hear the new end.
   */
  truncateTo(endOffset: Offset): Promise<Offset> {
    return this.serialized(async (): Promise<Offset> => {
      this.checkWritable();
      if (endOffset >= this.logEndOffset) return this.logEndOffset;
      await this.flusher.flush(); // nothing queued, unwritten or unsynced remains past the cut
      this.checkWritable();
      const target = Math.max(endOffset, this.startOffset);
      const index = this.segmentIndexFor(target);
      const segment = this.segments[index]!;
      // Re-record the batches the segment keeps, as recovery does: sizes, timestamps and indexes.
      const kept: BatchHeader[] = [];
      await this.scanHeadersChecked(segment, 0, segment.baseOffset, (header) => {
        if (header.lastOffset >= target) return false;
        kept.push({ ...header });
        return true;
      });
      const last = kept[kept.length - 1];
      const newEnd = last === undefined ? segment.baseOffset : last.lastOffset + 1;
      const position = last === undefined ? 0 : last.position + last.totalBytes;
      if (this.journalLog !== null) await this.journal!.recordTruncated(this.journalLog, newEnd);
      // From here on no await until the log's state is cut: no append may have come in since the flush.
      if (this.closed || !this.flusher.isIdle) throw new Error('log truncation refused: the log changed while it was being prepared');
      const removed = this.segments.splice(index + 1);
      segment.sealed = false;
      segment.resetForScan();
      for (const header of kept) segment.recordBatch(header.position, header.baseOffset, header.lastOffset, header.maxTimestamp, header.totalBytes);
      segment.sizeBytes = position;
      segment.writtenBytes = position; // flushed: the file holds every kept byte
      this.cache.clear();
      this.flusher.truncatedTo({ segment, tail: segment.captureTail() }, removed);
      // The batch holding the log start (DeleteRecords may leave it inside one) went whole: the start follows the end.
      const startMoved = newEnd < this.startOffset;
      if (startMoved) this.startOffset = newEnd;
      for (const listener of this.truncationListeners) listener(asOffset(newEnd));
      for (const gone of removed.reverse()) await gone.deleteFiles();
      if (removed.length > 0) await syncDirectory(this.directory, this.syncFile);
      await segment.truncateFile(position, this.syncFile);
      if (startMoved) await writeOffsetCheckpoint(this.directory, logStartOffsetFileName, newEnd, this.syncFile);
      segment.finishTimeIndex();
      await segment.persistIndexes(this.syncFile);
      await this.flusher.flush(); // the recovery point follows the new end
      this.logger?.warn('log truncated to follow the leader', { directory: this.directory, logEndOffset: newEnd, removedSegments: removed.length });
      return asOffset(newEnd);
    });
  }

  /**
   * Replication (a follower whose whole log lies below its leader's log start): drops every batch
   * and starts an empty log at `offset` (> logEndOffset), with logStartOffset there. Crash-safe: the
   * `log-start-offset` checkpoint is written first, and recovery starts an empty log at a log start
   * past the files' end (recovery.ts), so a crash at any later point ends the same way.
   */
  restartAt(offset: Offset): Promise<void> {
    return this.serialized(async () => {
      this.checkWritable();
      assert(offset > this.logEndOffset, 'a log restarts past its end');
      await this.flusher.flush();
      this.checkWritable();
      await writeOffsetCheckpoint(this.directory, logStartOffsetFileName, offset, this.syncFile);
      const removed = this.segments.splice(0);
      const fresh = new Segment(this.directory, offset, this.clock.nowMs(), this.options.indexIntervalBytes);
      fresh.openFiles = this.openSegmentFiles;
      fresh.indexBudget = this.segmentIndexCache;
      fresh.syncBeforeClosing = removed[removed.length - 1]?.syncBeforeClosing ?? null;
      this.segments.push(fresh);
      this.startOffset = offset;
      this.cache.clear();
      this.flusher.truncatedTo({ segment: fresh, tail: fresh.captureTail() }, removed);
      for (const gone of removed.reverse()) await gone.deleteFiles();
      await fresh.sync(this.syncFile); // creates its .log: a partition folder always has one
      await syncDirectory(this.directory, this.syncFile);
      await this.flusher.flush();
      this.logger?.warn('log emptied to restart at the leader\'s log start', { directory: this.directory, logStartOffset: offset });
    });
  }

  /**
   * The partitionLeaderEpoch of the log's last batch (one batch read, from the tail cache, the
   * journal's unwritten batches or the file, found through the offset index); null when the log
   * holds no batch at or past its start, or that batch is damaged.
   */
  async lastBatchEpoch(): Promise<number | null> {
    const lastOffset = this.logEndOffset - 1;
    if (lastOffset < this.startOffset) return null;
    try {
      // maxBytes 1: the batch holding lastOffset, whole (KIP-74), and nothing after it.
      const { chunks } = await this.read(asOffset(lastOffset), 1, this.logEndOffset);
      const first = chunks[0];
      return first === undefined ? null : readPartitionLeaderEpoch(first, 0);
    } catch (error) {
      if (error instanceof CorruptBatchError) return null;
      throw error;
    }
  }

  /**
   * Calls `visit` with the base offset and partitionLeaderEpoch of every batch from the one holding
   * `fromOffset` (not below the log start) to the log end, in order, reading only batch headers.
   * For rebuilding a partition's leader epochs (leader-epoch-cache.ts).
   */
  async forEachBatchEpoch(fromOffset: Offset, visit: (baseOffset: number, partitionLeaderEpoch: number) => void): Promise<void> {
    if (this.closed) throw new LogClosedError(this.directory);
    await this.flusher.writeOut(); // the scan reads the files
    const from = Math.max(fromOffset, this.startOffset);
    for (let index = this.segmentIndexFor(from); index < this.segments.length; index++) {
      const segment = this.segments[index]!;
      await this.scanHeadersChecked(segment, 0, segment.baseOffset, (header, block, at) => {
        if (header.lastOffset >= from) visit(header.baseOffset, readPartitionLeaderEpoch(block, at));
        return true;
      });
    }
  }

  /**
   * `listener` is called with the new log end offset whenever appends that were never acknowledged
   * are cut away after a failed write (state kept beside the log, such as producer sequences, must
   * forget them before the next append).
   */
  onTruncated(listener: (endOffset: Offset) => void): () => void {
    this.truncationListeners.add(listener);
    return () => this.truncationListeners.delete(listener);
  }

  /**
   * The flusher's cycle failed: forget every append after `mark`, synchronously, so the next
   * append takes the first offset cut away. A mark at the very end of a rolled segment keeps the
   * next (emptied) segment active rather than reopening a finished one.
   */
  private rollBack(mark: LogMark, failure: WriteFailure): RollbackPlan {
    const index = this.segmentIndexFor(mark.tail.nextOffset);
    const active = this.segments[index]!;
    const tail = active === mark.segment ? mark.tail : active.emptyTail();
    assert.equal(tail.nextOffset, mark.tail.nextOffset, 'a rollback mark ends a segment or lies inside the one it names');
    assert(!active.sealed, 'a rollback never reopens a sealed segment');
    const removed = this.segments.splice(index + 1);
    active.rollBackTo(tail);
    this.cache.clear();
    // Queued before any later append of this log, so replay never brings the cut batches back.
    if (this.journalLog !== null) void this.journal!.recordTruncated(this.journalLog, tail.nextOffset).catch(() => {});
    this.reportWriteFailure(failure);
    for (const listener of this.truncationListeners) listener(asOffset(tail.nextOffset));
    this.onWriteFailure(failure);
    return { active, position: tail.sizeBytes, removed };
  }

  /** One ERROR line for the first failed cycle; DEBUG while they keep failing (INFO once writes resume). */
  private reportWriteFailure(failure: WriteFailure): void {
    const fields = {
      directory: this.directory,
      operation: failure.operation,
      error: failure.error.message,
      abandonedEndOffset: failure.abandonedEndOffset,
      rolledBackToOffset: failure.rolledBackToOffset,
    };
    if (failure.acknowledgedEndOffset > failure.rolledBackToOffset) {
      this.logger?.error(`fsync failed: records acknowledged under flush=${this.flusher.flushPolicy} but never made durable are dropped`, {
        ...fields,
        droppedAcknowledgedRecords: failure.acknowledgedEndOffset - failure.rolledBackToOffset,
      });
    } else if (failure.failedCycles === 1) {
      this.logger?.error('log write failed; the unacknowledged appends were refused and cut away, new appends are taken (further failures are logged at debug until a write succeeds)', fields);
    } else {
      this.logger?.debug('log write failed again', { ...fields, failedCycles: failure.failedCycles });
    }
  }

  private reportWriteOutProblem(error: Error | null): void {
    if (error === null) this.logger?.info('segment writes succeed again; the batches the journal held are written', { directory: this.directory });
    else this.logger?.error('writing batches the journal holds to the segment failed; kept in memory and retried, new appends refused meanwhile', { directory: this.directory, error: error.message });
  }

  private reportMaintenanceProblem(error: Error | null): void {
    if (error === null) this.logger?.info('index and checkpoint files are written again', { directory: this.directory });
    else this.logger?.warn('writing index or checkpoint files failed; retried with the next writes (recovery rebuilds them if needed)', { directory: this.directory, error: error.message });
  }

  private checkWritable(): void {
    if (this.closed) throw new LogClosedError(this.directory);
    if (this.flusher.failure !== null) throw new LogFailedError(this.directory, this.flusher.failure);
  }

  private maybeRoll(incomingBytes: number, lastOffsetDelta: number, incomingMaxTimestamp: number): void {
    const active = this.active;
    if (active.isEmpty) return;
    const segmentBytes = Math.min(this.options.segmentBytes, maxSegmentBytes);
    const full = active.sizeBytes + incomingBytes > segmentBytes;
    const old = this.activeAgeOnAppendMs(incomingMaxTimestamp) >= this.options.segmentMs;
    const offsetsOverflow = active.nextOffset + lastOffsetDelta - active.baseOffset > maxRelativeOffset;
    if (full || old || offsetsOverflow) this.roll();
  }

  /**
   * The active segment's age for segment.ms when a batch arrives: the incoming batch's timestamp
   * against the first batch's (both stored in the log, so the age survives restarts, and data with
   * old CreateTime timestamps does not roll at every batch); the clock against the segment's
   * creation when either batch has no timestamp.
   */
  private activeAgeOnAppendMs(incomingMaxTimestamp: number): number {
    const first = this.active.firstBatchTimestamp;
    if (first !== noTimestamp && incomingMaxTimestamp !== noTimestamp) return incomingMaxTimestamp - first;
    return this.clock.nowMs() - this.active.createdMs;
  }

  /**
   * Whether retention rolls a (quiet) active segment, so time retention can delete it: when it has
   * existed for segment.ms since it was created or loaded, or when its first batch is segment.ms
   * old and time retention would delete it once sealed. The second rule keeps a partition that is
   * restarted more often than segment.ms from never rolling; it is limited to segments retention
   * would delete so that data with old timestamps kept forever is not rolled at every check.
   */
  private activeIsDueForRoll(nowMs: number): boolean {
    const active = this.active;
    if (active.isEmpty) return false;
    const { segmentMs, retentionMs } = this.options;
    if (nowMs - active.createdMs >= segmentMs) return true;
    if (nowMs - active.rollAgeStartMs < segmentMs || retentionMs < 0) return false;
    return nowMs - newestTimestampOf(active) > retentionMs;
  }

  /** Starts a new active segment at logEndOffset; the flusher seals the old one. */
  private roll(): void {
    const previous = this.active;
    const next = new Segment(this.directory, previous.nextOffset, this.clock.nowMs(), this.options.indexIntervalBytes);
    next.openFiles = this.openSegmentFiles;
    next.syncBeforeClosing = previous.syncBeforeClosing;
    next.indexBudget = this.segmentIndexCache;
    this.segments.push(next);
    this.flusher.seal(previous);
  }

  /**
   * Whole batches from the one containing fetchOffset, each entirely below `maxOffset` (default
   * highWatermark; never beyond what is written), at most maxBytes except that the first batch is
   * always returned whole (KIP-74). Throws OffsetOutOfRangeError when fetchOffset < logStartOffset
   * or > logEndOffset. Empty at the end. Bytes read from the files land in buffers from `allocate`
   * (a ReadBufferPool's, when the caller gives them back once written); cached batches are the
   * cache's own buffers.
   */
  async read(fetchOffset: Offset, maxBytes: number, maxOffset: Offset = this.highWatermark, allocate: ReadAllocator = allocateUnpooled): Promise<ReadResult> {
    if (this.closed) throw new LogClosedError(this.directory);
    this.checkOffsetInRange(fetchOffset);
    const limitOffset = Math.min(maxOffset, this.flusher.readableEndOffset);
    if (fetchOffset >= limitOffset) return { chunks: [], byteCount: 0 };
    const cached = this.cache.read(fetchOffset, maxBytes, limitOffset);
    if (cached !== null) return cached;
    // Batches durable in the journal and not written to the segment yet are served from memory.
    const writtenEndOffset = this.flusher.writtenEndOffset;
    if (fetchOffset >= writtenEndOffset) {
      const unwritten: ReadResult = { chunks: [], byteCount: 0 };
      this.flusher.readUnwritten(fetchOffset, maxBytes, limitOffset, unwritten);
      return unwritten;
    }
    for (let attempt = 1; ; attempt++) {
      const generation = this.swapGeneration;
      try {
        const read = await this.readSegments(fetchOffset, maxBytes, Math.min(limitOffset, writtenEndOffset), allocate);
        // A read reaching the written end goes on with what is still unwritten.
        if (read.nextOffset === writtenEndOffset && limitOffset > writtenEndOffset) this.flusher.readUnwritten(writtenEndOffset, maxBytes, limitOffset, read);
        return { chunks: read.chunks, byteCount: read.byteCount };
      } catch (error) {
        // Retention or DeleteRecords removed the segment while we were reading it.
        if (fetchOffset < this.startOffset) throw new OffsetOutOfRangeError(fetchOffset, this.startOffset, this.logEndOffset);
        // Cleaned segments were swapped in under the read (the old segment objects refuse further
        // reads, so that no read mixes positions of the old file with bytes of the new one): wait
        // for the swap to finish and read again.
        if (generation === this.swapGeneration || attempt >= readAttemptsAcrossSwaps || this.closed) throw error;
        await this.swapping;
      }
    }
  }

  private checkOffsetInRange(offset: number): void {
    if (offset < this.startOffset || offset > this.logEndOffset) throw new OffsetOutOfRangeError(offset, this.startOffset, this.logEndOffset);
  }

  /**
   * Reads batches from the segment files. Each batch read from a file has its CRC-32C checked
   * (the tail cache holds what was validated on append and is not checked again). Damage stops the
   * read before it: a read that starts in damage throws CorruptBatchError, one that meets damage
   * later returns what came before it.
   */
  private async readSegments(fetchOffset: number, maxBytes: number, limitOffset: number, allocate: ReadAllocator): Promise<ReadResult & { nextOffset: number }> {
    const chunks: Buffer[] = [];
    let byteCount = 0;
    let offset = fetchOffset;
    for (let index = this.segmentIndexFor(offset); index < this.segments.length; index++) {
      // Done at the limit. Under the journal a rolled segment's tail may still be unwritten, so the
      // limit (the written end) can fall inside it: the next segment must not be asked for offsets
      // before its base, which it would report as missing (false damage).
      if (offset >= limitOffset) break;
      const segment = this.segments[index]!;
      const known = segment.damageHolding(offset);
      if (known !== undefined) {
        if (chunks.length === 0) throw new CorruptBatchError(known);
        break;
      }
      // The scan that finds the first batch reads what the read needs too (from the index entry before it), so nothing is read twice.
      const readAheadBytes = (chunks.length === 0 ? maxBytes : maxBytes - byteCount) + segment.indexIntervalBytes;
      const found = await this.findBatchChecked(segment, offset, readAheadBytes, allocate);
      if (found === null && offset < segment.nextOffset) {
        // The file ends before offsets the segment holds (shortened behind our back): damage too.
        const range = this.recordMissingTail(segment, offset);
        if (chunks.length === 0) throw new CorruptBatchError(range);
        break;
      }
      if (found === null) continue;
      const first = found.header;
      if (first.lastOffset >= limitOffset) break;
      const damageAhead = segment.damageFrom(first.position + 1);
      const limitPosition = Math.min(segment.writtenBytes, damageAhead?.position ?? Infinity);
      const budget = chunks.length === 0 ? Math.max(maxBytes, first.totalBytes) : maxBytes - byteCount;
      if (budget < first.totalBytes) break;
      const length = Math.min(budget, limitPosition - first.position);
      const buffer = found.bytes.length >= length ? found.bytes.subarray(0, length) : await segment.read(first.position, length, allocate);
      const end = this.validPrefix(segment, buffer, first.position, first.baseOffset, limitOffset);
      if (end.bytes === 0) {
        if (end.damage !== null && chunks.length === 0) throw new CorruptBatchError(end.damage);
        break;
      }
      chunks.push(end.bytes === buffer.length ? buffer : buffer.subarray(0, end.bytes));
      byteCount += end.bytes;
      offset = end.nextOffset;
      // Damage ahead in this segment: stop before it; the next read starting there is refused.
      if (damageAhead !== undefined || end.damage !== null || first.position + end.bytes < limitPosition || byteCount >= maxBytes) break;
    }
    return { chunks, byteCount, nextOffset: offset };
  }

  /** Like segment.findBatchWithBytes, but a header that cannot be read is recorded as damage and thrown as such. */
  private async findBatchChecked(segment: Segment, offset: number, readAheadBytes = 0, allocate: ReadAllocator = allocateUnpooled): Promise<FoundBatch | null> {
    try {
      return await segment.findBatchWithBytes(offset, segment.writtenBytes, readAheadBytes, allocate);
    } catch (error) {
      if (!(error instanceof UnreadableHeaderError)) throw error;
      throw new CorruptBatchError(this.recordDamageFound(segment, error.position, error.expectedOffset, error.problem));
    }
  }

  /**
   * The whole batches at the start of `buffer` (read at `position`) that are below `limitOffset`
   * and pass their CRC-32C. A batch that fails is recorded as damage (and ends the prefix).
   */
  private validPrefix(
    segment: Segment,
    buffer: Buffer,
    position: number,
    firstOffset: number,
    limitOffset: number,
  ): { bytes: number; nextOffset: number; damage: DamagedRange | null } {
    let bytes = 0;
    let nextOffset = firstOffset;
    let damage: DamagedRange | null = null;
    forEachBatch(buffer, (view) => {
      const lastOffset = readLastOffset(view.buffer, view.at);
      if (lastOffset >= limitOffset) return false;
      if (!hasValidCrc(view.buffer, view.at, view.totalBytes)) {
        damage = this.recordDamageFound(segment, position + view.at, nextOffset, 'CRC-32C mismatch');
        return false;
      }
      bytes = view.at + view.totalBytes;
      nextOffset = lastOffset + 1;
    });
    return { bytes, nextOffset, damage };
  }

  /** Damage met by a read (damage.ts): remembered by the segment and logged once. */
  private recordDamageFound(segment: Segment, position: number, expectedOffset: number, problem: string): DamagedRange {
    return segment.damageAt(position) ?? this.remember(segment, damageFoundByRead(segment, position, expectedOffset, problem));
  }

  /** Offsets [offset, segment end) the segment's file no longer holds (damage.ts). */
  private recordMissingTail(segment: Segment, offset: number): DamagedRange {
    return segment.damageHolding(offset) ?? this.remember(segment, missingTail(segment, offset));
  }

  private remember(segment: Segment, range: DamagedRange): DamagedRange {
    segment.recordDamage(range, false);
    logDamage(this.logger, range);
    return range;
  }

  /** Index of the last segment whose base offset ≤ offset (0 if none). */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  /**
   * The headers of the batches that may hold the first record stamped at or after timestampMs, in
   * offset order: each wholly below the high watermark (as it was when the search began), not
   * wholly below the log start, with a maxTimestamp ≥ timestampMs. Found from the time and offset
   * indexes and the batch headers alone: which record matches is for the caller to find in the
   * batch's bytes (readBatch), since storage knows nothing of record contents. Headers are read a
   * few candidates at a time; normally the first one answers.
   */
  async *batchesAtOrAfterTimestamp(timestampMs: number): AsyncGenerator<BatchHeader> {
    if (this.closed) throw new LogClosedError(this.directory);
    const limitOffset = this.highWatermark;
    await this.flusher.writeOut(); // the search reads headers from the files
    for (let index = this.segmentIndexFor(this.startOffset); index < this.segments.length; index++) {
      const segment = this.segments[index]!;
      if (segment.maxTimestamp < timestampMs) continue;
      await segment.loadIndexes();
      const start = segment.offsetIndex.lookup(segment.timeIndex.scanStartFor(timestampMs));
      let position = start.position;
      let positionOffset = segment.baseOffset + start.relativeOffset;
      for (;;) {
        const candidates: BatchHeader[] = [];
        let reachedLimit = false;
        await this.scanHeadersChecked(segment, position, positionOffset, (header) => {
          if (header.lastOffset >= limitOffset) {
            reachedLimit = true;
            return false;
          }
          if (header.maxTimestamp >= timestampMs && header.lastOffset >= this.startOffset) candidates.push({ ...header });
          return candidates.length < candidateBatchesPerPass;
        });
        yield* candidates;
        if (reachedLimit) return;
        const last = candidates[candidates.length - 1];
        if (last === undefined || candidates.length < candidateBatchesPerPass) break;
        position = last.position + last.totalBytes;
        positionOffset = last.lastOffset + 1;
      }
    }
  }

  /** segment.scanHeaders up to the written end; a header that cannot be read is recorded as damage and thrown as such. */
  private async scanHeadersChecked(segment: Segment, position: number, offset: number, visit: (header: BatchHeader, block: Buffer, at: number) => boolean): Promise<void> {
    try {
      await segment.scanHeaders(position, offset, segment.writtenBytes, visit);
    } catch (error) {
      if (!(error instanceof UnreadableHeaderError)) throw error;
      throw new CorruptBatchError(this.recordDamageFound(segment, error.position, error.expectedOffset, error.problem));
    }
  }

  /**
   * The largest timestamp kept (from the segments' time indexes) and the header of the batch whose
   * records include it (the first such batch); null when no batch has a timestamp. Without a
   * readable header, `fallbackOffset` is the answer.
   */
  async maxTimestampBatch(): Promise<MaxTimestampBatch | null> {
    if (this.closed) throw new LogClosedError(this.directory);
    await this.flusher.writeOut(); // the header is read from the files
    let best: Segment | null = null;
    for (let index = this.segmentIndexFor(this.startOffset); index < this.segments.length; index++) {
      const segment = this.segments[index]!;
      if (segment.offsetOfMaxTimestamp < 0 || segment.maxTimestamp === noTimestamp) continue;
      if (best === null || segment.maxTimestamp > best.maxTimestamp) best = segment;
    }
    if (best === null) return null;
    const header = (await this.findBatchChecked(best, best.offsetOfMaxTimestamp))?.header ?? null;
    return { timestamp: best.maxTimestamp, header, fallbackOffset: header === null ? Math.max(best.offsetOfMaxTimestamp, this.startOffset) : header.lastOffset };
  }

  /**
   * The bytes of the one batch `header` (from batchesAtOrAfterTimestamp or maxTimestampBatch)
   * describes, CRC-checked. Null when they are not there (short, or the segment was deleted) or
   * damaged at rest: the damage is remembered, so reads and later lookups skip it.
   */
  async readBatch(header: BatchHeader): Promise<Buffer | null> {
    if (this.closed) throw new LogClosedError(this.directory);
    const generation = this.swapGeneration;
    try {
      return await this.readBatchOnce(header);
    } catch (error) {
      // The segment was swapped for its cleaned version: the header's position means nothing there.
      if (generation !== this.swapGeneration && !this.closed) return null;
      throw error;
    }
  }

  private async readBatchOnce(header: BatchHeader): Promise<Buffer | null> {
    const segment = this.segments[this.segmentIndexFor(header.baseOffset)]!;
    if (header.baseOffset < segment.baseOffset || header.baseOffset >= segment.nextOffset) return null;
    const batch = await segment.read(header.position, header.totalBytes);
    if (batch.length < header.totalBytes) return null;
    // A header found before the segment was swapped for its cleaned version names another place.
    if (readBaseOffset(batch, 0) !== header.baseOffset) return null;
    if (!hasValidCrc(batch, 0, header.totalBytes)) {
      this.recordDamageFound(segment, header.position, header.baseOffset, 'CRC-32C mismatch');
      return null;
    }
    return batch;
  }

  /**
   * DeleteRecords: advances logStartOffset to `offset` (≤ highWatermark), persisted; deletes the
   * segments wholly below it, and those below the start that an earlier call left (not sealed yet).
   */
  deleteRecordsBefore(offset: Offset): Promise<Offset> {
    return this.serialized(async (): Promise<Offset> => {
      if (this.closed) throw new LogClosedError(this.directory);
      if (offset > this.highWatermark || offset < 0) throw new OffsetOutOfRangeError(offset, this.startOffset, this.highWatermark);
      if (offset > this.startOffset) {
        this.startOffset = offset;
        this.cache.dropBefore(offset);
        await writeOffsetCheckpoint(this.directory, logStartOffsetFileName, offset, this.syncFile);
      }
      // Also when the start did not move: a segment below it that was not sealed yet the last time
      // (deletePrefix leaves unsealed ones) can go now.
      await this.deletePrefix((segment) => segment.nextOffset <= this.startOffset);
      return this.logStartOffset;
    });
  }

  /**
   * Rolls the active segment when older than segment.ms, then deletes the oldest sealed segments
   * that are below logStartOffset, older than retention.ms (by their largest timestamp), or beyond
   * retention.bytes. The active segment is never deleted, nor a segment reaching past `limitOffset`
   * (the high watermark by default; a cluster's leader passes the replicated one, so retention never
   * drops what not every in-sync replica holds). Returns the bytes deleted.
   */
  enforceRetention(limitOffset: Offset = this.highWatermark): Promise<number> {
    return this.serialized(async () => {
      if (this.closed) return 0;
      const now = this.clock.nowMs();
      if (this.flusher.failure === null && this.activeIsDueForRoll(now)) {
        this.roll();
        await this.flusher.drain();
      }
      let deleted = await this.deletePrefix((segment) => segment.nextOffset <= this.startOffset);
      const { retentionMs, retentionBytes } = this.options;
      if (retentionMs >= 0) {
        deleted += await this.deletePrefix((segment) => segment.nextOffset <= limitOffset && now - newestTimestampOf(segment) > retentionMs);
      }
      if (retentionBytes >= 0) {
        let excess = this.sizeBytes - retentionBytes;
        deleted += await this.deletePrefix((segment) => {
          if (segment.nextOffset > limitOffset || excess - segment.sizeBytes < 0) return false;
          excess -= segment.sizeBytes;
          return true;
        });
      }
      return deleted;
    });
  }

  /**
   * Deletes segments from the oldest while `shouldDelete` says so; only sealed ones (written,
   * fsynced, indexes persisted), wholly below the high watermark, never the active one.
   */
  private async deletePrefix(shouldDelete: (segment: Segment) => boolean): Promise<number> {
    const doomed: Segment[] = [];
    while (this.segments.length > 1) {
      const segment = this.segments[0]!;
      if (!segment.sealed || segment.nextOffset > this.highWatermark || !shouldDelete(segment)) break;
      doomed.push(this.segments.shift()!);
    }
    if (doomed.length === 0) return 0;
    this.startOffset = Math.max(this.startOffset, this.segments[0]!.baseOffset);
    this.cache.dropBefore(this.startOffset);
    let bytes = 0;
    for (const segment of doomed) {
      bytes += segment.sizeBytes;
      await segment.deleteFiles();
    }
    return bytes;
  }

  // ── Compaction (the log cleaner decides what to keep; the log reads, writes and swaps files) ──

  /** The sealed segments and the cleaner state, for the log cleaner to decide what to clean. */
  compactionView(): CompactionView {
    const limitOffset = this.highWatermark;
    const sealedSegments: SealedSegmentSummary[] = [];
    for (const segment of this.segments) {
      if (segment === this.active || !segment.sealed || segment.nextOffset > limitOffset) break;
      const { baseOffset, nextOffset, sizeBytes, maxTimestamp, firstBatchTimestamp } = segment;
      sealedSegments.push({ baseOffset, nextOffset, sizeBytes, maxTimestamp, firstBatchTimestamp });
    }
    return { logStartOffset: this.startOffset, cleanerState: this.cleaner, sealedSegments, damaged: this.damagedRangeCount > 0 };
  }

  /** The sealed segment with this base offset, still in the log; throws when it is not (deleted or swapped since). */
  private sealedSegment(baseOffset: number): Segment {
    if (this.closed) throw new LogClosedError(this.directory);
    const segment = this.segments[this.segmentIndexFor(baseOffset)]!;
    if (segment.baseOffset !== baseOffset || !segment.sealed || segment === this.active || segment.deleted) {
      throw new SegmentGoneError(baseOffset);
    }
    return segment;
  }

  /**
   * The batches of one sealed segment, in order, each yielded buffer holding one or more whole
   * batches (about `chunkBytes`, or one larger batch), every one CRC-checked. For the log cleaner:
   * asynchronous reads of bounded size, so a large segment never holds the event loop.
   */
  async *sealedSegmentBatches(baseOffset: number, chunkBytes: number): AsyncGenerator<Buffer> {
    let position = 0;
    for (;;) {
      const segment = this.sealedSegment(baseOffset);
      if (position >= segment.sizeBytes) return;
      let chunk = await segment.read(position, Math.min(chunkBytes, segment.sizeBytes - position));
      let end = forEachBatch(chunk, () => {});
      if (end === 0) {
        if (chunk.length < 12) throw new Error(`segment ${baseOffset}: short read at ${position}`);
        // One batch larger than the chunk: read exactly it.
        chunk = await segment.read(position, batchTotalBytes(chunk, 0));
        end = forEachBatch(chunk, () => {});
        if (end === 0) throw new Error(`segment ${baseOffset}: no whole batch at ${position}`);
      }
      const whole = chunk.subarray(0, end);
      forEachBatch(whole, (view) => {
        if (!hasValidCrc(view.buffer, view.at, view.totalBytes)) throw new Error(`segment ${baseOffset}: CRC-32C mismatch at ${position + view.at}`);
      });
      position += end;
      yield whole;
    }
  }

  /** A writer for the cleaned version of a sealed segment (segment-rewrite.ts), to hand to swapInCleanedSegments. */
  cleanedSegmentWriter(baseOffset: number): CleanedSegmentWriter {
    return new CleanedSegmentWriter(this.sealedSegment(baseOffset), this.options.indexIntervalBytes, this.syncFile);
  }

  /**
   * Replaces sealed segments by their finished cleaned versions and records the new cleaner
   * state, all or nothing across a crash (docs/storage-format.md, "Compaction"):
   *
   *   1. the `.cleaned` files are complete and fsynced (CleanedSegmentWriter.finish)
   *   2. `cleaner-swap` names the segments and the new state   ← commit point
   *   3. each `.cleaned` file is renamed over its segment's file, then the folder is fsynced
   *   4. `cleaner-offset-checkpoint` takes the new state; `cleaner-swap` is removed
   *
   * A crash before 2 leaves the old segments (recovery deletes `.cleaned` files); from 2 on,
   * recovery finishes 3 and 4. Segments that retention deleted meanwhile are left out. Readers:
   * the old segment objects refuse new reads from step 3 on (reads in progress finish on the old
   * file, which stays open until they are done), and a read refused so is tried again on the new
   * segments (read). Returns whether anything was swapped.
   */
  swapInCleanedSegments(writers: readonly CleanedSegmentWriter[], state: CleanerState): Promise<boolean> {
    return this.serialized(async () => {
      const live = writers.filter((writer) => !this.closed && this.segments.includes(writer.replaces) && !writer.replaces.deleted);
      for (const writer of writers) if (!live.includes(writer)) await writer.discard();
      if (live.length === 0) return false;
      await writeCleanerSwap(this.directory, { baseOffsets: live.map((writer) => writer.replaces.baseOffset), state }, this.syncFile);
      this.swapGeneration++;
      let swapped = () => {};
      this.swapping = new Promise((resolve) => (swapped = resolve));
      try {
        for (const writer of live) writer.replaces.deleted = true;
        for (const writer of live) {
          const old = writer.replaces;
          for (const path of [old.logPath, old.offsetIndexPath, old.timeIndexPath]) await rename(path + cleanedSuffix, path);
        }
        await syncDirectory(this.directory, this.syncFile);
        for (const writer of live) {
          const fresh = writer.segment;
          fresh.openFiles = this.openSegmentFiles;
          fresh.indexBudget = this.segmentIndexCache;
          fresh.sealed = true;
          this.segments[this.segments.indexOf(writer.replaces)] = fresh;
        }
        this.cleaner = state;
        // The tail cache may hold batches of the old versions: serve the cleaned ones.
        this.cache.dropBefore(live[live.length - 1]!.replaces.nextOffset);
      } finally {
        swapped();
      }
      for (const writer of live) await writer.replaces.close();
      await writeCleanerState(this.directory, state, this.syncFile);
      await removeCleanerSwap(this.directory, this.syncFile);
      return true;
    });
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.maintenance.then(work);
    this.maintenance = result.catch(() => {});
    return result;
  }

  /**
   * Writes the batches the journal holds for this log (durable there, not yet in the segment files:
   * flush.ts, write-behind) to the segment files now, without an fsync. Normally they are written
   * out on their own (by size, age, the broker-wide budget, a roll or a flush).
   */
  writeOut(): Promise<void> {
    return this.flusher.writeOut();
  }

  /** Bytes durable in the journal and not yet written to the segment files. */
  get unwrittenByteCount(): number {
    return this.flusher.unwrittenByteCount;
  }

  /** Writes and fsyncs everything pending, persists the active indexes and the recovery point. */
  async flush(): Promise<void> {
    if (this.closed) return; // close() flushed
    if (this.flusher.failure !== null) throw new LogFailedError(this.directory, this.flusher.failure);
    await this.flusher.flush();
  }

  /**
   * Flushes, then closes the files. Appends and reads afterwards throw LogClosedError. A flush that
   * fails (a full disk) is logged, not thrown: what was acknowledged is durable already, and the
   * files must be closed whatever happens.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.maintenance;
    let flushed = false;
    try {
      if (this.flusher.failure === null) {
        await this.flusher.flush();
        flushed = true;
      }
    } catch (error) {
      this.logger?.warn('final flush of the log failed', { directory: this.directory, error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.flusher.stop();
      await this.flusher.writeOutsSettled(); // none may write to a file once it is closed
      // Without a final fsync of the segments, what the journal holds for the log stays until the next start replays it.
      if (this.journalLog !== null && flushed) this.journal!.unregister(this.journalLog);
      for (const segment of this.segments) await segment.close();
      this.cache.clear();
    }
  }

  /** Closes the log and removes its directory. */
  async delete(): Promise<void> {
    if (this.journalLog !== null && !this.closed) void this.journal!.recordReset(this.journalLog).catch(() => {});
    await this.close().catch(() => {});
    if (this.journalLog !== null) this.journal!.unregister(this.journalLog); // the folder goes: nothing to keep for it
    for (const segment of this.segments) segment.deleted = true;
    await rm(this.directory, { recursive: true, force: true });
  }

  /** Our own invariants, for tests and debug builds. */
  invariants(): void {
    assert(this.segments.length > 0, 'a log has at least one segment');
    for (let index = 1; index < this.segments.length; index++) {
      assert.equal(this.segments[index]!.baseOffset, this.segments[index - 1]!.nextOffset, 'segments are contiguous');
    }
    assert(this.startOffset >= this.segments[0]!.baseOffset, 'log start is within the first segment');
    assert(this.startOffset <= this.logEndOffset, 'log start ≤ log end');
    if (this.flusher.unwrittenByteCount === 0) assert(this.flusher.durableEndOffset <= this.flusher.writtenEndOffset, 'durable ≤ written, unless the journal holds batches not written yet');
    else assert(this.flusher.writtenEndOffset < this.flusher.durableEndOffset, 'unwritten batches lie between written and durable');
    assert(this.flusher.writtenEndOffset <= this.logEndOffset && this.flusher.durableEndOffset <= this.logEndOffset, 'written and durable ≤ log end');
  }
}

/** A batch from the leader that does not fit this log (appendAsFollower): not written. */
export class ReplicaAppendError extends Error {
  constructor(problem: string) {
    super(`replica append refused: ${problem}`);
    this.name = 'ReplicaAppendError';
  }
}
