/**
 * Real broker processes for integration tests: `node <build>/src/cli/main.js broker`, on a free
 * port of 127.0.0.1 (below the ephemeral range: see kafkaPortCandidate), over a temporary data
 * directory.
 *
 *   const broker = await startBrokerProcess();
 *   … connect to broker.bootstrap …
 *   await broker.stop();                    // SIGTERM; throws unless the exit code is 0
 *
 *   await broker.kill9();                   // crash it
 *   const again = await broker.restart();   // same data dir and port, new process
 *
 * Temporary data directories are removed when the test process exits, unless OSPREY_KEEP_TEST_DATA=1
 * (their paths are then printed). Brokers still running at that point are killed, so a failing test
 * leaves no process behind. OSPREY_* variables of the calling environment are not passed on: a
 * broker sees only what the test gives it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerNodeFlags } from '../../src/cli/node-flags.js';

export interface BrokerProcessOptions {
  /** Data directory to use (kept afterwards); a fresh temporary one when left out. */
  readonly dataDir?: string;
  /** More `osprey broker` flags, after the harness's own, so they win (`--kafka-port 9092`). */
  readonly args?: readonly string[];
  /** Environment variables for the broker, on top of the test process's (minus its OSPREY_*). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the ready line; 20 s by default. */
  readonly readyTimeoutMs?: number;
  /**
   * Wait, besides the listener, until every partition log is open (the broker logs 'partitions
   * recovered'; it listens before). True by default, so a test's first request finds its partitions
   * open; false to observe a broker still recovering.
   */
  readonly waitForRecovery?: boolean;
}

export interface RestartOptions {
  /** 'same' (default) listens on the previous port again; 'any' takes a free one. */
  readonly port?: 'same' | 'any';
}

export interface BrokerProcess {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for a client's bootstrap servers. */
  readonly bootstrap: string;
  /** Port of the broker's HTTP listener (metrics at /metrics); null if it was turned off. */
  readonly httpPort: number | null;
  /** Port of the broker's AMQP listener (a free one, `--amqp-port 0`, unless the test says); null if it was turned off. */
  readonly amqpPort: number | null;
  readonly dataDir: string;
  readonly pid: number;
  /** Exit code once exited (null while running, or when it died of a signal). */
  readonly exitCode: number | null;
  /** The signal that ended it, if one did. */
  readonly exitSignal: NodeJS.Signals | null;
  /** Everything written to stderr and stdout so far. */
  logs(): string;
  /** The broker's Prometheus metrics: GET /metrics on its HTTP listener, as text. */
  metricsText(): Promise<string>;
  /** Resolves with the matching log line once one appears; rejects with the logs after timeoutMs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, wait for the exit, throw (with the logs) unless it exited with code 0 within 20 s. */
  stop(): Promise<void>;
  /** Waits for the process to end by itself (20 s at most; then it is killed and this throws). */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait for the exit: a crash. */
  kill9(): Promise<void>;
  /** Stops it if still running (as stop() does), then starts a new process on the same data dir. */
  restart(options?: RestartOptions): Promise<BrokerProcess>;
}

const readyLine = /kafka listener ready host=("[^"]*"|\S+) port=(\d+)/;
const recoveredLine = /partitions recovered /;
const httpReadyLine = /http listener ready host=(?:"[^"]*"|\S+) port=(\d+)/;
const amqpReadyLine = /amqp listener ready host=(?:"[^"]*"|\S+) port=(\d+)/;
const defaultReadyTimeoutMs = 20_000;
const stopTimeoutMs = 20_000;
/** The compiled CLI beside this file's build: <build>/test/helpers → <build>/src/cli/main.js. */
export const cliEntry = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const keepTestData = process.env['OSPREY_KEEP_TEST_DATA'] === '1';

const temporaryDirectories = new Set<string>();
const runningChildren = new Set<ChildProcess>();

function cleanUp(): void {
  for (const child of runningChildren) child.kill('SIGKILL');
  runningChildren.clear();
  for (const directory of temporaryDirectories) {
    if (keepTestData) process.stderr.write(`kept broker test data: ${directory}\n`);
    else rmSync(directory, { recursive: true, force: true });
  }
  temporaryDirectories.clear();
}

process.on('exit', cleanUp);
// 'exit' does not run when a signal ends the test process (a runner timeout, Ctrl-C): clean up, then
// die of the same signal.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal);
  });
}

/**
 * Children and their pipes are unref'd, so a broker a test forgot to stop cannot keep the test
 * process alive (the 'exit' hook kills it); every wait on a child holds the process open itself.
 */
async function keepingAlive<T>(work: Promise<T>): Promise<T> {
  const handle = setInterval(() => undefined, 2 ** 30);
  try {
    return await work;
  } finally {
    clearInterval(handle);
  }
}

/** A fresh directory under os.tmpdir(), removed when the test process exits (see above). */
export function temporaryDirectory(prefix = 'osprey-test-'): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirectories.add(directory);
  return directory;
}

/** The test process's environment without its OSPREY_* variables, plus `extra`. */
export function isolatedEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('OSPREY_')) env[name] = value;
  }
  return Object.assign(env, extra);
}

/**
 * The Kafka port of a broker whose test names none: a free port below the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range), where `--kafka-port 0` would land. Outgoing connections
 * take their local ports from that range, so with test files running side by side, a broker
 * restarted on its port after kill -9 could find it taken by another file's client; below the range
 * only another listener can hold it, and then the start is tried again on another port.
 */
function kafkaPortCandidate(): number {
  const lowestPort = 10_000;
  let ephemeralStart = 32_768;
  try {
    ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the common default
  }
  if (!(ephemeralStart > lowestPort + 1000)) return 0; // no room below the range: let the kernel choose
  return lowestPort + Math.floor(Math.random() * (ephemeralStart - lowestPort));
}

/**
 * A Kafka port for a broker that must know it before it starts (a proxy put in front of it first):
 * a candidate as kafkaPortCandidate picks, checked free by listening on it for a moment. Another
 * listener could still take it before the broker binds it; the broker's start then fails.
 */
export async function freeKafkaPort(): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const candidate = kafkaPortCandidate();
    const server = createServer();
    const bound = await new Promise<number | null>((resolve) => {
      server.once('error', () => resolve(null));
      server.listen(candidate, '127.0.0.1', () => {
        const address = server.address();
        resolve(address === null || typeof address === 'string' ? null : address.port);
      });
    });
    if (bound !== null) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return bound;
    }
    if (attempt >= portAttempts) throw new Error(`no free Kafka port found in ${portAttempts} attempts`);
  }
}

const portAttempts = 10;
const portInUse = /the address is already in use/;

export async function startBrokerProcess(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
  if (!existsSync(cliEntry)) throw new Error(`${cliEntry} is missing: build first (npm run build)`);
  const dataDir = options.dataDir ?? temporaryDirectory();
  if ((options.args ?? []).some((arg) => arg === '--kafka-port' || arg.startsWith('--kafka-port='))) return spawnBrokerProcess(options, dataDir, '0');
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnBrokerProcess(options, dataDir, String(kafkaPortCandidate()));
    } catch (error) {
      if (attempt >= portAttempts || !(error instanceof Error) || !portInUse.test(error.message)) throw error;
    }
  }
}

/** Starts `osprey broker` with the harness's flags (`--kafka-port kafkaPort`, which options.args may override). */
async function spawnBrokerProcess(options: BrokerProcessOptions, dataDir: string, kafkaPort: string): Promise<BrokerProcess> {
  const args = [...brokerNodeFlags, cliEntry, 'broker', '--data-dir', dataDir, '--kafka-port', kafkaPort, '--http-port', '0', '--amqp-port', '0', '--host', '127.0.0.1', ...(options.args ?? [])];
  const env = isolatedEnvironment(options.env);

  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  runningChildren.add(child);
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref(): void }).unref(); // pipes are net.Sockets
  const output = new OutputLog();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => output.append(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.append(chunk));
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      runningChildren.delete(child);
      resolve();
    });
  });

  const ready = await keepingAlive(waitForReady(child, output, exited, options.readyTimeoutMs ?? defaultReadyTimeoutMs, args, options.waitForRecovery ?? true));
  return new RunningBrokerProcess(child, output, exited, ready.host, ready.port, dataDir, options);
}

async function waitForReady(child: ChildProcess, output: OutputLog, exited: Promise<void>, timeoutMs: number, args: readonly string[], waitForRecovery: boolean): Promise<{ host: string; port: number }> {
  const command = `node ${args.join(' ')}`;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const listening = output.waitFor(readyLine);
    const ready = waitForRecovery ? Promise.all([listening, output.waitFor(recoveredLine)]).then(([line]) => line) : listening;
    const outcome = await Promise.race([ready, exited.then(() => 'exited' as const), timedOut]);
    if (outcome === 'exited') {
      throw new Error(`broker exited before it was ready (code ${String(child.exitCode)}, signal ${String(child.signalCode)})\ncommand: ${command}\n--- output ---\n${output.text}`);
    }
    if (outcome === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`broker was not ready after ${timeoutMs} ms (killed)\ncommand: ${command}\n--- output ---\n${output.text}`);
    }
    const match = readyLine.exec(outcome);
    const host = match?.[1];
    const port = match?.[2];
    if (host === undefined || port === undefined) throw new Error(`unreadable ready line: ${outcome}`);
    return { host: host.startsWith('"') ? (JSON.parse(host) as string) : host, port: Number(port) };
  } finally {
    clearTimeout(timer);
  }
}

class RunningBrokerProcess implements BrokerProcess {
  readonly bootstrap: string;
  readonly httpPort: number | null;
  readonly amqpPort: number | null;

  constructor(
    private readonly child: ChildProcess,
    private readonly output: OutputLog,
    private readonly exited: Promise<void>,
    readonly host: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly options: BrokerProcessOptions,
  ) {
    this.bootstrap = `${host}:${port}`;
    const http = completeLines(output.text).map((line) => httpReadyLine.exec(line)).find((match) => match !== null);
    this.httpPort = http?.[1] === undefined ? null : Number(http[1]);
    // The broker logs the AMQP listener's line before the Kafka one, which waitForReady waited for.
    const amqp = completeLines(output.text).map((line) => amqpReadyLine.exec(line)).find((match) => match !== null);
    this.amqpPort = amqp?.[1] === undefined ? null : Number(amqp[1]);
  }

  async metricsText(): Promise<string> {
    if (this.httpPort === null) throw new Error('this broker runs without its HTTP listener (--http-port -1)');
    const response = await fetch(`http://${this.host}:${this.httpPort}/metrics`);
    if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
    return response.text();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  get exitSignal(): NodeJS.Signals | null {
    return this.child.signalCode;
  }

  logs(): string {
    return this.output.text;
  }

  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no log line matching ${String(pattern)} within ${timeoutMs} ms\n--- output ---\n${this.output.text}`)), timeoutMs);
    });
    try {
      return await keepingAlive(Promise.race([this.output.waitFor(pattern), timedOut]));
    } finally {
      clearTimeout(timer);
    }
  }

  async waitForExit(timeoutMs = stopTimeoutMs): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await keepingAlive(Promise.race([this.exited.then(() => 'exited' as const), timedOut]));
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await this.kill9();
      throw new Error(`broker did not exit within ${timeoutMs} ms (killed)\n--- output ---\n${this.output.text}`);
    }
    return { code: this.exitCode, signal: this.exitSignal };
  }

  async stop(): Promise<void> {
    if (this.hasExited()) throw new Error(`broker already exited (code ${String(this.exitCode)}, signal ${String(this.exitSignal)})\n--- output ---\n${this.output.text}`);
    this.child.kill('SIGTERM');
    await this.waitForExit();
    if (this.exitCode !== 0) {
      throw new Error(`broker exited with code ${String(this.exitCode)} (signal ${String(this.exitSignal)}) after SIGTERM, expected 0\n--- output ---\n${this.output.text}`);
    }
  }

  async kill9(): Promise<void> {
    if (!this.hasExited()) this.child.kill('SIGKILL');
    await keepingAlive(this.exited);
  }

  async restart(options: RestartOptions = {}): Promise<BrokerProcess> {
    if (!this.hasExited()) await this.stop();
    const portArgs = (options.port ?? 'same') === 'same' ? ['--kafka-port', String(this.port)] : [];
    return startBrokerProcess({ ...this.options, dataDir: this.dataDir, args: [...(this.options.args ?? []), ...portArgs] });
  }

  private hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}

/** The child's output so far, with waiters for a line matching a pattern. */
class OutputLog {
  text = '';
  private readonly waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();

  append(chunk: string): void {
    const start = this.text.lastIndexOf('\n') + 1;
    this.text += chunk;
    const fresh = completeLines(this.text.slice(start));
    for (const waiter of this.waiters) {
      const line = fresh.find((candidate) => waiter.pattern.test(candidate));
      if (line !== undefined) {
        this.waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  waitFor(pattern: RegExp): Promise<string> {
    const line = completeLines(this.text).find((candidate) => pattern.test(candidate));
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve) => this.waiters.add({ pattern, resolve }));
  }
}

/** The lines ended by a newline: a line still being written could match a pattern by half. */
function completeLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop();
  return lines;
}
