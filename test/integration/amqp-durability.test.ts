/**
 * What an AMQP broker must keep across a restart, with amqplib against real broker processes:
 * durable exchanges, queues and bindings with their persistent messages (transient messages,
 * non-durable and exclusive queues go, as in RabbitMQ), acknowledged messages stay acknowledged,
 * and after a kill -9 while publishers stream with confirms and consumers ack, every confirmed
 * message that was not acknowledged is delivered again, flagged redelivered when it had been
 * delivered before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel } from 'amqplib';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { waitUntil } from '../helpers/waiting.js';

test('durable definitions and persistent messages survive a restart; transient ones do not', async () => {
  let broker = await startBrokerProcess();
  let connection = await connectAmqp(broker);
  const channel = await openChannel(connection);
  await channel.assertExchange('orders', 'topic', { durable: true });
  await channel.assertQueue('orders-eu', { durable: true });
  await channel.bindQueue('orders-eu', 'orders', 'eu.#');
  await channel.assertQueue('scratch', { durable: false });
  await channel.assertQueue('', { exclusive: true, durable: true });
  const confirm = await connection.createConfirmChannel();
  for (let index = 0; index < 10; index++) confirm.publish('orders', `eu.order.${index}`, Buffer.from(`order-${index}`), { persistent: index % 2 === 0 });
  await confirm.waitForConfirms();
  const acked = await receive(channel, 'orders-eu', 3);
  for (const message of acked.slice(0, 2)) channel.ack(message); // order-0 and order-1 done; order-2 left unacked
  await sleep(200);
  await connection.close();

  broker = await broker.restart({ port: 'any' });
  connection = await connectAmqp(broker);
  const after = await openChannel(connection);
  await after.checkExchange('orders');
  await assert.rejects((await openChannel(connection)).checkQueue('scratch'), /NOT_FOUND/);
  const { messageCount } = await after.checkQueue('orders-eu');
  // Persistent: 0, 2, 4, 6, 8; 0 was acked. Transient ones (odd) are dropped at the restart.
  assert.equal(messageCount, 4);
  const again = await receive(after, 'orders-eu', 4);
  assert.deepEqual(again.map((message) => message.content.toString()), ['order-2', 'order-4', 'order-6', 'order-8']);
  assert.equal(again[0]!.fields.redelivered, true, 'order-2 had been delivered before the restart');
  after.ackAll();
  // The binding came back too.
  const publisher = await connection.createConfirmChannel();
  publisher.publish('orders', 'eu.late', Buffer.from('late'), { persistent: true });
  await publisher.waitForConfirms();
  const [late] = await receive(after, 'orders-eu', 1);
  assert.equal(late!.content.toString(), 'late');
  after.ackAll();
  await sleep(100);
  await connection.close();
  await broker.stop();
});

test('kill -9 right after deliveries nothing else followed: exactly the delivered messages come back flagged redelivered', async () => {
  let broker = await startBrokerProcess();
  let connection = await connectAmqp(broker);
  connection.on('error', () => undefined);
  const setup = await openChannel(connection);
  await setup.assertQueue('handed-out', { durable: true });
  const publisher = await connection.createConfirmChannel();
  publisher.on('error', () => undefined);
  for (let index = 0; index < 20; index++) publisher.sendToQueue('handed-out', Buffer.from(`d-${index}`), { persistent: true });
  await publisher.waitForConfirms();
  // Delivered and never acknowledged: no settle goes into the queue's log, only the delivered mark.
  const consumer = await openChannel(connection);
  await consumer.prefetch(20);
  const delivered: string[] = [];
  await consumer.consume('handed-out', (message) => {
    if (message !== null) delivered.push(message.content.toString());
  });
  await waitUntil(() => delivered.length === 20, '20 deliveries');
  // Two confirmed publishes, one after the other, that the full prefetch window keeps undelivered.
  // Each is appended to the queue's log after the mark written for the deliveries (the mark goes in
  // the write after the one running when they happened), so the second confirm means the mark is on disk.
  for (const id of ['late-0', 'late-1']) {
    publisher.sendToQueue('handed-out', Buffer.from(id), { persistent: true });
    await publisher.waitForConfirms();
  }
  await broker.kill9();

  broker = await broker.restart({ port: 'any' });
  connection = await connectAmqp(broker);
  const reader = await openChannel(connection);
  const again = await receive(reader, 'handed-out', 22);
  assert.deepEqual(
    again.map((message) => [message.content.toString(), message.fields.redelivered]),
    [...delivered.map((id) => [id, true]), ['late-0', false], ['late-1', false]],
  );
  reader.ackAll();
  await sleep(100);
  await connection.close();
  await broker.stop();
});

test('kill -9 while publishing with confirms and consuming with acks loses no confirmed message', async () => {
  let broker = await startBrokerProcess();
  let connection = await connectAmqp(broker);
  connection.on('error', () => undefined);
  const setup = await openChannel(connection);
  await setup.assertQueue('ledger', { durable: true });
  const publisher: ConfirmChannel = await connection.createConfirmChannel();
  publisher.on('error', () => undefined);
  const confirmed = new Set<string>();
  const ackedBeforeCrash = new Set<string>();
  const deliveredBeforeCrash = new Set<string>();
  const consumer = await openChannel(connection);
  await consumer.prefetch(50);
  await consumer.consume('ledger', (message) => {
    if (message === null) return;
    const id = message.content.toString();
    deliveredBeforeCrash.add(id);
    // Ack two out of three; the third stays unacked.
    if (Number(id.slice(2)) % 3 !== 0) {
      consumer.ack(message);
      ackedBeforeCrash.add(id);
    }
  });
  let next = 0;
  let crashed = false;
  const publishing = (async () => {
    while (!crashed) {
      const batch: Promise<void>[] = [];
      for (let index = 0; index < 50; index++) {
        const id = `m-${next++}`;
        batch.push(
          new Promise((resolve) => {
            try {
              publisher.sendToQueue('ledger', Buffer.from(id), { persistent: true }, (error: unknown) => {
                if (!error) confirmed.add(id);
                resolve();
              });
            } catch {
              resolve();
            }
          }),
        );
      }
      await Promise.race([Promise.all(batch), sleep(2000)]);
    }
  })();
  await waitUntil(() => confirmed.size >= 3000, '3000 confirmed publishes', 20_000);
  crashed = true;
  await broker.kill9();
  await publishing;
  assert.ok(confirmed.size >= 3000, `confirmed ${confirmed.size}`);

  broker = await broker.restart({ port: 'any' });
  connection = await connectAmqp(broker);
  const reader = await openChannel(connection);
  const { messageCount } = await reader.checkQueue('ledger');
  const afterRestart = messageCount === 0 ? [] : await receive(reader, 'ledger', messageCount, { timeoutMs: 20_000 });
  const redelivered = new Map(afterRestart.map((message) => [message.content.toString(), message.fields.redelivered]));
  const lost = [...confirmed].filter((id) => !ackedBeforeCrash.has(id) && !redelivered.has(id));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} confirmed, unacknowledged messages were lost`);
  const unflagged = [...redelivered].filter(([id, flag]) => deliveredBeforeCrash.has(id) && !ackedBeforeCrash.has(id) && !flag).map(([id]) => id);
  assert.deepEqual(unflagged.slice(0, 10), [], 'messages delivered before the crash come back flagged redelivered');
  reader.ackAll();
  await sleep(100);
  await connection.close();
  await broker.stop();
});
