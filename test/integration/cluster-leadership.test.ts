/**
 * The controller's partition writes against a real etcd (src/cluster/partition-leadership.ts): each
 * is conditioned on the controller key's revision, so a controller whose epoch is not the current one
 * writes nothing and stops, while the current one moves leadership off a broker that is gone. No
 * broker processes: the partition state is written here, as CreateTopics would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClusterStore } from '../../src/cluster/etcd-cluster-store.js';
import { controllerKey, decodePartition, encodeController, encodePartition, partitionKey } from '../../src/cluster/keys.js';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { PartitionLeadership } from '../../src/cluster/partition-leadership.js';
import { createLogger } from '../../src/logging/logger.js';
import { startTestEtcd } from '../helpers/etcd-process.js';
import { waitUntil } from '../helpers/waiting.js';

test('a stale controller epoch writes nothing; the current controller moves leadership to a live ISR member', async () => {
  const etcd = await startTestEtcd();
  const store = new EtcdClusterStore({ endpoints: [etcd.endpoint], requestTimeoutMs: 5000 });
  const lines: string[] = [];
  const logger = createLogger('debug', (line) => lines.push(line));
  const key = partitionKey('orders', 0);
  const readState = async (): Promise<PartitionRecord | null> => {
    const entry = await store.get(key);
    if (entry === null) return null;
    const state = decodePartition(entry.value);
    assert.ok(!(state instanceof Error), String(state));
    return state;
  };
  try {
    const elected = await store.transaction([{ key: controllerKey, modRevision: 0n }], [{ type: 'put', key: controllerKey, value: encodeController({ nodeId: 2 }) }]);
    assert.ok(elected.succeeded);
    const epoch = elected.revision;
    const before: PartitionRecord = { replicas: [1, 2], leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0 };
    assert.ok((await store.transaction([{ key, modRevision: 0n }], [{ type: 'put', key, value: encodePartition(before) }])).succeeded);

    // Broker 1 is gone. A controller holding an older epoch tries to act on it. (Live brokers are
    // given with their registration's createRevision: 1, older than the partition key.)
    const stale = new PartitionLeadership({ store, epoch: epoch - 1n, liveBrokers: () => new Map([[2, 1n]]), logger, retryDelayMs: 50 });
    stale.brokersChanged();
    await waitUntil(() => lines.some((line) => /the controller key is no longer ours; writing no more/.test(line)), 'the stale controller to give up', 10_000, () => lines.join('\n'));
    await stale.stop();
    assert.deepEqual(await readState(), before, 'nothing written');

    const current = new PartitionLeadership({ store, epoch, liveBrokers: () => new Map([[2, 1n]]), logger, retryDelayMs: 50 });
    current.brokersChanged();
    let after: PartitionRecord | null = null;
    await waitUntil(async () => (after = await readState())?.leader === 2, 'the current controller to elect broker 2', 10_000, () => JSON.stringify(after));
    await current.stop();
    assert.deepEqual(after, { replicas: [1, 2], leader: 2, leaderEpoch: 1, isr: [2], partitionEpoch: 1 });
    assert.ok(lines.some((line) => /INFO partition leader elected topic=orders partition=0 leaderEpoch=1 isr=2 previousLeader=1 leader=2/.test(line)), lines.join('\n'));

    // Once the controller key is gone (its lease ended), even the epoch that was current writes nothing.
    await store.transaction([{ key: controllerKey, modRevision: epoch }], [{ type: 'delete', key: controllerKey }]);
    const gone = new PartitionLeadership({ store, epoch, liveBrokers: () => new Map([[1, 1n]]), logger, retryDelayMs: 50 });
    const givenUp = lines.length;
    gone.brokersChanged();
    await waitUntil(() => lines.slice(givenUp).some((line) => /the controller key is no longer ours/.test(line)), 'the deposed controller to give up', 10_000, () => lines.join('\n'));
    await gone.stop();
    assert.deepEqual(await readState(), after);
  } finally {
    store.close();
    await etcd.stop();
  }
});

test('a pass writes up to 100 partitions per etcd transaction; when one of them changed since the read, the others are written one by one and the changed one is decided again', async () => {
  const etcd = await startTestEtcd();
  const real = new EtcdClusterStore({ endpoints: [etcd.endpoint], requestTimeoutMs: 5000 });
  const lines: string[] = [];
  const logger = createLogger('debug', (line) => lines.push(line));
  // Every partition led by broker 1 (gone), broker 2 in sync: each moves to broker 2.
  const keys = Array.from({ length: 250 }, (_, index) => partitionKey(`t${Math.floor(index / 50)}`, index % 50));
  const before: PartitionRecord = { replicas: [1, 2], leader: 1, leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0 };
  const raced = keys[7]!;
  // The real store, except that just before the controller's first write, the leader (broker 1,
  // in its last moment) narrows one partition's ISR to itself, as leader-replicas.ts would.
  let raceDone = false;
  const store: EtcdClusterStore = Object.create(real, {
    transaction: {
      value: async (...args: Parameters<EtcdClusterStore['transaction']>) => {
        if (!raceDone && args[1].length > 1) {
          raceDone = true;
          const current = await real.get(raced);
          assert.ok(current !== null);
          assert.ok((await real.transaction([{ key: raced, modRevision: current.modRevision }], [{ type: 'put', key: raced, value: encodePartition({ ...before, isr: [1], partitionEpoch: 1 }) }])).succeeded);
        }
        return real.transaction(...args);
      },
    },
  });
  try {
    const elected = await real.transaction([{ key: controllerKey, modRevision: 0n }], [{ type: 'put', key: controllerKey, value: encodeController({ nodeId: 2 }) }]);
    assert.ok(elected.succeeded);
    for (const key of keys) assert.ok((await real.transaction([{ key, modRevision: 0n }], [{ type: 'put', key, value: encodePartition(before) }])).succeeded);

    const controller = new PartitionLeadership({ store, epoch: elected.revision, liveBrokers: () => new Map([[2, 1n]]), logger, retryDelayMs: 50 });
    controller.brokersChanged();
    const read = async () => Promise.all(keys.map(async (key) => (await real.get(key))!));
    await waitUntil(async () => (await read()).every((entry) => { const state = decodePartition(entry.value); return !(state instanceof Error) && state.leaderEpoch === 1; }), 'every partition decided', 20_000, () => lines.slice(-5).join('\n'));
    await controller.stop();
    const entries = await read();
    for (const entry of entries) {
      const state = decodePartition(entry.value);
      assert.ok(!(state instanceof Error));
      if (entry.key === raced) {
        // Decided again on what it had become: its only ISR member is gone, so it is offline (nothing overwritten).
        assert.deepEqual(state, { replicas: [1, 2], leader: -1, leaderEpoch: 1, isr: [1], partitionEpoch: 2 }, entry.key);
      } else {
        assert.deepEqual(state, { replicas: [1, 2], leader: 2, leaderEpoch: 1, isr: [2], partitionEpoch: 1 }, entry.key);
      }
    }
    // The first transaction (partitions 0–99) lost its race and was written one by one; the other
    // 150 went in two transactions (each of their keys has the revision of its transaction).
    const revisions = new Map<bigint, number>();
    for (const entry of entries.slice(100)) revisions.set(entry.modRevision, (revisions.get(entry.modRevision) ?? 0) + 1);
    assert.deepEqual([...revisions.values()].sort((a, b) => a - b), [50, 100]);
    assert.equal(new Set(entries.slice(0, 100).map((entry) => entry.modRevision)).size, 100);
  } finally {
    real.close();
    await etcd.stop();
  }
});
