import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, fstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { batchHeaderBytes, batchOverheadBytes, describeHeaderFieldProblem, hasValidCrc, readBaseOffset, readBatchLength, readLastOffsetDelta, readMaxTimestamp } from '../protocol/kafka/batch-header.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { Segment, logSuffix, offsetIndexSuffix, parseSegmentFileName, segmentFileName, timeIndexSuffix } from './segment.js';
import { logStartOffsetFileName, readOffsetCheckpoint, recoveryPointFileName, temporarySuffix } from './checkpoint.js';

/**
 * Recovery when a partition log is opened (synchronous I/O: this runs before the log serves).
 *
 * Rules:
 *  1. Leftover `*.tmp` files and index files without a `.log` are removed.
 *  2. Segments wholly below the `log-start-offset` checkpoint are deleted (a crash between the
 *     checkpoint write and the unlink leaves them behind).
 *  3. Every segment not wholly below the `recovery-point-offset-checkpoint` (all of them when the
 *     file is absent), and always the last one, is scanned batch by batch: the length must fit the
 *     file, magic must be 2, lastOffsetDelta ≥ 0, the CRC-32C must match and baseOffset must be the
 *     previous batch's last offset + 1 (the segment's base offset for the first). Its indexes are
 *     rebuilt by the scan.
 *  4. At the first batch that fails, the file is truncated there and every later segment is deleted.
 *     A later segment left with no batches is deleted too, so offsets stay contiguous.
 *  5. Segments below the recovery point keep their index files if these parse, increase, stay within
 *     the file, and the last offset-index entry points at a batch header with the expected offset;
 *     otherwise they are scanned as in 3.
 * 6. After a clean shutdown the recovery point is the log end offset and the last segment's indexes
 *     were written with it. The last segment is then trusted without a scan when its indexes pass
 *     rule 5 and the batches after the last offset-index entry (a few KB) pass the checks of 3 and
 *     continue it exactly to the end of the file, ending at the recovery point, with no timestamp
 *     beyond the time index's last entry. Anything written after the checkpoint (a crash) fails this, and the
 *     segment is scanned as in 3. So a restart reads indexes, not gigabytes of log.
 * Nothing is served that was not either scanned here or covered by the recovery point.
 */

const scanChunkBytes = 4 * 1024 * 1024;

export interface RecoveryInput {
  directory: string;
  indexIntervalBytes: number;
  nowMs: number;
  logger: Logger | null;
}

export interface RecoveredLog {
  segments: Segment[];
  logStartOffset: number;
  /** Segments whose indexes were rebuilt and need writing (and whose data should be fsynced). */
  rebuilt: Segment[];
  truncatedBytes: number;
}

export function recoverLog(input: RecoveryInput): RecoveredLog {
  const { directory, logger } = input;
  mkdirSync(directory, { recursive: true });
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
  for (let index = 0; index < baseOffsets.length; index++) {
    const baseOffset = baseOffsets[index]!;
    const isLast = index === baseOffsets.length - 1;
    const nextBase = isLast ? Infinity : baseOffsets[index + 1]!;
    const segment = new Segment(directory, baseOffset, input.nowMs, input.indexIntervalBytes);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && previous.nextOffset !== baseOffset) {
      logger?.warn('segment does not continue the previous one; dropping it and later segments', { directory, baseOffset, expected: previous.nextOffset });
      for (const later of baseOffsets.slice(index)) deleteSegmentFiles(directory, later);
      break;
    }
    const trusted =
      recoveryPoint !== null && (isLast ? loadCleanLastSegment(segment, recoveryPoint) : nextBase <= recoveryPoint && loadIndexes(segment, nextBase));
    if (trusted) {
      segment.sealed = !isLast;
      segments.push(segment);
      continue;
    }
    const scan = scanSegment(segment);
    rebuilt.push(segment);
    if (scan.problem === null) {
      segments.push(segment);
      continue;
    }
    truncatedBytes += scan.fileBytes - segment.sizeBytes;
    logger?.warn('truncating log at invalid batch', { directory, segment: baseOffset, position: segment.sizeBytes, problem: scan.problem, droppedBytes: scan.fileBytes - segment.sizeBytes });
    const later = baseOffsets.slice(index + 1);
    if (segment.sizeBytes === 0 && segments.length > 0) {
      deleteSegmentFiles(directory, baseOffset);
      rebuilt.pop();
    } else {
      truncateFile(segment.logPath, segment.sizeBytes);
      segments.push(segment);
    }
    for (const laterBase of later) {
      truncatedBytes += fileSize(join(directory, segmentFileName(laterBase, logSuffix)));
      deleteSegmentFiles(directory, laterBase);
    }
    break;
  }

  const first = segments[0];
  const last = segments[segments.length - 1];
  if (first === undefined || last === undefined) {
    return { segments: [new Segment(directory, logStartOffset, input.nowMs, input.indexIntervalBytes)], logStartOffset, rebuilt: [], truncatedBytes };
  }
  if (logStartOffset > last.nextOffset) {
    // Data below the log start offset was lost (not fsynced before a crash): start empty there.
    logger?.warn('log ends below its start offset; starting an empty log', { directory, logStartOffset, logEndOffset: last.nextOffset });
    for (const segment of segments) deleteSegmentFiles(directory, segment.baseOffset);
    return { segments: [new Segment(directory, logStartOffset, input.nowMs, input.indexIntervalBytes)], logStartOffset, rebuilt: [], truncatedBytes };
  }
  logStartOffset = Math.max(logStartOffset, first.baseOffset);
  return { segments, logStartOffset, rebuilt, truncatedBytes };
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
function loadIndexes(segment: Segment, nextBase: number): boolean {
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
  if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null || readBaseOffset(header, 0) !== expectedOffset) return false;
  segment.restoreFromIndexes(offsetIndex, timeIndex, sizeBytes, nextBase);
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
  segment.restoreFromIndexes(offsetIndex, timeIndex, sizeBytes, recoveryPoint);
  return true;
}

/**
 * Rule 3: validates every batch of the segment's file, recording each in the segment (sizes,
 * indexes, timestamps). Stops at the first problem; `segment.sizeBytes` is then the valid prefix.
 */
function scanSegment(segment: Segment): { problem: string | null; fileBytes: number } {
  segment.resetForScan();
  const descriptor = openSync(segment.logPath, 'r');
  try {
    const fileBytes = fstatSync(descriptor).size;
    let position = 0;
    let readLength = scanChunkBytes;
    while (position < fileBytes) {
      const buffer = readChunk(descriptor, position, Math.min(readLength, fileBytes - position));
      readLength = scanChunkBytes;
      let at = 0;
      while (at < buffer.length) {
        if (buffer.length - at < batchOverheadBytes) break;
        const totalBytes = readBatchLength(buffer, at) + batchOverheadBytes;
        if (totalBytes < batchHeaderBytes) return { problem: `batchLength ${totalBytes - batchOverheadBytes} below header size`, fileBytes };
        if (position + at + totalBytes > fileBytes) return { problem: 'torn batch at end of file', fileBytes };
        if (buffer.length - at < totalBytes) break;
        const problem = describeHeaderFieldProblem(buffer, at) ?? checkBatch(buffer, at, totalBytes, segment.nextOffset);
        if (problem !== null) return { problem, fileBytes };
        const baseOffset = readBaseOffset(buffer, at);
        segment.recordBatch(position + at, baseOffset, baseOffset + readLastOffsetDelta(buffer, at), readMaxTimestamp(buffer, at), totalBytes);
        segment.sizeBytes = position + at + totalBytes;
        at += totalBytes;
      }
      if (at === 0) {
        // One batch larger than the chunk: read exactly it next time (its length fits the file).
        if (buffer.length < batchOverheadBytes) return { problem: 'torn length field at end of file', fileBytes };
        readLength = readBatchLength(buffer, 0) + batchOverheadBytes;
      }
      position += at;
    }
    return { problem: null, fileBytes };
  } finally {
    segment.writtenBytes = segment.sizeBytes;
    closeSync(descriptor);
  }
}

function checkBatch(buffer: Buffer, at: number, totalBytes: number, expectedBaseOffset: number): string | null {
  if (!hasValidCrc(buffer, at, totalBytes)) return 'CRC-32C mismatch';
  const baseOffset = readBaseOffset(buffer, at);
  if (baseOffset !== expectedBaseOffset) return `baseOffset ${baseOffset}, expected ${expectedBaseOffset}`;
  return null;
}

function readChunk(descriptor: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(descriptor, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
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
