/**
 * The server-side assignors of KIP-848 groups: balance, stickiness, subscriptions respected, and
 * every partition of a subscribed topic assigned exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countPartitions, rangeAssignor, uniformAssignor } from '../../../src/groups/assignors.js';
import type { AssignorInput, AssignorMember, TopicAssignment } from '../../../src/groups/assignors.js';

function members(count: number, topics: string[]): AssignorMember[] {
  return Array.from({ length: count }, (_, index) => ({ memberId: `m${String(index).padStart(3, '0')}`, subscribedTopics: topics }));
}

function flat(assignment: TopicAssignment): string[] {
  return [...assignment].flatMap(([topic, partitions]) => [...partitions].map((partition) => `${topic}-${partition}`)).sort();
}

/** Every partition of every subscribed topic exactly once, only to subscribers. */
function checkComplete(input: AssignorInput, result: Map<string, TopicAssignment>): void {
  const seen = new Set<string>();
  for (const member of input.members) {
    for (const [topic, partitions] of result.get(member.memberId)!) {
      assert.ok(member.subscribedTopics.includes(topic), `${member.memberId} got ${topic} without subscribing`);
      for (const partition of partitions) {
        const key = `${topic}-${partition}`;
        assert.ok(!seen.has(key), `${key} assigned twice`);
        assert.ok(partition < input.partitionCounts.get(topic)!, `${key} does not exist`);
        seen.add(key);
      }
    }
  }
  let expected = 0;
  for (const [topic, count] of input.partitionCounts) if (input.members.some((member) => member.subscribedTopics.includes(topic))) expected += count;
  assert.equal(seen.size, expected, 'every subscribed partition assigned');
}

function spread(result: Map<string, TopicAssignment>): number {
  const counts = [...result.values()].map(countPartitions);
  return Math.max(...counts) - Math.min(...counts);
}

test('uniform: 6 partitions over 3 members, 2 each; over 4 members, 1 or 2', () => {
  const partitionCounts = new Map([['orders', 6]]);
  const three = { members: members(3, ['orders']), partitionCounts, previous: new Map() };
  const result = uniformAssignor(three);
  checkComplete(three, result);
  assert.deepEqual([...result.values()].map(countPartitions), [2, 2, 2]);
  const four = { members: members(4, ['orders']), partitionCounts, previous: result };
  const next = uniformAssignor(four);
  checkComplete(four, next);
  assert.equal(spread(next), 1);
});

test('uniform is sticky: a member joining takes partitions only from the others, who keep the rest', () => {
  const partitionCounts = new Map([['orders', 12], ['payments', 5]]);
  const before = { members: members(3, ['orders', 'payments']), partitionCounts, previous: new Map() };
  const first = uniformAssignor(before);
  checkComplete(before, first);
  const after = { members: members(4, ['orders', 'payments']), partitionCounts, previous: first };
  const second = uniformAssignor(after);
  checkComplete(after, second);
  assert.ok(spread(second) <= 1);
  let moved = 0;
  for (const member of before.members) {
    const kept = flat(second.get(member.memberId)!);
    const had = flat(first.get(member.memberId)!);
    assert.ok(kept.every((partition) => had.includes(partition)), `${member.memberId} only lost partitions`);
    moved += had.length - kept.length;
  }
  assert.equal(moved, countPartitions(second.get('m003')!), 'exactly what the newcomer got moved');
  // A member leaving: the others keep all they had.
  const third = uniformAssignor({ members: members(3, ['orders', 'payments']), partitionCounts, previous: second });
  for (const member of before.members) assert.ok(flat(second.get(member.memberId)!).every((partition) => flat(third.get(member.memberId)!).includes(partition)));
});

test('uniform with different subscriptions: partitions go only to subscribers', () => {
  const input: AssignorInput = {
    members: [
      { memberId: 'a', subscribedTopics: ['orders'] },
      { memberId: 'b', subscribedTopics: ['orders', 'payments'] },
      { memberId: 'c', subscribedTopics: ['payments', 'missing'] },
    ],
    partitionCounts: new Map([['orders', 4], ['payments', 4]]),
    previous: new Map(),
  };
  const result = uniformAssignor(input);
  checkComplete(input, result);
  assert.ok(spread(result) <= 1);
});

test('uniform: many random groups stay complete, subscribed-only and (homogeneous) within one partition', () => {
  let seed = 42;
  const random = (limit: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % limit;
  };
  let previous = new Map<string, TopicAssignment>();
  for (let round = 0; round < 200; round++) {
    const topicCount = 1 + random(4);
    const partitionCounts = new Map(Array.from({ length: topicCount }, (_, index) => [`t${index}`, 1 + random(20)] as const));
    const input = { members: members(1 + random(12), [...partitionCounts.keys()]), partitionCounts, previous };
    const result = uniformAssignor(input);
    checkComplete(input, result);
    assert.ok(spread(result) <= 1, `round ${round} balanced`);
    previous = result;
  }
});

test('range: contiguous ranges per topic in member id order, the first ones one more', () => {
  const input: AssignorInput = {
    members: [{ memberId: 'b', subscribedTopics: ['orders', 'payments'] }, { memberId: 'a', subscribedTopics: ['orders', 'payments'] }, { memberId: 'c', subscribedTopics: ['orders'] }],
    partitionCounts: new Map([['orders', 7], ['payments', 3]]),
    previous: new Map(),
  };
  const result = rangeAssignor(input);
  checkComplete(input, result);
  assert.deepEqual([...result.get('a')!.get('orders')!], [0, 1, 2]);
  assert.deepEqual([...result.get('b')!.get('orders')!], [3, 4]);
  assert.deepEqual([...result.get('c')!.get('orders')!], [5, 6]);
  assert.deepEqual([...result.get('a')!.get('payments')!], [0, 1]);
  assert.deepEqual([...result.get('b')!.get('payments')!], [2]);
  assert.equal(result.get('c')!.has('payments'), false);
});

test('no members or no topics: an empty assignment', () => {
  assert.equal(uniformAssignor({ members: [], partitionCounts: new Map([['orders', 3]]), previous: new Map() }).size, 0);
  const nothing = uniformAssignor({ members: members(2, ['missing']), partitionCounts: new Map(), previous: new Map() });
  assert.deepEqual([...nothing.values()].map(countPartitions), [0, 0]);
});
