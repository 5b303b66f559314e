/**
 * `npm run cluster -- --brokers 3`: a local etcd and N brokers on loopback, to try the cluster on one
 * machine. Each broker has its own data folder and ports; their log lines are printed with a
 * `[broker-N]` prefix (etcd's go to <data>/etcd.log). Ctrl-C or SIGTERM stops the brokers (each
 * leaves the cluster at once), then etcd.
 *
 *   npm run cluster -- --brokers 3                       # fresh temporary data, removed at the end
 *   npm run cluster -- --brokers 3 --data-dir ./cluster  # kept, and used again by the next run
 *   npm run cluster -- --kafka-port 19092                # Kafka on 19092, 19093, … instead of free ports
 *
 * etcd comes from Debian's etcd-server package: installed with apt-get when missing and running as
 * root, otherwise the script says what to install and exits with code 1.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brokerNodeFlags } from '../../cli/node-flags.js';
import { etcdInstallHint, findEtcdExecutable, startEtcdProcess } from './etcd-process.js';
import type { EtcdProcess } from './etcd-process.js';

const usage = `Usage: npm run cluster -- [--brokers N] [--data-dir DIR] [--kafka-port BASE] [--lease-ttl-seconds S]

Starts a local etcd and N brokers (3 by default) on 127.0.0.1, prints how to reach them, and stops
them all on Ctrl-C or SIGTERM.

  --brokers N             brokers to start, node ids 1..N (1-9)
  --data-dir DIR          keep etcd's and the brokers' data in DIR (used again by the next run);
                          by default a temporary folder, removed when the cluster stops
  --kafka-port BASE       Kafka listeners on BASE, BASE+1, …; by default free ports
  --lease-ttl-seconds S   the brokers' etcd lease TTL (5 by default): how soon a killed broker counts as gone
`;

const cliEntry = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const readyLine = /kafka listener ready host=\S+ port=(\d+)/;
/** Logged before the Kafka ready line: where the broker's AMQP and HTTP (admin API) listeners took their free ports. */
const amqpReadyLine = /amqp listener ready\b.*\bport=(\d+)/;
const httpReadyLine = /http listener ready\b.*\bport=(\d+)/;
const brokerReadyTimeoutMs = 60_000;
const maxBrokers = 9;

interface LocalBroker {
  readonly nodeId: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  port: number | null;
  amqpPort: number | null;
  httpPort: number | null;
}

function fail(message: string): never {
  process.stderr.write(`cluster: ${message}\n`);
  process.exit(1);
}

/** etcd's path, installing etcd-server first when missing and we may. */
function ensureEtcd(): string {
  const found = findEtcdExecutable();
  if (found !== null) return found;
  if (process.getuid?.() !== 0) fail(`etcd is not installed; as root run: ${etcdInstallHint} (then npm run cluster again)`);
  process.stderr.write('cluster: etcd is missing; installing etcd-server with apt-get\n');
  const environment = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): boolean => spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'etcd-server'], { stdio: 'inherit', env: environment }).status === 0;
  // The package lists may be missing or stale on a fresh machine: update them once and try again.
  if (!install() && !(spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env: environment }).status === 0 && install())) fail(`installing etcd-server failed; try: ${etcdInstallHint}`);
  return findEtcdExecutable() ?? fail('etcd-server is installed but etcd is not on PATH');
}

function parseOptions(): { brokers: number; dataDir: string | null; kafkaPort: number | null; leaseTtlSeconds: number } {
  let values;
  try {
    ({ values } = parseArgs({
      options: { brokers: { type: 'string' }, 'data-dir': { type: 'string' }, 'kafka-port': { type: 'string' }, 'lease-ttl-seconds': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const integer = (text: string | undefined, name: string, min: number, max: number, fallback: number | null): number | null => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || value < min || value > max) fail(`--${name}: expected an integer ${min}-${max}, got '${text}'`);
    return value;
  };
  return {
    brokers: integer(values.brokers, 'brokers', 1, maxBrokers, 3) ?? 3,
    dataDir: values['data-dir'] === undefined ? null : resolve(values['data-dir']),
    kafkaPort: integer(values['kafka-port'], 'kafka-port', 1, 65535 - maxBrokers, null),
    leaseTtlSeconds: integer(values['lease-ttl-seconds'], 'lease-ttl-seconds', 2, 3600, 5) ?? 5,
  };
}

function startBroker(nodeId: number, dataDir: string, kafkaPort: number, etcd: EtcdProcess, leaseTtlSeconds: number): LocalBroker {
  const args = [
    ...brokerNodeFlags,
    cliEntry, 'broker',
    '--node-id', String(nodeId),
    '--data-dir', dataDir,
    '--host', '127.0.0.1',
    '--kafka-port', String(kafkaPort),
    // AMQP and the admin API on a free port each (5672 and 8080 would be taken by the first): the summary says which.
    '--http-port', '0',
    '--amqp-port', '0',
    '--etcd-endpoints', etcd.endpoint,
    '--etcd-lease-ttl-seconds', String(leaseTtlSeconds),
  ];
  // A process group of its own, so that Ctrl-C in a terminal reaches this script only, which then
  // stops each broker once (a second signal would cut its shutdown short, before it left the cluster).
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolveExit) => child.once('close', () => resolveExit()));
  const broker: LocalBroker = { nodeId, dataDir, child, exited, port: null, amqpPort: null, httpPort: null };
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      const ready = readyLine.exec(line);
      if (ready?.[1] !== undefined) broker.port = Number(ready[1]);
      const amqpReady = amqpReadyLine.exec(line);
      if (amqpReady?.[1] !== undefined) broker.amqpPort = Number(amqpReady[1]);
      const httpReady = httpReadyLine.exec(line);
      if (httpReady?.[1] !== undefined) broker.httpPort = Number(httpReady[1]);
      process.stdout.write(`[broker-${nodeId}] ${line}\n`);
    });
  }
  return broker;
}

async function waitForReady(broker: LocalBroker): Promise<number> {
  const deadline = Date.now() + brokerReadyTimeoutMs;
  while (broker.port === null) {
    if (broker.child.exitCode !== null || broker.child.signalCode !== null) throw new Error(`broker ${broker.nodeId} exited before it was ready (code ${String(broker.child.exitCode)})`);
    if (Date.now() > deadline) throw new Error(`broker ${broker.nodeId} was not ready within ${brokerReadyTimeoutMs} ms`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  return broker.port;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const etcdExecutable = ensureEtcd();
  const temporary = options.dataDir === null;
  const root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'osprey-cluster-'));
  mkdirSync(root, { recursive: true });

  const etcd = await startEtcdProcess({ executable: etcdExecutable, dataDir: join(root, 'etcd'), logFile: join(root, 'etcd.log') });
  const brokers: LocalBroker[] = [];
  let stopping: Promise<void> | null = null;
  const stopAll = (exitCode: number): Promise<void> =>
    (stopping ??= (async () => {
      process.stdout.write('cluster: stopping the brokers, then etcd\n');
      for (const broker of brokers) if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGTERM');
      await Promise.all(brokers.map((broker) => broker.exited));
      await etcd.stop();
      if (temporary) rmSync(root, { recursive: true, force: true });
      process.stdout.write(`cluster: stopped${temporary ? '' : `; data kept in ${root}`}\n`);
      process.exit(exitCode);
    })());
  // Whatever ends this script otherwise (an exception) takes the children with it.
  process.on('exit', () => {
    for (const broker of brokers) if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
    void etcd.kill9();
  });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    for (let nodeId = 1; nodeId <= options.brokers; nodeId++) {
      brokers.push(startBroker(nodeId, join(root, `broker-${nodeId}`), options.kafkaPort === null ? 0 : options.kafkaPort + nodeId - 1, etcd, options.leaseTtlSeconds));
    }
    const ports = await Promise.all(brokers.map((broker) => waitForReady(broker)));
    const bootstrap = ports.map((port) => `127.0.0.1:${port}`).join(',');
    process.stdout.write(
      [
        '',
        `cluster: ${brokers.length} brokers and etcd are running`,
        `  etcd       ${etcd.endpoint}   (data ${join(root, 'etcd')}, log ${join(root, 'etcd.log')})`,
        ...brokers.map((broker, index) => `  broker ${broker.nodeId}   127.0.0.1:${ports[index] ?? '?'}   amqp://guest:guest@127.0.0.1:${broker.amqpPort ?? '?'}/   admin http://127.0.0.1:${broker.httpPort ?? '?'}   (data ${broker.dataDir})`),
        `  bootstrap  ${bootstrap}`,
        '',
        `  try: node ${cliEntry} cluster info -b 127.0.0.1:${ports[0] ?? '?'}`,
        `       node ${cliEntry} queue list --http-address 127.0.0.1:${brokers[0]?.httpPort ?? '?'}`,
        `       etcdctl --endpoints ${etcd.endpoint} get --prefix /osprey/   (package etcd-client)`,
        '',
        'Ctrl-C (or SIGTERM) stops them all.',
        '',
      ].join('\n'),
    );
    for (const broker of brokers) {
      void broker.exited.then(() => {
        if (stopping !== null) return;
        const running = brokers.filter((other) => other.child.exitCode === null && other.child.signalCode === null).length;
        process.stdout.write(`cluster: broker ${broker.nodeId} exited (code ${String(broker.child.exitCode)}, signal ${String(broker.child.signalCode)}); ${running === 0 ? 'no broker is running (etcd is; Ctrl-C stops it)' : `${running} still running`}\n`);
      });
    }
  } catch (error) {
    process.stderr.write(`cluster: ${error instanceof Error ? error.message : String(error)}\n`);
    await stopAll(1);
  }
}

await main();
