/**
 * `osprey vhost|exchange|queue …` against a real broker process's HTTP admin API, with amqplib
 * publishing and consuming on its AMQP listener: what the commands declare routes real messages,
 * what amqplib publishes the commands list and read; human and --json outputs; the failures users
 * meet (the broker's reason, exit 1), invalid usage (exit 2), OSPREY_HTTP_ADDRESS and an address
 * where nothing listens.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ChannelModel } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { assertFailed, assertSucceeded, osprey } from '../helpers/osprey-cli.js';
import type { OspreyResult } from '../helpers/osprey-cli.js';

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

/** A port nothing listens on (taken from the kernel, then released). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function httpAddress(): string {
  assert.ok(broker.httpPort !== null, 'the broker runs its HTTP listener');
  return `127.0.0.1:${broker.httpPort}`;
}

/** `osprey …args --http-address <broker>` (no --brokers: these commands do not take it). */
function admin(args: readonly string[], env?: Record<string, string>): Promise<OspreyResult> {
  return osprey(broker, [...args, '--http-address', httpAddress()], { noBrokersFlag: true, ...(env === undefined ? {} : { env }) });
}

async function adminJson<T>(args: readonly string[]): Promise<T> {
  const result = await admin([...args, '--json']);
  assertSucceeded(result);
  return JSON.parse(result.stdout) as T;
}

interface QueueJson {
  name: string;
  durable: boolean;
  auto_delete: boolean;
  arguments: Record<string, unknown>;
  messages: number;
  messages_ready: number;
  consumers: number;
}

async function readyCount(queue: string, vhost = '/'): Promise<number> {
  const queues = await adminJson<QueueJson[]>(['queue', 'list', '--vhost', vhost]);
  return queues.find((entry) => entry.name === queue)?.messages_ready ?? -1;
}

async function waitForReady(queue: string, count: number): Promise<void> {
  let seen = await readyCount(queue);
  for (let waited = 0; seen !== count && waited < 5000; waited += 100) {
    await sleep(100);
    seen = await readyCount(queue);
  }
  assert.equal(seen, count, `queue ${queue} ready messages`);
}

test('exchange and queue declared and bound from the CLI route what amqplib publishes; queue list and get show it', async () => {
  const declared = await admin(['exchange', 'declare', 'orders', '--type', 'topic']);
  assertSucceeded(declared);
  assert.equal(declared.stdout, 'declared topic exchange orders in vhost /\n');
  assert.equal((await admin(['exchange', 'declare', 'orders', '--type', 'topic'])).stdout, 'exchange orders exists already in vhost /\n');
  const queue = await admin(['queue', 'declare', 'billing', '--argument', 'x-message-ttl=600000', '--argument', 'x-queue-type=classic']);
  assertSucceeded(queue);
  assert.equal(queue.stdout, 'declared queue billing in vhost /\n');
  const bound = await admin(['exchange', 'bind', 'orders', '--queue', 'billing', '--routing-key', 'order.*']);
  assertSucceeded(bound);
  assert.equal(bound.stdout, 'bound orders → queue billing with key order.*\n');

  const channel = await openChannel(connection);
  channel.publish('orders', 'order.created', Buffer.from('first order'), { contentType: 'text/plain', persistent: true, headers: { region: 'eu' } });
  channel.publish('orders', 'order.paid', Buffer.from('second order'));
  channel.publish('orders', 'refund.created', Buffer.from('not routed'));
  await waitForReady('billing', 2);

  const list = await admin(['queue', 'list']);
  assertSucceeded(list);
  assert.match(list.stdout, /^QUEUE\s+MESSAGES\s+READY\s+UNACKED\s+CONSUMERS\s+FEATURES\s+ARGUMENTS\n/);
  assert.match(list.stdout, /^billing\s+2\s+2\s+0\s+0\s+durable\s+x-message-ttl=600000 x-queue-type=classic$/m);
  const listed = await adminJson<QueueJson[]>(['queue', 'list']);
  assert.deepEqual(listed.find((entry) => entry.name === 'billing')?.arguments, { 'x-message-ttl': 600_000, 'x-queue-type': 'classic' });

  const peek = await admin(['queue', 'get', 'billing']);
  assertSucceeded(peek);
  assert.match(peek.stdout, /^message:\s+1 of 1; 1 more ready$/m);
  assert.match(peek.stdout, /^exchange:\s+orders$/m);
  assert.match(peek.stdout, /^routing key:\s+order\.created$/m);
  assert.match(peek.stdout, /^properties:\s+content_type=text\/plain headers=\{"region":"eu"\} delivery_mode=2$/m);
  assert.match(peek.stdout, /\nfirst order\n$/);
  const both = await adminJson<{ payload: string; redelivered: boolean; routing_key: string }[]>(['queue', 'get', 'billing', '--count', '5']);
  assert.deepEqual(both.map((message) => [message.payload, message.routing_key, message.redelivered]), [
    ['first order', 'order.created', true],
    ['second order', 'order.paid', false],
  ]);
  const base64 = await adminJson<{ payload: string; payload_encoding: string }[]>(['queue', 'get', 'billing', '--base64']);
  assert.deepEqual(base64.map((message) => [message.payload, message.payload_encoding]), [[Buffer.from('first order').toString('base64'), 'base64']]);
  await waitForReady('billing', 2);

  const acked = await adminJson<{ payload: string }[]>(['queue', 'get', 'billing', '--ack']);
  assert.deepEqual(acked.map((message) => message.payload), ['first order']);
  const rest = await receive(channel, 'billing', 1);
  assert.deepEqual(rest.map((message) => message.content.toString()), ['second order'], 'the acknowledged one is gone for consumers');
  channel.ackAll();

  const bindings = await admin(['exchange', 'bindings', 'orders']);
  assertSucceeded(bindings);
  assert.match(bindings.stdout, /^orders\s+billing\s+queue\s+order\.\*\s+-$/m);
  const unbound = await admin(['exchange', 'unbind', 'orders', '--queue', 'billing', '--routing-key', 'order.*']);
  assertSucceeded(unbound);
  channel.publish('orders', 'order.created', Buffer.from('after unbind'));
  await sleep(200);
  assert.equal(await readyCount('billing'), 0, 'nothing routed once unbound');
  assertFailed(await admin(['exchange', 'unbind', 'orders', '--queue', 'billing', '--routing-key', 'order.*']), /^osprey exchange unbind: NOT_FOUND - no binding 'order\.\*' from exchange 'orders' to 'billing' in vhost '\/'\n$/);
  await channel.close();
});

test('exchange-to-exchange bindings with arguments, and exchange list', async () => {
  assertSucceeded(await admin(['exchange', 'declare', 'events', '--type', 'headers']));
  assertSucceeded(await admin(['exchange', 'declare', 'invoices', '--type', 'fanout', '--internal']));
  assertSucceeded(await admin(['queue', 'declare', 'invoice-log', '--transient']));
  assertSucceeded(await admin(['exchange', 'bind', 'events', '--exchange', 'invoices', '-a', 'x-match=all', '-a', 'kind=invoice']));
  assertSucceeded(await admin(['exchange', 'bind', 'invoices', '-q', 'invoice-log']));
  const exchanges = await admin(['exchange', 'list']);
  assertSucceeded(exchanges);
  assert.match(exchanges.stdout, /^\(default\)\s+direct\s+durable\s+-$/m);
  assert.match(exchanges.stdout, /^invoices\s+fanout\s+durable,internal\s+-$/m);

  const channel = await openChannel(connection);
  channel.publish('events', '', Buffer.from('invoice 7'), { headers: { kind: 'invoice' } });
  channel.publish('events', '', Buffer.from('a receipt'), { headers: { kind: 'receipt' } });
  await waitForReady('invoice-log', 1);
  const unbound = await admin(['exchange', 'unbind', 'events', '--exchange', 'invoices', '-a', 'x-match=all', '-a', 'kind=invoice']);
  assertSucceeded(unbound);
  assert.equal(unbound.stdout, 'unbound events → exchange invoices (x-match=all kind=invoice)\n');
  channel.publish('events', '', Buffer.from('invoice 8'), { headers: { kind: 'invoice' } });
  await sleep(200);
  assert.equal(await readyCount('invoice-log'), 1);
  await channel.close();

  const inUse = await admin(['exchange', 'delete', 'invoices', '--if-unused']);
  assertFailed(inUse, /^osprey exchange delete: PRECONDITION_FAILED - exchange 'invoices' in vhost '\/' in use\n$/);
  const deleted = await admin(['exchange', 'delete', 'invoices', 'events']);
  assertSucceeded(deleted);
  assert.equal(deleted.stdout, 'deleted exchange invoices\ndeleted exchange events\n');
  assertFailed(await admin(['exchange', 'delete', 'amq.topic']), /ACCESS_REFUSED - operation not permitted on exchange 'amq\.topic' in vhost '\/'/);
});

test('queue purge and delete with their conditions', async () => {
  assertSucceeded(await admin(['queue', 'declare', 'jobs']));
  const channel = await openChannel(connection);
  for (const body of ['1', '2', '3']) channel.sendToQueue('jobs', Buffer.from(body), { persistent: true });
  await waitForReady('jobs', 3);
  assertFailed(await admin(['queue', 'delete', 'jobs', '--if-empty']), /^osprey queue delete: PRECONDITION_FAILED - queue 'jobs' in vhost '\/' not empty\n$/);
  const purged = await admin(['queue', 'purge', 'jobs']);
  assertSucceeded(purged);
  assert.equal(purged.stdout, 'purged queue jobs\n');
  assert.equal((await channel.checkQueue('jobs')).messageCount, 0);
  await channel.consume('jobs', () => undefined);
  await sleep(100);
  assertFailed(await admin(['queue', 'delete', 'jobs', '--if-unused']), /in use/);
  await channel.close();
  await sleep(100);
  const deleted = await admin(['queue', 'delete', 'jobs', '--if-unused', '--if-empty']);
  assertSucceeded(deleted);
  assert.equal(deleted.stdout, 'deleted queue jobs\n');
  assertFailed(await admin(['queue', 'delete', 'jobs']), /^osprey queue delete: NOT_FOUND - no queue 'jobs' in vhost '\/'\n$/);
  assertFailed(await admin(['queue', 'declare', 'amq.mine']), /ACCESS_REFUSED - queue name 'amq\.mine' contains reserved prefix 'amq\.\*'/);
});

test('vhost create, list and delete; --vhost scopes the other commands; amqplib connects to the new vhost', async () => {
  const created = await admin(['vhost', 'create', 'tenant-b']);
  assertSucceeded(created);
  assert.equal(created.stdout, 'created vhost tenant-b\n');
  assert.equal((await admin(['vhost', 'create', 'tenant-b'])).stdout, 'vhost tenant-b exists already\n');
  assertSucceeded(await admin(['queue', 'declare', 'inbox', '--vhost', 'tenant-b']));
  const tenant = await connectAmqp(broker, 'tenant-b');
  const channel = await tenant.createChannel();
  channel.sendToQueue('inbox', Buffer.from('for tenant b'));
  await sleep(200);
  const hosts = await adminJson<{ name: string; messages: number }[]>(['vhost', 'list']);
  assert.deepEqual(hosts.find((host) => host.name === 'tenant-b'), { name: 'tenant-b', messages: 1, messages_ready: 1, messages_unacknowledged: 0 });
  const table = await admin(['vhost', 'list']);
  assert.match(table.stdout, /^tenant-b\s+1\s+1\s+0$/m);
  const got = await adminJson<{ payload: string }[]>(['queue', 'get', 'inbox', '--vhost', 'tenant-b']);
  assert.deepEqual(got.map((message) => message.payload), ['for tenant b']);
  assert.ok(!(await adminJson<QueueJson[]>(['queue', 'list'])).some((queue) => queue.name === 'inbox'));
  await tenant.close();
  assertSucceeded(await admin(['vhost', 'delete', 'tenant-b']));
  assertFailed(await admin(['vhost', 'delete', 'tenant-b']), /^osprey vhost delete: NOT_FOUND - no vhost 'tenant-b'\n$/);
  assertFailed(await admin(['queue', 'list', '--vhost', 'tenant-b']), /NOT_FOUND - no vhost 'tenant-b'/);
});

test('OSPREY_HTTP_ADDRESS, an address where nothing listens, and invalid usage', async () => {
  const viaEnvironment = await osprey(broker, ['vhost', 'list', '--json'], { noBrokersFlag: true, env: { OSPREY_HTTP_ADDRESS: httpAddress() } });
  assertSucceeded(viaEnvironment);
  assert.ok((JSON.parse(viaEnvironment.stdout) as { name: string }[]).some((host) => host.name === '/'));
  const port = await unusedPort();
  const nowhere = await osprey(broker, ['queue', 'list', '--http-address', `127.0.0.1:${port}`], { noBrokersFlag: true });
  assertFailed(nowhere, new RegExp(`^osprey queue list: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*--http-address or OSPREY_HTTP_ADDRESS`));
  assertFailed(await admin(['exchange', 'declare', 'x']), /--type is required/, 2);
  assertFailed(await admin(['exchange', 'bind', 'x', '--queue', 'a', '--exchange', 'b']), /give exactly one destination/, 2);
  assertFailed(await admin(['queue', 'get', 'q', '--count', '0']), /--count: expected an integer 1-1000/, 2);
  assertFailed(await admin(['queue', 'declare', 'q', '--argument', 'novalue']), /expected KEY=VALUE/, 2);
  assertFailed(await osprey(broker, ['queue', 'list', '--brokers', broker.bootstrap], { noBrokersFlag: true }), /unknown flag --brokers/, 2);
});

interface PolicedQueueJson extends QueueJson {
  policy: string | null;
  effective_policy_definition: Record<string, unknown>;
  effective_options: Record<string, unknown>;
}

async function policedQueue(name: string): Promise<PolicedQueueJson | undefined> {
  return (await adminJson<PolicedQueueJson[]>(['queue', 'list'])).find((entry) => entry.name === name);
}

test('policy set, list and delete: a policy reaches queues amqplib declares and survives a restart and a kill -9', async () => {
  const set = await admin(['policy', 'set', 'limits', '--pattern', '^policed\\.', '--apply-to', 'queues', '--definition', '{"max-length":2,"message-ttl":60000}']);
  assertSucceeded(set);
  assert.equal(set.stdout, 'set policy limits in vhost /: queues matching ^policed\\. get {"max-length":2,"message-ttl":60000} (priority 0)\n');
  const channel = await openChannel(connection);
  await channel.assertQueue('policed.orders', { durable: true, arguments: { 'x-max-length': 5 } });
  await channel.assertQueue('unpoliced', { durable: true });
  const policed = await policedQueue('policed.orders');
  assert.deepEqual([policed?.policy, policed?.effective_policy_definition, policed?.effective_options], ['limits', { 'max-length': 2, 'message-ttl': 60_000 }, { 'max-length': 2, 'message-ttl': 60_000 }]);
  assert.deepEqual(policed?.arguments, { 'x-max-length': 5 }, 'the declared arguments are kept as declared');
  assert.deepEqual([(await policedQueue('unpoliced'))?.policy, (await policedQueue('unpoliced'))?.effective_options], [null, {}]);

  const listed = await admin(['policy', 'list']);
  assertSucceeded(listed);
  assert.match(listed.stdout, /^POLICY\s+PATTERN\s+APPLY TO\s+PRIORITY\s+DEFINITION\n/);
  assert.match(listed.stdout, /^limits\s+\^policed\\\.\s+queues\s+0\s+\{"max-length":2,"message-ttl":60000\}$/m);
  assert.deepEqual(await adminJson<unknown[]>(['policy', 'list']), [{ vhost: '/', name: 'limits', pattern: '^policed\\.', 'apply-to': 'queues', definition: { 'max-length': 2, 'message-ttl': 60_000 }, priority: 0 }]);
  assertFailed(await admin(['policy', 'set', 'mirrored', '--pattern', '.*', '--definition', '{"ha-mode":"all"}']), /^osprey policy set: Validation failed\n\n\[\{<<"ha-mode">>,<<"all">>\}\] are not recognised\n/);
  assertFailed(await admin(['policy', 'set', 'p', '--definition', '{"max-length":1}']), /--pattern is required/, 2);
  assertFailed(await admin(['policy', 'set', 'p', '--pattern', '.*', '--definition', 'max-length=1']), /--definition is not JSON/, 2);
  assertFailed(await admin(['policy', 'set', 'p', '--pattern', '.*', '--definition', '{"max-length":1}', '--apply-to', 'topics']), /--apply-to: one of/, 2);
  await channel.close();

  await connection.close();
  broker = await broker.restart({ port: 'any' });
  const afterRestart = await policedQueue('policed.orders');
  assert.deepEqual([afterRestart?.policy, afterRestart?.effective_options], ['limits', { 'max-length': 2, 'message-ttl': 60_000 }], 'after a restart');

  // Set (durable once the command returns), then crash at once.
  assertSucceeded(await admin(['policy', 'set', 'tighter', '--pattern', '^policed\\.orders$', '--definition', '{"max-length":1,"overflow":"reject-publish"}', '--priority', '5']));
  await broker.kill9();
  broker = await broker.restart({ port: 'any' });
  connection = await connectAmqp(broker);
  const afterCrash = await policedQueue('policed.orders');
  assert.deepEqual([afterCrash?.policy, afterCrash?.effective_options], ['tighter', { 'max-length': 1, overflow: 'reject-publish' }], 'after kill -9 the higher-priority policy applies');
  const lateChannel = await openChannel(connection);
  await lateChannel.assertQueue('policed.later', { durable: false });
  assert.equal((await policedQueue('policed.later'))?.policy, 'limits', 'a queue declared after the restart gets the policy that matches it');
  await lateChannel.close();

  const deleted = await admin(['policy', 'delete', 'tighter']);
  assertSucceeded(deleted);
  assert.equal(deleted.stdout, 'deleted policy tighter\n');
  assert.equal((await policedQueue('policed.orders'))?.policy, 'limits', 'the next best policy takes over');
  assertSucceeded(await admin(['policy', 'delete', 'limits']));
  const none = await policedQueue('policed.orders');
  assert.deepEqual([none?.policy, none?.effective_policy_definition, none?.effective_options], [null, {}, { 'max-length': 5 }]);
  assertFailed(await admin(['policy', 'delete', 'limits']), /^osprey policy delete: NOT_FOUND - no policy 'limits' in vhost '\/'\n$/);
  assert.equal((await admin(['policy', 'list'])).stdout, 'no policies in vhost /\n');
});
