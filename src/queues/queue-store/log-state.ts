import type { Logger } from '../../logging/logger.js';
import { batchHeaderBytes, controlBit, isControl, readRecordsCount, readZigzag, recordsAt, writeBatchHeader, writeZigzag, zigzagBytes } from '../../protocol/kafka/batch-header.js';
import type { StateSource } from './state-log.js';
import { defaultCompactionMinBytes, defaultDeliveredMarkDelayMs, deliveredRecord, returnedRecord, settledRecord, snapshotRecords, truncatedRecord, type StateReplay } from './state-log.js';
import { OffsetRanges } from './offset-ranges.js';

/**
 * A durable queue's dispositions kept in its own log (DESIGN.md decision 11: a queue is a log plus
 * its dispositions): the state records of state-log.ts, group-committed into **state batches**
 * appended to the queue's partition log between its messages. So the log alone holds everything a
 * queue is, and whatever copies the log (a follower's replica fetch in a cluster) copies the
 * queue's state with it, in the same order as its messages; and a queue's settles ride the same
 * group-committed fdatasync as its messages instead of a state file's own.
 *
 * A state batch is a v2 control batch (attributes: the control bit only, so Kafka clients reading
 * the log skip it as they skip transaction markers) holding one record:
 *
 *   batch header   baseOffset (the log sets it), attributes 0x20 (control), lastOffsetDelta 0,
 *                  baseTimestamp = maxTimestamp = the broker's clock, producerId −1, producerEpoch −1,
 *                  baseSequence −1, recordsCount 1
 *   record         length varint │ attributes 0 │ timestampDelta 0 │ offsetDelta 0 │
 *                  keyLength 4 │ key: version int16 = 0, type int16 = 0x4f51 ("OQ", queue state) │
 *                  valueLength varint │ value: state records (state-log.ts, "record"), back to back │
 *                  headerCount 0
 *
 * The offset a state batch takes is settled from the moment it is appended (Dispositions.occupied):
 * it is no message. Replay (queue-store.ts, at open): the state batches from the log start, in
 * order, through a StateReplay; a snapshot record replaces what came before it, so segments
 * wholly below both the latest durable snapshot and the first unsettled message may be deleted.
 *
 * Writing mirrors the state file's StateLog: settles are coalesced into ranges and written once
 * per event-loop turn (not awaited by anyone); the delivered mark rides along, and is written at
 * the latest deliveredMarkDelayMs after the cursor moved; truncation records keep their place
 * among the settles. A snapshot batch (the whole state, then a returned record per message with a
 * return count) is appended when the state batches since the last one pass compactionMinBytes and
 * twice the snapshot, when the snapshot is what holds back the deletion of settled segments
 * (snapshotHoldsBack), at every open (after recovery), and on request.
 */

/** Control record type of a state batch ("OQ"); Kafka's own control types are small numbers. */
export const stateControlType = 0x4f51;
const controlKeyBytes = 4;

/** Encodes state records (each sealed, as state-log.ts writes them) as one state batch, baseOffset 0. */
export function encodeStateBatch(records: readonly Buffer[], timestampMs: number): Buffer {
  let valueBytes = 0;
  for (const record of records) valueBytes += record.length;
  // attributes, timestampDelta, offsetDelta, keyLength (zigzag 4 = 8), key, valueLength, value, headerCount
  const recordBytes = 4 + controlKeyBytes + zigzagBytes(valueBytes) + valueBytes + 1;
  const batch = Buffer.allocUnsafe(batchHeaderBytes + zigzagBytes(recordBytes) + recordBytes);
  let position = writeZigzag(batch, batchHeaderBytes, recordBytes);
  batch[position++] = 0; // attributes
  batch[position++] = 0; // timestampDelta
  batch[position++] = 0; // offsetDelta
  batch[position++] = controlKeyBytes * 2; // keyLength, zigzag
  batch.writeInt16BE(0, position);
  batch.writeUInt16BE(stateControlType, position + 2);
  position += controlKeyBytes;
  position = writeZigzag(batch, position, valueBytes);
  for (const record of records) position += record.copy(batch, position);
  batch[position++] = 0; // headerCount
  if (position !== batch.length) throw new Error(`state batch encoder: wrote ${position} of ${batch.length} bytes`);
  writeBatchHeader(batch, {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    attributes: controlBit,
    recordsCount: 1,
    baseTimestampMs: timestampMs,
    maxTimestampMs: timestampMs,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
  });
  return batch;
}

/**
 * The state records of the batch at `at` (whole, its CRC checked by whoever read it), as
 * [start, end) in `buffer`; null when it is not a state batch (a message, another control batch).
 */
export function stateRecordsOf(buffer: Buffer, at: number, end: number): { start: number; end: number } | null {
  if (!isControl(buffer, at) || readRecordsCount(buffer, at) !== 1) return null;
  const cursor = { at: at + recordsAt };
  const length = readZigzag(buffer, cursor, end, 5);
  if (length === null || length < 0 || cursor.at + length > end) return null;
  const recordEnd = cursor.at + length;
  cursor.at += 3; // attributes, timestampDelta 0, offsetDelta 0 (one byte each, as written above)
  const keyLength = readZigzag(buffer, cursor, recordEnd, 5);
  if (keyLength !== controlKeyBytes || cursor.at + controlKeyBytes > recordEnd) return null;
  if (buffer.readUInt16BE(cursor.at + 2) !== stateControlType) return null;
  cursor.at += controlKeyBytes;
  const valueLength = readZigzag(buffer, cursor, recordEnd, 5);
  if (valueLength === null || valueLength < 0 || cursor.at + valueLength > recordEnd) return null;
  return { start: cursor.at, end: cursor.at + valueLength };
}

/** Applies the state batch at `at` to `replay`; false when it is not a state batch. */
export function replayStateBatch(replay: StateReplay, buffer: Buffer, at: number, end: number): boolean {
  const records = stateRecordsOf(buffer, at, end);
  if (records === null) return false;
  replay.apply(buffer, records.start, records.end);
  return true;
}

/** How the writer appends to the queue's log (the store marks the offset as no message). */
export interface StateAppender {
  appendState(batch: Buffer): { readonly offset: number; readonly durable: Promise<void> };
}

export interface LogStateOptions {
  readonly logger: Logger;
  readonly clock: { nowMs(): number };
  readonly compactionMinBytes?: number;
  readonly deliveredMarkDelayMs?: number;
  /**
   * Called after each cycle made the state durable: settledBelow as that cycle wrote it, and the
   * offset of the latest durable snapshot batch (segments wholly below both may go).
   */
  readonly onDurable?: (settledBelow: number, snapshotOffset: number) => void;
  /** Whether a snapshot at `snapshotOffset` is what keeps a segment's worth of settled messages on disk. */
  readonly snapshotHoldsBack?: (settledBelow: number, snapshotOffset: number) => boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Where the replayed state stood in the log, for the writer to go on from. */
export interface LogStateStart {
  /** Offset of the latest snapshot batch; −1 when the log holds none. */
  readonly snapshotOffset: number;
  readonly snapshotBytes: number;
  /** Bytes of state batches from the latest snapshot batch on (all of them when there is none). */
  readonly bytesSinceSnapshot: number;
}

export class LogStateWriter {
  private readonly pendingSettles = new OffsetRanges();
  /** Return counts to write: the latest of each offset. */
  private readonly pendingReturns = new Map<number, number>();
  /** Records already serialized, in order (settles go here before a truncation record). */
  private pendingRecords: Buffer[] = [];
  private waiters: Waiter[] = [];
  private writtenDeliveredBelow: number;
  private markDue = false;
  private markTimer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private running: Promise<void> | null = null;
  private closed = false;
  private readonly compactionMinBytes: number;
  private readonly deliveredMarkDelayMs: number;
  private compactions = 0;
  private compactionRequested = false;
  private snapshotOffset: number;
  private snapshotBytes: number;
  private bytesSinceSnapshot: number;

  constructor(
    private readonly source: StateSource,
    private readonly appender: StateAppender,
    private readonly options: LogStateOptions,
    start: LogStateStart,
  ) {
    this.compactionMinBytes = options.compactionMinBytes ?? defaultCompactionMinBytes;
    this.deliveredMarkDelayMs = options.deliveredMarkDelayMs ?? defaultDeliveredMarkDelayMs;
    this.writtenDeliveredBelow = source.deliveredBelow;
    this.snapshotOffset = start.snapshotOffset;
    this.snapshotBytes = start.snapshotBytes;
    this.bytesSinceSnapshot = start.bytesSinceSnapshot;
  }

  /** Bytes of state batches in the log from the latest snapshot on. */
  get sizeBytes(): number {
    return this.bytesSinceSnapshot;
  }

  get compactionCount(): number {
    return this.compactions;
  }

  /** Offset of the latest durable snapshot batch (−1: none yet). */
  get latestSnapshotOffset(): number {
    return this.snapshotOffset;
  }

  recordSettled(start: number, end: number): void {
    this.pendingSettles.add(start, end);
    this.schedule();
  }

  recordReturned(offset: number, count: number): void {
    this.pendingReturns.set(offset, count);
    this.schedule();
  }

  /**
   * The log lost every offset from endOffset on. Settles recorded before it may be of messages cut
   * away, whose offsets new messages take: the truncation record after them voids them at replay.
   */
  recordTruncated(endOffset: number): void {
    this.movePendingSettlesToRecords();
    this.pendingRecords.push(truncatedRecord(endOffset));
    this.writtenDeliveredBelow = Math.min(this.writtenDeliveredBelow, endOffset);
    this.snapshotOffset = this.snapshotOffset >= endOffset ? -1 : this.snapshotOffset;
    this.schedule();
  }

  /** The cursor moved: the delivered mark goes with the next cycle, or after deliveredMarkDelayMs. */
  recordDeliveredMoved(): void {
    if (this.markTimer !== null || this.closed || this.source.deliveredBelow <= this.writtenDeliveredBelow) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = null;
      this.markDue = true;
      this.schedule();
    }, this.deliveredMarkDelayMs);
    this.markTimer.unref();
  }

  /** Resolves once everything recorded before the call (and the delivered mark) is durable in the log. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.markDue = true;
      this.schedule();
    });
  }

  /** Appends a snapshot of the live state now (normally done by the cycles; see above). */
  compact(): Promise<void> {
    this.compactionRequested = true;
    return this.flush();
  }

  /** Flushes, then stops writing (the store closes the log after). */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.markTimer !== null) clearTimeout(this.markTimer);
      this.markTimer = null;
      await this.running;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.running !== null || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === null) this.running = this.runCycles();
    });
  }

  private hasWork(): boolean {
    return this.pendingSettles.rangeCount > 0 || this.pendingReturns.size > 0 || this.pendingRecords.length > 0 || this.waiters.length > 0 || (this.markDue && this.source.deliveredBelow > this.writtenDeliveredBelow);
  }

  private async runCycles(): Promise<void> {
    // Asynchronous from the start: `running` is assigned before the finally below can clear it.
    await null;
    try {
      while (!this.closed || this.waiters.length > 0) {
        if (!this.hasWork()) break;
        await this.cycle();
      }
    } catch (error) {
      // The records stay pending; the next settle (or flush) tries again.
      this.options.logger.error('queue state write to the log failed; retried with the next change', { error: (error as Error).message });
    } finally {
      this.running = null;
    }
  }

  /** One group commit: the pending records in one state batch, durable with the log's next cycle; then a snapshot when due. */
  private async cycle(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    const records = this.takePendingRecords();
    const settledBelow = this.source.settledBelow;
    if (records.length > 0) {
      const batch = encodeStateBatch(records, this.options.clock.nowMs());
      try {
        await this.appender.appendState(batch).durable;
      } catch (error) {
        this.pendingRecords = [...records, ...this.pendingRecords];
        for (const waiter of waiters) waiter.reject(error as Error);
        throw error;
      }
      this.bytesSinceSnapshot += batch.length;
    }
    this.options.onDurable?.(settledBelow, this.snapshotOffset);
    const grown = this.bytesSinceSnapshot > this.compactionMinBytes && this.bytesSinceSnapshot > 2 * this.snapshotBytes;
    const holdsBack = this.options.snapshotHoldsBack?.(settledBelow, this.snapshotOffset) ?? false;
    if (grown || holdsBack || this.compactionRequested || this.snapshotOffset < 0) {
      this.compactionRequested = false;
      await this.snapshotNow();
    }
    for (const waiter of waiters) waiter.resolve();
  }

  /** Serializes the pending settles (coalesced), the delivered mark when due, and earlier records. */
  private takePendingRecords(): Buffer[] {
    this.movePendingSettlesToRecords();
    const records = this.pendingRecords;
    this.pendingRecords = [];
    const deliveredBelow = this.source.deliveredBelow;
    if (deliveredBelow > this.writtenDeliveredBelow && (this.markDue || records.length > 0)) {
      records.push(deliveredRecord(deliveredBelow));
      this.writtenDeliveredBelow = deliveredBelow;
    }
    this.markDue = false;
    return records;
  }

  private movePendingSettlesToRecords(): void {
    this.pendingSettles.forEach((start, end) => this.pendingRecords.push(settledRecord(start, end)));
    this.pendingSettles.clear();
    for (const [offset, count] of this.pendingReturns) this.pendingRecords.push(returnedRecord(offset, count));
    this.pendingReturns.clear();
  }

  /**
   * Appends a snapshot of the live state, which covers every record pending now (they are dropped;
   * put back if the append fails).
   */
  private async snapshotNow(): Promise<void> {
    const superseded = this.takePendingRecords();
    const previousMark = this.writtenDeliveredBelow;
    const snapshot = this.source.snapshot();
    const batch = encodeStateBatch(snapshotRecords(snapshot), this.options.clock.nowMs());
    try {
      const appended = this.appender.appendState(batch);
      await appended.durable;
      this.snapshotOffset = appended.offset;
      this.snapshotBytes = batch.length;
      this.bytesSinceSnapshot = batch.length;
      this.writtenDeliveredBelow = Math.max(this.writtenDeliveredBelow, snapshot.deliveredBelow);
      this.compactions++;
      this.options.onDurable?.(snapshot.settledBelow, this.snapshotOffset);
    } catch (error) {
      this.pendingRecords = [...superseded, ...this.pendingRecords];
      this.writtenDeliveredBelow = previousMark;
      this.options.logger.warn('queue state snapshot could not be appended; retried with the next cycle', { error: (error as Error).message });
    }
  }
}
