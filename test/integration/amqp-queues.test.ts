/**
 * Queues and delivery over AMQP 0-9-1 with amqplib against a real broker process: competing
 * consumers with prefetch, acknowledgements (ack, nack, reject, multiple, requeue with the
 * redelivered flag), basic.get, purge and delete with their conditions, exclusive and auto-delete
 * queues, consumer cancellation by the broker, transactions, basic.recover, unacked messages given
 * back when a channel closes, and message properties carried end to end (RPC with reply-to).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
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
  await connection?.close();
  await broker?.stop();
});

function bodies(messages: readonly { content: Buffer }[]): string[] {
  return messages.map((message) => message.content.toString());
}

test('competing consumers take turns: messages published at once are dealt out round-robin, each once', async () => {
  const setup = await openChannel(connection);
  await setup.assertQueue('tasks', { durable: true });
  await setup.purgeQueue('tasks');
  const workers = await Promise.all([openChannel(connection), openChannel(connection)]);
  const seen: string[][] = [[], []];
  for (const [index, worker] of workers.entries()) {
    await worker.consume('tasks', (message) => {
      if (message === null) return;
      seen[index]!.push(message.content.toString());
      worker.ack(message);
    });
  }
  for (let index = 0; index < 20; index++) setup.sendToQueue('tasks', Buffer.from(`task-${index}`), { persistent: true });
  await waitUntil(() => seen[0]!.length + seen[1]!.length >= 20, 'all 20 tasks delivered', 5000);
  const all = [...seen[0]!, ...seen[1]!].sort();
  assert.deepEqual(all, Array.from({ length: 20 }, (_, index) => `task-${index}`).sort(), 'every task once');
  // Which worker takes the first one depends on the queue's rotation so far; after that they alternate.
  const first = seen[0]!.includes('task-0') ? 0 : 1;
  assert.deepEqual(seen[first], Array.from({ length: 10 }, (_, index) => `task-${2 * index}`));
  assert.deepEqual(seen[1 - first], Array.from({ length: 10 }, (_, index) => `task-${2 * index + 1}`));
  for (const worker of workers) await worker.close();
  await setup.close();
});

test('with prefetch 1 a busy worker gets nothing more until it acks: the free one takes the rest', async () => {
  const setup = await openChannel(connection);
  await setup.assertQueue('work', { durable: true });
  await setup.purgeQueue('work');
  const [slow, fast] = await Promise.all([openChannel(connection), openChannel(connection)]);
  const slowSeen: ConsumeMessage[] = [];
  const fastSeen: string[] = [];
  await slow!.prefetch(1);
  await fast!.prefetch(1);
  await slow!.consume('work', (message) => message && slowSeen.push(message));
  setup.sendToQueue('work', Buffer.from('first'), { persistent: true });
  await waitUntil(() => slowSeen.length > 0, 'the first message delivered to the slow worker', 5000);
  await fast!.consume('work', (message) => {
    if (message === null) return;
    fastSeen.push(message.content.toString());
    fast!.ack(message);
  });
  for (let index = 0; index < 9; index++) setup.sendToQueue('work', Buffer.from(`next-${index}`), { persistent: true });
  await waitUntil(() => fastSeen.length >= 9, '9 messages delivered to the fast worker', 5000);
  assert.deepEqual(slowSeen.map((message) => message.content.toString()), ['first']);
  assert.deepEqual(fastSeen, Array.from({ length: 9 }, (_, index) => `next-${index}`));
  slow!.ack(slowSeen[0]!);
  for (const channel of [slow!, fast!]) await channel.close();
  const { messageCount, consumerCount } = await setup.checkQueue('work');
  assert.equal(messageCount, 0);
  assert.equal(consumerCount, 0);
  await setup.close();
});

test('prefetch limits unacknowledged deliveries per consumer; acks open the window', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  for (let index = 0; index < 10; index++) channel.sendToQueue(queue, Buffer.from(String(index)));
  await channel.prefetch(3);
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message));
  await sleep(300);
  assert.equal(received.length, 3);
  channel.ack(received[2]!, true); // multiple: the first three
  await sleep(300);
  assert.equal(received.length, 6);
  assert.deepEqual(bodies(received), ['0', '1', '2', '3', '4', '5']);
  await channel.close();
});

test('nack and reject with requeue redeliver flagged; without requeue the message is gone', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('a'));
  channel.sendToQueue(queue, Buffer.from('b'));
  channel.sendToQueue(queue, Buffer.from('c'));
  const first = await receive(channel, queue, 3);
  assert.deepEqual(first.map((message) => message.fields.redelivered), [false, false, false]);
  channel.nack(first[0]!, false, true);
  channel.reject(first[1]!, false);
  channel.reject(first[2]!, true);
  const again = await receive(channel, queue, 2);
  assert.deepEqual(bodies(again), ['a', 'c']);
  assert.deepEqual(again.map((message) => message.fields.redelivered), [true, true]);
  channel.ackAll();
  await sleep(100);
  assert.equal(await channel.get(queue), false);
  await channel.close();
});

test('an unknown delivery tag closes the channel with 406', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('x'));
  const [message] = await receive(channel, queue, 1);
  channel.ack(message!);
  channel.ack(message!);
  await assert.rejects(channel.checkQueue(queue), /PRECONDITION_FAILED - unknown delivery tag 1/);
});

test('basic.get, get-empty, purge and delete with if-unused / if-empty', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('inbox', { durable: false });
  assert.equal(await channel.get('inbox'), false);
  for (const body of ['1', '2', '3']) channel.sendToQueue('inbox', Buffer.from(body));
  await sleep(100);
  const got = await channel.get('inbox', { noAck: true });
  assert.ok(got !== false);
  assert.equal(got.content.toString(), '1');
  assert.equal(got.fields.messageCount, 2);
  assert.equal((await channel.checkQueue('inbox')).messageCount, 2);
  await assert.rejects(channel.deleteQueue('inbox', { ifEmpty: true }), /PRECONDITION_FAILED - queue 'inbox' in vhost '\/' not empty/);
  const next = await openChannel(connection);
  assert.equal((await next.purgeQueue('inbox')).messageCount, 2);
  await next.consume('inbox', () => undefined);
  await assert.rejects(next.deleteQueue('inbox', { ifUnused: true }), /PRECONDITION_FAILED - queue 'inbox' in vhost '\/' in use/);
  const last = await openChannel(connection);
  assert.equal((await last.deleteQueue('inbox')).messageCount, 0);
  await assert.rejects(last.checkQueue('inbox'), /NOT_FOUND/);
});

test('exclusive queues belong to their connection and go with it; auto-delete queues go with their last consumer', async () => {
  const owner = await connectAmqp(broker);
  const ownerChannel = await openChannel(owner);
  const { queue } = await ownerChannel.assertQueue('private', { exclusive: true });
  const other = await openChannel(connection);
  await assert.rejects(other.checkQueue(queue), (error: Error & { code?: number }) => error.code === 405 && /RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'private'/.test(error.message));
  await owner.close();
  await sleep(200);
  const checker = await openChannel(connection);
  await assert.rejects(checker.checkQueue('private'), /NOT_FOUND/);

  const channel = await openChannel(connection);
  await channel.assertQueue('temporary', { autoDelete: true, durable: false });
  const { consumerTag } = await channel.consume('temporary', () => undefined);
  assert.equal((await channel.checkQueue('temporary')).consumerCount, 1);
  await channel.cancel(consumerTag);
  await sleep(200);
  await assert.rejects(channel.checkQueue('temporary'), /NOT_FOUND/);
});

test('deleting a queue cancels its consumers (consumer_cancel_notify)', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('doomed', { durable: false });
  let cancelled = false;
  await channel.consume('doomed', (message) => {
    if (message === null) cancelled = true;
  });
  const other = await openChannel(connection);
  await other.deleteQueue('doomed');
  await waitUntil(() => cancelled, 'the consumer cancelled by the broker', 3000);
  assert.ok(cancelled, 'the consumer was told it was cancelled');
  await channel.close();
  await other.close();
});

test('unacknowledged messages go back to the queue when their channel closes', async () => {
  const first = await openChannel(connection);
  await first.assertQueue('handover', { durable: false });
  for (const body of ['x', 'y']) first.sendToQueue('handover', Buffer.from(body));
  await receive(first, 'handover', 2);
  await first.close();
  const second = await openChannel(connection);
  const again = await receive(second, 'handover', 2);
  assert.deepEqual(bodies(again), ['x', 'y']);
  assert.ok(again.every((message) => message.fields.redelivered));
  second.ackAll();
  await second.deleteQueue('handover');
  await second.close();
});

test('basic.recover requeues every unacknowledged delivery of the channel', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('r'));
  const received: ConsumeMessage[] = [];
  await channel.consume(queue, (message) => message && received.push(message));
  await waitUntil(() => received.length >= 1, 'the first delivery', 3000);
  await channel.recover();
  await waitUntil(() => received.length >= 2, 'the redelivery', 3000);
  assert.equal(received.length, 2);
  assert.equal(received[1]!.fields.redelivered, true);
  await channel.close();
});

test('transactions: publishes and acks take effect on commit only; rollback discards them', async () => {
  const channel = await openChannel(connection);
  const { queue } = await channel.assertQueue('', { exclusive: true });
  // amqplib has no tx calls in its API; its channel's rpc() sends any method and awaits the answer.
  const transactional = (await connection.createChannel()) as unknown as { rpc(method: number, fields: object, expect: number): Promise<unknown>; sendToQueue(queue: string, body: Buffer): boolean; close(): Promise<void> };
  const method = (classId: number, methodId: number): number => classId * 65536 + methodId;
  await transactional.rpc(method(90, 10), {}, method(90, 11)); // tx.select
  transactional.sendToQueue(queue, Buffer.from('rolled back'));
  await transactional.rpc(method(90, 30), {}, method(90, 31)); // tx.rollback
  await sleep(100);
  assert.equal(await channel.get(queue), false);
  transactional.sendToQueue(queue, Buffer.from('committed'));
  await sleep(100);
  assert.equal(await channel.get(queue), false, 'not visible before commit');
  await transactional.rpc(method(90, 20), {}, method(90, 21)); // tx.commit
  const message = await channel.get(queue, { noAck: true });
  assert.ok(message !== false);
  assert.equal(message.content.toString(), 'committed');
  await transactional.close();
  await channel.close();
});

test('properties and headers travel end to end (RPC with reply-to and correlation id)', async () => {
  const server = await openChannel(connection);
  await server.assertQueue('rpc_queue', { durable: false });
  await server.consume('rpc_queue', (request) => {
    if (request === null) return;
    const answer = String(Number(request.content.toString()) * 2);
    server.sendToQueue(request.properties.replyTo as string, Buffer.from(answer), { correlationId: request.properties.correlationId, headers: { 'x-served-by': 'test' } });
    server.ack(request);
  });
  const client = await openChannel(connection);
  const { queue: replyTo } = await client.assertQueue('', { exclusive: true });
  client.sendToQueue('rpc_queue', Buffer.from('21'), { replyTo, correlationId: 'abc-123', contentType: 'text/plain', priority: 3, expiration: '60000', timestamp: 1_700_000_000, type: 'question', appId: 'tests', userId: 'guest', headers: { nested: { depth: 2 }, list: [1, 'two'] } });
  const [reply] = await receive(client, replyTo, 1, { noAck: true });
  assert.equal(reply!.content.toString(), '42');
  assert.equal(reply!.properties.correlationId, 'abc-123');
  assert.equal(reply!.properties.headers?.['x-served-by'], 'test');
  await client.close();
  await server.deleteQueue('rpc_queue');
  await server.close();
});
