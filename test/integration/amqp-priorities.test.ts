/**
 * Priority queues (x-max-priority) with amqplib against real broker processes: messages published
 * with mixed priorities while no consumer is attached come out highest first and FIFO within a
 * priority, through basic.consume and basic.get; a message without priority counts as 0, one above
 * the maximum as the maximum; a nacked message goes back ahead of its own priority only; x-max-priority
 * 0 is an ordinary queue and 256 is refused; a durable priority queue keeps its order over a
 * restart and a kill -9; and Python's pika doing the same (test/fixtures/amqp-python/priorities.py).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ChannelModel, ConsumeMessage, GetMessage } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { repositoryRoot, requirePythonModule } from '../helpers/tools.js';
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

/** Priorities 0…10, some missing, some above 10, in a shuffled but fixed order (index i is message i). */
const mixedPriorities: ReadonlyArray<number | undefined> = [3, 0, 10, undefined, 7, 7, 1, 255, 5, 10, 2, 0, 9, 11, 4, 6, 8, 3, undefined, 10, 1, 5, 2, 9, 6, 4, 8, 0];

function body(index: number): string {
  return `m-${index}`;
}

/** The indexes in the order a queue with this maximum must deliver them: highest priority first, publish order within one. */
function expectedOrder(priorities: ReadonlyArray<number | undefined>, maxPriority: number): string[] {
  const level = (index: number): number => Math.min(priorities[index] ?? 0, maxPriority);
  return priorities
    .map((_, index) => index)
    .sort((left, right) => level(right) - level(left) || left - right)
    .map(body);
}

/** Publishes message `firstIndex + i` with priorities[i] (none when undefined), confirmed. */
async function publishAll(channelModel: ChannelModel, queue: string, priorities: ReadonlyArray<number | undefined>, persistent: boolean, firstIndex = 0): Promise<void> {
  const publisher = await channelModel.createConfirmChannel();
  priorities.forEach((priority, index) => publisher.sendToQueue(queue, Buffer.from(body(firstIndex + index)), { persistent, ...(priority === undefined ? {} : { priority }) }));
  await publisher.waitForConfirms();
  await publisher.close();
}

function contents(messages: ReadonlyArray<ConsumeMessage | GetMessage>): string[] {
  return messages.map((message) => message.content.toString());
}

for (const durable of [false, true]) {
  test(`${durable ? 'durable' : 'transient'} queue: published without a consumer, consumed highest priority first, FIFO within one; none = 0, above the maximum = the maximum`, async () => {
    const channel = await openChannel(connection);
    const queue = `priorities-${durable ? 'durable' : 'transient'}`;
    const declared = await channel.assertQueue(queue, { durable, arguments: { 'x-max-priority': 10 } });
    assert.equal(declared.messageCount, 0);
    await publishAll(connection, queue, mixedPriorities, durable);
    assert.equal((await channel.checkQueue(queue)).messageCount, mixedPriorities.length);
    await channel.prefetch(1);
    const received = await receive(channel, queue, mixedPriorities.length, { noAck: true });
    assert.deepEqual(contents(received), expectedOrder(mixedPriorities, 10));
    assert.equal(received[0]!.properties.priority, 10);
    assert.equal(received.at(-1)!.properties.priority, 0, 'the property is delivered as published');
    await channel.deleteQueue(queue);
    await channel.close();
  });
}

test('basic.get takes the highest priority first too, and the message count follows', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('priorities-get', { durable: true, arguments: { 'x-max-priority': 5 } });
  const priorities = [1, 5, undefined, 3, 5, 1, 200];
  await publishAll(connection, 'priorities-get', priorities, true);
  const got: GetMessage[] = [];
  for (let message = await channel.get('priorities-get', { noAck: true }); message !== false; message = await channel.get('priorities-get', { noAck: true })) {
    assert.equal(message.fields.messageCount, priorities.length - got.length - 1);
    got.push(message);
  }
  assert.deepEqual(contents(got), expectedOrder(priorities, 5));
  assert.deepEqual(contents(got), ['m-1', 'm-4', 'm-6', 'm-3', 'm-0', 'm-5', 'm-2']);
  await channel.deleteQueue('priorities-get');
  await channel.close();
});

test('a nacked message goes back ahead of its own priority, behind higher ones published meanwhile', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('priorities-requeue', { arguments: { 'x-max-priority': 9 } });
  await publishAll(connection, 'priorities-requeue', [4, 4, 1], false);
  const first = await channel.get('priorities-requeue');
  assert.ok(first !== false);
  assert.equal(first.content.toString(), 'm-0');
  const publisher = await connection.createConfirmChannel();
  publisher.sendToQueue('priorities-requeue', Buffer.from('urgent'), { priority: 9 });
  await publisher.waitForConfirms();
  channel.nack(first, false, true);
  const order: Array<[string, boolean]> = [];
  for (let message = await channel.get('priorities-requeue', { noAck: true }); message !== false; message = await channel.get('priorities-requeue', { noAck: true })) {
    order.push([message.content.toString(), message.fields.redelivered]);
  }
  assert.deepEqual(order, [
    ['urgent', false],
    ['m-0', true],
    ['m-1', false],
    ['m-2', false],
  ]);
  await publisher.close();
  await channel.close();
});

test('x-max-priority 0 is an ordinary queue (publish order); 256 is refused with 406; the argument must match on redeclare', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('priorities-zero', { arguments: { 'x-max-priority': 0 } });
  await publishAll(connection, 'priorities-zero', [0, 9, 3], false);
  assert.deepEqual(contents(await receive(channel, 'priorities-zero', 3, { noAck: true })), ['m-0', 'm-1', 'm-2']);
  const refused = await openChannel(connection);
  await assert.rejects(refused.assertQueue('priorities-too-high', { arguments: { 'x-max-priority': 256 } }), /PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'priorities-too-high' in vhost '\/': \{value_too_large,256,255\}/);
  const inequivalent = await openChannel(connection);
  await inequivalent.assertQueue('priorities-redeclared', { arguments: { 'x-max-priority': 3 } });
  await assert.rejects(inequivalent.assertQueue('priorities-redeclared', { arguments: { 'x-max-priority': 4 } }), /PRECONDITION_FAILED - inequivalent arg 'x-max-priority'/);
  await channel.close();
});

test('a consumer with prefetch 1 gets a message at once; a burst published while it holds it comes out highest first, one per ack', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('priorities-prefetch', { arguments: { 'x-max-priority': 10 } });
  await channel.prefetch(1);
  const received: ConsumeMessage[] = [];
  await channel.consume('priorities-prefetch', (message) => message && received.push(message));
  // The first message goes out as it comes (nothing else is ready); the burst after it waits for its ack, then each next one's.
  await publishAll(connection, 'priorities-prefetch', [0], false);
  await waitUntil(() => received.length === 1, 'the first delivery', 5000);
  const priorities = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  await publishAll(connection, 'priorities-prefetch', priorities, false, 1);
  for (let count = 1; count <= priorities.length + 1; count++) {
    await waitUntil(() => received.length >= count, `delivery ${count}`, 5000);
    assert.equal(received.length, count, 'prefetch 1: one unacked delivery at a time');
    channel.ack(received[count - 1]!);
  }
  assert.deepEqual(contents(received), ['m-0', 'm-10', 'm-9', 'm-8', 'm-7', 'm-6', 'm-5', 'm-4', 'm-3', 'm-2', 'm-1']);
  assert.equal((await channel.checkQueue('priorities-prefetch')).messageCount, 0);
  await channel.close();
});

test('a durable priority queue keeps its order over a restart and a kill -9; unacked messages come back redelivered', async () => {
  let durableBroker = await startBrokerProcess();
  let client = await connectAmqp(durableBroker);
  const channel = await openChannel(client);
  await channel.assertQueue('priorities-kept', { durable: true, arguments: { 'x-max-priority': 10 } });
  await publishAll(client, 'priorities-kept', mixedPriorities, true);
  const order = expectedOrder(mixedPriorities, 10);
  // The first three are delivered and left unacked; the fourth is acked.
  await channel.prefetch(4);
  const delivered = await receive(channel, 'priorities-kept', 4);
  assert.deepEqual(contents(delivered), order.slice(0, 4));
  channel.ack(delivered[3]!);
  await channel.checkQueue('priorities-kept'); // a round trip: the ack is in before the restart
  await client.close();

  durableBroker = await durableBroker.restart({ port: 'any' });
  client = await connectAmqp(durableBroker);
  const afterRestart = await openChannel(client);
  assert.equal((await afterRestart.checkQueue('priorities-kept')).messageCount, mixedPriorities.length - 1);
  // Take a few more without acking, then crash.
  await afterRestart.prefetch(6);
  const beforeCrash = await receive(afterRestart, 'priorities-kept', 6);
  const remaining = [...order.slice(0, 3), ...order.slice(4)];
  assert.deepEqual(contents(beforeCrash), remaining.slice(0, 6));
  assert.deepEqual(
    beforeCrash.slice(0, 4).map((message) => message.fields.redelivered),
    [true, true, true, false],
  );
  // Three more, confirmed, then the crash.
  const late: ReadonlyArray<number | undefined> = [undefined, 10, 4];
  await publishAll(client, 'priorities-kept', late, true, mixedPriorities.length);
  client.on('error', () => undefined);
  await durableBroker.kill9();

  durableBroker = await durableBroker.restart({ port: 'any' });
  client = await connectAmqp(durableBroker);
  const afterCrash = await openChannel(client);
  const { messageCount } = await afterCrash.checkQueue('priorities-kept');
  assert.equal(messageCount, mixedPriorities.length - 1 + late.length);
  const everything = await receive(afterCrash, 'priorities-kept', messageCount, { noAck: true });
  // All but the acked one, the late ones in their places: m-29 (priority 10) after the other 10s.
  assert.deepEqual(
    contents(everything),
    expectedOrder([...mixedPriorities, ...late], 10).filter((name) => name !== order[3]),
  );
  await client.close();
  await durableBroker.stop();
});

test('with other arguments the head is the highest ready message: TTL expires it first, drop-head drops it, a delivery limit counts returns per message', async () => {
  const channel = await openChannel(connection);
  await channel.assertQueue('priorities-dead', { durable: true });
  await channel.purgeQueue('priorities-dead');
  const deadLetter = { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'priorities-dead' };
  await channel.assertQueue('priorities-ttl', { durable: true, arguments: { 'x-max-priority': 5, 'x-message-ttl': 200, ...deadLetter } });
  await publishAll(connection, 'priorities-ttl', [1, 5, 3], true);
  const expired = await receive(channel, 'priorities-dead', 3, { noAck: true });
  assert.deepEqual(contents(expired), ['m-1', 'm-2', 'm-0'], 'expired from the head, highest first, without a consumer');
  for (const message of expired) assert.equal((message.properties.headers?.['x-death'] as Array<{ reason: string }>)[0]!.reason, 'expired');
  assert.equal((await channel.checkQueue('priorities-ttl')).messageCount, 0);

  await channel.assertQueue('priorities-full', { durable: true, arguments: { 'x-max-priority': 5, 'x-max-length': 2, ...deadLetter } });
  await publishAll(connection, 'priorities-full', [1, 5, 3], true);
  assert.deepEqual(contents(await receive(channel, 'priorities-dead', 1, { noAck: true })), ['m-1'], 'the third publish made the highest one the head dropped');
  assert.deepEqual(contents(await receive(channel, 'priorities-full', 2, { noAck: true })), ['m-2', 'm-0']);

  await channel.assertQueue('priorities-limited', { durable: true, arguments: { 'x-max-priority': 5, 'x-delivery-limit': 1, ...deadLetter } });
  await publishAll(connection, 'priorities-limited', [2, 4], true);
  const returned: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (let message = await channel.get('priorities-limited'); message !== false; message = await channel.get('priorities-limited')) {
      returned.push(`${message.content.toString()}:${String(message.properties.headers?.['x-delivery-count'] ?? 0)}`);
      channel.nack(message, false, true);
    }
  }
  // The first get sees m-1 (priority 4); nacked, it is back ahead of m-0, until its second return dead-letters it.
  assert.deepEqual(returned, ['m-1:0', 'm-1:1', 'm-0:0', 'm-0:1']);
  assert.deepEqual(contents(await receive(channel, 'priorities-dead', 2, { noAck: true })), ['m-1', 'm-0']);
  await channel.close();
});

test('pika: a priority queue declared, published to without confirms, then read with basic.get and consume, highest first', async () => {
  const python = requirePythonModule('pika', 'python3-pika');
  const programs = join(repositoryRoot(), 'test', 'fixtures', 'amqp-python');
  const { stdout } = await promisify(execFile)(python, [join(programs, 'priorities.py'), String(broker.amqpPort)], {
    cwd: programs,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    timeout: 60_000,
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { got: Array<[string, number | null] | null>; consumed: string[] };
  assert.deepEqual(result.got, [
    ['top', 10],
    ['above', 42],
    ['mid', 5],
  ]);
  assert.deepEqual(result.consumed, ['mid-2', 'low', 'low-2', 'none']);
});

