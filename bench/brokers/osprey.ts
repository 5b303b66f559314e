/**
 * Osprey from this checkout's build: `node dist/src/cli/main.js broker`, port chosen by the broker
 * (`--kafka-port 0`, read back from its ready line), fsync before acks=all (group commit).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

export async function startOsprey(options: BrokerStartOptions): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'osprey-');
  const args = [
    cliEntry, 'broker', '--data-dir', dataDir, '--host', '127.0.0.1', '--kafka-port', '0', '--http-port', '-1',
    '--flush', 'always',
    // Benchmarks start one consumer at a time; Kafka's 3 s wait for more members would only add idle time.
    '--groups.initial-rebalance-delay-ms', '0',
  ];
  const env: Record<string, string> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('OSPREY_')) env[name] = '';
  const service = new Service('osprey', process.execPath, args, { env });
  await service.waitForOutput(/kafka listener ready host=\S+ port=\d+\n/, 30_000);
  const port = Number(/kafka listener ready host=\S+ port=(\d+)/.exec(service.logs())?.[1]);
  return {
    kind: 'osprey',
    version: ospreyVersion(),
    fsyncPolicy: 'flush=always: fdatasync (group commit, one per event-loop turn) before acks=all is answered',
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
