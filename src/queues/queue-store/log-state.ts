import { batchHeaderBytes, controlBit, isControl, readRecordsCount, readZigzag, recordsAt, writeBatchHeader, writeZigzag, zigzagBytes } from '../../protocol/kafka/batch-header.js';
import type { DispositionSnapshot } from './dispositions.js';
import { StateRecordWriter, type StateRecordWriterOptions, type StateSource } from './state-record-writer.js';
import { snapshotRecords, type StateReplay } from './state-records.js';

/**
 * A durable queue's dispositions kept in its own log (DESIGN.md decision 11: a queue is a log plus
 * its dispositions): the state records of state-records.ts, group-committed into **state batches**
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
 *                  valueLength varint │ value: state records (state-records.ts), back to back │
 *                  headerCount 0
 *
 * The offset a state batch takes is settled from the moment it is appended (Dispositions.occupied):
 * it is no message. Replay (queue-store.ts, at open): the state batches from the log start, in
 * order, through a StateReplay; a snapshot record replaces what came before it, so segments
 * wholly below both the latest durable snapshot and the first unsettled message may be deleted.
 *
 * Writing (LogStateWriter, a StateRecordWriter like the state file's StateLog): settles are
 * coalesced into ranges and written once per event-loop turn as one state batch (not awaited by
 * anyone), durable with the log's next flush cycle; the delivered mark rides along, and is written
 * in the cycle after the cursor moved; truncation records keep their place
 * among the settles. A snapshot batch (the whole state, then a returned record per message with a
 * return count) is appended when the state batches since the last one pass compactionMinBytes and
 * twice the snapshot, when the snapshot is what holds back the deletion of settled segments
 * (snapshotHoldsBack), at every open (after recovery), and on request.
 */

/** Control record type of a state batch ("OQ"); Kafka's own control types are small numbers. */
export const stateControlType = 0x4f51;
const controlKeyBytes = 4;

/** Encodes state records (each sealed, as state-records.ts makes them) as one state batch, baseOffset 0. */
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

export interface LogStateOptions extends StateRecordWriterOptions {
  readonly clock: { nowMs(): number };
  /**
   * Called after each cycle made the state durable: settledBelow as that cycle wrote it, and the
   * offset of the latest durable snapshot batch (segments wholly below both may go).
   */
  readonly onDurable?: (settledBelow: number, snapshotOffset: number) => void;
  /** Whether a snapshot at `snapshotOffset` is what keeps a segment's worth of settled messages on disk. */
  readonly snapshotHoldsBack?: (settledBelow: number, snapshotOffset: number) => boolean;
}

/** Where the replayed state stood in the log, for the writer to go on from. */
export interface LogStateStart {
  /** Offset of the latest snapshot batch; −1 when the log holds none. */
  readonly snapshotOffset: number;
  readonly snapshotBytes: number;
  /** Bytes of state batches from the latest snapshot batch on (all of them when there is none). */
  readonly bytesSinceSnapshot: number;
}

export class LogStateWriter extends StateRecordWriter {
  private snapshotOffset: number;

  constructor(
    source: StateSource,
    private readonly appender: StateAppender,
    private readonly logOptions: LogStateOptions,
    start: LogStateStart,
  ) {
    super(source, logOptions, { deliveredBelow: source.deliveredBelow, snapshotBytes: start.snapshotBytes, bytesSinceSnapshot: start.bytesSinceSnapshot });
    this.snapshotOffset = start.snapshotOffset;
  }

  /** Offset of the latest durable snapshot batch (−1: none yet). */
  get latestSnapshotOffset(): number {
    return this.snapshotOffset;
  }

  /** The log lost every offset from endOffset on: a snapshot batch among them is gone too. */
  override recordTruncated(endOffset: number): void {
    super.recordTruncated(endOffset);
    this.snapshotOffset = this.snapshotOffset >= endOffset ? -1 : this.snapshotOffset;
  }

  /** One state batch, durable with the log's next cycle. */
  protected async appendRecords(records: readonly Buffer[]): Promise<number> {
    const batch = encodeStateBatch(records, this.logOptions.clock.nowMs());
    await this.appender.appendState(batch).durable;
    return batch.length;
  }

  /** A state batch holding the snapshot; from its offset on, the log holds the whole state. */
  protected async appendSnapshot(snapshot: DispositionSnapshot): Promise<number> {
    const batch = encodeStateBatch(snapshotRecords(snapshot), this.logOptions.clock.nowMs());
    const appended = this.appender.appendState(batch);
    await appended.durable;
    this.snapshotOffset = appended.offset;
    return batch.length;
  }

  /**
   * Besides the growth that every writer snapshots on: when the log holds no snapshot, and when the
   * snapshot is what holds back the deletion of settled segments.
   */
  protected override snapshotWanted(settledBelow: number): boolean {
    return this.snapshotOffset < 0 || (this.logOptions.snapshotHoldsBack?.(settledBelow, this.snapshotOffset) ?? false);
  }

  protected durable(settledBelow: number): void {
    this.logOptions.onDurable?.(settledBelow, this.snapshotOffset);
  }
}
