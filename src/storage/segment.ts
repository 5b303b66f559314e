import { strict as assert } from 'node:assert';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  batchHeaderBytes,
  batchTotalBytes,
  describeHeaderFieldProblem,
  noTimestamp,
  readAttributes,
  readBaseOffset,
  readLastOffsetDelta,
  readMaxTimestamp,
} from '../protocol/kafka/batch-header.js';
import type { DamagedRange } from './errors.js';
import { OffsetIndex, offsetIndexEntryBytes } from './offset-index.js';
import { TimeIndex, timeIndexEntryBytes } from './time-index.js';
import { unlimitedOpenSegmentFiles, type OpenSegmentFiles, type SegmentFileHolder } from './open-segment-files.js';
import { allocateUnpooled, type ReadAllocator } from './read-buffers.js';
import { unlimitedSegmentIndexes, type SegmentIndexCache, type SegmentIndexHolder } from './segment-index-cache.js';

/**
 * One segment of a partition log:
 *
 *   <dir>/00000000000000012345.log        record batches, back to back, exactly as on the wire
 *   <dir>/00000000000000012345.index      sparse offset index (offset-index.ts)
 *   <dir>/00000000000000012345.timeindex  sparse time index (time-index.ts)
 *
 * The name is the segment's base offset (the first offset it may hold), zero-padded to 20 digits.
 *
 *   .log:  ┌─ batch ─────────────┬─ batch ────────┬─ batch ───────────────────┬ …
 *          │ baseOffset = base   │ prev last + 1  │ prev last + 1             │
 *          └─────────────────────┴────────────────┴───────────────────────────┴ …
 *          position 0                                                         sizeBytes
 *
 * Offsets inside a segment are contiguous: each batch starts at the previous batch's last offset + 1.
 * The segment tracks two sizes: `sizeBytes` counts every batch assigned to it (some may still be
 * queued for writing), `writtenBytes` only those handed to the operating system. Reads never go
 * past `writtenBytes`.
 *
 * A segment may hold damaged stretches (bytes that fail validation but stood for acknowledged
 * offsets, see segment-scan.ts): they are kept on disk, listed in `damage`, skipped by header walks,
 * and never served.
 *
 * A sealed segment's indexes may be dropped from memory (segment-index-cache.ts): lookups on the
 * read path load them back from the files first (loadIndexes); any other use of `offsetIndex` or
 * `timeIndex` reads them back synchronously.
 */

export const logSuffix = '.log';
export const offsetIndexSuffix = '.index';
export const timeIndexSuffix = '.timeindex';
const headerScanBlockBytes = 16 * 1024;

export type SyncKind = 'log' | 'index' | 'checkpoint' | 'directory';
/** fsync/fdatasync, injectable so tests can count or fail them. */
export type SyncFile = (handle: FileHandle, kind: SyncKind) => Promise<void>;
export const defaultSyncFile: SyncFile = (handle) => handle.datasync();

export async function syncDirectory(directory: string, syncFile: SyncFile = defaultSyncFile): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await syncFile(handle, 'directory');
  } finally {
    await handle.close();
  }
}

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** Base offset from a file name like 00000000000000000042.log; null if it is not one of ours. */
export function parseSegmentFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null;
  const stem = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(stem)) return null;
  const value = Number(stem);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * The accounting of a segment at the end of one batch: what a rollback restores when the batches
 * after it could not be written (flush.ts). Taken after every append; a few numbers, no I/O.
 */
export interface SegmentTail {
  readonly sizeBytes: number;
  readonly nextOffset: number;
  readonly maxTimestamp: number;
  readonly offsetOfMaxTimestamp: number;
  readonly bytesSinceIndexEntry: number;
}

/** What a walk over batch headers on disk reports for each batch. */
export interface BatchHeader {
  position: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  attributes: number;
  totalBytes: number;
}

/** A batch found by a scan, with the bytes the scan read from its first byte on (whole or not). */
export interface FoundBatch {
  header: BatchHeader;
  bytes: Buffer;
}

export class Segment implements SegmentFileHolder, SegmentIndexHolder {
  readonly baseOffset: number;
  readonly directory: string;
  /** Bytes assigned to this segment, written or queued. */
  sizeBytes: number;
  /** Bytes written to the file (handed to the OS). */
  writtenBytes: number;
  /** One past the last offset in this segment (== baseOffset when empty). */
  nextOffset: number;
  /** Largest batch maxTimestamp seen, and the base offset of the batch holding it. */
  maxTimestamp = noTimestamp;
  offsetOfMaxTimestamp = -1;
  /** Clock time the segment was created or loaded. */
  readonly createdMs: number;
  /** maxTimestamp of the batch at position 0 (noTimestamp until known): segment.ms counts from it. */
  firstBatchTimestamp = noTimestamp;
  /** Damaged stretches of the file, ascending by position; their offsets are not served. */
  readonly damage: DamagedRange[] = [];
  /** The indexes in memory; null while dropped (sealed segments only, see segment-index-cache.ts). */
  private offsetIndexInMemory: OffsetIndex | null = null;
  private timeIndexInMemory: TimeIndex | null = null;
  /** The read of dropped indexes from their files, while it runs. */
  private indexesLoading: Promise<void> | null = null;
  indexIntervalBytes: number;
  private bytesSinceIndexEntry = 0;
  private isSealed = false;
  /** The broker-wide budget for sealed segments' indexes; the log sets it. */
  private indexCache: SegmentIndexCache = unlimitedSegmentIndexes;
  deleted = false;
  private handle: Promise<FileHandle> | null = null;
  /** Reads, writes and fsyncs in progress on `handle`; it is never closed under them. */
  private fileUsers = 0;
  /** Counts writes; an fsync clears `unsyncedWrites` only if none came while it ran. */
  private writeGeneration = 0;
  private unsyncedWrites = false;
  /** The broker-wide cap on open segment files (open-segment-files.ts); the log sets it. */
  openFiles: OpenSegmentFiles = unlimitedOpenSegmentFiles;
  /**
   * Set by a log whose appends the journal makes durable (journal.ts): its segments hold unsynced
   * writes for long, so to stay within the cap an idle one is fsynced with this, then closed. If that
   * fsync fails, every later sync fails too (the journal then keeps what it holds for the log).
   */
  syncBeforeClosing: SyncFile | null = null;
  private backgroundSyncFailure: Error | null = null;
  /** The .log file may have been created since the directory was last fsynced. */
  private directoryEntryPending = true;

  constructor(directory: string, baseOffset: number, createdMs: number, indexIntervalBytes: number) {
    this.directory = directory;
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.sizeBytes = 0;
    this.writtenBytes = 0;
    this.createdMs = createdMs;
    this.indexIntervalBytes = indexIntervalBytes;
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
  }

  get logPath(): string {
    return join(this.directory, segmentFileName(this.baseOffset, logSuffix));
  }
  get offsetIndexPath(): string {
    return join(this.directory, segmentFileName(this.baseOffset, offsetIndexSuffix));
  }
  get timeIndexPath(): string {
    return join(this.directory, segmentFileName(this.baseOffset, timeIndexSuffix));
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Set once the segment is no longer active and its data and indexes are on stable storage. */
  get sealed(): boolean {
    return this.isSealed;
  }
  set sealed(sealed: boolean) {
    this.isSealed = sealed;
    if (!sealed || this.offsetIndexInMemory === null) return;
    this.offsetIndexInMemory.trimToSize();
    this.timeIndexInMemory?.trimToSize();
    this.indexCache.used(this);
  }

  /** The budget for sealed segments' indexes this segment counts in (segment-index-cache.ts). */
  get indexBudget(): SegmentIndexCache {
    return this.indexCache;
  }
  set indexBudget(cache: SegmentIndexCache) {
    this.indexCache.forget(this);
    this.indexCache = cache;
    if (this.isSealed && this.offsetIndexInMemory !== null) cache.used(this);
  }

  get offsetIndex(): OffsetIndex {
    if (this.offsetIndexInMemory === null) this.loadIndexesNow();
    return this.offsetIndexInMemory!;
  }
  set offsetIndex(index: OffsetIndex) {
    this.offsetIndexInMemory = index;
  }

  get timeIndex(): TimeIndex {
    if (this.timeIndexInMemory === null) this.loadIndexesNow();
    return this.timeIndexInMemory!;
  }
  set timeIndex(index: TimeIndex) {
    this.timeIndexInMemory = index;
  }

  get indexBytes(): number {
    return (this.offsetIndexInMemory?.memoryBytes ?? 0) + (this.timeIndexInMemory?.memoryBytes ?? 0);
  }

  get indexesDroppable(): boolean {
    return this.isSealed && !this.deleted && this.indexesLoading === null && this.indexesPersisted;
  }

  dropIndexes(): void {
    if (!this.indexesDroppable) return;
    this.offsetIndexInMemory = null;
    this.timeIndexInMemory = null;
  }

  /**
   * Makes sure the indexes are in memory before a lookup, reading a sealed segment's dropped
   * indexes back from their files without blocking, and counts the use in the budget.
   */
  async loadIndexes(): Promise<void> {
    if (this.offsetIndexInMemory === null) {
      this.indexesLoading ??= this.readIndexFiles().finally(() => (this.indexesLoading = null));
      await this.indexesLoading;
    }
    if (this.isSealed) this.indexCache.used(this);
  }

  private async readIndexFiles(): Promise<void> {
    const [offsetBytes, timeBytes] = await Promise.all([readFile(this.offsetIndexPath).catch(emptyIfMissing), readFile(this.timeIndexPath).catch(emptyIfMissing)]);
    // Reads of a segment replaced by its cleaned version are refused (file()); so are its indexes, now the new file's.
    if (this.deleted) throw new Error(`segment ${this.baseOffset} was deleted`);
    if (this.offsetIndexInMemory === null) this.installIndexes(offsetBytes, timeBytes);
  }

  /** The synchronous way back for uses off the read path (damage found by a read, maintenance). */
  private loadIndexesNow(): void {
    this.installIndexes(readFileOrEmpty(this.offsetIndexPath), readFileOrEmpty(this.timeIndexPath));
    if (this.isSealed) this.indexCache.used(this);
  }

  /**
   * Index files that no longer parse (changed behind the broker's back since recovery checked
   * them) give empty indexes: lookups then walk the segment's headers from its start, slower but
   * with the same answers, and maxTimestamp is kept outside the time index anyway.
   */
  private installIndexes(offsetBytes: Buffer, timeBytes: Buffer): void {
    this.offsetIndexInMemory = OffsetIndex.decode(offsetBytes, this.sizeBytes) ?? new OffsetIndex(1);
    this.timeIndexInMemory = TimeIndex.decode(timeBytes, this.nextOffset - this.baseOffset) ?? new TimeIndex(1);
  }

  /**
   * When the segment's age for segment.ms starts, for rolls without an incoming batch: its first
   * batch's timestamp, which survives restarts (the clock at load time restarts at every start);
   * the creation time when the batch has no timestamp or one in the future (a producer's clock
   * must not keep a segment forever).
   */
  get rollAgeStartMs(): number {
    return this.firstBatchTimestamp === noTimestamp ? this.createdMs : Math.min(this.firstBatchTimestamp, this.createdMs);
  }

  /**
   * Records a damaged stretch. During recovery (`advance`) it also moves nextOffset past it and
   * makes the next valid batch get an index entry, so lookups beyond the damage start after it.
   */
  recordDamage(range: DamagedRange, advance: boolean): void {
    if (this.damage.some((known) => known.position === range.position)) return;
    this.damage.push(range);
    this.damage.sort((left, right) => left.position - right.position);
    if (!advance) return;
    this.nextOffset = Math.max(this.nextOffset, range.lastOffset + 1);
    this.bytesSinceIndexEntry = this.indexIntervalBytes;
  }

  /** The damaged stretch holding `offset`, if any. */
  damageHolding(offset: number): DamagedRange | undefined {
    if (this.damage.length === 0) return undefined;
    return this.damage.find((range) => range.firstOffset <= offset && offset <= range.lastOffset);
  }

  /** The damaged stretch starting at `position`, if any. */
  damageAt(position: number): DamagedRange | undefined {
    if (this.damage.length === 0) return undefined;
    return this.damage.find((range) => range.position === position);
  }

  /** The first damaged stretch at or after `position`, if any. */
  damageFrom(position: number): DamagedRange | undefined {
    if (this.damage.length === 0) return undefined;
    return this.damage.find((range) => range.position >= position);
  }

  /**
   * Accounts for one batch appended at the end (the caller already patched its baseOffset):
   * indexes it and returns the file position it will be written at. No I/O.
   */
  recordAppend(batch: Buffer): number {
    const position = this.sizeBytes;
    const baseOffset = readBaseOffset(batch, 0);
    this.recordBatch(position, baseOffset, baseOffset + readLastOffsetDelta(batch, 0), readMaxTimestamp(batch, 0), batch.length);
    this.sizeBytes += batch.length;
    return position;
  }

  /** Index bookkeeping for a batch at `position`; shared by append and recovery. */
  recordBatch(position: number, baseOffset: number, lastOffset: number, maxTimestamp: number, totalBytes: number): void {
    if (position === 0) this.firstBatchTimestamp = maxTimestamp;
    if (this.bytesSinceIndexEntry >= this.indexIntervalBytes && position > 0) {
      this.offsetIndex.append(baseOffset - this.baseOffset, position);
      this.bytesSinceIndexEntry = 0;
      this.updateMaxTimestamp(maxTimestamp, baseOffset);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
    } else {
      this.updateMaxTimestamp(maxTimestamp, baseOffset);
    }
    this.bytesSinceIndexEntry += totalBytes;
    this.nextOffset = lastOffset + 1;
  }

  private updateMaxTimestamp(maxTimestamp: number, baseOffset: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.offsetOfMaxTimestamp = baseOffset;
    }
  }

  /** Adds the segment's maximum timestamp as a final time-index entry (on seal, flush and close). */
  finishTimeIndex(): void {
    if (this.offsetOfMaxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.baseOffset);
  }

  /** Restores the state of a sealed segment from its index files (no log scan). */
  restoreFromIndexes(offsetIndex: OffsetIndex, timeIndex: TimeIndex, sizeBytes: number, nextOffset: number, firstBatchTimestamp: number): void {
    this.firstBatchTimestamp = firstBatchTimestamp;
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.sizeBytes = sizeBytes;
    this.writtenBytes = sizeBytes;
    this.nextOffset = nextOffset;
    const last = timeIndex.lastEntry;
    if (last !== null) {
      this.maxTimestamp = last.timestamp;
      this.offsetOfMaxTimestamp = this.baseOffset + last.relativeOffset;
    }
  }

  /** Resets the in-memory state before a recovery scan re-records every batch. */
  resetForScan(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.bytesSinceIndexEntry = 0;
    this.sizeBytes = 0;
    this.writtenBytes = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = noTimestamp;
    this.offsetOfMaxTimestamp = -1;
    this.firstBatchTimestamp = noTimestamp;
    this.damage.length = 0;
  }

  /** The accounting as it is now (after the last batch appended). */
  captureTail(): SegmentTail {
    return {
      sizeBytes: this.sizeBytes,
      nextOffset: this.nextOffset,
      maxTimestamp: this.maxTimestamp,
      offsetOfMaxTimestamp: this.offsetOfMaxTimestamp,
      bytesSinceIndexEntry: this.bytesSinceIndexEntry,
    };
  }

  /** The accounting of this segment with no batch in it. */
  emptyTail(): SegmentTail {
    return { sizeBytes: 0, nextOffset: this.baseOffset, maxTimestamp: noTimestamp, offsetOfMaxTimestamp: -1, bytesSinceIndexEntry: 0 };
  }

  /**
   * Forgets every batch after `tail` (a tail this segment had earlier): sizes, offsets, timestamps
   * and index entries go back to what they were then. No I/O: truncateFile cuts the file.
   */
  rollBackTo(tail: SegmentTail): void {
    assert(tail.sizeBytes <= this.sizeBytes && tail.nextOffset <= this.nextOffset, 'a rollback goes backwards');
    this.sizeBytes = tail.sizeBytes;
    this.writtenBytes = Math.min(this.writtenBytes, tail.sizeBytes);
    this.nextOffset = tail.nextOffset;
    this.maxTimestamp = tail.maxTimestamp;
    this.offsetOfMaxTimestamp = tail.offsetOfMaxTimestamp;
    this.bytesSinceIndexEntry = tail.bytesSinceIndexEntry;
    this.offsetIndex.truncateToPosition(tail.sizeBytes);
    this.timeIndex.truncateToRelativeOffset(tail.nextOffset - this.baseOffset);
  }

  /**
   * Cuts the .log file at `position` and makes the new length durable (fdatasync covers the size),
   * so that bytes of a failed write can neither be read nor come back after a crash.
   */
  async truncateFile(position: number, syncFile: SyncFile): Promise<void> {
    const handle = await this.file();
    await handle.truncate(position);
    await syncFile(handle, 'log');
    this.writtenBytes = Math.min(this.writtenBytes, position);
  }

  get isBusy(): boolean {
    return this.fileUsers > 0 || (this.unsyncedWrites && this.syncBeforeClosing === null);
  }

  private file(): Promise<FileHandle> {
    if (this.deleted) return Promise.reject(new Error(`segment ${this.baseOffset} was deleted`));
    if (this.handle === null) {
      const opening = open(this.logPath, constants.O_RDWR | constants.O_CREAT, 0o644);
      this.handle = opening;
      // A failed open must not stick: let the next call retry.
      opening.catch(() => {
        if (this.handle === opening) this.handle = null;
      });
    }
    return this.handle;
  }

  /** Runs `work` on the open file, which stays open meanwhile; then reports the use to the cap. */
  private async withFile<T>(work: (handle: FileHandle) => Promise<T>): Promise<T> {
    this.fileUsers++;
    try {
      return await work(await this.file());
    } finally {
      this.fileUsers--;
      if (this.handle !== null) this.openFiles.used(this);
    }
  }

  /** Closes the file to stay within the cap on open files (open-segment-files.ts); only when idle. */
  async closeIdleFile(): Promise<void> {
    if (this.isBusy) return;
    if (this.unsyncedWrites && this.syncBeforeClosing !== null) {
      try {
        await this.sync(this.syncBeforeClosing);
      } catch (error) {
        // After a failed fsync the page cache cannot be trusted, nor a later fsync's success.
        this.backgroundSyncFailure ??= error instanceof Error ? error : new Error(String(error));
        return;
      }
      if (this.isBusy || this.unsyncedWrites) return;
      this.openFiles.closed(this);
    }
    const handle = this.handle;
    this.handle = null;
    if (handle !== null) await (await handle.catch(() => null))?.close();
  }

  /** Writes `buffers` back to back at `position` (positional writev; loops on short writes). */
  async write(buffers: Buffer[], position: number): Promise<void> {
    this.writeGeneration++;
    this.unsyncedWrites = true;
    await this.withFile(async (handle) => {
      const at = await writeFully(handle, buffers, position);
      if (at > this.writtenBytes) this.writtenBytes = at;
    });
  }

  /** fdatasync of the .log, and of the directory the first time (the file's name must survive too). */
  async sync(syncFile: SyncFile): Promise<void> {
    if (this.backgroundSyncFailure !== null) throw this.backgroundSyncFailure;
    const generation = this.writeGeneration;
    await this.withFile(async (handle) => {
      await syncFile(handle, 'log');
      if (this.writeGeneration === generation) this.unsyncedWrites = false;
    });
    if (this.directoryEntryPending) {
      await syncDirectory(this.directory, syncFile);
      this.directoryEntryPending = false;
    }
  }

  /** Reads exactly `length` bytes at `position` (fewer only if the file is shorter), into a buffer from `allocate`. */
  read(position: number, length: number, allocate: ReadAllocator = allocateUnpooled): Promise<Buffer> {
    return this.withFile(async (handle) => {
      const buffer = allocate(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? buffer : buffer.subarray(0, filled);
    });
  }

  /**
   * Walks batch headers from `fromPosition` (a batch boundary) up to `limitPosition`, reading
   * blocks, until `visit` returns false. Bodies are skipped, not read; so are known damaged
   * stretches. A header that cannot be a batch throws UnreadableHeaderError. `visit` also gets the
   * block read and the header's place in it; blocks are `blockBytes` long (less at the limit).
   */
  async scanHeaders(
    fromPosition: number,
    fromOffset: number,
    limitPosition: number,
    visit: (header: BatchHeader, block: Buffer, at: number) => boolean,
    blockBytes: number = headerScanBlockBytes,
    allocate: ReadAllocator = allocateUnpooled,
  ): Promise<void> {
    const header: BatchHeader = { position: 0, baseOffset: 0, lastOffset: 0, maxTimestamp: 0, attributes: 0, totalBytes: 0 };
    let position = fromPosition;
    let expectedOffset = fromOffset;
    while (position + batchHeaderBytes <= limitPosition) {
      const damaged = this.damageAt(position);
      if (damaged !== undefined) {
        if (damaged.endPosition <= position) return; // missing data at the end of the file
        position = damaged.endPosition;
        expectedOffset = damaged.lastOffset + 1;
        continue;
      }
      const block = await this.read(position, Math.min(blockBytes, limitPosition - position), allocate);
      let at = 0;
      while (at + batchHeaderBytes <= block.length) {
        if (at > 0 && this.damageAt(position + at) !== undefined) break;
        const problem = describeHeaderFieldProblem(block, at);
        if (problem !== null) throw new UnreadableHeaderError(this.baseOffset, position + at, expectedOffset, problem);
        header.position = position + at;
        header.baseOffset = readBaseOffset(block, at);
        header.lastOffset = header.baseOffset + readLastOffsetDelta(block, at);
        header.maxTimestamp = readMaxTimestamp(block, at);
        header.attributes = readAttributes(block, at);
        header.totalBytes = batchTotalBytes(block, at);
        if (header.position + header.totalBytes > limitPosition) return;
        expectedOffset = header.lastOffset + 1;
        if (!visit(header, block, at)) return;
        at += header.totalBytes;
      }
      if (at === 0) return; // the file ended early
      position += at;
    }
  }

  /**
   * Position and header of the first batch whose last offset ≥ `offset`, looking no further than
   * `limitPosition`; null if there is none.
   */
  async findBatch(offset: number, limitPosition: number): Promise<BatchHeader | null> {
    return (await this.findBatchWithBytes(offset, limitPosition, headerScanBlockBytes))?.header ?? null;
  }

  /**
   * Like findBatch, reading `readAheadBytes` (at least a header scan block) at a time from the
   * index entry before the batch, and handing back what that read holds from the batch on: a read
   * of the batch and those after it can take them from there instead of reading them again.
   */
  async findBatchWithBytes(offset: number, limitPosition: number, readAheadBytes: number, allocate: ReadAllocator = allocateUnpooled): Promise<FoundBatch | null> {
    await this.loadIndexes();
    const start = this.offsetIndex.lookup(Math.max(0, offset - this.baseOffset));
    let found: FoundBatch | null = null;
    const visit = (header: BatchHeader, block: Buffer, at: number) => {
      if (header.lastOffset < offset) return true;
      found = { header: { ...header }, bytes: block.subarray(at) };
      return false;
    };
    await this.scanHeaders(start.position, this.baseOffset + start.relativeOffset, limitPosition, visit, Math.max(readAheadBytes, headerScanBlockBytes), allocate);
    return found;
  }

  /** Every index entry in memory is in the files. */
  get indexesPersisted(): boolean {
    if (this.offsetIndexInMemory === null || this.timeIndexInMemory === null) return true; // dropped: only persisted ones are
    return this.offsetIndex.persistedCount === this.offsetIndex.entryCount && this.timeIndex.persistedCount === this.timeIndex.entryCount;
  }

  /** Writes index entries not yet in the files (whole files if they were truncated), then syncs them. */
  async persistIndexes(syncFile: SyncFile): Promise<void> {
    if (this.offsetIndexInMemory === null) return; // dropped: they are in the files
    // Appends may add entries while we wait on I/O: persist (and count) only what exists now.
    const offsetIndex = this.offsetIndex;
    const offsetEntries = offsetIndex.entryCount;
    const offsetTail = offsetIndex.encode(offsetIndex.persistedCount);
    await persistIndexFile(this.offsetIndexPath, offsetTail, offsetIndex.persistedCount * offsetIndexEntryBytes, offsetEntries * offsetIndexEntryBytes, syncFile);
    offsetIndex.persistedCount = offsetEntries;
    const timeIndex = this.timeIndex;
    const timeEntries = timeIndex.entryCount;
    const timeTail = timeIndex.encode(timeIndex.persistedCount);
    await persistIndexFile(this.timeIndexPath, timeTail, timeIndex.persistedCount * timeIndexEntryBytes, timeEntries * timeIndexEntryBytes, syncFile);
    timeIndex.persistedCount = timeEntries;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    this.openFiles.closed(this);
    this.indexCache.forget(this);
    if (handle !== null) await (await handle.catch(() => null))?.close();
  }

  /** Closes and removes the segment's files. FileHandle.close waits for reads in progress. */
  async deleteFiles(): Promise<void> {
    this.deleted = true; // first: a read racing with close() must not reopen the file (a leaked handle)
    await this.close();
    for (const path of [this.logPath, this.offsetIndexPath, this.timeIndexPath]) {
      await unlink(path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
  }
}

function emptyIfMissing(error: unknown): Buffer {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
  throw error;
}

function readFileOrEmpty(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    return emptyIfMissing(error);
  }
}

/** A batch header on the read path that cannot start a batch: damage not known before. */
export class UnreadableHeaderError extends Error {
  constructor(
    readonly segmentBaseOffset: number,
    readonly position: number,
    /** The offset the batch there should start with (one past the previous batch). */
    readonly expectedOffset: number,
    readonly problem: string,
  ) {
    super(`segment ${segmentBaseOffset}: bad batch header at ${position}: ${problem}`);
    this.name = 'UnreadableHeaderError';
  }
}

async function persistIndexFile(path: string, tail: Buffer, tailPosition: number, totalBytes: number, syncFile: SyncFile): Promise<void> {
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    if (tail.length > 0) await handle.write(tail, 0, tail.length, tailPosition);
    const { size } = await handle.stat();
    if (size !== totalBytes) await handle.truncate(totalBytes);
    await syncFile(handle, 'index');
  } finally {
    await handle.close();
  }
}

/** Writes `buffers` back to back at `position`, looping on short writes; returns the position after them. */
export async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<number> {
  let remaining = buffers.length > 1 ? joinAdjacent(buffers) : buffers;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, at);
    at += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
  return at;
}

/**
 * The same bytes in fewer pieces: views that follow each other in one allocation (batches copied
 * back to back, batch-cache.ts CopyChunks) become one view, so a writev hands the kernel fewer.
 */
function joinAdjacent(buffers: Buffer[]): Buffer[] {
  const joined: Buffer[] = [];
  let first = 0; // the piece that begins the current run of adjacent ones
  let runBytes = buffers[0]!.length;
  const closeRun = (end: number) => {
    const start = buffers[first]!;
    // One view per run of two or more pieces; a piece alone is kept as it is.
    joined.push(end - first === 1 ? start : Buffer.from(start.buffer, start.byteOffset, runBytes));
  };
  for (let index = 1; index < buffers.length; index++) {
    const previous = buffers[index - 1]!;
    const next = buffers[index]!;
    if (next.buffer === previous.buffer && previous.byteOffset + previous.length === next.byteOffset) {
      runBytes += next.length;
    } else {
      closeRun(index);
      first = index;
      runBytes = next.length;
    }
  }
  closeRun(buffers.length);
  return joined;
}

function dropBytes(buffers: Buffer[], byteCount: number): Buffer[] {
  let remaining = byteCount;
  let index = 0;
  while (index < buffers.length && remaining >= buffers[index]!.length) {
    remaining -= buffers[index]!.length;
    index++;
  }
  if (index === buffers.length) return [];
  const rest = buffers.slice(index);
  if (remaining > 0) rest[0] = rest[0]!.subarray(remaining);
  return rest;
}
