/**
 * kcat (Debian's kcat 1.7.1 on librdkafka 2.0.2) driven from tests: a real Kafka client nobody here
 * wrote. Every run has a time limit and keeps all of its output, so a failing assertion can show the
 * exact command and what kcat said.
 *
 *   const result = await runKcat(['-P', '-b', broker.bootstrap, '-t', 'topic'], { input: 'a\nb\n' });
 *   assertKcatSucceeded(result);            // exit code 0, or throw with command and stderr
 *
 *   const records = await consumeJson(broker.bootstrap, 'topic');   // every record, exact bytes
 *
 * What kcat does with its producer input (kcat.c, producer_run), which the encoders below follow:
 *
 *   input  = message (recordDelimiter message)*        -D: split on the delimiter string
 *   message of length 0                                 skipped, never produced
 *   message with -K d = key d value                     split at the FIRST d; no d: key NULL
 *   with -Z                                             an empty key or value after the split is NULL
 *   -H name=value / -H name                             the same headers on every message (name alone:
 *                                                       NULL value)
 *
 * So content must not hold the delimiter bytes: generated content here never holds 0x1e (record
 * delimiter) or 0x1f (key delimiter), and is otherwise any byte.
 *
 * What comes back: `-J` writes one JSON object per line (yajl, which escapes only `"`, `\` and bytes
 * below 0x20, and passes the other bytes through unchecked), so reading that output as latin1 and
 * JSON-parsing it gives back every key, value and header byte exactly. `-f binaryFormat` prints the
 * lengths first (-1 for NULL) and then the raw bytes: a second, independent decoding.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { requireTool } from './tools.js';

/** One byte that separates messages in kcat's producer input (`-D '\x1e'`). */
export const recordDelimiterByte = 0x1e;
/** One byte that separates key from value in kcat's producer input (`-K '\x1f'`). */
export const keyDelimiterByte = 0x1f;
/** The kcat arguments that select the two delimiters above. */
export const delimiterArgs: readonly string[] = ['-D', '\\x1e', '-K', '\\x1f'];
/** The same, without a key delimiter: each message is a value, the key is NULL. */
export const valueOnlyDelimiterArgs: readonly string[] = ['-D', '\\x1e'];

const defaultTimeoutMs = 60_000;

export interface KcatResult {
  /** The command line, quoted for a shell, to paste when reproducing a failure. */
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly elapsedMs: number;
  /** True when the time limit ran out and kcat was killed. */
  readonly timedOut: boolean;
}

export interface KcatOptions {
  /** Written to kcat's standard input, which is then closed (closed at once when left out). */
  readonly input?: Buffer | string;
  /** Killed (SIGKILL) after this long; the result then says timedOut. 60 s by default. */
  readonly timeoutMs?: number;
}

const runningKcats = new Set<ChildProcessWithoutNullStreams>();
process.on('exit', () => {
  for (const child of runningKcats) child.kill('SIGKILL');
});

/** `kcat` quoted for a shell, for messages. */
export function shellCommand(args: readonly string[]): string {
  return ['kcat', ...args].map((argument) => (/^[\w@%+=:,./-]+$/.test(argument) ? argument : `'${argument.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * A kcat process whose input is written while it runs and whose stderr is watched line by line:
 * for tests that act while a producer is still producing.
 */
export class KcatProcess {
  readonly command: string;
  readonly result: Promise<KcatResult>;
  private readonly child: ChildProcessWithoutNullStreams;
  private stderrText = '';
  private readonly lineListeners: Array<(line: string) => void> = [];

  constructor(args: readonly string[], timeoutMs = defaultTimeoutMs) {
    const executable = requireTool('kcat');
    this.command = shellCommand(args);
    const startedAt = performance.now();
    this.child = spawn(executable, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    runningKcats.add(this.child);
    // kcat may exit (an error, -c) before it has read everything: a broken pipe is its answer, not ours.
    this.child.stdin.on('error', () => undefined);
    const stdoutChunks: Buffer[] = [];
    this.child.stdout.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));
    let partialLine = '';
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrText += chunk;
      const lines = (partialLine + chunk).split('\n');
      partialLine = lines.pop() ?? '';
      for (const line of lines) for (const listener of this.lineListeners) listener(line);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    this.result = new Promise((resolve, reject) => {
      this.child.once('error', (error) => {
        clearTimeout(timer);
        runningKcats.delete(this.child);
        reject(error);
      });
      this.child.once('close', (exitCode, signal) => {
        clearTimeout(timer);
        runningKcats.delete(this.child);
        resolve({
          command: this.command,
          exitCode,
          signal,
          stdout: Buffer.concat(stdoutChunks),
          stderr: this.stderrText,
          elapsedMs: performance.now() - startedAt,
          timedOut,
        });
      });
    });
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Writes to kcat's input, resolving once the pipe has taken it (back-pressure). */
  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.stdin.destroyed || this.child.stdin.writableEnded) {
        resolve();
        return;
      }
      this.child.stdin.write(data, () => resolve());
    });
  }

  endInput(): void {
    if (!this.child.stdin.writableEnded) this.child.stdin.end();
  }

  /** Calls listener with every complete stderr line from now on. */
  onStderrLine(listener: (line: string) => void): void {
    this.lineListeners.push(listener);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** Runs kcat to completion (or to its time limit) and returns everything it did. Never throws for a non-zero exit. */
export async function runKcat(args: readonly string[], options: KcatOptions = {}): Promise<KcatResult> {
  const kcat = new KcatProcess(args, options.timeoutMs ?? defaultTimeoutMs);
  if (options.input !== undefined) await kcat.write(options.input);
  kcat.endInput();
  return kcat.result;
}

/** What a failed run said, for assertion messages: the command, how it ended, the end of its stderr. */
export function describeRun(result: KcatResult, stderrTailChars = 4000): string {
  const ending = result.timedOut ? `killed after its time limit (${Math.round(result.elapsedMs)} ms)` : `exit code ${String(result.exitCode)}, signal ${String(result.signal)}`;
  const stderr = result.stderr.length > stderrTailChars ? `…${result.stderr.slice(-stderrTailChars)}` : result.stderr;
  return `${result.command}\n${ending}\n--- kcat stderr ---\n${stderr}`;
}

export function assertKcatSucceeded(result: KcatResult, context = ''): void {
  assert.ok(result.exitCode === 0 && !result.timedOut, `${context ? `${context}: ` : ''}kcat failed\n${describeRun(result)}`);
}

/** Runs kcat and throws (with command and stderr) unless it exits 0. */
export async function kcatSucceeds(args: readonly string[], options: KcatOptions = {}): Promise<KcatResult> {
  const result = await runKcat(args, options);
  assertKcatSucceeded(result);
  return result;
}

// --- producer input ---------------------------------------------------------------------------

export interface RecordToProduce {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface ProducerInputOptions {
  /** Input is split into key and value at keyDelimiterByte (`-K`). */
  readonly keyed: boolean;
  /** kcat runs with `-Z`: an empty key or value after the split becomes NULL. */
  readonly emptyIsNull: boolean;
}

/**
 * The bytes to feed kcat -P (with the matching delimiter arguments) so that it produces exactly
 * `records`, in order. Throws for a record that kcat cannot express under these options.
 */
export function producerInput(records: readonly RecordToProduce[], options: ProducerInputOptions): Buffer {
  const parts: Buffer[] = [];
  const recordDelimiter = Buffer.of(recordDelimiterByte);
  const keyDelimiter = Buffer.of(keyDelimiterByte);
  records.forEach((record, index) => {
    for (const field of [record.key, record.value]) {
      if (field !== null) assert.ok(!field.includes(recordDelimiterByte) && !field.includes(keyDelimiterByte), `record ${index} holds a delimiter byte`);
    }
    parts.push(messageBytes(record, options, keyDelimiter, index), recordDelimiter);
  });
  return Buffer.concat(parts);
}

function messageBytes(record: RecordToProduce, options: ProducerInputOptions, keyDelimiter: Buffer, index: number): Buffer {
  const { key, value } = record;
  const unexpressible = (why: string): never => assert.fail(`record ${index} cannot be produced by kcat: ${why}`);
  if (!options.keyed) {
    if (key !== null) unexpressible('a key without -K');
    if (value === null || value.length === 0) unexpressible('a NULL or empty value without -K (kcat skips empty messages)');
    return value ?? Buffer.alloc(0);
  }
  if (options.emptyIsNull) {
    if ((key !== null && key.length === 0) || (value !== null && value.length === 0)) unexpressible('an empty key or value under -Z');
    return Buffer.concat([key ?? Buffer.alloc(0), keyDelimiter, value ?? Buffer.alloc(0)]);
  }
  if (value === null) unexpressible('a NULL value without -Z');
  if (key === null) {
    if (value === null || value.length === 0) unexpressible('a NULL key with an empty value (kcat skips empty messages)');
    return value ?? Buffer.alloc(0);
  }
  return Buffer.concat([key, keyDelimiter, value ?? Buffer.alloc(0)]);
}

// --- producer output ----------------------------------------------------------------------------

export interface DeliveryReport {
  readonly partition: number;
  readonly offset: number;
}

const deliveredLine = /^% Message delivered to partition (-?\d+) \(offset (-?\d+)\)/;

/** One delivery report from a kcat -P stderr line (kcat needs `-v -v` to print them), or undefined. */
export function parseDeliveryLine(line: string): DeliveryReport | undefined {
  const match = deliveredLine.exec(line);
  if (match === null) return undefined;
  return { partition: Number(match[1]), offset: Number(match[2]) };
}

/** Every delivery report in a kcat -P -v -v stderr, in the order kcat printed them. */
export function deliveryReports(stderr: string): DeliveryReport[] {
  return stderr.split('\n').flatMap((line) => parseDeliveryLine(line) ?? []);
}

/** The "Delivery failed for message: …" reasons in a kcat -P stderr. */
export function deliveryFailures(stderr: string): string[] {
  return stderr.split('\n').flatMap((line) => /^% Delivery failed for message: (.*)$/.exec(line)?.[1] ?? []);
}

// --- consumer output ----------------------------------------------------------------------------

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestampType: string;
  readonly timestamp: number;
  /** Name and value of each header in order; a NULL value is null. Absent in the binary format. */
  readonly headers: ReadonlyArray<readonly [string, Buffer | null]> | undefined;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

interface KcatJsonMessage {
  topic: string;
  partition: number;
  offset: number;
  tstype?: string;
  ts?: number;
  headers?: Array<string | null>;
  key: string | null;
  payload: string | null;
}

/** Parses kcat -C -J output (one object per line); see the file comment for why latin1. */
export function parseJsonMessages(stdout: Buffer): ConsumedRecord[] {
  const text = stdout.toString('latin1');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const message = JSON.parse(line) as KcatJsonMessage;
      return {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        timestampType: message.tstype ?? 'none',
        timestamp: message.ts ?? -1,
        headers: message.headers === undefined ? [] : headerPairs(message.headers),
        key: message.key === null ? null : Buffer.from(message.key, 'latin1'),
        value: message.payload === null ? null : Buffer.from(message.payload, 'latin1'),
      };
    });
}

function headerPairs(flat: ReadonlyArray<string | null>): Array<readonly [string, Buffer | null]> {
  assert.equal(flat.length % 2, 0, 'kcat -J headers come in name, value pairs');
  const pairs: Array<readonly [string, Buffer | null]> = [];
  for (let index = 0; index < flat.length; index += 2) {
    const name = flat[index];
    const value = flat[index + 1];
    assert.ok(typeof name === 'string', 'a header name is a string');
    pairs.push([Buffer.from(name, 'latin1').toString('utf8'), value === null || value === undefined ? null : Buffer.from(value, 'latin1')]);
  }
  return pairs;
}

/**
 * kcat -C output format: a text line with partition, offset, timestamp and the key and value lengths
 * (-1 = NULL), then exactly that many key bytes and value bytes, then a newline.
 */
export const binaryFormat = '%t %p %o %T %K %S\\n%k%s\\n';

/** Parses output written with `-f binaryFormat`. */
export function parseBinaryMessages(stdout: Buffer): ConsumedRecord[] {
  const records: ConsumedRecord[] = [];
  let position = 0;
  while (position < stdout.length) {
    const lineEnd = stdout.indexOf(0x0a, position);
    assert.ok(lineEnd > position, `binary kcat output: no header line at byte ${position}`);
    const fields = stdout.subarray(position, lineEnd).toString('latin1').split(' ');
    assert.equal(fields.length, 6, `binary kcat output: header line at byte ${position} has ${fields.length} fields`);
    const [topic, partition, offset, timestamp, keyLength, valueLength] = fields as [string, string, string, string, string, string];
    position = lineEnd + 1;
    const key = sliceField(stdout, position, Number(keyLength));
    position += Math.max(0, Number(keyLength));
    const value = sliceField(stdout, position, Number(valueLength));
    position += Math.max(0, Number(valueLength));
    assert.equal(stdout[position], 0x0a, `binary kcat output: no newline after the record at offset ${offset}`);
    position += 1;
    records.push({ topic, partition: Number(partition), offset: Number(offset), timestampType: 'unknown', timestamp: Number(timestamp), headers: undefined, key, value });
  }
  return records;
}

function sliceField(output: Buffer, position: number, length: number): Buffer | null {
  if (length < 0) return null;
  assert.ok(position + length <= output.length, 'binary kcat output ends inside a record');
  return Buffer.from(output.subarray(position, position + length));
}

export interface ConsumeOptions {
  /** kcat -o: 'beginning' by default; also 'end', '-N', 's@<ms>', an absolute offset. */
  readonly offset?: string;
  /** Only this partition (-p). */
  readonly partition?: number;
  /** More kcat arguments (-c N, -X …). */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
}

/** The kcat arguments of a consumer that reads to the current end and exits (-e), checking CRCs. */
export function consumerArgs(bootstrap: string, topic: string, options: ConsumeOptions = {}): string[] {
  return [
    '-C',
    '-b',
    bootstrap,
    '-t',
    topic,
    ...(options.partition === undefined ? [] : ['-p', String(options.partition)]),
    '-o',
    options.offset ?? 'beginning',
    '-e',
    '-X',
    'check.crcs=true',
    ...(options.extraArgs ?? []),
  ];
}

/** Reads a topic (or one partition) with kcat -J to the end; throws unless kcat exits 0. */
export async function consumeJson(bootstrap: string, topic: string, options: ConsumeOptions = {}): Promise<ConsumedRecord[]> {
  const result = await kcatSucceeds([...consumerArgs(bootstrap, topic, options), '-J'], timeoutOption(options));
  return parseJsonMessages(result.stdout);
}

/** Reads a topic (or one partition) with kcat -f binaryFormat to the end; throws unless kcat exits 0. */
export async function consumeBinary(bootstrap: string, topic: string, options: ConsumeOptions = {}): Promise<ConsumedRecord[]> {
  const result = await kcatSucceeds([...consumerArgs(bootstrap, topic, options), '-f', binaryFormat], timeoutOption(options));
  return parseBinaryMessages(result.stdout);
}

function timeoutOption(options: ConsumeOptions): KcatOptions {
  return options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
}

/** The records of one partition, in the order kcat returned them. */
export function inPartition(records: readonly ConsumedRecord[], partition: number): ConsumedRecord[] {
  return records.filter((record) => record.partition === partition);
}

/** A short, readable picture of a byte string for assertion messages. */
export function preview(bytes: Buffer | null, maxBytes = 32): string {
  if (bytes === null) return 'NULL';
  const shown = bytes.subarray(0, maxBytes).toString('hex');
  return `${bytes.length} bytes ${shown}${bytes.length > maxBytes ? '…' : ''}`;
}
