/**
 * Seeded random sequences of group requests (joins with and without member ids, static members,
 * syncs, heartbeats, leaves, commits with stale generations) and clock jumps, against the
 * coordinator. After every step each group's invariants hold; at the end, once every timeout has
 * passed, no JoinGroup or SyncGroup is left without an answer; a restart keeps every offset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassicGroup } from '../../../src/groups/classic-group.js';
import type { JoinResult, SyncResult } from '../../../src/groups/classic-group.js';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { asOffset } from '../../../src/storage/offset.js';
import { assignment, joinRequest, openHarness, settle } from './harness.js';
import { seededRandom } from '../../helpers/record-fixtures.js';

interface Client {
  readonly groupId: string;
  readonly instanceId: string | null;
  memberId: string;
  generation: number;
  leader: boolean;
  members: string[];
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`random group operations, seed ${seed}: invariants hold, every request is answered in time`, async () => {
    const harness = await openHarness({ initialRebalanceDelayMs: 500, maxGroupSize: 6 });
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const groups = ['g0', 'g1', 'g2'];
    const clients: Client[] = Array.from({ length: 10 }, (_, index) => ({
      groupId: pick(groups),
      instanceId: index % 4 === 0 ? `static-${index}` : null,
      memberId: '',
      generation: -1,
      leader: false,
      members: [],
    }));
    const pending: Array<Promise<unknown>> = [];
    let answered = 0;
    const track = <T>(promise: Promise<T>, onAnswer: (value: T) => void): void => {
      pending.push(
        promise.then((value) => {
          answered++;
          onAnswer(value);
        }),
      );
    };
    const checkInvariants = () => {
      for (const groupId of groups) {
        const group = harness.coordinator.group(groupId);
        if (group instanceof ClassicGroup) group.invariants();
      }
    };
    const onJoin = (client: Client) => (result: JoinResult) => {
      if (result.errorCode === ErrorCode.none || result.errorCode === ErrorCode.memberIdRequired) client.memberId = result.memberId;
      if (result.errorCode === ErrorCode.none) {
        client.generation = result.generationId;
        client.leader = result.leader === result.memberId;
        client.members = result.members.map((member) => member.memberId);
      }
      if (result.errorCode === ErrorCode.unknownMemberId || result.errorCode === ErrorCode.fencedInstanceId) client.memberId = '';
    };
    for (let step = 0; step < 400; step++) {
      const client = pick(clients);
      const choice = random();
      if (choice < 0.3) {
        const protocols = [{ name: random() < 0.9 ? 'range' : 'other', metadata: assignment('orders', 0) }];
        track(harness.coordinator.joinGroup(client.groupId, joinRequest({ memberId: client.memberId, groupInstanceId: client.instanceId, requireKnownMemberId: random() < 0.5, supportsSkipAssignment: random() < 0.5, protocols, sessionTimeoutMs: 6000 + Math.floor(random() * 6000), rebalanceTimeoutMs: 5000 + Math.floor(random() * 10_000) })), onJoin(client));
      } else if (choice < 0.45) {
        const assignments = client.leader ? client.members.map((memberId, index) => ({ memberId, assignment: assignment('orders', index % 6) })) : [];
        track(harness.coordinator.syncGroup(client.groupId, { memberId: client.memberId, groupInstanceId: client.instanceId, generationId: client.generation, protocolType: null, protocolName: null, assignments }), (_: SyncResult) => undefined);
      } else if (choice < 0.65) {
        const code = harness.coordinator.heartbeat(client.groupId, client.memberId, client.instanceId, client.generation);
        assert.ok(Object.values(ErrorCode).includes(code as never), `heartbeat answered ${code}`);
      } else if (choice < 0.7) {
        harness.coordinator.leaveGroup(client.groupId, [{ memberId: client.memberId, groupInstanceId: random() < 0.5 ? client.instanceId : null }]);
        client.memberId = '';
      } else if (choice < 0.8) {
        track(
          harness.coordinator.commitOffsets({ groupId: client.groupId, generationIdOrMemberEpoch: random() < 0.2 ? -1 : client.generation, memberId: client.memberId, groupInstanceId: client.instanceId, topics: [{ name: 'orders', partitions: [{ partitionIndex: Math.floor(random() * 6), committedOffset: asOffset(Math.floor(random() * 1000)), committedLeaderEpoch: -1, committedMetadata: null }] }] }),
          () => undefined,
        );
      } else {
        harness.scheduler.advance(Math.floor(random() * 4000));
      }
      checkInvariants();
      if (step % 20 === 0) await settle(2);
    }
    // Every timeout passes: whatever was waiting gets its answer.
    for (let elapsed = 0; elapsed < 120_000; elapsed += 1000) {
      harness.scheduler.advance(1000);
      checkInvariants();
    }
    await Promise.race([Promise.all(pending), new Promise((_, reject) => setTimeout(() => reject(new Error(`${pending.length - answered} requests never answered`)), 5000))]);
    const offsets = groups.map((groupId) => harness.coordinator.fetchOffsets(groupId, null));
    const reopened = await harness.reopen();
    try {
      assert.deepEqual(groups.map((groupId) => reopened.coordinator.fetchOffsets(groupId, null)), offsets);
    } finally {
      await reopened.close();
    }
  });
}
