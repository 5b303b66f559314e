import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { temporarySuffix } from './checkpoint.js';
import { defaultSyncFile, syncDirectory, type SyncFile } from './segment.js';

/**
 * What a compacted log remembers of its cleaning (docs/storage-format.md, "Compaction"):
 *
 *   <dir>/cleaner-offset-checkpoint   the cleaner state: how far the log is cleaned, and when each
 *                                     stretch was cleaned for the first time
 *   <dir>/cleaner-swap                present only while cleaned segments are being swapped in:
 *                                     the commit record of one cleaning pass
 *
 * `cleaner-offset-checkpoint`, text, each line ending in '\n':
 *
 *   ┌───────────────────────────┐
 *   │ 1                         │  format version
 *   │ 5000                      │  cleanedEndOffset: segments wholly below it were cleaned and may
 *   │                           │  have gaps between batches
 *   │ 2                         │  passCount
 *   │ 0 3000 1764950400000      │  firstOffset endOffset cleanedAtMs: offsets [0, 3000) were first
 *   │ 4000 5000 1764950415000   │  cleaned at that time, and tombstones may remain among them
 *   └───────────────────────────┘
 *
 * Only passes that kept tombstones they were the first to clean are listed, and only until their
 * tombstones have outlived delete.retention.ms and a later pass removed them; ranges ascend and do
 * not overlap. A tombstone below cleanedEndOffset in no listed range has outlived it.
 *
 * `cleaner-swap` is the same text preceded by one line: the base offsets of the segments the pass
 * replaces, separated by spaces (`swap 0 1200 3000`). Both are replaced atomically (`.tmp`,
 * fsync, rename, fsync of the folder), so a crash leaves the old file or the new one.
 */

export const cleanerStateFileName = 'cleaner-offset-checkpoint';
export const cleanerSwapFileName = 'cleaner-swap';
/** Suffix of a cleaned segment's files before they are swapped in: `<base>.log.cleaned`. */
export const cleanedSuffix = '.cleaned';
const formatVersion = 1;

/** When the offsets [firstOffset, endOffset) were first cleaned (tombstones among them are kept delete.retention.ms from then). */
export interface CleaningPass {
  readonly firstOffset: number;
  readonly endOffset: number;
  readonly cleanedAtMs: number;
}

export interface CleanerState {
  /** Segments wholly below it have been cleaned (may have gaps between batches); 0 when never cleaned. */
  readonly cleanedEndOffset: number;
  /** Ascending, not overlapping, all below cleanedEndOffset; times ascend too. */
  readonly passes: readonly CleaningPass[];
}

export const uncleanedState: CleanerState = { cleanedEndOffset: 0, passes: [] };

export interface CleanerSwap {
  /** Base offsets of the segments whose `.cleaned` files replace them. */
  readonly baseOffsets: readonly number[];
  /** The state once they are swapped in. */
  readonly state: CleanerState;
}

function encodeState(state: CleanerState): string {
  return `${formatVersion}\n${state.cleanedEndOffset}\n${state.passes.length}\n${state.passes.map((pass) => `${pass.firstOffset} ${pass.endOffset} ${pass.cleanedAtMs}\n`).join('')}`;
}

export function encodeCleanerSwap(swap: CleanerSwap): string {
  return `swap ${swap.baseOffsets.join(' ')}\n${encodeState(swap.state)}`;
}

const naturalNumber = /^\d+$/;

function parseNatural(text: string | undefined): number | null {
  if (text === undefined || !naturalNumber.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** The state in `lines` (from the version line on); null when it is not in our format. */
function decodeState(lines: readonly string[]): CleanerState | null {
  if (lines[0] !== String(formatVersion)) return null;
  const cleanedEndOffset = parseNatural(lines[1]);
  const passCount = parseNatural(lines[2]);
  if (cleanedEndOffset === null || passCount === null || lines.length !== 3 + passCount) return null;
  const passes: CleaningPass[] = [];
  for (const line of lines.slice(3)) {
    const [first, end, time] = line.split(' ');
    const firstOffset = parseNatural(first);
    const endOffset = parseNatural(end);
    const cleanedAtMs = parseNatural(time);
    if (firstOffset === null || endOffset === null || cleanedAtMs === null || endOffset <= firstOffset || endOffset > cleanedEndOffset) return null;
    const previous = passes[passes.length - 1];
    if (previous !== undefined && (firstOffset < previous.endOffset || cleanedAtMs < previous.cleanedAtMs)) return null;
    passes.push({ firstOffset, endOffset, cleanedAtMs });
  }
  return { cleanedEndOffset, passes };
}

function linesOf(text: string): string[] | null {
  if (!text.endsWith('\n')) return null;
  return text.slice(0, -1).split('\n');
}

export function decodeCleanerState(text: string): CleanerState | null {
  const lines = linesOf(text);
  return lines === null ? null : decodeState(lines);
}

export function decodeCleanerSwap(text: string): CleanerSwap | null {
  const lines = linesOf(text);
  if (lines === null) return null;
  const [first, ...rest] = lines;
  const words = first?.split(' ') ?? [];
  if (words[0] !== 'swap') return null;
  const baseOffsets = words.slice(1).map(parseNatural);
  if (baseOffsets.some((base) => base === null)) return null;
  const state = decodeState(rest);
  return state === null ? null : { baseOffsets: baseOffsets as number[], state };
}

function readOptionalText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The cleaner state of a log folder; the uncleaned state when absent or not in our format. Sync: open time only. */
export function readCleanerState(directory: string): CleanerState {
  const text = readOptionalText(join(directory, cleanerStateFileName));
  return (text === null ? null : decodeCleanerState(text)) ?? uncleanedState;
}

/** The pending swap of a log folder, if any (recovery completes it). */
export function readCleanerSwap(directory: string): CleanerSwap | null {
  const text = readOptionalText(join(directory, cleanerSwapFileName));
  return text === null ? null : decodeCleanerSwap(text);
}

async function writeAtomically(directory: string, name: string, text: string, syncFile: SyncFile): Promise<void> {
  const path = join(directory, name);
  const temporaryPath = path + temporarySuffix;
  const handle = await open(temporaryPath, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await syncFile(handle, 'checkpoint');
  } finally {
    await handle.close();
  }
  await rename(temporaryPath, path);
  await syncDirectory(directory, syncFile);
}

export function writeCleanerState(directory: string, state: CleanerState, syncFile: SyncFile = defaultSyncFile): Promise<void> {
  return writeAtomically(directory, cleanerStateFileName, encodeState(state), syncFile);
}

/** The commit point of a pass: once this file is whole on disk, recovery finishes the swap. */
export function writeCleanerSwap(directory: string, swap: CleanerSwap, syncFile: SyncFile = defaultSyncFile): Promise<void> {
  return writeAtomically(directory, cleanerSwapFileName, encodeCleanerSwap(swap), syncFile);
}

export async function removeCleanerSwap(directory: string, syncFile: SyncFile = defaultSyncFile): Promise<void> {
  await unlink(join(directory, cleanerSwapFileName));
  await syncDirectory(directory, syncFile);
}

/** writeCleanerState for recovery, which runs with synchronous I/O before the log serves. */
export function writeCleanerStateSync(directory: string, state: CleanerState): void {
  const path = join(directory, cleanerStateFileName);
  const temporaryPath = path + temporarySuffix;
  const descriptor = openSync(temporaryPath, 'w', 0o644);
  try {
    writeSync(descriptor, encodeState(state));
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  renameSync(temporaryPath, path);
  syncDirectorySync(directory);
}

export function removeCleanerSwapSync(directory: string): void {
  unlinkSync(join(directory, cleanerSwapFileName));
  syncDirectorySync(directory);
}

export function syncDirectorySync(directory: string): void {
  const descriptor = openSync(directory, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}
