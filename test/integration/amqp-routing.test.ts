/**
 * Exchanges over AMQP 0-9-1 with amqplib against a real broker process: the default exchange,
 * direct, fanout, topic and headers routing, exchange-to-exchange bindings, alternate exchanges,
 * internal exchanges, mandatory publishes that come back as basic.return, and the declare rules
 * (passive, reserved names, redeclaring with other properties) with RabbitMQ's reply codes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelModel, Message } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';

let broker: BrokerProcess;
let connection: ChannelModel;

before(async () => {
  broker = await startBrokerProcess();
  connection = await connectAmqp(broker);
});

after(async () => {
  await connection?.close();
  await broker?.stop();
});

/** Declares a fresh exclusive server-named queue bound to `exchange` with each key; returns its name. */
async function boundQueue(channel: Awaited<ReturnType<typeof openChannel>>, exchange: string, keys: readonly string[], args?: Record<string, unknown>): Promise<string> {
  const { queue } = await channel.assertQueue('', { exclusive: true });
  for (const key of keys) await channel.bindQueue(queue, exchange, key, args);
  return queue;
}

/** Publishes each key with its body = key, then reads which bodies each queue got (via basic.get). */
async function drain(channel: Awaited<ReturnType<typeof openChannel>>, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return bodies;
    bodies.push(message.content.toString());
  }
}

test('the default exchange routes by queue name; direct exchanges by exact routing key', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  assert.match(queue, /^amq\.gen-/);
  channel.sendToQueue(queue, Buffer.from('by name'));
  await channel.assertExchange('logs-direct', 'direct', { durable: false });
  const errors = await boundQueue(channel, 'logs-direct', ['error']);
  const all = await boundQueue(channel, 'logs-direct', ['error', 'info', 'warning']);
  for (const key of ['info', 'error', 'debug', 'warning']) channel.publish('logs-direct', key, Buffer.from(key));
  await sleep(200);
  assert.deepEqual(await drain(channel, queue), ['by name']);
  assert.deepEqual(await drain(channel, errors), ['error']);
  assert.deepEqual(await drain(channel, all), ['info', 'error', 'warning']);
  await channel.close();
});

test('fanout copies every message to every bound queue', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('news', 'fanout', { durable: false });
  const first = await boundQueue(channel, 'news', ['']);
  const second = await boundQueue(channel, 'news', ['ignored']);
  for (let index = 0; index < 5; index++) channel.publish('news', `key-${index}`, Buffer.from(`m${index}`));
  await sleep(200);
  const expected = ['m0', 'm1', 'm2', 'm3', 'm4'];
  assert.deepEqual(await drain(channel, first), expected);
  assert.deepEqual(await drain(channel, second), expected);
  await channel.close();
});

test('topic exchanges match * as one word and # as zero or more', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('topic-logs', 'topic', { durable: false });
  const kernel = await boundQueue(channel, 'topic-logs', ['kern.*']);
  const critical = await boundQueue(channel, 'topic-logs', ['*.critical']);
  const everything = await boundQueue(channel, 'topic-logs', ['#']);
  const deep = await boundQueue(channel, 'topic-logs', ['a.#.z']);
  const keys = ['kern.critical', 'kern.info', 'cron.critical', 'kern', 'kern.info.more', 'a.z', 'a.b.c.z', 'a.b.c'];
  for (const key of keys) channel.publish('topic-logs', key, Buffer.from(key));
  await sleep(200);
  assert.deepEqual(await drain(channel, kernel), ['kern.critical', 'kern.info']);
  assert.deepEqual(await drain(channel, critical), ['kern.critical', 'cron.critical']);
  assert.deepEqual(await drain(channel, everything), keys);
  assert.deepEqual(await drain(channel, deep), ['a.z', 'a.b.c.z']);
  await channel.close();
});

test('headers exchanges match all or any of the binding headers', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('by-headers', 'headers', { durable: false });
  const all = await boundQueue(channel, 'by-headers', [''], { 'x-match': 'all', format: 'pdf', type: 'report' });
  const any = await boundQueue(channel, 'by-headers', [''], { 'x-match': 'any', format: 'pdf', type: 'report' });
  channel.publish('by-headers', '', Buffer.from('both'), { headers: { format: 'pdf', type: 'report' } });
  channel.publish('by-headers', '', Buffer.from('format only'), { headers: { format: 'pdf', type: 'log' } });
  channel.publish('by-headers', '', Buffer.from('neither'), { headers: { format: 'zip' } });
  await sleep(200);
  assert.deepEqual(await drain(channel, all), ['both']);
  assert.deepEqual(await drain(channel, any), ['both', 'format only']);
  await channel.close();
});

test('exchange-to-exchange bindings and alternate exchanges carry messages on', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('upstream', 'topic', { durable: false });
  await channel.assertExchange('downstream', 'fanout', { durable: false });
  await channel.bindExchange('downstream', 'upstream', 'orders.#');
  const copies = await boundQueue(channel, 'downstream', ['']);
  await channel.assertExchange('unrouted', 'fanout', { durable: false });
  const leftovers = await boundQueue(channel, 'unrouted', ['']);
  await channel.assertExchange('with-alternate', 'direct', { durable: false, alternateExchange: 'unrouted' });
  const routed = await boundQueue(channel, 'with-alternate', ['known']);
  channel.publish('upstream', 'orders.eu.created', Buffer.from('order'));
  channel.publish('upstream', 'payments.eu', Buffer.from('payment'));
  channel.publish('with-alternate', 'known', Buffer.from('known'));
  channel.publish('with-alternate', 'unknown', Buffer.from('unknown'));
  await sleep(200);
  assert.deepEqual(await drain(channel, copies), ['order']);
  assert.deepEqual(await drain(channel, routed), ['known']);
  assert.deepEqual(await drain(channel, leftovers), ['unknown']);
  await channel.unbindExchange('downstream', 'upstream', 'orders.#');
  channel.publish('upstream', 'orders.us', Buffer.from('after unbind'));
  await sleep(100);
  assert.deepEqual(await drain(channel, copies), []);
  await channel.close();
});

test('a mandatory publish that routes nowhere comes back as basic.return with NO_ROUTE', async () => {
  const channel = await connection.createConfirmChannel();
  const returned: Message[] = [];
  channel.on('return', (message: Message) => returned.push(message));
  await channel.assertExchange('nowhere', 'direct', { durable: false });
  await new Promise<void>((resolve, reject) => channel.publish('nowhere', 'no-binding', Buffer.from('lost?'), { mandatory: true, messageId: 'm-1' }, (error: unknown) => (error ? reject(error) : resolve())));
  channel.publish('nowhere', 'no-binding', Buffer.from('not mandatory'));
  await channel.waitForConfirms();
  assert.equal(returned.length, 1);
  assert.equal(returned[0]!.content.toString(), 'lost?');
  assert.equal(returned[0]!.fields.exchange, 'nowhere');
  assert.equal(returned[0]!.fields.routingKey, 'no-binding');
  assert.equal(returned[0]!.properties.messageId, 'm-1');
  assert.equal((returned[0]!.fields as unknown as { replyCode: number }).replyCode, 312);
  await channel.close();
});

test('declare rules: passive, reserved names, inequivalent redeclare, internal exchanges, unknown exchange', async () => {
  const expectClose = async (action: (channel: Awaited<ReturnType<typeof openChannel>>) => Promise<unknown>, code: number, text: RegExp): Promise<void> => {
    const channel = await openChannel(connection);
    await assert.rejects(action(channel), (error: Error & { code?: number }) => {
      assert.equal(error.code, code, error.message);
      assert.match(error.message, text);
      return true;
    });
  };
  await expectClose((channel) => channel.checkExchange('no-such-exchange'), 404, /NOT_FOUND - no exchange 'no-such-exchange' in vhost '\/'/);
  await expectClose((channel) => channel.checkQueue('no-such-queue'), 404, /NOT_FOUND - no queue 'no-such-queue' in vhost '\/'/);
  await expectClose((channel) => channel.assertExchange('amq.mine', 'direct'), 403, /ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq\.\*'/);
  await expectClose((channel) => channel.assertQueue('amq.mine'), 403, /ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix/);
  const setup = await openChannel(connection);
  await setup.assertExchange('typed', 'direct', { durable: false });
  await setup.assertQueue('shaped', { durable: false, autoDelete: false });
  await setup.assertExchange('inner', 'fanout', { durable: false, internal: true });
  await setup.close();
  await expectClose((channel) => channel.assertExchange('typed', 'fanout', { durable: false }), 406, /inequivalent arg 'type' for exchange 'typed' in vhost '\/': received 'fanout' but current is 'direct'/);
  await expectClose((channel) => channel.assertQueue('shaped', { durable: true }), 406, /inequivalent arg 'durable' for queue 'shaped'/);
  await expectClose((channel) => channel.bindQueue('shaped', '', 'shaped'), 403, /operation not permitted on the default exchange/);
  await expectClose(async (channel) => {
    channel.publish('inner', '', Buffer.from('x'));
    await channel.assertQueue('', { exclusive: true }); // the close arrives before this answer
  }, 403, /ACCESS_REFUSED - cannot publish to internal exchange 'inner'/);
  await expectClose(async (channel) => {
    channel.publish('missing-exchange', '', Buffer.from('x'));
    await channel.assertQueue('', { exclusive: true });
  }, 404, /NOT_FOUND - no exchange 'missing-exchange'/);
  // The connection outlived every channel error.
  const channel = await openChannel(connection);
  await channel.checkExchange('amq.topic');
  await channel.close();
});

test('routing stays right with thousands of topic bindings', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('many-topics', 'topic', { durable: false });
  const { queue: target } = await channel.assertQueue('', { exclusive: true });
  const { queue: other } = await channel.assertQueue('', { exclusive: true });
  const bindings: Promise<unknown>[] = [];
  for (let index = 0; index < 3000; index++) bindings.push(channel.bindQueue(index === 1234 ? target : other, 'many-topics', `region${index}.*.orders`));
  await Promise.all(bindings);
  channel.publish('many-topics', 'region1234.eu.orders', Buffer.from('hit'));
  channel.publish('many-topics', 'region1234.eu.refunds', Buffer.from('miss'));
  const [message] = await receive(channel, target, 1);
  assert.equal(message!.content.toString(), 'hit');
  assert.deepEqual(await drain(channel, other), []);
  await channel.close();
});
