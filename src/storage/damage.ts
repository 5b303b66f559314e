import { closeSync, fstatSync, openSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';
import type { DamagedRange } from './errors.js';
import type { Segment } from './segment.js';
import { findResumePoint } from './segment-scan.js';

/**
 * Damaged ranges found while serving reads (recovery finds its own while scanning, recovery.ts):
 * stored bytes that fail their CRC-32C, a header that cannot start a batch, a file that ends before
 * the offsets its segment holds. Each becomes a DamagedRange that the segment remembers and the
 * read path refuses (CORRUPT_MESSAGE), logged once as an error naming file, position and offsets.
 */

export function logDamage(logger: Logger | null, range: DamagedRange): void {
  logger?.error('corrupt data in a partition log: kept on disk, its offsets are not served', {
    file: range.file,
    position: range.position,
    endPosition: range.endPosition,
    firstOffset: range.firstOffset,
    lastOffset: range.lastOffset,
    problem: range.problem,
  });
}

/**
 * The range of a damaged batch at `position` (its first offset `expectedOffset`, as best known):
 * up to where valid data resumes (segment-scan.ts). The search reads synchronously, as recovery
 * does, but never further than the next offset-index entry (a known batch start, one index
 * interval away), so it cannot hold the broker up for long; it is rare, and usually one batch.
 */
export function damageFoundByRead(segment: Segment, position: number, expectedOffset: number, problem: string): DamagedRange {
  const descriptor = openSync(segment.logPath, 'r');
  try {
    const fileBytes = Math.min(fstatSync(descriptor).size, segment.writtenBytes);
    const indexed = segment.offsetIndex.firstEntryAfter(position);
    const indexedOffset = indexed === null ? null : segment.baseOffset + indexed.relativeOffset;
    const resume =
      findResumePoint(descriptor, fileBytes, position, expectedOffset, indexed?.position ?? fileBytes) ??
      (indexed === null || indexedOffset === null || indexedOffset <= expectedOffset ? null : { position: indexed.position, baseOffset: indexedOffset });
    const endPosition = resume?.position ?? segment.writtenBytes;
    const lastOffset = resume === null ? segment.nextOffset - 1 : resume.baseOffset - 1;
    return { file: segment.logPath, position, endPosition, firstOffset: expectedOffset, lastOffset, problem };
  } finally {
    closeSync(descriptor);
  }
}

/** Offsets [offset, segment end) that no batch holds: the file ends before them. */
export function missingTail(segment: Segment, offset: number): DamagedRange {
  const position = segment.writtenBytes;
  return { file: segment.logPath, position, endPosition: position, firstOffset: offset, lastOffset: segment.nextOffset - 1, problem: `no batch holds offset ${offset}: the file ends early` };
}
