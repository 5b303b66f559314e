/**
 * librdkafka 2.12 (node-rdkafka, `group.protocol=consumer`) through KIP-848 rebalances against a
 * real broker process: a second member joining takes partitions the first revokes first (no
 * partition read by two members at once, every record once while both commit), a member stopped
 * with SIGSTOP past its session is fenced (UNKNOWN_MEMBER_ID) and rejoins with a new epoch, a
 * static member (group.instance.id) comes back without a rebalance while a duplicate instance id is
 * refused (UNRELEASED_INSTANCE_ID), and a subscription change revokes the old topic's partitions.
 * A stale member epoch (FENCED_MEMBER_EPOCH) is not something librdkafka can be made to send: raw
 * heartbeats under a librdkafka member's id stand in for it (and groups-consumer-protocol.test.ts
 * goes through the previous-epoch rule).
 *
 * The broker runs with a short consumer session timeout and heartbeat interval, so that a fenced
 * member is noticed within seconds. Members use librdkafka's incremental rebalance callback
 * (`rebalance_cb: true`), whose events are recorded with their time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import rdkafka from 'node-rdkafka';
import type { Assignment, KafkaConsumer as Consumer, LibrdKafkaError, Message } from 'node-rdkafka';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, Producer } from 'kafkajs';
import { isolatedEnvironment, startBrokerProcess, type BrokerProcess } from '../helpers/broker-process.js';
import { RawKafkaConnection, rawApi } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';
import { consumerGroupDescribeRequest, consumerGroupDescribeResponse } from '../../src/protocol/kafka/messages/consumer-group-describe.js';
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';

const { KafkaConsumer, CODES } = rdkafka;
const { Kafka, logLevel } = kafkajs;
const describeApi = rawApi(consumerGroupDescribeRequest, consumerGroupDescribeResponse);
const heartbeatApi = rawApi(consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse);

const sessionTimeoutMs = 2000;
let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: Admin;
let producer: Producer;
let raw: RawKafkaConnection;
const running: Consumer[] = [];

before(async () => {
  broker = await startBrokerProcess({ args: ['--groups.consumer-session-timeout-ms', String(sessionTimeoutMs), '--groups.consumer-heartbeat-interval-ms', '250'] });
  kafka = new Kafka({ clientId: 'rdkafka-rebalance-tests', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  raw = await RawKafkaConnection.open(broker.host, broker.port);
});

after(async () => {
  for (const consumer of [...running]) await disconnect(consumer);
  raw.socket.destroy();
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  await broker.stop();
});

interface RebalanceEvent {
  readonly kind: 'assign' | 'revoke';
  readonly partitions: readonly string[];
  readonly atMs: number;
}

interface Member {
  readonly name: string;
  readonly consumer: Consumer;
  /** `topic/partition/offset` of every record received, with the time it came. */
  readonly received: Array<{ readonly key: string; readonly atMs: number }>;
  readonly rebalances: RebalanceEvent[];
  readonly errors: LibrdKafkaError[];
  /** librdkafka's log lines (its debug lines when `debug` is configured). */
  readonly logs: string[];
}

/** A KIP-848 member with librdkafka's incremental rebalance callback, consuming and committing automatically. */
async function member(name: string, groupId: string, topics: string[], extra: Record<string, string | number | boolean> = {}): Promise<Member> {
  const consumer = new KafkaConsumer(
    {
      'bootstrap.servers': broker.bootstrap,
      'group.id': groupId,
      'group.protocol': 'consumer',
      'enable.auto.commit': true,
      'auto.commit.interval.ms': 200,
      'topic.metadata.refresh.interval.ms': 500,
      rebalance_cb: true,
      ...extra,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  const result: Member = { name, consumer, received: [], rebalances: [], errors: [], logs: [] };
  consumer.on('event.log', (log: { message: string }) => result.logs.push(log.message));
  consumer.on('rebalance', (error: LibrdKafkaError, assignment: Assignment[]) => {
    const kind = error.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS ? 'assign' : 'revoke';
    result.rebalances.push({ kind, partitions: assignment.map((entry) => `${entry.topic}/${entry.partition}`), atMs: Date.now() });
  });
  consumer.on('event.error', (error) => result.errors.push(error));
  consumer.on('data', (message: Message) => result.received.push({ key: `${message.topic}/${message.partition}/${message.offset}`, atMs: Date.now() }));
  await new Promise<void>((resolve, reject) => consumer.connect({}, (error) => (error ? reject(error) : resolve())));
  consumer.subscribe(topics);
  consumer.consume((error) => {
    if (error) result.errors.push(error);
  });
  running.push(consumer);
  return result;
}

/**
 * Unsubscribes first and waits until the member gave its partitions back, then disconnects: node-rdkafka
 * 3.6's disconnect now and then never calls back when it comes while records are on their way to
 * JavaScript (librdkafka's close completes; destroying the handle waits for them).
 */
async function leave(member: Member): Promise<void> {
  if (member.consumer.isConnected()) {
    member.consumer.unsubscribe();
    await waitFor(() => held(member).size === 0, `${member.name} to give its partitions back`);
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
  await producer.send({ topic, messages: Array.from({ length: count }, (_, index) => ({ key: `${prefix}-${index}`, value: `${prefix}-${index}` })) });
}

/** The partitions a member holds now, by its rebalance events. */
function held(member: Member): Set<string> {
  const now = new Set<string>();
  for (const event of member.rebalances) for (const partition of event.partitions) (event.kind === 'assign' ? now.add(partition) : now.delete(partition));
  return now;
}

/** When the member was last given `partition`, or got rid of it. */
function lastEvent(member: Member, kind: RebalanceEvent['kind'], partition: string): number | undefined {
  return member.rebalances.filter((event) => event.kind === kind && event.partitions.includes(partition)).at(-1)?.atMs;
}

const keys = (...members: Member[]) => members.flatMap((entry) => entry.received.map((record) => record.key));
const duplicatesOf = (list: readonly string[]) => list.filter((key, index) => list.indexOf(key) !== index);

async function describeGroup(groupId: string) {
  const described = await raw.call(describeApi, 0, { groupIds: [groupId], includeAuthorizedOperations: false });
  return described.groups[0]!;
}

function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs, () => `--- broker log tail ---\n${broker.logs().split('\n').slice(-30).join('\n')}`);
}

test('a second member joins: the first revokes the partitions that move before the second gets them; every record once while both commit', async () => {
  const topic = 'moving';
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
  const first = await member('first', 'movers', [topic]);
  await waitFor(() => held(first).size === 4, 'the first member to hold the four partitions');
  let produced = 0;
  let producing = true;
  const background = (async () => {
    while (producing) {
      await produce(topic, 8, `batch${produced}`);
      produced += 8;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await waitFor(() => first.received.length >= 40, 'the first member reading');
  const second = await member('second', 'movers', [topic]);
  await waitFor(() => held(first).size === 2 && held(second).size === 2, 'the partitions split two and two');
  await new Promise((resolve) => setTimeout(resolve, 500));
  producing = false;
  await background;
  await waitFor(() => new Set(keys(first, second)).size === produced, `all ${produced} records`);

  const moved = [...held(second)];
  for (const partition of moved) {
    const revokedAtMs = lastEvent(first, 'revoke', partition);
    const assignedAtMs = lastEvent(second, 'assign', partition);
    assert.ok(revokedAtMs !== undefined && assignedAtMs !== undefined && revokedAtMs <= assignedAtMs, `${partition} revoked by the first member (${revokedAtMs}) before the second got it (${assignedAtMs})`);
    const partitionPrefix = `${partition}/`;
    const lastOfFirst = Math.max(...first.received.filter((record) => record.key.startsWith(partitionPrefix)).map((record) => record.atMs));
    const firstOfSecond = Math.min(...second.received.filter((record) => record.key.startsWith(partitionPrefix)).map((record) => record.atMs));
    assert.ok(lastOfFirst <= firstOfSecond, `${partition}: the first member's last record came before the second member's first`);
  }
  assert.deepEqual(first.rebalances.filter((event) => event.kind === 'revoke').flatMap((event) => event.partitions).sort(), moved.sort(), 'only the partitions that moved were revoked');
  assert.deepEqual(duplicatesOf(keys(first, second)), [], 'no record read twice in the group');
  assert.deepEqual([...first.errors, ...second.errors].map((error) => error.message), []);
  await leave(second);
  await leave(first);
});

interface ChildEvent {
  readonly event: 'ready' | 'assign' | 'revoke' | 'record' | 'log';
  readonly partitions?: number[];
  readonly partition?: number;
  readonly offset?: number;
  readonly message?: string;
  readonly atMs?: number;
}

/** A librdkafka member in a process of its own (test/helpers/rdkafka-child.ts), its events as they come. */
function childMember(groupId: string, topic: string): { child: ChildProcess; events: ChildEvent[]; stderr: () => string } {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../helpers/rdkafka-child.js', import.meta.url))], {
    env: isolatedEnvironment({ OSPREY_RDKAFKA_CHILD: '1', OSPREY_BOOTSTRAP: broker.bootstrap, OSPREY_GROUP: groupId, OSPREY_TOPIC: topic }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: ChildEvent[] = [];
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) events.push(JSON.parse(line) as ChildEvent);
  });
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  return { child, events, stderr: () => errors };
}

test('a member stopped (SIGSTOP) past its session is fenced: it loses its partitions, rejoins with a new epoch and reads again', async () => {
  const topic = 'stopped';
  const groupId = 'stoppers';
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const { child, events, stderr } = childMember(groupId, topic);
  try {
    const childPartitions = () => {
      const now = new Set<number>();
      for (const entry of events) for (const partition of entry.partitions ?? []) (entry.event === 'assign' ? now.add(partition) : entry.event === 'revoke' ? now.delete(partition) : undefined);
      return now;
    };
    await waitFor(() => childPartitions().size === 2, 'the child to hold both partitions', 20_000);
    const other = await member('other', groupId, [topic]);
    await waitFor(() => childPartitions().size === 1 && held(other).size === 1, 'one partition each');
    const before = await describeGroup(groupId);
    const childId = before.members.find((entry) => entry.clientId === 'rdkafka-child')?.memberId;
    assert.ok(childId !== undefined, 'the child is a member');
    const epochBefore = before.members.find((entry) => entry.memberId === childId)!.memberEpoch;
    // Someone else heartbeating under the child's member id with an epoch it never had is fenced; the member is not disturbed.
    assert.ok(epochBefore >= 2, 'the child moved to the epoch of the second member (so that one below is not a join)');
    const topicId: Buffer = before.members.find((entry) => entry.memberId === childId)!.assignment.topicPartitions[0]!.topicId;
    for (const memberEpoch of [epochBefore + 1, epochBefore - 1]) {
      const stale: { errorCode: number } = await raw.call(heartbeatApi, 1, { groupId, memberId: childId, memberEpoch, rebalanceTimeoutMs: -1, topicPartitions: [{ topicId, partitions: [0, 1] }] });
      assert.equal(stale.errorCode, ErrorCode.fencedMemberEpoch, `epoch ${memberEpoch} of ${epochBefore}`);
    }
    assert.equal((await describeGroup(groupId)).members.find((entry) => entry.memberId === childId)?.memberEpoch, epochBefore);

    child.kill('SIGSTOP');
    const stoppedAtMs = Date.now();
    await waitFor(() => held(other).size === 2, 'the other member to take the stopped member’s partition once its session expired');
    assert.ok(Date.now() - stoppedAtMs >= sessionTimeoutMs - 500, 'not before the session timeout');
    await produce(topic, 20, 'while-stopped');
    await waitFor(() => other.received.length >= 20, 'the other member to read what came while the child was stopped');
    const eventsBefore = events.length;
    child.kill('SIGCONT');

    await waitFor(() => events.slice(eventsBefore).some((entry) => entry.event === 'revoke'), 'the child to lose its partition');
    await waitFor(() => childPartitions().size === 1 && held(other).size === 1, 'the child to rejoin and get a partition back');
    const after = await describeGroup(groupId);
    const rejoined = after.members.find((entry) => entry.memberId === childId);
    assert.ok(rejoined !== undefined && rejoined.memberEpoch > epochBefore, `the child rejoined under its member id with a new epoch (${epochBefore} → ${rejoined?.memberEpoch})`);
    const fencedLines = events.filter((entry) => entry.event === 'log').map((entry) => entry.message ?? '');
    // librdkafka names the error by its description: UNKNOWN_MEMBER_ID is "Broker: Unknown member".
    assert.ok(fencedLines.some((line) => /ConsumerGroupHeartbeat failed due to: Broker: Unknown member: will rejoin/.test(line)), `librdkafka says why it was fenced:\n${fencedLines.join('\n')}\n${stderr()}`);
    const childRecordsBefore = events.filter((entry) => entry.event === 'record').length;
    await produce(topic, 20, 'after-rejoin');
    await waitFor(() => events.filter((entry) => entry.event === 'record').length > childRecordsBefore, 'the child to read again');
    await leave(other);
  } finally {
    child.kill('SIGKILL');
  }
});

test('static membership: a duplicate group.instance.id is refused; the member closing and coming back takes its partitions again without a rebalance', async () => {
  const topic = 'static';
  const groupId = 'statics';
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] });
  const first = await member('pod-a', groupId, [topic], { 'group.instance.id': 'pod-a' });
  const dynamic = await member('dynamic', groupId, [topic]);
  await waitFor(() => held(first).size === 2 && held(dynamic).size === 2, 'two partitions each');
  const podPartitions = [...held(first)].sort();

  // node-rdkafka 3.6 passes the fatal error neither to 'event.error' nor to consume(): librdkafka's log says it.
  const duplicate = await member('duplicate', groupId, [topic], { 'group.instance.id': 'pod-a', debug: 'cgrp' });
  await waitFor(() => duplicate.logs.some((line) => /Fatal error: Broker: The instance ID is still used by another member/.test(line)), 'the duplicate instance to be refused (UNRELEASED_INSTANCE_ID, fatal)');
  assert.equal(held(duplicate).size, 0);
  assert.equal((await describeGroup(groupId)).members.length, 2);
  await disconnect(duplicate.consumer);

  const epochBefore = (await describeGroup(groupId)).groupEpoch;
  const dynamicEvents = dynamic.rebalances.length;
  await disconnect(first.consumer);
  await waitFor(async () => (await describeGroup(groupId)).members.some((entry) => entry.instanceId === 'pod-a' && entry.memberEpoch === -2), 'pod-a to have left for now (epoch −2)');
  await produce(topic, 40, 'while-away');
  const again = await member('pod-a again', groupId, [topic], { 'group.instance.id': 'pod-a' });
  await waitFor(() => held(again).size === 2, 'pod-a back with two partitions');
  assert.deepEqual([...held(again)].sort(), podPartitions, 'the same partitions as before');
  await waitFor(() => new Set(keys(first, dynamic, again).filter((key) => key.startsWith(`${topic}/`))).size === 40, 'the 40 records');
  const described = await describeGroup(groupId);
  assert.equal(described.groupEpoch, epochBefore, 'no rebalance: the group epoch did not move');
  assert.equal(dynamic.rebalances.length, dynamicEvents, 'the other member saw no rebalance');
  assert.deepEqual(duplicatesOf(keys(first, dynamic, again)), []);
  await leave(again);
  await leave(dynamic);
});

test('a subscription change revokes the old topic’s partitions, which go to the member still subscribed, and brings the new topic’s', async () => {
  const groupId = 'changers';
  await admin.createTopics({ topics: [{ topic: 'sub-one', numPartitions: 2 }, { topic: 'sub-two', numPartitions: 2 }] });
  const changer = await member('changer', groupId, ['sub-one']);
  const staying = await member('staying', groupId, ['sub-one']);
  await waitFor(() => held(changer).size === 1 && held(staying).size === 1, 'sub-one split between the two');
  await produce('sub-one', 20, 'one-before');
  await waitFor(() => new Set(keys(changer, staying)).size === 20, 'the first records of sub-one');
  const given = [...held(changer)][0]!;

  changer.consumer.subscribe(['sub-two']);
  await waitFor(() => held(staying).size === 2 && held(changer).size === 2 && [...held(changer)].every((partition) => partition.startsWith('sub-two/')), 'sub-one to the staying member, sub-two to the changer');
  const revokedAtMs = lastEvent(changer, 'revoke', given);
  const takenAtMs = lastEvent(staying, 'assign', given);
  assert.ok(revokedAtMs !== undefined && takenAtMs !== undefined && revokedAtMs <= takenAtMs, `${given} revoked by the changer before the other member got it`);
  await produce('sub-one', 20, 'one-after');
  await produce('sub-two', 20, 'two');
  await waitFor(() => new Set(keys(changer, staying)).size === 60, 'every record of both topics');
  assert.ok(keys(changer).every((key) => key.startsWith('sub-two/') || key.startsWith(`${given}/`)), 'the changer read only its old partition and the new topic');
  assert.ok(keys(staying).every((key) => key.startsWith('sub-one/')));
  assert.deepEqual(duplicatesOf(keys(changer, staying)), []);
  await leave(changer);
  await leave(staying);
});
