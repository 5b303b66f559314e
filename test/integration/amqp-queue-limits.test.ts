/**
 * Queues that protect what is behind them, with amqplib against a real broker process, as RabbitMQ
 * behaves: x-max-length(-bytes) with each overflow behaviour, message TTL (queue and per message),
 * dead-lettering with x-death, delivery limits with x-delivery-count, single active consumer,
 * x-expires, argument checks; and each of them across a restart (graceful and kill -9).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { waitUntil } from '../helpers/waiting.js';

/** Publishes on a confirm channel; true when acked, false when nacked. */
function publishConfirmed(channel: ConfirmChannel, exchange: string, routingKey: string, body: string, options: Parameters<Channel['publish']>[3] = {}): Promise<boolean> {
  return new Promise((resolve) => {
    channel.publish(exchange, routingKey, Buffer.from(body), { persistent: true, ...options }, (error: unknown) => resolve(error === null || error === undefined));
  });
}

interface Death {
  readonly count: number;
  readonly reason: string;
  readonly queue: string;
  readonly exchange: string;
  readonly 'routing-keys': string[];
  readonly 'original-expiration'?: string;
  readonly time?: unknown;
}

function deathsOf(message: ConsumeMessage): Death[] {
  return (message.properties.headers?.['x-death'] ?? []) as Death[];
}

async function withBroker(run: (broker: BrokerProcess, connection: ChannelModel) => Promise<void>): Promise<void> {
  const broker = await startBrokerProcess();
  const connection = await connectAmqp(broker);
  try {
    await run(broker, connection);
  } finally {
    await connection.close().catch(() => undefined);
    await broker.stop();
  }
}

test('x-max-length with drop-head: the oldest go, dead-lettered with reason maxlen and x-death as RabbitMQ writes it', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertExchange('dlx', 'fanout', { durable: true });
    await channel.assertQueue('dead', { durable: true });
    await channel.bindQueue('dead', 'dlx', '');
    await channel.assertQueue('recent', { durable: true, arguments: { 'x-max-length': 3, 'x-dead-letter-exchange': 'dlx' } });
    const publisher = await connection.createConfirmChannel();
    for (let index = 1; index <= 5; index++) assert.equal(await publishConfirmed(publisher, '', 'recent', `m${index}`), true);
    await waitUntil(async () => (await channel.checkQueue('recent')).messageCount === 3, 'the queue trimmed to 3');
    const kept = await receive(channel, 'recent', 3);
    assert.deepEqual(kept.map((message) => message.content.toString()), ['m3', 'm4', 'm5']);
    const dead = await receive(channel, 'dead', 2);
    assert.deepEqual(dead.map((message) => message.content.toString()), ['m1', 'm2']);
    const [death] = deathsOf(dead[0]!);
    assert.equal(deathsOf(dead[0]!).length, 1);
    assert.equal(death!.reason, 'maxlen');
    assert.equal(death!.queue, 'recent');
    assert.equal(death!.exchange, '');
    assert.deepEqual(death!['routing-keys'], ['recent']);
    assert.equal(Number(death!.count), 1);
    assert.ok(death!.time !== undefined, 'x-death has a time');
    const headers = dead[0]!.properties.headers!;
    assert.equal(headers['x-first-death-queue'], 'recent');
    assert.equal(headers['x-first-death-reason'], 'maxlen');
    assert.equal(headers['x-first-death-exchange'], '');
    assert.equal(dead[0]!.fields.exchange, 'dlx');
    assert.equal(dead[0]!.fields.routingKey, 'recent', 'the original routing key when no dead-letter routing key is set');
    channel.ackAll();
  });
});

test('reject-publish: a confirming publisher gets exactly max-length acks and a nack for every other message', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('sale', { durable: true, arguments: { 'x-max-length': 100, 'x-overflow': 'reject-publish' } });
    await channel.assertQueue('sale-bytes', { durable: true, arguments: { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' } });
    const publisher = await connection.createConfirmChannel();
    const outcomes = await Promise.all(Array.from({ length: 1000 }, (_, index) => publishConfirmed(publisher, '', 'sale', `order-${index}`)));
    assert.equal(outcomes.filter(Boolean).length, 100);
    assert.deepEqual(outcomes.slice(0, 100), new Array(100).fill(true), 'the first 100 are the ones taken');
    assert.equal((await channel.checkQueue('sale')).messageCount, 100);
    // Bytes: 4 + 4 fit in 10, the third 4 would not.
    const byBytes = [];
    for (const body of ['aaaa', 'bbbb', 'cccc', 'dd']) byBytes.push(await publishConfirmed(publisher, '', 'sale-bytes', body));
    assert.deepEqual(byBytes, [true, true, false, true]);
    // A consumer frees room: publishes are taken again.
    const [first] = await receive(channel, 'sale', 1);
    channel.ack(first!);
    assert.equal(await publishConfirmed(publisher, '', 'sale', 'late'), true);
  });
});

test('reject-publish-dlx: refused publishes are nacked and dead-lettered', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('overflow', { durable: true });
    await channel.assertQueue('small', { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'overflow' } });
    const publisher = await connection.createConfirmChannel();
    assert.deepEqual([await publishConfirmed(publisher, '', 'small', 'one'), await publishConfirmed(publisher, '', 'small', 'two')], [true, false]);
    const [dead] = await receive(channel, 'overflow', 1);
    assert.equal(dead!.content.toString(), 'two');
    assert.equal(deathsOf(dead!)[0]!.reason, 'maxlen');
    assert.equal(dead!.fields.routingKey, 'overflow');
    channel.ackAll();
  });
});

test('message TTL: expired messages leave without a consumer, dead-lettered with reason expired; per-message expiration too', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('expired', { durable: true });
    await channel.assertQueue('short-lived', { durable: true, arguments: { 'x-message-ttl': 150, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'expired' } });
    await channel.assertQueue('own-expiry', { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'expired' } });
    const publisher = await connection.createConfirmChannel();
    await publishConfirmed(publisher, '', 'short-lived', 'by-queue-ttl');
    await publishConfirmed(publisher, '', 'own-expiry', 'by-expiration', { expiration: '100' });
    await publishConfirmed(publisher, '', 'own-expiry', 'forever');
    assert.equal((await channel.checkQueue('short-lived')).messageCount, 1, 'not expired yet');
    await waitUntil(async () => (await channel.checkQueue('short-lived')).messageCount === 0 && (await channel.checkQueue('own-expiry')).messageCount === 1, 'expiry without consumers');
    const dead = await receive(channel, 'expired', 2);
    const byBody = new Map(dead.map((message) => [message.content.toString(), message]));
    assert.equal(deathsOf(byBody.get('by-queue-ttl')!)[0]!.reason, 'expired');
    assert.equal(deathsOf(byBody.get('by-queue-ttl')!)[0]!.queue, 'short-lived');
    const ownExpiry = byBody.get('by-expiration')!;
    assert.equal(deathsOf(ownExpiry)[0]!['original-expiration'], '100');
    assert.equal(ownExpiry.properties.expiration, undefined, 'the expiration property is removed');
    channel.ackAll();
    // A bad expiration closes the channel with 406.
    const bad = await openChannel(connection);
    bad.publish('', 'own-expiry', Buffer.from('x'), { expiration: 'soon' });
    await waitUntil(() => bad.closedWith !== null, 'the channel closed');
    assert.match(bad.closedWith!.message, /406.*invalid expiration 'soon'/);
  });
});

test('x-message-ttl 0: delivered to a waiting consumer, dropped when none can take it', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('now-or-never', { durable: true, arguments: { 'x-message-ttl': 0 } });
    channel.sendToQueue('now-or-never', Buffer.from('unseen'));
    await waitUntil(async () => (await channel.checkQueue('now-or-never')).messageCount === 0, 'the message dropped');
    const received: string[] = [];
    await channel.consume('now-or-never', (message) => message !== null && received.push(message.content.toString()), { noAck: true });
    const publisher = await openChannel(connection);
    for (let index = 0; index < 5; index++) publisher.sendToQueue('now-or-never', Buffer.from(`seen-${index}`));
    await waitUntil(() => received.length === 5, 'deliveries to the waiting consumer');
    assert.deepEqual(received, ['seen-0', 'seen-1', 'seen-2', 'seen-3', 'seen-4']);
  });
});

test('rejected messages are dead-lettered with reason rejected, to the dead-letter routing key', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertExchange('retry', 'direct', { durable: true });
    await channel.assertQueue('parking', { durable: true });
    await channel.bindQueue('parking', 'retry', 'parked');
    await channel.assertQueue('work', { durable: true, arguments: { 'x-dead-letter-exchange': 'retry', 'x-dead-letter-routing-key': 'parked' } });
    channel.sendToQueue('work', Buffer.from('bad'), { persistent: true, headers: { attempt: 1 } });
    const [message] = await receive(channel, 'work', 1);
    channel.nack(message!, false, false);
    const [parked] = await receive(channel, 'parking', 1);
    assert.equal(parked!.content.toString(), 'bad');
    assert.equal(parked!.fields.routingKey, 'parked');
    assert.equal(parked!.properties.headers!['attempt'], 1, 'other headers are kept');
    assert.equal(deathsOf(parked!)[0]!.reason, 'rejected');
    assert.equal((await channel.checkQueue('work')).messageCount, 0);
    // Retry loop: parking dead-letters back to work on reject, which is allowed (a client's decision).
    channel.ackAll();
  });
});

test('x-delivery-limit: deliveries carry x-delivery-count; past the limit the message is dead-lettered (delivery_limit)', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('poison', { durable: true });
    await channel.assertQueue('jobs', { durable: true, arguments: { 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'poison' } });
    channel.sendToQueue('jobs', Buffer.from('crashes-the-worker'), { persistent: true });
    const counts: Array<unknown> = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const [message] = await receive(channel, 'jobs', 1);
      counts.push(message!.properties.headers?.['x-delivery-count']);
      channel.nack(message!, false, true);
    }
    assert.deepEqual(counts, [undefined, 1, 2]);
    const [dead] = await receive(channel, 'poison', 1);
    assert.equal(deathsOf(dead!)[0]!.reason, 'delivery_limit');
    assert.equal((await channel.checkQueue('jobs')).messageCount, 0);
    channel.ackAll();
  });
});

test('a dead-letter cycle without rejections ends: a message expiring back into its own queue is dropped', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('loop', { durable: true, arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '' } });
    channel.sendToQueue('loop', Buffer.from('round and round'));
    await waitUntil(async () => (await channel.checkQueue('loop')).messageCount === 0, 'the message gone');
    await sleep(300);
    assert.equal((await channel.checkQueue('loop')).messageCount, 0, 'it did not come back');
  });
});

test('single active consumer: one consumer gets everything until it goes, then the next takes over', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    await channel.assertQueue('ordered', { durable: true, arguments: { 'x-single-active-consumer': true } });
    const first: string[] = [];
    const second: string[] = [];
    const { consumerTag } = await channel.consume('ordered', (message) => message !== null && first.push(message.content.toString()), { noAck: true });
    const other = await openChannel(connection);
    await other.consume('ordered', (message) => message !== null && second.push(message.content.toString()), { noAck: true });
    for (let index = 0; index < 10; index++) channel.sendToQueue('ordered', Buffer.from(`a${index}`));
    await waitUntil(() => first.length === 10, 'all to the first consumer');
    assert.equal(second.length, 0);
    await channel.cancel(consumerTag);
    for (let index = 0; index < 5; index++) channel.sendToQueue('ordered', Buffer.from(`b${index}`));
    await waitUntil(() => second.length === 5, 'the second consumer took over');
    assert.equal(first.length, 10);
  });
});

test('x-expires: an unused queue is deleted after its time; one with a consumer stays', async () => {
  await withBroker(async (_broker, connection) => {
    const channel = await openChannel(connection);
    // Checked at once, 1.5 s ahead of its expiry: a margin a busy machine does not eat up.
    await channel.assertQueue('temporary', { arguments: { 'x-expires': 1500 } });
    await channel.checkQueue('temporary'); // still there
    await channel.assertQueue('watched', { arguments: { 'x-expires': 1500 } });
    const watchedDeclaredAtMs = Date.now();
    await channel.consume('watched', () => undefined);
    await waitUntil(async () => {
      const probe = await openChannel(connection);
      try {
        await probe.checkQueue('temporary');
        await probe.close();
        return false;
      } catch {
        return probe.closedWith !== null && /NOT_FOUND/.test(probe.closedWith.message);
      }
    }, 'the unused queue deleted');
    // Past its own x-expires too: it would be gone by now, were its consumer not counted as use.
    await sleep(Math.max(0, watchedDeclaredAtMs + 1500 + 300 - Date.now()));
    assert.equal((await channel.checkQueue('watched')).consumerCount, 1);
  });
});

test('bad queue arguments are refused with 406 and RabbitMQ\'s texts', async () => {
  await withBroker(async (_broker, connection) => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ 'x-max-length': -1 }, /invalid arg 'x-max-length' for queue 'q' in vhost '\/': \{value_negative,-1\}/],
      [{ 'x-overflow': 'explode' }, /invalid arg 'x-overflow'/],
      [{ 'x-message-ttl': 'soon' }, /invalid arg 'x-message-ttl' .*unacceptable_type/],
      [{ 'x-dead-letter-routing-key': 'k' }, /routing_key_but_no_dlx_defined/],
      [{ 'x-max-priority': 256 }, /invalid arg 'x-max-priority'/],
      [{ 'x-queue-type': 'quorum' }, /invalid property 'non-durable'/],
    ];
    for (const [args, expected] of cases) {
      const channel = await openChannel(connection);
      await assert.rejects(channel.assertQueue('q', { durable: false, arguments: args }), expected);
      assert.match(channel.closedWith!.message, /406/);
    }
  });
});

test('limits, TTL and delivery counts survive a graceful restart and a kill -9', async () => {
  let broker = await startBrokerProcess();
  let connection = await connectAmqp(broker);
  let channel = await openChannel(connection);
  await channel.assertQueue('later', { durable: true });
  await channel.assertQueue('capped', { durable: true, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
  await channel.assertQueue('ttl', { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'later' } });
  await channel.assertQueue('counted', { durable: true, arguments: { 'x-delivery-limit': 5 } });
  let publisher = await connection.createConfirmChannel();
  assert.deepEqual([await publishConfirmed(publisher, '', 'capped', '1'), await publishConfirmed(publisher, '', 'capped', '2'), await publishConfirmed(publisher, '', 'capped', '3')], [true, true, false]);
  await publishConfirmed(publisher, '', 'ttl', 'expires-while-down', { expiration: '700' });
  await publishConfirmed(publisher, '', 'counted', 'returned-twice');
  for (let attempt = 0; attempt < 2; attempt++) {
    const [message] = await receive(channel, 'counted', 1);
    channel.nack(message!, false, true);
  }
  await sleep(300); // the state log writes the return counts within a turn; give it several
  await connection.close();
  broker = await broker.restart({ port: 'any' });

  connection = await connectAmqp(broker);
  channel = await openChannel(connection);
  publisher = await connection.createConfirmChannel();
  assert.equal(await publishConfirmed(publisher, '', 'capped', '4'), false, 'the limit holds after a restart');
  const [counted] = await receive(channel, 'counted', 1);
  assert.equal(Number(counted!.properties.headers!['x-delivery-count']), 2, 'the return count survived');
  channel.nack(counted!, false, true);
  await sleep(300);
  connection.on('error', () => undefined);
  await broker.kill9();
  broker = await broker.restart({ port: 'any' });

  connection = await connectAmqp(broker);
  channel = await openChannel(connection);
  const [expired] = await receive(channel, 'later', 1, { timeoutMs: 5000 });
  assert.equal(expired!.content.toString(), 'expires-while-down');
  assert.equal(deathsOf(expired!)[0]!.reason, 'expired');
  const [again] = await receive(channel, 'counted', 1);
  assert.equal(Number(again!.properties.headers!['x-delivery-count']), 3, 'counts survive a kill -9');
  publisher = await connection.createConfirmChannel();
  assert.equal(await publishConfirmed(publisher, '', 'capped', '5'), false);
  channel.ackAll();
  await sleep(100);
  await connection.close();
  await broker.stop();
});
