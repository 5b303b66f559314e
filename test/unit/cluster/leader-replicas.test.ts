/**
 * The leader's side of replication (leader-replicas.ts) against a fake partition, store and cache:
 * the high watermark as the smallest log end among the ISR, acks=all waits, a caught-up
 * follower added to the ISR by a transaction conditioned on the partition key's revision, and the
 * low watermark (the smallest log start among the ISR) that DeleteRecords waits for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderReplicas, type LeaderReplicasContext } from '../../../src/cluster/leader-replicas.js';
import type { ClusterStore, RevisionCondition, StoreOperation, TransactionResult } from '../../../src/cluster/cluster-store.js';
import { decodePartition, partitionKey, type PartitionRecord } from '../../../src/cluster/keys.js';
import type { MetadataCache } from '../../../src/cluster/metadata-cache.js';
import type { Partition } from '../../../src/broker/partition.js';
import { asOffset, type Offset } from '../../../src/broker/offset.js';
import { createLogger } from '../../../src/logging/logger.js';

/** A led partition whose local log is durable up to `localEnd`. */
function fakePartition(localEnd: number) {
  const handle = {
    local: asOffset(localEnd),
    logStartOffset: asOffset(0),
    replicatedEndOffset: asOffset(Number.MAX_SAFE_INTEGER),
    get logEndOffset(): Offset {
      return this.local;
    },
    get highWatermark(): Offset {
      return this.local < this.replicatedEndOffset ? this.local : this.replicatedEndOffset;
    },
  };
  const partition = { topic: { name: 'events' }, index: 0, isOpen: true, handle };
  return { partition: partition as unknown as Partition, handle };
}

function fakeCluster(state: PartitionRecord, modRevision: bigint) {
  const transactions: { conditions: readonly RevisionCondition[]; operations: readonly StoreOperation[] }[] = [];
  const store = {
    transaction: async (conditions: readonly RevisionCondition[], operations: readonly StoreOperation[]): Promise<TransactionResult> => {
      transactions.push({ conditions, operations });
      return { succeeded: true, revision: modRevision + 1n };
    },
  } as unknown as ClusterStore;
  const live = new Set([...state.replicas]);
  const cache = { partition: () => ({ record: state, modRevision }), isLive: (nodeId: number) => live.has(nodeId) } as unknown as MetadataCache;
  return { store, cache, transactions, live };
}

function context(store: ClusterStore, cache: MetadataCache, woken: string[]): LeaderReplicasContext {
  return { nodeId: 1, store, cache, logger: createLogger('error', () => undefined), notifyData: () => void woken.push('woken') };
}

test('the high watermark is the smallest log end among the ISR; acks=all waits for it', async () => {
  const state: PartitionRecord = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 4, isr: [1, 2, 3], partitionEpoch: 7 };
  const { store, cache, transactions } = fakeCluster(state, 50n);
  const { partition, handle } = fakePartition(10);
  const woken: string[] = [];
  const replicas = new LeaderReplicas(partition, state, asOffset(3), context(store, cache, woken));
  assert.equal(handle.highWatermark, 3, 'followers that did not fetch yet count with the assumed end');
  replicas.followerFetched(2, asOffset(10), null);
  assert.equal(handle.highWatermark, 3);
  const acknowledged = replicas.waitForReplicas(asOffset(10), 5_000);
  replicas.followerFetched(3, asOffset(7), null);
  assert.equal(handle.highWatermark, 7);
  assert.ok(woken.length > 0, 'waiting fetches are woken when it moves');
  replicas.followerFetched(3, asOffset(10), null);
  assert.equal(handle.highWatermark, 10);
  assert.equal(await acknowledged, true);
  // Never back: a follower fetching from an earlier offset again does not lower it.
  replicas.followerFetched(3, asOffset(4), null);
  assert.equal(handle.highWatermark, 10);
  replicas.followerFetched(3, asOffset(10), null);
  // Never past what is durable on the leader itself.
  replicas.followerFetched(2, asOffset(12), null);
  assert.equal(handle.highWatermark, 10);
  // Not a replica, or the leader itself: ignored.
  replicas.followerFetched(9, asOffset(0), null);
  replicas.followerFetched(1, asOffset(0), null);
  assert.equal(handle.highWatermark, 10);
  assert.equal(transactions.length, 0, 'everybody is in the ISR already');
  assert.equal(await replicas.waitForReplicas(asOffset(11), 20), false, 'a batch not on every ISR member times out');
  replicas.close();
  assert.equal(handle.replicatedEndOffset, Number.MAX_SAFE_INTEGER, 'no limit once no longer leading');
});

test('a follower that caught up with the log end joins the ISR through a transaction on the key\'s revision', async () => {
  const state: PartitionRecord = { replicas: [1, 2], leader: 1, leaderEpoch: 2, isr: [1], partitionEpoch: 5 };
  const { store, cache, transactions } = fakeCluster(state, 77n);
  const { partition, handle } = fakePartition(10);
  const replicas = new LeaderReplicas(partition, state, asOffset(0), context(store, cache, []));
  assert.equal(handle.highWatermark, 10, 'the leader alone in the ISR: its own durable end');
  assert.equal(await replicas.waitForReplicas(asOffset(10), 10), true);
  replicas.followerFetched(2, asOffset(6), null);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(transactions.length, 0, 'behind the log end: not in sync');
  assert.equal(handle.highWatermark, 10, 'a follower out of the ISR does not hold the high watermark back');
  replicas.followerFetched(2, asOffset(10), null);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(transactions.length, 1);
  const [written] = transactions;
  assert.deepEqual(written!.conditions, [{ key: partitionKey('events', 0), modRevision: 77n }]);
  const operation = written!.operations[0]!;
  assert.equal(operation.type, 'put');
  assert.ok(operation.type === 'put');
  assert.deepEqual(decodePartition(operation.value), { replicas: [1, 2], leader: 1, leaderEpoch: 2, isr: [1, 2], partitionEpoch: 6 });
  // Counted in the high watermark once etcd says it is in sync.
  replicas.update({ ...state, isr: [1, 2], partitionEpoch: 6 });
  handle.local = asOffset(12);
  assert.equal(handle.highWatermark, 10);
  replicas.close();
});

test('a caught-up follower whose registration lapsed (cut off from etcd, still fetching) does not join the ISR until it is registered again', async () => {
  const state: PartitionRecord = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 2, isr: [1, 3], partitionEpoch: 5 };
  const { store, cache, transactions, live } = fakeCluster(state, 77n);
  const { partition } = fakePartition(10);
  const replicas = new LeaderReplicas(partition, state, asOffset(0), context(store, cache, []));
  live.delete(2);
  replicas.followerFetched(2, asOffset(10), null);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(transactions.length, 0, 'not registered: not added');
  live.add(2);
  replicas.followerFetched(2, asOffset(10), null);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(transactions.length, 1, 'registered again: added');
  const operation = transactions[0]!.operations[0]!;
  assert.ok(operation.type === 'put');
  const written = decodePartition(operation.value);
  assert.ok(!(written instanceof Error));
  assert.deepEqual(written.isr, [1, 3, 2]);
  replicas.close();
});

test('a follower of the ISR that does not catch up within replica.lag.time.max.ms leaves it; one that keeps up stays', async () => {
  const state: PartitionRecord = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 3, isr: [1, 2, 3], partitionEpoch: 8 };
  const { store, cache, transactions } = fakeCluster(state, 90n);
  const { partition, handle } = fakePartition(10);
  let nowMs = 0;
  const replicas = new LeaderReplicas(partition, state, asOffset(0), { ...context(store, cache, []), replicaLagTimeMaxMs: 1_000, nowMs: () => nowMs });
  replicas.followerFetched(2, asOffset(10), null);
  replicas.followerFetched(3, asOffset(5), null);
  nowMs = 900;
  await replicas.removeLaggingFollowers();
  assert.equal(transactions.length, 0, 'within the lag time');
  // Broker 2 keeps fetching at a moving log end: each fetch reaches the end the leader had at its previous one.
  handle.local = asOffset(14);
  replicas.followerFetched(2, asOffset(10), null);
  nowMs = 1_200;
  handle.local = asOffset(20);
  replicas.followerFetched(2, asOffset(14), null);
  replicas.followerFetched(3, asOffset(6), null);
  await replicas.removeLaggingFollowers();
  assert.equal(transactions.length, 1);
  const [written] = transactions;
  assert.deepEqual(written!.conditions, [{ key: partitionKey('events', 0), modRevision: 90n }]);
  const operation = written!.operations[0]!;
  assert.ok(operation.type === 'put');
  assert.deepEqual(decodePartition(operation.value), { replicas: [1, 2, 3], leader: 1, leaderEpoch: 3, isr: [1, 2], partitionEpoch: 9 });
  replicas.close();
});

test('the ISR shrinking lets a waiting acks=all through, with the smaller ISR counted for min.insync.replicas', async () => {
  const state: PartitionRecord = { replicas: [1, 2], leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 3 };
  const { store, cache } = fakeCluster(state, 10n);
  const { partition, handle } = fakePartition(5);
  const replicas = new LeaderReplicas(partition, state, asOffset(0), context(store, cache, []));
  assert.equal(replicas.replicaCount, 2);
  assert.equal(replicas.inSyncReplicaCount, 2);
  const waiting = replicas.waitForReplicas(asOffset(5), 5_000);
  assert.equal(handle.highWatermark, 0, 'follower 2 holds it back');
  // etcd says follower 2 left the ISR: the high watermark is the leader's own end, the wait ends,
  // and the produce handler sees one in-sync replica (NOT_ENOUGH_REPLICAS_AFTER_APPEND under 2).
  replicas.update({ ...state, isr: [1], partitionEpoch: 4 });
  assert.equal(await waiting, true);
  assert.equal(handle.highWatermark, 5);
  assert.equal(replicas.inSyncReplicaCount, 1);
  assert.equal(replicas.replicaCount, 2);
  replicas.close();
});

test('the low watermark is the smallest log start among the ISR, unknown until every in-sync follower named one; DeleteRecords waits for it', async () => {
  const state: PartitionRecord = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 1, isr: [1, 2, 3], partitionEpoch: 2 };
  const { store, cache } = fakeCluster(state, 20n);
  const { partition, handle } = fakePartition(10);
  const replicas = new LeaderReplicas(partition, state, asOffset(10), context(store, cache, []));
  assert.equal(replicas.lowWatermark, null, 'no follower named its log start yet');
  replicas.followerFetched(2, asOffset(10), asOffset(0));
  replicas.followerFetched(3, asOffset(10), null);
  assert.equal(replicas.lowWatermark, null, 'follower 3 named none (a Fetch before v5)');
  replicas.followerFetched(3, asOffset(10), asOffset(0));
  assert.equal(replicas.lowWatermark, 0);

  // DeleteRecords moved the leader's log start to 6: the wait ends once both followers moved theirs.
  handle.logStartOffset = asOffset(6);
  const deleted = replicas.waitForLowWatermark(asOffset(6), 5_000);
  replicas.followerFetched(2, asOffset(10), asOffset(6));
  assert.equal(replicas.lowWatermark, 0, 'follower 3 still starts at 0');
  replicas.followerFetched(3, asOffset(10), asOffset(4));
  assert.equal(replicas.lowWatermark, 4);
  replicas.followerFetched(3, asOffset(10), asOffset(8));
  assert.equal(replicas.lowWatermark, 6, 'a follower starting past the leader: the leader\'s own counts');
  assert.equal(await deleted, 6);

  handle.logStartOffset = asOffset(9);
  assert.equal(await replicas.waitForLowWatermark(asOffset(9), 20), null, 'a follower that does not move times out');
  // A follower leaving the ISR no longer counts: the wait ends.
  const afterShrink = replicas.waitForLowWatermark(asOffset(8), 5_000);
  replicas.followerFetched(3, asOffset(10), asOffset(9));
  replicas.update({ ...state, isr: [1, 3], partitionEpoch: 3 });
  assert.equal(await afterShrink, 9);

  const closing = replicas.waitForLowWatermark(asOffset(10), 5_000);
  replicas.close();
  assert.equal(await closing, null, 'no longer led here');
});
