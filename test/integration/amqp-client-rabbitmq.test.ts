/**
 * The project's AMQP client (src/client/amqp) against a real RabbitMQ 3.10 node, with amqplib as a
 * second, independent client where a message crosses from one to the other: handshake and tuning,
 * exchanges, queues and bindings, publishing with confirms (acks and nacks), consuming with prefetch
 * and acks, get, cancel, returns, and every kind of close surfacing as AmqpClosedError.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { connectAmqp } from '../../src/client/amqp/connection.js';
import type { AmqpConnection } from '../../src/client/amqp/connection.js';
import type { AmqpDelivery, AmqpReturnedMessage } from '../../src/client/amqp/channel.js';
import { AmqpClosedError, AmqpNackError } from '../../src/client/amqp/errors.js';
import { startRabbitmqProcess } from '../helpers/rabbitmq-process.js';
import type { RabbitmqProcess } from '../helpers/rabbitmq-process.js';

let rabbitmq: RabbitmqProcess;
let connection: AmqpConnection;

before(async () => {
  rabbitmq = await startRabbitmqProcess();
  connection = await connectAmqp(rabbitmq.url);
});

after(async () => {
  await connection?.close();
  await rabbitmq?.stop();
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

test('handshake: server properties, tuning as negotiated, frame_max from the URL splits large bodies', async () => {
  const product = connection.serverProperties.get('product');
  assert.ok(product !== undefined && product.type === 'longString' && product.value.toString() === 'RabbitMQ');
  assert.deepEqual(connection.tuning, { channelMax: 2047, frameMaxBytes: 131072, heartbeatSeconds: 0 });
  const small = await connectAmqp(`${rabbitmq.url}?frame_max=4096`);
  try {
    assert.equal(small.tuning.frameMaxBytes, 4096);
    const channel = await small.createChannel();
    const { queue } = await channel.queueDeclare('', { exclusive: true });
    const body = Buffer.alloc(100_000);
    for (let index = 0; index < body.length; index++) body[index] = index % 251;
    channel.publish('', queue, body);
    channel.publish('', queue, Buffer.alloc(0), { contentType: 'empty' });
    const first = await waitForGet(channel, queue);
    assert.ok(first.body.equals(body), 'a body split into 25 frames comes back whole');
    const second = await waitForGet(channel, queue);
    assert.equal(second.body.length, 0);
    assert.equal(second.properties.contentType, 'empty');
  } finally {
    await small.close();
  }
});

async function waitForGet(channel: Awaited<ReturnType<AmqpConnection['createChannel']>>, queue: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const message = await channel.get(queue, { noAck: true });
    if (message !== null) return message;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing arrived in ${queue}`);
}

test('heartbeats: negotiated from the URL, and the idle connection survives several intervals', async () => {
  const beating = await connectAmqp(`${rabbitmq.url}?heartbeat=1`);
  try {
    assert.equal(beating.tuning.heartbeatSeconds, 1);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const channel = await beating.createChannel();
    await channel.queueDeclare('', { exclusive: true });
  } finally {
    await beating.close();
  }
});

test('exchanges, queues and bindings: routing follows bind and unbind; purge and delete count', async () => {
  const channel = await connection.createChannel();
  await channel.exchangeDeclare('client-topic', 'topic', { durable: false });
  await channel.exchangeDeclare('client-fanout', 'fanout');
  const declared = await channel.queueDeclare('client-routed', { durable: true });
  assert.deepEqual(declared, { queue: 'client-routed', messageCount: 0, consumerCount: 0 });
  await channel.queueBind('client-routed', 'client-topic', 'orders.*');
  await channel.exchangeBind('client-topic', 'client-fanout', '');
  await channel.confirmSelect();
  channel.publish('client-topic', 'orders.eu', Buffer.from('routed'));
  channel.publish('client-topic', 'payments.eu', Buffer.from('not routed'));
  channel.publish('client-fanout', 'orders.us', Buffer.from('through the fanout'));
  await channel.waitForConfirms();
  assert.equal((await channel.queueDeclare('client-routed', { passive: true })).messageCount, 2);
  await channel.exchangeUnbind('client-topic', 'client-fanout', '');
  channel.publish('client-fanout', 'orders.us', Buffer.from('dropped'));
  await channel.queueUnbind('client-routed', 'client-topic', 'orders.*');
  channel.publish('client-topic', 'orders.eu', Buffer.from('dropped'));
  await channel.waitForConfirms();
  assert.equal(await channel.queuePurge('client-routed'), 2);
  channel.publish('', 'client-routed', Buffer.from('left'));
  await channel.waitForConfirms();
  assert.equal(await channel.queueDelete('client-routed'), 1);
  await channel.exchangeDelete('client-topic');
  await channel.exchangeDelete('client-fanout');
  await channel.close();
});

test('confirms: thousands of persistent publishes all acked; a full queue (reject-publish) nacks the rest', async () => {
  const channel = await connection.createChannel();
  await channel.queueDeclare('client-confirms', { durable: true });
  await channel.confirmSelect();
  let acked = 0;
  for (let index = 0; index < 5000; index++) channel.publish('', 'client-confirms', Buffer.from(`m${index}`), { deliveryMode: 2 }, { onConfirm: (error) => (error === null ? acked++ : assert.fail(error)) });
  assert.ok(channel.unconfirmed > 0);
  await channel.waitForConfirms();
  assert.equal(acked, 5000);
  assert.equal(channel.unconfirmed, 0);
  assert.equal((await channel.queueDeclare('client-confirms', { passive: true })).messageCount, 5000);

  await channel.queueDeclare('client-bounded', { durable: true, arguments: { 'x-max-length': 10, 'x-overflow': 'reject-publish' } });
  const outcomes: (string | null)[] = [];
  for (let index = 0; index < 25; index++) channel.publish('', 'client-bounded', Buffer.from('x'), {}, { onConfirm: (error) => outcomes.push(error === null ? null : error.name) });
  await channel.waitForConfirms();
  assert.equal(outcomes.length, 25);
  assert.deepEqual(outcomes.slice(0, 10), new Array(10).fill(null));
  assert.deepEqual(outcomes.slice(10), new Array(15).fill(new AmqpNackError(0).name));
  await channel.queueDelete('client-confirms');
  await channel.queueDelete('client-bounded');
  await channel.close();
});

test('consume: prefetch holds deliveries until acked (multiple), properties come through, cancel stops the flow', async () => {
  const publisher = await connection.createChannel();
  await publisher.queueDeclare('client-consume', { durable: true });
  await publisher.confirmSelect();
  for (let index = 0; index < 50; index++) {
    publisher.publish('', 'client-consume', Buffer.from(`body-${index}`), { deliveryMode: 2, messageId: `id-${index}`, contentType: 'text/plain', timestamp: 1_700_000_000n, headers: new Map([['index', { type: 'int32', value: index }]]) });
  }
  await publisher.waitForConfirms();

  const consumerConnection = await connectAmqp(rabbitmq.url);
  try {
    const channel = await consumerConnection.createChannel();
    await channel.qos(10);
    const received: AmqpDelivery[] = [];
    let reachedTen = deferred<void>();
    const tag = await channel.consume('client-consume', (delivery) => {
      received.push(delivery);
      if (received.length % 10 === 0) reachedTen.resolve();
    });
    await reachedTen.promise;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(received.length, 10, 'no more than the prefetch while nothing is acked');
    const first = received[0]!;
    assert.equal(first.consumerTag, tag);
    assert.equal(first.body.toString(), 'body-0');
    assert.equal(first.deliveryTag, 1n);
    assert.equal(first.properties.messageId, 'id-0');
    assert.equal(first.properties.contentType, 'text/plain');
    assert.equal(first.properties.deliveryMode, 2);
    assert.equal(first.properties.timestamp, 1_700_000_000n);
    assert.deepEqual(first.properties.headers?.get('index'), { type: 'int32', value: 0 });
    assert.deepEqual(received.map((delivery) => delivery.body.toString()), Array.from({ length: 10 }, (_, index) => `body-${index}`));

    reachedTen = deferred<void>();
    channel.ack(received[9]!.deliveryTag, true); // all ten at once
    await reachedTen.promise;
    assert.equal(received.length, 20);
    await channel.cancel(tag);
    channel.ack(received[19]!.deliveryTag, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(received.length, 20, 'nothing after cancel');
    assert.equal((await publisher.queueDeclare('client-consume', { passive: true })).messageCount, 30);

    const got = await channel.get('client-consume');
    assert.ok(got !== null);
    assert.equal(got.body.toString(), 'body-20');
    assert.equal(got.messageCount, 29);
    channel.nack(got.deliveryTag, { requeue: false });
    await channel.close();
  } finally {
    await consumerConnection.close();
  }
  assert.equal((await publisher.queueDeclare('client-consume', { passive: true })).messageCount, 29);
  await publisher.queueDelete('client-consume');
  await publisher.close();
});

test('interoperates with amqplib both ways, properties included', async () => {
  const other = await amqplib.connect(rabbitmq.url);
  try {
    const otherChannel = await other.createConfirmChannel();
    await otherChannel.assertQueue('client-interop', { durable: false });
    const channel = await connection.createChannel();
    channel.publish('', 'client-interop', Buffer.from('from osprey'), { correlationId: 'c1', replyTo: 'r1', priority: 3, expiration: '60000', headers: new Map([['k', { type: 'longString', value: Buffer.from('v') }]]) });
    const seen = await waitFor(async () => otherChannel.get('client-interop', { noAck: true }));
    assert.equal(seen.content.toString(), 'from osprey');
    assert.equal(seen.properties.correlationId, 'c1');
    assert.equal(seen.properties.replyTo, 'r1');
    assert.equal(seen.properties.priority, 3);
    assert.equal(seen.properties.expiration, '60000');
    assert.equal(String(seen.properties.headers?.['k']), 'v');

    await new Promise<void>((resolve, reject) => otherChannel.sendToQueue('client-interop', Buffer.from('from amqplib'), { appId: 'a1', type: 't1', headers: { n: 7 } }, (error: unknown) => (error ? reject(error) : resolve())));
    const back = await waitForGet(channel, 'client-interop');
    assert.equal(back.body.toString(), 'from amqplib');
    assert.equal(back.properties.appId, 'a1');
    assert.equal(back.properties.type, 't1');
    const header = back.properties.headers?.get('n');
    assert.ok(header !== undefined && 'value' in header && Number(header.value) === 7, JSON.stringify(header, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value)));
    await channel.queueDelete('client-interop');
    await channel.close();
  } finally {
    await other.close();
  }
});

async function waitFor<T>(attempt: () => Promise<T | false>): Promise<T> {
  for (let tries = 0; tries < 100; tries++) {
    const result = await attempt();
    if (result !== false) return result;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('gave up waiting');
}

test('mandatory unroutable messages come back as basic.return; a deleted queue cancels its consumer', async () => {
  const channel = await connection.createChannel();
  const returned = deferred<AmqpReturnedMessage>();
  channel.onReturn = (message) => returned.resolve(message);
  channel.publish('', 'no-such-queue', Buffer.from('lost'), { messageId: 'm' }, { mandatory: true });
  const message = await returned.promise;
  assert.equal(message.replyCode, 312);
  assert.equal(message.replyText, 'NO_ROUTE');
  assert.equal(message.routingKey, 'no-such-queue');
  assert.equal(message.body.toString(), 'lost');
  assert.equal(message.properties.messageId, 'm');

  await channel.queueDeclare('client-cancelled');
  const cancelled = deferred<string>();
  channel.onCancel = (consumerTag) => cancelled.resolve(consumerTag);
  const tag = await channel.consume('client-cancelled', () => undefined, { consumerTag: 'mine' });
  assert.equal(tag, 'mine');
  const admin = await connection.createChannel();
  await admin.queueDelete('client-cancelled');
  assert.equal(await cancelled.promise, 'mine');
  await admin.close();
  await channel.close();
});

test('errors: channel closes carry reply code and text and spare the connection; connection refusals too', async () => {
  const channel = await connection.createChannel();
  await assert.rejects(channel.queueDeclare('client-missing', { passive: true }), (error: unknown) => {
    assert.ok(error instanceof AmqpClosedError);
    assert.equal(error.scope, 'channel');
    assert.equal(error.replyCode, 404);
    assert.match(error.replyText, /^NOT_FOUND - no queue 'client-missing'/);
    assert.equal(error.classId, 50);
    assert.equal(error.methodId, 10);
    return true;
  });
  const reason = await channel.closed;
  assert.ok(reason instanceof AmqpClosedError && reason.replyCode === 404);
  assert.throws(() => channel.publish('', 'q', Buffer.from('x')), AmqpClosedError);

  const second = await connection.createChannel();
  await second.queueDeclare('client-typed', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await assert.rejects(second.queueDeclare('client-typed', { durable: true }), (error: unknown) => error instanceof AmqpClosedError && error.replyCode === 406 && /PRECONDITION_FAILED/.test(error.replyText));

  const third = await connection.createChannel();
  await third.confirmSelect();
  const pending = third.waitForConfirms();
  third.ack(999n); // unknown delivery tag: the broker closes the channel with 406
  await pending;
  const closedBy = await third.closed;
  assert.ok(closedBy instanceof AmqpClosedError && closedBy.replyCode === 406, String(closedBy));
  const fourth = await connection.createChannel();
  await fourth.queueDelete('client-typed');
  await fourth.close();

  await assert.rejects(connectAmqp(rabbitmq.url.replace('guest:guest', 'guest:wrong')), (error: unknown) => error instanceof AmqpClosedError && error.scope === 'connection' && error.replyCode === 403);
  await assert.rejects(connectAmqp(`${rabbitmq.url}no-such-vhost`), (error: unknown) => error instanceof AmqpClosedError && error.replyCode === 530);
  await assert.rejects(connectAmqp(`amqp://127.0.0.1:1/`), /127\.0\.0\.1:1: connect ECONNREFUSED/);
});

test('a connection.close from the broker fails every channel with its reply code', async () => {
  const victim = await connectAmqp(rabbitmq.url);
  const channel = await victim.createChannel();
  await channel.confirmSelect();
  // channel.open on a channel already open is a hard error: 504 CHANNEL_ERROR closes the connection.
  victim.writer.method(channel.id, { name: 'channel.open', arguments: { reserved1: '' } });
  const reason = await victim.closed;
  assert.ok(reason instanceof AmqpClosedError, String(reason));
  assert.equal(reason.scope, 'connection');
  assert.equal(reason.replyCode, 504);
  const channelReason = await channel.closed;
  assert.equal(channelReason, reason);
  await assert.rejects(victim.createChannel(), AmqpClosedError);
});
