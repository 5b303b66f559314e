/**
 * Where `osprey broker drain N` moves each replica of broker N (pure, so it can be tested on its
 * own): for every partition with a replica on N, N is replaced in place (the replica order, and so
 * the preferred leader, otherwise kept) by a live broker not yet holding the partition, the one with
 * the fewest replicas so far (counting the moves already planned), lowest node id on a tie; so the
 * replication factor is kept and the load spreads. A partition with no such broker cannot be moved.
 */

export interface DrainedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
}

export type DrainMove = DrainedPartition & ({ readonly target: readonly number[] } | { readonly problem: string });

export function planDrain(partitions: readonly DrainedPartition[], drained: number, liveBrokers: readonly number[]): DrainMove[] {
  const candidates = liveBrokers.filter((nodeId) => nodeId !== drained);
  const load = new Map<number, number>(candidates.map((nodeId) => [nodeId, 0]));
  for (const { replicas } of partitions) for (const nodeId of replicas) if (load.has(nodeId)) load.set(nodeId, load.get(nodeId)! + 1);
  const moves: DrainMove[] = [];
  for (const partition of partitions) {
    if (!partition.replicas.includes(drained)) continue;
    const free = candidates.filter((nodeId) => !partition.replicas.includes(nodeId)).sort((left, right) => load.get(left)! - load.get(right)! || left - right);
    const chosen = free[0];
    if (chosen === undefined) {
      moves.push({ ...partition, problem: `no live broker other than ${drained} is free to take its replica (replication factor ${partition.replicas.length}, ${candidates.length} other live brokers)` });
      continue;
    }
    load.set(chosen, load.get(chosen)! + 1);
    moves.push({ ...partition, target: partition.replicas.map((nodeId) => (nodeId === drained ? chosen : nodeId)) });
  }
  return moves;
}
