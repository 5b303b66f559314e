/** QueueBroker gives queues declared with x-max-priority a PriorityQueueStore, and finds them again when it reopens. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { contentHeaderPayload } from '../../../src/protocol/amqp/content-header.js';
import type { FieldTable, FieldValue } from '../../../src/protocol/amqp/field-table.js';
import { JournaledDefinitionsStore } from '../../../src/queues/definitions/definitions-store.js';
import { QueueBroker } from '../../../src/queues/queue-broker.js';
import { MemoryQueueStore } from '../../../src/queues/queue-store/memory-queue-store.js';
import { PriorityQueueStore } from '../../../src/queues/queue-store/priority-queue-store.js';
import { LogQueueStore } from '../../../src/queues/queue-store/queue-store.js';
import { logger, settings, withDataDirectory } from './definitions/store-helpers.js';
import { storeSettings, testMessage } from './queue-store/queue-store-fixtures.js';

const table = (entries: Record<string, FieldValue>): FieldTable => new Map(Object.entries(entries));
const declaration = (name: string, durable: boolean, args: FieldTable) => ({ name, passive: false, durable, exclusive: false, autoDelete: false, arguments: args });

async function openBroker(dataDir: string): Promise<QueueBroker> {
  const definitions = await JournaledDefinitionsStore.open(dataDir, settings, logger);
  return QueueBroker.open({ definitions, queuesDirectory: join(dataDir, 'queues'), openDurableStore: (directory) => LogQueueStore.open(directory, storeSettings()) }, logger);
}

function withPriority(index: number, priority: number) {
  return testMessage(index, { properties: contentHeaderPayload({ bodySize: 0n, properties: { deliveryMode: 2, priority } }).subarray(12) });
}

test('x-max-priority 1…255 makes a priority queue, durable or not; 0 or none an ordinary one; a bad value is 406', async () => {
  await withDataDirectory(async (dataDir) => {
    const broker = await openBroker(dataDir);
    const host = broker.virtualHost('/');
    const transient = await broker.declareQueue(host, declaration('transient', false, table({ 'x-max-priority': { type: 'uint8', value: 3 } })), 1);
    assert.ok(transient.store instanceof PriorityQueueStore);
    assert.equal(transient.store.maxPriority, 3);
    const zero = await broker.declareQueue(host, declaration('zero', false, table({ 'x-max-priority': { type: 'int32', value: 0 } })), 1);
    assert.ok(zero.store instanceof MemoryQueueStore);
    const durable = await broker.declareQueue(host, declaration('durable', true, table({ 'x-max-priority': { type: 'int16', value: 255 } })), 1);
    assert.ok(durable.store instanceof PriorityQueueStore);
    const plain = await broker.declareQueue(host, declaration('plain', true, new Map()), 1);
    assert.ok(plain.store instanceof LogQueueStore);
    await assert.rejects(
      broker.declareQueue(host, declaration('bad', false, table({ 'x-max-priority': { type: 'longString', value: Buffer.from('10') } })), 1),
      /PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'bad' in vhost '\/': \{unacceptable_type,longstr\}/,
    );
    await assert.rejects(broker.declareQueue(host, declaration('negative', true, table({ 'x-max-priority': { type: 'int8', value: -1 } })), 1), /\{value_negative,-1\}/);
    await broker.close();
  });
});

test('a durable priority queue is reopened as one, its levels in its folder, its order kept', async () => {
  await withDataDirectory(async (dataDir) => {
    const broker = await openBroker(dataDir);
    const queue = await broker.declareQueue(broker.virtualHost('/'), declaration('ranked', true, table({ 'x-max-priority': { type: 'uint8', value: 10 } })), 1);
    const appended = [2, 9, 2, 0, 9].map((priority, index) => queue.store.append(withPriority(index, priority)));
    await Promise.all(appended.map((each) => each.durable));
    await broker.close();
    assert.deepEqual((await readdir(join(dataDir, 'queues', queue.settings.storageId))).sort(), ['priority-0', 'priority-2', 'priority-9']);

    const reopened = await openBroker(dataDir);
    const again = reopened.queue(reopened.virtualHost('/'), 'ranked', 1);
    assert.ok(again.store instanceof PriorityQueueStore);
    assert.deepEqual(again.store.levelPriorities, [9, 2, 0]);
    const order: string[] = [];
    for (let message = again.take(); message !== null; message = again.take()) order.push(message.message.body.toString());
    assert.deepEqual(order, ['body-1', 'body-4', 'body-0', 'body-2', 'body-3']);
    await reopened.deleteQueue(reopened.virtualHost('/'), 'ranked', { ifUnused: false, ifEmpty: false }, 1);
    await reopened.close();
  });
});
