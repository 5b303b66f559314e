/**
 * The HTTP admin API of a real broker process, with amqplib on its AMQP listener as the other side:
 * what the API declares, AMQP clients use (routing through its bindings, connecting to its vhosts);
 * what AMQP clients declare and publish, the API lists and reads (counts, consumers, exclusive
 * queues, arguments, message properties); the API's get gives messages back flagged redelivered;
 * its definitions survive a restart; AMQP errors come back as HTTP statuses with RabbitMQ's texts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { waitUntil } from '../helpers/waiting.js';

let broker: BrokerProcess;
let connection: ChannelModel;

before(async () => {
  broker = await startBrokerProcess();
  connection = await connectAmqp(broker);
});

after(async () => {
  await connection?.close().catch(() => undefined);
  await broker?.stop();
});

interface Answer<T> {
  readonly status: number;
  readonly json: T;
}

async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  assert.ok(broker.httpPort !== null, 'the broker runs its HTTP listener');
  const response = await fetch(`http://127.0.0.1:${broker.httpPort}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? undefined : JSON.parse(text)) as T };
}

interface QueueJson {
  name: string;
  durable: boolean;
  exclusive: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
  messages: number;
  messages_ready: number;
  messages_unacknowledged: number;
  consumers: number;
}

async function queueInfo(name: string, vhost = '/'): Promise<QueueJson> {
  const answer = await api<QueueJson>('GET', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  return answer.json;
}

/** Polls until the queue holds `ready` ready messages (publishes are asynchronous for amqplib). */
async function waitForReady(name: string, ready: number): Promise<QueueJson> {
  let info = await queueInfo(name);
  for (let waited = 0; info.messages_ready !== ready && waited < 5000; waited += 50) {
    await sleep(50);
    info = await queueInfo(name);
  }
  assert.equal(info.messages_ready, ready, `queue ${name}: ${JSON.stringify(info)}`);
  return info;
}

test('an exchange, queue and binding declared over HTTP route what amqplib publishes; get peeks with properties', async () => {
  assert.equal((await api('PUT', '/api/exchanges/%2F/orders', { type: 'topic', durable: true })).status, 201);
  assert.equal((await api('PUT', '/api/queues/%2F/billing', { durable: true, arguments: { 'x-max-length': 1000 } })).status, 201);
  assert.equal((await api('POST', '/api/bindings/%2F/e/orders/q/billing', { routing_key: 'order.*' })).status, 201);

  const channel = await openChannel(connection);
  // amqplib encodes 1000 as a short, the API as an int32: the broker compares arguments byte for byte,
  // so a passive check (no arguments compared) is what an application sharing the queue would do.
  await channel.checkQueue('billing');
  channel.publish('orders', 'order.created', Buffer.from('{"id":1}'), { contentType: 'application/json', persistent: true, messageId: 'm-1', headers: { attempt: 1, source: 'web' }, timestamp: 1_700_000_000 });
  channel.publish('orders', 'order.paid', Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  channel.publish('orders', 'invoice.sent', Buffer.from('not routed'));
  const info = await waitForReady('billing', 2);
  assert.deepEqual(info, { name: 'billing', vhost: '/', durable: true, auto_delete: false, exclusive: false, arguments: { 'x-max-length': 1000 }, messages: 2, messages_ready: 2, messages_unacknowledged: 0, consumers: 0, served_here: true, served_by: null, policy: null, effective_policy_definition: {}, effective_options: { 'max-length': 1000 } } as unknown as QueueJson);

  const peeked = await api<Record<string, unknown>[]>('POST', '/api/queues/%2F/billing/get', { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto' });
  assert.equal(peeked.status, 200);
  assert.deepEqual(peeked.json, [
    {
      payload_bytes: 8,
      redelivered: false,
      exchange: 'orders',
      routing_key: 'order.created',
      message_count: 1,
      properties: { content_type: 'application/json', headers: { attempt: 1, source: 'web' }, delivery_mode: 2, message_id: 'm-1', timestamp: 1_700_000_000 },
      payload: '{"id":1}',
      payload_encoding: 'string',
    },
    // amqplib always sends a headers table, empty when the application gave none.
    { payload_bytes: 4, redelivered: false, exchange: 'orders', routing_key: 'order.paid', message_count: 0, properties: { headers: {} }, payload: '3q2+7w==', payload_encoding: 'base64' },
  ]);
  await waitForReady('billing', 2);

  // The peeked messages are still there for consumers, flagged redelivered as RabbitMQ does.
  const delivered = await receive(channel, 'billing', 2);
  assert.deepEqual(delivered.map((message) => [message.content.toString('hex'), message.fields.redelivered]), [
    [Buffer.from('{"id":1}').toString('hex'), true],
    ['deadbeef', true],
  ]);
  assert.equal(delivered[0]!.properties.messageId, 'm-1');
  channel.ackAll();
  await waitForReady('billing', 0);

  const bindings = await api<Record<string, unknown>[]>('GET', '/api/bindings/%2F/e/orders/q/billing');
  assert.deepEqual(bindings.json, [{ source: 'orders', vhost: '/', destination: 'billing', destination_type: 'queue', routing_key: 'order.*', arguments: {}, properties_key: 'order.*' }]);
  assert.equal((await api('DELETE', `/api/bindings/%2F/e/orders/q/billing/${encodeURIComponent('order.*')}`)).status, 204);
  channel.publish('orders', 'order.created', Buffer.from('after unbind'));
  await sleep(200);
  assert.equal((await queueInfo('billing')).messages, 0, 'nothing routed once unbound');
  await channel.close();
});

test('queues declared by amqplib are listed with their consumers, unacknowledged messages and exclusivity', async () => {
  const channel = await openChannel(connection);
  const { queue: exclusive } = await channel.assertQueue('', { exclusive: true });
  await channel.assertQueue('work', { durable: false, arguments: { 'x-message-ttl': 60_000 } });
  for (const body of ['a', 'b', 'c']) channel.sendToQueue('work', Buffer.from(body));
  await channel.prefetch(2);
  await channel.consume('work', () => undefined);
  await sleep(300);
  const listed = (await api<QueueJson[]>('GET', '/api/queues/%2F')).json;
  const work = listed.find((queue) => queue.name === 'work');
  assert.deepEqual(
    work && { durable: work.durable, arguments: work.arguments, messages: work.messages, ready: work.messages_ready, unacked: work.messages_unacknowledged, consumers: work.consumers },
    { durable: false, arguments: { 'x-message-ttl': 60_000 }, messages: 3, ready: 1, unacked: 2, consumers: 1 },
  );
  assert.equal(listed.find((queue) => queue.name === exclusive)?.exclusive, true);
  assert.deepEqual((await api<QueueJson[]>('GET', '/api/queues')).json.map((queue) => queue.name).sort(), listed.map((queue) => queue.name).sort());

  const inUse = await api('DELETE', '/api/queues/%2F/work?if-unused=true');
  assert.deepEqual([inUse.status, inUse.json], [400, { error: 'bad_request', reason: "PRECONDITION_FAILED - queue 'work' in vhost '/' in use" }]);
  // The operator may delete another connection's queue; its consumer is cancelled by the broker.
  let cancelled = false;
  const watcher = await openChannel(connection);
  await watcher.consume(exclusive, (message) => {
    if (message === null) cancelled = true;
  });
  assert.equal((await api('DELETE', `/api/queues/%2F/${encodeURIComponent(exclusive)}`)).status, 204);
  await waitUntil(() => cancelled, 'the consumer cancelled by the broker', 3000);
  assert.ok(cancelled, 'the consumer of the deleted queue was told (basic.cancel)');
  await channel.close();
  await watcher.close().catch(() => undefined);
  assert.equal((await api('DELETE', '/api/queues/%2F/work')).status, 204);
  assert.equal((await api('GET', '/api/queues/%2F/work')).status, 404);
});

test('purge and get with ack_requeue_false take messages away from amqplib consumers', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('drain', { durable: true });
  for (let index = 0; index < 5; index++) channel.sendToQueue('drain', Buffer.from(`m${index}`), { persistent: true });
  await waitForReady('drain', 5);
  const taken = await api<{ payload: string }[]>('POST', '/api/queues/%2F/drain/get', { count: 2, ackmode: 'ack_requeue_false', encoding: 'auto' });
  assert.deepEqual(taken.json.map((message) => message.payload), ['m0', 'm1']);
  assert.equal((await channel.checkQueue('drain')).messageCount, 3);
  assert.equal((await api('DELETE', '/api/queues/%2F/drain/contents')).status, 204);
  assert.equal((await channel.checkQueue('drain')).messageCount, 0);
  assert.equal(await channel.get('drain'), false);
  await channel.deleteQueue('drain');
  await channel.close();
});

test('a vhost created over HTTP takes AMQP connections; once deleted it refuses them', async () => {
  assert.equal((await api('PUT', '/api/vhosts/tenant-a')).status, 201);
  const tenant = await connectAmqp(broker, 'tenant-a');
  const channel = await tenant.createChannel();
  await channel.assertQueue('inbox', { durable: true });
  channel.sendToQueue('inbox', Buffer.from('hello'));
  await sleep(200);
  const hosts = (await api<{ name: string; messages: number }[]>('GET', '/api/vhosts')).json;
  assert.deepEqual(hosts.find((host) => host.name === 'tenant-a'), { name: 'tenant-a', messages: 1, messages_ready: 1, messages_unacknowledged: 0 });
  assert.deepEqual((await api<QueueJson[]>('GET', '/api/queues/tenant-a')).json.map((queue) => queue.name), ['inbox']);
  assert.ok(!(await api<QueueJson[]>('GET', '/api/queues/%2F')).json.some((queue) => queue.name === 'inbox'), 'vhosts are separate');
  await tenant.close();
  assert.equal((await api('DELETE', '/api/vhosts/tenant-a')).status, 204);
  // connection.open to a missing vhost is answered with connection.close (530), which amqplib reports so.
  await assert.rejects(connectAmqp(broker, 'tenant-a'), /ConnectionClose/);
  assert.equal((await api('GET', '/api/queues/tenant-a')).status, 404);
});

test('AMQP refusals come back as HTTP statuses with the broker reply texts', async () => {
  const reserved = await api('PUT', '/api/exchanges/%2F/amq.mine', { type: 'direct' });
  assert.deepEqual([reserved.status, reserved.json], [403, { error: 'access_refused', reason: "ACCESS_REFUSED - exchange name 'amq.mine' contains reserved prefix 'amq.*'" }]);
  assert.equal((await api('PUT', '/api/exchanges/%2F/logs', { type: 'fanout' })).status, 201);
  const inequivalent = await api<{ reason: string }>('PUT', '/api/exchanges/%2F/logs', { type: 'direct' });
  assert.equal(inequivalent.status, 400);
  assert.match(inequivalent.json.reason, /^PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'logs' in vhost '\/'/);
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  // Equivalent but for exclusivity (amqplib declares durable by default): 405 RESOURCE_LOCKED.
  const locked = await api<{ error: string; reason: string }>('PUT', `/api/queues/%2F/${encodeURIComponent(queue)}`, { durable: true });
  assert.equal(locked.status, 409);
  assert.equal(locked.json.error, 'resource_locked');
  assert.match(locked.json.reason, /^RESOURCE_LOCKED - cannot obtain exclusive access to locked queue/);
  assert.equal((await api('GET', '/api/exchanges/%2F/nothing')).status, 404);
  assert.equal((await api('PUT', '/api/exchanges/%2F/x', { type: 'x-unknown' })).status, 400);
  assert.equal((await api('DELETE', '/api/exchanges/%2F/logs')).status, 204);
  await channel.close();
});

test('policies over HTTP: an alternate-exchange policy catches what amqplib publishes and nothing routes; refusals are RabbitMQ\'s', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('policed.events', 'direct', { durable: true });
  await channel.assertExchange('policed.unrouted', 'fanout', { durable: true });
  await channel.assertQueue('policed.parking', { durable: true });
  await channel.bindQueue('policed.parking', 'policed.unrouted', '');
  const body = { pattern: '^policed\\.events$', definition: { 'alternate-exchange': 'policed.unrouted' }, 'apply-to': 'exchanges', priority: 1 };
  assert.equal((await api('PUT', '/api/policies/%2F/ae', body)).status, 201);
  assert.deepEqual((await api('GET', '/api/policies/%2F/ae')).json, { vhost: '/', name: 'ae', pattern: '^policed\\.events$', 'apply-to': 'exchanges', definition: { 'alternate-exchange': 'policed.unrouted' }, priority: 1 });
  assert.equal((await api<{ policy: string | null }>('GET', '/api/exchanges/%2F/policed.events')).json.policy, 'ae');
  assert.equal((await api<{ policy: string | null }>('GET', '/api/exchanges/%2F/policed.unrouted')).json.policy, null);
  channel.publish('policed.events', 'nobody.listens', Buffer.from('caught'));
  await waitForReady('policed.parking', 1);

  assert.equal((await api('DELETE', '/api/policies/%2F/ae')).status, 204);
  channel.publish('policed.events', 'nobody.listens', Buffer.from('dropped'));
  await channel.assertQueue('policed.parking', { durable: true }); // a round trip: the publish before it was handled
  await sleep(100);
  assert.equal((await queueInfo('policed.parking')).messages_ready, 1, 'without the policy the message is dropped');

  const refused = await api<{ error: string; reason: string }>('PUT', '/api/policies/%2F/mirror', { pattern: '.*', definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' } });
  assert.deepEqual([refused.status, refused.json], [400, { error: 'bad_request', reason: 'Validation failed\n\n[{<<"ha-mode">>,<<"all">>},{<<"ha-sync-mode">>,<<"automatic">>}] are not recognised' }]);
  assert.equal((await api('DELETE', '/api/policies/%2F/mirror')).status, 404);
  await channel.deleteQueue('policed.parking');
  await channel.deleteExchange('policed.events');
  await channel.deleteExchange('policed.unrouted');
  await channel.close();
});

test('a policy acts on queues amqplib declared before it: max-length with reject-publish nacks, message-ttl dead-letters; deleting it lifts both', async () => {
  const publishConfirmed = (channel: ConfirmChannel, routingKey: string, body: string): Promise<boolean> =>
    new Promise((resolve) => channel.publish('', routingKey, Buffer.from(body), { persistent: true }, (error: unknown) => resolve(error === null || error === undefined)));
  const channel = await openChannel(connection);
  await channel.assertQueue('limited.sale', { durable: true });
  await channel.assertQueue('limited.waiting', { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'limited.expired' } });
  await channel.assertQueue('limited.expired', { durable: true });
  const publisher = await connection.createConfirmChannel();
  assert.equal((await api('PUT', '/api/policies/%2F/sale', { pattern: '^limited\\.sale$', definition: { 'max-length': 2, overflow: 'reject-publish' }, 'apply-to': 'queues' })).status, 201);
  const outcomes = [];
  for (let index = 0; index < 4; index++) outcomes.push(await publishConfirmed(publisher, 'limited.sale', `order-${index}`));
  assert.deepEqual(outcomes, [true, true, false, false], 'the policy\'s max-length and overflow');
  assert.equal((await channel.checkQueue('limited.sale')).messageCount, 2);

  // The queue's own x-dead-letter-exchange and routing key, the policy's TTL.
  assert.equal((await api('PUT', '/api/policies/%2F/waiting', { pattern: '^limited\\.waiting$', definition: { 'message-ttl': 50, 'dead-letter-exchange': 'ignored' } })).status, 201);
  assert.equal(await publishConfirmed(publisher, 'limited.waiting', 'too late'), true);
  const [expired] = await receive(channel, 'limited.expired', 1, { noAck: true });
  assert.equal(expired?.content.toString(), 'too late');
  assert.equal((expired?.properties.headers?.['x-death'] as { reason: string; queue: string }[] | undefined)?.[0]?.reason, 'expired');

  assert.equal((await api('DELETE', '/api/policies/%2F/sale')).status, 204);
  assert.equal(await publishConfirmed(publisher, 'limited.sale', 'after the policy'), true, 'no limit without the policy');
  assert.equal((await channel.checkQueue('limited.sale')).messageCount, 3);
  assert.equal((await api('DELETE', '/api/policies/%2F/waiting')).status, 204);
  assert.equal(await publishConfirmed(publisher, 'limited.waiting', 'kept'), true);
  await sleep(150);
  assert.equal((await channel.checkQueue('limited.waiting')).messageCount, 1, 'no TTL without the policy');
  await publisher.close();
  for (const queue of ['limited.sale', 'limited.waiting', 'limited.expired']) await channel.deleteQueue(queue);
  await channel.close();
});

test('definitions made over HTTP survive a restart', async () => {
  assert.equal((await api('PUT', '/api/vhosts/kept')).status, 201);
  assert.equal((await api('PUT', '/api/exchanges/kept/events', { type: 'direct', durable: true })).status, 201);
  assert.equal((await api('PUT', '/api/queues/kept/audit', { durable: true })).status, 201);
  assert.equal((await api('POST', '/api/bindings/kept/e/events/q/audit', { routing_key: 'audit', arguments: { note: 'kept' } })).status, 201);
  await connection.close();
  broker = await broker.restart({ port: 'any' });
  connection = await connectAmqp(broker);
  assert.ok((await api<{ name: string }[]>('GET', '/api/vhosts')).json.some((host) => host.name === 'kept'));
  assert.equal((await api<{ type: string }>('GET', '/api/exchanges/kept/events')).json.type, 'direct');
  assert.equal((await queueInfo('audit', 'kept')).durable, true);
  const bindings = (await api<{ source: string; routing_key: string; arguments: unknown }[]>('GET', '/api/bindings/kept')).json.filter((binding) => binding.source === 'events');
  assert.deepEqual(bindings.map((binding) => [binding.routing_key, binding.arguments]), [['audit', { note: 'kept' }]]);
  const tenant = await connectAmqp(broker, 'kept');
  const channel = await tenant.createChannel();
  channel.publish('events', 'audit', Buffer.from('after restart'), { persistent: true });
  await sleep(200);
  assert.equal((await queueInfo('audit', 'kept')).messages_ready, 1, 'the restored binding routes');
  await tenant.close();
});
