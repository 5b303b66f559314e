/**
 * Every process and temporary directory the benchmark starts goes through here, so that all of it
 * is stopped and removed on the way out: normal end, error, Ctrl-C or SIGTERM.
 *
 * Services run detached in their own process group (RabbitMQ's script starts beam.smp and helpers),
 * so stopping one signals the whole group: SIGTERM, then SIGKILL after a grace period.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface ServiceOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

const services = new Set<Service>();
const directories = new Set<string>();
const cleanupSteps: Array<() => void> = [];
let keepData = false;

/** Keep temporary data directories for inspection (--keep-data). */
export function setKeepData(keep: boolean): void {
  keepData = keep;
}

/** A synchronous step to run on the way out (e.g. stopping an epmd daemon that detached itself). */
export function onCleanup(step: () => void): void {
  cleanupSteps.push(step);
}

export function temporaryDirectory(parent: string, prefix: string): string {
  const directory = mkdtempSync(join(parent, prefix));
  directories.add(directory);
  return directory;
}

export function removeDirectory(directory: string): void {
  if (!keepData) rmSync(directory, { recursive: true, force: true });
  directories.delete(directory);
}

/** Kills what is left, at once: for the last moment of the process. */
export function cleanUpNow(): void {
  for (const service of services) service.killGroup('SIGKILL');
  services.clear();
  for (const step of cleanupSteps.splice(0)) {
    try {
      step();
    } catch {
      // best effort on the way out
    }
  }
  for (const directory of directories) if (!keepData) rmSync(directory, { recursive: true, force: true });
  directories.clear();
}

/** Stops every running service gracefully (SIGTERM, then SIGKILL), then cleans up. */
export async function stopEverything(): Promise<void> {
  await Promise.all([...services].map((service) => service.stop()));
  cleanUpNow();
}

let handlersInstalled = false;
export function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every broker this run started…\n`);
      const hardStop = setTimeout(() => {
        cleanUpNow();
        process.exit(130);
      }, 8000);
      void stopEverything().finally(() => {
        clearTimeout(hardStop);
        process.exit(130);
      });
    });
  }
}

export class Service {
  readonly name: string;
  private readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<void>;
  private readonly waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();

  constructor(name: string, command: string, args: readonly string[], options: ServiceOptions = {}) {
    this.name = name;
    this.child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    services.add(this);
    const append = (chunk: string) => {
      this.output = (this.output + chunk).slice(-200_000);
      for (const waiter of this.waiters) {
        if (waiter.pattern.test(this.output)) {
          this.waiters.delete(waiter);
          waiter.resolve(this.output);
        }
      }
    };
    this.child.stdout?.setEncoding('utf8').on('data', append);
    this.child.stderr?.setEncoding('utf8').on('data', append);
    this.exited = new Promise((resolve) => {
      this.child.once('close', () => {
        services.delete(this);
        resolve();
      });
      this.child.once('error', (error) => {
        append(`\n[spawn error] ${error.message}\n`);
        services.delete(this);
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  logs(): string {
    return this.output;
  }

  /** Resolves once the output matches; rejects on exit or after timeoutMs, with the output. */
  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
    if (pattern.test(this.output)) return;
    let timer: NodeJS.Timeout | undefined;
    const matched = new Promise<string>((resolve) => this.waiters.add({ pattern, resolve }));
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.name}: no output matching ${String(pattern)} within ${timeoutMs} ms\n${this.output.slice(-3000)}`)), timeoutMs);
      void this.exited.then(() => reject(new Error(`${this.name} exited (code ${String(this.child.exitCode)}) before it was ready\n${this.output.slice(-3000)}`)));
    });
    try {
      await Promise.race([matched, failed]);
    } finally {
      clearTimeout(timer);
    }
  }

  killGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  async stop(graceMs = 15_000): Promise<void> {
    if (this.running) this.killGroup('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const outcome = await Promise.race([this.exited.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.killGroup('SIGKILL');
      await this.exited;
    }
    // Helpers left in the group (RabbitMQ's erl_child_setup) go too.
    this.killGroup('SIGKILL');
  }
}

/** Runs a command to its end and returns its output; rejects on a non-zero exit or after timeoutMs. */
export function runCommand(command: string, args: readonly string[], options: ServiceOptions & { readonly timeoutMs?: number; readonly input?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${String(code ?? signal)}\n${stderr.slice(-2000)}`));
    });
    child.stdin.end(options.input ?? '');
  });
}
