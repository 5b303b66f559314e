/**
 * The admin API over real HTTP (the listener on a free port, fetch) against a real queue broker
 * whose definitions and queues are kept in memory: every endpoint, its status codes and JSON
 * shapes, the AMQP errors mapped to HTTP, bad bodies, and 503 when AMQP is off.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../../src/logging/logger.js';
import { Metrics } from '../../../../src/metrics/metrics.js';
import { encodeBasicProperties } from '../../../../src/protocol/amqp/generated/basic.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';
import type { BindingDefinition, Definitions, DefinitionsStore, ExchangeDefinition, PolicyRecord, QueueDefinition } from '../../../../src/queues/definitions/definitions.js';
import { QueueBroker } from '../../../../src/queues/queue-broker.js';
import { MemoryQueueStore } from '../../../../src/queues/queue-store/memory-queue-store.js';
import { maxRequestBodyBytes, startHttpListener } from '../../../../src/server/http/listener.js';
import type { HttpListener } from '../../../../src/server/http/listener.js';

/** Definitions kept in arrays: enough for the queue broker, and what it stored can be looked at. */
class MemoryDefinitionsStore implements DefinitionsStore {
  readonly definitions: Definitions = { virtualHosts: [], exchanges: [], queues: [], bindings: [], policies: [] };
  readonly virtualHosts = new Set<string>();
  readonly exchanges = new Map<string, ExchangeDefinition>();
  readonly queues = new Map<string, QueueDefinition>();
  readonly bindings: BindingDefinition[] = [];
  readonly policies = new Map<string, PolicyRecord>();
  async putVirtualHost(name: string): Promise<void> {
    this.virtualHosts.add(name);
  }
  async removeVirtualHost(name: string): Promise<void> {
    this.virtualHosts.delete(name);
  }
  async putExchange(definition: ExchangeDefinition): Promise<void> {
    this.exchanges.set(`${definition.virtualHost}/${definition.name}`, definition);
  }
  async removeExchange(virtualHost: string, name: string): Promise<void> {
    this.exchanges.delete(`${virtualHost}/${name}`);
  }
  async putQueue(definition: QueueDefinition): Promise<void> {
    this.queues.set(`${definition.virtualHost}/${definition.name}`, definition);
  }
  async removeQueue(virtualHost: string, name: string): Promise<void> {
    this.queues.delete(`${virtualHost}/${name}`);
  }
  async putBinding(definition: BindingDefinition): Promise<void> {
    this.bindings.push(definition);
  }
  async removeBinding(definition: BindingDefinition): Promise<void> {
    const index = this.bindings.findIndex((binding) => binding.source === definition.source && binding.destination === definition.destination && binding.routingKey === definition.routingKey);
    if (index >= 0) this.bindings.splice(index, 1);
  }
  async putPolicy(record: PolicyRecord): Promise<void> {
    this.policies.set(`${record.virtualHost}/${record.name}`, record);
  }
  async removePolicy(virtualHost: string, name: string): Promise<void> {
    this.policies.delete(`${virtualHost}/${name}`);
  }
  async close(): Promise<void> {}
}

const logger = createLogger('error', () => undefined);
let definitions: MemoryDefinitionsStore;
let queueBroker: QueueBroker;
let listener: HttpListener;
let base: string;

before(async () => {
  definitions = new MemoryDefinitionsStore();
  queueBroker = await QueueBroker.open({ definitions, openDurableStore: async () => new MemoryQueueStore(), queuesDirectory: '/nonexistent' }, logger);
  await queueBroker.createVirtualHost('/');
  listener = await startHttpListener('127.0.0.1', 0, new Metrics(), { queueBroker, logger });
  base = `http://127.0.0.1:${listener.port}`;
});

after(async () => {
  await listener?.close();
  await queueBroker?.close();
});

interface Answer {
  readonly status: number;
  readonly json: unknown;
  readonly headers: Headers;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(base + path, {
    method,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown), headers: response.headers };
}

function publish(vhost: string, queue: string, body: Buffer | string, properties: Parameters<typeof encodeBasicProperties>[0] = {}): void {
  const writer = new Writer();
  encodeBasicProperties(properties, writer);
  const host = queueBroker.virtualHosts.get(vhost)!;
  host.queues.get(queue)!.store.append({ exchange: '', routingKey: queue, properties: writer.toBuffer(), body: Buffer.from(body), persistent: false, publishedAtMs: Date.now(), expiresAtMs: null });
}

test('virtual hosts are created, listed with their message counts, and deleted', async () => {
  assert.equal((await call('PUT', '/api/vhosts/staging')).status, 201);
  assert.equal((await call('PUT', '/api/vhosts/staging')).status, 204, 'creating it again changes nothing');
  assert.ok(definitions.virtualHosts.has('staging'));
  await call('PUT', '/api/queues/staging/jobs', {});
  publish('staging', 'jobs', 'one');
  publish('staging', 'jobs', 'two');
  const listed = await call('GET', '/api/vhosts');
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json, [
    { name: '/', messages: 0, messages_ready: 0, messages_unacknowledged: 0 },
    { name: 'staging', messages: 2, messages_ready: 2, messages_unacknowledged: 0 },
  ]);
  assert.deepEqual((await call('GET', '/api/vhosts/staging')).json, { name: 'staging', messages: 2, messages_ready: 2, messages_unacknowledged: 0 });
  assert.equal((await call('DELETE', '/api/vhosts/staging')).status, 204);
  assert.deepEqual(await call('DELETE', '/api/vhosts/staging').then((answer) => [answer.status, answer.json]), [404, { error: 'not_found', reason: "NOT_FOUND - no vhost 'staging'" }]);
  assert.deepEqual((await call('GET', '/api/queues/staging')).json, { error: 'not_found', reason: "NOT_FOUND - no vhost 'staging'" });
});

test('exchanges: declared with RabbitMQ fields, listed with the predeclared ones, deleted with if-unused', async () => {
  const declared = await call('PUT', '/api/exchanges/%2F/orders', { type: 'topic', durable: true, arguments: { 'alternate-exchange': 'unrouted' } });
  assert.equal(declared.status, 201);
  assert.equal((await call('PUT', '/api/exchanges/%2F/orders', { type: 'topic', arguments: { 'alternate-exchange': 'unrouted' } })).status, 204, 'an equivalent declaration');
  const inequivalent = await call('PUT', '/api/exchanges/%2F/orders', { type: 'fanout' });
  assert.equal(inequivalent.status, 400);
  assert.match((inequivalent.json as { reason: string }).reason, /^PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'orders' in vhost '\/'/);
  assert.deepEqual((await call('GET', '/api/exchanges/%2F/orders')).json, { name: 'orders', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: { 'alternate-exchange': 'unrouted' }, policy: null });
  const names = ((await call('GET', '/api/exchanges/%2F')).json as { name: string }[]).map((exchange) => exchange.name);
  assert.deepEqual(names, ['', 'amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.topic', 'orders']);
  assert.deepEqual(((await call('GET', '/api/exchanges')).json as { name: string }[]).map((exchange) => exchange.name), names);
  assert.equal((await call('PUT', '/api/exchanges/%2F/x', {})).status, 400, 'the type is required');
  assert.equal((await call('PUT', '/api/exchanges/%2F/x', { type: 'weird' })).status, 400, 'an unknown type');
  assert.deepEqual(await call('PUT', '/api/exchanges/%2F/amq.custom', { type: 'direct' }).then((answer) => [answer.status, (answer.json as { error: string }).error]), [403, 'access_refused']);
  assert.equal((await call('DELETE', '/api/exchanges/%2F/amq.direct')).status, 403);

  await call('PUT', '/api/queues/%2F/order-events', {});
  assert.equal((await call('POST', '/api/bindings/%2F/e/orders/q/order-events', { routing_key: 'order.*' })).status, 201);
  const inUse = await call('DELETE', '/api/exchanges/%2F/orders?if-unused=true');
  assert.deepEqual([inUse.status, inUse.json], [400, { error: 'bad_request', reason: "PRECONDITION_FAILED - exchange 'orders' in vhost '/' in use" }]);
  assert.equal((await call('DELETE', '/api/exchanges/%2F/orders')).status, 204);
  assert.equal((await call('DELETE', '/api/exchanges/%2F/orders')).status, 404);
  assert.equal(definitions.exchanges.size, 0);
  await call('DELETE', '/api/queues/%2F/order-events');
});

test('queues: declared, shown with counts, purged, deleted with if-empty and if-unused', async () => {
  assert.equal((await call('PUT', '/api/queues/%2F/work', { durable: true, arguments: { 'x-message-ttl': 60_000, 'x-queue-type': 'classic' } })).status, 201);
  assert.ok(definitions.queues.has('//work'), 'a durable queue is stored');
  assert.equal((await call('PUT', '/api/queues/%2F/scratch', { durable: false, auto_delete: true })).status, 201);
  assert.equal((await call('PUT', '/api/queues/%2F/work', { durable: true, arguments: { 'x-message-ttl': 60_000, 'x-queue-type': 'classic' } })).status, 204);
  const inequivalent = await call('PUT', '/api/queues/%2F/work', { durable: false });
  assert.deepEqual([inequivalent.status, (inequivalent.json as { reason: string }).reason], [400, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'work' in vhost '/': received 'false' but current is 'true'"]);
  assert.equal((await call('PUT', '/api/queues/%2F/owned', { exclusive: true })).status, 400, 'an exclusive queue needs a connection');
  publish('/', 'work', 'a');
  publish('/', 'work', 'b');
  const work = await call('GET', '/api/queues/%2F/work');
  assert.deepEqual(work.json, { name: 'work', vhost: '/', durable: true, auto_delete: false, exclusive: false, arguments: { 'x-message-ttl': 60_000, 'x-queue-type': 'classic' }, messages: 2, messages_ready: 2, messages_unacknowledged: 0, consumers: 0, served_here: true, served_by: null, policy: null, effective_policy_definition: {}, effective_options: { 'message-ttl': 60_000 } });
  assert.deepEqual(((await call('GET', '/api/queues')).json as { name: string; durable: boolean }[]).map((queue) => [queue.name, queue.durable]), [['scratch', false], ['work', true]]);
  const notEmpty = await call('DELETE', '/api/queues/%2F/work?if-empty=true');
  assert.deepEqual([notEmpty.status, (notEmpty.json as { reason: string }).reason], [400, "PRECONDITION_FAILED - queue 'work' in vhost '/' not empty"]);
  assert.equal((await call('DELETE', '/api/queues/%2F/work/contents')).status, 204);
  assert.equal(((await call('GET', '/api/queues/%2F/work')).json as { messages: number }).messages, 0, 'purged');
  assert.equal((await call('DELETE', '/api/queues/%2F/work?if-empty=true&if-unused=true')).status, 204);
  assert.ok(!definitions.queues.has('//work'));
  assert.deepEqual(await call('GET', '/api/queues/%2F/work').then((answer) => [answer.status, answer.json]), [404, { error: 'not_found', reason: "NOT_FOUND - no queue 'work' in vhost '/'" }]);
  assert.equal((await call('DELETE', '/api/queues/%2F/work')).status, 404);
  assert.equal((await call('DELETE', '/api/queues/%2F/work/contents')).status, 404);
  await call('DELETE', '/api/queues/%2F/scratch');
});

test('get: messages with decoded properties, requeued or acknowledged per ackmode, payload as string or base64', async () => {
  await call('PUT', '/api/queues/%2F/inbox', {});
  publish('/', 'inbox', 'hello', { contentType: 'text/plain', deliveryMode: 2, headers: new Map([['attempt', { type: 'int32', value: 3 }]]), correlationId: 'c-1', timestamp: 1_700_000_000n, appId: 'tests' });
  publish('/', 'inbox', Buffer.from([0xff, 0xfe, 0x00]));
  publish('/', 'inbox', 'third');

  const peeked = await call('POST', '/api/queues/%2F/inbox/get', { count: 2, ackmode: 'ack_requeue_true', encoding: 'auto' });
  assert.equal(peeked.status, 200);
  assert.deepEqual(peeked.json, [
    {
      payload_bytes: 5,
      redelivered: false,
      exchange: '',
      routing_key: 'inbox',
      message_count: 2,
      properties: { content_type: 'text/plain', headers: { attempt: 3 }, delivery_mode: 2, correlation_id: 'c-1', timestamp: 1_700_000_000, app_id: 'tests' },
      payload: 'hello',
      payload_encoding: 'string',
    },
    { payload_bytes: 3, redelivered: false, exchange: '', routing_key: 'inbox', message_count: 1, properties: {}, payload: '//4A', payload_encoding: 'base64' },
  ]);
  const inbox = queueBroker.virtualHosts.get('/')!.queues.get('inbox')!;
  assert.deepEqual([inbox.messageCount, inbox.unackedCount], [3, 0], 'ack_requeue_true gives them back');

  const again = (await call('POST', '/api/queues/%2F/inbox/get', { count: 10, ackmode: 'ack_requeue_false', encoding: 'base64', truncate: 2 })).json as { payload: string; redelivered: boolean; payload_bytes: number }[];
  assert.deepEqual(
    again.map((message) => [message.payload, message.payload_bytes, message.redelivered]),
    [
      [Buffer.from('he').toString('base64'), 5, true],
      [Buffer.from([0xff, 0xfe]).toString('base64'), 3, true],
      [Buffer.from('th').toString('base64'), 5, false],
    ],
  );
  assert.deepEqual([inbox.messageCount, inbox.unackedCount], [0, 0], 'ack_requeue_false removes them');
  assert.deepEqual((await call('POST', '/api/queues/%2F/inbox/get', { count: 1, ackmode: 'reject_requeue_true' })).json, []);

  assert.equal((await call('POST', '/api/queues/%2F/inbox/get', { count: 1 })).status, 400, 'ackmode is required');
  assert.equal((await call('POST', '/api/queues/%2F/inbox/get', { count: 0, ackmode: 'ack_requeue_true' })).status, 400);
  assert.equal((await call('POST', '/api/queues/%2F/inbox/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'hex' })).status, 400);
  assert.equal((await call('POST', '/api/queues/%2F/missing/get', { count: 1, ackmode: 'ack_requeue_true' })).status, 404);
  await call('DELETE', '/api/queues/%2F/inbox');
});

test('bindings: queue and exchange destinations, listed with properties keys, removed by key', async () => {
  await call('PUT', '/api/exchanges/%2F/events', { type: 'headers' });
  await call('PUT', '/api/exchanges/%2F/audit', { type: 'fanout' });
  await call('PUT', '/api/queues/%2F/billing', {});
  const created = await call('POST', '/api/bindings/%2F/e/events/q/billing', { routing_key: 'a/b~c', arguments: { 'x-match': 'all', kind: 'invoice' } });
  assert.equal(created.status, 201);
  const key = decodeURIComponent(created.headers.get('location') ?? '');
  assert.match(key, /^a\/b%7Ec~[A-Za-z0-9_-]{22}$/);
  assert.equal((await call('POST', '/api/bindings/%2F/e/events/e/audit', {})).status, 201);
  assert.equal((await call('POST', '/api/bindings/%2F/e/events/q/nowhere', {})).status, 404);
  assert.equal((await call('POST', '/api/bindings/%2F/e/missing/q/billing', {})).status, 404);
  assert.equal((await call('POST', '/api/bindings/%2F/e/events/x/billing', {})).status, 404);
  assert.equal((await call('POST', '/api/bindings/%2F/e/amq.default/q/billing', {})).status, 404);
  assert.equal((await call('POST', '/api/bindings/%2F/e/events/q/billing', { arguments: 'no' })).status, 400);

  const listed = (await call('GET', '/api/bindings/%2F')).json as Record<string, unknown>[];
  assert.deepEqual(listed, [
    { source: '', vhost: '/', destination: 'billing', destination_type: 'queue', routing_key: 'billing', arguments: {}, properties_key: 'billing' },
    { source: 'events', vhost: '/', destination: 'audit', destination_type: 'exchange', routing_key: '', arguments: {}, properties_key: '~' },
    { source: 'events', vhost: '/', destination: 'billing', destination_type: 'queue', routing_key: 'a/b~c', arguments: { 'x-match': 'all', kind: 'invoice' }, properties_key: key },
  ]);
  assert.deepEqual((await call('GET', '/api/bindings')).json, listed);
  assert.deepEqual(((await call('GET', '/api/bindings/%2F/e/events/q/billing')).json as unknown[]).length, 1);
  const storedFromEvents = () => definitions.bindings.filter((binding) => binding.source === 'events').length;
  assert.equal(storedFromEvents(), 2, 'bindings between durable ends are stored');

  assert.equal((await call('DELETE', `/api/bindings/%2F/e/events/q/billing/${encodeURIComponent('other')}`)).status, 404);
  assert.equal((await call('DELETE', `/api/bindings/%2F/e/events/q/billing/${encodeURIComponent(key)}`)).status, 204);
  assert.equal((await call('DELETE', '/api/bindings/%2F/e/events/e/audit/~')).status, 204);
  assert.deepEqual((await call('GET', '/api/bindings/%2F/e/events/q/billing')).json, []);
  assert.equal(storedFromEvents(), 0);
  await call('DELETE', '/api/exchanges/%2F/events');
  await call('DELETE', '/api/exchanges/%2F/audit');
  await call('DELETE', '/api/queues/%2F/billing');
});

test('policies are set, listed, shown and deleted in RabbitMQ\'s shapes; queues show the policy that applies and what it does', async () => {
  await call('PUT', '/api/queues/%2F/orders.eu', { arguments: { 'x-max-length': 10 } });
  const body = { pattern: '^orders\\.', definition: { 'max-length': 100, 'message-ttl': 5000 }, priority: 1, 'apply-to': 'queues' };
  assert.equal((await call('PUT', '/api/policies/%2F/orders', body)).status, 201);
  assert.equal((await call('PUT', '/api/policies/%2F/orders', body)).status, 204, 'setting it again replaces it');
  assert.equal((await call('PUT', '/api/policies/%2F/blanket', { pattern: '.*', definition: { expires: 60_000 }, priority: '-1' })).status, 201);
  const expected = { vhost: '/', name: 'orders', pattern: '^orders\\.', 'apply-to': 'queues', definition: { 'max-length': 100, 'message-ttl': 5000 }, priority: 1 };
  assert.deepEqual((await call('GET', '/api/policies/%2F/orders')).json, expected);
  assert.deepEqual((await call('GET', '/api/policies/%2F')).json, [{ vhost: '/', name: 'blanket', pattern: '.*', 'apply-to': 'all', definition: { expires: 60_000 }, priority: -1 }, expected]);
  assert.deepEqual(((await call('GET', '/api/policies')).json as { name: string }[]).map((policy) => policy.name), ['blanket', 'orders']);
  assert.deepEqual(definitions.policies.get('//orders'), { virtualHost: '/', name: 'orders', pattern: '^orders\\.', applyTo: 'queues', priority: 1, definition: { 'max-length': 100, 'message-ttl': 5000 } }, 'stored');

  const queue = (await call('GET', '/api/queues/%2F/orders.eu')).json as Record<string, unknown>;
  assert.deepEqual([queue['policy'], queue['effective_policy_definition'], queue['effective_options']], ['orders', { 'max-length': 100, 'message-ttl': 5000 }, { 'max-length': 10, 'message-ttl': 5000 }]);
  await call('PUT', '/api/queues/%2F/later', {});
  const later = ((await call('GET', '/api/queues/%2F')).json as Record<string, unknown>[]).find((entry) => entry['name'] === 'later')!;
  assert.deepEqual([later['policy'], later['effective_options']], ['blanket', { expires: 60_000 }]);

  assert.equal((await call('DELETE', '/api/policies/%2F/orders')).status, 204);
  const after = (await call('GET', '/api/queues/%2F/orders.eu')).json as Record<string, unknown>;
  assert.deepEqual([after['policy'], after['effective_options']], ['blanket', { 'max-length': 10, expires: 60_000 }], 'the next best policy');
  assert.deepEqual(await call('DELETE', '/api/policies/%2F/orders').then((answer) => [answer.status, answer.json]), [404, { error: 'not_found', reason: "NOT_FOUND - no policy 'orders' in vhost '/'" }]);
  assert.deepEqual(await call('GET', '/api/policies/%2F/orders').then((answer) => [answer.status, answer.json]), [404, { error: 'not_found', reason: "NOT_FOUND - no policy 'orders' in vhost '/'" }]);
  assert.deepEqual(await call('GET', '/api/policies/nowhere').then((answer) => [answer.status, answer.json]), [404, { error: 'not_found', reason: "NOT_FOUND - no vhost 'nowhere'" }]);
  assert.equal((await call('PUT', '/api/policies/nowhere/p', body)).status, 404);
  await call('DELETE', '/api/policies/%2F/blanket');
  await call('DELETE', '/api/queues/%2F/orders.eu');
  await call('DELETE', '/api/queues/%2F/later');
});

test('a policy refused answers 400 with RabbitMQ\'s "Validation failed" reason, and changes nothing', async () => {
  const refusal = async (body: unknown) => {
    const answer = await call('PUT', '/api/policies/%2F/bad', body);
    assert.equal(answer.status, 400);
    return (answer.json as { error: string; reason: string });
  };
  assert.deepEqual(await refusal({ pattern: '.*', definition: { 'ha-mode': 'all' } }), { error: 'bad_request', reason: 'Validation failed\n\n[{<<"ha-mode">>,<<"all">>}] are not recognised' });
  assert.equal((await refusal({ pattern: '.*', definition: { 'max-length': -1 } })).reason, 'Validation failed\n\n-1 is not a valid maximum length');
  assert.match((await refusal({ pattern: '[', definition: { 'max-length': 1 } })).reason, /^Validation failed\n\n<<"\[">> is not a valid regular expression/);
  assert.match((await refusal({ definition: { 'max-length': 1 } })).reason, /the pattern must be a string/);
  assert.match((await refusal({ pattern: '.*', definition: { 'max-length': 1 }, 'apply-to': 'topics' })).reason, /is not a valid apply-to value/);
  assert.match((await refusal({ pattern: '.*' })).reason, /the definition must be a JSON object/);
  assert.equal((await call('PUT', '/api/policies/%2F/bad', [1])).status, 400);
  assert.deepEqual((await call('GET', '/api/policies')).json, []);
  assert.equal(definitions.policies.size, 0);
});

test('bad requests: unknown paths, wrong methods, bodies that are not JSON objects or too large', async () => {
  assert.deepEqual(await call('GET', '/api/nothing').then((answer) => [answer.status, (answer.json as { error: string }).error]), [404, 'not_found']);
  const wrongMethod = await call('POST', '/api/vhosts');
  assert.deepEqual([wrongMethod.status, wrongMethod.headers.get('allow')], [405, 'GET']);
  assert.deepEqual(await call('PUT', '/api/queues/%2F/q', '{"durable": tru').then((answer) => [answer.status, (answer.json as { error: string }).error]), [400, 'bad_request']);
  assert.equal((await call('PUT', '/api/queues/%2F/q', [1, 2])).status, 400);
  assert.equal((await call('PUT', '/api/queues/%2F/q', { durable: 'maybe' })).status, 400);
  assert.equal((await call('PUT', '/api/queues/%2F/q', 'x'.repeat(maxRequestBodyBytes + 1))).status, 413);
  assert.equal((await call('GET', '/api/queues/%E0%A4%A')).status, 400);
  assert.equal(queueBroker.virtualHosts.get('/')!.queues.has('q'), false);
  // /metrics is still there, GET only.
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  await metrics.text();
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' }).then(async (response) => [response.status, await response.text()]))[0], 405);
});

test('with AMQP off every admin path answers 503, and /metrics still works', async () => {
  const off = await startHttpListener('127.0.0.1', 0, new Metrics());
  try {
    const answer = await fetch(`http://127.0.0.1:${off.port}/api/queues`);
    assert.equal(answer.status, 503);
    assert.deepEqual(await answer.json(), { error: 'service_unavailable', reason: 'AMQP is turned off on this broker, so there are no queues to administer' });
    const metrics = await fetch(`http://127.0.0.1:${off.port}/metrics`);
    assert.equal(metrics.status, 200);
    await metrics.text();
  } finally {
    await off.close();
  }
});
