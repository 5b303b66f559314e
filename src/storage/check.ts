import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readBaseOffset, readMaxTimestamp } from '../protocol/kafka/batch-header.js';
import { logStartOffsetFileName, readOffsetCheckpoint, recoveryPointFileName, temporarySuffix } from './checkpoint.js';
import { OffsetIndex } from './offset-index.js';
import { logSuffix, offsetIndexSuffix, parseSegmentFileName, segmentFileName, timeIndexSuffix } from './segment.js';
import { scanSegmentFile } from './segment-scan.js';
import { cleanedSuffix, cleanerSwapFileName, readCleanerState } from './cleaner-state.js';
import { TimeIndex } from './time-index.js';

/**
 * `osprey broker check`: reads every partition log under a data directory and reports damage,
 * changing nothing (files are only opened for reading; recovery is not run).
 *
 * For each directory holding segment files (`<topic>-<n>/`, `__internal/group-offsets/`):
 *  - every batch of every segment is validated as recovery does (segment-scan.ts), damaged ranges
 *    are reported with file, position and offsets;
 *  - segments must continue each other (no missing or overlapping offsets);
 *  - a damaged tail of the last segment above the recovery point, with nothing after it, is a torn
 *    write the broker cuts at its next start: a notice, not damage;
 *  - every offset-index entry must name a batch start with that offset, every time-index entry a
 *    batch with that maxTimestamp, and a sealed segment's last time entry its largest timestamp;
 *  - the checkpoints must parse and lie within the log.
 * Damage makes `osprey broker check` exit 1; notices do not.
 */

export type FindingKind = 'damage' | 'notice';

export interface StorageFinding {
  readonly kind: FindingKind;
  /** The partition log's directory, relative to the data directory. */
  readonly log: string;
  /** The file concerned, relative to the log directory; null for the log as a whole. */
  readonly file: string | null;
  readonly message: string;
}

export interface LogSummary {
  readonly log: string;
  readonly segments: number;
  readonly batches: number;
  readonly bytes: number;
  readonly logEndOffset: number;
}

export interface CheckReport {
  readonly dataDir: string;
  readonly logs: LogSummary[];
  readonly findings: StorageFinding[];
}

/** Directory levels searched below the data directory for partition logs. */
const maxSearchDepth = 3;

export function checkDataDirectory(dataDir: string): CheckReport {
  const logs: LogSummary[] = [];
  const findings: StorageFinding[] = [];
  for (const directory of logDirectories(dataDir, 0)) {
    const name = relative(dataDir, directory) || '.';
    logs.push(checkLog(directory, name, findings));
  }
  return { dataDir, logs, findings };
}

function logDirectories(directory: string, depth: number): string[] {
  const entries = readdirSync(directory, { withFileTypes: true });
  const found: string[] = entries.some((entry) => entry.isFile() && parseSegmentFileName(entry.name, logSuffix) !== null) ? [directory] : [];
  if (depth >= maxSearchDepth) return found;
  for (const entry of entries.sort((left, right) => (left.name < right.name ? -1 : 1))) {
    if (entry.isDirectory()) found.push(...logDirectories(join(directory, entry.name), depth + 1));
  }
  return found;
}

interface BatchEntry {
  readonly position: number;
  readonly baseOffset: number;
  readonly maxTimestamp: number;
}

function checkLog(directory: string, name: string, findings: StorageFinding[]): LogSummary {
  const report = (kind: FindingKind, file: string | null, message: string): void => void findings.push({ kind, log: name, file, message });
  const names = readdirSync(directory);
  const bases = names.flatMap((file) => parseSegmentFileName(file, logSuffix) ?? []).sort((left, right) => left - right);
  for (const file of names) {
    if (file.endsWith(temporarySuffix)) report('notice', file, 'leftover temporary file (removed at the next start)');
    if (file.endsWith(cleanedSuffix)) report('notice', file, 'cleaned segment file not swapped in yet (the next start swaps it in or removes it)');
    if (file === cleanerSwapFileName) report('notice', file, 'a swap of cleaned segments was interrupted (finished at the next start)');
    const indexBase = parseSegmentFileName(file, offsetIndexSuffix) ?? parseSegmentFileName(file, timeIndexSuffix);
    if (indexBase !== null && !bases.includes(indexBase)) report('notice', file, 'index file without its .log (removed at the next start)');
  }
  const recoveryPoint = checkpoint(directory, recoveryPointFileName, names, report);
  const logStartOffset = checkpoint(directory, logStartOffsetFileName, names, report);
  const cleanedEndOffset = readCleanerState(directory).cleanedEndOffset;

  let batchCount = 0;
  let bytes = 0;
  let expectedBase: number | null = null;
  for (let index = 0; index < bases.length; index++) {
    const base = bases[index]!;
    const file = segmentFileName(base, logSuffix);
    const isLast = index === bases.length - 1;
    if (expectedBase !== null && expectedBase < base) report('damage', file, `offsets ${expectedBase}..${base - 1} are missing between this segment and the previous one`);
    if (expectedBase !== null && expectedBase > base) report('damage', file, `starts at offset ${base} but the previous segment ends at ${expectedBase - 1}`);
    const batches: BatchEntry[] = [];
    const damaged: Array<readonly [number, number]> = [];
    const cleaned = !isLast && bases[index + 1]! <= cleanedEndOffset;
    const end = scanSegmentFile(join(directory, file), { position: 0, offset: base }, cleaned, {
      batch(position, buffer, at) {
        batches.push({ position, baseOffset: readBaseOffset(buffer, at), maxTimestamp: readMaxTimestamp(buffer, at) });
      },
      damage(position, expectedOffset, problem, resume) {
        report('damage', file, `position ${position}..${resume.position}: offsets ${expectedOffset}..${resume.baseOffset - 1} unreadable (${problem})`);
        damaged.push([expectedOffset, resume.baseOffset - 1]);
      },
    });
    let nextOffset = end.nextOffset;
    if (end.tail !== null) {
      const torn = isLast && (recoveryPoint === null || end.tail.expectedOffset >= recoveryPoint);
      const stood = isLast ? `from offset ${end.tail.expectedOffset}` : `offsets ${end.tail.expectedOffset}..${bases[index + 1]! - 1}`;
      if (torn) report('notice', file, `position ${end.tail.position}..${end.fileBytes}: torn write at the end of the log ${stood} (${end.tail.problem}); cut at the next start`);
      else report('damage', file, `position ${end.tail.position}..${end.fileBytes}: ${stood} unreadable (${end.tail.problem})`);
      if (!isLast) nextOffset = bases[index + 1]!;
      else if (!torn && recoveryPoint !== null) nextOffset = Math.max(nextOffset, recoveryPoint);
      damaged.push([end.tail.expectedOffset, Math.max(end.tail.expectedOffset, nextOffset - 1)]);
    }
    // Index entries naming batches inside damage cannot be checked (and the damage is reported already).
    const inDamage = (offset: number): boolean => damaged.some(([first, last]) => first <= offset && offset <= last);
    checkIndexes(directory, base, end.fileBytes, nextOffset, batches, !isLast, inDamage, (message) => report('damage', null, message));
    batchCount += batches.length;
    bytes += end.fileBytes;
    expectedBase = nextOffset;
  }
  const logEndOffset = expectedBase ?? 0;
  if (recoveryPoint !== null && recoveryPoint > logEndOffset) {
    report('damage', recoveryPointFileName, `recovery point ${recoveryPoint} is beyond the log end ${logEndOffset}: data that was on stable storage is missing`);
  }
  if (logStartOffset !== null && logStartOffset > logEndOffset) report('notice', logStartOffsetFileName, `log start offset ${logStartOffset} is beyond the log end ${logEndOffset}`);
  return { log: name, segments: bases.length, batches: batchCount, bytes, logEndOffset };
}

function checkpoint(directory: string, file: string, names: readonly string[], report: (kind: FindingKind, file: string | null, message: string) => void): number | null {
  if (!names.includes(file)) return null;
  const offset = readOffsetCheckpoint(directory, file);
  if (offset === null) report('notice', file, 'does not parse (treated as absent: the next start scans more)');
  return offset;
}

/** Every entry of the segment's index files must agree with the batches found in its log. */
function checkIndexes(
  directory: string,
  base: number,
  fileBytes: number,
  nextOffset: number,
  batches: readonly BatchEntry[],
  sealed: boolean,
  inDamage: (offset: number) => boolean,
  damage: (message: string) => void,
): void {
  const byOffset = new Map(batches.map((batch) => [batch.baseOffset, batch]));
  const offsetFile = segmentFileName(base, offsetIndexSuffix);
  const offsetBytes = readOptional(join(directory, offsetFile));
  if (offsetBytes !== null) {
    const index = OffsetIndex.decode(offsetBytes, fileBytes);
    if (index === null) damage(`${offsetFile}: not a valid offset index (rebuilt when the segment is next scanned)`);
    for (let entry = 0; index !== null && entry < index.entryCount; entry++) {
      const batch = byOffset.get(base + index.relativeOffsetAt(entry));
      if (inDamage(base + index.relativeOffsetAt(entry))) continue;
      if (batch === undefined || batch.position !== index.positionAt(entry)) {
        damage(`${offsetFile}: entry ${entry} (offset ${base + index.relativeOffsetAt(entry)} at position ${index.positionAt(entry)}) does not name a batch start; delete the file to have it rebuilt`);
        break;
      }
    }
  } else if (sealed) {
    damage(`${offsetFile}: missing for a sealed segment`);
  }
  const timeFile = segmentFileName(base, timeIndexSuffix);
  const timeBytes = readOptional(join(directory, timeFile));
  if (timeBytes === null) {
    if (sealed) damage(`${timeFile}: missing for a sealed segment`);
    return;
  }
  const index = TimeIndex.decode(timeBytes, Math.max(1, nextOffset - base));
  if (index === null) {
    damage(`${timeFile}: not a valid time index`);
    return;
  }
  for (let entry = 0; entry < index.entryCount; entry++) {
    const { timestamp, relativeOffset } = index.entryAt(entry);
    const batch = byOffset.get(base + relativeOffset);
    if (inDamage(base + relativeOffset)) continue;
    if (batch === undefined || batch.maxTimestamp !== timestamp) {
      damage(`${timeFile}: entry ${entry} (timestamp ${timestamp}, offset ${base + relativeOffset}) does not match a batch; delete the file to have it rebuilt`);
      return;
    }
  }
  const largest = batches.reduce((most, batch) => Math.max(most, batch.maxTimestamp), -1);
  const last = index.lastEntry?.timestamp ?? -1;
  if (sealed && largest >= 0 && last !== largest && !inDamage(base + (index.lastEntry?.relativeOffset ?? 0))) damage(`${timeFile}: last entry ${last} is not the segment's largest timestamp ${largest} (time retention and ListOffsets read it)`);
}

function readOptional(path: string): Buffer | null {
  try {
    if (!statSync(path).isFile()) return null;
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
