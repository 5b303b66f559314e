import { crc32c } from '@node-rs/crc32';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import { defaultSyncFile, syncDirectory, type SyncFile } from '../../storage/segment.js';
import type { DispositionSnapshot } from './dispositions.js';
import { OffsetRanges } from './offset-ranges.js';

/**
 * State records, and the state file made of them: the durable half of a delayed exchange's
 * dispositions (delayed/delayed-store.ts), and of a queue's before queues kept them in their own
 * log (log-state.ts, which writes the same records into state batches and replays them with
 * StateReplay below). `dispositions.state` beside the log is an append-only file of small CRC'd
 * records. Big-endian:
 *
 *   file header   0  magic           4 bytes  "OQSL"
 *                 4  formatVersion   uint16   1
 *                 6  reserved        uint16   0
 *   record        0  crc             uint32   CRC-32C of bytes 4 .. end of the record
 *                 4  length          uint32   bytes after this field (type + payload), ≥ 1
 *                 8  type            uint8
 *                 9  payload:
 *     1 snapshot    settledBelow int64 │ deliveredBelow int64 │ rangeCount uint32 │
 *                   rangeCount × (start int64 │ end int64)      the whole state; replaces what came before
 *     2 settled     start int64 │ end int64                     offsets [start, end) are settled
 *     3 delivered   deliveredBelow int64                        messages below it may have been delivered
 *     4 truncated   endOffset int64                             the log lost offsets ≥ endOffset: settles
 *                                                               there are void, marks come down to it
 *     5 returned    offset int64 │ count uint32                  the message at offset has been given back
 *                                                               (requeued) count times so far
 *   (int64 values are offsets, < 2^53, written as two uint32 halves)
 *
 * Replay applies the records in order; it stops at the first record that does not fit the file,
 * fails its CRC, or has an unknown type or a payload of the wrong size: a torn write that was never
 * acknowledged (settles are not awaited by anyone). What follows is ignored, and the file is
 * rewritten at open anyway.
 *
 * Writing: settles are coalesced into ranges (an OffsetRanges of pending ones) and written by one
 * cycle per event-loop turn: one write, one fdatasync (group commit; settle() never waits for it).
 * The delivered mark rides along with any cycle, and is written at the latest deliveredMarkDelayMs
 * after the cursor moved. Truncation records keep their place among the settles. Return counts are
 * coalesced too (the latest count of an offset) and written after the settles of their cycle; a
 * count whose offset is settled is dropped when the state is read.
 *
 * Compaction: once the file exceeds compactionMinBytes and twice what a snapshot of the live
 * state takes, the state is written as a snapshot (followed by a returned record for each message
 * that has a return count) to `dispositions.state.tmp`, fsynced, renamed over
 * the file, and the folder fsynced; appends continue in the new file. A crash leaves the old file
 * or the new one, both complete. The same happens at every open, after recovery.
 */

export const stateFileName = 'dispositions.state';
const temporarySuffix = '.tmp';
const magic = Buffer.from('OQSL', 'latin1');
export const stateFormatVersion = 1;
const fileHeaderBytes = 8;
const recordHeaderBytes = 9;
const offsetPairBytes = 16;

const snapshotType = 1;
const settledType = 2;
const deliveredType = 3;
const truncatedType = 4;
const returnedType = 5;

export const defaultCompactionMinBytes = 256 * 1024;
export const defaultDeliveredMarkDelayMs = 100;

export interface ReplayedState {
  readonly settledBelow: number;
  /** Settled ranges, not yet normalised against settledBelow. */
  readonly settled: OffsetRanges;
  readonly deliveredBelow: number;
  /** Return counts by offset (some may be of settled offsets). */
  readonly returnCounts: Map<number, number>;
  readonly recordCount: number;
  /** Bytes after the last valid record (a torn write). */
  readonly ignoredBytes: number;
  readonly fileBytes: number;
}

/** What the state log reads from the live dispositions. */
export interface StateSource {
  readonly settledBelow: number;
  readonly deliveredBelow: number;
  snapshot(): DispositionSnapshot;
}

export interface StateLogOptions {
  readonly syncFile?: SyncFile;
  readonly logger: Logger;
  readonly compactionMinBytes?: number;
  readonly deliveredMarkDelayMs?: number;
  /** Called after each cycle made the state durable, with settledBelow as that cycle wrote it. */
  readonly onDurable?: (settledBelow: number) => void;
}

function writeOffset(buffer: Buffer, at: number, value: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  buffer.writeUInt32BE(value % 0x1_0000_0000, at + 4);
}

function readOffset(buffer: Buffer, at: number): number {
  return buffer.readUInt32BE(at) * 0x1_0000_0000 + buffer.readUInt32BE(at + 4);
}

/** A record with `payloadBytes` of payload, its header written; the caller fills the payload and calls sealRecord. */
function newRecord(type: number, payloadBytes: number): Buffer {
  const record = Buffer.allocUnsafe(recordHeaderBytes + payloadBytes);
  record.writeUInt32BE(1 + payloadBytes, 4);
  record[8] = type;
  return record;
}

function sealRecord(record: Buffer): Buffer {
  record.writeUInt32BE(crc32c(record.subarray(4)), 0);
  return record;
}

export function settledRecord(start: number, end: number): Buffer {
  const record = newRecord(settledType, 16);
  writeOffset(record, 9, start);
  writeOffset(record, 17, end);
  return sealRecord(record);
}

export function deliveredRecord(deliveredBelow: number): Buffer {
  const record = newRecord(deliveredType, 8);
  writeOffset(record, 9, deliveredBelow);
  return sealRecord(record);
}

export function truncatedRecord(endOffset: number): Buffer {
  const record = newRecord(truncatedType, 8);
  writeOffset(record, 9, endOffset);
  return sealRecord(record);
}

export function returnedRecord(offset: number, count: number): Buffer {
  const record = newRecord(returnedType, 12);
  writeOffset(record, 9, offset);
  record.writeUInt32BE(Math.min(count, 0xffff_ffff), 17);
  return sealRecord(record);
}

export function snapshotRecord(snapshot: DispositionSnapshot): Buffer {
  const rangeCount = snapshot.settledRanges.length / 2;
  const record = newRecord(snapshotType, 20 + rangeCount * offsetPairBytes);
  writeOffset(record, 9, snapshot.settledBelow);
  writeOffset(record, 17, snapshot.deliveredBelow);
  record.writeUInt32BE(rangeCount, 25);
  for (let index = 0; index < snapshot.settledRanges.length; index++) writeOffset(record, 29 + index * 8, snapshot.settledRanges[index]!);
  return sealRecord(record);
}

/** Whether the records at `position` begin with a snapshot (which replaces all state before it). */
export function startsWithSnapshot(bytes: Buffer, position: number, end: number): boolean {
  return end - position > recordHeaderBytes && bytes[position + 8] === snapshotType;
}

/** The whole state: a snapshot record, then a returned record for each message with a return count. */
export function snapshotRecords(snapshot: DispositionSnapshot): Buffer[] {
  const records = [snapshotRecord(snapshot)];
  const counts = snapshot.returnCounts;
  for (let index = 0; index + 1 < counts.length; index += 2) records.push(returnedRecord(counts[index]!, counts[index + 1]!));
  return records;
}

export function fileHeader(): Buffer {
  const header = Buffer.alloc(fileHeaderBytes);
  magic.copy(header, 0);
  header.writeUInt16BE(stateFormatVersion, 4);
  return header;
}

/**
 * The state as records replay it, in order (a snapshot replaces what came before). Shared by the
 * state file (replayState) and by queues that keep their state records in their log (log-state.ts).
 */
export class StateReplay {
  settledBelow = 0;
  deliveredBelow = 0;
  settled = new OffsetRanges();
  returnCounts = new Map<number, number>();
  recordCount = 0;

  /**
   * Applies the records in bytes [start, end); returns where it stopped: `end`, or the first
   * record that does not fit, fails its CRC, or has an unknown type or a payload of the wrong size.
   */
  apply(bytes: Buffer, start: number, end: number): number {
    let position = start;
    while (end - position >= recordHeaderBytes) {
      const length = bytes.readUInt32BE(position + 4);
      const recordEnd = position + 8 + length;
      if (length < 1 || recordEnd > end) break;
      if (crc32c(bytes.subarray(position + 4, recordEnd)) !== bytes.readUInt32BE(position)) break;
      if (!this.applyRecord(bytes, bytes[position + 8]!, position + recordHeaderBytes, length - 1)) break;
      this.recordCount++;
      position = recordEnd;
    }
    return position;
  }

  /** False for an unknown type or a payload of the wrong size. */
  private applyRecord(bytes: Buffer, type: number, payload: number, payloadBytes: number): boolean {
    if (type === snapshotType) {
      if (payloadBytes < 20) return false;
      const rangeCount = bytes.readUInt32BE(payload + 16);
      if (payloadBytes !== 20 + rangeCount * offsetPairBytes) return false;
      this.settledBelow = readOffset(bytes, payload);
      this.deliveredBelow = readOffset(bytes, payload + 8);
      this.settled = new OffsetRanges();
      this.returnCounts = new Map();
      for (let index = 0; index < rangeCount; index++) this.settled.add(readOffset(bytes, payload + 20 + index * 16), readOffset(bytes, payload + 28 + index * 16));
    } else if (type === settledType && payloadBytes === 16) {
      this.settled.add(readOffset(bytes, payload), readOffset(bytes, payload + 8));
    } else if (type === deliveredType && payloadBytes === 8) {
      this.deliveredBelow = Math.max(this.deliveredBelow, readOffset(bytes, payload));
    } else if (type === truncatedType && payloadBytes === 8) {
      const endOffset = readOffset(bytes, payload);
      this.settled.removeFrom(endOffset);
      this.settledBelow = Math.min(this.settledBelow, endOffset);
      this.deliveredBelow = Math.min(this.deliveredBelow, endOffset);
      for (const offset of [...this.returnCounts.keys()]) if (offset >= endOffset) this.returnCounts.delete(offset);
    } else if (type === returnedType && payloadBytes === 12) {
      this.returnCounts.set(readOffset(bytes, payload), bytes.readUInt32BE(payload + 8));
    } else {
      return false;
    }
    return true;
  }
}

/** Replays the bytes of a state file (see the format above). Throws when it is not one of ours. */
export function replayState(file: Buffer): ReplayedState {
  const replay = new StateReplay();
  const empty = (ignoredBytes: number): ReplayedState => ({ settledBelow: 0, settled: new OffsetRanges(), deliveredBelow: 0, returnCounts: new Map(), recordCount: 0, ignoredBytes, fileBytes: file.length });
  if (file.length < fileHeaderBytes) return empty(file.length);
  if (!file.subarray(0, 4).equals(magic)) throw new Error('not a queue state file (magic)');
  const version = file.readUInt16BE(4);
  if (version !== stateFormatVersion) throw new Error(`queue state file format ${version} is not supported (expected ${stateFormatVersion})`);
  const position = replay.apply(file, fileHeaderBytes, file.length);
  const { settledBelow, settled, deliveredBelow, returnCounts, recordCount } = replay;
  return { settledBelow, settled, deliveredBelow, returnCounts, recordCount, ignoredBytes: file.length - position, fileBytes: file.length };
}

/** The state file of the queue in `directory`, replayed; an empty state when there is none. */
export async function readStateFile(directory: string, logger: Logger): Promise<ReplayedState> {
  let file: Buffer;
  try {
    file = await readFile(join(directory, stateFileName));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { settledBelow: 0, settled: new OffsetRanges(), deliveredBelow: 0, returnCounts: new Map(), recordCount: 0, ignoredBytes: 0, fileBytes: 0 };
  }
  const replayed = replayState(file);
  if (replayed.ignoredBytes > 0) logger.warn('queue state file: torn tail ignored', { directory, ignoredBytes: replayed.ignoredBytes, recordCount: replayed.recordCount });
  return replayed;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class StateLog {
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
  private readonly syncFile: SyncFile;
  private readonly compactionMinBytes: number;
  private readonly deliveredMarkDelayMs: number;
  private compactions = 0;
  private compactionRequested = false;

  private constructor(
    readonly directory: string,
    private handle: FileHandle,
    private position: number,
    private lastSnapshotBytes: number,
    private readonly source: StateSource,
    private readonly options: StateLogOptions,
    deliveredBelow: number,
  ) {
    this.syncFile = options.syncFile ?? defaultSyncFile;
    this.compactionMinBytes = options.compactionMinBytes ?? defaultCompactionMinBytes;
    this.deliveredMarkDelayMs = options.deliveredMarkDelayMs ?? defaultDeliveredMarkDelayMs;
    this.writtenDeliveredBelow = deliveredBelow;
  }

  /** Writes a new state file holding the source's snapshot (replacing any other atomically) and opens it for appends. */
  static async create(directory: string, source: StateSource, options: StateLogOptions): Promise<StateLog> {
    const snapshot = source.snapshot();
    const { handle, bytes } = await writeSnapshotFile(directory, snapshot, options.syncFile ?? defaultSyncFile, options.logger);
    return new StateLog(directory, handle, bytes, bytes, source, options, snapshot.deliveredBelow);
  }

  /** Bytes in the file. */
  get sizeBytes(): number {
    return this.position;
  }

  get compactionCount(): number {
    return this.compactions;
  }

  recordSettled(start: number, end: number): void {
    this.pendingSettles.add(start, end);
    this.schedule();
  }

  recordReturned(offset: number, count: number): void {
    this.pendingReturns.set(offset, count);
    this.schedule();
  }

  recordTruncated(endOffset: number): void {
    this.movePendingSettlesToRecords();
    this.pendingRecords.push(truncatedRecord(endOffset));
    this.writtenDeliveredBelow = Math.min(this.writtenDeliveredBelow, endOffset);
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

  /** Resolves once everything recorded before the call (and the delivered mark) is fsynced. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.markDue = true;
      this.schedule();
    });
  }

  /** Writes the live state as a snapshot now (normally done by the cycles when the file has grown). */
  compact(): Promise<void> {
    this.compactionRequested = true;
    return this.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.markTimer !== null) clearTimeout(this.markTimer);
      this.markTimer = null;
      await this.running;
      await this.handle.close();
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
      // The records stay pending; the next settle (or flush) tries again, at the same position.
      this.options.logger.error('queue state log write failed; retried with the next change', { directory: this.directory, error: (error as Error).message });
    } finally {
      this.running = null;
    }
  }

  /** One group commit: the pending records in one write, one fdatasync; then compaction when due. */
  private async cycle(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    const records = this.takePendingRecords();
    const settledBelow = this.source.settledBelow;
    if (records.length > 0) {
      const bytes = records.length === 1 ? records[0]! : Buffer.concat(records);
      try {
        await this.handle.write(bytes, 0, bytes.length, this.position);
        await this.syncFile(this.handle, 'checkpoint');
      } catch (error) {
        this.pendingRecords = [...records, ...this.pendingRecords];
        for (const waiter of waiters) waiter.reject(error as Error);
        throw error;
      }
      this.position += bytes.length;
    }
    this.options.onDurable?.(settledBelow);
    const grown = this.position > this.compactionMinBytes && this.position > 2 * this.lastSnapshotBytes;
    if (grown || this.compactionRequested) {
      this.compactionRequested = false;
      await this.compactNow();
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
   * Replaces the file with a snapshot of the live state, which covers every record pending now
   * (they are dropped; put back if the compaction fails).
   */
  private async compactNow(): Promise<void> {
    const superseded = this.takePendingRecords();
    const previousMark = this.writtenDeliveredBelow;
    const snapshot = this.source.snapshot();
    try {
      const { handle, bytes } = await writeSnapshotFile(this.directory, snapshot, this.syncFile, this.options.logger);
      const old = this.handle;
      this.handle = handle;
      this.position = bytes;
      this.lastSnapshotBytes = bytes;
      this.writtenDeliveredBelow = snapshot.deliveredBelow;
      this.compactions++;
      await old.close();
      this.options.onDurable?.(snapshot.settledBelow);
    } catch (error) {
      this.pendingRecords = [...superseded, ...this.pendingRecords];
      this.writtenDeliveredBelow = previousMark;
      this.options.logger.warn('queue state log compaction failed; the file keeps growing until it succeeds', { directory: this.directory, error: (error as Error).message });
    }
  }
}

/**
 * Writes header + snapshot to the .tmp file, fsyncs it, renames it over the state file and fsyncs
 * the folder; returns the new file, open. Once renamed, the new file is the state file whatever
 * follows: a failed folder fsync is only reported.
 */
async function writeSnapshotFile(directory: string, snapshot: DispositionSnapshot, syncFile: SyncFile, logger: Logger): Promise<{ handle: FileHandle; bytes: number }> {
  const path = join(directory, stateFileName);
  const temporaryPath = path + temporarySuffix;
  const bytes = Buffer.concat([fileHeader(), ...snapshotRecords(snapshot)]);
  const handle = await open(temporaryPath, 'w+', 0o644);
  try {
    await handle.write(bytes, 0, bytes.length, 0);
    await syncFile(handle, 'checkpoint');
    await rename(temporaryPath, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temporaryPath, { force: true }).catch(() => {});
    throw error;
  }
  try {
    await syncDirectory(directory, syncFile);
  } catch (error) {
    logger.warn('queue state snapshot renamed, but fsync of its folder failed', { directory, error: (error as Error).message });
  }
  return { handle, bytes: bytes.length };
}
