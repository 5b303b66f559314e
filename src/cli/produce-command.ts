/**
 * `osprey produce TOPIC`: one record per input line (stdin or --file), through the batching
 * producer of src/client; prints how many records the broker acknowledged.
 */
import { constants as fsConstants, createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { HeaderToSend } from '../client/batch-builder.js';
import { isCompressionName } from '../client/compression.js';
import type { CompressionName } from '../client/compression.js';
import { Producer } from '../client/producer.js';
import { UsageError, explain, keyValuePairs, parseInteger } from './command-kit.js';
import type { RunContext, Subcommand } from './command-kit.js';

export function parseAcks(text: string | undefined): -1 | 0 | 1 {
  if (text === undefined || text === 'all' || text === '-1') return -1;
  if (text === '0') return 0;
  if (text === '1') return 1;
  throw new UsageError(`--acks: expected all, -1, 0 or 1, got '${text}'`);
}

export function parseCompression(text: string | undefined): CompressionName {
  if (text === undefined) return 'none';
  if (!isCompressionName(text)) throw new UsageError(`--compression: expected none, gzip, snappy, lz4 or zstd, got '${text}'`);
  return text;
}

/** Calls `onLine` for each line (without its "\n" or "\r\n"); the last line may lack a newline. */
async function forEachLine(input: Readable, onLine: (line: Buffer) => void | Promise<void>): Promise<void> {
  let carry: Buffer | null = null;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    let data: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
    carry = null;
    let start = 0;
    for (;;) {
      const newline = data.indexOf(10, start);
      if (newline < 0) break;
      const end = newline > start && data[newline - 1] === 13 ? newline - 1 : newline;
      const pending = onLine(data.subarray(start, end));
      if (pending !== undefined) await pending;
      start = newline + 1;
    }
    if (start < data.length) carry = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
  }
  if (carry !== null && carry.length > 0) {
    const pending = onLine(carry);
    if (pending !== undefined) await pending;
  }
}

const produce: Subcommand = {
  name: 'produce',
  summary: 'write one record per input line to a topic',
  args: 'TOPIC',
  positionals: { min: 1, max: 1 },
  description: [
    'Reads stdin (or --file) and sends each non-empty line as one record. With --key-delimiter, the',
    'text before the first delimiter is the key and the rest the value (a line without it has a null',
    'key). Records are batched per partition; keyed records go where the Java client would put them.',
  ].join('\n'),
  options: {
    file: { type: 'string', short: 'f', value: 'PATH', description: 'read lines from this file instead of stdin' },
    'key-delimiter': { type: 'string', short: 'k', value: 'TEXT', description: 'split each line into key and value at the first TEXT' },
    header: { type: 'string', short: 'H', value: 'KEY=VALUE', multiple: true, description: 'add this header to every record' },
    partition: { type: 'string', short: 'p', value: 'N', description: 'send every record to partition N (default: by key, or sticky)' },
    compression: { type: 'string', short: 'z', value: 'CODEC', description: 'none (default), gzip, snappy, lz4 or zstd' },
    acks: { type: 'string', short: 'a', value: 'all|1|0', description: 'all (default): replicated and durable; 1: leader; 0: no answer' },
    linger: { type: 'string', value: 'DURATION', description: 'how long a batch waits for more records (default 5ms)' },
    'batch-size': { type: 'string', value: 'BYTES', description: 'send a batch once it holds this much (default 64KiB)' },
  },
  examples: [
    'echo hello | osprey produce greetings',
    "printf 'user-1:signed up\\nuser-2:paid\\n' | osprey produce events --key-delimiter :",
    'osprey produce orders --file orders.ndjson --compression zstd --header source=import',
  ],
  async run(run) {
    const topic = run.arg(0);
    const acks = parseAcks(run.string('acks'));
    const compression = parseCompression(run.string('compression'));
    const partitionText = run.string('partition');
    const partition = partitionText === undefined ? undefined : parseInteger('--partition', partitionText, { min: 0 });
    const keyDelimiter = run.string('key-delimiter');
    if (keyDelimiter === '') throw new UsageError('--key-delimiter: must not be empty');
    const delimiterBytes = keyDelimiter === undefined ? null : Buffer.from(keyDelimiter, 'utf8');
    const headers: HeaderToSend[] = Object.entries(keyValuePairs('--header', run.strings('header'))).map(([key, value]) => ({ key, value }));
    const linger = run.duration('linger');
    const batchBytes = run.size('batch-size');
    const producer = new Producer(run.client(), { acks, compression, ...(linger === undefined ? {} : { lingerMs: linger }), ...(batchBytes === undefined ? {} : { batchBytes }) });
    const metadata = await producer.prepare(topic);
    if (partition !== undefined && partition >= metadata.partitions.length) throw new UsageError(`--partition ${partition}: topic '${topic}' has partitions 0-${metadata.partitions.length - 1}`);

    const file = run.string('file');
    if (file !== undefined) {
      await access(file, fsConstants.R_OK).catch((error: unknown) => {
        throw new Error(`cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? explain(error)}`);
      });
    }
    const input = file === undefined ? process.stdin : createReadStream(file);
    let sent = 0;
    let acknowledged = 0;
    let failed = 0;
    let firstError: Error | null = null;
    const partitionCounts = new Map<number, number>();
    const onDelivery = (error: Error | null, deliveredPartition: number) => {
      if (error !== null) {
        failed++;
        firstError ??= error;
        return;
      }
      acknowledged++;
      partitionCounts.set(deliveredPartition, (partitionCounts.get(deliveredPartition) ?? 0) + 1);
    };
    await forEachLine(input, (line) => {
      if (line.length === 0) return;
      let key: Buffer | null = null;
      let value: Buffer = line;
      if (delimiterBytes !== null) {
        const at = line.indexOf(delimiterBytes);
        if (at >= 0) {
          key = line.subarray(0, at);
          value = line.subarray(at + delimiterBytes.length);
        }
      }
      sent++;
      const room = producer.produce(topic, { key, value, ...(headers.length > 0 ? { headers } : {}), ...(partition === undefined ? {} : { partition }) }, onDelivery);
      return room ? undefined : producer.waitForCapacity();
    });
    await producer.flush();
    reportProduce(run, { topic, sent, acknowledged, failed, acks, partitionCounts });
    if (firstError !== null) {
      run.err(`osprey produce: ${failed} of ${sent} records failed; the first: ${explain(firstError)}\n`);
      return 1;
    }
    return 0;
  },
};

function reportProduce(run: RunContext, result: { topic: string; sent: number; acknowledged: number; failed: number; acks: number; partitionCounts: Map<number, number> }): void {
  const partitions = Object.fromEntries([...result.partitionCounts].sort(([left], [right]) => left - right));
  if (run.json) {
    run.outJson({ topic: result.topic, sent: result.sent, acknowledged: result.acks === 0 ? null : result.acknowledged, failed: result.failed, acks: result.acks === -1 ? 'all' : result.acks, partitions });
    return;
  }
  const spread = Object.entries(partitions).map(([partition, count]) => `p${partition}: ${count}`).join(', ');
  if (result.acks === 0) run.out(`sent ${result.sent} records to ${result.topic} (acks=0: the broker does not acknowledge)\n`);
  else run.out(`${result.acknowledged} of ${result.sent} records acknowledged by ${result.topic}${result.failed > 0 ? `, ${result.failed} failed` : ''}${spread ? ` (${spread})` : ''}\n`);
}

export const produceCommand = produce;
