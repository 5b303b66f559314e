import { open, rename } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSyncFile, syncDirectory, type SyncFile } from './segment.js';

/**
 * Small per-partition files holding one offset each, replaced atomically:
 *
 *   <dir>/recovery-point-offset-checkpoint   every batch below this offset is fsynced and its
 *                                             segment's index files are complete
 *   <dir>/log-start-offset                   first offset that may be served (DeleteRecords)
 *
 * Text, two lines, each ending in '\n':
 *
 *   ┌──────────────────────┐
 *   │ 1                    │  format version
 *   │ 12345                │  the offset, decimal, ≥ 0
 *   └──────────────────────┘
 *
 * Written as <name>.tmp, fsynced, renamed over <name>, then the directory is fsynced, so a crash
 * leaves either the old or the new file, never a torn one. Leftover .tmp files are removed on open.
 */

export const recoveryPointFileName = 'recovery-point-offset-checkpoint';
export const logStartOffsetFileName = 'log-start-offset';
export const checkpointFormatVersion = 1;
export const temporarySuffix = '.tmp';

export async function writeOffsetCheckpoint(directory: string, name: string, offset: number, syncFile: SyncFile = defaultSyncFile): Promise<void> {
  await replaceFileAtomically(directory, name, `${checkpointFormatVersion}\n${offset}\n`, syncFile);
}

/** Writes `text` to <name>.tmp, fsyncs it, renames it over <name> and fsyncs the directory. */
export async function replaceFileAtomically(directory: string, name: string, text: string, syncFile: SyncFile = defaultSyncFile): Promise<void> {
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

/** The offset in a checkpoint file; null when the file is absent or not in our format. Sync: open-time only. */
export function readOffsetCheckpoint(directory: string, name: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(directory, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const match = /^(\d+)\n(\d+)\n$/.exec(text);
  if (match === null || Number(match[1]) !== checkpointFormatVersion) return null;
  const offset = Number(match[2]);
  return Number.isSafeInteger(offset) ? offset : null;
}
