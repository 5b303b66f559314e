/**
 * QueueBroker with policies: set, replaced and deleted policies reach the queues and exchanges they
 * match (Queue.options through applyOptions; Exchange.alternateExchange), including those declared
 * later; the next best policy takes over when one is deleted; policies and their effect come back
 * when the broker is opened again on the same definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/logging/logger.js';
import type { FieldTable, FieldValue } from '../../../src/protocol/amqp/field-table.js';
import { JournaledDefinitionsStore } from '../../../src/queues/definitions/definitions-store.js';
import { PolicyValidationError } from '../../../src/queues/policies/policy.js';
import { QueueBroker } from '../../../src/queues/queue-broker.js';
import { MemoryQueueStore } from '../../../src/queues/queue-store/memory-queue-store.js';
import type { Queue } from '../../../src/queues/queue.js';
import { settings, withDataDirectory } from './definitions/store-helpers.js';

const logger = createLogger('error', () => undefined);
const text = (value: string): FieldValue => ({ type: 'longString', value: Buffer.from(value) });
const table = (entries: Record<string, FieldValue>): FieldTable => new Map(Object.entries(entries));

async function openBroker(dataDir: string): Promise<QueueBroker> {
  const definitions = await JournaledDefinitionsStore.open(dataDir, settings, logger);
  return QueueBroker.open({ definitions, queuesDirectory: '/nonexistent', openDurableStore: async () => new MemoryQueueStore() }, logger);
}

async function withBroker(body: (broker: QueueBroker, reopen: () => Promise<QueueBroker>) => Promise<void>): Promise<void> {
  await withDataDirectory(async (dataDir) => {
    let broker = await openBroker(dataDir);
    try {
      await body(broker, async () => {
        await broker.close();
        broker = await openBroker(dataDir);
        return broker;
      });
    } finally {
      await broker.close();
    }
  });
}

function declareQueue(broker: QueueBroker, name: string, args: FieldTable = new Map(), durable = true): Promise<Queue> {
  return broker.declareQueue(broker.virtualHost('/'), { name, passive: false, durable, exclusive: false, autoDelete: false, arguments: args }, null);
}

const limitsOf = (queue: Queue) => [queue.options.maxLength, queue.options.overflow, queue.options.messageTtlMs, queue.options.deadLetterExchange];

test('a policy reaches the queues it matches, existing and declared later, with the argument/policy precedence', async () => {
  await withBroker(async (broker) => {
    const existing = await declareQueue(broker, 'orders.eu', table({ 'x-max-length': { type: 'int32', value: 10 }, 'x-dead-letter-exchange': text('own-dlx') }));
    const unmatched = await declareQueue(broker, 'billing');
    const transient = await declareQueue(broker, 'orders.scratch', new Map(), false);
    const created = await broker.setPolicy('/', 'orders', { pattern: '^orders\\.', definition: { 'max-length': 100, overflow: 'reject-publish', 'message-ttl': 5000, 'dead-letter-exchange': 'policy-dlx' }, applyTo: 'queues' });
    assert.equal(created, true);
    assert.deepEqual(limitsOf(existing), [10, 'reject-publish', 5000, 'own-dlx'], 'lower length from the argument, the argument\'s DLX');
    assert.deepEqual(limitsOf(unmatched), [null, 'drop-head', null, null]);
    assert.deepEqual(limitsOf(transient), [100, 'reject-publish', 5000, 'policy-dlx'], 'non-durable queues too');
    const later = await declareQueue(broker, 'orders.us');
    assert.deepEqual(limitsOf(later), [100, 'reject-publish', 5000, 'policy-dlx'], 'a queue declared later gets it at once');
    assert.equal(broker.appliedPolicy(later)?.name, 'orders');
    assert.equal(broker.appliedPolicy(unmatched), null);

    assert.equal(await broker.setPolicy('/', 'orders', { pattern: '^orders\\.', definition: { 'max-length': 5 }, applyTo: 'queues' }), false, 'replaced');
    assert.deepEqual(limitsOf(existing), [5, 'drop-head', null, 'own-dlx'], 'a replaced policy re-applies, keys it no longer has go');
    assert.deepEqual(limitsOf(later), [5, 'drop-head', null, null]);
  });
});

test('the highest-priority policy applies; deleting it hands its queues to the next best, then to none', async () => {
  await withBroker(async (broker) => {
    const queue = await declareQueue(broker, 'jobs');
    await broker.setPolicy('/', 'blanket', { pattern: '.*', definition: { 'max-length': 1000 }, priority: -1 });
    await broker.setPolicy('/', 'jobs', { pattern: '^jobs$', definition: { 'max-length': 10 }, priority: 5 });
    await broker.setPolicy('/', 'exchanges-only', { pattern: '.*', definition: { 'max-length': 1 }, priority: 50, applyTo: 'exchanges' });
    assert.equal(broker.appliedPolicy(queue)?.name, 'jobs');
    assert.equal(queue.options.maxLength, 10);
    await broker.deletePolicy('/', 'jobs');
    assert.equal(broker.appliedPolicy(queue)?.name, 'blanket');
    assert.equal(queue.options.maxLength, 1000);
    await broker.deletePolicy('/', 'blanket');
    assert.equal(broker.appliedPolicy(queue), null);
    assert.equal(queue.options.maxLength, null);
    await assert.rejects(broker.deletePolicy('/', 'blanket'), /NOT_FOUND - no policy 'blanket' in vhost '\/'/);
    assert.deepEqual(broker.policies().map((policy) => policy.name), ['exchanges-only']);
  });
});

test('an alternate-exchange policy makes unroutable messages go there, unless the exchange has its own argument', async () => {
  await withBroker(async (broker) => {
    const host = broker.virtualHost('/');
    const declareExchange = (name: string, args: FieldTable = new Map()) => broker.declareExchange(host, { name, type: 'direct', passive: false, durable: true, autoDelete: false, internal: false, arguments: args });
    const plain = await declareExchange('events');
    const own = await declareExchange('audit', table({ 'alternate-exchange': text('own-unrouted') }));
    await declareExchange('unrouted');
    const parked = await declareQueue(broker, 'parked');
    await broker.bindQueue(host, { source: 'unrouted', destination: 'parked', routingKey: 'lost', arguments: new Map() }, null);
    await broker.setPolicy('/', 'ae', { pattern: '.*', definition: { 'alternate-exchange': 'unrouted' }, applyTo: 'exchanges' });
    assert.equal(plain.alternateExchange, 'unrouted');
    assert.equal(own.alternateExchange, 'own-unrouted');
    const reached = new Set<Queue>();
    host.route(plain, 'lost', undefined, reached);
    assert.deepEqual([...reached], [parked], 'routed through the policy\'s alternate exchange');
    const later = await declareExchange('later');
    assert.equal(later.alternateExchange, 'unrouted', 'exchanges declared later get it too');
    await broker.setPolicy('/', 'ae', { pattern: '.*', definition: { 'alternate-exchange': 'unrouted' }, applyTo: 'queues' });
    assert.equal(plain.alternateExchange, null, 'apply-to queues: exchanges no longer get it');
    await broker.deletePolicy('/', 'ae');
    assert.equal(own.alternateExchange, 'own-unrouted');
  });
});

test('policies and what they do come back when the broker opens again; a deleted vhost takes its policies', async () => {
  await withBroker(async (broker, reopen) => {
    await declareQueue(broker, 'orders.eu', table({ 'x-message-ttl': { type: 'int32', value: 60_000 } }));
    await broker.declareExchange(broker.virtualHost('/'), { name: 'events', type: 'topic', passive: false, durable: true, autoDelete: false, internal: false, arguments: new Map() });
    await broker.setPolicy('/', 'orders', { pattern: '^orders', definition: { 'max-length': 7, 'message-ttl': 1000 }, priority: 2, applyTo: 'queues' });
    await broker.setPolicy('/', 'ae', { pattern: '^events$', definition: { 'alternate-exchange': 'elsewhere' }, applyTo: 'exchanges' });
    await broker.createVirtualHost('tenant');
    await broker.setPolicy('tenant', 'tenant-limits', { pattern: '.*', definition: { expires: 1000 } });
    const again = await reopen();
    const queue = again.queue(again.virtualHost('/'), 'orders.eu', null);
    assert.deepEqual([queue.options.maxLength, queue.options.messageTtlMs], [7, 1000]);
    assert.equal(again.exchange(again.virtualHost('/'), 'events').alternateExchange, 'elsewhere');
    assert.deepEqual(again.policies().map((policy) => `${policy.virtualHost}|${policy.name}|${policy.priority}|${policy.applyTo}`), ['/|ae|0|exchanges', '/|orders|2|queues', 'tenant|tenant-limits|0|all']);
    await again.deleteVirtualHost('tenant');
    await again.createVirtualHost('tenant');
    assert.deepEqual(again.policies('tenant'), [], 'a vhost made again starts without the old one\'s policies');
    const third = await reopen();
    assert.deepEqual(third.policies().map((policy) => policy.name), ['ae', 'orders']);
  });
});

test('a refused policy changes nothing; a policy needs its virtual host', async () => {
  await withBroker(async (broker) => {
    const queue = await declareQueue(broker, 'q');
    await broker.setPolicy('/', 'p', { pattern: '.*', definition: { 'max-length': 3 } });
    await assert.rejects(broker.setPolicy('/', 'p', { pattern: '.*', definition: { 'max-length': -1 } }), (error: unknown) => error instanceof PolicyValidationError && error.message === 'Validation failed\n\n-1 is not a valid maximum length');
    await assert.rejects(broker.setPolicy('/', 'p', { pattern: '.*', definition: { 'ha-mode': 'all' } }), /\[\{<<"ha-mode">>,<<"all">>\}\] are not recognised/);
    assert.equal(queue.options.maxLength, 3);
    assert.equal(broker.policy('/', 'p')?.definition['max-length'], 3);
    await assert.rejects(broker.setPolicy('nowhere', 'p', { pattern: '.*', definition: { 'max-length': 1 } }), /NOT_FOUND - no vhost 'nowhere'/);
    await assert.rejects(broker.deletePolicy('nowhere', 'p'), /NOT_FOUND - no vhost 'nowhere'/);
  });
});
