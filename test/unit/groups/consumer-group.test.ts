/**
 * The KIP-848 consumer group state machine driven through the coordinator with a manual clock:
 * joins, reconciliation (no partition ever has two owners), session and rebalance timeouts, static
 * members, restarts, conversion between protocols, offsets with member epochs, and a random
 * operation sequence checked against the group's invariants.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { ConsumerGroup } from '../../../src/groups/consumer-group.js';
import type { ConsumerHeartbeatResult } from '../../../src/groups/consumer-group.js';
import { ClassicGroup } from '../../../src/groups/classic-group.js';
import type { ConsumerHeartbeatRequest } from '../../../src/groups/coordinator.js';
import { asOffset } from '../../../src/storage/offset.js';
import { formGroup, openHarness } from './harness.js';
import type { Harness } from './harness.js';

function consumerGroup(harness: Harness, groupId: string): ConsumerGroup {
  const group = harness.coordinator.group(groupId);
  assert.ok(group instanceof ConsumerGroup, `${groupId} is a consumer group`);
  group.invariants();
  return group;
}

function topicId(harness: Harness, topic: string): Buffer {
  return harness.topics.topicMetadata(topic)!.id;
}

type Owned = Record<string, number[]>;

function send(harness: Harness, groupId: string, request: Partial<ConsumerHeartbeatRequest> & { memberId: string; memberEpoch: number }, owned: Owned | null = null): ConsumerHeartbeatResult {
  const result = harness.coordinator.consumerGroupHeartbeat({
    apiVersion: 1,
    groupId,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: owned === null ? null : Object.entries(owned).map(([topic, partitions]) => ({ topicId: topicId(harness, topic), partitions })),
    clientId: 'client',
    clientHost: '',
    ...request,
  });
  const group = harness.coordinator.group(groupId);
  if (group instanceof ConsumerGroup) group.invariants();
  return result;
}

function join(harness: Harness, groupId: string, memberId: string, topics: string[] = ['orders'], extra: Partial<ConsumerHeartbeatRequest> = {}): ConsumerHeartbeatResult {
  return send(harness, groupId, { memberId, memberEpoch: 0, rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics, ...extra }, {});
}

/** The result's assignment by topic name. */
function assigned(harness: Harness, result: ConsumerHeartbeatResult): Owned {
  const owned: Owned = {};
  for (const { topicId: id, partitions } of result.assignment?.topicPartitions ?? []) owned[harness.topics.topicName(id)!] = [...partitions];
  return owned;
}

test('a second member gets partitions only after the first revoked them', async () => {
  const harness = await openHarness();
  try {
    const a = join(harness, 'g', 'a');
    assert.equal(a.errorCode, 0);
    assert.equal(a.memberEpoch, 1);
    assert.equal(a.heartbeatIntervalMs, 5000);
    assert.deepEqual(assigned(harness, a), { orders: [0, 1, 2, 3, 4, 5] });
    const b = join(harness, 'g', 'b');
    assert.equal(b.memberEpoch, 2);
    assert.deepEqual(assigned(harness, b), {}, 'everything is still a’s');
    assert.equal(consumerGroup(harness, 'g').stateName, 'Reconciling');

    const revoking = send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2, 3, 4, 5] });
    assert.equal(revoking.memberEpoch, 1);
    const kept = assigned(harness, revoking).orders!;
    assert.equal(kept.length, 3);
    // a reports nothing (null owned partitions): it has not confirmed, nothing moves.
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 1 }).memberEpoch, 1);
    assert.deepEqual(assigned(harness, send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {})), {});

    const revoked = send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: kept });
    assert.equal(revoked.memberEpoch, 2);
    const given = assigned(harness, send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {})).orders!;
    assert.deepEqual([...kept, ...given].sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(consumerGroup(harness, 'g').stateName, 'Stable');
    const description = harness.coordinator.describeConsumerGroup('g');
    assert.ok(description !== null && description !== 'classic');
    assert.equal(description.groupEpoch, 2);
    assert.equal(description.assignmentEpoch, 2);
    assert.deepEqual(description.members.map((member) => member.memberEpoch), [2, 2]);
  } finally {
    await harness.close();
  }
});

test('the session timeout (groups.consumerSessionTimeoutMs) removes a silent member; heartbeats keep it', async () => {
  const harness = await openHarness({ consumerSessionTimeoutMs: 10_000 });
  try {
    join(harness, 'g', 'a');
    join(harness, 'g', 'b');
    harness.scheduler.advance(9_000);
    send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {});
    harness.scheduler.advance(1_000);
    assert.equal(consumerGroup(harness, 'g').memberCount, 1, 'a expired, b heartbeated');
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, {}).errorCode, ErrorCode.unknownMemberId);
    const b = send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {});
    assert.equal(b.memberEpoch, 3);
    assert.deepEqual(assigned(harness, b), { orders: [0, 1, 2, 3, 4, 5] }, 'a’s partitions were released with it');
    harness.scheduler.advance(10_000);
    assert.equal(consumerGroup(harness, 'g').stateName, 'Empty');
    assert.ok(consumerGroup(harness, 'g').emptySinceMs !== null);
  } finally {
    await harness.close();
  }
});

test('a member that does not revoke within its rebalance timeout is removed', async () => {
  const harness = await openHarness();
  try {
    join(harness, 'g', 'a', ['orders'], { rebalanceTimeoutMs: 4000 });
    join(harness, 'g', 'b');
    const revoking = send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2, 3, 4, 5] });
    assert.equal(assigned(harness, revoking).orders!.length, 3);
    harness.scheduler.advance(3000);
    send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2, 3, 4, 5] });
    send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {});
    harness.scheduler.advance(1000);
    assert.equal(consumerGroup(harness, 'g').hasMember('a'), false);
    assert.deepEqual(assigned(harness, send(harness, 'g', { memberId: 'b', memberEpoch: 2 }, {})), { orders: [0, 1, 2, 3, 4, 5] });
  } finally {
    await harness.close();
  }
});

test('fencing: epochs from the future, stale epochs, and the previous epoch after a lost response', async () => {
  const harness = await openHarness();
  try {
    join(harness, 'g', 'a');
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 2 }).errorCode, ErrorCode.fencedMemberEpoch);
    join(harness, 'g', 'b');
    send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2, 3, 4, 5] });
    const kept = send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2] });
    assert.equal(kept.memberEpoch, 2);
    // The answer with epoch 2 was lost: epoch 1 with a subset of the assignment is accepted.
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1] }).errorCode, 0);
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 5] }).errorCode, ErrorCode.fencedMemberEpoch);
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 1 }).errorCode, ErrorCode.fencedMemberEpoch, 'without owned partitions');
    // A fenced member rejoins with epoch 0 under its id: it starts afresh, owning nothing.
    const again = join(harness, 'g', 'a');
    assert.equal(again.errorCode, 0);
    assert.equal(consumerGroup(harness, 'g').memberCount, 2);
  } finally {
    await harness.close();
  }
});

test('static members: −2 keeps the partitions for the instance, which takes them over without a rebalance; the session timeout ends it', async () => {
  const harness = await openHarness({ consumerSessionTimeoutMs: 10_000 });
  try {
    const first = join(harness, 'g', 's1', ['orders'], { instanceId: 'pod' });
    assert.equal(join(harness, 'g', 's2', ['orders'], { instanceId: 'pod' }).errorCode, ErrorCode.unreleasedInstanceId);
    assert.equal(send(harness, 'g', { memberId: 's1', memberEpoch: -2, instanceId: 'pod' }).memberEpoch, -2);
    const epoch = consumerGroup(harness, 'g').groupEpoch;
    const replaced = join(harness, 'g', 's2', ['orders'], { instanceId: 'pod' });
    assert.equal(replaced.errorCode, 0);
    assert.equal(replaced.memberEpoch, first.memberEpoch);
    assert.deepEqual(assigned(harness, replaced), { orders: [0, 1, 2, 3, 4, 5] });
    assert.equal(consumerGroup(harness, 'g').groupEpoch, epoch, 'no rebalance');
    assert.equal(send(harness, 'g', { memberId: 's1', memberEpoch: 1, instanceId: 'pod' }).errorCode, ErrorCode.fencedInstanceId);
    send(harness, 'g', { memberId: 's2', memberEpoch: -2, instanceId: 'pod' });
    harness.scheduler.advance(10_000);
    assert.equal(consumerGroup(harness, 'g').stateName, 'Empty', 'a static member that does not come back expires');
  } finally {
    await harness.close();
  }
});

test('the request checks: assignors, regex, epochs, ids, sizes', async () => {
  const harness = await openHarness({ consumerMaxGroupSize: 2, consumerMaxSubscribedTopics: 3 });
  try {
    assert.equal(join(harness, 'g', 'a', ['orders'], { serverAssignor: 'nope' }).errorCode, ErrorCode.unsupportedAssignor);
    assert.equal(join(harness, 'g', 'a', ['orders'], { subscribedTopicRegex: '(unclosed' }).errorCode, ErrorCode.invalidRegularExpression);
    assert.equal(join(harness, 'g', 'a', ['orders'], { subscribedTopicRegex: 'x'.repeat(4097) }).errorCode, ErrorCode.invalidRegularExpression);
    assert.equal(join(harness, 'g', 'a', [], { subscribedTopicRegex: '' }).errorCode, ErrorCode.invalidRequest, 'an empty regex is no subscription');
    assert.equal(join(harness, 'g', 'a', []).errorCode, ErrorCode.invalidRequest);
    assert.equal(join(harness, 'g', 'a', ['a', 'b', 'c', 'd']).errorCode, ErrorCode.invalidRequest);
    assert.equal(join(harness, 'g', 'a', ['orders'], { rebalanceTimeoutMs: -1 }).errorCode, ErrorCode.invalidRequest);
    assert.equal(join(harness, 'g', 'a', ['orders'], { rebalanceTimeoutMs: -5 }).errorCode, ErrorCode.invalidRequest);
    assert.equal(join(harness, 'g', 'a', ['orders'], { instanceId: '' }).errorCode, ErrorCode.invalidRequest);
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: 0, rebalanceTimeoutMs: 1000, subscribedTopicNames: ['orders'] }, { orders: [1] }).errorCode, ErrorCode.invalidRequest, 'owned partitions on join');
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: -2 }).errorCode, ErrorCode.invalidRequest, 'static leave without an instance id');
    assert.equal(send(harness, 'g', { memberId: '', memberEpoch: 4 }).errorCode, ErrorCode.invalidRequest);
    assert.equal(send(harness, 'g', { memberId: 'a', memberEpoch: -7 }).errorCode, ErrorCode.invalidRequest);
    assert.equal(send(harness, '', { memberId: 'a', memberEpoch: 1 }).errorCode, ErrorCode.invalidRequest);
    assert.equal(harness.coordinator.group('g'), undefined, 'refused requests create no group');
    const v0 = send(harness, 'g', { apiVersion: 0, memberId: '', memberEpoch: 0, rebalanceTimeoutMs: 1000, subscribedTopicNames: ['orders'] }, {});
    assert.equal(v0.errorCode, 0);
    assert.match(v0.memberId ?? '', /^consumer-/, 'v0: the broker makes the member id');
    assert.equal(join(harness, 'g', 'b', ['orders'], { serverAssignor: 'range' }).errorCode, 0);
    assert.equal(join(harness, 'g', 'c').errorCode, ErrorCode.groupMaxSizeReached);
    assert.equal(consumerGroup(harness, 'g').assignorName, 'range', 'the assignor members ask for');
  } finally {
    await harness.close();
  }
});

test('a restart: the group comes back Empty with its epoch and offsets; members are unknown and rejoin', async () => {
  let harness = await openHarness();
  try {
    join(harness, 'g', 'a');
    const b = join(harness, 'g', 'b');
    send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2, 3, 4, 5] });
    send(harness, 'g', { memberId: 'a', memberEpoch: 1 }, { orders: [0, 1, 2] });
    const results = await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: 2, memberId: 'a', groupInstanceId: null, apiVersion: 9, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(42), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(results[0]!.partitions[0]!.errorCode, 0);
    const stale = await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: 1, memberId: 'a', groupInstanceId: null, apiVersion: 9, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(43), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(stale[0]!.partitions[0]!.errorCode, ErrorCode.staleMemberEpoch);
    const oldVersion = await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: 2, memberId: 'a', groupInstanceId: null, apiVersion: 8, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(43), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(oldVersion[0]!.partitions[0]!.errorCode, ErrorCode.unsupportedVersion);
    assert.equal(harness.coordinator.fetchOffsets('g', null, { memberId: 'a', memberEpoch: 1 }).errorCode, ErrorCode.staleMemberEpoch);
    assert.equal(harness.coordinator.fetchOffsets('g', null, { memberId: 'a', memberEpoch: 2 }).errorCode, 0);
    const lag = harness.coordinator.lag('g');
    assert.equal(lag?.partitions.find((partition) => partition.partition === 0)?.lag, 1000 - 42);
    assert.ok(lag?.partitions.some((partition) => partition.memberId === 'a'), 'lag shows the owners');
    const epoch = consumerGroup(harness, 'g').groupEpoch;

    harness = await harness.reopen();
    const restored = consumerGroup(harness, 'g');
    assert.equal(restored.stateName, 'Empty');
    assert.equal(restored.groupEpoch, epoch);
    assert.equal(harness.coordinator.listGroups([], ['consumer']).map((group) => group.groupId).join(), 'g');
    assert.equal(harness.coordinator.fetchOffsets('g', [{ name: 'orders', partitionIndexes: [0] }]).topics[0]!.partitions[0]!.committedOffset, 42);
    assert.equal(send(harness, 'g', { memberId: 'b', memberEpoch: b.memberEpoch }, {}).errorCode, ErrorCode.unknownMemberId);
    const rejoined = join(harness, 'g', 'b');
    assert.equal(rejoined.memberEpoch, epoch + 1);
    assert.deepEqual(assigned(harness, rejoined), { orders: [0, 1, 2, 3, 4, 5] });
  } finally {
    await harness.close();
  }
});

test('an empty classic group becomes a consumer group and back, keeping its offsets; DeleteGroups only when empty', async () => {
  let harness = await openHarness();
  try {
    const formed = await formGroup(harness, 'g', 1);
    await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: formed.generationId, memberId: formed.members[0]!, groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: asOffset(7), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(join(harness, 'g', 'a').errorCode, ErrorCode.inconsistentGroupProtocol, 'the classic group has a member');
    harness.coordinator.leaveGroup('g', [{ memberId: formed.members[0]!, groupInstanceId: null }]);
    assert.equal(join(harness, 'g', 'a').errorCode, 0);
    assert.equal(consumerGroup(harness, 'g').offsets.get('orders', 0)?.offset, 7);
    assert.deepEqual(await harness.coordinator.deleteGroups(['g']), [{ groupId: 'g', errorCode: ErrorCode.nonEmptyGroup }]);
    send(harness, 'g', { memberId: 'a', memberEpoch: -1 });
    harness = await harness.reopen();
    assert.ok(harness.coordinator.group('g') instanceof ConsumerGroup, 'the later record wins on replay');
    const classicJoin = await formGroup(harness, 'g', 1);
    assert.equal(classicJoin.syncs[0]!.errorCode, 0);
    assert.ok(harness.coordinator.group('g') instanceof ClassicGroup);
    assert.equal(harness.coordinator.group('g')!.offsets.get('orders', 0)?.offset, 7);
    harness = await harness.reopen();
    assert.ok(harness.coordinator.group('g') instanceof ClassicGroup);
    assert.deepEqual(await harness.coordinator.deleteGroups(['g']), [{ groupId: 'g', errorCode: 0 }]);
    harness = await harness.reopen();
    assert.equal(harness.coordinator.group('g'), undefined, 'deleted for good');
  } finally {
    await harness.close();
  }
});

test('random joins, leaves, heartbeats, expiries and topic growth: never two owners; honest members converge to Stable', async () => {
  const harness = await openHarness({ consumerSessionTimeoutMs: 10_000 });
  try {
    let seed = 7;
    const random = (limit: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % limit;
    };
    const epochs = new Map<string, number>();
    const owned = new Map<string, Owned>();
    const honest = (memberId: string) => {
      const result = send(harness, 'g', { memberId, memberEpoch: epochs.get(memberId)! }, owned.get(memberId)!);
      if (result.errorCode !== 0) {
        epochs.delete(memberId);
        owned.delete(memberId);
        return;
      }
      epochs.set(memberId, result.memberEpoch);
      if (result.assignment !== null) owned.set(memberId, assigned(harness, result));
    };
    for (let step = 0; step < 2000; step++) {
      const action = random(10);
      const members = [...epochs.keys()];
      if (action === 0 || members.length === 0) {
        const memberId = `m${random(12)}`;
        const result = join(harness, 'g', memberId, random(2) === 0 ? ['orders'] : ['orders', 'payments']);
        if (result.errorCode === 0) {
          epochs.set(memberId, result.memberEpoch);
          owned.set(memberId, assigned(harness, result));
        }
      } else if (action === 1) {
        const memberId = members[random(members.length)]!;
        send(harness, 'g', { memberId, memberEpoch: -1 });
        epochs.delete(memberId);
        owned.delete(memberId);
      } else if (action === 2) {
        harness.scheduler.advance(random(3000));
      } else if (action === 3 && random(20) === 0) {
        harness.topics.add('orders', (harness.topics.topicMetadata('orders')?.partitionCount ?? 6) + 1);
      } else {
        honest(members[random(members.length)]!);
      }
      const group = harness.coordinator.group('g');
      if (group instanceof ConsumerGroup) group.invariants();
      // Members the broker expired are dropped from the model on their next failed heartbeat.
    }
    for (const memberId of ['late-1', 'late-2', 'late-3']) {
      const result = join(harness, 'g', memberId, ['orders', 'payments']);
      assert.equal(result.errorCode, 0);
      epochs.set(memberId, result.memberEpoch);
      owned.set(memberId, assigned(harness, result));
    }
    for (let round = 0; round < 10; round++) for (const memberId of [...epochs.keys()]) honest(memberId);
    const group = consumerGroup(harness, 'g');
    assert.ok(group.memberCount >= 2, 'the sequence ends with members to check');
    {
      assert.equal(group.stateName, 'Stable');
      const description = harness.coordinator.describeConsumerGroup('g');
      assert.ok(description !== null && description !== 'classic');
      const assignedCount = description.members.reduce((sum, member) => sum + member.assignment.reduce((inner, topic) => inner + topic.partitions.length, 0), 0);
      const subscribed = new Set(description.members.flatMap((member) => member.subscribedTopicNames));
      let expected = 0;
      for (const topic of subscribed) expected += harness.topics.topicMetadata(topic)?.partitionCount ?? 0;
      assert.equal(assignedCount, expected, 'every subscribed partition is assigned once the members have reconciled');
    }
  } finally {
    await harness.close();
  }
});

test('a thousand members (the default groups.consumerMaxGroupSize) join; the next is refused; every partition has one owner', async () => {
  const harness = await openHarness();
  try {
    assert.equal(harness.settings.consumerMaxGroupSize, 1000);
    harness.topics.add('wide', 1200);
    // CPU time, not wall time: other test files on the machine stretch the latter, not the work done.
    const cpuBefore = process.cpuUsage();
    for (let index = 0; index < 1000; index++) assert.equal(join(harness, 'big', `member-${index}`, ['wide']).errorCode, 0);
    assert.equal(join(harness, 'big', 'member-1000', ['wide']).errorCode, ErrorCode.groupMaxSizeReached);
    assert.equal(join(harness, 'big', 'member-7', ['wide']).errorCode, 0, 'a known member may rejoin at the limit');
    const cpu = process.cpuUsage(cpuBefore);
    assert.ok((cpu.user + cpu.system) / 1000 < 20_000, 'joins stay cheap');
    const description = harness.coordinator.describeConsumerGroup('big');
    assert.ok(description !== null && description !== 'classic');
    assert.equal(description.members.length, 1000);
    const targets = description.members.map((member) => member.targetAssignment.reduce((sum, topic) => sum + topic.partitions.length, 0));
    assert.equal(targets.reduce((sum, count) => sum + count, 0), 1200);
    assert.ok(Math.max(...targets) - Math.min(...targets) <= 1, 'the target is balanced');
  } finally {
    await harness.close();
  }
});

test('regex subscriptions (RE2, whole names): topics matching now, and those created later, are assigned; an empty regex clears it', async () => {
  const harness = await openHarness({});
  try {
    harness.topics.add('orders.eu', 2).add('orders.us', 2).add('payments', 2);
    const first = join(harness, 'r', 'a', [], { subscribedTopicRegex: 'orders\\..*' });
    assert.equal(first.errorCode, 0);
    const epoch = first.memberEpoch;
    assert.deepEqual(assigned(harness, first), { 'orders.eu': [0, 1], 'orders.us': [0, 1] });
    // Not a partial match: 'xorders.eu' does not match 'orders\..*'.
    harness.topics.add('xorders.eu', 1).add('orders.apac', 1);
    harness.scheduler.advance(1500);
    const later = send(harness, 'r', { memberId: 'a', memberEpoch: epoch }, { 'orders.eu': [0, 1], 'orders.us': [0, 1] });
    assert.equal(later.errorCode, 0);
    assert.deepEqual(assigned(harness, later), { 'orders.apac': [0], 'orders.eu': [0, 1], 'orders.us': [0, 1] });
    const described = harness.coordinator.describeConsumerGroup('r');
    assert.ok(described !== null && described !== 'classic');
    assert.equal(described.members[0]!.subscribedTopicRegex, 'orders\\..*');
    // Names and a regex together; then the regex cleared.
    const both = send(harness, 'r', { memberId: 'a', memberEpoch: later.memberEpoch, subscribedTopicNames: ['payments'], subscribedTopicRegex: '' }, { 'orders.apac': [0], 'orders.eu': [0, 1], 'orders.us': [0, 1] });
    assert.equal(both.errorCode, 0);
    const settled = send(harness, 'r', { memberId: 'a', memberEpoch: both.memberEpoch }, {});
    assert.deepEqual(assigned(harness, settled.assignment === null ? both : settled), { payments: [0, 1] });
  } finally {
    await harness.close();
  }
});
