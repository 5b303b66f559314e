/**
 * A small file system of its own (tmpfs), for tests that fill a disk up: ENOSPC comes after a few
 * megabytes instead of after the machine's whole disk.
 *
 *   const filesystem = mountSmallFilesystem(8 * 1024 * 1024);
 *   try {
 *     const broker = await startBrokerProcess({ dataDir: filesystem.path('data') });
 *     filesystem.fillUp('filler');            // a file beside the data dir takes every free byte
 *     …
 *     filesystem.remove('filler');            // space comes back
 *   } finally {
 *     filesystem.unmount();                   // after every process using it has stopped
 *   }
 *
 * Mounting needs root. Without it the test fails with a message saying so; it never skips.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallFilesystem {
  /** The mount point. */
  readonly directory: string;
  /** A path inside the mount point. */
  path(name: string): string;
  /** Bytes an unprivileged writer could still use. */
  freeBytes(): number;
  /** Writes a file of exactly `byteCount` bytes (throws ENOSPC if it does not fit). */
  writeFiller(name: string, byteCount: number): void;
  /** Writes a file until the file system refuses more (ENOSPC); returns the bytes it holds. */
  fillUp(name: string): number;
  remove(name: string): void;
  /** Unmounts (lazily if still busy) and removes the mount point. */
  unmount(): void;
}

const fillChunkBytes = 64 * 1024;

export function mountSmallFilesystem(sizeBytes: number): SmallFilesystem {
  const directory = mkdtempSync(join(tmpdir(), 'osprey-small-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', directory], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    rmdirSync(directory);
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(
      `this test mounts a ${sizeBytes}-byte tmpfs to fill a disk up, which needs root (mount -t tmpfs -o size=${sizeBytes} tmpfs ${directory}): ` +
        `${stderr || String(error)}. Run the tests as root.`,
    );
  }
  const path = (name: string): string => join(directory, name);
  return {
    directory,
    path,
    freeBytes() {
      const stats = statfsSync(directory);
      return stats.bavail * stats.bsize;
    },
    writeFiller(name, byteCount) {
      const descriptor = openSync(path(name), 'w');
      try {
        const chunk = Buffer.alloc(fillChunkBytes, 0x5a);
        for (let written = 0; written < byteCount; ) written += writeSync(descriptor, chunk, 0, Math.min(chunk.length, byteCount - written));
      } finally {
        closeSync(descriptor);
      }
    },
    fillUp(name) {
      const descriptor = openSync(path(name), 'a');
      let held = 0;
      try {
        // Big chunks first, then smaller ones, so the last partly free page is used too.
        for (let chunkBytes = fillChunkBytes; chunkBytes >= 1; chunkBytes = Math.floor(chunkBytes / 2)) {
          const chunk = Buffer.alloc(chunkBytes, 0x5a);
          for (;;) {
            try {
              held += writeSync(descriptor, chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(descriptor);
      }
      return held;
    },
    remove(name) {
      rmSync(path(name), { force: true });
    },
    unmount() {
      try {
        execFileSync('umount', [directory], { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch {
        execFileSync('umount', ['-l', directory], { stdio: ['ignore', 'pipe', 'pipe'] });
      }
      rmdirSync(directory);
    },
  };
}
