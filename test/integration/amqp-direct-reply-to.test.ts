/**
 * Direct reply-to (amq.rabbitmq.reply-to) with amqplib: an RPC client gets its replies without a
 * reply queue. The same scenario runs against Osprey and against a real RabbitMQ node, the oracle
 * for the behaviour: rewritten reply-to, replies delivered with exchange "" and the address as
 * routing key, no-ack only, one reply consumer per channel, a publish with the pseudo-queue as
 * reply-to but no reply consumer refused, the address declarable (passively) while its channel
 * consumes and not after, and a reply to a gone requester dropped.
 *
 * One difference, by design: Osprey counts a reply as routed, as RabbitMQ 4.2 does (no basic.return
 * for a mandatory reply, delivered or dropped). RabbitMQ up to 4.1, the node here included, treats
 * the address as no queue and returns every mandatory reply, even one it delivered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { amqpUrl } from '../helpers/amqp-client.js';
import { startRabbitmqProcess } from '../helpers/rabbitmq-process.js';
import type { RabbitmqProcess } from '../helpers/rabbitmq-process.js';

let osprey: BrokerProcess;
let rabbitmq: RabbitmqProcess;

before(async () => {
  [osprey, rabbitmq] = await Promise.all([startBrokerProcess(), startRabbitmqProcess()]);
});

after(async () => {
  await Promise.all([osprey?.stop(), rabbitmq?.stop()]);
});

/** Resolves with the channel's close error (the broker closed it), or rejects after a while. */
function closedWith(channel: Channel): Promise<Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the channel was not closed')), 5_000);
    channel.once('error', (error: Error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

function nextMessage(messages: ConsumeMessage[], count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 5_000;
    const poll = (): void => {
      if (messages.length >= count) resolve();
      else if (Date.now() > deadline) reject(new Error(`got ${messages.length} of ${count} replies`));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

async function directReplyScenario(url: string, mandatoryRepliesReturned: boolean): Promise<void> {
  const requesterConnection: ChannelModel = await amqp.connect(url);
  const responderConnection: ChannelModel = await amqp.connect(url);
  try {
    const responder = await responderConnection.createConfirmChannel();
    const requestQueue = `rpc-requests-${process.pid}`;
    await responder.assertQueue(requestQueue, { exclusive: true });
    const seenReplyTo: string[] = [];
    const returned: ConsumeMessage[] = [];
    responder.on('return', (message: ConsumeMessage) => returned.push(message));
    await responder.consume(
      requestQueue,
      (request) => {
        if (request === null) return;
        const replyTo = String(request.properties.replyTo);
        seenReplyTo.push(replyTo);
        responder.sendToQueue(replyTo, Buffer.from(`${request.content.toString()} squared is ${Number(request.content.toString()) ** 2}`), { correlationId: request.properties.correlationId, mandatory: true });
        responder.ack(request);
      },
      { noAck: false },
    );

    // The requester: the pseudo-queue may be declared (always there: no messages, one consumer, says RabbitMQ).
    const requester = await requesterConnection.createChannel();
    const declared = await requester.assertQueue('amq.rabbitmq.reply-to', { durable: false });
    assert.deepEqual([declared.queue, declared.messageCount, declared.consumerCount], ['amq.rabbitmq.reply-to', 0, 1]);
    const replies: ConsumeMessage[] = [];
    await requester.consume('amq.rabbitmq.reply-to', (reply) => reply !== null && replies.push(reply), { noAck: true });
    for (let index = 1; index <= 5; index++) requester.sendToQueue(requestQueue, Buffer.from(String(index)), { replyTo: 'amq.rabbitmq.reply-to', correlationId: `call-${index}` });
    await nextMessage(replies, 5);
    assert.deepEqual(
      replies.map((reply) => [reply.properties.correlationId, reply.content.toString()]),
      [1, 2, 3, 4, 5].map((index) => [`call-${index}`, `${index} squared is ${index * index}`]),
    );
    const address = seenReplyTo[0]!;
    assert.match(address, /^amq\.rabbitmq\.reply-to\..+/, 'the responder sees an address, not the pseudo-queue');
    assert.ok(seenReplyTo.every((seen) => seen === address), 'one address per requester channel');
    for (const reply of replies) {
      assert.equal(reply.fields.exchange, '');
      assert.equal(reply.fields.routingKey, address);
    }

    // While the requester consumes, its address can be declared passively from elsewhere: one consumer, no messages.
    const checker = await responderConnection.createChannel();
    const present = await checker.checkQueue(address);
    assert.deepEqual([present.messageCount, present.consumerCount], [0, 1]);

    // A second reply consumer on the same channel is refused.
    const refusedTwice = closedWith(requester);
    await assert.rejects(requester.consume('amq.rabbitmq.reply-to', () => undefined, { noAck: true }));
    assert.match((await refusedTwice).message, /406/);

    // The requester's channel is gone: its address no longer declares, and a reply to it is dropped (confirmed all the same).
    const gone = closedWith(checker);
    await assert.rejects(checker.checkQueue(address));
    assert.match((await gone).message, /404/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(returned.length, mandatoryRepliesReturned ? 5 : 0, 'mandatory replies returned');
    await new Promise<void>((resolve, reject) => responder.sendToQueue(address, Buffer.from('too late'), { mandatory: true }, (error: unknown) => (error ? reject(error as Error) : resolve())));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      returned.map((message) => message.content.toString()).slice(5),
      mandatoryRepliesReturned ? ['too late'] : [],
      'a mandatory reply to a gone requester: returned by RabbitMQ up to 4.1, dropped by Osprey as by RabbitMQ 4.2',
    );

    // Acknowledging replies is not possible: a reply consumer must be no-ack.
    const acking = await requesterConnection.createChannel();
    const ackRefused = closedWith(acking);
    await assert.rejects(acking.consume('amq.rabbitmq.reply-to', () => undefined, { noAck: false }));
    assert.match((await ackRefused).message, /406.*reply consumer cannot acknowledge/);

    // Publishing with the pseudo-queue as reply-to needs a reply consumer on the same channel.
    const withoutConsumer = await requesterConnection.createChannel();
    const noConsumer = closedWith(withoutConsumer);
    withoutConsumer.sendToQueue(requestQueue, Buffer.from('7'), { replyTo: 'amq.rabbitmq.reply-to' });
    assert.match((await noConsumer).message, /406.*fast reply consumer does not exist/);
  } finally {
    await Promise.allSettled([requesterConnection.close(), responderConnection.close()]);
  }
}

test('direct reply-to against Osprey', async () => {
  await directReplyScenario(amqpUrl(osprey), false);
});

test('direct reply-to against RabbitMQ (the oracle for the scenario)', async () => {
  await directReplyScenario(rabbitmq.url, true);
});
