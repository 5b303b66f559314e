/**
 * Replica placement for CreateTopics in a cluster (src/cluster/placement.ts): replicas distinct,
 * leaders spread evenly, distinct racks whenever there are enough of them (over many brokers, racks,
 * start positions and replication factors), and the replication factor checked against the live
 * brokers as Kafka does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeReplicas, rackAlternated, replicationFactorProblem } from '../../../src/cluster/placement.js';
import type { PlacementBroker } from '../../../src/cluster/placement.js';

function brokers(racks: readonly (string | null)[]): PlacementBroker[] {
  return racks.map((rack, index) => ({ nodeId: index + 1, rack }));
}

test('rack-alternated order takes the racks in turn, brokers by node id within a rack', () => {
  const order = rackAlternated([
    { nodeId: 4, rack: 'b' },
    { nodeId: 1, rack: 'a' },
    { nodeId: 2, rack: 'a' },
    { nodeId: 6, rack: 'c' },
    { nodeId: 3, rack: 'b' },
    { nodeId: 5, rack: 'a' },
  ]);
  assert.deepEqual(order.map((broker) => broker.nodeId), [1, 3, 6, 2, 4, 5]);
});

test('three brokers, RF 3, six partitions: every broker leads two and holds all six', () => {
  const assignment = placeReplicas(brokers([null, null, null]), 6, 3, 0);
  assert.equal(assignment.length, 6);
  for (const replicas of assignment) assert.deepEqual([...replicas].sort(), [1, 2, 3]);
  const leaders = assignment.map((replicas) => replicas[0]);
  for (const nodeId of [1, 2, 3]) assert.equal(leaders.filter((leader) => leader === nodeId).length, 2, `leaders ${leaders.join(',')}`);
});

test('the start position moves the first leader', () => {
  const live = brokers([null, null, null]);
  assert.deepEqual([0, 1, 2, 3, -1].map((start) => placeReplicas(live, 1, 1, start)[0]), [[1], [2], [3], [1], [3]]);
});

test('replicas are distinct, leaders spread within one, racks distinct when there are enough racks', () => {
  const rackSets: (string | null)[][] = [
    ['a', 'b', 'c'],
    ['a', 'a', 'b', 'b', 'c', 'c'],
    ['a', 'a', 'a', 'b'],
    ['x', 'y', 'x', 'y', 'x'],
    [null, 'a', null, 'a', 'b'],
    ['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd', 'e'],
  ];
  for (const racks of rackSets) {
    const live = brokers(racks);
    const rackCount = new Set(live.map((broker) => broker.rack ?? `none-${broker.nodeId}`)).size;
    for (let replicationFactor = 1; replicationFactor <= live.length; replicationFactor++) {
      for (const start of [0, 1, 5]) {
        const partitionCount = live.length * 4 + 1;
        const assignment = placeReplicas(live, partitionCount, replicationFactor, start);
        const what = `racks ${racks.join(',')} RF ${replicationFactor} start ${start}`;
        assert.equal(assignment.length, partitionCount, what);
        for (const replicas of assignment) {
          assert.equal(replicas.length, replicationFactor, what);
          assert.equal(new Set(replicas).size, replicationFactor, `${what}: ${replicas.join(',')}`);
          const replicaRacks = replicas.map((nodeId) => live[nodeId - 1]!.rack ?? `none-${nodeId}`);
          assert.equal(new Set(replicaRacks).size, Math.min(replicationFactor, rackCount), `${what}: replicas ${replicas.join(',')} in racks ${replicaRacks.join(',')}`);
        }
        const ledBy = new Map<number, number>();
        for (const replicas of assignment) ledBy.set(replicas[0]!, (ledBy.get(replicas[0]!) ?? 0) + 1);
        const counts = live.map((broker) => ledBy.get(broker.nodeId) ?? 0);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${what}: leaders per broker ${counts.join(',')}`);
      }
    }
  }
});

test('followers differ between rounds: a broker does not always have the same followers', () => {
  const assignment = placeReplicas(brokers([null, null, null, null]), 8, 2, 0);
  const followersOfOne = new Set(assignment.filter((replicas) => replicas[0] === 1).map((replicas) => replicas[1]));
  assert.ok(followersOfOne.size > 1, JSON.stringify(assignment));
});

test('replication factor: at least 1 and at most the live brokers (INVALID_REPLICATION_FACTOR otherwise)', () => {
  assert.equal(replicationFactorProblem(3, 3), null);
  assert.match(String(replicationFactorProblem(4, 3)), /replication factor 4 is larger than the 3 live brokers/);
  assert.match(String(replicationFactorProblem(0, 3)), /at least 1/);
  assert.throws(() => placeReplicas(brokers(['a', 'b', 'c']), 1, 4, 0), /larger than the 3 live brokers/);
});
