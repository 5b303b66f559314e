/**
 * The machine's own limits, measured in the same run as the brokers, in the same data directory:
 *
 *   disk, group-commit cadence   fio: sequential 64 KiB writes, fdatasync after each (what a log that
 *                                fsyncs every batch can reach at best), for as long as a publish round
 *   disk, large writes           fio: sequential 1 MiB writes, fdatasync after each, as long
 *   loopback TCP                 iperf3 over 127.0.0.1, one stream
 *   memory copy                  Buffer.copy of 64 MiB in this process
 */
import { readFileSync } from 'node:fs';
import { freePort } from './ports.js';
import { removeDirectory, runCommand, Service, temporaryDirectory } from './processes.js';
import { hasCommand } from './install.js';
import type { MachineLimit, MachineLimits } from './results.js';

interface FioReport {
  jobs: Array<{ write: { bw_bytes: number } }>;
}

/**
 * fio appending `blockBytes` at a time with an fdatasync after each, for `seconds` (or until
 * `totalBytes`, whichever comes first): as long as a publish round, so both are read over the same
 * stretch of a disk whose speed wanders.
 */
async function fioWrite(directory: string, blockBytes: number, totalBytes: number, seconds: number): Promise<MachineLimit> {
  const name = `Sequential write ${blockBytes >= 1 << 20 ? `${blockBytes >> 20} MiB` : `${blockBytes >> 10} KiB`} + fdatasync each`;
  const settings = `fio --rw=write --bs=${blockBytes} --size=${totalBytes} --runtime=${seconds} --ioengine=sync --fdatasync=1 --end_fsync=1 --direct=0`;
  if (!hasCommand('fio')) return { name, megabytesPerSecond: null, tool: 'fio', settings, note: 'fio missing' };
  const scratch = temporaryDirectory(directory, 'fio-');
  try {
    const { stdout } = await runCommand('fio', ['--name=bench', `--directory=${scratch}`, '--rw=write', `--bs=${blockBytes}`, `--size=${totalBytes}`, `--runtime=${seconds}`, '--ioengine=sync', '--fdatasync=1', '--end_fsync=1', '--direct=0', '--output-format=json'], { timeoutMs: 180_000 });
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as FioReport;
    return { name, megabytesPerSecond: (report.jobs[0]?.write.bw_bytes ?? 0) / 1e6, tool: 'fio', settings };
  } finally {
    removeDirectory(scratch);
  }
}

async function loopbackTcp(seconds: number): Promise<MachineLimit> {
  const name = 'Loopback TCP, one stream';
  const settings = `iperf3 -c 127.0.0.1 -t ${seconds}`;
  if (!hasCommand('iperf3')) return { name, megabytesPerSecond: null, tool: 'iperf3', settings, note: 'iperf3 missing' };
  const port = await freePort();
  // iperf3 block-buffers its output into a pipe, so readiness is found by retrying the client.
  const server = new Service('iperf3', 'iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)]);
  try {
    let lastError: unknown;
    for (let attempt = 0; attempt < 10; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      try {
        const { stdout } = await runCommand('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 });
        const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
        return { name, megabytesPerSecond: report.end.sum_received.bits_per_second / 8 / 1e6, tool: 'iperf3', settings };
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error('iperf3 failed');
  } finally {
    await server.stop(3000);
  }
}

function memoryCopy(): MachineLimit {
  const bytes = 64 * 1024 * 1024;
  const source = Buffer.alloc(bytes, 1);
  const target = Buffer.alloc(bytes);
  source.copy(target);
  const repeats = 20;
  const started = performance.now();
  for (let index = 0; index < repeats; index += 1) source.copy(target);
  const seconds = (performance.now() - started) / 1000;
  return { name: 'Memory copy', megabytesPerSecond: (bytes * repeats) / seconds / 1e6, tool: 'node Buffer.copy', settings: `64 MiB × ${repeats}, warm pages` };
}

/** `seconds`: how long each fio and iperf3 measurement runs (the length of a publish round). */
export async function measureMachine(dataParent: string, seconds: number): Promise<MachineLimits> {
  const diskGroupCommit = await fioWrite(dataParent, 64 * 1024, 4 * 2 ** 30, seconds);
  const diskLargeWrites = await fioWrite(dataParent, 1 << 20, 4 * 2 ** 30, seconds);
  const loopback = await loopbackTcp(seconds);
  return { diskGroupCommit, diskLargeWrites, loopbackTcp: loopback, memoryCopy: memoryCopy() };
}

export function cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
