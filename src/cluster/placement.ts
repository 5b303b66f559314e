/**
 * Where a new topic's replicas go (CreateTopics in a cluster, docs/cluster.md "Creating a topic").
 * Pure: the live brokers and a start position in, one replica list per partition out (preferred
 * leader first), so the rules can be tested without etcd.
 *
 *   brokers, rack-alternated:   1(a) 3(b) 5(c) 2(a) 4(b) 6(c)        (racks in turn, ids ascending)
 *   partition p's leader:       the broker at (start + p) mod n       (leaders spread evenly)
 *   its followers:              walk on from the leader, first skipping brokers whose rack is
 *                               already used by this partition, then taking any unused broker
 *
 * So with at least as many racks as the replication factor every partition's replicas sit in
 * distinct racks; brokers without --rack count as one rack each (nothing is known of them). The
 * walk's first step grows by one every n partitions, so followers of consecutive rounds differ too
 * (a broker's followers are not always the same ones).
 */

export interface PlacementBroker {
  readonly nodeId: number;
  readonly rack: string | null;
}

/** Why a replication factor cannot be placed on these brokers, or null when it can. */
export function replicationFactorProblem(replicationFactor: number, liveBrokerCount: number): string | null {
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) return `replication factor must be at least 1, got ${replicationFactor}`;
  if (replicationFactor > liveBrokerCount) return `replication factor ${replicationFactor} is larger than the ${liveBrokerCount} live broker${liveBrokerCount === 1 ? '' : 's'}`;
  return null;
}

/**
 * One replica list per partition. `start` (any integer; callers pick it at random, as Kafka does,
 * so that small topics do not all lead on the same broker) shifts where the first leader is.
 */
export function placeReplicas(brokers: readonly PlacementBroker[], partitionCount: number, replicationFactor: number, start: number): number[][] {
  const problem = replicationFactorProblem(replicationFactor, brokers.length);
  if (problem !== null) throw new Error(problem);
  const ordered = rackAlternated(brokers);
  const count = ordered.length;
  const first = ((start % count) + count) % count;
  const assignment: number[][] = [];
  for (let partition = 0; partition < partitionCount; partition++) {
    const leaderPosition = (first + partition) % count;
    const step = count === 1 ? 0 : Math.floor(partition / count) % (count - 1);
    assignment.push(replicasFrom(ordered, leaderPosition, step, replicationFactor));
  }
  return assignment;
}

/** The brokers in racks-in-turn order: each rack's brokers by node id, taken one rack at a time. */
export function rackAlternated(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string, PlacementBroker[]>();
  for (const broker of [...brokers].sort((left, right) => left.nodeId - right.nodeId)) {
    const rack = rackOf(broker);
    const members = byRack.get(rack) ?? [];
    members.push(broker);
    byRack.set(rack, members);
  }
  const racks = [...byRack.keys()].sort();
  const ordered: PlacementBroker[] = [];
  for (let round = 0; ordered.length < brokers.length; round++) {
    for (const rack of racks) {
      const broker = byRack.get(rack)?.[round];
      if (broker !== undefined) ordered.push(broker);
    }
  }
  return ordered;
}

/** The leader at leaderPosition, then followers walking on from it (after `step` extra places), racks first. */
function replicasFrom(ordered: readonly PlacementBroker[], leaderPosition: number, step: number, replicationFactor: number): number[] {
  const leader = ordered[leaderPosition]!;
  const chosen: PlacementBroker[] = [leader];
  const candidates: PlacementBroker[] = [];
  // Every position once (the leader's too, skipped below), starting `step` places past the leader.
  for (let offset = 1; offset <= ordered.length; offset++) candidates.push(ordered[(leaderPosition + step + offset) % ordered.length]!);
  // Rounds: each takes at most one broker per rack not used in this round yet; a new round starts
  // once every rack is used (more replicas than racks).
  let usedRacks = new Set([rackOf(leader)]);
  while (chosen.length < replicationFactor) {
    const next = candidates.find((candidate) => !chosen.includes(candidate) && !usedRacks.has(rackOf(candidate)));
    if (next === undefined) {
      usedRacks = new Set();
      continue;
    }
    chosen.push(next);
    usedRacks.add(rackOf(next));
  }
  return chosen.map((broker) => broker.nodeId);
}

/** A broker without a rack is a rack of its own (the key cannot clash with a rack name, which is a string). */
function rackOf(broker: PlacementBroker): string {
  return broker.rack ?? `\u0000node-${broker.nodeId}`;
}
