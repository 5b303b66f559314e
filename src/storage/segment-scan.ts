import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  batchHeaderBytes,
  batchOverheadBytes,
  currentMagic,
  describeHeaderFieldProblem,
  hasValidCrc,
  magicAt,
  readBaseOffset,
  readBatchLength,
  readLastOffsetDelta,
} from '../protocol/kafka/batch-header.js';

/**
 * Validating walk over a segment's `.log` file, batch by batch, with synchronous reads: shared by
 * recovery (before the log serves), by the read path when it meets a damaged batch, and by
 * `osprey broker check` (which must not change anything, so nothing here writes).
 *
 * A batch is valid when its length is at least the header and fits the file, magic is 2,
 * lastOffsetDelta ≥ 0, the CRC-32C matches and baseOffset is the expected next offset (in a segment
 * cleaned by compaction, at least the expected offset: removed records leave gaps between batches).
 *
 * When a batch is not valid, the walk looks for where valid data resumes:
 *
 *   .log  ┌ valid ┬ valid ┬░░░░░ damaged ░░░░░┬ valid ┬ valid ┬ …
 *                        ▲ position            ▲ resume point: a valid batch whose baseOffset is
 *                          (expected offset E)   above E (and within 2^31 of it)
 *
 * First where the damaged batch's own length field points (a flipped byte in the records leaves the
 * length intact), then at every later byte whose magic byte is 2 (a damaged length field). The
 * damaged stretch then stands for offsets E .. resume baseOffset − 1. With no resume point the
 * damage runs to the end of the file, and the caller decides whether it is a torn write (the tail
 * of what was being written at a crash) or corruption of acknowledged data.
 */

const scanChunkBytes = 4 * 1024 * 1024;
const maxOffsetGap = 0x7fffffff;

export interface ResumePoint {
  readonly position: number;
  readonly baseOffset: number;
}

export interface ScanVisitor {
  /** A valid batch: `buffer[at .. at + totalBytes)` is the whole batch, at file position `position`. */
  batch(position: number, buffer: Buffer, at: number, totalBytes: number): void;
  /** Damage followed by valid data at `resume`, in the same file. */
  damage(position: number, expectedOffset: number, problem: string, resume: ResumePoint): void;
}

export interface ScanEnd {
  readonly fileBytes: number;
  /** Offset the next batch would have: one past the last valid batch. */
  readonly nextOffset: number;
  /** Set when the file ends in damage with no valid batch after it. */
  readonly tail: { readonly position: number; readonly expectedOffset: number; readonly problem: string } | null;
}

/**
 * Walks the file at `path` (opened read-only) from `start.position`, a batch boundary whose batch
 * should have offset `start.offset` (position 0 and the segment's base offset for a whole file).
 */
export function scanSegmentFile(path: string, start: { position: number; offset: number }, allowOffsetGaps: boolean, visitor: ScanVisitor): ScanEnd {
  const descriptor = openSync(path, 'r');
  try {
    const fileBytes = fstatSync(descriptor).size;
    let position = start.position;
    let expectedOffset = start.offset;
    while (position < fileBytes) {
      const walked = walkValidBatches(descriptor, fileBytes, position, expectedOffset, allowOffsetGaps, visitor);
      position = walked.position;
      expectedOffset = walked.expectedOffset;
      if (walked.problem === null) continue;
      const resume = findResumePoint(descriptor, fileBytes, position, expectedOffset);
      if (resume === null) return { fileBytes, nextOffset: expectedOffset, tail: { position, expectedOffset, problem: walked.problem } };
      visitor.damage(position, expectedOffset, walked.problem, resume);
      position = resume.position;
      expectedOffset = resume.baseOffset;
    }
    return { fileBytes, nextOffset: expectedOffset, tail: null };
  } finally {
    closeSync(descriptor);
  }
}

/** Visits valid batches from `position` in chunks; stops at the end of the file or at the first invalid batch. */
function walkValidBatches(
  descriptor: number,
  fileBytes: number,
  start: number,
  startOffset: number,
  allowOffsetGaps: boolean,
  visitor: ScanVisitor,
): { position: number; expectedOffset: number; problem: string | null } {
  let position = start;
  let expectedOffset = startOffset;
  let readLength = scanChunkBytes;
  while (position < fileBytes) {
    const buffer = readChunk(descriptor, position, Math.min(readLength, fileBytes - position));
    readLength = scanChunkBytes;
    let at = 0;
    while (buffer.length - at >= batchOverheadBytes) {
      const totalBytes = readBatchLength(buffer, at) + batchOverheadBytes;
      const problem = batchProblem(buffer, at, position + at, totalBytes, fileBytes, expectedOffset, allowOffsetGaps);
      if (problem === 'incomplete') break;
      if (problem !== null) return { position: position + at, expectedOffset, problem };
      visitor.batch(position + at, buffer, at, totalBytes);
      expectedOffset = readBaseOffset(buffer, at) + readLastOffsetDelta(buffer, at) + 1;
      at += totalBytes;
    }
    if (at === 0) {
      if (buffer.length < batchOverheadBytes) return { position, expectedOffset, problem: 'torn length field at end of file' };
      // One batch larger than the chunk: read exactly it next time (its length fits the file).
      readLength = readBatchLength(buffer, 0) + batchOverheadBytes;
    }
    position += at;
  }
  return { position, expectedOffset, problem: null };
}

/** Why the batch at `buffer[at]` is invalid; 'incomplete' when the chunk ends inside it; null when valid. */
function batchProblem(buffer: Buffer, at: number, position: number, totalBytes: number, fileBytes: number, expectedOffset: number, allowOffsetGaps: boolean): string | null {
  if (totalBytes < batchHeaderBytes) return `batchLength ${totalBytes - batchOverheadBytes} below header size`;
  if (position + totalBytes > fileBytes) return `batchLength ${totalBytes - batchOverheadBytes} runs past the end of the file`;
  if (buffer.length - at < totalBytes) return 'incomplete';
  const problem = describeHeaderFieldProblem(buffer, at);
  if (problem !== null) return problem;
  if (!hasValidCrc(buffer, at, totalBytes)) return 'CRC-32C mismatch';
  const baseOffset = readBaseOffset(buffer, at);
  if (allowOffsetGaps ? baseOffset < expectedOffset || baseOffset - expectedOffset > maxOffsetGap : baseOffset !== expectedOffset) {
    return `baseOffset ${baseOffset}, expected ${allowOffsetGaps ? 'at least ' : ''}${expectedOffset}`;
  }
  return null;
}

/**
 * The first place after `damagedPosition` where a valid batch with an offset above `expectedOffset`
 * starts, searching no further than `searchEnd` (default: the whole file) for a batch start.
 */
export function findResumePoint(descriptor: number, fileBytes: number, damagedPosition: number, expectedOffset: number, searchEnd = fileBytes): ResumePoint | null {
  const header = readChunk(descriptor, damagedPosition, batchHeaderBytes);
  if (header.length >= batchOverheadBytes) {
    const next = damagedPosition + readBatchLength(header, 0) + batchOverheadBytes;
    if (next > damagedPosition + batchOverheadBytes && next < fileBytes) {
      const resume = validBatchAt(descriptor, fileBytes, next, expectedOffset);
      if (resume !== null) return resume;
    }
  }
  return searchForBatch(descriptor, fileBytes, damagedPosition + 1, expectedOffset, Math.min(searchEnd, fileBytes));
}

/** Byte-by-byte search for a batch starting before `searchEnd`: only positions whose magic byte is 2 are examined further. */
function searchForBatch(descriptor: number, fileBytes: number, from: number, expectedOffset: number, searchEnd: number): ResumePoint | null {
  let chunkStart = from;
  while (chunkStart < searchEnd && chunkStart + batchHeaderBytes <= fileBytes) {
    const chunk = readChunk(descriptor, chunkStart, Math.min(scanChunkBytes, fileBytes - chunkStart, searchEnd - chunkStart + batchHeaderBytes - 1));
    const lastCandidate = chunk.length - batchHeaderBytes;
    for (let at = 0; at <= lastCandidate; at++) {
      if (chunk[at + magicAt] !== currentMagic) continue;
      const resume = validBatchAt(descriptor, fileBytes, chunkStart + at, expectedOffset, chunk.subarray(at, at + batchHeaderBytes));
      if (resume !== null) return resume;
    }
    chunkStart += lastCandidate + 1;
  }
  return null;
}

function validBatchAt(descriptor: number, fileBytes: number, position: number, expectedOffset: number, knownHeader?: Buffer): ResumePoint | null {
  const header = knownHeader ?? readChunk(descriptor, position, batchHeaderBytes);
  if (header.length < batchHeaderBytes || describeHeaderFieldProblem(header, 0) !== null) return null;
  const baseOffset = readBaseOffset(header, 0);
  if (baseOffset <= expectedOffset || baseOffset - expectedOffset > maxOffsetGap) return null;
  const totalBytes = readBatchLength(header, 0) + batchOverheadBytes;
  if (position + totalBytes > fileBytes) return null;
  const batch = readChunk(descriptor, position, totalBytes);
  if (batch.length < totalBytes || !hasValidCrc(batch, 0, totalBytes)) return null;
  return { position, baseOffset };
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export function readChunk(descriptor: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(descriptor, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
