/**
 * Runs the built `osprey` client commands as separate processes, the way a user would, with the
 * broker address passed through --brokers (or OSPREY_BROKERS when the test says so).
 *
 *   const result = await osprey(broker, ['topic', 'create', 'orders', '-p', '3']);
 *   assertSucceeded(result);
 *   const json = await ospreyJson<{ topic: string }[]>(broker, ['topic', 'list']);
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cliEntry, isolatedEnvironment } from './broker-process.js';

export interface OspreyResult {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface OspreyOptions {
  /** Written to stdin, which is then closed (closed at once when left out). */
  readonly input?: string | Buffer;
  readonly env?: Record<string, string>;
  /** Leave out --brokers (to test OSPREY_BROKERS or the default). */
  readonly noBrokersFlag?: boolean;
  readonly timeoutMs?: number;
}

export interface RunningOsprey {
  readonly child: ChildProcess;
  readonly result: Promise<OspreyResult>;
  /** Resolves once stdout holds `pattern`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `osprey …args --brokers <broker>` and returns at once. */
export function startOsprey(broker: { bootstrap: string } | string, args: readonly string[], options: OspreyOptions = {}): RunningOsprey {
  const bootstrap = typeof broker === 'string' ? broker : broker.bootstrap;
  const fullArgs = options.noBrokersFlag === true ? [...args] : [...args, '--brokers', bootstrap];
  const child = spawn(process.execPath, [cliEntry, ...fullArgs], { env: isolatedEnvironment(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const stdoutWaiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of [...stdoutWaiters]) {
      if (waiter.pattern.test(stdout)) {
        stdoutWaiters.splice(stdoutWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const result = new Promise<OspreyResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`osprey ${fullArgs.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ args: fullArgs, code, signal, stdout, stderr });
    });
  });
  return {
    child,
    result,
    waitForStdout(pattern, waitMs = 15_000) {
      if (pattern.test(stdout)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} on stdout within ${waitMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`)), waitMs);
        stdoutWaiters.push({
          pattern,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export function osprey(broker: { bootstrap: string } | string, args: readonly string[], options: OspreyOptions = {}): Promise<OspreyResult> {
  return startOsprey(broker, args, options).result;
}

export function describeResult(result: OspreyResult): string {
  return `osprey ${result.args.join(' ')} → code ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

export function assertSucceeded(result: OspreyResult): void {
  assert.equal(result.code, 0, describeResult(result));
}

/** Exit code 1 (or `code`), a one-line-per-problem message on stderr matching `message`, no stack trace. */
export function assertFailed(result: OspreyResult, message: RegExp, code = 1): void {
  assert.equal(result.code, code, describeResult(result));
  assert.match(result.stderr, message, describeResult(result));
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(result.stdout, '', 'nothing on stdout');
}

export async function ospreyJson<T>(broker: { bootstrap: string } | string, args: readonly string[], options: OspreyOptions = {}): Promise<T> {
  const result = await osprey(broker, [...args, '--json'], options);
  assertSucceeded(result);
  return JSON.parse(result.stdout) as T;
}
