/**
 * nats-server with JetStream on file storage in a temporary directory, loopback only.
 *
 * Durability: `sync_interval` (how often the file store fsyncs; `always` = before every ack) only
 * exists from nats-server 2.10. The server is asked for what the run wants; a server that rejects
 * the option is reported as not run, never silently replaced by a weaker setting.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/ports.js';
import { removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';

export function natsVersion(): string {
  try {
    return execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server:\s*/, '');
  } catch {
    return 'unknown';
  }
}

/** null: the server's own default (2 min in nats-server 2.10+, an internal timer in 2.9). */
export type NatsSync = 'always' | null;

export function natsFsyncPolicy(sync: NatsSync): string {
  return sync === 'always'
    ? 'JetStream file store, sync_interval: always (fsync before each ack)'
    : 'JetStream file store, server default sync (acks after write to the OS; fsync on the server timer: 2 min in 2.10+, internal in 2.9)';
}

export class UnsupportedSettingError extends Error {}

export async function startNats(options: BrokerStartOptions, sync: NatsSync): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'nats-');
  const port = await freePort();
  const configFile = join(dataDir, 'nats.conf');
  const syncLine = sync === 'always' ? '  sync_interval: always\n' : '';
  writeFileSync(configFile, `host: 127.0.0.1\nport: ${port}\nmax_payload: 8MB\njetstream {\n  store_dir: "${join(dataDir, 'store')}"\n${syncLine}}\n`);
  const service = new Service('nats', 'nats-server', ['-c', configFile], { cwd: dataDir });
  try {
    await service.waitForOutput(/Server is ready/, 30_000);
  } catch (error) {
    removeDirectory(dataDir);
    const logs = service.logs();
    if (/unknown field "sync_interval"/.test(logs)) throw new UnsupportedSettingError(`nats-server ${natsVersion()} has no sync_interval option (added in 2.10)`);
    throw error;
  }
  return {
    kind: 'nats',
    version: natsVersion(),
    fsyncPolicy: natsFsyncPolicy(sync),
    launch: `nats-server -c nats.conf: ${readFileSync(configFile, 'utf8').replace(dataDir, '<data-dir>').replace(/\s+/g, ' ').trim()}`,
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
