/**
 * AMQP definitions shared by the brokers of a cluster through etcd (docs/cluster.md, "AMQP
 * definitions"), on a real etcd and two real broker processes with their AMQP and HTTP listeners:
 * what is declared through one broker exists on the other (passive declares, a binding routing
 * there, 406 on a redeclaration with other arguments), deleting through either removes it from
 * both, two brokers declaring one name with different arguments at once give one declare-ok and
 * one 406, exclusive queues and non-durable exchanges stay with their broker, a virtual host and a
 * policy made through one broker apply on the other, a stream queue declared on its partition's
 * leader exists on the follower (which nacks publishes to it), and a broker restarted finds what changed
 * while it was down. A durable queue is served by the broker leading its replicated log (the one
 * that declared it, here): a publish routed to it through another broker is forwarded there
 * (cluster-amqp-queues.test.ts has the forwarding in full, and the queue's failover).
 *
 * Oracles: amqplib's answers (declare-ok, 404 and 406 channel errors, deliveries), the admin
 * API's lists, and the keys in etcd.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { amqpPrefix } from '../../src/cluster/amqp-definition-keys.js';
import { connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { assertSucceeded, osprey, type OspreyResult } from '../helpers/osprey-cli.js';
import { waitUntil } from '../helpers/waiting.js';

function admin(broker: BrokerProcess, args: readonly string[]): Promise<OspreyResult> {
  assert.ok(broker.httpPort !== null);
  return osprey(broker, [...args, '--http-address', `127.0.0.1:${broker.httpPort}`], { noBrokersFlag: true });
}

async function withAmqp<T>(broker: BrokerProcess, work: (connection: ChannelModel) => Promise<T>, virtualHost = '/'): Promise<T> {
  const connection = await connectAmqp(broker, virtualHost);
  try {
    return await work(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** 'ok', or the reply code the broker closed the channel with (404, 406, …). */
async function outcome(broker: BrokerProcess, action: (channel: Awaited<ReturnType<typeof openChannel>>) => Promise<unknown>): Promise<'ok' | number> {
  return withAmqp(broker, async (connection) => {
    const channel = await openChannel(connection);
    try {
      await action(channel);
      return 'ok';
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'number') return code;
      throw error;
    }
  });
}

const queueExists = (broker: BrokerProcess, name: string) => outcome(broker, (channel) => channel.checkQueue(name));
const exchangeExists = (broker: BrokerProcess, name: string) => outcome(broker, (channel) => channel.checkExchange(name));

/** Publishes one message through a confirm channel: 'ack' or 'nack'. */
function publishConfirmed(channel: ConfirmChannel, exchange: string, routingKey: string, body: string): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => {
    channel.publish(exchange, routingKey, Buffer.from(body), { persistent: true }, (error: unknown) => resolve(error === null || error === undefined ? 'ack' : 'nack'));
  });
}

async function amqpKeys(cluster: TestCluster, kind: string): Promise<string[]> {
  const { entries } = await cluster.store.rangeByPrefix(`${amqpPrefix}${kind}/`);
  return entries.map((entry) => entry.key);
}

describe('AMQP definitions shared by the brokers of a cluster', () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startTestCluster({ nodeIds: [1, 2], extraArgs: () => ['--amqp-port', '0', '--http-port', '0'] });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('an exchange, a queue and a binding declared through broker 1 exist on broker 2: passive declares, routing, 406 on other arguments', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      await channel.assertExchange('shared.logs', 'topic', { durable: true });
      await channel.assertQueue('shared.errors', { durable: true, arguments: { 'x-max-length': 100 } });
      await channel.bindQueue('shared.errors', 'shared.logs', 'error.#');
    });
    assert.ok((await amqpKeys(cluster, 'exchanges')).includes(`${amqpPrefix}exchanges/%2F/shared.logs`));
    assert.ok((await amqpKeys(cluster, 'queues')).includes(`${amqpPrefix}queues/%2F/shared.errors`));
    assert.equal((await amqpKeys(cluster, 'bindings')).length, 1);

    // Broker 2 may lag broker 1 a little (it follows etcd): polled.
    await waitUntil(async () => (await exchangeExists(second, 'shared.logs')) === 'ok' && (await queueExists(second, 'shared.errors')) === 'ok', 'the exchange and the queue on broker 2');
    assert.equal(await outcome(second, (channel) => channel.assertExchange('shared.logs', 'topic', { durable: true })), 'ok');
    assert.equal(await outcome(second, (channel) => channel.assertQueue('shared.errors', { durable: true, arguments: { 'x-max-length': 100 } })), 'ok');
    assert.equal(await outcome(second, (channel) => channel.assertQueue('shared.errors', { durable: true, arguments: { 'x-max-length': 5 } })), 406);
    assert.equal(await outcome(second, (channel) => channel.assertExchange('shared.logs', 'fanout', { durable: true })), 406);
    assert.equal(await outcome(first, (channel) => channel.assertQueue('shared.errors', { durable: true })), 406);

    // The binding routes through broker 1, which serves the queue (it leads the queue's replicated log, docs/cluster.md).
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      channel.publish('shared.logs', 'info.disk', Buffer.from('not bound'));
      channel.publish('shared.logs', 'error.disk', Buffer.from('bound'));
      const [message] = await receive(channel, 'shared.errors', 1, { noAck: true });
      assert.equal(message?.content.toString(), 'bound');
      assert.equal((await channel.checkQueue('shared.errors')).messageCount, 0, 'the unbound key was not routed to it');
    });
    // And through broker 2: a matching key reaches the queue, which broker 2 does not serve, so it
    // is forwarded to broker 1 and kept there; a key bound to nothing is routed nowhere (and
    // confirmed, as RabbitMQ confirms unroutable messages).
    await withAmqp(second, async (connection) => {
      const channel = await connection.createConfirmChannel();
      assert.equal(await publishConfirmed(channel, 'shared.logs', 'error.memory', 'routed to the queue'), 'ack');
      assert.equal(await publishConfirmed(channel, 'shared.logs', 'info.memory', 'routed nowhere'), 'ack');
    });
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      const [message] = await receive(channel, 'shared.errors', 1, { noAck: true });
      assert.equal(message?.content.toString(), 'routed to the queue');
      assert.equal((await channel.checkQueue('shared.errors')).messageCount, 0, 'the unbound key was not routed to it');
    });
  });

  test('deleting through broker 2 removes the queue and the exchange (with its binding) from broker 1 and from etcd', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      await channel.assertExchange('doomed.exchange', 'direct', { durable: true });
      await channel.assertQueue('doomed.queue', { durable: true });
      await channel.bindQueue('doomed.queue', 'doomed.exchange', 'key');
    });
    await waitUntil(async () => (await queueExists(second, 'doomed.queue')) === 'ok' && (await exchangeExists(second, 'doomed.exchange')) === 'ok', 'the declarations on broker 2');
    const bindingsBefore = await amqpKeys(cluster, 'bindings');
    await withAmqp(second, async (connection) => {
      const channel = await openChannel(connection);
      await channel.deleteQueue('doomed.queue');
      await channel.deleteExchange('doomed.exchange');
    });
    assert.ok(!(await amqpKeys(cluster, 'queues')).includes(`${amqpPrefix}queues/%2F/doomed.queue`));
    assert.ok(!(await amqpKeys(cluster, 'exchanges')).includes(`${amqpPrefix}exchanges/%2F/doomed.exchange`));
    assert.equal((await amqpKeys(cluster, 'bindings')).length, bindingsBefore.length - 1, 'the binding went with the exchange');
    await waitUntil(async () => (await queueExists(first, 'doomed.queue')) === 404 && (await exchangeExists(first, 'doomed.exchange')) === 404, '404 for both on broker 1');
  });

  test('two brokers declaring one queue with different arguments at once: one declare-ok, one 406, and both brokers hold the winner', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    for (let round = 0; round < 5; round += 1) {
      const name = `raced.${round}`;
      const answers = await Promise.all([
        outcome(first, (channel) => channel.assertQueue(name, { durable: true, arguments: { 'x-max-length': 1 } })),
        outcome(second, (channel) => channel.assertQueue(name, { durable: true, arguments: { 'x-max-length': 2 } })),
      ]);
      assert.deepEqual([...answers].sort(), [406, 'ok'].sort(), `round ${round}: ${JSON.stringify(answers)}`);
      const winner = answers[0] === 'ok' ? 1 : 2;
      for (const broker of [first, second]) {
        await waitUntil(async () => (await outcome(broker, (channel) => channel.assertQueue(name, { durable: true, arguments: { 'x-max-length': winner } }))) === 'ok', `broker ${broker === first ? 1 : 2} to hold ${name} as broker ${winner} declared it`);
      }
      assert.equal(await outcome(first, (channel) => channel.deleteQueue(name)), 'ok');
    }
  });

  test('an exclusive queue stays with its broker; a virtual host and a policy made through broker 1 exist on broker 2', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    const owner = await connectAmqp(first);
    try {
      const channel = await openChannel(owner);
      await channel.assertQueue('owned', { durable: true, exclusive: true });
      const generated = (await channel.assertQueue('', { exclusive: true })).queue;
      await channel.assertExchange('transient', 'fanout', { durable: false });
      assertSucceeded(await admin(first, ['vhost', 'create', 'staging']));
      assertSucceeded(await admin(first, ['policy', 'set', 'limits', '--vhost', 'staging', '--pattern', '^orders\\.', '--apply-to', 'queues', '--definition', '{"max-length":3}']));
      // Broker 1's changes reach broker 2 in order: once the policy is there, the exclusive queues would be too.
      await waitUntil(async () => (await admin(second, ['policy', 'list', '--vhost', 'staging'])).stdout.includes('limits'), 'the policy on broker 2');
      assert.equal(await queueExists(second, 'owned'), 404);
      assert.equal(await queueExists(second, generated), 404);
      assert.equal(await exchangeExists(second, 'transient'), 404, 'a non-durable exchange stays with its broker');
      const queueKeys = await amqpKeys(cluster, 'queues');
      assert.ok(queueKeys.every((key) => !key.endsWith('/owned') && !key.endsWith(`/${encodeURIComponent(generated)}`)), queueKeys.join(' '));
      assert.deepEqual(await amqpKeys(cluster, 'vhosts'), [`${amqpPrefix}vhosts/%2F`, `${amqpPrefix}vhosts/staging`]);
      await withAmqp(second, async (connection) => {
        const staging = await openChannel(connection);
        await staging.assertQueue('orders.eu', { durable: true });
        for (let index = 0; index < 5; index += 1) staging.sendToQueue('orders.eu', Buffer.from(String(index)));
        await waitUntil(async () => (await staging.checkQueue('orders.eu')).messageCount === 3, 'the policy max-length 3 applied on broker 2');
      }, 'staging');
    } finally {
      await owner.close();
    }
  });

  test('the broker serving a shared queue judges x-expires and auto-delete, counting the consumers on every broker; an exclusive queue still expires with its broker', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    const expiresMs = 3000;
    // Declared through broker 1, which serves them.
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      await channel.assertQueue('shared.expiring', { durable: true, arguments: { 'x-expires': expiresMs } });
      await channel.assertQueue('shared.auto', { durable: true, autoDelete: true });
    });
    await waitUntil(async () => (await queueExists(second, 'shared.expiring')) === 'ok' && (await queueExists(second, 'shared.auto')) === 'ok', 'both queues on broker 2');

    // Consumed through broker 2 (which does not serve them): in use, though broker 1 has no consumer of its own.
    const remote = await connectAmqp(second);
    try {
      const channel = await openChannel(remote);
      await channel.consume('shared.expiring', () => undefined);
      await channel.consume('shared.auto', () => undefined);
      await withAmqp(first, async (connection) => {
        const local = await openChannel(connection);
        const { consumerTag } = await local.consume('shared.auto', () => undefined);
        await local.cancel(consumerTag);
      });
      await sleep(2 * expiresMs);
      for (const [nodeId, broker] of [[1, first], [2, second]] as const) {
        assert.equal(await queueExists(broker, 'shared.expiring'), 'ok', `shared.expiring kept on broker ${nodeId}: consumed through broker 2`);
        assert.equal(await queueExists(broker, 'shared.auto'), 'ok', `shared.auto kept on broker ${nodeId}: consumed through broker 2`);
      }
    } finally {
      await remote.close();
    }
    // Broker 2's consumers gone: auto-delete at once, x-expires once unused for its time, on both brokers.
    for (const [nodeId, broker] of [[1, first], [2, second]] as const) {
      await waitUntil(async () => (await queueExists(broker, 'shared.auto')) === 404, `shared.auto deleted on broker ${nodeId} once its last consumer left`, 10_000);
      await waitUntil(async () => (await queueExists(broker, 'shared.expiring')) === 404, `shared.expiring deleted on broker ${nodeId} once unused for ${expiresMs} ms`, 10_000);
    }
    await withAmqp(first, async (connection) => {
      const exclusive = await openChannel(connection);
      await exclusive.assertQueue('exclusive.expiring', { exclusive: true, arguments: { 'x-expires': 200 } });
      await sleep(1000);
      assert.equal(await outcome(first, (probe) => probe.checkQueue('exclusive.expiring')), 404, 'the exclusive queue expired');
    });
  });

  test('a stream queue declared on the leader of its partition exists on the follower too, which nacks what is published to it there', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    await cluster.createTopic('streamed', [[1, 2]]);
    await cluster.waitForPartition('streamed', 0, (state) => state.leader === 1 && state.isr.length === 2, 'both replicas of streamed in sync');
    const streamArguments = { 'x-queue-type': 'stream' };
    assert.equal(await outcome(first, (channel) => channel.assertQueue('streamed', { durable: true, arguments: streamArguments })), 'ok');
    await waitUntil(async () => (await queueExists(second, 'streamed')) === 'ok', 'the stream queue on broker 2');
    assert.equal(await outcome(second, (channel) => channel.assertQueue('streamed', { durable: true, arguments: streamArguments })), 'ok', 'declare-ok: it exists');
    const answers: ('ack' | 'nack')[] = [];
    for (const broker of [first, second]) answers.push(await withAmqp(broker, async (connection) => publishConfirmed(await connection.createConfirmChannel(), '', 'streamed', 'record')));
    assert.deepEqual(answers, ['ack', 'nack']);
  });

  test('a broker restarted finds what was declared and deleted while it was down', async () => {
    const [first, second] = [cluster.broker(1), cluster.broker(2)];
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      await channel.assertExchange('before.down', 'fanout', { durable: true });
      await channel.assertQueue('before.down.queue', { durable: true });
    });
    assertSucceeded(await admin(first, ['vhost', 'create', 'short-lived']));
    assertSucceeded(await admin(first, ['policy', 'set', 'lengths', '--vhost', 'short-lived', '--pattern', '.*', '--definition', '{"max-length":1}']));
    await waitUntil(async () => (await exchangeExists(second, 'before.down')) === 'ok', 'the exchange on broker 2');
    await withAmqp(second, (connection) => openChannel(connection), 'short-lived');
    await second.stop();
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      await channel.deleteExchange('before.down');
      await channel.assertExchange('while.down', 'fanout', { durable: true });
      await channel.assertQueue('while.down.queue', { durable: true });
      await channel.bindQueue('while.down.queue', 'while.down', '');
    });
    assertSucceeded(await admin(first, ['vhost', 'delete', 'short-lived']));
    const restarted = await cluster.restart(2);
    // Read at start-up, before the broker says it is ready: no waiting.
    assert.equal(await exchangeExists(restarted, 'before.down'), 404);
    assert.equal(await exchangeExists(restarted, 'while.down'), 'ok');
    assert.equal(await queueExists(restarted, 'before.down.queue'), 'ok');
    await assert.rejects(connectAmqp(restarted, 'short-lived'), 'the virtual host deleted while it was down');
    assert.ok((await amqpKeys(cluster, 'policies')).every((key) => !key.startsWith(`${amqpPrefix}policies/short-lived/`)), 'the policy went with its virtual host');
    // The binding made while it was down routes there: to the queue, which broker 1 serves and gets
    // the message from broker 2 (an exchange without the binding would route it nowhere).
    await withAmqp(restarted, async (connection) => {
      const channel = await connection.createConfirmChannel();
      assert.equal(await publishConfirmed(channel, 'while.down', '', 'through the binding made while broker 2 was down'), 'ack');
    });
    await withAmqp(first, async (connection) => {
      const channel = await openChannel(connection);
      channel.publish('while.down', '', Buffer.from('through broker 1'));
      const messages = await receive(channel, 'while.down.queue', 2, { noAck: true });
      assert.deepEqual(
        messages.map((message) => message.content.toString()),
        ['through the binding made while broker 2 was down', 'through broker 1'],
      );
    });
    assert.doesNotMatch(restarted.logs(), /ERROR|could not be applied/);
  });
});
