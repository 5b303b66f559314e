/**
 * Osprey from this checkout's build: `node dist/src/cli/main.js broker`, port chosen by the broker
 * (`--kafka-port 0`, read back from its ready line), fsync before acks=all (group commit).
 *
 * With `protocol: 'amqp'` it also listens for AMQP 0-9-1 (`--amqp-port 0`) and the broker's `port`
 * is the AMQP one, read back from its 'amqp listener ready … port=N' line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brokerNodeFlags } from '../../src/cli/node-flags.js';
import { removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';

/** <build>/bench/brokers → <build>/src/cli/main.js */
const cliEntry = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const packageJson = fileURLToPath(new URL('../../../package.json', import.meta.url));

export function ospreyVersion(): string {
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../../', import.meta.url)) }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../../', import.meta.url)) }).trim();
    if (dirty !== '') commit += '+src-changes';
  } catch {
    // not a git checkout
  }
  return `${version} (${commit})`;
}

export type OspreyProtocol = 'kafka' | 'amqp';

/** `extraArgs`: more broker flags (the memory workload raises the connection limits). */
export async function startOsprey(options: BrokerStartOptions, protocol: OspreyProtocol = 'kafka', extraArgs: readonly string[] = []): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'osprey-');
  const args = [
    ...brokerNodeFlags, cliEntry, 'broker', '--data-dir', dataDir, '--host', '127.0.0.1', '--kafka-port', '0', '--http-port', '-1',
    '--flush', 'always',
    // Benchmarks start one consumer at a time; Kafka's 3 s wait for more members would only add idle time.
    '--groups.initial-rebalance-delay-ms', '0',
    // Kafka only: the AMQP listener off, or it would take 5672 and fail when that is in use.
    ...(protocol === 'amqp' ? ['--amqp-port', '0'] : ['--amqp-port', '-1']),
    ...extraArgs,
  ];
  const env: Record<string, string> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('OSPREY_')) env[name] = '';
  const service = new Service('osprey', process.execPath, args, { env });
  const ready = protocol === 'amqp' ? /amqp listener ready\b[^\n]*\bport=(\d+)[^\n]*\n/ : /kafka listener ready host=\S+ port=(\d+)\n/;
  await service.waitForOutput(ready, 30_000);
  const port = Number(ready.exec(service.logs())?.[1]);
  return {
    kind: protocol === 'amqp' ? 'osprey-amqp' : 'osprey',
    version: ospreyVersion(),
    fsyncPolicy: protocol === 'amqp' ? 'flush=always: fdatasync (group commit) before a persistent message is confirmed' : 'flush=always: fdatasync (group commit, one per event-loop turn) before acks=all is answered',
    launch: `node ${args.map((arg) => (arg === dataDir ? '<data-dir>' : arg)).join(' ')}`,
    host: '127.0.0.1',
    port,
    pid: service.pid,
    dataDir,
    async stop() {
      await service.stop();
      removeDirectory(dataDir);
    },
  };
}
