/**
 * Osprey through kcat (librdkafka, C): the broker's ceiling when the client is not the bottleneck.
 * Every producer and consumer is one long-running kcat process that the driver talks to over pipes,
 * so the workloads time messages, not process start or metadata.
 *
 *   producer  kcat -P, one message per line on stdin, acks=all, linger 1 ms (0 in latency rounds:
 *             1 ms put 1.4 ms on the p50 at 1k and 10k msg/s). Single-partition topics:
 *             -p 0. Several partitions: -K '\t' with partitioner=consistent (CRC32 of the key modulo
 *             the partition count) and one precomputed key per partition, so each send() call goes
 *             to one partition, round-robin, as with the other drivers; with `spread` (scaling
 *             workload) each line gets the next partition's key.
 *             Acknowledgements: kcat prints its delivery reports only from rd_kafka_poll(), which it
 *             calls after producing a line, not while it waits for input, so the last messages would
 *             never be reported. librdkafka's debug log (-d msg) is written from its broker thread as
 *             soon as a produce response arrives: "t [p]: MessageSet with N message(s) … delivered".
 *             send() resolves when its messages have been counted in those lines (per partition, in
 *             order). Ready once librdkafka has the topic's partitions and leaders (-d topic).
 *             Debian's kcat 1.7.1 reads stdin with fread() of 1024 bytes, which waits for a full
 *             1024; every write is padded with empty lines (kcat skips them) to a multiple of 1024
 *             bytes so that nothing waits in its input buffer.
 *   consumer  kcat -G (a consumer group, so several consumers share the partitions; eager range
 *             assignment), -o beginning (kcat seeks every assigned partition to the beginning),
 *             -f '%s\n', auto-commit once a second; under `stdbuf -oL` so each message leaves kcat's
 *             stdout as it is consumed (-u would write the payload and the newline separately).
 *             Consuming a complete backlog (the consume workload, one consumer): kcat's simple
 *             consumer, -C -t TOPIC (every partition, no group: a group member polls librdkafka for
 *             each message, the simple consumer takes them a batch at a time), `stdbuf -o64K` and -e,
 *             so kcat writes 64 KiB at a time and exits at the end; the clock starts at the first
 *             64 KiB to arrive (under 1 % of a 200k-message backlog) and stops when kcat reports
 *             the end of its last partition (see openConsumer). The harness only counts the
 *             lines then (no Buffer per message), to take as little CPU as it can beside kcat.
 *             Ready once kcat has been assigned its partitions and has fetched from each of them: a
 *             message on stdout, or its "Reached end of topic t [p]" line. (librdkafka 2.0 can wait
 *             500 ms after an assignment before its first offset lookup; that wait is not counted.)
 *
 * Topics are created and deleted with the project's admin client (src/client), as kcat cannot.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { crc32 } from '@node-rs/crc32';
import type { RunningBroker } from '../brokers/broker.js';
import { Admin } from '../../src/client/admin.js';
import { KafkaClient } from '../../src/client/client.js';
import { adminRequestTimeoutMs, AcknowledgementQueues, roundRobin } from './driver.js';
import type { Consumer, ConsumerOptions, Destination, Driver, Producer, ProducerOptions } from './driver.js';

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

const newline = 10;
const inputBlockBytes = 1024;
const exitTimeoutMs = 30_000;
const consumeBufferBytes = 64 * 1024;

/** One kcat (or other client) process: stderr line by line to `onStderrLine`, stdout chunks to `onStdout`. */
export class KcatProcess {
  private readonly child: ChildProcess;
  private stderrTail = '';
  private partialLine = '';
  private exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  /** `name`: what the process is called in errors. */
  constructor(command: string, args: readonly string[], onStderrLine: (line: string) => void, onStdout?: (chunk: Buffer) => void, private readonly name = 'kcat') {
    this.child = spawn(command, args, { stdio: ['pipe', onStdout === undefined ? 'ignore' : 'pipe', 'pipe'] });
    this.child.stdin!.on('error', () => undefined); // EPIPE if kcat has died; reported through `exited`
    if (onStdout !== undefined) this.child.stdout!.on('data', onStdout);
    this.child.stderr!.setEncoding('latin1').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      const lines = (this.partialLine + chunk).split('\n');
      this.partialLine = lines.pop()!;
      for (const line of lines) onStderrLine(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.stderrTail += `\n${error.message}`;
        this.exitCode = null;
        resolve();
      });
      this.child.once('close', (code) => {
        this.exitCode = code;
        resolve();
      });
    });
  }

  /** Why it ended, for errors. */
  describeExit(): string {
    return `${this.name} exited with ${String(this.exitCode)}: ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
  }

  write(data: Buffer): void {
    this.child.stdin!.write(data);
  }

  /** Resolves when `ready` is called, rejects if the process ends first. */
  async until(ready: Promise<void>, what: string): Promise<void> {
    await Promise.race([ready, this.exited.then(() => Promise.reject(new Error(`${what}: ${this.describeExit()}`)))]);
  }

  async stop(how: 'end-input' | 'terminate'): Promise<void> {
    if (this.exitCode !== undefined) return;
    if (how === 'end-input') this.child.stdin!.end();
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), exitTimeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** For each partition, a short key the consistent partitioner (CRC32 % partitions) sends there. */
function keysForPartitions(partitions: number): Buffer[] {
  const keys: (Buffer | undefined)[] = new Array(partitions);
  let found = 0;
  for (let candidate = 0; found < partitions; candidate += 1) {
    const key = Buffer.from(`k${candidate}`);
    const partition = (crc32(key) >>> 0) % partitions;
    if (keys[partition] === undefined) {
      keys[partition] = key;
      found += 1;
    }
  }
  return keys as Buffer[];
}

const deliveredLine = /: (\S+) \[(\d+)\]: MessageSet with (\d+) message\(s\) .*delivered$/;

export async function kcatDriver(broker: RunningBroker): Promise<Driver> {
  const bootstrap = `${broker.host}:${broker.port}`;
  const adminClient = new KafkaClient({ brokers: [bootstrap], clientId: 'osprey-bench-kcat-admin', requestTimeoutMs: adminRequestTimeoutMs });
  const admin = new Admin(adminClient);
  const open = new Set<KcatProcess>();
  return {
    id: 'osprey-kcat',
    label: 'Osprey',
    client: 'kcat',
    clientVersion: kcatVersion(),
    durability: 'acks=all, fsync before ack',
    workloads: new Set(['publish', 'consume', 'latency', 'many-partitions', 'scaling']),
    settleMs: 1500,
    async createDestination(destination: Destination) {
      await admin.createTopic(destination.name, { partitions: destination.partitions });
    },
    async deleteDestination(destination: Destination) {
      await admin.deleteTopic(destination.name);
    },
    async openProducer(destination: Destination, options: ProducerOptions = {}): Promise<Producer> {
      const topic = destination.name;
      const keyed = destination.partitions > 1;
      const spread = options.spread === true;
      const keys = keyed ? keysForPartitions(destination.partitions) : [];
      const nextPartition = roundRobin(destination.partitions);
      const pending = new AcknowledgementQueues();
      let markReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      const readyLine = `Topic ${topic} partition count changed from 0 to `;
      const kcat = new KcatProcess('kcat', [
        '-P', '-b', bootstrap, '-t', topic, '-X', 'acks=all', '-X', `linger.ms=${options.forLatency === true ? 0 : 1}`, '-d', 'msg,topic',
        ...(keyed ? ['-K', '\\t', '-X', 'partitioner=consistent'] : ['-p', '0']),
      ], (line) => {
        const delivered = deliveredLine.exec(line);
        if (delivered !== null) {
          if (delivered[1] === topic) pending.acknowledge(Number(delivered[2]), Number(delivered[3]));
        } else if (line.includes(readyLine)) {
          markReady();
        } else if (line.includes('Delivery failed') || line.startsWith('% FATAL')) {
          pending.failAll(new Error(`kcat: ${line}`));
        }
      });
      open.add(kcat);
      void kcat.exited.then(() => pending.failAll(new Error(kcat.describeExit())));
      await kcat.until(ready, 'kcat producer did not start');
      let writtenBytes = 0;

      return {
        send(payloads) {
          if (pending.failed !== undefined) return Promise.reject(pending.failed);
          if (payloads.length === 0) return Promise.resolve();
          const sendPartition = spread && keyed ? -1 : nextPartition();
          const counts = new Map<number, number>();
          const parts: Buffer[] = [];
          let bytes = 0;
          for (const payload of payloads) {
            const partition = spread && keyed ? nextPartition() : sendPartition;
            counts.set(partition, (counts.get(partition) ?? 0) + 1);
            if (keyed) parts.push(keys[partition]!, tab);
            parts.push(payload, newlineBuffer);
            bytes += (keyed ? keys[partition]!.length + 1 : 0) + payload.length + 1;
          }
          const padding = (inputBlockBytes - ((writtenBytes + bytes) % inputBlockBytes)) % inputBlockBytes;
          if (padding > 0) parts.push(Buffer.alloc(padding, newline));
          writtenBytes += bytes + padding;
          const acknowledged = pending.waitAll(counts);
          kcat.write(Buffer.concat(parts, bytes + padding));
          return acknowledged;
        },
        async close() {
          open.delete(kcat);
          await kcat.stop('end-input');
        },
      };
    },
    async openConsumer(destination: Destination, options: ConsumerOptions): Promise<Consumer> {
      let markReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (markReady = resolve));
      let partial: Buffer | undefined;
      /** Assigned partitions not yet fetched from (no message, no end-of-partition report). */
      let notFetched: Set<number> | undefined;
      // Line-buffered output, so that each message reaches the harness as it is consumed (latency),
      // costs kcat one write() per message. On a complete backlog kcat buffers 64 KiB per write
      // instead and exits at the end of its partitions (-e), which flushes what is left (kcat never
      // flushes a partial buffer while it runs). That last flush comes after librdkafka's close and
      // destroy, which take anything up to a second, so the messages it carries count as consumed
      // when kcat reported the end of the last partition, on stderr (unbuffered).
      const backlogOnly = options.backlogOnly === true;
      const buffering = backlogOnly ? [`-o${consumeBufferBytes}`] : ['-oL'];
      /** Assigned partitions kcat has not yet reported at their end (backlog mode). */
      let notAtEnd: Set<number> | undefined;
      let allAtEndMs: number | undefined;
      // One consumer reading a backlog needs no group: kcat's simple consumer (-C) takes messages
      // from librdkafka in batches (a callback per message of each batch), where a group member
      // (-G) polls for each message, which held kcat to 1.6M msg/s on a 100 B backlog (2026-12-06
      // full run) while the C consumer, a group member taking batches, read 4M.
      const simpleConsumer = backlogOnly && options.count === 1;
      if (simpleConsumer) {
        notFetched = new Set(Array.from({ length: destination.partitions }, (_, partition) => partition));
        notAtEnd = new Set(notFetched);
      }
      // The group's settings only for a group member: heartbeat, session and auto-commit.
      const membership = simpleConsumer
        ? ['-C', '-t', destination.name]
        : ['-G', `${destination.name}-group`, '-X', 'heartbeat.interval.ms=500', '-X', 'session.timeout.ms=10000', '-X', 'auto.commit.interval.ms=1000'];
      const kcat = new KcatProcess('stdbuf', [
        ...buffering, 'kcat', '-b', bootstrap, ...membership, '-o', 'beginning', '-f', '%s\n', ...(backlogOnly ? ['-e'] : []),
        // librdkafka reports a partition's end after a fetch that comes back empty, which the broker
        // holds for fetch.wait.max.ms: 1 ms on a backlog, so the end is seen at once.
        '-X', `fetch.wait.max.ms=${backlogOnly ? 1 : 100}`, '-X', 'fetch.message.max.bytes=4194304',
        // librdkafka stops fetching while more than queued.min.messages (100k) wait to be consumed
        // and then backs off for up to a second: on a 200k backlog that pause showed in some rounds.
        '-X', 'queued.min.messages=10000000', ...(simpleConsumer ? [] : [destination.name]),
      ], (line) => {
        const assigned = /rebalanced .*: assigned: ?(.*)$/.exec(line);
        if (assigned !== null) {
          notFetched = new Set([...assigned[1]!.matchAll(/\S+ \[(\d+)\]/g)].map((match) => Number(match[1])));
          notAtEnd = new Set(notFetched);
        } else {
          const end = /^% Reached end of topic \S+ \[(\d+)\]/.exec(line);
          if (end !== null) {
            notFetched?.delete(Number(end[1]));
            notAtEnd?.delete(Number(end[1]));
            if (notAtEnd?.size === 0 && allAtEndMs === undefined) allAtEndMs = performance.now();
          }
        }
        if (notFetched?.size === 0) markReady();
      }, (chunk) => {
        if (backlogOnly) {
          // The consume workload only counts: newlines are counted without a Buffer per message,
          // so that the harness, on the same cores, takes as little as it can from kcat and the broker.
          let count = 0;
          for (let end = chunk.indexOf(newline); end !== -1; end = chunk.indexOf(newline, end + 1)) count += 1;
          if (count > 0) {
            markReady();
            options.onMessages(new Array<Buffer>(count).fill(noPayload), allAtEndMs);
          }
          return;
        }
        const payloads: Buffer[] = [];
        let start = 0;
        for (let end = chunk.indexOf(newline); end !== -1; end = chunk.indexOf(newline, start)) {
          if (partial !== undefined) {
            payloads.push(Buffer.concat([partial, chunk.subarray(start, end)]));
            partial = undefined;
          } else {
            payloads.push(chunk.subarray(start, end));
          }
          start = end + 1;
        }
        if (start < chunk.length) partial = partial === undefined ? chunk.subarray(start) : Buffer.concat([partial, chunk.subarray(start)]);
        if (payloads.length > 0) {
          markReady();
          options.onMessages(payloads, backlogOnly ? allAtEndMs : undefined);
        }
      });
      open.add(kcat);
      await kcat.until(ready, 'kcat consumer did not join');
      return {
        async close() {
          open.delete(kcat);
          await kcat.stop('terminate');
        },
      };
    },
    async close() {
      await Promise.allSettled([...open].map((kcat) => kcat.stop('terminate')));
      adminClient.close();
    },
  };
}

const tab = Buffer.from('\t');
const noPayload = Buffer.alloc(0);
const newlineBuffer = Buffer.from('\n');
