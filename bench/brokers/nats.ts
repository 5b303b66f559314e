/**
 * nats-server with JetStream on file storage in a temporary directory, loopback only.
 *
 * Durability: `sync_interval` (how often the file store fsyncs; `always` = before every ack) only
 * exists from nats-server 2.10. The server is asked for what the run wants; a server that rejects
 * the option is reported as not run, never silently replaced by a weaker setting.
 *
 * Which binary runs is decided once per run (lib/nats-server.ts) and passed in, so both NATS plans
 * run the same one.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { syncIntervalSince, versionAtLeast } from '../lib/nats-server.js';
import type { NatsServerBinary } from '../lib/nats-server.js';
import { freePort } from '../lib/ports.js';
import { removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';

/** null: the server's own default (sync_interval 2 min in nats-server 2.10+, an internal timer in 2.9). */
export type NatsSync = 'always' | null;

/** What /varz says about the file store's syncing (nats-server 2.10+ reports it; 2.9 does not). */
export interface NatsReportedSync {
  readonly syncIntervalSeconds: number | null;
  readonly syncAlways: boolean;
}

/** The fsync policy in the server's terms, for the version that runs (null: not known). */
export function natsFsyncPolicy(sync: NatsSync, version: string | null, reported: NatsReportedSync | null = null): string {
  if (sync === 'always') return 'JetStream file store, sync_interval: always (fsync before each ack)';
  const interval = reported?.syncIntervalSeconds ?? null;
  if (interval !== null) return `JetStream file store, default sync_interval (server reports ${formatSeconds(interval)}): acked after the write to the OS, fsynced at most ${formatSeconds(interval)} later`;
  if (version !== null && versionAtLeast(version, syncIntervalSince)) return 'JetStream file store, default sync_interval (2 min): acked after the write to the OS, fsynced at most 2 min later';
  return `JetStream file store, server default sync (acked after the write to the OS; fsync on ${version === null ? 'the server timer: 2 min in 2.10+, internal in 2.9' : `nats-server ${version}'s internal timer, no sync_interval option before 2.10`})`;
}

function formatSeconds(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

export class UnsupportedSettingError extends Error {}

/** jetstream.config of /varz: sync_interval in nanoseconds, sync_always when set to "always". */
async function reportedSync(monitorPort: number): Promise<NatsReportedSync | null> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/varz`, { signal: AbortSignal.timeout(5000) });
    const varz = (await response.json()) as { jetstream?: { config?: { sync_interval?: number; sync_always?: boolean } } };
    const config = varz.jetstream?.config;
    if (config === undefined) return null;
    return { syncIntervalSeconds: typeof config.sync_interval === 'number' ? config.sync_interval / 1e9 : null, syncAlways: config.sync_always === true };
  } catch {
    return null;
  }
}

export async function startNats(options: BrokerStartOptions, sync: NatsSync, binary: NatsServerBinary): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'nats-');
  const port = await freePort();
  // The monitoring endpoint (loopback, idle during the run) is read once, to record what the server
  // says it does rather than what we asked for.
  const monitorPort = await freePort();
  const configFile = join(dataDir, 'nats.conf');
  const syncLine = sync === 'always' ? '  sync_interval: always\n' : '';
  writeFileSync(configFile, `host: 127.0.0.1\nport: ${port}\nhttp: "127.0.0.1:${monitorPort}"\nmax_payload: 8MB\njetstream {\n  store_dir: "${join(dataDir, 'store')}"\n${syncLine}}\n`);
  const service = new Service('nats', binary.path, ['-c', configFile], { cwd: dataDir });
  try {
    await service.waitForOutput(/Server is ready/, 30_000);
  } catch (error) {
    removeDirectory(dataDir);
    const logs = service.logs();
    if (/unknown field "sync_interval"/.test(logs)) throw new UnsupportedSettingError(`nats-server ${binary.version} has no sync_interval option (added in 2.10)${binary.note === undefined ? '' : `; ${binary.note}`}`);
    throw error;
  }
  const reported = await reportedSync(monitorPort);
  if (sync === 'always' && reported !== null && !reported.syncAlways) {
    await service.stop();
    removeDirectory(dataDir);
    throw new UnsupportedSettingError(`nats-server ${binary.version} accepted sync_interval: always but /varz does not report sync_always`);
  }
  const reportedText = reported === null ? '/varz reports no jetstream config' : `/varz reports sync_interval ${reported.syncIntervalSeconds === null ? 'absent' : formatSeconds(reported.syncIntervalSeconds)}, sync_always ${String(reported.syncAlways)}`;
  return {
    kind: 'nats',
    version: binary.version,
    fsyncPolicy: natsFsyncPolicy(sync, binary.version, reported),
    launch: `${relative(process.cwd(), binary.path) || binary.path} -c nats.conf (binary: ${binary.source}): ${readFileSync(configFile, 'utf8').replace(dataDir, '<data-dir>').replace(/\s+/g, ' ').trim()}; ${reportedText}`,
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
