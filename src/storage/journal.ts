import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import type { Logger } from '../logging/logger.js';
import { forEachBatch, hasValidCrc, readBaseOffset, readInt64Number, readLastOffset, writeInt64Number } from '../protocol/kafka/batch-header.js';
import { createDeferred, type Deferred } from './flush.js';
import { defaultSyncFile, syncDirectory, writeFully, type SyncFile } from './segment.js';
import { WriteBehindBudget } from './write-behind.js';

/**
 * The write-ahead journal every partition log of a broker shares (DESIGN.md decision 3). Under
 * flush=always a log's flush cycle hands its batches to the journal; the journal writes what all logs
 * handed it during one turn with one writev that returns once it is durable (O_DSYNC, below), and
 * that write is what acknowledges the appends. The logs write the batches to their segment files
 * later, many cycles' worth at a time (write-behind.ts), and fsync them later still: when a segment
 * is sealed, when the log is flushed or closed, and when the journal needs the space (reclaim,
 * below). So a cycle costs one write and one fdatasync however many partitions take writes, instead
 * of one of each per partition.
 *
 *   <data dir>/journal/00000000000000000001.journal   files written in order, each up to fileBytes
 *
 * File: a 32-byte header, then entries back to back.
 *
 *   header   0  8 bytes  magic "OSPJRNL1"
 *            8  int64    sequence (the number in the file name)
 *           16  16 bytes zero
 *
 *   entry    0  uint32   entryBytes (this header + payload)
 *            4  uint32   CRC-32C of bytes 8…31, followed by the payload unless kind = batches
 *            8  int64    the file's sequence (bytes left from an older use of a file never match)
 *           16  uint8    kind: 1 batches · 2 log named · 3 log truncated · 4 log reset
 *           17  3 bytes  zero
 *           20  uint32   log number: given to a log by a "log named" entry, per file
 *           24  int64    batches: base offset of the first batch; truncated: the new log end; else 0
 *           32  payload  batches: whole v2 batches, offsets set (each covered by its own CRC-32C,
 *                        checked when read back); log named: the log's folder relative to the data
 *                        dir, UTF-8; others: nothing
 *
 * A file ends at its first entry that is short, fails its CRC or sequence, has an unknown kind, or
 * holds a batch that does not parse or fails its CRC: a torn write at the end of the journal.
 *
 * Replay (PartitionLog.open, replayFor): the entries of one log, in journal order, give the batches
 * it must hold beyond what its segments kept: "truncated" drops batches at or past its offset, a
 * batch entry whose base offset lies below the end so far drops the batches from there (offsets
 * handed out again after a failed write), "reset" drops everything (a log created or deleted under
 * the same folder name). The log appends those at or past its own end.
 *
 * Reclaim: each file remembers, per log, the end offset of the batches it holds for it. When the
 * files together pass maxBytes, the oldest file is deleted once every log it holds batches for has
 * fsynced its segments past them (the journal asks those logs to flush); files found at start stay
 * until their logs have replayed them and released(), called once every log is open, gives up the
 * rest (logs that no longer exist).
 *
 * Files are opened O_DSYNC: a commit is one writev that returns once its bytes are durable (as a
 * write followed by an fdatasync would make them, in one thread-pool hop instead of two).
 *
 * Reused files: an fdatasync after writes that make a file longer also commits the file's new size
 * (a file-system journal commit); within blocks already written it only flushes data. So a dropped
 * file becomes the spare the next file begins in (renamed; its old entries stay in place, their
 * sequence no longer matches). Files are not filled with zeros ahead of time: a 64 MiB burst of
 * writes beside the commits doubled the p99 of end-to-end latency at 10k records/s.
 */

export const journalFolderName = 'journal';
const journalSuffix = '.journal';
/** A dropped file kept for the next rotation (never scanned for entries). */
const spareFileName = 'spare.journal-spare';
const magic = Buffer.from('OSPJRNL1', 'latin1');
export const journalFileHeaderBytes = 32;
/**
 * Write-behind (write-behind.ts): a log writes its unwritten batches out once it holds this many
 * (large positional writes, a few per second at most for a busy partition), and after this long
 * (journalWriteBehindMaxAgeMs).
 */
const writeBehindLogBytes = 256 * 1024;
const defaultWriteBehindMaxAgeMs = 5000;
const defaultUnwrittenMaxBytes = 32 * 1024 * 1024;
/** A commit of at least this many pieces and at most this many bytes is copied into one buffer (gathered). */
const gatherMinPieces = 64;
const gatherMaxBytes = 4 * 1024 * 1024;
export const journalEntryHeaderBytes = 32;

const enum EntryKind {
  batches = 1,
  logNamed = 2,
  logTruncated = 3,
  logReset = 4,
}

export interface JournalOptions {
  /** false: the journal is only replayed and then emptied (the broker runs without one); logs fsync their own segments. */
  readonly acceptsWrites: boolean;
  /** A file is closed and a new one begun once it holds this many bytes. */
  readonly fileBytes: number;
  /** Past this many bytes in all files, the oldest is reclaimed (its logs are asked to fsync their segments). */
  readonly maxBytes: number;
  /** Bytes of all logs durable here and not yet written to their segments (write-behind.ts); default 32 MiB. */
  readonly unwrittenMaxBytes?: number;
  /** How long a log's batches may stay unwritten (write-behind.ts); default 5 s. */
  readonly writeBehindMaxAgeMs?: number;
  readonly syncFile?: SyncFile;
  readonly logger?: Logger | null;
}

/** What the journal needs from a log that writes to it. */
export interface JournalClient {
  /** The log's folder. */
  readonly directory: string;
  /** Every offset below it is fsynced in the log's segment files. */
  segmentSyncedEndOffset(): number;
  /** fsyncs the segment files and writes the recovery point (so that the journal may drop what it holds). */
  syncSegments(): Promise<void>;
}

/** A log's place in the journal, from register(). */
export interface JournalLog {
  readonly client: JournalClient;
  /** Folder relative to the data dir: the name "log named" entries carry. */
  readonly name: string;
  /** Number and file sequence it was last named with. */
  number: number;
  namedInSequence: number;
  registered: boolean;
}

interface QueuedEntry {
  readonly log: JournalLog;
  readonly kind: EntryKind;
  readonly offset: number;
  readonly buffers: readonly Buffer[];
  readonly byteCount: number;
  /** End offset of the log after this entry (batches), for reclaim. */
  readonly endOffset: number;
}

interface JournalFile {
  readonly sequence: number;
  readonly path: string;
  sizeBytes: number;
  /** Per live log: end offset of the batches this file holds for it. */
  readonly logs: Map<JournalLog, number>;
  /** Per log name found at start and not replayed yet: this file holds batches for it. */
  readonly unclaimed: Set<string>;
}

/** Where one replayable operation of a log lies, as found by the start scan. */
type ReplayOp =
  | { readonly kind: 'batches'; readonly file: JournalFile; readonly position: number; readonly length: number; readonly baseOffset: number }
  | { readonly kind: 'truncated'; readonly offset: number }
  | { readonly kind: 'reset' };

export function journalFileName(sequence: number): string {
  return `${String(sequence).padStart(20, '0')}${journalSuffix}`;
}

export class Journal {
  private readonly syncFile: SyncFile;
  /**
   * Files are opened O_DSYNC (unless a test injects its own syncFile): a commit's writev returns once
   * its bytes are durable, one thread-pool hop instead of a write and then an fdatasync.
   */
  private readonly writesAreDurable: boolean;
  private readonly logger: Logger | null;
  private readonly files: JournalFile[] = [];
  private handle: FileHandle | null = null;
  private queue: QueuedEntry[] = [];
  private waiting: Deferred | null = null;
  private committing = false;
  /** Log cycles to start in the next check phase (scheduleCycle), and whether they are being started. */
  private scheduledCycles: (() => void)[] = [];
  private runningScheduled = false;
  /** The reclaim under way, if any (close waits for it). */
  private reclaiming: Promise<void> | null = null;
  private closed = false;
  private nextLogNumber = 1;
  /** Set when a write or fsync failed: the next commit begins a new file (the old one's tail is unknown). */
  private rotateBeforeNext = false;
  private readonly replay = new Map<string, ReplayOp[]>();
  /** Bytes of the spare file, ready to become the next file; null while there is none. */
  private spareBytes: number | null = null;
  /** Reused by commits of many small pieces (gathered). */
  private scratch: Buffer | null = null;
  /** Commits (write + fdatasync) done: observability and tests. */
  commitCount = 0;
  /** Bounds what the logs hold durable here but not yet written to their segments. */
  readonly writeBehind: WriteBehindBudget;

  private constructor(
    readonly dataDirectory: string,
    private readonly options: JournalOptions,
  ) {
    this.syncFile = options.syncFile ?? defaultSyncFile;
    this.writesAreDurable = options.syncFile === undefined;
    this.logger = options.logger ?? null;
    this.writeBehind = new WriteBehindBudget({ logBytes: writeBehindLogBytes, maxBytes: options.unwrittenMaxBytes ?? defaultUnwrittenMaxBytes, maxAgeMs: options.writeBehindMaxAgeMs ?? defaultWriteBehindMaxAgeMs });
  }

  get acceptsWrites(): boolean {
    return this.options.acceptsWrites;
  }

  get directory(): string {
    return join(this.dataDirectory, journalFolderName);
  }

  get sizeBytes(): number {
    let total = 0;
    for (const file of this.files) total += file.sizeBytes;
    return total;
  }

  get fileCount(): number {
    return this.files.length;
  }

  /** Opens the journal of `dataDirectory`, reading what earlier runs left for replay. */
  static async open(dataDirectory: string, options: JournalOptions): Promise<Journal> {
    const journal = new Journal(dataDirectory, options);
    await mkdir(journal.directory, { recursive: true });
    const entries = await readdir(journal.directory);
    if (entries.includes(spareFileName)) journal.spareBytes = (await stat(join(journal.directory, spareFileName))).size;
    const names = entries.filter((name) => name.endsWith(journalSuffix)).sort();
    for (const name of names) {
      const sequence = Number(name.slice(0, -journalSuffix.length));
      if (!Number.isSafeInteger(sequence)) continue;
      await journal.scanFile({ sequence, path: join(journal.directory, name), sizeBytes: 0, logs: new Map(), unclaimed: new Set() });
    }
    return journal;
  }

  /** The folder name a log is known by in the journal. */
  nameOf(directory: string): string {
    return relative(this.dataDirectory, directory);
  }

  /**
   * The batches the journal holds for the log in `directory` (see the file comment), in offset
   * order, read from the files. Called once, when the log opens, before it registers.
   */
  async replayFor(directory: string): Promise<Buffer[]> {
    const name = this.nameOf(directory);
    const ops = this.replay.get(name);
    if (ops === undefined) return [];
    const batches: Buffer[] = [];
    const dropFrom = (offset: number) => {
      while (batches.length > 0 && readBaseOffset(batches[batches.length - 1]!, 0) >= offset) batches.pop();
      const last = batches[batches.length - 1];
      // A batch reaching past the offset was cut inside: it goes too (appends are whole batches).
      if (last !== undefined && readLastOffset(last, 0) >= offset) batches.pop();
    };
    // Each file this log has entries in is opened once for the whole replay.
    const handles = new Map<JournalFile, Promise<FileHandle>>();
    try {
      for (const op of ops) {
        if (op.kind === 'reset') batches.length = 0;
        else if (op.kind === 'truncated') dropFrom(op.offset);
        else {
          let handle = handles.get(op.file);
          if (handle === undefined) handles.set(op.file, (handle = open(op.file.path, 'r')));
          const bytes = await readAt(await handle, op.position, op.length);
          dropFrom(op.baseOffset);
          forEachBatch(bytes, (view) => void batches.push(bytes.subarray(view.at, view.at + view.totalBytes)));
        }
      }
    } finally {
      for (const handle of handles.values()) await (await handle.catch(() => null))?.close();
    }
    return batches;
  }

  /** Whether a log's replay is still owed (the start scan found entries for it). */
  hasReplayFor(directory: string): boolean {
    return this.replay.has(this.nameOf(directory));
  }

  /**
   * A log begins writing to the journal (after its replay, if any). The files found at start that
   * hold its batches stay until its segments are fsynced to `replayedEndOffset` (its replay may
   * have left batches unwritten, held only there and in memory).
   */
  register(client: JournalClient, replayedEndOffset = 0): JournalLog {
    const name = this.nameOf(client.directory);
    const log: JournalLog = { client, name, number: 0, namedInSequence: -1, registered: true };
    for (const file of this.files) if (file.unclaimed.has(name)) file.logs.set(log, replayedEndOffset);
    this.claim(name);
    return log;
  }

  /** The log is closed: it writes nothing more; the files stop waiting for it. */
  unregister(log: JournalLog): void {
    log.registered = false;
    for (const file of this.files) file.logs.delete(log);
  }

  /** Every log that exists has opened: what the start scan found for other names is given up. */
  release(keepDirectories: readonly string[] = []): void {
    const keep = new Set(keepDirectories.map((directory) => this.nameOf(directory)));
    for (const name of [...this.replay.keys()]) {
      if (keep.has(name)) continue;
      this.claim(name);
    }
    void this.maybeReclaim();
  }

  /** Queues the log's batches (whole, offsets set); resolves once they are durable in the journal. */
  append(log: JournalLog, buffers: readonly Buffer[], byteCount: number, baseOffset: number, endOffset: number): Promise<void> {
    return this.enqueue({ log, kind: EntryKind.batches, offset: baseOffset, buffers, byteCount, endOffset });
  }

  /** Offsets from `endOffset` on were cut from the log (a failed write): replay must not bring them back. */
  recordTruncated(log: JournalLog, endOffset: number): Promise<void> {
    return this.enqueue({ log, kind: EntryKind.logTruncated, offset: endOffset, buffers: [], byteCount: 0, endOffset: -1 });
  }

  /** The log's folder starts over (created, or deleted): nothing written before for its name is replayed. */
  recordReset(log: JournalLog): Promise<void> {
    return this.enqueue({ log, kind: EntryKind.logReset, offset: 0, buffers: [], byteCount: 0, endOffset: -1 });
  }

  /** Waits for queued entries, then closes the file. The files stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.queue.length > 0 || this.committing) await this.commitSoon().catch(() => {});
    this.closed = true;
    this.writeBehind.close();
    await this.reclaiming;
    await this.handle?.close().catch(() => {});
    this.handle = null;
  }

  private claim(name: string): void {
    if (!this.replay.delete(name)) return;
    for (const file of this.files) file.unclaimed.delete(name);
  }

  private enqueue(entry: QueuedEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    this.queue.push(entry);
    return this.commitSoon();
  }

  private commitSoon(): Promise<void> {
    this.waiting ??= createDeferred();
    const waiting = this.waiting;
    // While scheduled cycles run, runScheduledCycles starts the commit once they all handed in.
    if (!this.committing && !this.runningScheduled) {
      this.committing = true;
      // Entries queued during this turn of the event loop (every partition's cycle) share the commit.
      setImmediate(() => void this.commitLoop());
    }
    return waiting.promise;
  }

  /**
   * Runs `startCycle` (a log's flush cycle, which hands its batches to append() before it first
   * waits) in the next check phase, together with every other log's scheduled the same turn, and
   * starts the commit right after them: one setImmediate for all logs instead of one each, and the
   * commit in the same turn as the cycles instead of the next.
   */
  scheduleCycle(startCycle: () => void): void {
    this.scheduledCycles.push(startCycle);
    if (this.scheduledCycles.length === 1) setImmediate(() => this.runScheduledCycles());
  }

  private runScheduledCycles(): void {
    const cycles = this.scheduledCycles;
    this.scheduledCycles = [];
    this.runningScheduled = true;
    try {
      for (const startCycle of cycles) startCycle();
    } finally {
      this.runningScheduled = false;
    }
    if (this.waiting !== null && !this.committing) {
      this.committing = true;
      void this.commitLoop();
    }
  }

  private async commitLoop(): Promise<void> {
    try {
      while (this.waiting !== null) {
        const entries = this.queue;
        const waiting = this.waiting;
        this.queue = [];
        this.waiting = null;
        try {
          await this.commit(entries);
          waiting.resolve();
        } catch (error) {
          this.rotateBeforeNext = true;
          this.logger?.error('journal write failed; the appends it carried are refused', { error: (error as Error).message });
          waiting.reject(error as Error);
        }
      }
    } finally {
      this.committing = false;
    }
    void this.maybeReclaim();
  }

  /** One writev of every entry (with the "log named" entries the file needs first), one fdatasync. */
  private async commit(entries: readonly QueuedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    let incomingBytes = 0;
    for (const entry of entries) incomingBytes += journalEntryHeaderBytes * 2 + entry.byteCount + entry.log.name.length * 3;
    let file = this.files[this.files.length - 1];
    if (file === undefined || this.handle === null || this.rotateBeforeNext || (file.sizeBytes > journalFileHeaderBytes && file.sizeBytes + incomingBytes > this.options.fileBytes)) {
      file = await this.beginFile();
    }
    const buffers: Buffer[] = [];
    let byteCount = 0;
    const push = (buffer: Buffer) => {
      buffers.push(buffer);
      byteCount += buffer.length;
    };
    // One allocation for the commit's headers (each entry's, and a "log named" one per log at most).
    const headers = Buffer.alloc(journalEntryHeaderBytes * 2 * entries.length);
    let headersUsed = 0;
    const nextHeader = () => headers.subarray(headersUsed, (headersUsed += journalEntryHeaderBytes));
    for (const entry of entries) {
      const log = entry.log;
      if (log.namedInSequence !== file.sequence) {
        log.number = this.nextLogNumber++;
        log.namedInSequence = file.sequence;
        const name = Buffer.from(log.name, 'utf8');
        push(writeEntryHeader(nextHeader(), file.sequence, EntryKind.logNamed, log.number, 0, name));
        push(name);
      }
      push(writeEntryHeader(nextHeader(), file.sequence, entry.kind, log.number, entry.offset, null, entry.byteCount));
      for (const buffer of entry.buffers) push(buffer);
      if (entry.kind === EntryKind.batches && log.registered) file.logs.set(log, Math.max(file.logs.get(log) ?? 0, entry.endOffset));
    }
    const position = file.sizeBytes;
    await writeFully(this.handle!, this.gathered(buffers, byteCount), position);
    file.sizeBytes = position + byteCount;
    if (!this.writesAreDurable) await this.syncFile(this.handle!, 'log');
    this.commitCount++;
  }

  /**
   * A commit of many small pieces (a header and a batch or two for each of many partitions) as one
   * buffer: copying them is cheaper than handing the kernel thousands of pieces. The scratch buffer
   * is reused by every commit (one at a time); large commits keep their pieces.
   */
  private gathered(buffers: Buffer[], byteCount: number): Buffer[] {
    if (buffers.length < gatherMinPieces || byteCount > gatherMaxBytes) return buffers;
    if (this.scratch === null || this.scratch.length < byteCount) this.scratch = Buffer.allocUnsafeSlow(Math.max(byteCount, gatherMaxBytes / 4));
    let at = 0;
    for (const buffer of buffers) at += buffer.copy(this.scratch, at);
    return [this.scratch.subarray(0, at)];
  }

  /**
   * Closes the current file and begins the next (in the spare, when there is one): header written
   * and fsynced, its name too.
   */
  private async beginFile(): Promise<JournalFile> {
    const previous = this.files[this.files.length - 1];
    const sequence = (previous?.sequence ?? 0) + 1;
    const path = join(this.directory, journalFileName(sequence));
    await this.handle?.close().catch(() => {});
    this.handle = null;
    const fromSpare = this.spareBytes !== null;
    if (fromSpare) {
      await rename(join(this.directory, spareFileName), path);
      this.spareBytes = null;
    }
    const flags = constants.O_RDWR | (fromSpare ? 0 : constants.O_CREAT | constants.O_TRUNC) | (this.writesAreDurable ? constants.O_DSYNC : 0);
    const handle = await open(path, flags, 0o644);
    try {
      const header = Buffer.alloc(journalFileHeaderBytes);
      magic.copy(header, 0);
      writeInt64Number(header, sequence, 8);
      await writeFully(handle, [header], 0);
      if (!this.writesAreDurable) await this.syncFile(handle, 'log');
      await syncDirectory(this.directory, this.syncFile);
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    this.handle = handle;
    this.rotateBeforeNext = false;
    const file: JournalFile = { sequence, path, sizeBytes: journalFileHeaderBytes, logs: new Map(), unclaimed: new Set() };
    this.files.push(file);
    return file;
  }

  /** A file no longer needed becomes the spare when there is none (its blocks exist already), else it is deleted. */
  private async dropFile(file: JournalFile): Promise<void> {
    if (this.spareBytes === null && !this.closed && file.sizeBytes >= this.options.fileBytes / 2) {
      await rename(file.path, join(this.directory, spareFileName));
      this.spareBytes = file.sizeBytes;
    } else {
      await rm(file.path, { force: true });
    }
  }

  /** Deletes the oldest files while the journal is over maxBytes and they are no longer needed. */
  private maybeReclaim(): Promise<void> {
    if (this.reclaiming === null && !this.closed) {
      this.reclaiming = this.reclaim().finally(() => {
        this.reclaiming = null;
      });
    }
    return this.reclaiming ?? Promise.resolve();
  }

  private async reclaim(): Promise<void> {
    try {
      // The file being written stays; without writes, every file goes once nothing needs it.
      while (this.files.length > (this.handle === null ? 0 : 1) && (this.sizeBytes > this.options.maxBytes || this.isEmptyOfNeeds(this.files[0]!))) {
        const oldest = this.files[0]!;
        if (oldest.unclaimed.size > 0) break; // a log found at start has not replayed yet
        for (const [log, endOffset] of [...oldest.logs]) {
          if (log.registered && log.client.segmentSyncedEndOffset() < endOffset) await log.client.syncSegments();
        }
        if (this.closed) return;
        // A log whose segments could not be fsynced keeps the file (its batches are only here).
        if (!this.isEmptyOfNeeds(oldest)) throw new Error('a log has not fsynced its segments past the oldest journal file');
        this.files.shift();
        await this.dropFile(oldest);
        await syncDirectory(this.directory, this.syncFile);
      }
    } catch (error) {
      this.logger?.warn('reclaiming journal space failed; tried again after the next commit', { error: (error as Error).message });
    }
  }

  /** A file every log it held batches for has fsynced past (or closed), and nothing from the start scan waits on. */
  private isEmptyOfNeeds(file: JournalFile): boolean {
    if (file.unclaimed.size > 0) return false;
    for (const [log, endOffset] of file.logs) if (log.registered && log.client.segmentSyncedEndOffset() < endOffset) return false;
    return true;
  }

  /** The start scan of one file: its entries' places, per log name, for replay. */
  private async scanFile(file: JournalFile): Promise<void> {
    const bytes = await readFile(file.path);
    if (bytes.length < journalFileHeaderBytes || !bytes.subarray(0, 8).equals(magic) || readInt64Number(bytes, 8) !== file.sequence) {
      this.logger?.warn('journal file without a valid header ignored', { file: file.path });
      this.files.push({ ...file, sizeBytes: bytes.length });
      return;
    }
    const names = new Map<number, string>();
    let at = journalFileHeaderBytes;
    let entries = 0;
    while (at + journalEntryHeaderBytes <= bytes.length) {
      const entryBytes = bytes.readUInt32BE(at);
      if (entryBytes < journalEntryHeaderBytes || at + entryBytes > bytes.length) break;
      if (readInt64Number(bytes, at + 8) !== file.sequence) break;
      const kind = bytes.readUInt8(at + 16) as EntryKind;
      const payload = bytes.subarray(at + journalEntryHeaderBytes, at + entryBytes);
      const crc = kind === EntryKind.batches ? crc32c(bytes.subarray(at + 8, at + journalEntryHeaderBytes)) : crc32c(payload, crc32c(bytes.subarray(at + 8, at + journalEntryHeaderBytes)));
      if (crc !== bytes.readUInt32BE(at + 4)) break;
      const number = bytes.readUInt32BE(at + 20);
      const offset = readInt64Number(bytes, at + 24);
      if (kind === EntryKind.logNamed) {
        names.set(number, payload.toString('utf8'));
      } else {
        const name = names.get(number);
        if (name === undefined) break;
        if (kind === EntryKind.batches) {
          if (!wholeValidBatches(payload, offset)) break;
          this.opsOf(name).push({ kind: 'batches', file, position: at + journalEntryHeaderBytes, length: payload.length, baseOffset: offset });
          file.unclaimed.add(name);
        } else if (kind === EntryKind.logTruncated) {
          this.opsOf(name).push({ kind: 'truncated', offset });
        } else if (kind === EntryKind.logReset) {
          this.opsOf(name).push({ kind: 'reset' });
        } else {
          break;
        }
      }
      at += entryBytes;
      entries++;
    }
    if (at < bytes.length) this.logger?.info('journal file ends in a torn or stale entry; the rest is ignored', { file: file.path, validBytes: at, fileBytes: bytes.length });
    this.logger?.debug('journal file scanned', { file: file.path, entries });
    this.files.push({ ...file, sizeBytes: at });
  }

  private opsOf(name: string): ReplayOp[] {
    let ops = this.replay.get(name);
    if (ops === undefined) this.replay.set(name, (ops = []));
    return ops;
  }
}

/** Writes a 32-byte entry header into `header` (zeroed) and returns it; its CRC covers `payload` too when given (kinds other than batches). */
function writeEntryHeader(header: Buffer, sequence: number, kind: EntryKind, logNumber: number, offset: number, payload: Buffer | null, payloadBytes = payload?.length ?? 0): Buffer {
  header.writeUInt32BE(journalEntryHeaderBytes + payloadBytes, 0);
  writeInt64Number(header, sequence, 8);
  header.writeUInt8(kind, 16);
  header.writeUInt32BE(logNumber, 20);
  writeInt64Number(header, offset, 24);
  const headerCrc = crc32c(header.subarray(8));
  header.writeUInt32BE(payload === null ? headerCrc : crc32c(payload, headerCrc), 4);
  return header;
}

/** Whether `payload` is whole v2 batches, each passing its CRC, with offsets following on from `baseOffset`. */
function wholeValidBatches(payload: Buffer, baseOffset: number): boolean {
  let expected = baseOffset;
  let valid = true;
  const end = forEachBatch(payload, (view) => {
    if (readBaseOffset(view.buffer, view.at) !== expected || !hasValidCrc(view.buffer, view.at, view.totalBytes)) return (valid = false);
    expected = readLastOffset(view.buffer, view.at) + 1;
  });
  return valid && end === payload.length && payload.length > 0;
}

/** `length` bytes at `position` of an open file (the scan checked that they are there). */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await handle.read(buffer, read, length - read, position + read);
    if (bytesRead === 0) throw new Error(`journal file shorter than at start: ${length - read} bytes missing at ${position + read}`);
    read += bytesRead;
  }
  return buffer;
}
