import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, fstatSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import {
  batchHeaderBytes,
  batchOverheadBytes,
  describeHeaderFieldProblem,
  hasValidCrc,
  noTimestamp,
  readBaseOffset,
  readBatchLength,
  readLastOffsetDelta,
  readMaxTimestamp,
} from '../protocol/kafka/batch-header.js';
import type { DamagedRange } from './errors.js';
import { logDamage } from './damage.js';
import { readChunk, scanSegmentFile } from './segment-scan.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { Segment, logSuffix, offsetIndexSuffix, parseSegmentFileName, segmentFileName, timeIndexSuffix } from './segment.js';
import { logStartOffsetFileName, readOffsetCheckpoint, recoveryPointFileName, temporarySuffix } from './checkpoint.js';
import { cleanedSuffix, readCleanerState, readCleanerSwap, removeCleanerSwapSync, syncDirectorySync, writeCleanerStateSync } from './cleaner-state.js';

/**
 * Recovery when a partition log is opened (synchronous I/O: this runs before the log serves).
 *
 * Rules:
 *  0. A swap of cleaned segments that reached its commit point (a `cleaner-swap` file) is finished:
 *     every `.cleaned` file it names is renamed over its segment's file and the cleaner state is
 *     written. Any other `.cleaned` file belongs to a pass that did not commit and is removed.
 *     Segments wholly below the cleaner state's cleanedEndOffset may have gaps between batches
 *     (records removed by compaction): rules 3 and 5 accept a baseOffset above the expected one there.
 *  1. Leftover `*.tmp` files and index files without a `.log` are removed.
 *  2. Segments wholly below the `log-start-offset` checkpoint are deleted (a crash between the
 *     checkpoint write and the unlink leaves them behind).
 *  3. Every segment not wholly below the `recovery-point-offset-checkpoint` (all of them when the
 *     file is absent), and always the last one, is scanned batch by batch (segment-scan.ts): the
 *     length must fit the file, magic must be 2, lastOffsetDelta ≥ 0, the CRC-32C must match and
 *     baseOffset must be the previous batch's last offset + 1 (the segment's base offset for the
 *     first). Its indexes are rebuilt by the scan.
 *  4. A batch that fails is a torn write only when it lies at or above the recovery point and no
 *     valid data follows it (no valid batch later in its file, no later segment file with bytes):
 *     the file is truncated there (a warning) and empty later segments are deleted. Otherwise it is
 *     corruption of acknowledged data: the bytes stay on disk as a damaged range (an error naming
 *     file, position and offsets), its offsets are never served (CORRUPT_MESSAGE), the offsets
 *     after it are. Nothing acknowledged is deleted without an operator.
 *  5. Segments below the recovery point keep their index files if these parse, increase, stay within
 *     the file, and the last offset-index entry points at a batch header with the expected offset;
 *     otherwise they are scanned as in 3.
 *  6. After a clean shutdown the recovery point is the log end offset and the last segment's indexes
 *     were written with it. The last segment is then trusted without a scan when its indexes pass
 *     rule 5 and the batches after the last offset-index entry (a few KB) pass the checks of 3 and
 *     continue it exactly to the end of the file, ending at the recovery point, with no timestamp
 *     beyond the time index's last entry. Anything written after the checkpoint (a crash) fails
 *     this, and the segment is scanned as in 3. So a restart reads indexes, not gigabytes of log.
 *  7. Offsets missing between two segments (a file shorter than its successor's name says) are a
 *     damaged range too, at the end of the shorter file.
 *  8. When the recovery point lies inside the last segment (open writes the log end offset as the
 *     recovery point, after persisting the active segment's indexes; flush() moves it on), the
 *     batches below it are taken from the index files (validating only those after the last index
 *     entry below it) and only the rest is scanned as in 3 and 4.
 *  9. When the broker's journal holds batches for this log (journal.ts), its segments past the
 *     recovery point were written but not fsynced when the broker stopped, and the disk may have
 *     kept any part of them: the first batch there that fails is cut, with everything after it, as
 *     a torn write, whatever follows; the journal's replay appends the acknowledged batches again.
 * Nothing is served that was not either scanned here or covered by the recovery point; what is
 * covered but damaged at rest is caught by the CRC check of the read path.
 */

export interface RecoveryInput {
  directory: string;
  indexIntervalBytes: number;
  nowMs: number;
  logger: Logger | null;
  /** Rule 9: the journal holds batches for this log. */
  journaled?: boolean;
}

export interface RecoveredLog {
  segments: Segment[];
  logStartOffset: number;
  /** Segments whose indexes were rebuilt and need writing (and whose data should be fsynced). */
  rebuilt: Segment[];
  truncatedBytes: number;
  /** Bytes of log read batch by batch by the scans of rule 3 (not counting index-trusted data). */
  scannedBytes: number;
  /** Damaged ranges kept (rule 4), oldest first. */
  damage: DamagedRange[];
}

export function recoverLog(input: RecoveryInput): RecoveredLog {
  const { directory, logger } = input;
  mkdirSync(directory, { recursive: true });
  finishCleanerSwap(directory, logger);
  const cleanedEndOffset = readCleanerState(directory).cleanedEndOffset;
  const baseOffsets = listSegments(directory);
  const recoveryPoint = readOffsetCheckpoint(directory, recoveryPointFileName);
  let logStartOffset = readOffsetCheckpoint(directory, logStartOffsetFileName) ?? 0;

  // Rule 2: drop segments wholly below the log start offset.
  while (baseOffsets.length > 1 && baseOffsets[1]! <= logStartOffset) {
    deleteSegmentFiles(directory, baseOffsets.shift()!);
  }

  const segments: Segment[] = [];
  const rebuilt: Segment[] = [];
  let truncatedBytes = 0;
  let scannedBytes = 0;
  for (let index = 0; index < baseOffsets.length; index++) {
    const baseOffset = baseOffsets[index]!;
    const isLast = index === baseOffsets.length - 1;
    const nextBase = isLast ? Infinity : baseOffsets[index + 1]!;
    const segment = new Segment(directory, baseOffset, input.nowMs, input.indexIntervalBytes);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && previous.nextOffset < baseOffset) keepMissingOffsets(previous, baseOffset, logger);
    if (previous !== undefined && previous.nextOffset !== baseOffset) {
      logger?.error('segment overlaps the previous one; dropping it and later segments', { directory, baseOffset, expected: previous.nextOffset });
      for (const later of baseOffsets.slice(index)) deleteSegmentFiles(directory, later);
      break;
    }
    const cleaned = !isLast && nextBase <= cleanedEndOffset;
    const trusted =
      recoveryPoint !== null && (isLast ? loadCleanLastSegment(segment, recoveryPoint) : nextBase <= recoveryPoint && loadIndexes(segment, nextBase, cleaned));
    if (trusted) {
      segment.sealed = !isLast;
      segments.push(segment);
      continue;
    }
    const laterBytes = baseOffsets.slice(index + 1).reduce((total, later) => total + fileSize(join(directory, segmentFileName(later, logSuffix))), 0);
    // Rule 8: in the last segment, only what lies past the recovery point is scanned.
    const from = isLast && recoveryPoint !== null ? loadPrefixBelow(segment, recoveryPoint) : null;
    const scan = scanSegment(segment, { recoveryPoint, nextBase, validDataFollows: laterBytes > 0, cleaned, journaled: input.journaled ?? false, logger }, from);
    rebuilt.push(segment);
    scannedBytes += scan.scannedBytes;
    if (scan.tornBytes === 0) {
      segments.push(segment);
      continue;
    }
    // Rule 4, a torn write: nothing valid after it, so the later segment files are empty.
    truncatedBytes += scan.tornBytes;
    if (segment.sizeBytes === 0 && segments.length > 0) {
      deleteSegmentFiles(directory, baseOffset);
      rebuilt.pop();
    } else {
      truncateFile(segment.logPath, segment.sizeBytes);
      segments.push(segment);
    }
    for (const laterBase of baseOffsets.slice(index + 1)) deleteSegmentFiles(directory, laterBase);
    break;
  }

  const damage = segments.flatMap((segment) => segment.damage);
  const first = segments[0];
  const last = segments[segments.length - 1];
  if (first === undefined || last === undefined) {
    return { segments: [new Segment(directory, logStartOffset, input.nowMs, input.indexIntervalBytes)], logStartOffset, rebuilt: [], truncatedBytes, scannedBytes, damage };
  }
  if (logStartOffset > last.nextOffset) {
    // Data below the log start offset was lost (not fsynced before a crash): start empty there.
    logger?.warn('log ends below its start offset; starting an empty log', { directory, logStartOffset, logEndOffset: last.nextOffset });
    for (const segment of segments) deleteSegmentFiles(directory, segment.baseOffset);
    return { segments: [new Segment(directory, logStartOffset, input.nowMs, input.indexIntervalBytes)], logStartOffset, rebuilt: [], truncatedBytes, scannedBytes, damage: [] };
  }
  logStartOffset = Math.max(logStartOffset, first.baseOffset);
  return { segments, logStartOffset, rebuilt, truncatedBytes, scannedBytes, damage };
}

/** Rule 0: finishes a committed swap of cleaned segments; removes the files of one that did not commit. */
function finishCleanerSwap(directory: string, logger: Logger | null): void {
  const swap = readCleanerSwap(directory);
  if (swap !== null) {
    for (const baseOffset of swap.baseOffsets) {
      for (const suffix of [logSuffix, offsetIndexSuffix, timeIndexSuffix]) {
        const path = join(directory, segmentFileName(baseOffset, suffix));
        try {
          renameSync(path + cleanedSuffix, path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // renamed before the crash
        }
      }
    }
    syncDirectorySync(directory);
    writeCleanerStateSync(directory, swap.state);
    removeCleanerSwapSync(directory);
    logger?.info('finished swapping in cleaned segments after a restart', { directory, segments: swap.baseOffsets.length });
  }
  for (const name of readdirSync(directory)) {
    if (name.endsWith(cleanedSuffix)) unlinkSync(join(directory, name));
  }
}

/** Rule 7: offsets between the end of `previous` and the next segment's base are kept as damage. */
function keepMissingOffsets(previous: Segment, nextBase: number, logger: Logger | null): void {
  const range: DamagedRange = {
    file: previous.logPath,
    position: previous.sizeBytes,
    endPosition: previous.sizeBytes,
    firstOffset: previous.nextOffset,
    lastOffset: nextBase - 1,
    problem: `file ends at offset ${previous.nextOffset}, the next segment starts at ${nextBase}`,
  };
  previous.recordDamage(range, true);
  logDamage(logger, range);
}

/** Base offsets of the `.log` files, ascending, after removing temporary and orphan files. */
function listSegments(directory: string): number[] {
  const names = readdirSync(directory);
  const logs = new Set<number>();
  for (const name of names) {
    const base = parseSegmentFileName(name, logSuffix);
    if (base !== null) logs.add(base);
  }
  for (const name of names) {
    if (name.endsWith(temporarySuffix)) {
      unlinkSync(join(directory, name));
      continue;
    }
    const indexBase = parseSegmentFileName(name, offsetIndexSuffix) ?? parseSegmentFileName(name, timeIndexSuffix);
    if (indexBase !== null && !logs.has(indexBase)) unlinkSync(join(directory, name));
  }
  return [...logs].sort((left, right) => left - right);
}

/** Rule 5: trust a sealed segment's index files if they are consistent with its log. */
function loadIndexes(segment: Segment, nextBase: number, cleaned: boolean): boolean {
  const sizeBytes = fileSize(segment.logPath);
  const offsetBytes = readOptional(segment.offsetIndexPath);
  const timeBytes = readOptional(segment.timeIndexPath);
  if (offsetBytes === null || timeBytes === null || sizeBytes === 0) return false;
  const offsetIndex = OffsetIndex.decode(offsetBytes, sizeBytes);
  const timeIndex = TimeIndex.decode(timeBytes, nextBase - segment.baseOffset);
  if (offsetIndex === null || timeIndex === null) return false;
  const position = offsetIndex.lastPosition < 0 ? 0 : offsetIndex.lastPosition;
  const expectedOffset = segment.baseOffset + Math.max(0, offsetIndex.lastRelativeOffset);
  const header = readAt(segment.logPath, position, batchHeaderBytes);
  if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null) return false;
  // An entry names its batch exactly; a cleaned segment's first batch may start after its base offset.
  const baseOffset = readBaseOffset(header, 0);
  const expected = offsetIndex.lastPosition < 0 && cleaned ? baseOffset >= expectedOffset && baseOffset < nextBase : baseOffset === expectedOffset;
  if (!expected) return false;
  segment.restoreFromIndexes(offsetIndex, timeIndex, sizeBytes, nextBase, firstBatchTimestamp(segment.logPath));
  return true;
}

/** Rule 6: trust the last segment after a clean shutdown, reading only the batches after its last index entry. */
function loadCleanLastSegment(segment: Segment, recoveryPoint: number): boolean {
  if (recoveryPoint <= segment.baseOffset) return false;
  const sizeBytes = fileSize(segment.logPath);
  const offsetBytes = readOptional(segment.offsetIndexPath);
  const timeBytes = readOptional(segment.timeIndexPath);
  if (offsetBytes === null || timeBytes === null || sizeBytes === 0) return false;
  const offsetIndex = OffsetIndex.decode(offsetBytes, sizeBytes);
  const timeIndex = TimeIndex.decode(timeBytes, recoveryPoint - segment.baseOffset);
  if (offsetIndex === null || timeIndex === null) return false;
  const lastTimestamp = timeIndex.lastEntry?.timestamp ?? Number.NEGATIVE_INFINITY;
  let position = offsetIndex.lastPosition < 0 ? 0 : offsetIndex.lastPosition;
  let expectedOffset = segment.baseOffset + Math.max(0, offsetIndex.lastRelativeOffset);
  const descriptor = openSync(segment.logPath, 'r');
  try {
    while (position < sizeBytes) {
      const header = readChunk(descriptor, position, batchHeaderBytes);
      if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null || readBaseOffset(header, 0) !== expectedOffset) return false;
      const totalBytes = readBatchLength(header, 0) + batchOverheadBytes;
      if (totalBytes < batchHeaderBytes || position + totalBytes > sizeBytes) return false;
      if (readMaxTimestamp(header, 0) > lastTimestamp) return false;
      const batch = readChunk(descriptor, position, totalBytes);
      if (batch.length < totalBytes || checkBatch(batch, 0, totalBytes, expectedOffset) !== null) return false;
      expectedOffset += readLastOffsetDelta(header, 0) + 1;
      position += totalBytes;
    }
  } finally {
    closeSync(descriptor);
  }
  if (expectedOffset !== recoveryPoint) return false;
  segment.restoreFromIndexes(offsetIndex, timeIndex, sizeBytes, recoveryPoint, firstBatchTimestamp(segment.logPath));
  return true;
}

interface ScanContext {
  recoveryPoint: number | null;
  /** Base offset of the next segment (Infinity for the last). */
  nextBase: number;
  /** A later segment file holds bytes. */
  validDataFollows: boolean;
  /** Wholly below the cleaner's cleanedEndOffset: gaps between batches are allowed. */
  cleaned: boolean;
  /** Rule 9: past the recovery point, the first failing batch is a torn write whatever follows. */
  journaled: boolean;
  logger: Logger | null;
}

/**
 * Rules 3 and 4: validates every batch of the segment's file, recording each in the segment
 * (sizes, indexes, timestamps) and each damaged range. Returns the bytes of a torn tail to cut
 * (0 when none); `segment.sizeBytes` is then the length to keep.
 */
function scanSegment(segment: Segment, context: ScanContext, from: { position: number; offset: number } | null): { tornBytes: number; scannedBytes: number } {
  if (from === null) segment.resetForScan();
  const path = segment.logPath;
  const keep = (range: DamagedRange): void => {
    segment.recordDamage(range, true);
    logDamage(context.logger, range);
  };
  const unsynced = (offset: number) => context.journaled && offset >= (context.recoveryPoint ?? 0);
  let cutAt: { position: number; offset: number; problem: string } | null = null;
  const end = scanSegmentFile(path, from ?? { position: 0, offset: segment.baseOffset }, context.cleaned, {
    batch(position, buffer, at, totalBytes) {
      if (cutAt !== null) return;
      const baseOffset = readBaseOffset(buffer, at);
      segment.recordBatch(position, baseOffset, baseOffset + readLastOffsetDelta(buffer, at), readMaxTimestamp(buffer, at), totalBytes);
      segment.sizeBytes = position + totalBytes;
    },
    damage(position, expectedOffset, problem, resume) {
      if (cutAt !== null) return;
      if (unsynced(expectedOffset)) {
        cutAt = { position, offset: expectedOffset, problem };
        return;
      }
      keep({ file: path, position, endPosition: resume.position, firstOffset: expectedOffset, lastOffset: resume.baseOffset - 1, problem });
      segment.sizeBytes = resume.position;
    },
  });
  segment.writtenBytes = segment.sizeBytes;
  const scannedBytes = end.fileBytes - (from?.position ?? 0);
  const tail = cutAt ?? (end.tail === null ? null : { position: end.tail.position, offset: end.tail.expectedOffset, problem: end.tail.problem });
  if (tail === null) return { tornBytes: 0, scannedBytes };
  const belowRecoveryPoint = context.recoveryPoint !== null && tail.offset < context.recoveryPoint;
  if (!unsynced(tail.offset) && (context.validDataFollows || belowRecoveryPoint)) {
    // The offsets it stood for: up to the next segment, or (last segment) at least the recovery point.
    const lastOffset = context.validDataFollows ? context.nextBase - 1 : Math.max(tail.offset, (context.recoveryPoint ?? 0) - 1);
    keep({ file: path, position: tail.position, endPosition: end.fileBytes, firstOffset: tail.offset, lastOffset, problem: tail.problem });
    segment.sizeBytes = end.fileBytes;
    segment.writtenBytes = end.fileBytes;
    return { tornBytes: 0, scannedBytes };
  }
  const tornBytes = end.fileBytes - tail.position;
  segment.sizeBytes = tail.position;
  segment.writtenBytes = tail.position;
  context.logger?.warn(cutAt !== null ? 'truncating unsynced log data at the first batch that fails (the journal holds what was acknowledged)' : 'truncating a torn write at the end of the log (after the recovery point, nothing valid after it)', {
    file: path,
    position: tail.position,
    offset: tail.offset,
    recoveryPoint: context.recoveryPoint ?? undefined,
    problem: tail.problem,
    droppedBytes: tornBytes,
  });
  return { tornBytes, scannedBytes };
}

/**
 * Rule 8: the last segment's batches below the recovery point (fsynced, with index files complete
 * up to it) are taken from its indexes: entries at or past the recovery point are dropped, and the
 * batches from the last remaining entry up to the recovery point are validated and recorded, so the
 * scan can start there. Returns where it starts; null (scan the whole file) when anything does not
 * check out.
 */
function loadPrefixBelow(segment: Segment, recoveryPoint: number): { position: number; offset: number } | null {
  if (recoveryPoint <= segment.baseOffset) return null;
  const sizeBytes = fileSize(segment.logPath);
  const offsetBytes = readOptional(segment.offsetIndexPath);
  const timeBytes = readOptional(segment.timeIndexPath);
  if (offsetBytes === null || timeBytes === null) return null;
  const offsetIndex = OffsetIndex.decode(offsetBytes, sizeBytes);
  const timeIndex = TimeIndex.decode(timeBytes, Number.MAX_SAFE_INTEGER);
  if (offsetIndex === null || timeIndex === null) return null;
  const start = offsetIndex.lookup(recoveryPoint - 1 - segment.baseOffset);
  offsetIndex.truncateToPosition(start.position + 1);
  timeIndex.truncateToRelativeOffset(start.relativeOffset + 1);
  offsetIndex.persistedCount = 0; // rewritten whole at open
  timeIndex.persistedCount = 0;
  let position = start.position;
  let expectedOffset = segment.baseOffset + start.relativeOffset;
  segment.restoreFromIndexes(offsetIndex, timeIndex, position, expectedOffset, firstBatchTimestamp(segment.logPath));
  const descriptor = openSync(segment.logPath, 'r');
  try {
    while (expectedOffset < recoveryPoint) {
      const header = readChunk(descriptor, position, batchHeaderBytes);
      if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null) return null;
      const totalBytes = readBatchLength(header, 0) + batchOverheadBytes;
      if (position + totalBytes > sizeBytes) return null;
      const batch = readChunk(descriptor, position, totalBytes);
      if (batch.length < totalBytes || checkBatch(batch, 0, totalBytes, expectedOffset) !== null) return null;
      const lastOffset = expectedOffset + readLastOffsetDelta(batch, 0);
      segment.recordBatch(position, expectedOffset, lastOffset, readMaxTimestamp(batch, 0), totalBytes);
      position += totalBytes;
      segment.sizeBytes = position;
      segment.writtenBytes = position;
      expectedOffset = lastOffset + 1;
    }
  } finally {
    closeSync(descriptor);
  }
  return expectedOffset === recoveryPoint ? { position, offset: expectedOffset } : null;
}

/** maxTimestamp of the first batch of a file (noTimestamp if unreadable): where segment.ms counts from. */
function firstBatchTimestamp(path: string): number {
  const header = readAt(path, 0, batchHeaderBytes);
  if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null) return noTimestamp;
  return readMaxTimestamp(header, 0);
}

function checkBatch(buffer: Buffer, at: number, totalBytes: number, expectedBaseOffset: number): string | null {
  if (!hasValidCrc(buffer, at, totalBytes)) return 'CRC-32C mismatch';
  const baseOffset = readBaseOffset(buffer, at);
  if (baseOffset !== expectedBaseOffset) return `baseOffset ${baseOffset}, expected ${expectedBaseOffset}`;
  return null;
}

function readAt(path: string, position: number, length: number): Buffer {
  const descriptor = openSync(path, 'r');
  try {
    return readChunk(descriptor, position, length);
  } finally {
    closeSync(descriptor);
  }
}

function readOptional(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function fileSize(path: string): number {
  const descriptor = openSync(path, 'r');
  try {
    return fstatSync(descriptor).size;
  } finally {
    closeSync(descriptor);
  }
}

function truncateFile(path: string, length: number): void {
  const descriptor = openSync(path, 'r+');
  try {
    ftruncateSync(descriptor, length);
  } finally {
    closeSync(descriptor);
  }
}

function deleteSegmentFiles(directory: string, baseOffset: number): void {
  for (const suffix of [logSuffix, offsetIndexSuffix, timeIndexSuffix]) {
    try {
      unlinkSync(join(directory, segmentFileName(baseOffset, suffix)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
