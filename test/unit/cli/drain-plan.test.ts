/**
 * Where `osprey broker drain` moves replicas (src/cli/drain-plan.ts): the drained broker replaced
 * in place by the least loaded live broker not holding the partition, so replication factors are
 * kept; a partition with no such broker is reported, not moved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDrain } from '../../../src/cli/drain-plan.js';

test('each replica of the drained broker goes, in place, to the least loaded broker free for that partition', () => {
  const partitions = [
    { topic: 'a', partition: 0, replicas: [3, 1] },
    { topic: 'a', partition: 1, replicas: [1, 2] },
    { topic: 'a', partition: 2, replicas: [2, 3] },
    { topic: 'b', partition: 0, replicas: [3, 1, 2] },
  ];
  assert.deepEqual(planDrain(partitions, 3, [1, 2, 3, 4]), [
    // Brokers 1 and 2 hold three replicas each, broker 4 none: it takes each while it has fewer.
    { topic: 'a', partition: 0, replicas: [3, 1], target: [4, 1] },
    { topic: 'a', partition: 2, replicas: [2, 3], target: [2, 4] },
    { topic: 'b', partition: 0, replicas: [3, 1, 2], target: [4, 1, 2] },
  ]);
});

test('the load counts the moves already planned; lowest node id on a tie', () => {
  const partitions = [
    { topic: 'a', partition: 0, replicas: [3] },
    { topic: 'a', partition: 1, replicas: [3] },
  ];
  assert.deepEqual(planDrain(partitions, 3, [1, 2, 3]).map((move) => ('target' in move ? move.target : move.problem)), [[1], [2]]);
});

test('no free broker: reported, not moved; a broker holding nothing plans nothing', () => {
  const [move] = planDrain([{ topic: 'a', partition: 0, replicas: [1, 2, 3] }], 3, [1, 2, 3]);
  assert.ok(move !== undefined && 'problem' in move);
  assert.match(move.problem, /no live broker other than 3 is free/);
  assert.deepEqual(planDrain([{ topic: 'a', partition: 0, replicas: [1, 2] }], 3, [1, 2, 3]), []);
});
