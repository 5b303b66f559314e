/**
 * The runnable examples of examples/ (npm run example -- NAME), each run as its own process against
 * a real broker process, the way a user runs them but with OSPREY_BROKERS and OSPREY_AMQP_URL
 * pointing at the test's broker: each must exit 0 and say what happened, and what it says is
 * checked against the broker's own state where that can be seen from outside (queues left empty,
 * the consumer groups' committed offsets). Besides: the list of examples, an unknown name, a broker
 * that is not there, and the chat example used interactively through its stdin.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { ChannelModel } from 'amqplib';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { assertSucceeded, examplesDirectory, runExample, runnerScript, startScript } from '../helpers/example-process.js';
import { amqpUrl, connectAmqp, openChannel, receive } from '../helpers/amqp-client.js';
import { waitUntilCommitted } from '../helpers/waiting.js';

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

function brokerEnvironment(): Record<string, string> {
  return { OSPREY_BROKERS: broker.bootstrap, OSPREY_AMQP_URL: amqpUrl(broker) };
}

/** The number a line of stdout holds where `pattern`'s first group is; fails when no line matches. */
function numberIn(stdout: string, pattern: RegExp): number {
  const match = pattern.exec(stdout);
  assert.ok(match?.[1] !== undefined, `no ${String(pattern)} in:\n${stdout}`);
  return Number(match[1]);
}

async function messagesIn(queue: string): Promise<number> {
  const channel = await openChannel(connection);
  const { messageCount } = await channel.checkQueue(queue);
  await channel.close();
  return messageCount;
}

/** A port of 127.0.0.1 where nothing listens: taken, then given back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

const exampleNames = ['signup', 'orders', 'flash-sale', 'log-pipeline', 'chat'];

test('npm run example without a name lists the five examples; an unknown name lists them on stderr and exits 2', async () => {
  const listing = startScript(runnerScript, [], {});
  listing.child.stdin!.end();
  const listed = await listing.result;
  assert.equal(listed.code, 0, listed.stderr);
  for (const name of exampleNames) assert.match(listed.stdout, new RegExp(`^  ${name} +\\S`, 'm'), `${name} listed`);

  const unknown = startScript(runnerScript, ['no-such-example'], {});
  unknown.child.stdin!.end();
  const refused = await unknown.result;
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^unknown example 'no-such-example'$/m);
  for (const name of exampleNames) assert.match(refused.stderr, new RegExp(`^  ${name} +\\S`, 'm'), `${name} listed`);
  assert.equal(refused.stdout, '');
});

test('every example says the broker is not reachable, and how to start it, and exits 1 when nothing listens', async () => {
  const port = await closedPort();
  const env = { OSPREY_BROKERS: `127.0.0.1:${port}`, OSPREY_AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}/` };
  const results = await Promise.all(exampleNames.map((name) => runExample(name, env)));
  for (const [index, result] of results.entries()) {
    const name = exampleNames[index]!;
    assert.equal(result.code, 1, `${name}: exit code\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    const listener = name === 'log-pipeline' ? 'Kafka' : 'AMQP';
    assert.equal(result.stderr, `${name}: cannot reach the ${listener} listener at 127.0.0.1:${port} (ECONNREFUSED): is the broker running? start it with npm start (or point ${listener === 'Kafka' ? 'OSPREY_BROKERS' : 'OSPREY_AMQP_URL'} at it)\n`);
  }
});

test('signup: the handler answers in the time of one publish, and the mail and SMS workers each get every signup', async () => {
  const result = await runExample('signup', brokerEnvironment());
  assertSucceeded(result);
  for (const name of ['alice', 'bob', 'carol']) {
    assert.match(result.stdout, new RegExp(`^POST /signup ${name}: 201 in \\d+ ms`, 'm'));
    assert.match(result.stdout, new RegExp(`mail worker: got ${name}'s event .* welcome mail sent to ${name}@example.com`));
    assert.match(result.stdout, new RegExp(`SMS worker: got ${name}'s event .* welcome SMS sent to \\+1555`));
  }
  assert.match(result.stdout, /both workers got every event: mail 3 of 3, SMS 3 of 3/);
  // The workers take 600 + 400 ms per signup; the handler only stores and publishes.
  const slowestAnswerMs = numberIn(result.stdout, /answered each signup in at most (\d+) ms/);
  assert.ok(slowestAnswerMs < 1000, `slowest answer ${slowestAnswerMs} ms`);
  assert.equal(await messagesIn('signup.mail'), 0, 'every mail event acked');
  assert.equal(await messagesIn('signup.sms'), 0, 'every SMS event acked');
});

test('orders, through npm run example: the inventory service goes down holding an order; every order still succeeds and is processed exactly once', async () => {
  const running = startScript(runnerScript, ['orders'], brokerEnvironment());
  running.child.stdin!.end();
  const result = await running.result;
  assertSucceeded(result);
  assert.match(result.stdout, /^inventory service \(first instance\): goes down while handling order-006, before acking it$/m);
  assert.match(result.stdout, /^order service: 14 orders \(order-007 … order-020\) taken, each confirmed by the broker, in \d+ ms, while the inventory service is down$/m);
  assert.match(result.stdout, /^queue inventory\.orders: 15 orders waiting, 0 consumers$/m);
  assert.match(result.stdout, /^inventory service \(back again\): order-006 done, .* \(redelivered: /m);
  const ids = Array.from({ length: 20 }, (_, index) => `order-${String(index + 1).padStart(3, '0')}`);
  assert.match(result.stdout, new RegExp(`^inventory service: processed 20 of 20 orders: ${ids.join(' ')}$`, 'm'));
  for (const id of ids) assert.equal(result.stdout.split(`: ${id} done, `).length, 2, `${id} processed exactly once`);
  assert.match(result.stdout, /^nothing lost: /m);
  assert.equal(await messagesIn('inventory.orders'), 0);
});

test('flash-sale: of 10,000 confirmed purchase requests against x-max-length 100 with reject-publish, 100 are acked and 9,900 nacked; the back end sees 100', async () => {
  const result = await runExample('flash-sale', brokerEnvironment());
  assertSucceeded(result);
  assert.match(result.stdout, /^broker: accepted 100, refused 9900$/m);
  assert.match(result.stdout, /accepted: request-00001 … request-00100 /);
  assert.match(result.stdout, /refused: {2}request-00101 … request-10000 /);
  assert.match(result.stdout, /^queue flash-sale\.purchases: 100 requests waiting for the back end$/m);
  assert.match(result.stdout, /^back end: processed 100 purchases \(request-00001 … request-00100\)/m);
  assert.equal(await messagesIn('flash-sale.purchases'), 0);
});

test('log-pipeline: the indexer and stats groups each read all 300 lines at their own pace and commit to the end', async () => {
  const result = await runExample('log-pipeline', brokerEnvironment());
  assertSucceeded(result);
  assert.match(result.stdout, /^group stats: read all 300 lines /m);
  assert.match(result.stdout, /^group indexer: read all 300 lines /m);
  // The slow indexer (5 ms a line) cannot have finished before the fast stats group.
  const statsMs = numberIn(result.stdout, /stats finished after (\d+) ms/);
  const indexerMs = numberIn(result.stdout, /indexer after (\d+) ms/);
  assert.ok(indexerMs >= statsMs && indexerMs >= 300 * 5, `stats ${statsMs} ms, indexer ${indexerMs} ms`);
  const counts = /^stats: INFO (\d+), WARN (\d+), ERROR (\d+) \(300 lines\)$/m.exec(result.stdout);
  assert.ok(counts !== null, result.stdout);
  assert.equal(Number(counts[1]) + Number(counts[2]) + Number(counts[3]), 300);
  assert.match(result.stdout, /^indexer: \d+ distinct words over 300 lines; lines with "timeout": [1-9]\d* \(L\d{3}( L\d{3})*\)$/m);
  await waitUntilCommitted(broker, 'indexer', 'app-logs', 3, 10_000);
  await waitUntilCommitted(broker, 'stats', 'app-logs', 3, 10_000);
});

test('chat: the scripted demo, room messages to those present, private ones kept for those away', async () => {
  const result = await runExample('chat', brokerEnvironment());
  assertSucceeded(result);
  assert.match(result.stdout, /^ {2}chat\.user\.carol keeps 1 message for her$/m);
  assert.match(result.stdout, /^ {4}carol sees \[private\] bob: lunch at noon\?$/m);
  assert.match(result.stdout, /^ {4}bob sees \[private\] alice: see you tomorrow$/m);
  assert.doesNotMatch(result.stdout, /carol sees \[#lobby\] alice: hi everyone/, 'carol joined after it was said');
  assert.doesNotMatch(result.stdout, /bob sees \[#lobby\] alice: bye bob/, 'bob had left');
  assert.match(result.stdout, /^everyone saw what was said in #lobby while they were there, and every private message arrived/m);
  for (const name of ['alice', 'bob', 'carol']) assert.equal(await messagesIn(`chat.user.${name}`), 0, `${name}'s inbox read`);
});

test('chat --user dave --room den: prints what others say, says each stdin line to the room, /msg sends privately, leaves at the end of input', async () => {
  const channel = await openChannel(connection);
  await channel.assertExchange('chat', 'topic', { durable: true });
  const { queue: listening } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(listening, 'chat', 'chat.room.den');
  await channel.deleteQueue('chat.user.erin');

  const dave = startScript(`${examplesDirectory}chat.js`, ['--user', 'dave', '--room', 'den'], brokerEnvironment());
  await dave.waitForStdout(/^joined #den as dave\./m);
  channel.publish('chat', 'chat.room.den', Buffer.from(JSON.stringify({ from: 'erin', room: 'den', text: 'hi dave' })));
  await dave.waitForStdout(/^\[#den\] erin: hi dave$/m);

  dave.child.stdin!.write('hello erin\n');
  const [fromErin, fromDave] = await receive(channel, listening, 2, { noAck: true });
  assert.deepEqual(JSON.parse(fromErin!.content.toString()), { from: 'erin', room: 'den', text: 'hi dave' });
  assert.deepEqual(JSON.parse(fromDave!.content.toString()), { from: 'dave', room: 'den', text: 'hello erin' });
  dave.child.stdin!.write('/msg erin psst\n');
  await dave.waitForStdout(/^\(sent to erin\)$/m);
  dave.child.stdin!.end();
  const result = await dave.result;
  assertSucceeded(result);
  assert.match(result.stdout, /^dave left #den$/m);
  assert.doesNotMatch(result.stdout, /dave: hello erin/, 'what dave said is not printed back to him');

  const inbox = await receive(channel, 'chat.user.erin', 1, { noAck: true });
  assert.deepEqual(JSON.parse(inbox[0]!.content.toString()), { from: 'dave', to: 'erin', text: 'psst' });
  await channel.close();
});
