/**
 * Writes a broker makes to a partition it leads, for its own use rather than a client's: the group
 * coordinators' offsets partitions (group-partitions.ts) and the AMQP queues' logs
 * (queue-partitions.ts). A write belongs to one term of leadership (one leader epoch of one
 * partition object) and is made only in it: stamped with the term's epoch (outside the CRC, as
 * the produce path stamps a leader's batches), so a follower's epoch comparison cuts an old
 * leader's unreplicated writes like any others; counted as made once every in-sync replica holds
 * it, as acks=all, with min.insync.replicas held as for acks=all.
 */
import { awaitInSyncReplicas, type Partition } from '../broker/partition.js';
import { setPartitionLeaderEpoch } from '../protocol/kafka/batch-header.js';
import { asOffset } from '../storage/offset.js';
import type { AppendResult } from '../storage/partition-log.js';

export interface Term {
  readonly partition: Partition;
  readonly leaderEpoch: number;
}

/** Whether this broker still leads the partition in `term`. */
export function inTerm(term: Term): boolean {
  const { partition, leaderEpoch } = term;
  return !partition.deleted && partition.ledHere && partition.leaderEpoch === leaderEpoch;
}

/** Throws unless this broker still leads the partition in `term` ("<what> refused: …"). */
export function checkTerm(term: Term, what: string): void {
  const { partition, leaderEpoch } = term;
  if (!inTerm(term)) {
    throw new Error(`${what} refused: this broker no longer leads ${partition.topic.name}-${partition.index} in leader epoch ${leaderEpoch}`);
  }
}

/**
 * Appends `batch` in `term`: refused (thrown) outside it or with fewer in-sync replicas than
 * min.insync.replicas; `durable` resolves once every in-sync replica holds it (followers waiting in
 * a fetch are woken when it is durable here), and rejects when the ISR shrank below
 * min.insync.replicas meanwhile, leadership moved, or `commitTimeoutMs` passed.
 */
export function appendInTerm(term: Term, batch: Buffer, commitTimeoutMs: number, what: string): AppendResult {
  checkTerm(term, what);
  const { partition, leaderEpoch } = term;
  const name = `${partition.topic.name}-${partition.index}`;
  if (partition.missingInSyncReplicas > 0) throw new Error(`${name} has fewer in-sync replicas than min.insync.replicas`);
  setPartitionLeaderEpoch(batch, 0, leaderEpoch);
  const appended = partition.handle.append(batch);
  // The replication role of the term the write was made in: a new term has a new one.
  const replication = partition.replication;
  const durable = appended.durable.then(async () => {
    partition.wakeDataWaiters();
    if (replication === null) return;
    const outcome = await awaitInSyncReplicas(partition, replication, asOffset(appended.lastOffset + 1), commitTimeoutMs);
    if (outcome === 'too few in sync') throw new Error(`the ISR of ${name} shrank below min.insync.replicas while the write waited`);
    if (outcome === 'leadership moved') throw new Error(`this broker stopped leading ${name} (leadership moved, or the broker is stopping) before every in-sync replica held the write`);
    if (outcome !== 'replicated') throw new Error(`not every in-sync replica of ${name} held the write within ${commitTimeoutMs} ms`);
  });
  return { baseOffset: appended.baseOffset, lastOffset: appended.lastOffset, durable };
}
