/**
 * The classic group state machine driven through the coordinator with a manual clock: joins, the
 * initial rebalance delay, rebalance and session timeouts, syncs, heartbeats, leaves, static
 * members, protocol selection and the error codes Kafka answers with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { ClassicGroup } from '../../../src/groups/classic-group.js';
import { asOffset } from '../../../src/storage/offset.js';
import { assignment, eventually, formGroup, joinRequest, openHarness, settle, subscription, track } from './harness.js';

function classic(harness: { coordinator: { group(id: string): unknown } }, groupId: string): ClassicGroup {
  const group = harness.coordinator.group(groupId);
  assert.ok(group instanceof ClassicGroup);
  return group;
}

test('the first join of an empty group waits the default initial rebalance delay (3 s), then the member leads generation 1', async () => {
  const harness = await openHarness();
  try {
    const first = await harness.coordinator.joinGroup('g', joinRequest({ requireKnownMemberId: true }));
    assert.equal(first.errorCode, ErrorCode.memberIdRequired);
    assert.match(first.memberId, /^client-/);
    const join = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: first.memberId, requireKnownMemberId: true })));
    harness.scheduler.advance(2999);
    await settle();
    assert.equal(join.settled, false, 'still within the initial delay');
    assert.equal(classic(harness, 'g').stateName, 'PreparingRebalance');
    harness.scheduler.advance(1);
    await settle();
    assert.equal(join.value.errorCode, ErrorCode.none);
    assert.equal(join.value.generationId, 1);
    assert.equal(join.value.leader, first.memberId);
    assert.equal(join.value.protocolName, 'range');
    assert.deepEqual(join.value.members.map((member) => member.memberId), [first.memberId]);
    assert.equal(classic(harness, 'g').stateName, 'CompletingRebalance');
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('members joining during the initial delay extend it, up to the rebalance timeout, and share generation 1', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 1000 });
  try {
    const first = track(harness.coordinator.joinGroup('g', joinRequest({ rebalanceTimeoutMs: 2500 })));
    harness.scheduler.advance(900);
    const second = track(harness.coordinator.joinGroup('g', joinRequest({ rebalanceTimeoutMs: 2500 })));
    harness.scheduler.advance(100); // 1000: a member came, wait again
    await settle();
    assert.equal(first.settled, false);
    harness.scheduler.advance(900);
    const third = track(harness.coordinator.joinGroup('g', joinRequest({ rebalanceTimeoutMs: 2500 })));
    harness.scheduler.advance(100); // 2000: another came; 500 ms of rebalance timeout left
    await settle();
    assert.equal(first.settled, false);
    harness.scheduler.advance(500);
    await settle();
    for (const join of [first, second, third]) assert.equal(join.value.generationId, 1);
    assert.equal(first.value.members.length, 3, 'the leader sees every member');
    assert.equal(second.value.members.length, 0, 'followers see none');
  } finally {
    await harness.close();
  }
});

test('sync: followers wait for the leader; its assignment is durable before anyone is answered; then Stable', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const joins = [track(harness.coordinator.joinGroup('g', joinRequest())), track(harness.coordinator.joinGroup('g', joinRequest()))];
    harness.scheduler.advance(0);
    await settle();
    const [leader, follower] = joins[0]!.value.leader === joins[0]!.value.memberId ? [joins[0]!.value, joins[1]!.value] : [joins[1]!.value, joins[0]!.value];
    const followerSync = track(harness.coordinator.syncGroup('g', { memberId: follower.memberId, groupInstanceId: null, generationId: 1, protocolType: 'consumer', protocolName: 'range', assignments: [] }));
    await settle();
    assert.equal(followerSync.settled, false, 'the follower waits for the leader');
    assert.equal(harness.coordinator.heartbeat('g', follower.memberId, null, 1), ErrorCode.none, 'heartbeats are fine while completing the rebalance');
    const leaderSync = await harness.coordinator.syncGroup('g', {
      memberId: leader.memberId,
      groupInstanceId: null,
      generationId: 1,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [
        { memberId: leader.memberId, assignment: assignment('orders', 0, 1, 2) },
        { memberId: follower.memberId, assignment: assignment('orders', 3, 4, 5) },
      ],
    });
    assert.equal(leaderSync.errorCode, ErrorCode.none);
    assert.deepEqual(leaderSync.assignment, assignment('orders', 0, 1, 2));
    await eventually(() => followerSync.settled, 'follower sync');
    assert.deepEqual(followerSync.value.assignment, assignment('orders', 3, 4, 5));
    assert.equal(followerSync.value.protocolName, 'range');
    assert.equal(classic(harness, 'g').stateName, 'Stable');
    const again = await harness.coordinator.syncGroup('g', { memberId: follower.memberId, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] });
    assert.deepEqual(again.assignment, assignment('orders', 3, 4, 5), 'a late sync in Stable gets the stored assignment');
    const wrongProtocol = await harness.coordinator.syncGroup('g', { memberId: follower.memberId, groupInstanceId: null, generationId: 1, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] });
    assert.equal(wrongProtocol.errorCode, ErrorCode.inconsistentGroupProtocol);
    const stale = await harness.coordinator.syncGroup('g', { memberId: follower.memberId, groupInstanceId: null, generationId: 0, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(stale.errorCode, ErrorCode.illegalGeneration);
    const unknown = await harness.coordinator.syncGroup('g', { memberId: 'nobody', groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(unknown.errorCode, ErrorCode.unknownMemberId);
    assert.equal((await harness.coordinator.syncGroup('nope', { memberId: 'x', groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] })).errorCode, ErrorCode.unknownMemberId);
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('heartbeat answers: NONE, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS while a rebalance runs', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, generationId } = await formGroup(harness, 'g', 2);
    const [a, b] = members as [string, string];
    assert.equal(harness.coordinator.heartbeat('g', a, null, generationId), ErrorCode.none);
    assert.equal(harness.coordinator.heartbeat('g', a, null, generationId + 1), ErrorCode.illegalGeneration);
    assert.equal(harness.coordinator.heartbeat('g', 'stranger', null, generationId), ErrorCode.unknownMemberId);
    assert.equal(harness.coordinator.heartbeat('unknown-group', a, null, generationId), ErrorCode.unknownMemberId);
    // A third member joins: the others are told to rejoin through their heartbeats.
    const third = track(harness.coordinator.joinGroup('g', joinRequest()));
    assert.equal(harness.coordinator.heartbeat('g', a, null, generationId), ErrorCode.rebalanceInProgress);
    const rejoinA = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: a })));
    const rejoinB = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: b })));
    await settle();
    for (const join of [third, rejoinA, rejoinB]) assert.equal(join.value.generationId, generationId + 1, 'all rejoined: the join ends without waiting for the timeout');
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('a silent member is removed when its session times out, and the group rebalances without it', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, generationId } = await formGroup(harness, 'g', 2, { sessionTimeoutMs: 10_000 });
    const [alive, silent] = members as [string, string];
    for (let elapsed = 0; elapsed < 9000; elapsed += 3000) {
      harness.scheduler.advance(3000);
      assert.equal(harness.coordinator.heartbeat('g', alive, null, generationId), ErrorCode.none);
    }
    harness.scheduler.advance(1000); // silent: 10 s without a word
    assert.equal(classic(harness, 'g').stateName, 'PreparingRebalance');
    assert.equal(harness.coordinator.heartbeat('g', silent, null, generationId), ErrorCode.unknownMemberId);
    assert.equal(harness.coordinator.heartbeat('g', alive, null, generationId), ErrorCode.rebalanceInProgress);
    const rejoin = await harness.coordinator.joinGroup('g', joinRequest({ memberId: alive }));
    assert.equal(rejoin.generationId, generationId + 1);
    assert.deepEqual(rejoin.members.map((member) => member.memberId), [alive]);
    assert.ok(harness.logLines.some((line) => line.includes('session timeout') && line.includes(silent)));
  } finally {
    await harness.close();
  }
});

test('members that do not rejoin within the rebalance timeout are removed; those that did get the new generation', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, generationId } = await formGroup(harness, 'g', 3, { rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 60_000 });
    const [a, b, c] = members as [string, string, string];
    const rejoinA = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: a, rebalanceTimeoutMs: 20_000, sessionTimeoutMs: 60_000 }))); // the leader or not: a rejoin starts a rebalance
    // b and c keep heartbeating (so their sessions live on) but never rejoin.
    harness.scheduler.advance(10_000);
    assert.equal(harness.coordinator.heartbeat('g', b, null, generationId), ErrorCode.rebalanceInProgress);
    await settle();
    assert.equal(rejoinA.settled, false);
    harness.scheduler.advance(10_000);
    await settle();
    assert.equal(rejoinA.value.errorCode, ErrorCode.none);
    assert.equal(rejoinA.value.generationId, generationId + 1);
    assert.equal(rejoinA.value.leader, a);
    assert.deepEqual(rejoinA.value.members.map((member) => member.memberId), [a]);
    assert.equal(harness.coordinator.heartbeat('g', c, null, generationId), ErrorCode.unknownMemberId);
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('a member that never sends SyncGroup is removed after the rebalance timeout', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const joins = [track(harness.coordinator.joinGroup('g', joinRequest({ rebalanceTimeoutMs: 5000 }))), track(harness.coordinator.joinGroup('g', joinRequest({ rebalanceTimeoutMs: 5000 })))];
    harness.scheduler.advance(0);
    await settle();
    const leader = joins.map((join) => join.value).find((value) => value.memberId === value.leader)!;
    const follower = joins.map((join) => join.value).find((value) => value.memberId !== value.leader)!;
    const sync = await harness.coordinator.syncGroup('g', { memberId: leader.memberId, groupInstanceId: null, generationId: 1, protocolType: null, protocolName: null, assignments: [] });
    assert.equal(sync.errorCode, ErrorCode.none);
    harness.scheduler.advance(5000);
    assert.equal(harness.coordinator.heartbeat('g', follower.memberId, null, 1), ErrorCode.unknownMemberId);
    assert.equal(harness.coordinator.heartbeat('g', leader.memberId, null, 1), ErrorCode.rebalanceInProgress);
  } finally {
    await harness.close();
  }
});

test('protocol selection: the protocol every member supports, by votes; disjoint protocols and a different type are refused', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const meta = subscription('orders');
    const prefers = (...names: string[]) => names.map((name) => ({ name, metadata: meta }));
    const joins = [
      track(harness.coordinator.joinGroup('g', joinRequest({ protocols: prefers('cooperative-sticky', 'roundrobin', 'range') }))),
      track(harness.coordinator.joinGroup('g', joinRequest({ protocols: prefers('roundrobin', 'range') }))),
      track(harness.coordinator.joinGroup('g', joinRequest({ protocols: prefers('range', 'roundrobin') }))),
    ];
    const refused = await harness.coordinator.joinGroup('g', joinRequest({ protocols: prefers('cooperative-sticky') }));
    assert.equal(refused.errorCode, ErrorCode.inconsistentGroupProtocol, 'sticky is not supported by every member');
    const otherType = await harness.coordinator.joinGroup('g', joinRequest({ protocolType: 'connect', protocols: prefers('range') }));
    assert.equal(otherType.errorCode, ErrorCode.inconsistentGroupProtocol);
    const noProtocols = await harness.coordinator.joinGroup('h', joinRequest({ protocols: [] }));
    assert.equal(noProtocols.errorCode, ErrorCode.inconsistentGroupProtocol);
    assert.equal(harness.coordinator.group('h'), undefined, 'a refused first join leaves no group behind');
    harness.scheduler.advance(0);
    await settle();
    // Candidates: roundrobin and range. Votes: roundrobin 2 (first two members), range 1.
    for (const join of joins) assert.equal(join.value.protocolName, 'roundrobin');
  } finally {
    await harness.close();
  }
});

test('bad joins: session timeout outside the bounds, empty or long group id, too much metadata, unknown member of an unknown group', async () => {
  const harness = await openHarness({ minSessionTimeoutMs: 6000, maxSessionTimeoutMs: 60_000, maxGroupIdBytes: 10, maxMemberMetadataBytes: 100, maxProtocolsPerMember: 2 });
  try {
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ sessionTimeoutMs: 5999 }))).errorCode, ErrorCode.invalidSessionTimeout);
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ sessionTimeoutMs: 60_001 }))).errorCode, ErrorCode.invalidSessionTimeout);
    assert.equal((await harness.coordinator.joinGroup('', joinRequest())).errorCode, ErrorCode.invalidGroupId);
    assert.equal((await harness.coordinator.joinGroup('g'.repeat(11), joinRequest())).errorCode, ErrorCode.invalidGroupId);
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ protocols: [{ name: 'range', metadata: Buffer.alloc(101) }] }))).errorCode, ErrorCode.inconsistentGroupProtocol);
    const three = ['a', 'b', 'c'].map((name) => ({ name, metadata: Buffer.alloc(1) }));
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ protocols: three }))).errorCode, ErrorCode.inconsistentGroupProtocol);
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ memberId: 'ghost' }))).errorCode, ErrorCode.unknownMemberId);
    assert.equal(harness.coordinator.groupCount, 0, 'no group was created by refused joins');
  } finally {
    await harness.close();
  }
});

test('GROUP_MAX_SIZE_REACHED past the limit, counting members told to rejoin with their id', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0, maxGroupSize: 3 });
  try {
    const pending = await harness.coordinator.joinGroup('g', joinRequest({ requireKnownMemberId: true }));
    assert.equal(pending.errorCode, ErrorCode.memberIdRequired);
    const joins = [track(harness.coordinator.joinGroup('g', joinRequest())), track(harness.coordinator.joinGroup('g', joinRequest()))];
    const fourth = await harness.coordinator.joinGroup('g', joinRequest());
    assert.equal(fourth.errorCode, ErrorCode.groupMaxSizeReached);
    const known = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: pending.memberId, requireKnownMemberId: true })));
    harness.scheduler.advance(0);
    await settle();
    for (const join of [...joins, known]) assert.equal(join.value.errorCode, ErrorCode.none, 'a known member always has room');
  } finally {
    await harness.close();
  }
});

test('an id handed out with MEMBER_ID_REQUIRED is forgotten after the session timeout', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0, maxGroupSize: 1 });
  try {
    const pending = await harness.coordinator.joinGroup('g', joinRequest({ requireKnownMemberId: true, sessionTimeoutMs: 10_000 }));
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ requireKnownMemberId: true }))).errorCode, ErrorCode.groupMaxSizeReached);
    harness.scheduler.advance(10_000);
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ memberId: pending.memberId, requireKnownMemberId: true }))).errorCode, ErrorCode.unknownMemberId);
    assert.equal((await harness.coordinator.joinGroup('g', joinRequest({ requireKnownMemberId: true }))).errorCode, ErrorCode.memberIdRequired);
  } finally {
    await harness.close();
  }
});

test('LeaveGroup: a batch by member id and by group instance id, unknown members answered per member; the rest rebalance', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const statics = await formGroup(harness, 'g', 1, { groupInstanceId: 'instance-a' });
    const dynamic = track(harness.coordinator.joinGroup('g', joinRequest({ clientId: 'dyn' })));
    track(harness.coordinator.joinGroup('g', joinRequest({ memberId: statics.members[0]!, groupInstanceId: 'instance-a' })));
    await settle();
    const dynamicId = dynamic.value.memberId;
    const results = harness.coordinator.leaveGroup('g', [
      { memberId: '', groupInstanceId: 'instance-a' },
      { memberId: dynamicId, groupInstanceId: null },
      { memberId: 'nobody', groupInstanceId: null },
      { memberId: 'wrong-id', groupInstanceId: 'instance-b' },
    ]);
    assert.deepEqual(results.map((result) => result.errorCode), [ErrorCode.none, ErrorCode.none, ErrorCode.unknownMemberId, ErrorCode.unknownMemberId]);
    assert.equal(classic(harness, 'g').stateName, 'Empty');
    assert.equal(classic(harness, 'g').generationId, statics.generationId + 2, 'a generation began and ended empty');
    assert.deepEqual(harness.coordinator.leaveGroup('missing', [{ memberId: 'x', groupInstanceId: null }]).map((result) => result.errorCode), [ErrorCode.unknownMemberId]);
  } finally {
    await harness.close();
  }
});

test('static membership: a restarted member takes over its instance id without a rebalance; the old id is fenced', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const first = await formGroup(harness, 'g', 1, { groupInstanceId: 'pod-1' });
    const second = track(harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod-2' })));
    const leaderRejoin = track(harness.coordinator.joinGroup('g', joinRequest({ memberId: first.members[0]!, groupInstanceId: 'pod-1' })));
    await settle();
    const generation = second.value.generationId;
    const pod2 = second.value.memberId;
    await Promise.all([
      harness.coordinator.syncGroup('g', { memberId: leaderRejoin.value.memberId, groupInstanceId: 'pod-1', generationId: generation, protocolType: null, protocolName: null, assignments: [{ memberId: pod2, assignment: assignment('orders', 1) }, { memberId: leaderRejoin.value.memberId, assignment: assignment('orders', 0) }] }),
      harness.coordinator.syncGroup('g', { memberId: pod2, groupInstanceId: 'pod-2', generationId: generation, protocolType: null, protocolName: null, assignments: [] }),
    ]);
    assert.equal(classic(harness, 'g').stateName, 'Stable');
    // pod-2 restarts: same instance id, no member id.
    const restarted = await harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod-2', requireKnownMemberId: true }));
    assert.equal(restarted.errorCode, ErrorCode.none, 'static members need no MEMBER_ID_REQUIRED round');
    assert.notEqual(restarted.memberId, pod2);
    assert.equal(restarted.generationId, generation, 'no rebalance');
    assert.equal(classic(harness, 'g').stateName, 'Stable');
    const sync = await harness.coordinator.syncGroup('g', { memberId: restarted.memberId, groupInstanceId: 'pod-2', generationId: generation, protocolType: null, protocolName: null, assignments: [] });
    assert.deepEqual(sync.assignment, assignment('orders', 1), 'it gets the assignment it had');
    assert.equal(harness.coordinator.heartbeat('g', pod2, 'pod-2', generation), ErrorCode.fencedInstanceId);
    const commit = await harness.coordinator.commitOffsets({ groupId: 'g', generationIdOrMemberEpoch: generation, memberId: pod2, groupInstanceId: 'pod-2', topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: asOffset(5), committedLeaderEpoch: -1, committedMetadata: null }] }] });
    assert.equal(commit[0]!.partitions[0]!.errorCode, ErrorCode.fencedInstanceId);
    assert.equal(harness.coordinator.leaveGroup('g', [{ memberId: pod2, groupInstanceId: 'pod-2' }])[0]!.errorCode, ErrorCode.fencedInstanceId);
    // The static leader restarting with JoinGroup v9 is told to skip the assignment; before v9 it is shown the old leader id.
    const leaderId = classic(harness, 'g').leaderId!;
    const leaderV9 = await harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod-1', supportsSkipAssignment: true }));
    assert.equal(leaderV9.leader, leaderV9.memberId);
    assert.equal(leaderV9.skipAssignment, true);
    assert.equal(leaderV9.members.length, 2);
    const leaderOld = await harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod-1' }));
    assert.equal(leaderOld.leader, leaderV9.memberId, 'the previous leader id, not its own');
    assert.notEqual(leaderOld.memberId, leaderV9.memberId);
    assert.notEqual(leaderId, leaderOld.memberId);
    assert.equal(classic(harness, 'g').generationId, generation);
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('a static member joining a second time while its first join waits: the first is fenced', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 1000 });
  try {
    const first = track(harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod' })));
    await settle();
    const second = track(harness.coordinator.joinGroup('g', joinRequest({ groupInstanceId: 'pod' })));
    await settle();
    assert.equal(first.value.errorCode, ErrorCode.fencedInstanceId);
    harness.scheduler.advance(1000);
    await settle();
    assert.equal(second.value.errorCode, ErrorCode.none);
    assert.equal(classic(harness, 'g').memberCount, 1);
  } finally {
    await harness.close();
  }
});

test('the leader leaving mid-generation: the others rejoin and one of them leads', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 0 });
  try {
    const { members, leader, generationId } = await formGroup(harness, 'g', 3);
    harness.coordinator.leaveGroup('g', [{ memberId: leader, groupInstanceId: null }]);
    const rest = members.filter((member) => member !== leader);
    const rejoins = rest.map((memberId) => track(harness.coordinator.joinGroup('g', joinRequest({ memberId }))));
    await settle();
    const answers = rejoins.map((join) => join.value);
    assert.ok(rest.includes(answers[0]!.leader));
    assert.ok(answers.every((answer) => answer.generationId === generationId + 1));
    classic(harness, 'g').invariants();
  } finally {
    await harness.close();
  }
});

test('a thousand members join one group: bounded by maxGroupSize, one generation, memory per member small', async () => {
  const harness = await openHarness({ initialRebalanceDelayMs: 100, maxGroupSize: 1000 });
  try {
    const before = process.memoryUsage().heapUsed;
    const joins = Array.from({ length: 1200 }, (_, index) => track(harness.coordinator.joinGroup('big', joinRequest({ clientId: `m${index}` }))));
    await settle();
    const refused = joins.filter((join) => join.settled && join.value.errorCode === ErrorCode.groupMaxSizeReached);
    assert.equal(refused.length, 200);
    harness.scheduler.advance(200); // the delay, and once more since members came during it
    await settle();
    const joined = joins.filter((join) => join.value.errorCode === ErrorCode.none);
    assert.equal(joined.length, 1000);
    assert.ok(joined.every((join) => join.value.generationId === 1));
    assert.equal(joined.filter((join) => join.value.members.length === 1000).length, 1, 'only the leader gets the member list');
    const grownBytes = process.memoryUsage().heapUsed - before;
    assert.ok(grownBytes < 64 * 1024 * 1024, `heap grew by ${grownBytes} bytes`);
    classic(harness, 'big').invariants();
  } finally {
    await harness.close();
  }
});
