/**
 * A small file system that can be filled up, for tests of what happens when the disk is full:
 *
 *   mountTmpfs(directory, '8m');          // needs root; throws with a clear message otherwise
 *   await fillFileSystem(`${directory}/filler`);
 *   …
 *   unmount(directory);                   // in a finally
 */
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { open } from 'node:fs/promises';

export function mountTmpfs(directory: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', directory], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`this test needs a small file system to fill: mounting a tmpfs on ${directory} failed (it needs root): ${String(error)}`);
  }
}

export function unmount(directory: string): void {
  execFileSync('umount', [directory], { stdio: 'pipe' });
}

/** Bytes an unprivileged writer may still use on the file system holding `path`. */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Writes a file until the file system answers ENOSPC; returns the bytes written. */
export async function fillFileSystem(path: string): Promise<number> {
  const handle = await open(path, 'w');
  const block = Buffer.alloc(4096, 0x55);
  let written = 0;
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(block, 0, block.length, written);
      written += bytesWritten;
      if (bytesWritten < block.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  return written;
}
