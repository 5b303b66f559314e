import { open, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { strict as assert } from 'node:assert';
import { batchTotalBytes, readBaseOffset, readLastOffset } from '../protocol/kafka/batch-header.js';
import { cleanedSuffix } from './cleaner-state.js';
import { Segment, writeFully, type SyncFile } from './segment.js';

/**
 * The new version of one sealed segment, written beside it by the log cleaner:
 *
 *   <dir>/00000000000000001200.log.cleaned        the batches kept, same offsets, back to back
 *   <dir>/00000000000000001200.index.cleaned      its offset index, built as the batches are written
 *   <dir>/00000000000000001200.timeindex.cleaned  its time index
 *
 * Batches are appended in offset order; they may leave gaps between them (records removed), but the
 * last one must end where the old segment ends, so segments keep meeting each other exactly.
 * `finish` fsyncs the three files; the log (PartitionLog.swapInCleanedSegments) then renames them
 * over the old ones. Until then nothing reads them, and recovery removes them when no swap record
 * names them (cleaner-state.ts).
 */

const writeBufferBytes = 1024 * 1024;

export class CleanedSegmentWriter {
  /** The in-memory segment that serves the new file once it is swapped in (indexes, sizes, offsets). */
  readonly segment: Segment;
  private handle: FileHandle | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writtenBytes = 0;
  private finished = false;

  constructor(
    readonly replaces: Segment,
    indexIntervalBytes: number,
    private readonly syncFile: SyncFile,
  ) {
    this.segment = new Segment(replaces.directory, replaces.baseOffset, replaces.createdMs, indexIntervalBytes);
  }

  static paths(segment: Segment): string[] {
    return [segment.logPath, segment.offsetIndexPath, segment.timeIndexPath].map((path) => path + cleanedSuffix);
  }

  /** Appends one whole batch (offsets as stored, above every batch appended before). */
  async append(batch: Buffer): Promise<void> {
    assert(!this.finished, 'no append after finish');
    assert(batchTotalBytes(batch, 0) === batch.length, 'one whole batch');
    const baseOffset = readBaseOffset(batch, 0);
    assert(baseOffset >= this.segment.nextOffset && readLastOffset(batch, 0) < this.replaces.nextOffset, 'batches ascend within the segment');
    this.segment.recordAppend(batch);
    this.pending.push(batch);
    this.pendingBytes += batch.length;
    if (this.pendingBytes >= writeBufferBytes) await this.writePending();
  }

  private async writePending(): Promise<void> {
    if (this.pendingBytes === 0) return;
    this.handle ??= await open(this.segment.logPath + cleanedSuffix, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o644);
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.writtenBytes = await writeFully(this.handle, pending, this.writtenBytes);
  }

  /** Writes what is left, the index files, and fsyncs all three. The segment must end where the old one did. */
  async finish(): Promise<void> {
    assert.equal(this.segment.nextOffset, this.replaces.nextOffset, 'a cleaned segment ends where the old one ended');
    this.finished = true;
    await this.writePending();
    const handle = this.handle ?? (this.handle = await open(this.segment.logPath + cleanedSuffix, 'w', 0o644));
    await this.syncFile(handle, 'log');
    await handle.close();
    this.handle = null;
    const segment = this.segment;
    segment.writtenBytes = segment.sizeBytes;
    segment.finishTimeIndex();
    await writeIndexFile(segment.offsetIndexPath + cleanedSuffix, segment.offsetIndex.encode(0), this.syncFile);
    await writeIndexFile(segment.timeIndexPath + cleanedSuffix, segment.timeIndex.encode(0), this.syncFile);
    segment.offsetIndex.persistedCount = segment.offsetIndex.entryCount;
    segment.timeIndex.persistedCount = segment.timeIndex.entryCount;
  }

  /** Closes and removes whatever was written (a pass given up). */
  async discard(): Promise<void> {
    this.finished = true;
    const handle = this.handle;
    this.handle = null;
    await handle?.close().catch(() => {});
    for (const path of CleanedSegmentWriter.paths(this.segment)) {
      await unlink(path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
  }
}

async function writeIndexFile(path: string, bytes: Buffer, syncFile: SyncFile): Promise<void> {
  const handle = await open(path, 'w', 0o644);
  try {
    if (bytes.length > 0) await handle.write(bytes, 0, bytes.length, 0);
    await syncFile(handle, 'index');
  } finally {
    await handle.close();
  }
}
