/**
 * The examples of examples/ run as separate processes, the way `npm run example -- NAME` runs them,
 * against whichever broker the environment given points at (OSPREY_BROKERS, OSPREY_AMQP_URL; the
 * test process's own OSPREY_* variables are not passed on):
 *
 *   const result = await runExample('orders', { OSPREY_AMQP_URL: url });
 *   assertSucceeded(result);                   // exit code 0, nothing on stderr
 *   const chat = startScript(`${examplesDirectory}chat.js`, ['--user', 'dave'], env);
 *   await chat.waitForStdout(/^joined/m); chat.child.stdin!.write('hello\n');
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolatedEnvironment } from './broker-process.js';
import { repositoryRoot } from './tools.js';

/** The compiled examples beside this file's build: <build>/test/helpers → <build>/examples/. */
export const examplesDirectory = fileURLToPath(new URL('../../examples/', import.meta.url));
/** `npm run example` runs this script; it compiles examples/ itself into .build/examples. */
export const runnerScript = join(repositoryRoot(), 'scripts', 'run-example.mjs');
const exampleTimeoutMs = 45_000;

export interface ExampleResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningExample {
  readonly child: ChildProcess;
  readonly result: Promise<ExampleResult>;
  /** Resolves once stdout holds `pattern`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `node <script> …args` with only the given OSPREY_* variables; killed after exampleTimeoutMs. */
export function startScript(script: string, args: readonly string[], env: Record<string, string>): RunningExample {
  const child = spawn(process.execPath, [script, ...args], { env: isolatedEnvironment(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<{ pattern: RegExp; resolve: () => void }>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters) {
      if (waiter.pattern.test(stdout)) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => undefined);
  const result = new Promise<ExampleResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not finish in ${exampleTimeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, exampleTimeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    result,
    waitForStdout(pattern, timeoutMs = 15_000) {
      if (pattern.test(stdout)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${String(pattern)} on stdout within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
        waiters.add({
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

/** Runs the compiled example `name` to its end (stdin closed at once) with the given OSPREY_* variables. */
export async function runExample(name: string, env: Record<string, string>, args: readonly string[] = []): Promise<ExampleResult> {
  const running = startScript(`${examplesDirectory}${name}.js`, args, env);
  running.child.stdin!.end();
  return running.result;
}

export function assertSucceeded(result: ExampleResult): void {
  assert.equal(result.code, 0, `exit code ${String(result.code)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  assert.equal(result.stderr, '', 'nothing on stderr');
}

