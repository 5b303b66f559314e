/**
 * A durable queue's messages: a partition log plus its dispositions (DESIGN.md decision 11), both in
 * the log: one v2 batch per message (message-codec.ts), and between them the state batches
 * (log-state.ts) that say which messages are settled and how far delivery went.
 *
 *   <queue dir>/
 *     log/                  a PartitionLog (storage/)
 *     dispositions.state    only in a queue written before its state moved into its log (state-log.ts
 *                           format): read once at open, as where replay starts, then removed
 *
 * append() encodes the message into one batch, appends it (offsets in call order, durable per the
 * log's flush policy, group-committed) and hands it to the dispositions (dispositions.ts), which
 * keep it in memory while the ready messages fit maxReadyBytesInMemory. Past that, takeNext()
 * returns null while the next chunk is read from the log, then calls the onReady listeners.
 * settle(), requeue() and purge() change the dispositions; settles go into state batches, one per
 * event-loop turn, not awaited. As the first unsettled message moves on, whole segments below it
 * (and below the latest durable state snapshot) are deleted (deleteRecordsBefore, once about a
 * segment's worth is settled, and at every flush). With settings.maxPriority the dispositions hand
 * messages out highest priority first (priority-dispositions.ts) instead of in log order; the log,
 * the state batches and recovery are the same.
 *
 * Recovery (open):
 *   1. the log recovers itself (storage/recovery.ts), cutting a torn tail (a state batch as any);
 *   2. the state batches are replayed, in log order, over the legacy state file's state if there is
 *      one; their own offsets are settled (they are no messages); the state is clamped to the log:
 *      offsets below its start are settled;
 *   3. the unsettled messages are read once: transient ones (persistent = false) are settled, as
 *      RabbitMQ drops a durable queue's transient messages at restart; damaged ranges the log cannot
 *      serve are settled with an error; the first ones fill the in-memory buffer;
 *   4. every unsettled message is ready; those below the delivered mark come out redelivered;
 *   5. the state is appended as a snapshot batch and awaited, so what recovery decided is durable
 *      before anything new is appended (not for an empty log); then a legacy state file is removed.
 * Settles that reached disk are never undone; settles that did not (a crash within one cycle) bring
 * their messages back, flagged redelivered when the delivered mark had passed them. A settle is
 * always in the log after the message it settles, so a crash cannot keep the one without the other.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachBatch, readBaseOffset, readLastOffset } from '../../protocol/kafka/batch-header.js';
import { CorruptBatchError, LogClosedError, PartitionLog } from '../../storage/partition-log.js';
import { asOffset } from '../../storage/offset.js';
import { syncDirectory } from '../../storage/segment.js';
import type { Logger } from '../../logging/logger.js';
import { Dispositions, type DispositionListener, type DispositionsStart, type MessageDispositions } from './dispositions.js';
import { LogStateWriter, stateRecordsOf, type LogStateStart, type StateAppender } from './log-state.js';
import { decodeMessages, encodeMessage } from './message-codec.js';
import { OffsetRanges } from './offset-ranges.js';
import type { AppendedMessage, QueueStore, QueueStoreSettings } from './queue-store-api.js';
import { PriorityDispositions } from './priority-dispositions.js';
import { SegmentReclaimer } from './segment-reclaimer.js';
import { readStateFile, stateFileName, type ReplayedState } from './state-log.js';
import type { QueueLog } from './queue-log.js';
import { StateReplay, startsWithSnapshot } from './state-records.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

export const logFolderName = 'log';
/** Bytes read at a time by the recovery scan. */
const recoveryReadBytes = 1024 * 1024;
/** Most bytes one refill of the in-memory buffer reads (less when the buffer has less room). */
const refillReadBytes = 1024 * 1024;

/** Tuning a test may change; the defaults suit a broker. */
export interface LogQueueStoreTuning {
  /** State snapshot threshold (log-state.ts). */
  readonly stateCompactionMinBytes?: number;
}

/** A store's own folder (LogQueueStore.open): its PartitionLog is the store's to close, the folder to delete. */
interface OwnedLog {
  readonly directory: string;
  readonly log: PartitionLog;
  /** The state file of a queue from before its state moved into the log (state-log.ts), or its absence. */
  readonly legacy: ReplayedState;
}

function noLegacyState(): ReplayedState {
  return { settledBelow: 0, settled: new OffsetRanges(), deliveredBelow: 0, returnCounts: new Map(), recordCount: 0, ignoredBytes: 0, fileBytes: 0 };
}

export class LogQueueStore implements QueueStore, StateAppender {
  private readonly listeners: Array<() => void> = [];
  private stateLog: LogStateWriter | null = null;
  private readonly dispositions: MessageDispositions;
  private reading = false;
  private lastAppendDurable: Promise<void> = Promise.resolve();
  private readonly segments: SegmentReclaimer;
  private closed = false;
  private readonly logger: Logger;
  /** Stops the log's truncation calls into this store (a lent log outlives it). */
  private stopTruncationCalls: () => void = () => {};

  private constructor(
    private readonly log: QueueLog,
    /** The store's own folder and log (open), or null for a log lent to it (openOnLog). */
    private readonly owned: OwnedLog | null,
    settings: QueueStoreSettings,
    start: { settledBelow: number; settled: OffsetRanges; deliveredBelow: number; returnCounts: ReadonlyMap<number, number> },
    logger: Logger,
  ) {
    this.logger = logger;
    this.segments = new SegmentReclaimer(log, settings.logOptions.segmentBytes, (error) => this.logger.warn('deleting settled queue segments failed', { error: error.message }));
    const listener: DispositionListener = {
      settled: (first, end) => this.stateLog?.recordSettled(first, end),
      deliveredMoved: () => this.stateLog?.recordDeliveredMoved(),
      truncated: (endOffset) => this.stateLog?.recordTruncated(endOffset),
      returned: (offset, count) => this.stateLog?.recordReturned(offset, count),
    };
    const dispositionsStart: DispositionsStart = {
      settledBelow: start.settledBelow,
      settled: start.settled,
      logEndOffset: log.logEndOffset,
      redeliveredBelow: start.deliveredBelow,
      returnCounts: start.returnCounts,
      maxReadyBytesInMemory: settings.maxReadyBytesInMemory,
      listener,
    };
    const maxPriority = settings.maxPriority ?? 0;
    this.dispositions = maxPriority > 0 ? new PriorityDispositions(dispositionsStart, maxPriority) : new Dispositions(dispositionsStart);
  }

  /** Opens the queue's store in `directory`, creating it when missing, recovering it otherwise (see above). */
  static async open(directory: string, settings: QueueStoreSettings, tuning: LogQueueStoreTuning = {}): Promise<LogQueueStore> {
    await mkdir(directory, { recursive: true });
    const log = await PartitionLog.open(join(directory, logFolderName), settings.logOptions, settings.clock, settings.logEnvironment);
    try {
      const legacy = await readStateFile(directory, settings.logger);
      return await LogQueueStore.recover(log, { directory, log, legacy }, settings, tuning, settings.logger.with({ queueDirectory: directory }));
    } catch (error) {
      await log.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Opens a store over a log someone else keeps (queue-log.ts: in a cluster, the partition of the
   * queue's replicated topic on its leader), recovering the queue from what the log holds: the
   * messages and state batches another store wrote, here or on another broker. Closing the store
   * leaves the log open; deleting it deletes nothing (the log's keeper does).
   */
  static async openOnLog(log: QueueLog, name: string, settings: QueueStoreSettings, tuning: LogQueueStoreTuning = {}): Promise<LogQueueStore> {
    return LogQueueStore.recover(log, null, settings, tuning, settings.logger.with({ queueLog: name }));
  }

  /** Recovery steps 2 to 5 (see above) over an open log. */
  private static async recover(log: QueueLog, owned: OwnedLog | null, settings: QueueStoreSettings, tuning: LogQueueStoreTuning, logger: Logger): Promise<LogQueueStore> {
    const legacy = owned?.legacy ?? noLegacyState();
    const replay = new StateReplay();
    replay.settledBelow = legacy.settledBelow;
    replay.settled = legacy.settled;
    replay.deliveredBelow = legacy.deliveredBelow;
    replay.returnCounts = legacy.returnCounts;
    const found = await replayStateBatches(log, replay);
    found.stateOffsets.forEach((start, end) => replay.settled.add(start, end));
    const logStart = log.logStartOffset;
    const logEnd = log.logEndOffset;
    const settledBelow = Math.min(Math.max(replay.settledBelow, logStart), logEnd);
    const store = new LogQueueStore(log, owned, settings, { settledBelow, settled: replay.settled, deliveredBelow: replay.deliveredBelow, returnCounts: replay.returnCounts }, logger);
    await store.recoverMessages();
    store.stateLog = new LogStateWriter(store.dispositions, store, {
      logger: store.logger,
      writesEnded: () => log.writable === false,
      clock: settings.clock,
      ...(tuning.stateCompactionMinBytes === undefined ? {} : { compactionMinBytes: tuning.stateCompactionMinBytes }),
      onDurable: (durableSettledBelow) => store.maybeDeleteSettledSegments(durableSettledBelow, false),
      snapshotHoldsBack: (durableSettledBelow, snapshotOffset) => snapshotOffset < durableSettledBelow && store.segments.worthReclaiming(durableSettledBelow),
    }, found.start);
    store.stopTruncationCalls = log.onTruncated((endOffset) => store.dispositions.truncated(endOffset));
    // An empty log needs none: replaying nothing gives the same empty state.
    if (logEnd > logStart || legacy.fileBytes > 0) await store.stateLog.compact();
    // Only once the snapshot holds what the file said (an append that failed leaves the file in charge).
    if (legacy.fileBytes > 0 && store.stateLog.compactionCount > 0) await store.removeLegacyStateFile();
    store.maybeDeleteSettledSegments(store.dispositions.settledBelow, true);
    return store;
  }

  /** StateAppender: a state batch at the log end, its offset no message. */
  appendState(batch: Buffer): { offset: number; durable: Promise<void> } {
    const appended = this.log.append(batch);
    this.lastAppendDurable = appended.durable;
    this.dispositions.occupied(appended.baseOffset);
    return { offset: appended.baseOffset, durable: appended.durable };
  }

  get readyCount(): number {
    return this.dispositions.readyCount;
  }

  get unackedCount(): number {
    return this.dispositions.unackedCount;
  }

  get readyBytes(): number {
    return this.dispositions.readyBytes;
  }

  /** For tests and metrics: the log and its state batches. */
  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get segmentCount(): number {
    return this.log.segmentCount;
  }

  /** Bytes of state batches in the log from the latest snapshot on. */
  get stateSizeBytes(): number {
    return this.stateLog?.sizeBytes ?? 0;
  }

  get stateCompactionCount(): number {
    return this.stateLog?.compactionCount ?? 0;
  }

  get settledBelow(): number {
    return this.dispositions.settledBelow;
  }

  get settledRangeCount(): number {
    return this.dispositions.settledRangeCount;
  }

  get bufferedBytes(): number {
    return this.dispositions.bufferedBytes;
  }

  append(message: StoredMessage): AppendedMessage {
    const encoded = encodeMessage(message);
    const appended = this.log.append(encoded.batch);
    this.lastAppendDurable = appended.durable;
    this.dispositions.appended(appended.baseOffset, encoded.message, encoded.batch.length);
    this.notifyReady();
    return { offset: appended.baseOffset, durable: appended.durable };
  }

  takeNext(): QueuedMessage | null {
    const next = this.dispositions.takeNext();
    if (next === null) this.startRefill();
    return next;
  }

  peekNext(): QueuedMessage | null {
    const next = this.dispositions.peekNext();
    if (next === null) this.startRefill();
    return next;
  }

  onReady(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** A message that is not taken (settled already, or cut away by a failed write) is ignored. */
  requeue(message: QueuedMessage, counted = true): void {
    if (this.dispositions.requeue(message, counted)) this.notifyReady();
    else this.logger.debug('requeue of a message that is not taken ignored', { offset: message.offset });
  }

  /** A message that is not taken (settled already, or cut away by a failed write) is ignored. */
  settle(message: QueuedMessage): void {
    if (!this.dispositions.settle(message)) this.logger.debug('settle of a message that is not taken ignored', { offset: message.offset });
  }

  purge(): number {
    return this.dispositions.purge();
  }

  async flush(): Promise<void> {
    await this.log.flush();
    await this.stateLog?.flush();
    this.maybeDeleteSettledSegments(this.dispositions.settledBelow, true);
    await this.segments.running;
  }

  /** Appends a snapshot of the state now (the store does it by itself as state batches add up). */
  async compactState(): Promise<void> {
    await this.stateLog?.compact();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } catch (error) {
      this.closingFailed('final flush of a queue failed', error);
    }
    this.closed = true;
    this.stopTruncationCalls();
    await this.segments.running;
    try {
      await this.stateLog?.close();
    } catch (error) {
      this.closingFailed('the last state write of a queue failed', error);
    } finally {
      await this.owned?.log.close();
    }
  }

  /** Closes and, for a store in its own folder, removes the folder (a lent log is its keeper's to delete). */
  async delete(): Promise<void> {
    await this.close().catch(() => {});
    if (this.owned !== null) await rm(this.owned.directory, { recursive: true, force: true });
  }

  /** Our own invariants, for tests. */
  invariants(): void {
    this.dispositions.invariants();
    this.log.invariants();
  }

  /**
   * Settles that did not reach the log come back after a restart (their messages redelivered): worth
   * a warning, unless writes had ended for good (a replicated queue whose term ended, its next
   * leader carrying on from what the replicas hold).
   */
  private closingFailed(what: string, error: unknown): void {
    const fields = { error: error instanceof Error ? error.message : String(error) };
    if (this.log.writable === false) this.logger.debug(`${what}: this broker no longer writes the queue`, fields);
    else this.logger.warn(what, fields);
  }

  private notifyReady(): void {
    for (const listener of this.listeners) listener();
  }

  /** Starts reading the next chunk into the buffer when it has run dry and the log holds more. */
  private startRefill(): void {
    if (this.reading || this.closed || this.dispositions.nextOffsetToRead() === null) return;
    this.reading = true;
    void this.refill().then((filled) => {
      // Not reading any more before the listeners run: their takeNext may need the next chunk.
      this.reading = false;
      if (filled) this.notifyReady();
    });
  }

  /** Reads until the buffer holds a message; false when there is nothing more (or the read failed, logged). */
  private async refill(): Promise<boolean> {
    for (;;) {
      const offset = this.dispositions.nextOffsetToRead();
      if (offset === null || this.closed) return false;
      const generation = this.dispositions.generation;
      let chunks: Buffer[];
      try {
        const read = await this.log.read(asOffset(offset), Math.min(this.dispositions.bufferRoomBytes, refillReadBytes), asOffset(this.dispositions.logEndOffset));
        chunks = read.chunks;
      } catch (error) {
        if (error instanceof LogClosedError || this.closed) return false;
        if (generation !== this.dispositions.generation) continue; // purged or cut meanwhile: look again
        if (error instanceof CorruptBatchError) {
          this.settleDamage(error);
          continue;
        }
        this.logger.error('reading queue messages from the log failed', { offset, error: (error as Error).message });
        return false; // the next takeNext tries again
      }
      if (generation !== this.dispositions.generation) continue;
      if (chunks.length === 0) {
        // Appended but not written yet: read once the flush cycle has written it.
        await this.lastAppendDurable.catch(() => {});
        continue;
      }
      decodeMessages(chunks, (messageOffset, message, costBytes) => this.dispositions.offerRead(messageOffset, message, costBytes));
      if (this.dispositions.nextOffsetToRead() === null) return true;
    }
  }

  /** Recovery step 3 (see above): one pass over the unsettled messages. */
  private async recoverMessages(): Promise<void> {
    const dispositions = this.dispositions;
    const logEnd = dispositions.logEndOffset;
    let offset = dispositions.settledBelow;
    let droppedTransient = 0;
    while (offset < logEnd) {
      offset = dispositions.skipSettled(offset);
      if (offset >= logEnd) break;
      let chunks: Buffer[];
      try {
        chunks = (await this.log.read(asOffset(offset), recoveryReadBytes, asOffset(logEnd))).chunks;
      } catch (error) {
        if (!(error instanceof CorruptBatchError)) throw error;
        offset = this.settleDamage(error);
        continue;
      }
      if (chunks.length === 0) throw new Error(`queue recovery: the log returned nothing at offset ${offset} below its end ${logEnd}`);
      decodeMessages(chunks, (messageOffset, message, costBytes) => {
        offset = messageOffset + 1;
        if (dispositions.isSettled(messageOffset)) return;
        if (!message.persistent) {
          dispositions.settleAhead(messageOffset, messageOffset + 1);
          droppedTransient++;
          return;
        }
        dispositions.recovered(messageOffset, message, costBytes);
      });
    }
    this.logger.debug('queue recovered', {
      logStartOffset: this.log.logStartOffset,
      logEndOffset: logEnd,
      settledBelow: dispositions.settledBelow,
      ready: dispositions.readyCount,
      droppedTransient,
    });
  }

  /** A range the log cannot serve: its messages are lost; settled so that the rest flows. Returns the offset after it. */
  private settleDamage(error: CorruptBatchError): number {
    const { firstOffset, lastOffset } = error.damage;
    this.logger.error('queue messages lost to damaged log data are dropped', { firstOffset, lastOffset, problem: error.damage.problem });
    this.dispositions.settleAhead(firstOffset, lastOffset + 1);
    return lastOffset + 1;
  }

  /** Deletes segments wholly below both `settledBelow` (durable) and the latest durable state snapshot. */
  private maybeDeleteSettledSegments(settledBelow: number, force: boolean): void {
    const snapshotOffset = this.stateLog?.latestSnapshotOffset ?? -1;
    if (!this.closed && snapshotOffset >= 0) this.segments.reclaim(Math.min(settledBelow, snapshotOffset), force);
  }

  /** Once the state is in the log (step 5 above), the state file of a queue from before is dropped. */
  private async removeLegacyStateFile(): Promise<void> {
    if (this.owned === null) return;
    const directory = this.owned.directory;
    await rm(join(directory, stateFileName), { force: true });
    await rm(join(directory, `${stateFileName}.tmp`), { force: true });
    try {
      await syncDirectory(directory);
    } catch (error) {
      this.logger.warn('legacy queue state file removed, but fsync of its folder failed', { error: (error as Error).message });
    }
    this.logger.info('queue state moved from its state file into its log');
  }
}

/**
 * Recovery step 2 (see above): reads the log from its start, applying every state batch to
 * `replay` in order. Returns the offsets the state batches take and where the latest snapshot is.
 */
async function replayStateBatches(log: QueueLog, replay: StateReplay): Promise<{ stateOffsets: OffsetRanges; start: LogStateStart }> {
  const stateOffsets = new OffsetRanges();
  let snapshotOffset = -1;
  let snapshotBytes = 0;
  let bytesSinceSnapshot = 0;
  const end = log.logEndOffset;
  let offset: number = log.logStartOffset;
  while (offset < end) {
    let chunks: Buffer[];
    try {
      chunks = (await log.read(asOffset(offset), recoveryReadBytes, asOffset(end))).chunks;
    } catch (error) {
      // Step 3 settles the messages of a damaged range; whatever state it held is lost with it.
      if (!(error instanceof CorruptBatchError)) throw error;
      offset = error.damage.lastOffset + 1;
      continue;
    }
    if (chunks.length === 0) throw new Error(`queue recovery: the log returned nothing at offset ${offset} below its end ${end}`);
    for (const chunk of chunks) {
      forEachBatch(chunk, ({ buffer, at, totalBytes }) => {
        offset = readLastOffset(buffer, at) + 1;
        const records = stateRecordsOf(buffer, at, at + totalBytes);
        if (records === null) return;
        const base = readBaseOffset(buffer, at);
        stateOffsets.add(base, base + 1);
        if (startsWithSnapshot(buffer, records.start, records.end)) {
          snapshotOffset = base;
          snapshotBytes = totalBytes;
          bytesSinceSnapshot = 0;
        }
        bytesSinceSnapshot += totalBytes;
        replay.apply(buffer, records.start, records.end);
      });
    }
  }
  return { stateOffsets, start: { snapshotOffset, snapshotBytes, bytesSinceSnapshot } };
}
