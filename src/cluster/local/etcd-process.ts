/**
 * A throw-away one-member etcd on loopback, for `npm run cluster` and the integration tests: Debian's
 * `etcd` (package etcd-server) on two free ports (client and peer), its data in a folder of its own.
 *
 *   const etcd = await startEtcdProcess({ dataDir });   // resolves once /health answers true
 *   … brokers get --etcd-endpoints etcd.endpoint …
 *   await etcd.stop();                                  // SIGTERM, then waits for the exit
 *
 * Ports are taken by binding port 0 and closing it again, so another process could take one before
 * etcd binds it: a start that fails with "address already in use" is tried again on fresh ports.
 * Not for production: no TLS, no authentication, one member.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface EtcdProcessOptions {
  /** etcd's data folder (created by etcd when missing). */
  readonly dataDir: string;
  /** The etcd executable; found on PATH when left out (see findEtcdExecutable). */
  readonly executable?: string;
  /** How long to wait for /health to answer true; 20 s by default. */
  readonly readyTimeoutMs?: number;
  /** A file etcd's output is appended to as well, as it comes. */
  readonly logFile?: string;
}

export interface EtcdProcess {
  /** `http://127.0.0.1:PORT`, what clients dial (--etcd-endpoints). */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly pid: number;
  readonly dataDir: string;
  /** Everything etcd wrote to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
  readonly exited: Promise<void>;
}

/** What to install on Debian when etcd is missing. */
export const etcdInstallHint = 'apt-get install -y etcd-server';
const memberName = 'osprey-local';
const defaultReadyTimeoutMs = 20_000;
const stopTimeoutMs = 10_000;
const startAttempts = 5;
const healthPollIntervalMs = 50;

/** The etcd executable on PATH, or null when there is none. */
export function findEtcdExecutable(): string | null {
  for (const directory of (process.env['PATH'] ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, 'etcd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from a listener on port 0');
  return address.port;
}

export async function startEtcdProcess(options: EtcdProcessOptions): Promise<EtcdProcess> {
  const executable = options.executable ?? findEtcdExecutable();
  if (executable === null) throw new Error(`etcd is not on PATH; install it with: ${etcdInstallHint} (as root)`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(executable, options);
    } catch (error) {
      const portTaken = error instanceof Error && /address already in use/.test(error.message);
      if (!portTaken || attempt >= startAttempts) throw error;
    }
  }
}

async function startOnce(executable: string, options: EtcdProcessOptions): Promise<EtcdProcess> {
  const clientPort = await freeLoopbackPort();
  const peerPort = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', memberName,
    '--data-dir', options.dataDir,
    '--listen-client-urls', endpoint,
    '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${memberName}=${peerUrl}`,
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
  // A process group of its own: Ctrl-C in a terminal reaches only the parent, which stops etcd last
  // (after the brokers have revoked their leases), not at the same moment as everything else.
  const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const logFile = options.logFile === undefined ? null : createWriteStream(options.logFile, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      logFile?.write(chunk);
    });
  }
  const exited = new Promise<void>((resolve) => child.once('close', () => logFile === null ? resolve() : logFile.end(resolve)));
  const running = new RunningEtcd(child, exited, endpoint, clientPort, options.dataDir, () => output);
  const deadline = Date.now() + (options.readyTimeoutMs ?? defaultReadyTimeoutMs);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`etcd exited before it was ready (code ${String(child.exitCode)}, signal ${String(child.signalCode)})\ncommand: ${executable} ${args.join(' ')}\n--- output ---\n${output}`);
    }
    if (await healthy(endpoint)) return running;
    if (Date.now() > deadline) {
      await running.kill9();
      throw new Error(`etcd did not answer ${endpoint}/health within ${options.readyTimeoutMs ?? defaultReadyTimeoutMs} ms (killed)\n--- output ---\n${output}`);
    }
    await sleep(healthPollIntervalMs);
  }
}

/** etcd's /health answers {"health":"true"} once the member has a leader and serves requests. */
async function healthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await response.json()) as { health?: unknown };
    return body.health === 'true';
  } catch {
    return false;
  }
}

class RunningEtcd implements EtcdProcess {
  constructor(
    private readonly child: ChildProcess,
    readonly exited: Promise<void>,
    readonly endpoint: string,
    readonly clientPort: number,
    readonly dataDir: string,
    readonly logs: () => string,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(): Promise<void> {
    if (this.hasExited()) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), stopTimeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    if (!this.hasExited()) this.child.kill('SIGKILL');
    await this.exited;
  }

  private hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}
