/**
 * The cluster metadata journal, `<dataDir>/meta/cluster-metadata.journal`: the changes made since
 * the last snapshot (metadata-store.ts), one record each, written and fsynced before a change is
 * applied, so that a change costs one small append instead of a rewrite of every topic.
 *
 *   file:    ┌─ header ─┬─ record ─┬─ record ─┬ … ┬─ zeros: the reserve ───────────┐
 *            0          8                         end                       file size
 *
 *   header:  ┌──────────────────┬──────────────────────────┐
 *            │ magic "OMJL" (4) │ format version u32 (= 1) │
 *            └──────────────────┴──────────────────────────┘
 *
 *   record:  ┌────────────────────┬────────────────────┬────────────────┬──────────────────────────┐
 *            │ payload length u32 │ CRC-32C u32 of the │ sequence u64   │ payload: UTF-8 JSON, one │
 *            │ (> 0)              │ sequence + payload │ previous + 1   │ change (metadata-store)  │
 *            └────────────────────┴────────────────────┴────────────────┴──────────────────────────┘
 *
 * Integers are big-endian. The records end at the first length of 0 (the reserve), at a record that
 * runs past the end of the file, whose CRC does not match (a write torn by a crash, never
 * acknowledged) or whose sequence does not follow the previous one. What follows the end is zeroed
 * when the journal is opened. Sequences go on across snapshots: a snapshot names the last sequence
 * it holds, and records up to it are skipped (a crash between writing a snapshot and clearing the
 * journal leaves them).
 *
 * The reserve: the file is kept `reserveBytes` of zeros longer than its records, written and fsynced
 * ahead of need, so records are written into space the file system has already given us. Changes
 * that add metadata (a new topic) first extend the reserve to its full size, and fail when the disk
 * is full; changes that remove metadata (deleting a topic, which is how space is freed) may use the
 * reserve without refilling it. This works on file systems that overwrite in place (ext4, xfs,
 * tmpfs), not on copy-on-write ones.
 *
 * Appends queue and are written together, one write and one fdatasync per batch (group commit).
 * After a failed write or fdatasync the journal refuses further appends: what reached the disk is
 * unknown until the broker restarts and reads the file again.
 */
import { crc32c } from '@node-rs/crc32';
import { constants } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDirectory } from '../storage/segment.js';

export const journalMagic = Buffer.from('OMJL', 'latin1');
export const journalFormatVersion = 1;
export const journalHeaderBytes = 8;
const recordHeaderBytes = 16;
const zeroChunkBytes = 64 * 1024;

/** Whether a change may be written into the reserve without refilling it first. */
export type ReserveUse = 'refill-first' | 'may-use-reserve';

interface PendingAppend {
  readonly payload: Buffer;
  readonly reserveUse: ReserveUse;
  /** Called synchronously once the record is durable, before any other journal work. */
  readonly applied: () => void;
  resolve(): void;
  reject(error: Error): void;
}

export class JournalFailedError extends Error {
  constructor(path: string, cause: unknown) {
    super(`metadata journal ${path} failed earlier (${String(cause)}); restart the broker to read it again`);
    this.name = 'JournalFailedError';
  }
}

export interface OpenedJournal {
  readonly journal: MetadataJournal;
  /** Payloads of the records after the snapshot's sequence, in order. */
  readonly payloads: Buffer[];
}

export class MetadataJournal {
  private pending: PendingAppend[] = [];
  private draining = false;
  /** Draining, compaction and closing run one at a time, in call order. */
  private exclusive: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly reserveBytes: number,
    /** Where the next record goes. */
    private endPosition: number,
    /** File size: every byte below it is allocated; those from endPosition on are zeros. */
    private allocatedBytes: number,
    /** Sequence of the last record written (or of the snapshot, when there is none). */
    private lastWrittenSequence: number,
  ) {}

  /** Opens (or creates) the journal; `snapshotSequence` is the last sequence the snapshot holds. */
  static async open(path: string, reserveBytes: number, snapshotSequence: number): Promise<OpenedJournal> {
    const handle = await openOrCreate(path);
    try {
      const contents = await handle.readFile();
      const scanned = scanRecords(contents, path);
      const after = scanned.records.filter((record) => record.sequence > snapshotSequence);
      if (after.length > 0 && after[0]!.sequence !== snapshotSequence + 1) {
        throw new Error(`${path}: records start at sequence ${after[0]!.sequence}, but the snapshot ends at ${snapshotSequence}: changes are missing`);
      }
      const lastSequence = Math.max(snapshotSequence, scanned.records.at(-1)?.sequence ?? 0);
      const journal = new MetadataJournal(path, handle, reserveBytes, scanned.endPosition, contents.length, lastSequence);
      if (contents.subarray(scanned.endPosition).some((byte) => byte !== 0)) {
        await journal.zeroRange(scanned.endPosition, contents.length); // a torn record: in place, needs no new space
        await handle.datasync();
      }
      await journal.extendTo(journal.endPosition + reserveBytes).catch(() => undefined); // refilled by the next addition
      return { journal, payloads: after.map((record) => record.payload) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Bytes of records (header excluded). */
  get recordBytes(): number {
    return this.endPosition - journalHeaderBytes;
  }

  /** Sequence of the last durable record. */
  get lastSequence(): number {
    return this.lastWrittenSequence;
  }

  /**
   * Appends one record. `applied` runs synchronously once it is durable, before any later record
   * or compaction, so whoever keeps the state never misses or reorders a change.
   */
  append(payload: Buffer, reserveUse: ReserveUse, applied: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`metadata journal ${this.path} is closed`));
    if (this.failure !== null) return Promise.reject(new JournalFailedError(this.path, this.failure));
    return new Promise((resolve, reject) => {
      this.pending.push({ payload, reserveUse, applied, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        void this.runExclusive(() => this.drain());
      }
    });
  }

  /**
   * Runs `writeSnapshot(lastSequence)` while nothing else is written, then clears the records:
   * zeroed in place, so the space stays the journal's. The snapshot must hold every change up to
   * `lastSequence` before it resolves.
   */
  compact(writeSnapshot: (lastSequence: number) => Promise<void>): Promise<void> {
    return this.runExclusive(async () => {
      if (this.closed) return;
      await writeSnapshot(this.lastWrittenSequence);
      try {
        await this.zeroRange(journalHeaderBytes, this.endPosition);
        await this.handle.datasync();
      } catch (error) {
        // Records after a half-zeroed stretch would never be read again: stop writing until a restart.
        this.failure = error;
        throw error;
      }
      this.endPosition = journalHeaderBytes;
    });
  }

  /** Waits for queued appends, then closes the file. */
  close(): Promise<void> {
    return this.runExclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.handle.close();
    });
  }

  private runExclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.exclusive.then(work);
    this.exclusive = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Writes everything queued, batch after batch, until the queue is empty. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.writeBatch(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    if (this.failure !== null || this.closed) {
      const error = this.closed ? new Error(`metadata journal ${this.path} is closed`) : new JournalFailedError(this.path, this.failure);
      for (const append of batch) append.reject(error);
      return;
    }
    const accepted = await this.makeRoom(batch);
    if (accepted.length === 0) return;
    const firstSequence = this.lastWrittenSequence + 1;
    const bytes = Buffer.concat(accepted.map((append, index) => encodeRecord(firstSequence + index, append.payload)));
    try {
      await this.writeAt(bytes, this.endPosition);
      await this.handle.datasync();
    } catch (error) {
      this.failure = error;
      for (const append of accepted) append.reject(error as Error);
      return;
    }
    this.endPosition += bytes.length;
    this.lastWrittenSequence += accepted.length;
    for (const append of accepted) {
      try {
        append.applied();
        append.resolve();
      } catch (error) {
        append.reject(error as Error); // a bug in the caller's callback: the record stands, report it
      }
    }
    // Refill what removals took from the reserve; on a full disk the next addition is refused instead.
    await this.extendTo(this.endPosition + this.reserveBytes).catch(() => undefined);
  }

  /**
   * Makes the file long enough for the batch; returns the appends that fit. Additions need the
   * full reserve behind them; when the disk cannot give it, they are refused and removals go on.
   */
  private async makeRoom(batch: PendingAppend[]): Promise<PendingAppend[]> {
    const needsReserve = batch.some((append) => append.reserveUse === 'refill-first');
    try {
      await this.extendTo(this.endPosition + encodedBytes(batch) + (needsReserve ? this.reserveBytes : 0));
      return batch;
    } catch (error) {
      const removals = batch.filter((append) => append.reserveUse === 'may-use-reserve');
      for (const append of batch) if (append.reserveUse === 'refill-first') append.reject(error as Error);
      try {
        await this.extendTo(this.endPosition + encodedBytes(removals));
        return removals;
      } catch (removalError) {
        for (const append of removals) append.reject(removalError as Error);
        return [];
      }
    }
  }

  /** Grows the file with fsynced zeros to at least `targetBytes`, by a whole reserve at a time. */
  private async extendTo(targetBytes: number): Promise<void> {
    if (this.allocatedBytes >= targetBytes) return;
    const newSize = Math.max(targetBytes, this.allocatedBytes + this.reserveBytes);
    try {
      await this.zeroRange(this.allocatedBytes, newSize);
      await this.handle.datasync(); // delayed allocation: the blocks are the file's once written back
    } catch (error) {
      await this.handle.truncate(this.allocatedBytes).catch(() => undefined);
      throw error;
    }
    this.allocatedBytes = newSize;
  }

  private async zeroRange(fromPosition: number, toPosition: number): Promise<void> {
    if (toPosition <= fromPosition) return;
    const zeros = Buffer.alloc(Math.min(zeroChunkBytes, toPosition - fromPosition));
    for (let position = fromPosition; position < toPosition; position += zeros.length) {
      await this.writeAt(zeros.subarray(0, Math.min(zeros.length, toPosition - position)), position);
    }
  }

  private async writeAt(bytes: Buffer, position: number): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written, position + written);
      written += bytesWritten;
    }
  }
}

function encodedBytes(appends: readonly PendingAppend[]): number {
  return appends.reduce((total, append) => total + recordHeaderBytes + append.payload.length, 0);
}

function encodeRecord(sequence: number, payload: Buffer): Buffer {
  const record = Buffer.allocUnsafe(recordHeaderBytes + payload.length);
  record.writeUInt32BE(payload.length, 0);
  record.writeBigUInt64BE(BigInt(sequence), 8);
  payload.copy(record, recordHeaderBytes);
  record.writeUInt32BE(crc32c(record.subarray(8)), 4);
  return record;
}

export interface JournalRecord {
  readonly sequence: number;
  readonly payload: Buffer;
}

/** The valid records of a journal file and where they end (see the file comment). */
export function scanRecords(contents: Buffer, path: string): { records: JournalRecord[]; endPosition: number } {
  if (contents.length < journalHeaderBytes || !contents.subarray(0, 4).equals(journalMagic)) {
    throw new Error(`${path}: not a cluster metadata journal (bad header)`);
  }
  const version = contents.readUInt32BE(4);
  if (version !== journalFormatVersion) throw new Error(`${path}: journal format version ${version}; this broker reads version ${journalFormatVersion}`);
  const records: JournalRecord[] = [];
  let position = journalHeaderBytes;
  while (position + recordHeaderBytes <= contents.length) {
    const length = contents.readUInt32BE(position);
    const end = position + recordHeaderBytes + length;
    if (length === 0 || end > contents.length) break;
    if (crc32c(contents.subarray(position + 8, end)) !== contents.readUInt32BE(position + 4)) break;
    const sequence = Number(contents.readBigUInt64BE(position + 8));
    const previous = records.at(-1);
    if (previous !== undefined && sequence !== previous.sequence + 1) break;
    records.push({ sequence, payload: contents.subarray(position + recordHeaderBytes, end) });
    position = end;
  }
  return { records, endPosition: position };
}

/**
 * Opens the journal for reading and writing. A new one is written whole under a temporary name and
 * renamed, so the journal never exists without its header.
 */
async function openOrCreate(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDWR);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temporaryPath = `${path}.tmp`;
  const created = await open(temporaryPath, 'w', 0o644);
  try {
    const header = Buffer.alloc(journalHeaderBytes);
    journalMagic.copy(header, 0);
    header.writeUInt32BE(journalFormatVersion, 4);
    await created.write(header, 0, header.length, 0);
    await created.datasync();
  } finally {
    await created.close();
  }
  await rename(temporaryPath, path);
  await syncDirectory(dirname(path));
  return open(path, constants.O_RDWR);
}
