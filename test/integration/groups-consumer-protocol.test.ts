/**
 * KIP-848 consumer groups against a real broker process: @platformatic/kafka 1.35's Consumer with
 * `groupProtocol: 'consumer'` (ConsumerGroupHeartbeat v1, OffsetCommit/OffsetFetch v9 with member
 * epochs), one of them in a child process killed with SIGKILL (test/helpers/consumer-protocol-child.ts),
 * a KafkaJS classic group beside it, and a raw client for what a well-behaved client never sends
 * (fencing, unknown members, unsupported assignors, limits).
 *
 * The broker runs with a short consumer session timeout and heartbeat interval so that
 * reassignments happen within seconds.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import type { MessagesStream } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { isolatedEnvironment, startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { RawKafkaConnection, rawApi } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';
import { consumerGroupDescribeRequest, consumerGroupDescribeResponse } from '../../src/protocol/kafka/messages/consumer-group-describe.js';
import { consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse } from '../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import type { ConsumerGroupHeartbeatRequestEncodable } from '../../src/protocol/kafka/messages/consumer-group-heartbeat.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../src/protocol/kafka/messages/describe-groups.js';
import { joinGroupRequest, joinGroupResponse } from '../../src/protocol/kafka/messages/join-group.js';
import { listGroupsRequest, listGroupsResponse } from '../../src/protocol/kafka/messages/list-groups.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../src/protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { deleteGroupsRequest, deleteGroupsResponse } from '../../src/protocol/kafka/messages/delete-groups.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { encodeSubscription } from '../../src/protocol/kafka/consumer-protocol.js';
import { subscriptionTopics, assignmentPartitions } from '../../src/protocol/kafka/consumer-protocol.js';

const { Kafka, logLevel } = kafkajs;

const heartbeatApi = rawApi(consumerGroupHeartbeatRequest, consumerGroupHeartbeatResponse);
const describeApi = rawApi(consumerGroupDescribeRequest, consumerGroupDescribeResponse);
const describeGroupsApi = rawApi(describeGroupsRequest, describeGroupsResponse);
const joinGroupApi = rawApi(joinGroupRequest, joinGroupResponse);
const listGroupsApi = rawApi(listGroupsRequest, listGroupsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const offsetCommitApi = rawApi(offsetCommitRequest, offsetCommitResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const deleteGroupsApi = rawApi(deleteGroupsRequest, deleteGroupsResponse);

const partitionCount = 6;
const sessionTimeoutMs = 3000;
const maxGroupSize = 20;
let broker: BrokerProcess;
let admin: Admin;
let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
let raw: RawKafkaConnection;
const open = new Set<Consumer<Buffer, Buffer, Buffer, Buffer>>();

before(async () => {
  broker = await startBrokerProcess({
    args: [
      '--num-partitions', String(partitionCount),
      '--groups.consumer-session-timeout-ms', String(sessionTimeoutMs),
      '--groups.consumer-heartbeat-interval-ms', '250',
      '--groups.consumer-max-group-size', String(maxGroupSize),
      '--groups.initial-rebalance-delay-ms', '300',
      '--groups.min-session-timeout-ms', '1000',
    ],
  });
  admin = new Admin({ clientId: 'kip848-admin', bootstrapBrokers: [broker.bootstrap], retries: 5, retryDelay: 200 });
  producer = new Producer({ clientId: 'kip848-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 20, retryDelay: 250 });
  raw = await RawKafkaConnection.open(broker.host, broker.port);
});

after(async () => {
  for (const consumer of open) {
    try {
      await consumer.close(true);
    } catch {
      // already gone with the broker
    }
  }
  raw.socket.destroy();
  await producer.close().catch(() => undefined);
  await admin.close().catch(() => undefined);
  await broker.stop();
});

function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs, () => `--- broker log tail ---\n${broker.logs().split('\n').slice(-40).join('\n')}`);
}

async function createTopic(topic: string): Promise<Buffer> {
  const metadata = await raw.call(metadataApi, 12, { topics: [{ topicId: Buffer.alloc(16), name: topic }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  const found = metadata.topics[0];
  assert.equal(found?.errorCode, 0, `topic ${topic} created`);
  return found!.topicId;
}

async function produce(topic: string, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  for (let start = 0; start < count; start += 100) {
    const messages = values.slice(start, start + 100).map((value, index) => ({ topic, partition: (start + index) % partitionCount, value: Buffer.from(value) }));
    await producer.send({ messages, acks: ProduceAcks.ALL });
  }
  return values;
}

const markerPrefix = 'marker';

/** value → names of the consumers that received it (markers kept apart). */
class Deliveries {
  readonly byValue = new Map<string, string[]>();
  readonly markers = new Set<string>();

  record(consumer: string, value: string): void {
    if (value.startsWith(markerPrefix)) {
      this.markers.add(value);
      return;
    }
    this.byValue.set(value, [...(this.byValue.get(value) ?? []), consumer]);
  }

  has(values: readonly string[]): boolean {
    return values.every((value) => this.byValue.has(value));
  }

  countFor(consumer: string): number {
    let count = 0;
    for (const receivers of this.byValue.values()) count += receivers.filter((receiver) => receiver === consumer).length;
    return count;
  }

  duplicates(except?: string): string[] {
    return [...this.byValue].filter(([, receivers]) => receivers.filter((receiver) => receiver !== except).length > 1).map(([value]) => value);
  }
}

interface Member {
  readonly name: string;
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
}

async function startMember(name: string, groupId: string, topic: string, deliveries: Deliveries, options: { autocommit?: boolean | number; assignor?: string; instanceId?: string } = {}): Promise<Member> {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: name,
    groupId,
    groupProtocol: 'consumer',
    bootstrapBrokers: [broker.bootstrap],
    maxWaitTime: 200,
    retries: 20,
    retryDelay: 250,
    ...(options.assignor === undefined ? {} : { groupRemoteAssignor: options.assignor }),
    ...(options.instanceId === undefined ? {} : { groupInstanceId: options.instanceId }),
  });
  open.add(consumer);
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: options.autocommit ?? 100 });
  stream.on('data', (message) => deliveries.record(name, message.value.toString()));
  stream.on('error', () => undefined);
  return { name, consumer, stream };
}

async function stopMember(member: Member, force = false): Promise<void> {
  await member.stream.close();
  await member.consumer.close(force);
  open.delete(member.consumer);
}

async function describeConsumerGroup(groupId: string, version = 1) {
  const response = await raw.call(describeApi, version, { groupIds: [groupId], includeAuthorizedOperations: false });
  return response.groups[0]!;
}

/** Stable with `members` members, each holding `perMember` partitions (when given). */
async function stableWith(groupId: string, members: number, perMember?: number): Promise<void> {
  await waitFor(async () => {
    const group = await describeConsumerGroup(groupId);
    if (group.errorCode !== 0 || group.groupState !== 'Stable' || group.members.length !== members) return false;
    if (perMember === undefined) return true;
    return group.members.every((member) => member.assignment.topicPartitions.reduce((sum, topic) => sum + topic.partitions.length, 0) === perMember);
  }, `${groupId} stable with ${members} members`);
}

/**
 * Stable, and every fetch sent before the last revocation answered: a consumer's long-polling
 * Fetch (maxWaitTime 200 ms) sent just before it revoked partitions may still return records of
 * them, which the client delivers (it does not drop records of partitions it gave up). A marker on
 * every partition ends every such Fetch (with the marker); once `deliveries` has them all, the
 * records a test writes next reach only their partitions' owners. Markers add one to each
 * partition's offsets.
 */
async function settledWith(groupId: string, topic: string, deliveries: Deliveries, members: number, perMember: number): Promise<void> {
  await stableWith(groupId, members, perMember);
  const markers = await produce(topic, markerPrefix, partitionCount); // one per partition
  await waitFor(() => markers.every((marker) => deliveries.markers.has(marker)), 'the markers');
}

async function committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
  const response = await raw.call(offsetFetchApi, 9, { groupId: '', topics: [], groups: [{ groupId, memberId: null, memberEpoch: -1, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }] }], requireStable: false });
  const result = new Map<number, bigint>();
  for (const entry of response.groups[0]?.topics ?? []) for (const partition of entry.partitions) result.set(partition.partitionIndex, partition.committedOffset);
  return result;
}

async function committedTotal(groupId: string, topic: string): Promise<bigint> {
  let total = 0n;
  for (const offset of (await committed(groupId, topic)).values()) if (offset > 0n) total += offset;
  return total;
}

function heartbeat(version: number, request: Partial<ConsumerGroupHeartbeatRequestEncodable> & { groupId: string; memberId: string; memberEpoch: number }) {
  return raw.call(heartbeatApi, version, { rebalanceTimeoutMs: -1, ...request });
}

function joinRequest(groupId: string, memberId: string, topics: string[], extra: Partial<ConsumerGroupHeartbeatRequestEncodable> = {}) {
  return { groupId, memberId, memberEpoch: 0, rebalanceTimeoutMs: 5000, subscribedTopicNames: topics, topicPartitions: [], ...extra };
}

test('three consumers share a 6-partition topic (uniform assignor): every record exactly once, each its two partitions', async () => {
  const topic = 'kip848-share';
  const topicId = await createTopic(topic);
  const deliveries = new Deliveries();
  const members = await Promise.all(['a', 'b', 'c'].map((name) => startMember(name, 'kip848-share', topic, deliveries)));
  await settledWith('kip848-share', topic, deliveries, 3, 2);
  await waitFor(() => members.every((member) => member.consumer.assignments?.reduce((sum, entry) => sum + entry.partitions.length, 0) === 2), 'every consumer to hold two partitions');
  const group = await describeConsumerGroup('kip848-share');
  assert.equal(group.assignorName, 'uniform');
  assert.equal(group.assignmentEpoch, group.groupEpoch);
  const owned = group.members.flatMap((member) => member.assignment.topicPartitions.flatMap((entry) => entry.partitions)).sort();
  assert.deepEqual(owned, [0, 1, 2, 3, 4, 5], 'each partition owned once');
  for (const member of group.members) {
    assert.deepEqual(member.subscribedTopicNames, [topic]);
    assert.equal(member.memberType, 1);
    assert.equal(member.clientHost, '/127.0.0.1', 'the member host, as Kafka shows it');
    assert.ok(member.assignment.topicPartitions.every((entry) => entry.topicId.equals(topicId) && entry.topicName === topic));
    assert.deepEqual(member.assignment, member.targetAssignment);
    assert.equal(member.memberEpoch, group.assignmentEpoch);
  }

  const values = await produce(topic, 'shared', 600);
  await waitFor(() => deliveries.has(values), 'every record');
  const closing = await produce(topic, markerPrefix, partitionCount); // behind the records: nothing of them is still on its way
  await waitFor(() => closing.every((marker) => deliveries.markers.has(marker)), 'the closing markers');
  assert.deepEqual(deliveries.duplicates(), []);
  assert.equal(deliveries.byValue.size, 600);
  for (const name of ['a', 'b', 'c']) assert.equal(deliveries.countFor(name), 200, `${name} reads its two partitions`);
  await waitFor(async () => (await committedTotal('kip848-share', topic)) === BigInt(600 + 2 * partitionCount), 'every offset committed, the markers’ too');
  await Promise.all(members.map((member) => stopMember(member)));
  const empty = await describeConsumerGroup('kip848-share');
  assert.equal(empty.groupState, 'Empty');
  assert.equal(empty.members.length, 0);
});

test('range assignor: each member takes a contiguous range', async () => {
  const topic = 'kip848-range';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'kip848-range', topic, deliveries, { assignor: 'range' })));
  await stableWith('kip848-range', 2, 3);
  const group = await describeConsumerGroup('kip848-range');
  assert.equal(group.assignorName, 'range');
  const ranges = group.members
    .sort((left, right) => (left.memberId < right.memberId ? -1 : 1))
    .map((member) => member.assignment.topicPartitions[0]!.partitions);
  assert.deepEqual(ranges, [[0, 1, 2], [3, 4, 5]]);
  await Promise.all(members.map((member) => stopMember(member)));
});

test('a consumer closed mid-stream without committing: its partitions move, nothing is skipped', async () => {
  const topic = 'kip848-leaver';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const [leaver, ...survivors] = await Promise.all([
    startMember('leaver', 'kip848-leaver', topic, deliveries, { autocommit: false }),
    ...['a', 'b'].map((name) => startMember(name, 'kip848-leaver', topic, deliveries)),
  ]);
  await settledWith('kip848-leaver', topic, deliveries, 3, 2);
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  assert.equal(deliveries.countFor('leaver'), 100);
  await waitFor(async () => [...(await committed('kip848-leaver', topic)).values()].filter((offset) => offset === 51n).length === 4, 'the survivors’ commits (a marker and 50 records each)');
  await stopMember(leaver, true);
  await stableWith('kip848-leaver', 2, 3);
  const second = await produce(topic, 'second', 300);
  await waitFor(() => [...first, ...second].every((value) => deliveries.byValue.get(value)?.some((receiver) => receiver !== 'leaver')), 'the survivors to read every record');
  assert.deepEqual(deliveries.duplicates('leaver'), [], 'no record came twice to the survivors');
  await Promise.all(survivors.map((member) => stopMember(member)));
});

test('a member that stops heartbeating is removed after the session timeout; its partitions move', async () => {
  const topic = 'kip848-expiry';
  const topicId = await createTopic(topic);
  // A raw member joins first and takes all six partitions, then falls silent (a killed process).
  const joined = await heartbeat(1, joinRequest('kip848-expiry', 'silent-member', [topic]));
  assert.equal(joined.errorCode, 0);
  assert.equal(joined.memberEpoch, 1);
  assert.deepEqual(joined.assignment?.topicPartitions.map((entry) => [entry.topicId.equals(topicId), entry.partitions]), [[true, [0, 1, 2, 3, 4, 5]]]);
  const deliveries = new Deliveries();
  const values = await produce(topic, 'expiry', 120);
  const started = Date.now();
  const member = await startMember('survivor', 'kip848-expiry', topic, deliveries);
  // The silent member owns everything and never revokes: the survivor, in the group, holds nothing
  // (and so reads nothing) until it is gone.
  const survivorMember = async () => (await describeConsumerGroup('kip848-expiry')).members.find((candidate) => candidate.clientId === 'survivor');
  await waitFor(async () => (await survivorMember()) !== undefined, 'the survivor in the group');
  assert.deepEqual((await survivorMember())?.assignment.topicPartitions.flatMap((entry) => entry.partitions), [], 'no partition has two owners');
  assert.equal(deliveries.byValue.size, 0, 'nothing read while the silent member owns everything');
  await waitFor(() => deliveries.has(values), 'the survivor to read every record');
  assert.ok(Date.now() - started >= sessionTimeoutMs - 500, 'only after the session timeout');
  const afterExpiry = await heartbeat(1, { groupId: 'kip848-expiry', memberId: 'silent-member', memberEpoch: 1 });
  assert.equal(afterExpiry.errorCode, ErrorCode.unknownMemberId);
  await stopMember(member);
});

test('a consumer process killed with SIGKILL mid-stream: after its session expires its partitions move, nothing is skipped', async () => {
  const topic = 'kip848-killed';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const child = spawn(process.execPath, [fileURLToPath(new URL('../helpers/consumer-protocol-child.js', import.meta.url))], {
    env: isolatedEnvironment({ OSPREY_CHILD_CONSUMER: '1', OSPREY_BOOTSTRAP: broker.bootstrap, OSPREY_GROUP: 'kip848-killed', OSPREY_TOPIC: topic, OSPREY_NAME: 'victim' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let childOutput = '';
  child.stdout.on('data', (chunk: Buffer) => {
    childOutput += chunk.toString();
    const lines = childOutput.split('\n');
    childOutput = lines.pop()!;
    for (const line of lines) if (line !== 'ready') deliveries.record('victim', line);
  });
  child.stderr.resume();
  try {
    await waitFor(async () => (await describeConsumerGroup('kip848-killed')).members.length === 1, 'the child to join');
    const survivors = await Promise.all(['a', 'b'].map((name) => startMember(name, 'kip848-killed', topic, deliveries)));
    await settledWith('kip848-killed', topic, deliveries, 3, 2);
    const first = await produce(topic, 'first', 300);
    await waitFor(() => deliveries.has(first), 'the first records');
    assert.equal(deliveries.countFor('victim'), 100, 'the child read its two partitions');
    child.kill('SIGKILL');
    const killedAt = Date.now();
    const second = await produce(topic, 'second', 300);
    await waitFor(() => [...first, ...second].every((value) => deliveries.byValue.get(value)?.some((receiver) => receiver !== 'victim')), 'the survivors to read every record');
    assert.ok(Date.now() - killedAt >= sessionTimeoutMs - 1000, 'the partitions moved once the session expired');
    assert.deepEqual(deliveries.duplicates('victim'), [], 'no record came twice to the survivors');
    await stableWith('kip848-killed', 2, 3);
    await Promise.all(survivors.map((member) => stopMember(member)));
  } finally {
    child.kill('SIGKILL');
  }
});

test('the group closes and starts again, then the broker is killed with SIGKILL: the group resumes from its committed offsets', async () => {
  const topic = 'kip848-restart';
  await createTopic(topic);
  const deliveries = new Deliveries();
  let members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'kip848-restart', topic, deliveries)));
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  await waitFor(async () => (await committedTotal('kip848-restart', topic)) === 300n, 'the first records committed');
  await Promise.all(members.map((member) => stopMember(member)));

  const second = await produce(topic, 'second', 300);
  members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'kip848-restart', topic, deliveries)));
  await waitFor(() => deliveries.has(second), 'the second records');
  await waitFor(async () => (await committedTotal('kip848-restart', topic)) === 600n, 'the second records committed');
  assert.deepEqual(deliveries.duplicates(), [], 'the restarted group did not read committed records again');
  const before = await describeConsumerGroup('kip848-restart');

  raw.socket.destroy();
  await broker.kill9();
  await Promise.all(members.map((member) => stopMember(member, true).catch(() => undefined)));
  broker = await broker.restart();
  raw = await RawKafkaConnection.open(broker.host, broker.port);
  assert.equal(await committedTotal('kip848-restart', topic), 600n, 'the commits survived');
  const restored = await describeConsumerGroup('kip848-restart');
  assert.equal(restored.groupState, 'Empty', 'the group comes back empty');
  assert.ok(restored.groupEpoch >= before.groupEpoch, 'its epoch did not go back');
  const stale = await heartbeat(1, { groupId: 'kip848-restart', memberId: before.members[0]!.memberId, memberEpoch: before.members[0]!.memberEpoch });
  assert.equal(stale.errorCode, ErrorCode.unknownMemberId, 'members from before the crash must rejoin');

  const third = await produce(topic, 'third', 300);
  members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'kip848-restart', topic, deliveries)));
  await waitFor(() => deliveries.has(third), 'the third records');
  const markers = await produce(topic, markerPrefix, partitionCount); // behind the records: nothing of them is still on its way
  await waitFor(() => markers.every((marker) => deliveries.markers.has(marker)), 'the markers after the records');
  assert.deepEqual(deliveries.duplicates(), [], 'committed records are not read again');
  await Promise.all(members.map((member) => stopMember(member)));
});

test('a classic KafkaJS group and a consumer group on one broker; each protocol refuses the other’s group', async () => {
  const topic = 'kip848-both';
  await createTopic(topic);
  const kafka = new Kafka({ clientId: 'kip848-kafkajs', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
  const classic = kafka.consumer({ groupId: 'kip848-classic', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const classicSeen = new Set<string>();
  await classic.connect();
  await classic.subscribe({ topic, fromBeginning: true });
  await classic.run({ eachMessage: async ({ message }) => void classicSeen.add(message.value!.toString()) });
  const deliveries = new Deliveries();
  const member = await startMember('modern', 'kip848-modern', topic, deliveries);
  const values = await produce(topic, 'both', 240);
  await waitFor(() => deliveries.has(values) && values.every((value) => classicSeen.has(value)), 'both groups to read every record');
  assert.deepEqual(deliveries.duplicates(), []);

  const listed = await raw.call(listGroupsApi, 5, { statesFilter: [], typesFilter: [] });
  const byId = new Map(listed.groups.map((group) => [group.groupId, group]));
  assert.equal(byId.get('kip848-classic')?.groupType, 'classic');
  assert.equal(byId.get('kip848-modern')?.groupType, 'consumer');
  assert.equal(byId.get('kip848-modern')?.protocolType, 'consumer');
  const consumersOnly = await raw.call(listGroupsApi, 5, { statesFilter: [], typesFilter: ['consumer'] });
  assert.ok(consumersOnly.groups.some((group) => group.groupId === 'kip848-modern'));
  assert.ok(!consumersOnly.groups.some((group) => group.groupId === 'kip848-classic'));

  const intoClassic = await heartbeat(1, joinRequest('kip848-classic', 'intruder', [topic]));
  assert.equal(intoClassic.errorCode, ErrorCode.inconsistentGroupProtocol);
  const intoModern = await raw.call(joinGroupApi, 5, {
    groupId: 'kip848-modern', sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000, memberId: '', groupInstanceId: null, protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeSubscription([topic]) }],
  });
  assert.equal(intoModern.errorCode, ErrorCode.inconsistentGroupProtocol);
  const describedClassic = await describeConsumerGroup('kip848-classic');
  assert.equal(describedClassic.errorCode, ErrorCode.groupIdNotFound, 'ConsumerGroupDescribe of a classic group');

  // DescribeGroups shows the consumer group with the embedded consumer protocol's subscription and assignment.
  const described = (await raw.call(describeGroupsApi, 5, { groups: ['kip848-modern'], includeAuthorizedOperations: false })).groups[0]!;
  assert.equal(described.protocolType, 'consumer');
  assert.equal(described.groupState, 'Stable');
  assert.deepEqual(subscriptionTopics(described.members[0]!.memberMetadata), [topic]);
  assert.deepEqual(assignmentPartitions(described.members[0]!.memberAssignment), [{ topic, partitions: [0, 1, 2, 3, 4, 5] }]);

  await classic.disconnect();
  await stopMember(member);
  const deleted = await raw.call(deleteGroupsApi, 2, { groupsNames: ['kip848-modern', 'kip848-classic'] });
  assert.deepEqual(deleted.results.map((result) => result.errorCode), [0, 0], 'both groups deleted once empty');
  assert.equal((await describeConsumerGroup('kip848-modern')).errorCode, ErrorCode.groupIdNotFound);
});

test('raw ConsumerGroupHeartbeat: join, fencing, unknown members, assignors, static members, commits with epochs', async () => {
  const topic = 'kip848-raw';
  const topicId = await createTopic(topic);
  const groupId = 'kip848-raw';

  const unsupported = await heartbeat(1, joinRequest(groupId, 'm1', [topic], { serverAssignor: 'sticky-please' }));
  assert.equal(unsupported.errorCode, ErrorCode.unsupportedAssignor);
  assert.match(unsupported.errorMessage ?? '', /uniform/);
  const regex = await heartbeat(1, joinRequest(groupId, 'm1', [topic], { subscribedTopicRegex: 'kip[' }));
  assert.equal(regex.errorCode, ErrorCode.invalidRegularExpression);
  assert.match(regex.errorMessage ?? '', /SubscribedTopicRegex/);
  assert.equal((await heartbeat(1, joinRequest(groupId, '', [topic]))).errorCode, ErrorCode.invalidRequest, 'v1 members make their own id');
  assert.equal((await heartbeat(1, { groupId, memberId: 'm1', memberEpoch: -3 })).errorCode, ErrorCode.invalidRequest);
  assert.equal((await heartbeat(1, { groupId, memberId: 'nobody', memberEpoch: 5 })).errorCode, ErrorCode.unknownMemberId, 'an unknown group');
  assert.equal((await describeConsumerGroup(groupId)).errorCode, ErrorCode.groupIdNotFound, 'refused joins leave no group behind');

  // v0: the broker makes the member id.
  const first = await heartbeat(0, joinRequest(groupId, '', [topic]));
  assert.equal(first.errorCode, 0);
  assert.ok((first.memberId ?? '').length > 0);
  assert.equal(first.heartbeatIntervalMs, 250);
  const memberA = first.memberId!;
  assert.deepEqual(first.assignment?.topicPartitions[0]?.partitions, [0, 1, 2, 3, 4, 5]);
  const ownedAll = [{ topicId, partitions: [0, 1, 2, 3, 4, 5] }];

  // A second member: the target moves three partitions to it, but it gets them only once A revoked them.
  const second = await heartbeat(1, joinRequest(groupId, 'member-b', [topic]));
  assert.equal(second.errorCode, 0);
  assert.equal(second.memberEpoch, 2);
  assert.deepEqual(second.assignment?.topicPartitions ?? [], [], 'nothing free yet');
  const revoke = await heartbeat(1, { groupId, memberId: memberA, memberEpoch: 1, topicPartitions: ownedAll });
  assert.equal(revoke.memberEpoch, 1, 'A stays at its epoch until it revoked');
  const kept = revoke.assignment!.topicPartitions[0]!.partitions;
  assert.equal(kept.length, 3);
  const stillWaiting = await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: 2, topicPartitions: [] });
  assert.deepEqual(stillWaiting.assignment?.topicPartitions ?? [], []);
  assert.equal((await describeConsumerGroup(groupId)).groupState, 'Reconciling');

  // An offset commit with the member's epoch is accepted, with another epoch it is stale.
  const commit = (memberId: string, epoch: number) =>
    raw.call(offsetCommitApi, 9, { groupId, generationIdOrMemberEpoch: epoch, memberId, groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: kept[0]!, committedOffset: 0n, committedLeaderEpoch: -1, committedMetadata: null }] }] });
  assert.equal((await commit(memberA, 1)).topics[0]!.partitions[0]!.errorCode, 0);
  assert.equal((await commit(memberA, 7)).topics[0]!.partitions[0]!.errorCode, ErrorCode.staleMemberEpoch);
  assert.equal((await commit('stranger', 1)).topics[0]!.partitions[0]!.errorCode, ErrorCode.unknownMemberId);
  assert.equal((await commit('', -1)).topics[0]!.partitions[0]!.errorCode, ErrorCode.unknownMemberId, 'no simple commits while the group has members');
  const fetchStale = await raw.call(offsetFetchApi, 9, { groupId: '', topics: [], groups: [{ groupId, memberId: memberA, memberEpoch: 9, topics: null }], requireStable: false });
  assert.equal(fetchStale.groups[0]!.errorCode, ErrorCode.staleMemberEpoch);

  const revoked = await heartbeat(1, { groupId, memberId: memberA, memberEpoch: 1, topicPartitions: [{ topicId, partitions: kept }] });
  assert.equal(revoked.memberEpoch, 2, 'A moves on once it revoked');
  const received = await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: 2, topicPartitions: [] });
  const given = received.assignment!.topicPartitions[0]!.partitions;
  assert.deepEqual([...kept, ...given].sort(), [0, 1, 2, 3, 4, 5]);
  assert.equal((await describeConsumerGroup(groupId)).groupState, 'Stable', 'every member at the assignment epoch with all its partitions');
  const confirmed = await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: 2, topicPartitions: [{ topicId, partitions: given }] });
  assert.equal(confirmed.assignment, null, 'a partial heartbeat with nothing new carries no assignment');

  // Fencing: an epoch from the future, or an old one with partitions it no longer has.
  assert.equal((await heartbeat(1, { groupId, memberId: memberA, memberEpoch: 3 })).errorCode, ErrorCode.fencedMemberEpoch);
  assert.equal((await heartbeat(1, { groupId, memberId: memberA, memberEpoch: 1, topicPartitions: ownedAll })).errorCode, ErrorCode.fencedMemberEpoch);
  assert.equal((await heartbeat(1, { groupId, memberId: memberA, memberEpoch: 1, topicPartitions: [{ topicId, partitions: kept }] })).errorCode, 0, 'the previous epoch with a subset: a lost response');

  // Static members: a second holder of an instance id is refused until the first leaves with −2.
  const staticJoin = await heartbeat(1, joinRequest(groupId, 'static-1', [topic], { instanceId: 'pod-1' }));
  assert.equal(staticJoin.errorCode, 0);
  const duplicate = await heartbeat(1, joinRequest(groupId, 'static-2', [topic], { instanceId: 'pod-1' }));
  assert.equal(duplicate.errorCode, ErrorCode.unreleasedInstanceId);
  assert.equal((await heartbeat(1, { groupId, memberId: 'static-2', memberEpoch: staticJoin.memberEpoch, instanceId: 'pod-1' })).errorCode, ErrorCode.fencedInstanceId);
  const temporaryLeave = await heartbeat(1, { groupId, memberId: 'static-1', memberEpoch: -2, instanceId: 'pod-1' });
  assert.equal(temporaryLeave.errorCode, 0);
  assert.equal(temporaryLeave.memberEpoch, -2);
  const epochBefore = (await describeConsumerGroup(groupId)).groupEpoch;
  const replaced = await heartbeat(1, joinRequest(groupId, 'static-2', [topic], { instanceId: 'pod-1' }));
  assert.equal(replaced.errorCode, 0);
  assert.equal((await describeConsumerGroup(groupId)).groupEpoch, epochBefore, 'a static member coming back causes no rebalance');
  assert.ok((await describeConsumerGroup(groupId)).members.some((member) => member.memberId === 'static-2' && member.instanceId === 'pod-1'));

  // Leaving with −1; then the member is unknown.
  const left = await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: 2 });
  assert.equal(left.errorCode, 0);
  const leave = await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: -1 });
  assert.equal(leave.errorCode, 0);
  assert.equal(leave.memberEpoch, -1);
  assert.equal((await heartbeat(1, { groupId, memberId: 'member-b', memberEpoch: 2 })).errorCode, ErrorCode.unknownMemberId);
  for (const memberId of [memberA, 'static-2']) await heartbeat(1, { groupId, memberId, memberEpoch: -1 });
  assert.equal((await describeConsumerGroup(groupId)).groupState, 'Empty');
});

test('group size limit: joins beyond groups.consumerMaxGroupSize get GROUP_MAX_SIZE_REACHED; oversized fields are refused', async () => {
  const topic = 'kip848-limit';
  await createTopic(topic);
  const groupId = 'kip848-limit';
  for (let index = 0; index < maxGroupSize; index++) {
    const joined = await heartbeat(1, joinRequest(groupId, `member-${index}`, [topic]));
    assert.equal(joined.errorCode, 0, `member ${index}`);
  }
  const refused = await heartbeat(1, joinRequest(groupId, 'one-too-many', [topic]));
  assert.equal(refused.errorCode, ErrorCode.groupMaxSizeReached);
  assert.equal((await describeConsumerGroup(groupId)).members.length, maxGroupSize);
  assert.equal((await heartbeat(1, joinRequest(groupId, 'x'.repeat(300), [topic]))).errorCode, ErrorCode.invalidRequest, 'member id too long');
  assert.equal((await heartbeat(1, joinRequest(groupId, 'member-0', ['t'.repeat(300)]))).errorCode, ErrorCode.invalidRequest, 'topic name too long');
  const manyTopics = Array.from({ length: 1001 }, (_, index) => `topic-${index}`);
  assert.equal((await heartbeat(1, joinRequest(groupId, 'member-0', manyTopics))).errorCode, ErrorCode.invalidRequest, 'too many subscribed topics');
  assert.equal((await heartbeat(1, joinRequest('g'.repeat(300), 'member-0', [topic]))).errorCode, ErrorCode.invalidGroupId);
  for (let index = 0; index < maxGroupSize; index++) await heartbeat(1, { groupId, memberId: `member-${index}`, memberEpoch: -1 });
  assert.equal((await describeConsumerGroup(groupId)).groupState, 'Empty');
});

test('a subscribed topic created later, and new partitions, are assigned on the next heartbeats', async () => {
  const topic = 'kip848-grow';
  const later = 'kip848-later';
  const topicId = await createTopic(topic);
  const groupId = 'kip848-grow';
  const joined = await heartbeat(1, joinRequest(groupId, 'grower', [topic, later]));
  assert.deepEqual(joined.assignment!.topicPartitions.map((entry) => entry.partitions.length), [partitionCount], 'the missing topic is not assigned');
  await admin.createPartitions({ topics: [{ name: topic, count: 8 }] });
  const grown = await heartbeat(1, { groupId, memberId: 'grower', memberEpoch: joined.memberEpoch, topicPartitions: [{ topicId, partitions: [0, 1, 2, 3, 4, 5] }] });
  assert.equal(grown.memberEpoch, joined.memberEpoch + 1);
  assert.deepEqual(grown.assignment?.topicPartitions[0]?.partitions, [0, 1, 2, 3, 4, 5, 6, 7]);
  const laterId = await createTopic(later);
  const created = await heartbeat(1, { groupId, memberId: 'grower', memberEpoch: grown.memberEpoch, topicPartitions: [{ topicId, partitions: [0, 1, 2, 3, 4, 5, 6, 7] }] });
  assert.equal(created.memberEpoch, grown.memberEpoch + 1);
  const laterAssignment = created.assignment?.topicPartitions.find((entry) => entry.topicId.equals(laterId));
  assert.deepEqual(laterAssignment?.partitions, [0, 1, 2, 3, 4, 5]);
  await heartbeat(1, { groupId, memberId: 'grower', memberEpoch: -1 });
});
