import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import { defaultSyncFile, syncDirectory, type SyncFile } from '../../storage/segment.js';
import type { DispositionSnapshot } from './dispositions.js';
import { OffsetRanges } from './offset-ranges.js';
import { snapshotRecords, StateReplay } from './state-records.js';
import { StateRecordWriter, type StateRecordWriterOptions, type StateSource, type WrittenState } from './state-record-writer.js';

/**
 * The state file: the durable half of a delayed exchange's dispositions (delayed/delayed-store.ts),
 * and of a queue's before queues kept them in their own log (log-state.ts). `dispositions.state`
 * beside the log is an append-only file of state records (state-records.ts) after a header.
 * Big-endian:
 *
 *   file header   0  magic           4 bytes  "OQSL"
 *                 4  formatVersion   uint16   1
 *                 6  reserved        uint16   0
 *   records       state records (state-records.ts), back to back
 *
 * Replay stops at the first record that does not fit the file, fails its CRC, or has an unknown
 * type or a payload of the wrong size: a torn write that was never acknowledged (settles are not
 * awaited by anyone). What follows is ignored, and the file is rewritten at open anyway.
 *
 * Writing (StateLog, a StateRecordWriter): each cycle's records in one write at the end of the
 * file and one fdatasync (group commit per event-loop turn; settle() never waits for it).
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

export interface StateLogOptions extends StateRecordWriterOptions {
  readonly syncFile?: SyncFile;
  /** Called after each cycle made the state durable, with settledBelow as that cycle wrote it. */
  readonly onDurable?: (settledBelow: number) => void;
}

export function fileHeader(): Buffer {
  const header = Buffer.alloc(fileHeaderBytes);
  magic.copy(header, 0);
  header.writeUInt16BE(stateFormatVersion, 4);
  return header;
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

export class StateLog extends StateRecordWriter {
  private readonly syncFile: SyncFile;

  private constructor(
    readonly directory: string,
    private handle: FileHandle,
    source: StateSource,
    private readonly fileOptions: StateLogOptions,
    written: WrittenState,
  ) {
    super(source, { ...fileOptions, logger: fileOptions.logger.with({ directory }) }, written);
    this.syncFile = fileOptions.syncFile ?? defaultSyncFile;
  }

  /** Writes a new state file holding the source's snapshot (replacing any other atomically) and opens it for appends. */
  static async create(directory: string, source: StateSource, options: StateLogOptions): Promise<StateLog> {
    const snapshot = source.snapshot();
    const { handle, bytes } = await writeSnapshotFile(directory, snapshot, options.syncFile ?? defaultSyncFile, options.logger);
    return new StateLog(directory, handle, source, options, { deliveredBelow: snapshot.deliveredBelow, snapshotBytes: bytes, bytesSinceSnapshot: bytes });
  }

  override async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await super.close();
    } finally {
      await this.handle.close();
    }
  }

  /** One write at the end of the file (sizeBytes: the file starts with the latest snapshot), one fdatasync. */
  protected async appendRecords(records: readonly Buffer[]): Promise<number> {
    const bytes = records.length === 1 ? records[0]! : Buffer.concat(records);
    await this.handle.write(bytes, 0, bytes.length, this.sizeBytes);
    await this.syncFile(this.handle, 'checkpoint');
    return bytes.length;
  }

  /** Replaces the file with one holding the snapshot; appends continue in the new file. */
  protected async appendSnapshot(snapshot: DispositionSnapshot): Promise<number> {
    const { handle, bytes } = await writeSnapshotFile(this.directory, snapshot, this.syncFile, this.fileOptions.logger);
    const old = this.handle;
    this.handle = handle;
    // The new file is the state file now, whatever this says.
    await old.close().catch((error: unknown) => this.fileOptions.logger.warn('queue state file: closing the file a snapshot replaced failed', { directory: this.directory, error: (error as Error).message }));
    return bytes;
  }

  protected durable(settledBelow: number): void {
    this.fileOptions.onDurable?.(settledBelow);
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
