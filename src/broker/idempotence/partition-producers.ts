/**
 * One partition's idempotent-producer state (producer-state.ts) kept across restarts:
 *
 *   open:   read producer-state.snapshot ──► restore its producers ──► replay the batch headers of
 *           the log from the snapshot offset (or the log start) to the log end
 *   run:    check() before each append, recordAppend() right after it, in the same synchronous run;
 *           batches of a failed write that the log cut away are forgotten (truncated)
 *   save:   periodically when something changed, after a segment roll, on close (unless the file
 *           is already current), and after open when the file did not reach the log end: capture the
 *           state and the log end offset together (synchronously), wait until the log is durable
 *           up to that offset, then write the file atomically (.tmp, fsync, rename, fsync folder)
 *
 * A snapshot is only written once the log below its offset is durable, so after a crash the log
 * normally reaches at least the snapshot offset. If it does not (a torn tail cut below it, or the
 * file is damaged or of another format version), the snapshot is ignored and the whole log is
 * replayed: slower, never wrong. Replay reads batch headers only; records are not decoded.
 * Replayed batches are trusted (they passed the checks when appended) and their time is the batch's
 * maxTimestamp, capped at now, as Kafka does.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import type { AppendResult, Clock, ReadResult } from '../../storage/partition-log.js';
import { CorruptBatchError } from '../../storage/partition-log.js';
import { forEachBatch, isControl, readBaseOffset, readLastOffset, readMaxTimestamp } from '../../protocol/kafka/batch-header.js';
import { asOffset, type Offset } from '../../storage/offset.js';
import { defaultSyncFile, syncDirectory } from '../../storage/segment.js';
import type { SyncFile } from '../../storage/segment.js';
import { decodeSnapshot, encodeSnapshot, producerBatchOf, ProducerStateTable } from './producer-state.js';
import type { BatchMetadata, ProducerSnapshot, ProducerStateLimits, SequenceVerdict } from './producer-state.js';

export const producerSnapshotFileName = 'producer-state.snapshot';
const temporarySuffix = '.tmp';
/** Bytes read from the log per step while replaying. */
const replayReadBytes = 4 * 1024 * 1024;

const appendVerdict: SequenceVerdict = { kind: 'append' };

/**
 * What the producer state needs of its partition's log: where it lives, its offsets, batch reads
 * for replay, segment rolls (a moment to save a snapshot) and truncations. The partition handle
 * (partition-handle.ts) gives it its PartitionLog, which has all of this; nothing else is used.
 */
export interface ProducerStateLog {
  readonly directory: string;
  readonly logStartOffset: Offset;
  readonly logEndOffset: Offset;
  readonly highWatermark: Offset;
  /** Grows when a segment rolls. */
  readonly segmentCount: number;
  /** Whole batches from the one holding `offset`, each entirely below `maxOffset` (PartitionLog.read). */
  read(offset: Offset, maxBytes: number, maxOffset: Offset): Promise<ReadResult>;
  /** Calls `listener` with the new log end whenever a failed write is cut away. */
  onTruncated(listener: (endOffset: Offset) => void): void;
}

/** One producer as DescribeProducers lists it. */
export interface ActiveProducer {
  readonly producerId: bigint;
  readonly epoch: number;
  readonly lastSequence: number;
  /** Broker time of its last append (the batch's time for batches replayed from the log at start-up). */
  readonly lastTimestampMs: number;
}

export interface PartitionProducersEnvironment {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly syncFile?: SyncFile;
}

export class PartitionProducers {
  /** The durable promise of the latest append: resolves once everything appended so far is durable. */
  private lastDurable: Promise<void> = Promise.resolve();
  /** table.changeCount and log end offset covered by the last snapshot written or being written (-1: none). */
  private snapshotChangeCount: number;
  private snapshotOffset = -1;
  private writing: Promise<void> = Promise.resolve();
  private segmentCountSeen: number;
  private discarded = false;

  private constructor(
    readonly table: ProducerStateTable,
    private readonly log: ProducerStateLog,
    private readonly environment: PartitionProducersEnvironment,
  ) {
    this.snapshotChangeCount = table.changeCount;
    this.segmentCountSeen = log.segmentCount;
    log.onTruncated((endOffset) => this.truncated(endOffset));
  }

  /**
   * A failed write was cut away (onTruncated): forget the batches that were in it.
   * Everything left in the log was acknowledged, so later snapshots need not wait for the failed
   * appends' promises.
   */
  private truncated(endOffset: number): void {
    this.table.truncateTo(endOffset);
    this.lastDurable = Promise.resolve();
    this.segmentCountSeen = this.log.segmentCount;
  }

  private get snapshotPath(): string {
    return join(this.log.directory, producerSnapshotFileName);
  }

  /** Restores the state of an opened (recovered) log. */
  static async open(log: ProducerStateLog, limits: ProducerStateLimits, environment: PartitionProducersEnvironment): Promise<PartitionProducers> {
    const table = new ProducerStateTable(limits);
    const { logger, clock } = environment;
    const nowMs = clock.nowMs();
    const snapshot = await readSnapshot(join(log.directory, producerSnapshotFileName), log, logger);
    let replayFrom: number = log.logStartOffset;
    if (snapshot !== null) {
      for (const entry of snapshot.producers) {
        if (nowMs - entry.lastTimestampMs < limits.expirationMs) table.restore(entry);
      }
      replayFrom = Math.max(snapshot.snapshotOffset, log.logStartOffset);
    }
    const replayed = await replay(table, log, replayFrom, nowMs);
    table.expire(nowMs);
    const producers = new PartitionProducers(table, log, environment);
    if (replayed > 0 || table.size > 0) {
      logger.debug('producer state loaded', { directory: log.directory, producers: table.size, snapshotOffset: snapshot?.snapshotOffset ?? null, replayedBatches: replayed });
    }
    if (snapshot !== null) producers.snapshotOffset = snapshot.snapshotOffset;
    // Without a snapshot at the log end, the next crash would replay the same batches again.
    if (producers.snapshotOffset !== log.logEndOffset) void producers.saveSnapshot();
    return producers;
  }

  /** The state of a log just created empty: nothing to restore, and no snapshot needed until something changes. */
  static forNewLog(log: ProducerStateLog, limits: ProducerStateLimits, environment: PartitionProducersEnvironment): PartitionProducers {
    const producers = new PartitionProducers(new ProducerStateTable(limits), log, environment);
    producers.snapshotOffset = log.logEndOffset;
    return producers;
  }

  /** The verdict for a checked batch about to be appended. Synchronous: append in the same run. */
  check(records: Buffer): SequenceVerdict {
    const batch = producerBatchOf(records);
    return batch === null ? appendVerdict : this.table.check(batch);
  }

  /** Records what was just appended (call right after the log's append, before yielding). */
  recordAppend(records: Buffer, appended: AppendResult): void {
    this.lastDurable = appended.durable;
    const batch = producerBatchOf(records);
    if (batch !== null) this.table.recordAppend(batch, appended.baseOffset, appended.lastOffset, this.environment.clock.nowMs());
    if (this.log.segmentCount !== this.segmentCountSeen) {
      this.segmentCountSeen = this.log.segmentCount;
      void this.saveSnapshot().catch(() => undefined);
    }
  }

  /**
   * Resolves when a duplicate's original batch is durable (at once if it is already below the high
   * watermark), so that a retry is never acknowledged before the first copy could have been.
   */
  async waitUntilDurable(batch: BatchMetadata): Promise<void> {
    if (batch.lastOffset < this.log.highWatermark) return;
    await this.lastDurable;
  }

  /**
   * The producers whose state is held, least recently active first (DescribeProducers): each with
   * its epoch, the last sequence it appended (-1 if none is remembered) and the time of that append.
   */
  activeProducers(): ActiveProducer[] {
    return [...this.table.entries()].map((entry) => ({
      producerId: entry.producerId,
      epoch: entry.epoch,
      lastSequence: entry.batches.at(-1)?.lastSequence ?? -1,
      lastTimestampMs: entry.lastTimestampMs,
    }));
  }

  /** Forgets expired producers; returns how many. */
  expire(): number {
    return this.table.expire(this.environment.clock.nowMs());
  }

  /** After retention or DeleteRecords moved the log start: forgets producers whose batches are all gone. */
  logStartAdvanced(): number {
    return this.table.removeUnretained(this.log.logStartOffset);
  }

  /**
   * Writes a snapshot if the state changed or the log grew since the last one: the log end matters
   * too, since it bounds how much a restart after a crash replays. Resolves once a snapshot of the
   * state as it is now is on disk (or failed, which is logged).
   */
  saveIfChanged(): Promise<void> {
    if (this.table.changeCount === this.snapshotChangeCount && this.log.logEndOffset === this.snapshotOffset) return this.writing;
    return this.saveSnapshot();
  }

  /**
   * Final snapshot, once the log is closed (everything flushed): call after the log is closed.
   * A failure is logged, not thrown: the next start replays the log instead.
   */
  async closeAfterLog(): Promise<void> {
    await this.writing;
    if (this.discarded) return;
    this.discarded = true;
    const current = this.table.changeCount === this.snapshotChangeCount && this.log.logEndOffset === this.snapshotOffset;
    if (current) return; // the file on disk already says this (a failed write reset snapshotOffset)
    try {
      await this.writeFile(encodeSnapshot(this.log.logEndOffset, this.table.entries()));
    } catch (error) {
      this.environment.logger.warn('producer state snapshot failed', { directory: this.log.directory, error: String(error) });
    }
  }

  /** The partition is being deleted: write nothing more. */
  async discard(): Promise<void> {
    this.discarded = true;
    await this.writing;
  }

  /**
   * Captures the state and the log end offset now, then writes them once the log is durable up to
   * there. Snapshots of one partition are written one at a time, in order.
   */
  saveSnapshot(): Promise<void> {
    if (this.discarded) return Promise.resolve();
    const bytes = encodeSnapshot(this.log.logEndOffset, this.table.entries());
    this.snapshotChangeCount = this.table.changeCount;
    this.snapshotOffset = this.log.logEndOffset;
    const durable = this.lastDurable;
    const write = this.writing.then(async () => {
      try {
        await durable;
      } catch {
        this.snapshotOffset = -1; // the log failed; it is reopened (and replayed) on restart
        return;
      }
      if (this.discarded) return;
      await this.writeFile(bytes);
    });
    this.writing = write.catch((error: unknown) => {
      this.snapshotOffset = -1;
      this.environment.logger.warn('producer state snapshot failed', { directory: this.log.directory, error: String(error) });
    });
    return this.writing;
  }

  private async writeFile(bytes: Buffer): Promise<void> {
    const syncFile = this.environment.syncFile ?? defaultSyncFile;
    const path = this.snapshotPath;
    const temporaryPath = path + temporarySuffix;
    const handle = await open(temporaryPath, 'w', 0o644);
    try {
      await handle.writeFile(bytes);
      await syncFile(handle, 'checkpoint');
    } catch (error) {
      // A full disk: do not leave a partial file holding space until the next start removes it.
      await handle.close();
      await unlink(temporaryPath).catch(() => undefined);
      throw error;
    }
    await handle.close();
    await rename(temporaryPath, path);
    await syncDirectory(this.log.directory, syncFile);
  }
}

async function readSnapshot(path: string, log: ProducerStateLog, logger: Logger): Promise<ProducerSnapshot | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const snapshot = decodeSnapshot(bytes);
  if (typeof snapshot === 'string') {
    logger.warn('ignoring producer state snapshot; replaying the whole log', { path, reason: snapshot });
    return null;
  }
  if (snapshot.snapshotOffset > log.logEndOffset) {
    logger.warn('producer state snapshot is ahead of the recovered log; replaying the whole log', {
      path,
      snapshotOffset: snapshot.snapshotOffset,
      logEndOffset: log.logEndOffset,
    });
    return null;
  }
  return snapshot;
}

/** Feeds the headers of every batch in [fromOffset, log end) to the table. Returns the batches seen. */
async function replay(table: ProducerStateTable, log: ProducerStateLog, fromOffset: number, nowMs: number): Promise<number> {
  const endOffset = log.logEndOffset;
  let offset = fromOffset;
  let batches = 0;
  while (offset < endOffset) {
    let chunks: Buffer[];
    try {
      ({ chunks } = await log.read(asOffset(offset), replayReadBytes, endOffset));
    } catch (error) {
      // Damaged data (kept by recovery, never served) holds no producer state we can use: skip it.
      if (!(error instanceof CorruptBatchError)) throw error;
      offset = error.damage.lastOffset + 1;
      continue;
    }
    if (chunks.length === 0) break;
    const before = offset;
    for (const chunk of chunks) {
      forEachBatch(chunk, ({ buffer, at }) => {
        const lastOffset = readLastOffset(buffer, at);
        if (lastOffset < offset) return; // the batch holding fromOffset began before it (cannot happen at a snapshot offset)
        offset = lastOffset + 1;
        const batch = isControl(buffer, at) ? null : producerBatchOf(buffer, at);
        if (batch === null) return;
        const maxTimestamp = readMaxTimestamp(buffer, at);
        const timestampMs = maxTimestamp < 0 ? nowMs : Math.min(maxTimestamp, nowMs);
        table.recordAppend(batch, readBaseOffset(buffer, at), lastOffset, timestampMs);
        batches++;
      });
    }
    if (offset === before) break; // nothing readable: leave the rest (recovery validated the log)
  }
  return batches;
}
