/**
 * orders: a queue decouples the order service from the inventory service.
 *
 * The order service takes 20 orders while the inventory service is down. It publishes each one as
 * a persistent message to the durable queue `inventory.orders` on a confirm channel, so an order
 * counts as taken only once the broker has it on disk (publisher confirms): all 20 succeed although
 * nobody consumes. Then the inventory service starts, consumes with manual acknowledgements
 * (an order leaves the queue only when the service acks it after updating the stock) and processes
 * every order: the example checks that each id arrived exactly once and that the queue is empty.
 *
 *   npm run example -- orders
 *
 * Shown with amqplib, over AMQP 0-9-1 (OSPREY_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { connectAmqp, elapsedMs, expect, runExample, waitUntil } from './lib/example-runtime.js';

const queueName = 'inventory.orders';
const orderCount = 20;
const products = ['kayak', 'paddle', 'life-jacket', 'dry-bag'] as const;
const processingTimeoutMs = 15_000;

interface Order {
  readonly id: string;
  readonly product: string;
  readonly quantity: number;
}

function orderNumber(index: number): Order {
  return { id: `order-${String(index + 1).padStart(3, '0')}`, product: products[index % products.length] ?? 'kayak', quantity: 1 + (index % 3) };
}

/** The order service: takes orders and hands them to the queue; it needs no inventory service to do so. */
async function takeOrders(): Promise<Order[]> {
  const connection = await connectAmqp();
  try {
    const channel = await connection.createConfirmChannel();
    const orders = Array.from({ length: orderCount }, (_, index) => orderNumber(index));
    const startMs = performance.now();
    for (const order of orders) {
      channel.sendToQueue(queueName, Buffer.from(JSON.stringify(order)), { persistent: true, messageId: order.id, contentType: 'application/json' });
    }
    // Resolves once the broker confirmed every publish (it throws if one was refused).
    await channel.waitForConfirms();
    console.log(`order service: ${orders.length} orders taken and confirmed by the broker in ${elapsedMs(startMs)} ms, while the inventory service is down`);
    const { messageCount, consumerCount } = await channel.checkQueue(queueName);
    console.log(`queue ${queueName}: ${messageCount} orders waiting, ${consumerCount} consumers`);
    expect(messageCount === orders.length, `expected ${orders.length} orders waiting in ${queueName}, found ${messageCount}`);
    await channel.close();
    return orders;
  } finally {
    await connection.close();
  }
}

/** The inventory service: takes each order off the queue, updates the stock, then acks. */
async function runInventoryService(expectedOrders: number): Promise<{ processedIds: string[]; stock: Map<string, number> }> {
  const connection = await connectAmqp();
  try {
    const channel: Channel = await connection.createChannel();
    await channel.prefetch(5);
    const processedIds: string[] = [];
    const stock = new Map<string, number>(products.map((product) => [product, 100]));
    console.log('inventory service: started, consuming with manual acks');
    const { consumerTag } = await channel.consume(queueName, (message: ConsumeMessage | null) => {
      if (message === null) return;
      const order = JSON.parse(message.content.toString()) as Order;
      stock.set(order.product, (stock.get(order.product) ?? 0) - order.quantity);
      processedIds.push(order.id);
      // Only now does the order leave the queue: had the service died before this line, the broker
      // would give the order to the next consumer.
      channel.ack(message);
    });
    await waitUntil(() => processedIds.length >= expectedOrders, `the inventory service to process ${expectedOrders} orders (got ${processedIds.length})`, processingTimeoutMs);
    await channel.cancel(consumerTag);
    const { messageCount } = await channel.checkQueue(queueName);
    expect(messageCount === 0, `${messageCount} orders still in ${queueName} after processing`);
    await channel.close();
    return { processedIds, stock };
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  // A fresh durable queue, so orders left by an earlier, interrupted run do not count.
  const setup = await connectAmqp();
  const setupChannel = await setup.createChannel();
  await setupChannel.deleteQueue(queueName);
  await setupChannel.assertQueue(queueName, { durable: true });
  await setup.close();
  console.log(`declared the durable queue ${queueName}; the inventory service is not running`);

  const orders = await takeOrders();
  const { processedIds, stock } = await runInventoryService(orders.length);

  const published = orders.map((order) => order.id);
  const missing = published.filter((id) => !processedIds.includes(id));
  const twice = processedIds.filter((id, index) => processedIds.indexOf(id) !== index);
  console.log(`inventory service: processed ${processedIds.length} of ${orders.length} orders: ${processedIds.join(' ')}`);
  console.log(`stock now: ${[...stock].map(([product, count]) => `${product} ${count}`).join(', ')}`);
  expect(missing.length === 0, `orders never processed: ${missing.join(' ')}`);
  expect(twice.length === 0, `orders processed twice: ${twice.join(' ')}`);
  console.log(`nothing lost: all ${orders.length} orders taken while inventory was down were processed once it was back, each once; the queue is empty`);
}

runExample('orders', main);
