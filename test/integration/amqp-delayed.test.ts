/**
 * Delayed delivery (x-delayed-message exchanges, as RabbitMQ's delayed-message-exchange plugin
 * has them) with amqplib against real broker processes: messages come out in the order of their
 * due time, routed like the x-delayed-type to the queues bound when they fall due, with x-delay
 * negated; confirms wait for the disk; held messages survive a graceful restart and kill -9, and
 * one whose time passed while the broker was down is routed at start-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ConsumeMessage } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { waitUntil } from '../helpers/waiting.js';

const delayed = (routingType: string) => ({ durable: true, arguments: { 'x-delayed-type': routingType } });

/** Collects what arrives on `queue` (acked), with the time it arrived. */
async function collect(channel: Channel, queue: string): Promise<Array<{ message: ConsumeMessage; atMs: number }>> {
  const arrived: Array<{ message: ConsumeMessage; atMs: number }> = [];
  await channel.consume(queue, (message) => {
    if (message === null) return;
    arrived.push({ message, atMs: Date.now() });
    channel.ack(message);
  });
  return arrived;
}

async function adminExchange(broker: BrokerProcess, name: string): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}/api/exchanges/%2F/${encodeURIComponent(name)}`);
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

test('delayed messages are routed in the order of their due time, to the queues bound by then, x-delay negated', async () => {
  const broker = await startBrokerProcess();
  const connection = await connectAmqp(broker);
  const channel = await openChannel(connection);
  await channel.assertExchange('later', 'x-delayed-message', delayed('direct'));
  await channel.assertQueue('jobs', { durable: true });
  await channel.bindQueue('jobs', 'later', 'job');
  const returned: string[] = [];
  channel.on('return', (message: ConsumeMessage) => returned.push(message.content.toString()));
  const publishedAtMs = Date.now();
  channel.publish('later', 'job', Buffer.from('slow'), { headers: { 'x-delay': 2500 }, mandatory: true });
  channel.publish('later', 'job', Buffer.from('fast'), { headers: { 'x-delay': 1500 } });
  channel.publish('later', 'job', Buffer.from('now'), { headers: { 'x-delay': 0 } });
  channel.publish('later', 'job', Buffer.from('no header'));
  // Bound after the publish: it gets what falls due after it is bound (the delays leave a loaded
  // machine well over a second for these two calls).
  await channel.assertQueue('audit', { durable: true });
  await channel.bindQueue('audit', 'later', 'job');
  const arrived = await collect(channel, 'jobs');
  await waitUntil(() => arrived.length === 4, '4 messages in jobs', 10_000);
  assert.deepEqual(arrived.map(({ message }) => message.content.toString()), ['now', 'no header', 'fast', 'slow']);
  const [, , fast, slow] = arrived;
  assert.ok(fast!.atMs - publishedAtMs >= 1490, `fast came after ${fast!.atMs - publishedAtMs} ms`);
  assert.ok(slow!.atMs - publishedAtMs >= 2490, `slow came after ${slow!.atMs - publishedAtMs} ms`);
  assert.equal(fast!.message.properties.headers?.['x-delay'], -1500);
  assert.equal(slow!.message.properties.headers?.['x-delay'], -2500);
  assert.equal(arrived[0]!.message.properties.headers?.['x-delay'], 0, 'not held: the header is as published');
  assert.equal(fast!.message.fields.exchange, 'later');
  const audit = await receive(channel, 'audit', 2);
  assert.deepEqual(audit.map((message) => message.content.toString()), ['fast', 'slow']);
  channel.ackAll();
  assert.deepEqual(returned, [], 'mandatory does not apply to a held message');
  assert.equal((await adminExchange(broker, 'later'))['messages_delayed'], 0);
  await connection.close();
  await broker.stop();
});

test('x-delayed-type topic routes like a topic exchange; x-delayed-type is required and must be a routing type', async () => {
  const broker = await startBrokerProcess();
  const connection = await connectAmqp(broker);
  const channel = await openChannel(connection);
  await channel.assertExchange('reminders', 'x-delayed-message', delayed('topic'));
  await channel.assertQueue('eu', { durable: false });
  await channel.bindQueue('eu', 'reminders', 'eu.#');
  channel.publish('reminders', 'us.pay', Buffer.from('us'), { headers: { 'x-delay': 100 } });
  channel.publish('reminders', 'eu.pay.late', Buffer.from('eu-late'), { headers: { 'x-delay': '300' } });
  channel.publish('reminders', 'eu.pay', Buffer.from('eu'), { headers: { 'x-delay': 150.7 } });
  const arrived = await receive(channel, 'eu', 2);
  assert.deepEqual(arrived.map((message) => message.content.toString()), ['eu', 'eu-late']);
  assert.equal(arrived[0]!.properties.headers?.['x-delay'], -150, 'a float delay is truncated');
  channel.ackAll();
  await channel.checkExchange('reminders');

  const missing = await openChannel(connection);
  await assert.rejects(missing.assertExchange('broken', 'x-delayed-message', { durable: true }), /PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' is required/);
  const unknown = await openChannel(connection);
  await assert.rejects(unknown.assertExchange('broken', 'x-delayed-message', { arguments: { 'x-delayed-type': 'x-delayed-message' } }), /PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type/);
  const other = await openChannel(connection);
  await assert.rejects(other.assertExchange('reminders', 'x-delayed-message', delayed('direct')), /PRECONDITION_FAILED - inequivalent arg 'x-delayed-type'/);
  await connection.close();
  await broker.stop();
});

test('held messages: confirmed once on disk, kept across a graceful restart and kill -9, routed at start-up when due while down; deleting the exchange drops them', async () => {
  let broker = await startBrokerProcess();
  let connection = await connectAmqp(broker);
  const setup = await openChannel(connection);
  await setup.assertExchange('timer', 'x-delayed-message', delayed('fanout'));
  await setup.assertQueue('fired', { durable: true });
  await setup.bindQueue('fired', 'timer', '');
  const confirm = await connection.createConfirmChannel();
  // Due while the broker is down, and due after it is back.
  confirm.publish('timer', '', Buffer.from('during-downtime'), { persistent: true, headers: { 'x-delay': 500 } });
  confirm.publish('timer', '', Buffer.from('after-restart'), { persistent: true, headers: { 'x-delay': 6000 } });
  confirm.publish('timer', '', Buffer.from('transient'), { persistent: false, headers: { 'x-delay': 500 } });
  await confirm.waitForConfirms();
  assert.equal((await adminExchange(broker, 'timer'))['messages_delayed'], 3);
  await connection.close();
  await broker.stop();
  assert.equal((await readdir(join(broker.dataDir, 'amqp', 'delayed'))).length, 1, 'one folder for the durable delayed exchange');
  await sleep(600);

  broker = await broker.restart();
  connection = await connectAmqp(broker);
  connection.on('error', () => undefined); // killed below
  let channel = await openChannel(connection);
  const first = await receive(channel, 'fired', 1);
  assert.equal(first[0]!.content.toString(), 'during-downtime');
  channel.ackAll();
  assert.equal((await adminExchange(broker, 'timer'))['messages_delayed'], 1, 'the transient one went at the restart');
  const crashConfirm = await connection.createConfirmChannel();
  crashConfirm.on('error', () => undefined);
  crashConfirm.publish('timer', '', Buffer.from('across-crash'), { persistent: true, headers: { 'x-delay': 400 } });
  await crashConfirm.waitForConfirms();
  await sleep(100);
  await broker.kill9();
  await sleep(400);

  broker = await broker.restart();
  connection = await connectAmqp(broker);
  channel = await openChannel(connection);
  const rest = await receive(channel, 'fired', 2, { timeoutMs: 15_000 });
  assert.deepEqual(rest.map((message) => message.content.toString()), ['across-crash', 'after-restart']);
  channel.ackAll();

  // Deleting the exchange drops what it holds.
  const publisher = await connection.createConfirmChannel();
  publisher.publish('timer', '', Buffer.from('never'), { persistent: true, headers: { 'x-delay': 300 } });
  await publisher.waitForConfirms();
  await channel.deleteExchange('timer');
  await channel.assertExchange('timer', 'x-delayed-message', delayed('fanout'));
  await channel.bindQueue('fired', 'timer', '');
  await sleep(600);
  assert.equal((await channel.checkQueue('fired')).messageCount, 0);
  assert.equal((await adminExchange(broker, 'timer'))['messages_delayed'], 0);
  await connection.close();
  await broker.stop();
});

test('past amqp.maxDelayedMessages a delayed publish is nacked; routing now is not limited', async () => {
  const broker = await startBrokerProcess({ args: ['--amqp.max-delayed-messages', '2'] });
  const connection = await connectAmqp(broker);
  const setup = await openChannel(connection);
  await setup.assertExchange('few', 'x-delayed-message', delayed('direct'));
  await setup.assertQueue('out', { durable: true });
  await setup.bindQueue('out', 'few', 'k');
  const confirm = await connection.createConfirmChannel();
  const outcomes = await Promise.all(
    ['one', 'two', 'three'].map(
      (body) =>
        new Promise<string>((resolve) => {
          confirm.publish('few', 'k', Buffer.from(body), { persistent: true, headers: { 'x-delay': 300 } }, (error) => resolve(error === null || error === undefined ? 'ack' : 'nack'));
        }),
    ),
  );
  assert.deepEqual(outcomes, ['ack', 'ack', 'nack']);
  await new Promise<void>((resolve, reject) => confirm.publish('few', 'k', Buffer.from('direct'), { persistent: true }, (error) => (error ? reject(error) : resolve())));
  const arrived = await receive(setup, 'out', 3);
  assert.deepEqual(arrived.map((message) => message.content.toString()), ['direct', 'one', 'two']);
  setup.ackAll();
  await connection.close();
  await broker.stop();
});
