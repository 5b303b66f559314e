/**
 * The real `osprey` command, as separate processes: help, version, start-up errors, and the broker
 * started through the test harness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { brokerNodeFlags } from '../../src/cli/node-flags.js';
import { configOptions } from '../../src/config/settings-table.js';
import { cliEntry, isolatedEnvironment, startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import { repositoryRoot } from '../helpers/tools.js';

interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node <script> …args` to completion (10 s at most) without the caller's OSPREY_* variables. */
function runCli(args: readonly string[], options: { env?: Record<string, string>; script?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? cliEntry, ...args], { env: isolatedEnvironment(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`osprey ${args.join(' ')} did not finish in 10 s\n${stderr}`));
    }, 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(repositoryRoot(), 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

function assertListsEveryFlag(help: string): void {
  for (const option of configOptions) {
    assert.ok(help.includes(option.flag), `help lacks ${option.flag}`);
    assert.ok(help.includes(option.env), `help lacks ${option.env}`);
    for (const alias of option.aliases) assert.ok(help.includes(alias), `help lacks ${alias}`);
  }
  for (const expected of ['--config', 'OSPREY_CONFIG', '--data-dir', '--kafka-port', '--num-partitions', 'default 9092', 'default ./data']) {
    assert.ok(help.includes(expected), `help lacks ${expected}`);
  }
}

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Opens and closes one TCP connection. */
function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
}

function assertOneLineFailure(result: CliResult, message: string | RegExp, exitCode = 1): void {
  assert.equal(result.code, exitCode, `exit code; stderr:\n${result.stderr}`);
  const problem = result.stderr.split('\n').find((line) => line.startsWith('osprey: '));
  assert.ok(problem !== undefined, `no 'osprey: ' line in stderr:\n${result.stderr}`);
  if (typeof message === 'string') assert.ok(problem.includes(message), `${JSON.stringify(problem)} lacks ${JSON.stringify(message)}`);
  else assert.match(problem, message);
  assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
}

test('osprey --help lists the commands and points to osprey broker --help for the settings', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Usage: osprey <command>/);
  for (const command of ['broker', 'topic', 'produce', 'consume', 'group', 'cluster', 'perf']) assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
  assert.match(result.stdout, /osprey broker --help/);
  assert.ok(result.stdout.split('\n').length < 40, 'a screenful, not the broker flag reference');
});

test('osprey broker --help lists every flag with its environment variable and default', async () => {
  const result = await runCli(['broker', '--help']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Usage: osprey broker \[flags\]/);
  assertListsEveryFlag(result.stdout);
});

test('osprey --version prints the package version', async () => {
  const result = await runCli(['--version']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `osprey ${packageVersion()}\n`);
});

test('bin/osprey.js runs the built CLI', async () => {
  const result = await runCli(['--version'], { script: join(repositoryRoot(), 'bin', 'osprey.js') });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `osprey ${packageVersion()}\n`);
});

test('every way of starting a broker passes the broker\'s node flags: npm start, bin/osprey.js, and the broker processes the tests start', async () => {
  const manifest = JSON.parse(readFileSync(join(repositoryRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const firstLine = readFileSync(join(repositoryRoot(), 'bin', 'osprey.js'), 'utf8').split('\n')[0]!;
  const broker = await startBrokerProcess();
  try {
    const commandLine = readFileSync(`/proc/${broker.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of brokerNodeFlags) {
      assert.match(manifest.scripts.start!, new RegExp(`^node ${flag} `), 'npm start');
      assert.ok(firstLine.startsWith('#!/usr/bin/env -S node ') && firstLine.split(' ').includes(flag), `bin/osprey.js: ${firstLine}`);
      assert.ok(commandLine.indexOf(flag) > 0 && commandLine.indexOf(flag) < commandLine.indexOf(cliEntry), `test broker: ${commandLine.join(' ')}`);
    }
  } finally {
    await broker.stop();
  }
});

test('no command, an unknown one, or a command group without its subcommand exits 2 (invalid usage) with a message or help', async () => {
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Usage: osprey/);
  assertOneLineFailure(await runCli(['frobnicate']), "osprey: unknown command 'frobnicate'", 2);
  assertOneLineFailure(await runCli(['--brokers', 'x', 'group', 'list']), "osprey: unknown command '--brokers' (flags go after the command: osprey group … --brokers)", 2);
  const topic = await runCli(['topic']);
  assert.equal(topic.code, 2);
  assert.match(topic.stderr, /^Usage: osprey topic <command>/);
  assert.match(topic.stderr, /osprey topic create/);
});

test('a bad flag value exits 1 with one line naming the flag', async () => {
  assertOneLineFailure(await runCli(['broker', '--kafka-port', 'abc']), "osprey: --kafka-port: expected an integer 0-65535, got 'abc'");
});

test('a bad environment variable exits 1 with one line naming the variable', async () => {
  assertOneLineFailure(await runCli(['broker'], { env: { OSPREY_FLUSH: 'sometimes' } }), "osprey: OSPREY_FLUSH: expected one of always, interval, never, got 'sometimes'");
});

test('an unknown key in the config file exits 1 naming the key and the file', async () => {
  const file = join(temporaryDirectory(), 'osprey.yaml');
  writeFileSync(file, 'kafkaPort: 9092\nnum.partitions: 3\n');
  assertOneLineFailure(await runCli(['broker', '--config', file]), `osprey: ${file}:2: unknown key 'num.partitions'`);
});

test('a data dir that cannot be a directory exits 1 with one line naming it', async () => {
  const file = join(temporaryDirectory(), 'not-a-directory');
  writeFileSync(file, '');
  assertOneLineFailure(await runCli(['broker', '--data-dir', file, '--kafka-port', '0']), `osprey: data dir ${file} (from --data-dir) is not a writable directory: it is a file (EEXIST)`);
});

// The tests below need the broker itself (src/server/start.ts).

test('broker process accepts TCP connections on the announced port and exits 0 on SIGTERM', async () => {
  const broker = await startBrokerProcess();
  assert.equal(broker.host, '127.0.0.1');
  assert.ok(broker.port > 0);
  assert.equal(broker.bootstrap, `127.0.0.1:${broker.port}`);
  await tcpConnect(broker.host, broker.port);
  await broker.stop();
  assert.equal(broker.exitCode, 0);
  await assert.rejects(tcpConnect(broker.host, broker.port), 'nothing listens after the stop');
});

test('broker process exits 0 on SIGINT too', async () => {
  const broker = await startBrokerProcess();
  process.kill(broker.pid, 'SIGINT');
  assert.deepEqual(await broker.waitForExit(), { code: 0, signal: null }, broker.logs());
});

test('a port already in use exits 1 with one line naming the address', async () => {
  const first = await startBrokerProcess();
  try {
    const result = await runCli(['broker', '--data-dir', temporaryDirectory(), '--host', '127.0.0.1', '--http-port', '0', '--kafka-port', String(first.port)]);
    assertOneLineFailure(result, `osprey: cannot listen on 127.0.0.1:${first.port}: the address is already in use`);
  } finally {
    await first.stop();
  }
});

test('flags given to the harness override its own, and restart keeps the data dir and port', async () => {
  const port = await freePort();
  const broker = await startBrokerProcess({ args: ['--kafka-port', String(port)], env: { OSPREY_LOG_LEVEL: 'debug' } });
  assert.equal(broker.port, port);
  assert.match(broker.logs(), / DEBUG /, 'the env given to the harness reaches the broker');
  await broker.kill9();
  assert.equal(broker.exitSignal, 'SIGKILL');
  const again = await broker.restart();
  assert.equal(again.port, port);
  assert.equal(again.dataDir, broker.dataDir);
  await tcpConnect(again.host, again.port);
  await again.stop();
});
