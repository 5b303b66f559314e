/**
 * A current librdkafka (2.12, through node-rdkafka) in KIP-848 consumer groups
 * (`group.protocol=consumer`) against a real broker process: its first heartbeat (a member id of
 * its own, an empty SubscribedTopicRegex), two members sharing a topic, one leaving and the other
 * taking over, a regex subscription following topics created later, and a broker restart under a
 * running member (UNKNOWN_MEMBER_ID, rejoin). Every record produced is counted in.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import rdkafka from 'node-rdkafka';
import type { KafkaConsumer as Consumer, Message } from 'node-rdkafka';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient } from 'kafkajs';
import { startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { waitUntil } from '../helpers/waiting.js';

const { KafkaConsumer } = rdkafka;
const { Kafka, logLevel } = kafkajs;

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: Admin;
const running: Consumer[] = [];

before(async () => {
  broker = await startBrokerProcess({ args: ['--groups.consumer-heartbeat-interval-ms', '500'] });
  kafka = new Kafka({ clientId: 'rdkafka-tests', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  for (const consumer of running) await disconnect(consumer);
  await admin.disconnect().catch(() => undefined);
  await broker.stop();
});

interface Member {
  readonly consumer: Consumer;
  /** `topic/partition/offset` of every record received. */
  readonly received: string[];
  readonly errors: string[];
}

/** A KIP-848 member subscribed to `topics` (a leading ^ makes a regex, as librdkafka reads it), consuming. */
async function member(groupId: string, topics: string[], port = broker.port): Promise<Member> {
  const consumer = new KafkaConsumer(
    { 'bootstrap.servers': `${broker.host}:${port}`, 'group.id': groupId, 'group.protocol': 'consumer', 'enable.auto.commit': true, 'auto.commit.interval.ms': 200, 'topic.metadata.refresh.interval.ms': 500 },
    { 'auto.offset.reset': 'earliest' },
  );
  const received: string[] = [];
  const errors: string[] = [];
  consumer.on('event.error', (error) => errors.push(error.message));
  consumer.on('data', (message: Message) => received.push(`${message.topic}/${message.partition}/${message.offset}`));
  await new Promise<void>((resolve, reject) => consumer.connect({}, (error) => (error ? reject(error) : resolve())));
  consumer.subscribe(topics);
  consumer.consume();
  running.push(consumer);
  return { consumer, received, errors };
}

/**
 * Unsubscribes and waits until the member holds no partition, then disconnects: node-rdkafka 3.6's
 * disconnect now and then never calls back when it comes while records are on their way to
 * JavaScript (librdkafka closes; destroying the handle waits for them), and the file then times out.
 */
async function leave(member: Member): Promise<void> {
  if (member.consumer.isConnected()) {
    member.consumer.unsubscribe();
    await waitUntil(() => member.consumer.assignments().length === 0, 'the member to give its partitions back');
  }
  await disconnect(member.consumer);
}

function disconnect(consumer: Consumer): Promise<void> {
  const index = running.indexOf(consumer);
  if (index >= 0) running.splice(index, 1);
  return new Promise((resolve) => {
    if (!consumer.isConnected()) return resolve();
    consumer.disconnect(() => resolve());
  });
}

async function produce(topic: string, count: number, prefix: string): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: Array.from({ length: count }, (_, index) => ({ key: `${prefix}-${index}`, value: `${prefix}-${index}` })) });
  await producer.disconnect();
}

const distinct = (...lists: string[][]): Set<string> => new Set(lists.flat());

test('two librdkafka members share a topic; when one leaves the other takes every partition; nothing is missed', async () => {
  await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 6 }] });
  const one = await member('sharing', ['shared']);
  const two = await member('sharing', ['shared']);
  const owned = (consumer: Consumer) => consumer.assignments().map((assignment) => assignment.partition);
  await waitUntil(() => owned(one.consumer).length > 0 && owned(two.consumer).length > 0 && owned(one.consumer).length + owned(two.consumer).length === 6, 'the six partitions split between the two members');
  assert.deepEqual([...owned(one.consumer), ...owned(two.consumer)].sort(), [0, 1, 2, 3, 4, 5]);
  await produce('shared', 120, 'first');
  await waitUntil(() => distinct(one.received, two.received).size === 120, 'both members read the first 120 records');
  assert.ok(one.received.length > 0 && two.received.length > 0, `both got partitions (${one.received.length} and ${two.received.length} records)`);
  const partitionsOf = (received: string[]) => new Set(received.map((entry) => entry.split('/')[1]));
  for (const partition of partitionsOf(one.received)) assert.ok(!partitionsOf(two.received).has(partition), `partition ${partition} went to one member only`);
  await leave(two);
  await produce('shared', 60, 'second');
  await waitUntil(() => distinct(one.received, two.received).size === 180, 'the remaining member reads what follows on every partition');
  assert.deepEqual(one.errors.filter((error) => /fatal|invalid/i.test(error)), []);
  await leave(one);
});

test('a regex subscription gets the matching topics, and a matching topic created later', async () => {
  await admin.createTopics({ topics: [{ topic: 'rx.alpha', numPartitions: 2 }, { topic: 'rx.beta', numPartitions: 1 }, { topic: 'other', numPartitions: 1 }] });
  await produce('rx.alpha', 10, 'alpha');
  await produce('rx.beta', 10, 'beta');
  await produce('other', 10, 'other');
  const watcher = await member('by-regex', ['^rx\\..*']);
  await waitUntil(() => distinct(watcher.received).size === 20, 'the records of rx.alpha and rx.beta');
  await admin.createTopics({ topics: [{ topic: 'rx.gamma', numPartitions: 1 }] });
  await produce('rx.gamma', 5, 'gamma');
  await waitUntil(() => distinct(watcher.received).size === 25, 'the records of rx.gamma, created after the subscription');
  assert.ok(!watcher.received.some((entry) => entry.startsWith('other/')), 'nothing from a topic the regex does not match');
  await leave(watcher);
});

test('a broker restart under a running member: it rejoins (UNKNOWN_MEMBER_ID) and goes on from its committed offsets', async () => {
  await admin.createTopics({ topics: [{ topic: 'restarted', numPartitions: 3 }] });
  await produce('restarted', 30, 'before');
  const survivor = await member('survivors', ['restarted']);
  await waitUntil(() => distinct(survivor.received).size === 30, 'the records from before the restart');
  await new Promise((resolve) => setTimeout(resolve, 1000)); // auto-commit
  await admin.disconnect();
  broker = await broker.restart();
  admin = kafka.admin();
  await admin.connect();
  await produce('restarted', 30, 'after');
  await waitUntil(() => distinct(survivor.received).size === 60, 'the records produced after the restart', 60_000);
  await leave(survivor);
});
