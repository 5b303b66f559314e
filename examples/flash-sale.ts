/**
 * flash-sale: a bounded queue protects the back end from a burst.
 *
 * 100 items are on sale; 10,000 purchase requests arrive at once. They go to the queue
 * `flash-sale.purchases`, declared with `x-max-length` 100 and `x-overflow` `reject-publish`, from a
 * publisher using confirms: while the queue holds 100 requests, every further publish is refused by
 * the broker at once (basic.nack), so the shop can answer "sold out" right away instead of piling up
 * work. Exactly 100 requests are accepted (basic.ack), 9,900 refused; the back end, started after the
 * burst, finds exactly the 100 accepted ones and never more than the queue was sized for.
 *
 *   npm run example -- flash-sale
 *
 * Shown with amqplib, over AMQP 0-9-1 (OSPREY_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 * The same program behaves the same against RabbitMQ.
 */
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { connectAmqp, elapsedMs, expect, runExample, waitUntil } from './lib/example-runtime.js';

const queueName = 'flash-sale.purchases';
const itemsOnSale = 100;
const requestCount = 10_000;
const backEndTimeoutMs = 15_000;

type Answer = { readonly requestId: string; readonly accepted: boolean; readonly answeredAfterMs: number };

function requestId(index: number): string {
  return `request-${String(index + 1).padStart(5, '0')}`;
}

/** Publishes one purchase request; resolves with the broker's answer: ack (accepted) or nack (refused). */
function requestPurchase(channel: ConfirmChannel, index: number, burstStartMs: number): Promise<Answer> {
  const id = requestId(index);
  const body = Buffer.from(JSON.stringify({ requestId: id, customer: `customer-${index + 1}`, item: 'limited sneakers' }));
  return new Promise((resolve) => {
    channel.sendToQueue(queueName, body, { persistent: true, messageId: id, contentType: 'application/json' }, (error: unknown) => {
      // amqplib calls back with an error when the broker nacks the publish.
      resolve({ requestId: id, accepted: error === null || error === undefined, answeredAfterMs: elapsedMs(burstStartMs) });
    });
  });
}

async function sendBurst(): Promise<Answer[]> {
  const connection = await connectAmqp();
  try {
    const channel = await connection.createConfirmChannel();
    const burstStartMs = performance.now();
    const answers = await Promise.all(Array.from({ length: requestCount }, (_, index) => requestPurchase(channel, index, burstStartMs)));
    const accepted = answers.filter((answer) => answer.accepted);
    const refused = answers.filter((answer) => !answer.accepted);
    console.log(`shop: ${requestCount} purchase requests sent at once; every one answered within ${elapsedMs(burstStartMs)} ms`);
    console.log(`broker: accepted ${accepted.length}, refused ${refused.length}`);
    if (accepted.length > 0) console.log(`  accepted: ${accepted[0]?.requestId} … ${accepted.at(-1)?.requestId} (basic.ack: "your order is in")`);
    if (refused.length > 0) {
      const slowestRefusalMs = Math.max(...refused.map((answer) => answer.answeredAfterMs));
      console.log(`  refused:  ${refused[0]?.requestId} … ${refused.at(-1)?.requestId} (basic.nack: "sold out"), the last one ${slowestRefusalMs} ms after the burst began`);
    }
    const { messageCount } = await channel.checkQueue(queueName);
    console.log(`queue ${queueName}: ${messageCount} requests waiting for the back end`);
    await channel.close();
    expect(
      accepted.length === itemsOnSale && refused.length === requestCount - itemsOnSale,
      `expected ${itemsOnSale} accepted and ${requestCount - itemsOnSale} refused, got ${accepted.length} and ${refused.length}: does the broker apply x-max-length with x-overflow reject-publish?`,
    );
    expect(messageCount === itemsOnSale, `expected ${itemsOnSale} requests in ${queueName}, found ${messageCount}`);
    return accepted;
  } finally {
    await connection.close();
  }
}

/** The back end, started after the burst: processes what the queue holds, acking each. */
async function runBackEnd(): Promise<string[]> {
  const connection = await connectAmqp();
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(10);
    const processed: string[] = [];
    const { consumerTag } = await channel.consume(queueName, (message: ConsumeMessage | null) => {
      if (message === null) return;
      processed.push((JSON.parse(message.content.toString()) as { requestId: string }).requestId);
      channel.ack(message);
    });
    await waitUntil(() => processed.length >= itemsOnSale, `the back end to process ${itemsOnSale} requests (got ${processed.length})`, backEndTimeoutMs);
    await channel.cancel(consumerTag);
    const { messageCount } = await channel.checkQueue(queueName);
    expect(messageCount === 0, `${messageCount} requests left in ${queueName} after the back end took ${processed.length}`);
    await channel.close();
    return processed;
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const setup = await connectAmqp();
  const setupChannel = await setup.createChannel();
  // Deleted first: a queue left by an earlier run might hold requests (or other arguments).
  await setupChannel.deleteQueue(queueName);
  await setupChannel.assertQueue(queueName, { durable: true, maxLength: itemsOnSale, overflow: 'reject-publish' });
  await setup.close();
  console.log(`declared ${queueName} with x-max-length ${itemsOnSale}, x-overflow reject-publish; no consumer yet`);

  const accepted = await sendBurst();
  const processed = await runBackEnd();
  const acceptedIds = accepted.map((answer) => answer.requestId);
  console.log(`back end: processed ${processed.length} purchases (${processed[0]} … ${processed.at(-1)}), never more than the ${itemsOnSale} the queue holds`);
  expect(processed.length === itemsOnSale, `the back end saw ${processed.length} purchases, expected ${itemsOnSale}`);
  expect(
    processed.every((id, index) => id === acceptedIds[index]),
    'the back end did not see exactly the accepted requests, in order',
  );
  console.log(`sold out: ${itemsOnSale} customers got an item, ${requestCount - itemsOnSale} were told at once; the back end had ${itemsOnSale} orders to do, not ${requestCount}`);
}

runExample('flash-sale', main);
