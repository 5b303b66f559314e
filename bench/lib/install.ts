/**
 * What the benchmark needs from the operating system, installed when missing: Debian packages via
 * apt-get (as root; otherwise it says what to install and leaves out what needs it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runCommand } from './processes.js';

export interface Tool {
  /** The command looked for on PATH, or the name of `file` when that is what is looked for. */
  readonly command: string;
  /** A file whose presence shows the package is installed (a library's header), instead of a command. */
  readonly file?: string;
  readonly debianPackage: string;
  readonly purpose: string;
}

export const tools: readonly Tool[] = [
  { command: 'kcat', debianPackage: 'kcat', purpose: 'Osprey through librdkafka' },
  { command: 'gcc', debianPackage: 'gcc', purpose: 'the librdkafka producer driver (compiled at bench time)' },
  { command: 'rdkafka.h', file: '/usr/include/librdkafka/rdkafka.h', debianPackage: 'librdkafka-dev', purpose: 'the librdkafka producer driver (compiled at bench time)' },
  { command: 'etcd', debianPackage: 'etcd-server', purpose: 'the Osprey cluster row (cluster metadata)' },
  { command: 'rabbitmq-server', debianPackage: 'rabbitmq-server', purpose: 'RabbitMQ' },
  { command: 'nats-server', debianPackage: 'nats-server', purpose: 'NATS JetStream' },
  { command: 'redis-server', debianPackage: 'redis-server', purpose: 'Redis Streams' },
  { command: 'fio', debianPackage: 'fio', purpose: 'disk write bandwidth' },
  { command: 'iperf3', debianPackage: 'iperf3', purpose: 'loopback TCP bandwidth' },
];

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function isInstalled(tool: Tool): boolean {
  return tool.file === undefined ? hasCommand(tool.command) : existsSync(tool.file);
}

/** Installs the missing tools; returns a sentence per tool still missing afterwards. */
export async function ensureTools(wanted: readonly Tool[], log: (line: string) => void): Promise<string[]> {
  const missing = wanted.filter((tool) => !isInstalled(tool));
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && hasCommand('apt-get')) {
    log(`installing Debian packages: ${packages.join(' ')} (apt-get, a minute or two)`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    try {
      await runCommand('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
      // policy-rc.d-less containers may try to start the services: harmless, the bench starts its own.
      await runCommand('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, timeoutMs: 900_000 });
    } catch (error) {
      log(`apt-get failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
  }
  return wanted.filter((tool) => !isInstalled(tool)).map((tool) => `${tool.command} is missing (apt-get install ${tool.debianPackage}): ${tool.purpose} left out`);
}
