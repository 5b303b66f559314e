/**
 * orders: a queue decouples the order service from the inventory service.
 *
 * The order service publishes each order as a persistent message to the durable queue
 * `inventory.orders` on a confirm channel: an order counts as taken once the broker has it on disk
 * (publisher confirms), whether or not the inventory service is running. The inventory service
 * consumes with manual acknowledgements: an order leaves the queue only when the service acks it,
 * after updating the stock.
 *
 * The story: the order service takes six orders; the inventory service starts, handles five,
 * then goes down while handling order-006, before acking it. The order service keeps taking orders
 * (all 20 succeed). The broker put order-006 back in the queue when the service's connection went,
 * so when the service comes back it finds order-006 (marked redelivered) and every order taken
 * meanwhile. The example checks that each of the 20 orders updated the stock exactly once and that
 * the queue ends empty.
 *
 *   npm run example -- orders
 *
 * Shown with amqplib, over AMQP 0-9-1 (OSPREY_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 */
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { connectAmqp, elapsedMs, expect, runExample, waitUntil } from './lib/example-runtime.js';

const queueName = 'inventory.orders';
const orderCount = 20;
/** The order the first inventory instance is handling when it goes down. */
const orderInHandWhenDown = 6;
const products = ['kayak', 'paddle', 'life-jacket', 'dry-bag'] as const;
const processingTimeoutMs = 15_000;

interface Order {
  readonly id: string;
  readonly product: string;
  readonly quantity: number;
}

function order(number: number): Order {
  return { id: `order-${String(number).padStart(3, '0')}`, product: products[number % products.length] ?? 'kayak', quantity: 1 + (number % 3) };
}

/** Orders first … last, inclusive. */
function ordersNumbered(first: number, last: number): Order[] {
  return Array.from({ length: last - first + 1 }, (_, index) => order(first + index));
}

/** The order service: hands orders to the queue and waits for the broker's confirms; it needs no inventory service. */
async function takeOrders(channel: ConfirmChannel, orders: readonly Order[], when: string): Promise<void> {
  const startMs = performance.now();
  for (const taken of orders) {
    channel.sendToQueue(queueName, Buffer.from(JSON.stringify(taken)), { persistent: true, messageId: taken.id, contentType: 'application/json' });
  }
  // Resolves once the broker confirmed every publish (it throws if one was refused).
  await channel.waitForConfirms();
  console.log(`order service: ${orders.length} orders (${orders[0]?.id} … ${orders.at(-1)?.id}) taken, each confirmed by the broker, in ${elapsedMs(startMs)} ms, ${when}`);
}

/** What the inventory service did: the orders that updated the stock, in order. */
interface Inventory {
  readonly processedIds: string[];
  readonly stock: Map<string, number>;
}

/**
 * An instance of the inventory service: takes one order at a time, updates the stock, then acks.
 * With `goDownOn`, it goes down (its connection closes) when that order arrives, without acking it.
 */
async function startInventoryService(inventory: Inventory, name: string, goDownOn: string | null): Promise<{ connection: ChannelModel; wentDown: Promise<void> }> {
  const connection = await connectAmqp();
  const channel = await connection.createChannel();
  await channel.prefetch(1);
  let goneDown: () => void = () => undefined;
  const wentDown = new Promise<void>((resolve) => (goneDown = resolve));
  console.log(`inventory service (${name}): consuming ${queueName}, one order at a time, with manual acks`);
  await channel.consume(queueName, (message: ConsumeMessage | null) => {
    if (message === null) return;
    const received = JSON.parse(message.content.toString()) as Order;
    if (received.id === goDownOn) {
      console.log(`inventory service (${name}): goes down while handling ${received.id}, before acking it`);
      void connection.close().then(goneDown);
      return;
    }
    inventory.stock.set(received.product, (inventory.stock.get(received.product) ?? 0) - received.quantity);
    inventory.processedIds.push(received.id);
    const again = message.fields.redelivered ? ' (redelivered: the broker gave it back when the first instance went down)' : '';
    console.log(`inventory service (${name}): ${received.id} done, ${received.quantity} × ${received.product} taken from stock${again}`);
    // Only now does the order leave the queue: had the service died before this line, the broker
    // would give the order to the next consumer.
    channel.ack(message);
  });
  return { connection, wentDown };
}

async function main(): Promise<void> {
  const connection = await connectAmqp();
  const channel = await connection.createConfirmChannel();
  // A fresh durable queue, so orders left by an earlier, interrupted run do not count.
  await channel.deleteQueue(queueName);
  await channel.assertQueue(queueName, { durable: true });
  console.log(`declared the durable queue ${queueName}`);

  const inventory: Inventory = { processedIds: [], stock: new Map(products.map((product) => [product, 100])) };
  await takeOrders(channel, ordersNumbered(1, orderInHandWhenDown), 'before the inventory service starts');
  const first = await startInventoryService(inventory, 'first instance', order(orderInHandWhenDown).id);
  await first.wentDown;
  expect(inventory.processedIds.length === orderInHandWhenDown - 1, `the first instance processed ${inventory.processedIds.length} orders before going down, expected ${orderInHandWhenDown - 1}`);

  await takeOrders(channel, ordersNumbered(orderInHandWhenDown + 1, orderCount), 'while the inventory service is down');
  const { messageCount, consumerCount } = await channel.checkQueue(queueName);
  console.log(`queue ${queueName}: ${messageCount} orders waiting, ${consumerCount} consumers`);
  expect(messageCount === orderCount - orderInHandWhenDown + 1, `expected ${orderCount - orderInHandWhenDown + 1} orders waiting in ${queueName}, found ${messageCount}`);

  const second = await startInventoryService(inventory, 'back again', null);
  await waitUntil(() => inventory.processedIds.length >= orderCount, `the inventory service to process ${orderCount} orders (got ${inventory.processedIds.length})`, processingTimeoutMs);
  await second.connection.close();
  const left = (await channel.checkQueue(queueName)).messageCount;
  await connection.close();

  const { processedIds, stock } = inventory;
  const missing = ordersNumbered(1, orderCount).filter((taken) => !processedIds.includes(taken.id));
  const twice = processedIds.filter((id, index) => processedIds.indexOf(id) !== index);
  console.log(`inventory service: processed ${processedIds.length} of ${orderCount} orders: ${processedIds.join(' ')}`);
  console.log(`stock now: ${[...stock].map(([product, count]) => `${product} ${count}`).join(', ')}`);
  expect(missing.length === 0, `orders never processed: ${missing.map((taken) => taken.id).join(' ')}`);
  expect(twice.length === 0, `orders processed twice: ${twice.join(' ')}`);
  expect(left === 0, `${left} orders still in ${queueName} after processing`);
  console.log(
    `nothing lost: all ${orderCount} orders succeeded, ${orderCount - orderInHandWhenDown} of them while the inventory service was down; each was processed exactly once, ${order(orderInHandWhenDown).id} (in hand when it went down) included; the queue is empty`,
  );
}

runExample('orders', main);
