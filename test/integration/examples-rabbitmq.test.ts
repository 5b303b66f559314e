/**
 * The AMQP examples (signup, orders, flash-sale, chat) against a real RabbitMQ node: they are
 * written to RabbitMQ's behaviour, so there they must succeed and say the same as against Osprey
 * (examples.test.ts). It is the oracle for what the examples claim: if one fails here, the example
 * is wrong, not the broker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRabbitmqProcess } from '../helpers/rabbitmq-process.js';
import type { RabbitmqProcess } from '../helpers/rabbitmq-process.js';
import { assertSucceeded, runExample } from '../helpers/example-process.js';

let rabbitmq: RabbitmqProcess;

before(async () => {
  rabbitmq = await startRabbitmqProcess();
});

after(async () => {
  await rabbitmq?.stop();
});

test('against RabbitMQ: signup, orders, flash-sale and chat succeed with the outcomes they print against Osprey', async () => {
  const env = { OSPREY_AMQP_URL: rabbitmq.url };
  const signup = await runExample('signup', env);
  assertSucceeded(signup);
  assert.match(signup.stdout, /both workers got every event: mail 3 of 3, SMS 3 of 3/);

  const orders = await runExample('orders', env);
  assertSucceeded(orders);
  assert.match(orders.stdout, /^inventory service: processed 20 of 20 orders: order-001 .* order-020$/m);
  assert.match(orders.stdout, /^inventory service \(back again\): order-006 done, .* \(redelivered: /m);

  const flashSale = await runExample('flash-sale', env);
  assertSucceeded(flashSale);
  assert.match(flashSale.stdout, /^broker: accepted 100, refused 9900$/m);
  assert.match(flashSale.stdout, /^back end: processed 100 purchases \(request-00001 … request-00100\)/m);

  const chat = await runExample('chat', env);
  assertSucceeded(chat);
  assert.match(chat.stdout, /^ {4}bob sees \[private\] alice: see you tomorrow$/m);
});
