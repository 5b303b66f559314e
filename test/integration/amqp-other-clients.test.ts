/**
 * RabbitMQ clients written in other languages, unmodified, against a real broker process:
 *
 * - Python's pika 1.2 (Debian's python3-pika) running the six RabbitMQ tutorial scenarios, each a
 *   short program in test/fixtures/amqp-python/ that prints what it saw as one JSON line: work queues
 *   (durable queue, persistent messages across a restart, prefetch 1, manual acks, two competing
 *   workers), publish/subscribe (fanout, exclusive server-named queues), routing (direct), topics
 *   (`*` and `#`), RPC (reply_to, correlation_id) and publisher confirms (UnroutableError for a
 *   mandatory message no queue takes).
 * - The C client librabbitmq through Debian's amqp-tools command-line programs (amqp-declare-queue,
 *   amqp-publish, amqp-get, amqp-consume, amqp-delete-queue), with amqplib reading the properties
 *   amqp-publish set.
 *
 * A missing interpreter, module or program fails the test with the command that installs it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { repositoryRoot, requirePythonModule, requireTool } from '../helpers/tools.js';

const pythonPrograms = join(repositoryRoot(), 'test', 'fixtures', 'amqp-python');
/** Generous for a loaded 2-core machine; a scenario takes a second or two. */
const childTimeoutMs = 60_000;

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess();
});

after(async () => {
  await broker?.stop();
});

function amqpPort(): number {
  assert.ok(broker.amqpPort !== null, 'the broker has an AMQP listener');
  return broker.amqpPort;
}

interface ChildResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Python leaves no __pycache__ beside the programs in the source tree. */
const childEnvironment = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

/** Runs a program to its end; rejects with its output and the broker's log when it fails. */
function run(command: string, args: readonly string[], input?: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const options = { cwd: pythonPrograms, env: childEnvironment, timeout: childTimeoutMs, killSignal: 'SIGKILL' as const };
    const child = execFile(command, args, options, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ stdout, stderr });
        return;
      }
      reject(
        new Error(
          `${command} ${args.join(' ')} failed (${error.message.split('\n')[0]})\n` +
            `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}\n--- broker log (last 4000 characters) ---\n${broker.logs().slice(-4000)}`,
        ),
      );
    });
    // A program that never reads its standard input may exit before we close it: EPIPE then is no
    // failure (what it printed and its exit status are what count).
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/** Runs test/fixtures/amqp-python/<program>.py against the broker; its last stdout line is JSON. */
async function runPython<T>(program: string, ...args: string[]): Promise<T> {
  const python = requirePythonModule('pika', 'python3-pika');
  const { stdout } = await run(python, [join(pythonPrograms, `${program}.py`), String(amqpPort()), ...args]);
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as T;
}

interface WorkerDelivery {
  readonly body: string;
  readonly deliveryMode: number | null;
  readonly redelivered: boolean;
}

test('pika, work queues: persistent tasks in a durable queue survive a restart; prefetch 1 shares them fairly between two workers', async () => {
  assert.deepEqual(await runPython<{ published: number }>('work_queue', 'publish'), { published: 8 });
  broker = await broker.restart({ port: 'any' });

  const result = await runPython<{ slow: WorkerDelivery[]; fast: WorkerDelivery[]; left: number }>('work_queue', 'work');
  const tasks = Array.from({ length: 8 }, (_, index) => `task ${index + 1}`);
  for (const delivery of [...result.slow, ...result.fast]) {
    assert.equal(delivery.deliveryMode, 2, `${delivery.body} is still persistent after the restart`);
    assert.equal(delivery.redelivered, false, `${delivery.body} had never been delivered`);
  }
  // The slow worker consumes first and holds task 1 unacknowledged until all eight have arrived; with
  // prefetch 1 it gets no other meanwhile, so the fast one gets the rest, in queue order. Without the
  // limit the slow one would have been handed all eight at once.
  assert.deepEqual(result.slow.map((delivery) => delivery.body), tasks.slice(0, 1));
  assert.deepEqual(result.fast.map((delivery) => delivery.body), tasks.slice(1));
  assert.equal(result.left, 0, 'every task acknowledged');
});

test('pika, publish/subscribe: a fanout exchange copies every message to each exclusive server-named queue; they go with their connection', async () => {
  const result = await runPython<{ queues: string[]; received: string[][]; passiveDeclareAfterClose: (number | null)[] }>('publish_subscribe');
  assert.equal(result.queues.length, 2);
  for (const queue of result.queues) assert.match(queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
  assert.notEqual(result.queues[0], result.queues[1]);
  const logs = ['log 1', 'log 2', 'log 3'];
  assert.deepEqual(result.received, [logs, logs]);
  assert.deepEqual(result.passiveDeclareAfterClose, [404, 404], 'exclusive queues are deleted when their connection closes');
});

test('pika, routing: a direct exchange delivers by exact key, to every queue bound with it', async () => {
  const result = await runPython<Record<string, string[]>>('routing');
  assert.deepEqual(result, {
    errors: ['error:e1', 'error:e2'],
    all: ['info:i1', 'error:e1', 'warning:w1', 'error:e2'],
  });
});

test('pika, topics: * is one word, # zero or more; two matching bindings of a queue deliver once', async () => {
  const result = await runPython<Record<string, string[]>>('topics');
  assert.deepEqual(result, {
    orange: ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox'],
    rabbitsAndLazy: ['quick.orange.rabbit', 'lazy.orange.elephant', 'lazy.brown.fox', 'lazy.pink.rabbit', 'lazy.orange.male.rabbit', 'lazy'],
    everything: [
      'quick.orange.rabbit',
      'lazy.orange.elephant',
      'quick.orange.fox',
      'lazy.brown.fox',
      'lazy.pink.rabbit',
      'quick.brown.fox',
      'orange',
      'quick.orange.male.rabbit',
      'lazy.orange.male.rabbit',
      'lazy',
      '',
    ],
  });
});

test('pika, RPC: requests carry reply_to and correlation_id; each answer comes back on the callback queue with its id', async () => {
  const result = await runPython<{ callbackQueue: string; calls: [number, string | null][]; answers: number }>('rpc');
  assert.match(result.callbackQueue, /^amq\.gen-/);
  assert.deepEqual(result.calls, [
    [0, '0'],
    [1, '1'],
    [2, '1'],
    [10, '55'],
    [20, '6765'],
  ]);
  assert.equal(result.answers, 5, 'no answer without a matching correlation id');
});

test('pika, publisher confirms: publishes are acked, a mandatory unroutable one raises UnroutableError, a missing exchange closes the channel with 404', async () => {
  const result = await runPython<Record<string, unknown>>('confirms');
  assert.deepEqual(result, {
    confirmedReady: 3,
    unroutable: ['lost'],
    returnReply: [[312, 'NO_ROUTE']],
    afterUnroutable: ['sure 1', 'sure 2', 'sure 3'],
    missingExchange: [404, "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'"],
    channelOpen: false,
  });
});

test('librabbitmq (amqp-tools): declare, publish with properties, get, consume with a count, delete', async () => {
  const connectionArgs = ['--server', '127.0.0.1', '--port', String(amqpPort())];
  const queue = 'amqp-tools-queue';
  const declared = await run(requireTool('amqp-declare-queue'), [...connectionArgs, '--queue', queue, '--durable']);
  assert.equal(declared.stdout.trim(), queue, 'amqp-declare-queue prints the queue name');

  const bodies = ['first message', 'second message', 'third message', 'fourth, with properties'];
  const publish = requireTool('amqp-publish');
  for (const body of bodies.slice(0, 3)) await run(publish, [...connectionArgs, '--routing-key', queue, '--body', body]);
  await run(publish, [
    ...connectionArgs,
    '--routing-key', queue,
    '--persistent',
    '--content-type', 'text/plain',
    '--content-encoding', 'utf-8',
    '--reply-to', 'replies',
    '--header', 'colour: blue',
    '--body', bodies[3]!,
  ]);
  // Several messages from standard input, one per line.
  await run(publish, [...connectionArgs, '--routing-key', queue, '--line-buffered'], 'line one\nline two\n');

  const get = requireTool('amqp-get');
  assert.equal((await run(get, [...connectionArgs, '--queue', queue])).stdout, bodies[0]);
  assert.equal((await run(get, [...connectionArgs, '--queue', queue])).stdout, bodies[1]);

  // amqp-consume runs the command once per message with the body on its standard input; it stops
  // after --count messages (`--` ends its options). The brackets show where each body begins and ends.
  const bracketBody = ['--', 'sh', '-c', 'printf "<"; cat; printf ">"'];
  const consumed = await run(requireTool('amqp-consume'), [...connectionArgs, '--queue', queue, '--count', '1', ...bracketBody]);
  assert.equal(consumed.stdout, `<${bodies[2]}>`);

  // The fourth message's properties, as amqplib (a second, independent client) decodes them.
  const connection = await amqplib.connect(`amqp://127.0.0.1:${amqpPort()}`);
  try {
    const channel = await connection.createChannel();
    const fourth = await channel.get(queue, { noAck: false });
    assert.ok(fourth !== false, 'the fourth message is there');
    assert.equal(fourth.content.toString(), bodies[3]);
    assert.equal(fourth.properties.deliveryMode, 2);
    assert.equal(fourth.properties.contentType, 'text/plain');
    assert.equal(fourth.properties.contentEncoding, 'utf-8');
    assert.equal(fourth.properties.replyTo, 'replies');
    assert.deepEqual(fourth.properties.headers, { colour: 'blue' });
    channel.nack(fourth, false, true);
    await channel.close();
  } finally {
    await connection.close();
  }

  const rest = await run(requireTool('amqp-consume'), [...connectionArgs, '--queue', queue, '--count', '3', ...bracketBody]);
  // amqp-publish --line-buffered keeps each line's newline in the body.
  assert.equal(rest.stdout, `<${bodies[3]}><line one\n><line two\n>`, 'the requeued message first, then the two lines');

  const empty = await run(requireTool('amqp-delete-queue'), [...connectionArgs, '--queue', queue, '--if-empty']);
  assert.equal(empty.stderr, '');
  const gone = await run(requireTool('amqp-declare-queue'), [...connectionArgs, '--queue', queue]).then(
    () => 'declared',
    (error: Error) => error.message,
  );
  assert.equal(gone, 'declared', 'after the delete the name can be declared again, now not durable');
});
