/**
 * redis-server with the append-only file on (`appendonly yes`), RDB snapshots off, loopback only,
 * in a temporary directory. `appendfsync always` fsyncs the AOF before replies go out;
 * `everysec` fsyncs once a second (up to a second of acknowledged writes can be lost).
 */
import { execFileSync } from 'node:child_process';
import { freePort } from '../lib/ports.js';
import { removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';

export type AppendFsync = 'always' | 'everysec';

export function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function startRedis(options: BrokerStartOptions, appendFsync: AppendFsync): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'redis-');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', appendFsync, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
  const service = new Service('redis', 'redis-server', args, { cwd: dataDir });
  await service.waitForOutput(/Ready to accept connections/, 30_000);
  return {
    kind: 'redis',
    version: redisVersion(),
    fsyncPolicy: `appendonly yes, appendfsync ${appendFsync}`,
    launch: `redis-server ${args.map((arg) => (arg === dataDir ? '<data-dir>' : arg === '' ? "''" : arg)).join(' ')}`,
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
