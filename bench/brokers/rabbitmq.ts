/**
 * RabbitMQ (Debian's rabbitmq-server) as a throw-away node: loopback only, its own ports (AMQP,
 * distribution, and an epmd of its own so a RabbitMQ or Erlang node elsewhere on the machine is not
 * disturbed), every file (mnesia, logs, cookie, plugins list) in a temporary directory. No plugins:
 * classic, quorum and stream queues are all reachable over AMQP 0-9-1 (x-queue-type).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.js';
import { onCleanup, removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';

const debianServerScript = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export function rabbitmqVersion(): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'rabbitmq-server'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function stopEpmd(port: number): void {
  try {
    execFileSync('epmd', ['-port', String(port), '-kill'], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // not running
  }
}

export async function startRabbitmq(options: BrokerStartOptions): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'rabbitmq-');
  const [port, distributionPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(join(dataDir, 'mnesia'));
  mkdirSync(join(dataDir, 'log'));
  writeFileSync(join(dataDir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dataDir, 'rabbitmq.conf'), 'loopback_users = none\nlisteners.tcp.default = 127.0.0.1:' + port + '\n');
  const env = {
    HOME: dataDir,
    RABBITMQ_NODENAME: `osprey-bench-${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distributionPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_MNESIA_BASE: join(dataDir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dataDir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dataDir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dataDir, 'rabbitmq'),
    RABBITMQ_PID_FILE: join(dataDir, 'rabbitmq.pid'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dataDir, 'advanced.config'),
  };
  onCleanup(() => stopEpmd(epmdPort));
  // Debian's /usr/sbin/rabbitmq-server is a wrapper that switches to the rabbitmq user (dropping this
  // environment and writing to /var/log): run the real script, as the current user, instead.
  const command = existsSync(debianServerScript) ? debianServerScript : 'rabbitmq-server';
  const service = new Service('rabbitmq', command, [], { env, cwd: dataDir });
  await service.waitForOutput(/completed with \d+ plugins|Server startup complete/, 90_000);
  return {
    kind: 'rabbitmq',
    version: rabbitmqVersion(),
    launch: `${command} with RABBITMQ_NODE_IP_ADDRESS=127.0.0.1, no plugins, rabbitmq.conf: ${readFileSync(join(dataDir, 'rabbitmq.conf'), 'utf8').trim().replace(/\n/g, '; ')}; packaged defaults otherwise`,
    fsyncPolicy: 'persistent messages; publisher confirms sent after the queue has written (classic: fsync batched by the message store; quorum: Raft log fsynced before confirm; stream: confirm after the write, fsync left to the OS)',
    host: '127.0.0.1',
    port,
    pid: service.pid,
    dataDir,
    async stop() {
      await service.stop(30_000);
      stopEpmd(epmdPort);
      removeDirectory(dataDir);
    },
  };
}
