/**
 * What the examples share: where the broker is, connecting to it with a clear message when nothing
 * answers there, waiting with a deadline, and running an example's main function.
 *
 * Addresses are those of `npm start` unless the environment says otherwise:
 *
 *   OSPREY_BROKERS    Kafka bootstrap servers, comma-separated host:port   default 127.0.0.1:9092
 *   OSPREY_AMQP_URL   AMQP 0-9-1 URL                                       default amqp://guest:guest@127.0.0.1:5672/
 *
 * An example prints what happens in plain words on stdout and exits 0 when everything it shows
 * happened as it says; otherwise it prints one line on stderr saying what did not, and exits 1.
 */
import { connect as connectSocket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import amqp from 'amqplib';
import type { ChannelModel } from 'amqplib';

export const defaultKafkaBrokers = '127.0.0.1:9092';
export const defaultAmqpUrl = 'amqp://guest:guest@127.0.0.1:5672/';
/** How long reaching a listener may take before the example gives up. */
const reachTimeoutMs = 5000;
/** Once main has finished, how long a client's leftover timers may keep the process alive. */
const exitGraceMs = 3000;
const pollIntervalMs = 20;

/** A failure the example explains itself: its message is printed as it is, without a stack. */
export class ExampleFailure extends Error {}

export function kafkaBrokers(): string[] {
  const configured = process.env['OSPREY_BROKERS'] ?? '';
  const brokers = configured
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  return brokers.length > 0 ? brokers : [defaultKafkaBrokers];
}

export function amqpUrl(): string {
  const configured = process.env['OSPREY_AMQP_URL'] ?? '';
  return configured === '' ? defaultAmqpUrl : configured;
}

/** Resolves once a TCP connection to host:port succeeds; an ExampleFailure telling what to do otherwise. */
async function checkReachable(host: string, port: number, what: string, variable: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connectSocket({ host, port, timeout: reachTimeoutMs });
    const fail = (reason: string): void => {
      socket.destroy();
      reject(new ExampleFailure(`cannot reach the ${what} at ${host}:${port} (${reason}): is the broker running? start it with npm start (or point ${variable} at it)`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail(`no answer within ${reachTimeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
  });
}

/** Splits `host:port` (a bracketed IPv6 host allowed). */
function hostAndPort(address: string, defaultPort: number): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(address);
  if (match === null || match[1] === undefined) throw new ExampleFailure(`cannot read the address '${address}' (expected host:port)`);
  return { host: match[1], port: match[2] === undefined ? defaultPort : Number(match[2]) };
}

/** Checks that the first Kafka bootstrap server answers, so a client does not retry for long first. */
export async function checkKafkaReachable(): Promise<void> {
  const [first] = kafkaBrokers();
  const { host, port } = hostAndPort(first ?? defaultKafkaBrokers, 9092);
  await checkReachable(host, port, 'Kafka listener', 'OSPREY_BROKERS');
}

/** An amqplib connection to amqpUrl(), after checking that something listens there. */
export async function connectAmqp(): Promise<ChannelModel> {
  const url = new URL(amqpUrl());
  const defaultPort = url.protocol === 'amqps:' ? 5671 : 5672;
  await checkReachable(url.hostname.replace(/^\[|\]$/g, ''), url.port === '' ? defaultPort : Number(url.port), 'AMQP listener', 'OSPREY_AMQP_URL');
  return amqp.connect(url.href, { timeout: reachTimeoutMs });
}

/** Resolves once `condition` holds; an ExampleFailure naming `what` after timeoutMs. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new ExampleFailure(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollIntervalMs);
  }
}

/** Throws an ExampleFailure with `message` unless `condition` holds. */
export function expect(condition: boolean, message: string): void {
  if (!condition) throw new ExampleFailure(message);
}

/** Milliseconds since `startMs` (from performance.now()), rounded for printing. */
export function elapsedMs(startMs: number): number {
  return Math.round(performance.now() - startMs);
}

/**
 * Runs an example's main function: exit code 0 when it completes, 1 with one line on stderr when it
 * throws. Clients sometimes leave timers behind after closing; the process ends anyway, shortly after.
 */
export function runExample(name: string, main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode = 0;
      setTimeout(() => process.exit(), exitGraceMs).unref();
    },
    (error: unknown) => {
      const message = error instanceof ExampleFailure ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`${name}: ${message}\n`);
      process.exitCode = 1;
      // Connections left open by the failure must not keep the process alive.
      setTimeout(() => process.exit(), exitGraceMs).unref();
    },
  );
}
