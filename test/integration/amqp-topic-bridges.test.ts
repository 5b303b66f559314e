/**
 * Exchanges bound to Kafka topics and topics feeding queues, through the `osprey` command line
 * (HTTP admin API), amqplib and kcat against real broker processes: what an exchange routes to a
 * bound topic is appended with the routing key as record key (partition by Kafka's hash of it) and
 * the properties as headers; unbinding stops it; a topic feeding a queue publishes into it what
 * kcat produces, properties rebuilt from headers; bindings, feeds and their positions survive a
 * restart and a kill -9 with no record lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumeMessage } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { consumeJson, kcatSucceeds, type ConsumedRecord } from '../helpers/kcat.js';
import { assertFailed, assertSucceeded, osprey, type OspreyResult } from '../helpers/osprey-cli.js';
import { waitUntil } from '../helpers/waiting.js';
import { partitionForKey } from '../../src/client/partitioner.js';

function admin(broker: BrokerProcess, args: readonly string[]): Promise<OspreyResult> {
  assert.ok(broker.httpPort !== null);
  return osprey(broker, [...args, '--http-address', `127.0.0.1:${broker.httpPort}`], { noBrokersFlag: true });
}

function header(record: ConsumedRecord, name: string): string | undefined {
  return record.headers?.find(([key]) => key === name)?.[1]?.toString('latin1');
}

test('exchange bind-topic appends what the exchange routes there, partitioned by routing key; unbind stops it; it survives restarts', async () => {
  let broker = await startBrokerProcess();
  try {
    assertSucceeded(await osprey(broker, ['topic', 'create', 'order-log', '--partitions', '3']));
    assertSucceeded(await admin(broker, ['exchange', 'declare', 'orders', '--type', 'topic']));
    assertFailed(await admin(broker, ['exchange', 'bind-topic', 'orders', 'no-such-topic', '--routing-key', '#']), /NOT_FOUND - no topic 'no-such-topic'/);
    assertSucceeded(await admin(broker, ['exchange', 'bind-topic', 'orders', 'order-log', '--routing-key', 'order.*']));
    const listed = JSON.parse((await admin(broker, ['exchange', 'bindings', 'orders', '--json'])).stdout) as Array<{ destination: string; destination_type: string; routing_key: string }>;
    assert.deepEqual(listed.map((binding) => [binding.destination, binding.destination_type, binding.routing_key]), [['order-log', 'topic', 'order.*']]);

    let connection = await connectAmqp(broker);
    let channel = await connection.createConfirmChannel();
    const keys = ['order.eu', 'order.us', 'order.asia', 'order.eu', 'refund.eu'];
    keys.forEach((key, index) => channel.publish('orders', key, Buffer.from(`m${index}`), { contentType: 'application/json', headers: { region: key.split('.')[1]! } }));
    await channel.waitForConfirms();
    const records = await consumeJson(broker.bootstrap, 'order-log');
    assert.equal(records.length, 4, 'refund.eu does not match order.*');
    for (const record of records) {
      const key = record.key!.toString();
      assert.equal(record.partition, partitionForKey(Buffer.from(key), 3), `${key} is in the partition Kafka's partitioner picks`);
      assert.equal(header(record, 'amqp.exchange'), 'orders');
      assert.equal(header(record, 'amqp.routing-key'), key);
      assert.equal(header(record, 'amqp.content-type'), 'application/json');
      assert.equal(header(record, 'region'), key.split('.')[1]);
    }
    assert.deepEqual(records.filter((record) => record.key?.toString() === 'order.eu').map((record) => record.value?.toString()), ['m0', 'm3'], 'one key keeps its order');
    await connection.close();

    broker = await broker.restart();
    connection = await connectAmqp(broker);
    channel = await connection.createConfirmChannel();
    channel.publish('orders', 'order.eu', Buffer.from('after-restart'));
    await channel.waitForConfirms();
    connection.on('error', () => undefined);
    await broker.kill9();
    broker = await broker.restart();
    assert.equal((await consumeJson(broker.bootstrap, 'order-log')).length, 5, 'the binding came back after a restart, and its record after a kill -9');

    assertSucceeded(await admin(broker, ['exchange', 'bind-topic', 'orders', 'order-log', '--routing-key', 'order.*', '--delete']));
    connection = await connectAmqp(broker);
    channel = await connection.createConfirmChannel();
    channel.publish('orders', 'order.eu', Buffer.from('unbound'));
    await channel.waitForConfirms();
    assert.equal((await consumeJson(broker.bootstrap, 'order-log')).length, 5, 'nothing reaches the topic once unbound');
    assertFailed(await admin(broker, ['exchange', 'unbind-topic', 'orders', 'order-log', '--routing-key', 'order.*']), /NOT_FOUND/);
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test('queue feed-from-topic publishes what the topic gets into the queue, across a restart and a kill -9, losing nothing', async () => {
  let broker = await startBrokerProcess();
  try {
    assertSucceeded(await osprey(broker, ['topic', 'create', 'signups', '--partitions', '2']));
    const produce = (values: readonly string[], extra: readonly string[] = []) =>
      kcatSucceeds(['-P', '-b', broker.bootstrap, '-t', 'signups', '-K', ':', '-D', '\\x1e', ...extra], { input: values.map((value) => `${value}\x1e`).join('') });
    await produce(['old:before-the-feed']);
    let connection = await connectAmqp(broker);
    let channel = await openChannel(connection);
    await channel.assertQueue('mailer', { durable: true });
    assertFailed(await admin(broker, ['queue', 'feed-from-topic', 'mailer', 'nope']), /NOT_FOUND - no topic 'nope'/);
    assertSucceeded(await admin(broker, ['queue', 'feed-from-topic', 'mailer', 'signups']));
    await produce(['ann:a1', 'bob:b1'], ['-H', 'amqp.content-type=text/plain', '-H', 'amqp.delivery-mode=2', '-H', 'plan=pro']);
    const first = await receive(channel, 'mailer', 2);
    channel.ackAll();
    assert.deepEqual(first.map((message) => message.content.toString()).sort(), ['a1', 'b1'], 'only what came after the feed was made');
    const ann = first.find((message) => message.content.toString() === 'a1')!;
    assert.equal(ann.properties.contentType, 'text/plain');
    assert.equal(ann.properties.headers?.['plan'], 'pro');
    assert.equal(ann.fields.routingKey, 'ann', 'the record key is the routing key');
    const feeds = JSON.parse((await admin(broker, ['queue', 'feeds', '--json'])).stdout) as Array<{ queue: string; topic: string; positions: number[] }>;
    assert.deepEqual(feeds.map((feed) => [feed.queue, feed.topic]), [['mailer', 'signups']]);
    await connection.close();

    // A graceful restart, then records produced while the broker is up, then a kill -9.
    broker = await broker.restart();
    const produceAgain = (values: readonly string[]) =>
      kcatSucceeds(['-P', '-b', broker.bootstrap, '-t', 'signups', '-K', ':', '-D', '\\x1e'], { input: values.map((value) => `${value}\x1e`).join('') });
    const wave = Array.from({ length: 40 }, (_, index) => `user${index}:w${index}`);
    await produceAgain(wave);
    await sleep(300);
    await broker.kill9();
    broker = await broker.restart();
    connection = await connectAmqp(broker);
    channel = await openChannel(connection);
    const received: ConsumeMessage[] = [];
    await channel.consume('mailer', (message) => {
      if (message === null) return;
      received.push(message);
      channel.ack(message);
    });
    await waitUntil(() => new Set(received.map((message) => message.content.toString())).size >= 40, 'every record of the wave in the queue');
    const values = new Set(received.map((message) => message.content.toString()));
    for (let index = 0; index < 40; index++) assert.ok(values.has(`w${index}`), `w${index} reached the queue`);
    assert.ok(!values.has('before-the-feed') && !values.has('a1'), 'nothing from before the feed, nor what was acked before the restart');

    assertSucceeded(await admin(broker, ['queue', 'feed-from-topic', 'mailer', 'signups', '--delete']));
    await produceAgain(['late:after-delete']);
    await sleep(500);
    assert.ok(!received.some((message) => message.content.toString() === 'after-delete'), 'a removed feed publishes nothing');
    await connection.close();
  } finally {
    await broker.stop();
  }
});
