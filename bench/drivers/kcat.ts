/**
 * Osprey through kcat (librdkafka, C): the broker's ceiling when the client is not the bottleneck.
 * kcat runs as a whole process over the backlog, so it does the publish and consume workloads
 * only, and its timings include process start and metadata (tens of milliseconds).
 *
 *   publish: kcat -P -l FILE  (one message per line), acks=all, linger 5 ms, batches up to 10k
 *   consume: kcat -C -o beginning -e -c N, no group (assigned partitions; nothing to commit)
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningBroker } from '../brokers/broker.js';
import { removeDirectory, temporaryDirectory } from '../lib/processes.js';
import type { Destination, Driver } from './driver.js';

export function kcatVersion(): string {
  try {
    const text = execFileSync('kcat', ['-V'], { encoding: 'utf8' });
    const kcat = /Version (\S+)/.exec(text)?.[1] ?? '?';
    const librdkafka = /librdkafka (\d\S*)/.exec(text)?.[1] ?? '?';
    return `${kcat} (librdkafka ${librdkafka})`;
  } catch {
    return 'unknown';
  }
}

function runKcat(args: readonly string[]): Promise<{ newlines: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let newlines = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) newlines += 1;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve({ newlines, stderr });
      else reject(new Error(`kcat ${args.join(' ')} exited with ${String(code)}: ${stderr}`));
    });
  });
}

export async function kcatDriver(broker: RunningBroker, scratchParent: string): Promise<Driver> {
  const bootstrap = `${broker.host}:${broker.port}`;
  const scratch = temporaryDirectory(scratchParent, 'kcat-input-');
  const unsupported = () => Promise.reject(new Error('kcat runs whole backlogs only (bulk)'));
  const common = ['-b', bootstrap, '-X', 'api.version.request=true', '-q'];
  return {
    id: 'osprey-kcat',
    label: 'Osprey',
    client: 'kcat',
    clientVersion: kcatVersion(),
    durability: 'acks=all, fsync before ack',
    workloads: new Set(['publish', 'consume']),
    settleMs: 0,
    bulk: {
      prepare(payloads: readonly Buffer[]) {
        if (!preparedFiles.has(payloads)) writeInput(payloads);
      },
      async publish(destination: Destination, payloads: readonly Buffer[]) {
        const file = preparedFiles.get(payloads) ?? writeInput(payloads);
        await runKcat(['-P', ...common, '-t', destination.name, '-X', 'acks=all', '-X', 'linger.ms=5', '-X', 'batch.num.messages=10000', '-X', 'queue.buffering.max.messages=2000000', '-X', 'queue.buffering.max.kbytes=2097151', '-z', 'none', '-l', file]);
      },
      async consume(destination: Destination, count: number) {
        const { newlines } = await runKcat(['-C', ...common, '-t', destination.name, '-o', 'beginning', '-e', '-c', String(count), '-f', '%s\n', '-X', 'fetch.message.max.bytes=4194304']);
        if (newlines < count) throw new Error(`kcat read ${newlines} of ${count} messages`);
      },
    },
    async createDestination(destination: Destination) {
      // kcat cannot create topics; Osprey creates them on first use with --num-partitions (1).
      if (destination.partitions !== 1) throw new Error('the kcat driver uses single-partition topics');
    },
    async deleteDestination() {
      // kcat cannot delete topics; its topics are small and the broker is stopped after the run.
    },
    openProducer: unsupported,
    openConsumer: unsupported,
    async close() {
      removeDirectory(scratch);
    },
  };

  function writeInput(payloads: readonly Buffer[]): string {
    const file = join(scratch, `input-${(fileCounter += 1)}.txt`);
    const lines: Buffer[] = [];
    for (const payload of payloads) lines.push(payload, newline);
    writeFileSync(file, Buffer.concat(lines));
    preparedFiles.set(payloads, file);
    return file;
  }
}

const newline = Buffer.from('\n');
/** Input files written by prepare(), before the measured call. */
const preparedFiles = new WeakMap<readonly Buffer[], string>();
let fileCounter = 0;
