/** x-delayed-message exchanges in a QueueBroker opened on a real data directory (openQueueBroker): declare rules, routing when due, folders kept and removed, a reopen. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBrokerConfig } from '../../../../src/config/broker-config.js';
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { openQueueBroker } from '../../../../src/queues/open-queue-broker.js';
import type { QueueBroker } from '../../../../src/queues/queue-broker.js';
import { holdDelayed } from '../../../../src/queues/delayed/hold-delayed.js';
import { headersOf } from '../../../../src/queues/delayed/delayed-exchange-type.js';
import { RecordingLogger } from '../queue-store/queue-store-fixtures.js';
import { waitUntil } from '../../../helpers/waiting.js';

const text = (value: string): FieldValue => ({ type: 'longString', value: Buffer.from(value) });
const table = (entries: Record<string, FieldValue>): FieldTable => new Map(Object.entries(entries));

function open(dataDir: string): Promise<QueueBroker> {
  return openQueueBroker({ ...defaultBrokerConfig, dataDir }, new RecordingLogger());
}

function exchange(name: string, routingType: string | null, durable = true) {
  return { name, type: 'x-delayed-message', passive: false, durable, autoDelete: false, internal: false, arguments: routingType === null ? new Map() : table({ 'x-delayed-type': text(routingType) }) };
}

test('a delayed headers exchange checks x-match as a headers exchange, routes on headers when due, and its folder follows it', { timeout: 30_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'osprey-delayed-'));
  try {
    let broker = await open(dataDir);
    let host = broker.virtualHost('/');
    await assert.rejects(broker.declareExchange(host, exchange('none', null)), /PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' is required/);
    await assert.rejects(broker.declareExchange(host, exchange('none', 'x-consistent-hash')), /must be an existing exchange type .*not 'x-consistent-hash'/);
    const delayed = await broker.declareExchange(host, exchange('by-tenant', 'headers'));
    assert.equal(delayed.routingType, 'headers');
    await broker.declareExchange(host, exchange('scratch', 'fanout', false));
    await broker.declareQueue(host, { name: 'eu', passive: false, durable: true, exclusive: false, autoDelete: false, arguments: new Map() }, 1);
    await assert.rejects(broker.bindQueue(host, { source: 'by-tenant', destination: 'eu', routingKey: '', arguments: table({ 'x-match': text('some') }) }, 1), /PRECONDITION_FAILED/);
    await broker.bindQueue(host, { source: 'by-tenant', destination: 'eu', routingKey: '', arguments: table({ tenant: text('eu') }) }, 1);
    const folders = await readdir(join(dataDir, 'amqp', 'delayed'));
    assert.equal(folders.length, 2);
    assert.equal(folders.filter((folder) => folder.startsWith('transient-')).length, 1);

    const publish = (tenant: string, delayMs: number) =>
      holdDelayed(delayed.delayedMessages!, { exchange: 'by-tenant', routingKey: '', header: { properties: { deliveryMode: 2, headers: table({ tenant: text(tenant), 'x-delay': { type: 'int32', value: delayMs } }) } }, body: Buffer.from(tenant) });
    await publish('us', 50);
    await publish('eu', 60);
    await publish('eu', 60_000);
    const queue = broker.queue(host, 'eu', 1);
    await waitUntil(() => queue.messageCount === 1, 'the eu message routed on its headers', 5000);
    const routed = queue.take()!;
    assert.equal(routed.message.body.toString(), 'eu');
    assert.deepEqual(headersOf(routed.message.properties)!.get('x-delay'), { type: 'int32', value: -60 });
    queue.settle(routed);
    await waitUntil(() => broker.delayedMessageCount() === 1, 'routed ones counted out once their queue holds them', 5000);
    await broker.close();

    // Reopened: the durable exchange keeps its held message; the non-durable one's folder is gone.
    broker = await open(dataDir);
    host = broker.virtualHost('/');
    assert.equal(broker.delayedMessageCount(), 1);
    assert.equal(host.exchanges.has('scratch'), false);
    assert.deepEqual(await readdir(join(dataDir, 'amqp', 'delayed')), folders.filter((folder) => !folder.startsWith('transient-')));
    await broker.deleteExchange(host, 'by-tenant', false);
    assert.equal(broker.delayedMessageCount(), 0);
    assert.deepEqual(await readdir(join(dataDir, 'amqp', 'delayed')), []);
    await broker.declareExchange(host, exchange('again', 'direct'));
    await broker.createVirtualHost('other');
    await broker.declareExchange(broker.virtualHost('other'), exchange('again', 'direct'));
    assert.equal((await readdir(join(dataDir, 'amqp', 'delayed'))).length, 2, 'the same name in two virtual hosts: two folders');
    await broker.deleteVirtualHost('other');
    assert.equal((await readdir(join(dataDir, 'amqp', 'delayed'))).length, 1, 'a deleted virtual host takes its delayed exchanges along');
    await broker.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
