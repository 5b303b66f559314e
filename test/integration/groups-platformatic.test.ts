/**
 * @platformatic/kafka 1.35's Consumer with the classic group protocol against a real broker
 * process. It speaks the newest versions (FindCoordinator v6 with batched keys, JoinGroup v9,
 * SyncGroup v5, Heartbeat v4, LeaveGroup v5, OffsetCommit v9, OffsetFetch v9): three consumers
 * sharing a topic, one closed without committing, the group restarted, the broker killed with
 * SIGKILL, and its Admin's group calls (listGroups with filters, describeGroups,
 * listConsumerGroupOffsets, alterConsumerGroupOffsets, deleteConsumerGroupOffsets,
 * removeMembersFromConsumerGroup, deleteGroups). Version 1.35 has no cooperative-sticky assignor;
 * its round-robin one is used.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Admin, Consumer, ProduceAcks, Producer } from '@platformatic/kafka';
import type { MessagesStream } from '@platformatic/kafka';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { waitUntil } from '../helpers/waiting.js';

const partitionCount = 6;
let broker: BrokerProcess;
let admin: Admin;
let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
const open = new Set<Consumer<Buffer, Buffer, Buffer, Buffer>>();

before(async () => {
  broker = await startBrokerProcess({ args: ['--num-partitions', String(partitionCount), '--groups.initial-rebalance-delay-ms', '300', '--groups.min-session-timeout-ms', '1000'] });
  admin = new Admin({ clientId: 'groups-admin', bootstrapBrokers: [broker.bootstrap], retries: 5, retryDelay: 200 });
  producer = new Producer({ clientId: 'groups-producer', bootstrapBrokers: [broker.bootstrap], acks: ProduceAcks.ALL, retries: 20, retryDelay: 250 });
});

after(async () => {
  for (const consumer of open) await consumer.close().catch(() => undefined);
  await producer.close().catch(() => undefined);
  await admin.close().catch(() => undefined);
  await broker.stop();
});

function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs, () => `--- broker log tail ---\n${broker.logs().split('\n').slice(-30).join('\n')}`);
}

async function createTopic(topic: string): Promise<void> {
  await admin.metadata({ topics: [topic], autocreateTopics: true });
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

/**
 * Writes a marker to every partition and waits until `deliveries` has them all: a record delivered
 * twice would have come before its partition's marker, so "nothing came twice" can be checked at
 * once afterwards.
 */
async function settle(topic: string, deliveries: Deliveries): Promise<void> {
  const markers = await produce(topic, markerPrefix, partitionCount); // one per partition
  await waitFor(() => markers.every((marker) => deliveries.markers.has(marker)), 'the markers after the records');
}

interface Member {
  readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
}

async function startMember(name: string, groupId: string, topic: string, deliveries: Deliveries, autocommit: boolean | number = 100, groupInstanceId?: string): Promise<Member> {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: name,
    groupId,
    bootstrapBrokers: [broker.bootstrap],
    sessionTimeout: 6000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTime: 200,
    retries: 20,
    retryDelay: 250,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
  });
  open.add(consumer);
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit });
  stream.on('data', (message) => deliveries.record(name, message.value.toString()));
  stream.on('error', () => undefined);
  return { consumer, stream };
}

async function stopMember(member: Member, force = false): Promise<void> {
  await member.stream.close();
  await member.consumer.close(force);
  open.delete(member.consumer);
}

async function describe(groupId: string) {
  return (await admin.describeGroups({ groups: [groupId] })).get(groupId)!;
}

async function stableWith(groupId: string, members: number): Promise<void> {
  await waitFor(async () => {
    const group = await describe(groupId);
    return group.state.toUpperCase() === 'STABLE' && group.members.size === members;
  }, `${groupId} stable with ${members} members`);
}

async function committed(groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [group] = await admin.listConsumerGroupOffsets({ groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [0, 1, 2, 3, 4, 5] }] }] });
  const result = new Map<number, bigint>();
  for (const entry of group?.topics ?? []) for (const partition of entry.partitions) result.set(partition.partitionIndex, partition.committedOffset);
  return result;
}

async function committedTotal(groupId: string, topic: string): Promise<bigint> {
  let total = 0n;
  for (const offset of (await committed(groupId, topic)).values()) if (offset > 0n) total += offset;
  return total;
}

test('three @platformatic/kafka consumers share a 6-partition topic: every record exactly once', async () => {
  const topic = 'plt-share';
  await createTopic(topic);
  const deliveries = new Deliveries();
  const members = await Promise.all(['a', 'b', 'c'].map((name) => startMember(name, 'plt-share', topic, deliveries)));
  await stableWith('plt-share', 3);
  const values = await produce(topic, 'shared', 600);
  await waitFor(() => deliveries.has(values), 'every record');
  await settle(topic, deliveries);
  assert.deepEqual(deliveries.duplicates(), []);
  assert.equal(deliveries.byValue.size, 600);
  for (const name of ['a', 'b', 'c']) assert.equal(deliveries.countFor(name), 200, `${name} reads its two partitions`);
  await waitFor(async () => (await committedTotal('plt-share', topic)) === BigInt(600 + partitionCount), 'every offset committed, the markers’ too');
  await Promise.all(members.map((member) => stopMember(member)));
});

test('a consumer closed mid-stream without committing: its partitions move and nothing is skipped', async () => {
  const topic = 'plt-leaver';
  await createTopic(topic);
  const deliveries = new Deliveries();
  // All three join together: a consumer that joins later makes the others rebalance, and
  // @platformatic/kafka 1.35 may then commit positions of partitions it no longer owns (records of
  // its previous assignment still in flight), which the broker accepts as Kafka does (the classic
  // protocol checks the member and generation, not partition ownership).
  const [leaver, ...survivors] = await Promise.all([
    startMember('leaver', 'plt-leaver', topic, deliveries, false),
    ...['a', 'b'].map((name) => startMember(name, 'plt-leaver', topic, deliveries)),
  ]);
  await stableWith('plt-leaver', 3);
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  assert.equal(deliveries.countFor('leaver'), 100);
  // The survivors' own four partitions are committed (autocommit every 100 ms); the leaver's two are not.
  await waitFor(async () => [...(await committed('plt-leaver', topic)).values()].filter((offset) => offset === 50n).length === 4, 'the survivors’ commits');
  await stopMember(leaver, true);
  // The second records come once the partitions have their new owners and every Fetch sent before
  // (a long poll of up to 200 ms) was answered — markers end those: produced during the rebalance, a
  // survivor could read some, lose the partition before its next autocommit, and the other survivor
  // read them again (at-least-once, as in Kafka), which happens on a loaded machine.
  await stableWith('plt-leaver', 2);
  await settle(topic, deliveries);
  const second = await produce(topic, 'second', 300);
  await waitFor(() => [...first, ...second].every((value) => deliveries.byValue.get(value)?.some((receiver) => receiver !== 'leaver')), 'the survivors to read every record');
  assert.deepEqual(deliveries.duplicates('leaver'), [], 'no record came twice to the survivors');
  await Promise.all(survivors.map((member) => stopMember(member)));
});

test('the group closes and starts again: it resumes from its committed offsets', async () => {
  const topic = 'plt-restart';
  await createTopic(topic);
  const before = new Deliveries();
  let members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'plt-restart', topic, before)));
  const first = await produce(topic, 'first', 300);
  await waitFor(() => before.has(first), 'the first records');
  await waitFor(async () => (await committedTotal('plt-restart', topic)) === 300n, 'the first records committed');
  await Promise.all(members.map((member) => stopMember(member)));
  const second = await produce(topic, 'second', 300);
  const afterRestart = new Deliveries();
  members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'plt-restart', topic, afterRestart)));
  await waitFor(() => afterRestart.has(second), 'the second records');
  await settle(topic, afterRestart);
  assert.deepEqual([...afterRestart.byValue.keys()].filter((value) => value.startsWith('first')), []);
  assert.deepEqual(afterRestart.duplicates(), []);
  await Promise.all(members.map((member) => stopMember(member)));
});

test('the broker is killed with SIGKILL and restarted: the group resumes from its committed offsets', async () => {
  const topic = 'plt-crash';
  await createTopic(topic);
  const deliveries = new Deliveries();
  let members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'plt-crash', topic, deliveries)));
  const first = await produce(topic, 'first', 300);
  await waitFor(() => deliveries.has(first), 'the first records');
  await waitFor(async () => (await committedTotal('plt-crash', topic)) === 300n, 'the first records committed');
  await broker.kill9();
  await Promise.all(members.map((member) => stopMember(member, true).catch(() => undefined)));
  broker = await broker.restart();
  assert.equal(await committedTotal('plt-crash', topic), 300n, 'the commits survived');
  const second = await produce(topic, 'second', 300);
  members = await Promise.all(['a', 'b'].map((name) => startMember(name, 'plt-crash', topic, deliveries)));
  await waitFor(() => deliveries.has(second), 'the second records');
  await settle(topic, deliveries);
  assert.deepEqual(deliveries.duplicates(), [], 'committed records are not read again');
  await Promise.all(members.map((member) => stopMember(member)));
});

test('admin: listGroups with filters, describeGroups, offsets listed, altered and deleted, members removed, groups deleted', async () => {
  const topic = 'plt-admin';
  const other = 'plt-admin-other';
  await createTopic(topic);
  await createTopic(other);
  await produce(topic, 'admin', 60);
  await produce(other, 'other', 60);
  // Offsets set while the group has no members (simple commits, generation −1): the consumer starts there.
  await admin.alterConsumerGroupOffsets({ groupId: 'plt-admin', topics: [{ name: topic, partitionOffsets: [{ partition: 0, offset: 4n }] }, { name: other, partitionOffsets: [{ partition: 0, offset: 3n }] }] });
  const deliveries = new Deliveries();
  const member = await startMember('static', 'plt-admin', topic, deliveries, 100, 'pod-1');
  await stableWith('plt-admin', 1);
  await waitFor(() => deliveries.byValue.size === 56, 'the records after the offsets set');
  assert.ok(!deliveries.byValue.has('admin-0') && deliveries.byValue.has('admin-36'), 'partition 0 started at offset 4');

  const listed = await admin.listGroups({ states: ['STABLE'], types: ['classic'] });
  assert.equal(listed.get('plt-admin')?.protocolType, 'consumer');
  assert.ok(!(await admin.listGroups({ states: ['EMPTY'] })).has('plt-admin'));
  const group = await describe('plt-admin');
  assert.equal(group.protocol, 'roundrobin');
  const [memberDescription] = [...group.members.values()];
  assert.equal(memberDescription?.groupInstanceId, 'pod-1');
  assert.deepEqual(memberDescription?.metadata?.topics, [topic]);

  await assert.rejects(admin.alterConsumerGroupOffsets({ groupId: 'plt-admin', topics: [{ name: other, partitionOffsets: [{ partition: 0, offset: 5n }] }] }), 'no simple commits while the group has members (UNKNOWN_MEMBER_ID, as Kafka)');
  await waitFor(async () => (await committed('plt-admin', topic)).get(0) === 10n, 'the consumer’s commits');
  assert.equal((await committed('plt-admin', other)).get(0), 3n);
  // The member subscribes to `topic`: its offsets cannot be deleted; those of `other` can.
  await assert.rejects(admin.deleteConsumerGroupOffsets({ groupId: 'plt-admin', topics: [{ name: topic, partitionIndexes: [0] }] }));
  await admin.deleteConsumerGroupOffsets({ groupId: 'plt-admin', topics: [{ name: other, partitionIndexes: [0] }] });
  assert.equal((await committed('plt-admin', other)).get(0), -1n);

  await assert.rejects(admin.deleteGroups({ groups: ['plt-admin'] }), 'not while it has a member');
  await admin.removeMembersFromConsumerGroup({ groupId: 'plt-admin', members: [{ memberId: memberDescription!.id, reason: 'test' }] });
  await waitFor(async () => (await describe('plt-admin')).members.size === 0, 'the static member to be removed');
  await stopMember(member, true);
  await admin.deleteGroups({ groups: ['plt-admin'] });
  assert.ok(!(await admin.listGroups()).has('plt-admin'));
});
