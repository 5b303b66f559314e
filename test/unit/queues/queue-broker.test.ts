/** QueueBroker's declare rules that need no disk (non-durable entities): argument equivalence as RabbitMQ judges it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/logging/logger.js';
import type { FieldTable, FieldValue } from '../../../src/protocol/amqp/field-table.js';
import type { DefinitionsStore } from '../../../src/queues/definitions/definitions.js';
import { QueueBroker, type QueueBrokerLimits } from '../../../src/queues/queue-broker.js';

function brokerWithoutDisk(limits?: QueueBrokerLimits): Promise<QueueBroker> {
  const refuse = (): Promise<void> => Promise.reject(new Error('non-durable declarations store nothing'));
  const definitions: DefinitionsStore = {
    definitions: { virtualHosts: ['/'], exchanges: [], queues: [], bindings: [], policies: [] },
    putVirtualHost: refuse, removeVirtualHost: refuse, putExchange: refuse, removeExchange: refuse,
    putQueue: refuse, removeQueue: refuse, putBinding: refuse, removeBinding: refuse, putPolicy: refuse, removePolicy: refuse,
    close: () => Promise.resolve(),
  };
  return QueueBroker.open({ definitions, queuesDirectory: '/nonexistent', openDurableStore: () => Promise.reject(new Error('no disk here')) }, createLogger('error'), limits);
}

const table = (entries: Record<string, FieldValue>): FieldTable => new Map(Object.entries(entries));
const declaration = (name: string, args: FieldTable) => ({ name, passive: false, durable: false, exclusive: false, autoDelete: false, arguments: args });

test('redeclaring with the same integer argument in another wire width is equivalent; another value is 406', async () => {
  const broker = await brokerWithoutDisk();
  const host = broker.virtualHost('/');
  await broker.declareQueue(host, declaration('limited', table({ 'x-max-length': { type: 'int32', value: 10 }, 'x-queue-mode': { type: 'longString', value: Buffer.from('lazy') } })), 1);
  const again = await broker.declareQueue(host, declaration('limited', table({ 'x-queue-mode': { type: 'longString', value: Buffer.from('lazy') }, 'x-max-length': { type: 'uint8', value: 10 } })), 1);
  assert.equal(again.name, 'limited');
  await assert.rejects(broker.declareQueue(host, declaration('limited', table({ 'x-max-length': { type: 'int64', value: 11n }, 'x-queue-mode': { type: 'longString', value: Buffer.from('lazy') } })), 1), /PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'limited' in vhost '\/'/);
  await assert.rejects(broker.declareQueue(host, declaration('limited', table({ 'x-max-length': { type: 'int32', value: 10 } })), 1), /inequivalent arg 'x-queue-mode'/);
  await broker.close();
});

test('queues, declared exchanges and bindings are limited; what is removed makes room again', async () => {
  const broker = await brokerWithoutDisk({ maxQueues: 2, maxExchanges: 1, maxBindings: 2 });
  const host = broker.virtualHost('/');
  await broker.declareQueue(host, declaration('one', new Map()), 1);
  await broker.declareQueue(host, declaration('two', new Map()), 1);
  await assert.rejects(broker.declareQueue(host, declaration('three', new Map()), 1), /PRECONDITION_FAILED - cannot declare queue 'three' in vhost '\/': queue limit \(2, amqp.maxQueues\) is reached/);
  await broker.declareQueue(host, declaration('two', new Map()), 1); // redeclaring is not adding
  await broker.deleteQueue(host, 'two', { ifUnused: false, ifEmpty: false }, 1);
  await broker.declareQueue(host, declaration('three', new Map()), 1);

  const exchange = { type: 'topic', passive: false, durable: false, autoDelete: false, internal: false, arguments: new Map() };
  await broker.declareExchange(host, { ...exchange, name: 'only' });
  await assert.rejects(broker.declareExchange(host, { ...exchange, name: 'second' }), /exchange limit \(1, amqp.maxExchanges\)/);

  const bind = (routingKey: string) => broker.bindQueue(host, { source: 'only', destination: 'one', routingKey, arguments: new Map() }, 1);
  await bind('a');
  await broker.bindQueue(host, { source: 'amq.direct', destination: 'three', routingKey: 'b', arguments: new Map() }, 1);
  await assert.rejects(bind('c'), /binding limit \(2, amqp.maxBindings\)/);
  await broker.deleteQueue(host, 'three', { ifUnused: false, ifEmpty: false }, 1); // its binding goes with it
  await bind('c');
  assert.equal(broker.bindingCount(), 2);
  await broker.close();
});
