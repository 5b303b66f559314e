/**
 * Stream queues, one log for both protocols, with amqplib and kcat against real broker processes:
 * a queue declared with x-queue-type: stream is the Kafka topic of its name; AMQP publishes are read
 * by kcat with their properties as record headers; records produced with kcat are consumed over
 * AMQP from each x-stream-offset form; RabbitMQ's refusals (no prefetch, no-ack, basic.get,
 * non-durable); confirmed messages survive a restart and a kill -9; deleting the queue deletes the
 * topic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ConsumeMessage } from 'amqplib';
import kafkajs from 'kafkajs';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel } from '../helpers/amqp-client.js';
import { consumeJson, kcatSucceeds, type ConsumedRecord } from '../helpers/kcat.js';
import { waitUntil } from '../helpers/waiting.js';
import { assertSucceeded, osprey } from '../helpers/osprey-cli.js';

const streamArguments = { 'x-queue-type': 'stream' };

function header(record: ConsumedRecord, name: string): string | undefined {
  const found = record.headers?.find(([key]) => key === name);
  return found?.[1]?.toString('latin1');
}

/** Produces values with kcat (one record each, in order), with optional headers on every record. */
async function kcatProduce(broker: BrokerProcess, topic: string, values: readonly string[], headers: readonly string[] = []): Promise<void> {
  await kcatSucceeds(['-P', '-b', broker.bootstrap, '-t', topic, '-p', '0', '-D', '\\x1e', ...headers.flatMap((pair) => ['-H', pair])], { input: values.map((value) => `${value}\x1e`).join('') });
}

/** Consumes `count` deliveries from a stream with a prefetch, acking each; returns them. */
async function consumeStream(channel: Channel, queue: string, count: number, offset: unknown, prefetch = 10): Promise<ConsumeMessage[]> {
  await channel.prefetch(prefetch);
  const received: ConsumeMessage[] = [];
  const { consumerTag } = await channel.consume(
    queue,
    (message) => {
      if (message === null) return;
      received.push(message);
      channel.ack(message);
    },
    { noAck: false, arguments: offset === undefined ? {} : { 'x-stream-offset': offset } },
  );
  await waitUntil(() => received.length >= count, `${count} deliveries from stream '${queue}' (got ${received.length})`);
  await sleep(100); // anything beyond `count` would show up now
  await channel.cancel(consumerTag);
  return received;
}

test('AMQP publishes to a stream queue are records of the topic of its name, properties as headers', async () => {
  const broker = await startBrokerProcess();
  try {
    const connection = await connectAmqp(broker);
    const channel = await connection.createConfirmChannel();
    const declared = await channel.assertQueue('events', { durable: true, arguments: streamArguments });
    assert.equal(declared.queue, 'events');
    channel.publish('', 'events', Buffer.from('first'), { contentType: 'text/plain', messageId: 'm-1', priority: 3, timestamp: 1_700_000_000, headers: { tenant: 'acme', attempt: 2 } });
    channel.publish('', 'events', Buffer.from('second'), { persistent: true });
    await channel.waitForConfirms();
    const records = await consumeJson(broker.bootstrap, 'events');
    assert.deepEqual(records.map((record) => record.value?.toString()), ['first', 'second']);
    const [first, second] = records as [ConsumedRecord, ConsumedRecord];
    assert.equal(first.key?.toString(), 'events', 'the routing key is the record key');
    assert.equal(header(first, 'amqp.exchange'), '');
    assert.equal(header(first, 'amqp.routing-key'), 'events');
    assert.equal(header(first, 'amqp.content-type'), 'text/plain');
    assert.equal(header(first, 'amqp.message-id'), 'm-1');
    assert.equal(header(first, 'amqp.priority'), '3');
    assert.equal(header(first, 'amqp.timestamp'), '1700000000');
    assert.equal(header(first, 'tenant'), 'acme');
    assert.equal(header(first, 'attempt'), '2');
    assert.ok(header(first, 'amqp.headers') !== undefined, 'a non-string header keeps the exact table in amqp.headers');
    assert.equal(header(second, 'amqp.delivery-mode'), '2');
    assert.equal(header(second, 'amqp.content-type'), undefined);

    // Read back over AMQP: the same properties, the typed header exact, plus x-stream-offset.
    const reader = await openChannel(connection);
    const deliveries = await consumeStream(reader, 'events', 2, 'first');
    assert.deepEqual(deliveries.map((message) => message.content.toString()), ['first', 'second']);
    const [again] = deliveries as [ConsumeMessage];
    assert.equal(again.properties.contentType, 'text/plain');
    assert.equal(again.properties.messageId, 'm-1');
    assert.equal(again.properties.priority, 3);
    assert.equal(again.properties.timestamp, 1_700_000_000);
    assert.equal(again.properties.headers?.['tenant'], 'acme');
    assert.equal(again.properties.headers?.['attempt'], 2);
    assert.equal(again.properties.headers?.['x-stream-offset'], 0);
    assert.equal(deliveries[1]!.properties.headers?.['x-stream-offset'], 1);
    assert.equal(deliveries[1]!.properties.deliveryMode, 2);
    assert.equal(again.fields.routingKey, 'events');
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test('records produced with kcat are consumed over AMQP from first, last, next, an offset and a timestamp', async () => {
  const broker = await startBrokerProcess();
  try {
    const connection = await connectAmqp(broker);
    const channel = await openChannel(connection);
    await channel.assertQueue('clicks', { durable: true, arguments: streamArguments });
    await kcatProduce(broker, 'clicks', ['c0', 'c1', 'c2']);
    await sleep(1100); // the next records are stamped a second later: a timestamp can tell them apart
    const betweenSeconds = Math.floor(Date.now() / 1000);
    await sleep(1100);
    await kcatProduce(broker, 'clicks', ['c3', 'c4'], ['source=kcat']);

    const values = (messages: readonly ConsumeMessage[]) => messages.map((message) => message.content.toString());
    assert.deepEqual(values(await consumeStream(await openChannel(connection), 'clicks', 5, 'first')), ['c0', 'c1', 'c2', 'c3', 'c4']);
    const fromOffset = await consumeStream(await openChannel(connection), 'clicks', 3, 2);
    assert.deepEqual(values(fromOffset), ['c2', 'c3', 'c4']);
    assert.deepEqual(fromOffset.map((message) => message.properties.headers?.['x-stream-offset']), [2, 3, 4]);
    assert.deepEqual(values(await consumeStream(await openChannel(connection), 'clicks', 2, { '!': 'timestamp', value: betweenSeconds + 1 })), ['c3', 'c4']);
    const kcatRecord = (await consumeStream(await openChannel(connection), 'clicks', 1, 4))[0]!;
    assert.equal(kcatRecord.properties.headers?.['source'], 'kcat', 'record headers become AMQP headers');
    assert.equal(kcatRecord.properties.contentType, undefined, 'a record without amqp.* headers has plain properties');
    assert.equal(kcatRecord.fields.exchange, '');

    // next (the default): only what comes after the consumer starts.
    const nextChannel = await openChannel(connection);
    await nextChannel.prefetch(5);
    const late: ConsumeMessage[] = [];
    await nextChannel.consume('clicks', (message) => {
      if (message === null) return;
      late.push(message);
      nextChannel.ack(message);
    });
    await sleep(200);
    await kcatProduce(broker, 'clicks', ['c5']);
    await waitUntil(() => late.length >= 1, 'the record produced after the consumer started');
    await sleep(100);
    assert.deepEqual(values(late), ['c5']);
    // c5 was produced alone, so it is the last batch: "last" starts there (RabbitMQ's last chunk).
    assert.deepEqual(values(await consumeStream(await openChannel(connection), 'clicks', 1, 'last')), ['c5']);
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test('the prefetch window bounds unacked deliveries; acks only give credit back', async () => {
  const broker = await startBrokerProcess();
  try {
    const connection = await connectAmqp(broker);
    const publisher = await connection.createConfirmChannel();
    await publisher.assertQueue('ticks', { durable: true, arguments: streamArguments });
    for (let index = 0; index < 10; index++) publisher.sendToQueue('ticks', Buffer.from(`t${index}`));
    await publisher.waitForConfirms();
    const channel = await openChannel(connection);
    await channel.prefetch(3);
    const received: ConsumeMessage[] = [];
    await channel.consume('ticks', (message) => message !== null && received.push(message), { arguments: { 'x-stream-offset': 'first' } });
    await waitUntil(() => received.length === 3, 'three deliveries');
    await sleep(200);
    assert.equal(received.length, 3, 'no more than the prefetch while nothing is acked');
    channel.ack(received[2]!, true);
    await waitUntil(() => received.length === 6, 'three more after the acks');
    // Nothing was removed: a second consumer reads everything again.
    const all = await consumeStream(await openChannel(connection), 'ticks', 10, 'first');
    assert.equal(all.length, 10);
    const { messageCount } = await publisher.checkQueue('ticks');
    assert.equal(messageCount, 10, 'declare-ok counts what the stream holds');
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test("RabbitMQ's refusals: non-durable, exclusive, auto-delete, no prefetch, no-ack, basic.get, purge", async () => {
  const broker = await startBrokerProcess();
  try {
    const connection = await connectAmqp(broker);
    const refused = async (action: (channel: Channel) => Promise<unknown>, pattern: RegExp) => {
      const channel = await openChannel(connection);
      channel.on('error', () => undefined);
      await assert.rejects(action(channel), pattern);
    };
    await refused((channel) => channel.assertQueue('s1', { durable: false, arguments: streamArguments }), /PRECONDITION_FAILED - invalid property 'non-durable' for queue 's1' in vhost '\/'/);
    await refused((channel) => channel.assertQueue('s1', { durable: true, exclusive: true, arguments: streamArguments }), /invalid property 'exclusive-owner'/);
    await refused((channel) => channel.assertQueue('s1', { durable: true, autoDelete: true, arguments: streamArguments }), /invalid property 'auto-delete'/);
    await refused((channel) => channel.assertQueue('bad name', { durable: true, arguments: streamArguments }), /PRECONDITION_FAILED - cannot declare stream .*cannot name a Kafka topic/);
    const channel = await openChannel(connection);
    await channel.assertQueue('s1', { durable: true, arguments: streamArguments });
    await refused((other) => other.consume('s1', () => undefined), /PRECONDITION_FAILED - consumer prefetch count is not set for stream queue 's1' in vhost '\/'/);
    await refused(async (other) => {
      await other.prefetch(10);
      return other.consume('s1', () => undefined, { arguments: { 'x-stream-offset': 'yesterday' } });
    }, /failed consuming from stream queue 's1'/);
    // One topic backs one stream: the same name in another vhost is refused.
    assert.equal((await fetch(`http://127.0.0.1:${broker.httpPort}/api/vhosts/other`, { method: 'PUT' })).status, 201);
    const elsewhere = await connectAmqp(broker, 'other');
    const elsewhereChannel = await elsewhere.createChannel();
    elsewhereChannel.on('error', () => undefined);
    await assert.rejects(elsewhereChannel.assertQueue('s1', { durable: true, arguments: streamArguments }), /topic 's1' already backs the stream queue in vhost '\/'/);
    await elsewhere.close();
    // The admin API answers the same refusals with 400.
    const adminGet = await fetch(`http://127.0.0.1:${broker.httpPort}/api/queues/%2F/s1/get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1, ackmode: 'ack_requeue_true' }) });
    assert.equal(adminGet.status, 400);
    assert.match(await adminGet.text(), /basic.get not supported by stream queues/);
    const adminPurge = await fetch(`http://127.0.0.1:${broker.httpPort}/api/queues/%2F/s1/contents`, { method: 'DELETE' });
    assert.equal(adminPurge.status, 400);
    // 540 NOT_IMPLEMENTED closes the connection: each on a connection of its own.
    for (const [action, pattern] of [
      [async (other: Channel) => { await other.prefetch(10); return other.consume('s1', () => undefined, { noAck: true }); }, /automatic acknowledgement not supported by stream queue 's1'/],
      [(other: Channel) => other.get('s1'), /basic.get not supported by stream queues queue 's1'/],
      [(other: Channel) => other.purgeQueue('s1'), /queue.purge not supported by stream queues/],
    ] as const) {
      const own = await connectAmqp(broker);
      const closedWith: Error[] = [];
      own.on('error', (error: Error) => closedWith.push(error));
      const ownChannel = await own.createChannel();
      ownChannel.on('error', () => undefined);
      await assert.rejects(action(ownChannel));
      await waitUntil(() => closedWith.length > 0, 'the connection closed by the broker');
      assert.match(closedWith[0]!.message, /540/);
      assert.match(closedWith[0]!.message, pattern);
    }
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test('confirmed stream messages survive a restart and a kill -9; deleting the queue deletes the topic', async () => {
  let broker = await startBrokerProcess();
  try {
    let connection = await connectAmqp(broker);
    let channel = await connection.createConfirmChannel();
    await channel.assertQueue('ledger', { durable: true, arguments: streamArguments });
    for (let index = 0; index < 20; index++) channel.sendToQueue('ledger', Buffer.from(`entry-${index}`)); // transient: a stream keeps them anyway
    await channel.waitForConfirms();
    await connection.close();

    broker = await broker.restart();
    connection = await connectAmqp(broker);
    channel = await connection.createConfirmChannel();
    await channel.checkQueue('ledger');
    for (let index = 20; index < 40; index++) channel.sendToQueue('ledger', Buffer.from(`entry-${index}`));
    await channel.waitForConfirms();
    connection.on('error', () => undefined); // the kill ends it
    await broker.kill9();

    broker = await broker.restart();
    connection = await connectAmqp(broker);
    const reader = await openChannel(connection);
    const all = await consumeStream(reader, 'ledger', 40, 'first');
    assert.deepEqual(all.map((message) => message.content.toString()), Array.from({ length: 40 }, (_, index) => `entry-${index}`));
    assert.equal((await consumeJson(broker.bootstrap, 'ledger')).length, 40, 'Kafka readers see the same 40 records');

    await reader.deleteQueue('ledger');
    const listing = await kcatSucceeds(['-L', '-b', broker.bootstrap, '-J']);
    const topics = (JSON.parse(listing.stdout.toString()) as { topics: Array<{ topic: string }> }).topics.map((topic) => topic.topic);
    assert.ok(!topics.includes('ledger'), `the topic went with the queue (topics: ${topics.join(', ')})`);
    await connection.close();
  } finally {
    await broker.stop();
  }
});

test('a KafkaJS consumer group reads what AMQP wrote; an existing topic is adopted; retention comes from x-max-age and x-max-length-bytes', async () => {
  const broker = await startBrokerProcess();
  const kafka = new kafkajs.Kafka({ clientId: 'osprey-streams', brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'stream-readers' });
  try {
    const connection = await connectAmqp(broker);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('payments', { durable: true, arguments: { ...streamArguments, 'x-max-age': '2D', 'x-max-length-bytes': 50_000_000 } });
    for (let index = 0; index < 5; index++) channel.sendToQueue('payments', Buffer.from(`p${index}`), { headers: { index: String(index) } });
    await channel.waitForConfirms();
    const seen: Array<{ value: string; index: string | undefined; routingKey: string | undefined }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'payments', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ value: message.value?.toString() ?? '', index: message.headers?.['index']?.toString(), routingKey: message.headers?.['amqp.routing-key']?.toString() });
      },
    });
    await waitUntil(() => seen.length >= 5, 'KafkaJS reads the five AMQP messages');
    assert.deepEqual(seen.map((entry) => entry.value), ['p0', 'p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(seen.map((entry) => entry.index), ['0', '1', '2', '3', '4']);
    assert.ok(seen.every((entry) => entry.routingKey === 'payments'));
    const described = await osprey(broker, ['topic', 'describe', 'payments', '--json']);
    assertSucceeded(described);
    const configs = (JSON.parse(described.stdout) as { configs: Array<{ name: string; value: string | null }> }).configs;
    assert.equal(configs.find((entry) => entry.name === 'retention.ms')?.value, String(2 * 86_400_000), 'x-max-age 2D');
    assert.equal(configs.find((entry) => entry.name === 'retention.bytes')?.value, '50000000', 'x-max-length-bytes');

    // A topic that exists already (one partition) becomes the stream, records and all.
    assertSucceeded(await osprey(broker, ['topic', 'create', 'audit', '--partitions', '1']));
    await kcatProduce(broker, 'audit', ['a0', 'a1']);
    const reader = await openChannel(connection);
    await reader.assertQueue('audit', { durable: true, arguments: streamArguments });
    assert.deepEqual((await consumeStream(reader, 'audit', 2, 'first')).map((message) => message.content.toString()), ['a0', 'a1']);
    // One with more partitions is not a stream: bind an exchange to it instead.
    assertSucceeded(await osprey(broker, ['topic', 'create', 'wide', '--partitions', '3']));
    const refused = await openChannel(connection);
    refused.on('error', () => undefined);
    await assert.rejects(refused.assertQueue('wide', { durable: true, arguments: streamArguments }), /PRECONDITION_FAILED - cannot declare stream queue 'wide' in vhost '\/': topic 'wide' has 3 partitions/);
    await connection.close();
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await broker.stop();
  }
});
