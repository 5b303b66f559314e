/**
 * The snapshot half of a snapshot + journal store (metadata-store.ts, and the AMQP definitions in
 * queues/definitions/): a small text file replaced atomically, so a crash leaves either the old or
 * the new one, never a torn one:
 *
 *   <name>.tmp   written, fsynced ─rename─▶ <name>, then the folder fsynced (the rename is durable)
 *
 * A `.tmp` left by a crash is removed when the store opens (`removeTemporaryFiles`).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { syncDirectory } from '../storage/segment.js';

export const temporarySuffix = '.tmp';

/** The file's text; null when it does not exist. */
export async function readSnapshotText(path: string): Promise<string | null> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Replaces `<directory>/<name>` with `text` atomically; returns its size in bytes. */
export async function writeSnapshotText(directory: string, name: string, text: string): Promise<number> {
  const path = join(directory, name);
  const temporary = path + temporarySuffix;
  try {
    const handle = await fs.open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, path);
  } catch (error) {
    await fs.rm(temporary, { force: true }); // a full disk: give back what the attempt took
    throw error;
  }
  await syncDirectory(directory, (handle) => handle.sync());
  return Buffer.byteLength(text);
}

/** Removes the `.tmp` files of `names` that a crash left in `directory`. */
export async function removeTemporaryFiles(directory: string, names: readonly string[]): Promise<void> {
  for (const name of names) await fs.rm(join(directory, name + temporarySuffix), { force: true });
}
