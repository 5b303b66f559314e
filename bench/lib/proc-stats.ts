/**
 * CPU time and peak memory of a broker: the process a service started and all its descendants,
 * read from /proc (Linux only).
 *
 *   /proc/<pid>/stat     fields 14, 15: utime, stime in clock ticks (after the "(comm)" field)
 *   /proc/<pid>/status   VmHWM: peak resident set size, kB
 *   /proc/<pid>/clear_refs  writing "5" resets VmHWM to the current RSS (root or own process)
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicksPerSecond: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

/** The process and all its living descendants. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const parent = parentOf(pid);
    if (parent === null) continue;
    const siblings = children.get(parent) ?? [];
    siblings.push(pid);
    children.set(parent, siblings);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks / ticksPerSecond();
}

export function resetPeakRss(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // not permitted or exited: the peak then counts from the process start
    }
  }
}

/** Sum over the processes of their peak RSS, bytes. */
export function peakRssBytes(pids: readonly number[]): number {
  let kilobytes = 0;
  for (const pid of pids) {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match !== null) kilobytes += Number(match[1]);
    } catch {
      // exited
    }
  }
  return kilobytes * 1024;
}

/**
 * CPU seconds of the benchmark process itself (where the Node clients run) plus its children once
 * they have exited (the kcat processes, each closed within the round that opened it):
 * /proc/self/stat utime + stime + cutime + cstime.
 */
export function clientCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticksPerSecond();
  } catch {
    return 0;
  }
}

export interface MeterReading {
  /** Broker process tree, user + system. */
  readonly cpuSeconds: number;
  /** This process and the client processes it waited for. */
  readonly clientCpuSeconds: number;
  readonly peakRssBytes: number;
}

/** Brackets a measured phase: CPU seconds used (broker and client side) and peak RSS reached by the broker. */
export class BrokerMeter {
  private pids: number[] = [];
  private cpuAtStart = 0;
  private clientCpuAtStart = 0;

  constructor(private readonly rootPid: number) {}

  start(): void {
    this.pids = processTree(this.rootPid);
    resetPeakRss(this.pids);
    this.cpuAtStart = cpuSeconds(this.pids);
    this.clientCpuAtStart = clientCpuSeconds();
  }

  finish(): MeterReading {
    return { cpuSeconds: cpuSeconds(this.pids) - this.cpuAtStart, clientCpuSeconds: clientCpuSeconds() - this.clientCpuAtStart, peakRssBytes: peakRssBytes(this.pids) };
  }
}
