/**
 * src/cluster/etcd-cluster-store.ts against a real etcd (test/helpers/etcd-process.ts): reads,
 * transactions conditioned on revisions, leases (revoked, released and lapsed), and prefix watches.
 *
 * Oracles: etcd's own answers read back through the same store (a key is there or not, its revision
 * moved or not), and the order and content of watch events against the writes that caused them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchEvent } from '../../src/cluster/cluster-store.js';
import { EtcdClusterStore } from '../../src/cluster/etcd-cluster-store.js';
import type { EtcdProcess } from '../../src/cluster/local/etcd-process.js';
import { startTestEtcd } from '../helpers/etcd-process.js';
import { waitUntil } from '../helpers/waiting.js';

let etcd: EtcdProcess;
let store: EtcdClusterStore;

before(async () => {
  etcd = await startTestEtcd();
  store = new EtcdClusterStore({ endpoints: [etcd.endpoint], requestTimeoutMs: 5000 });
});

after(async () => {
  store.close();
  await etcd.stop();
});

const value = (text: string): Buffer => Buffer.from(text);

test('a key created only if absent: the second create fails, a write conditioned on the read revision succeeds once', async () => {
  const created = await store.transaction([{ key: '/t/a', modRevision: 0n }], [{ type: 'put', key: '/t/a', value: value('one') }]);
  assert.equal(created.succeeded, true);
  const again = await store.transaction([{ key: '/t/a', modRevision: 0n }], [{ type: 'put', key: '/t/a', value: value('two') }]);
  assert.equal(again.succeeded, false);

  const read = await store.get('/t/a');
  assert.ok(read !== null);
  assert.equal(read.value.toString(), 'one');
  assert.equal(read.modRevision, created.revision);
  assert.equal(read.createRevision, created.revision);
  assert.equal(read.leaseId, null);

  const update = await store.transaction([{ key: '/t/a', modRevision: read.modRevision }], [{ type: 'put', key: '/t/a', value: value('three') }]);
  assert.equal(update.succeeded, true);
  const stale = await store.transaction([{ key: '/t/a', modRevision: read.modRevision }], [{ type: 'put', key: '/t/a', value: value('four') }], [{ type: 'delete', key: '/t/stale-marker' }]);
  assert.equal(stale.succeeded, false);
  const after = await store.get('/t/a');
  assert.equal(after?.value.toString(), 'three');
  assert.equal(after?.createRevision, created.revision);
  assert.ok(after !== null && after.modRevision > read.modRevision);
  assert.equal(await store.get('/t/missing'), null);
});

test('a prefix range lists the keys under it in key order, not their neighbours', async () => {
  for (const key of ['/r/b', '/r/a', '/r/c', '/rr/x', '/q/y']) await store.transaction([{ key, modRevision: 0n }], [{ type: 'put', key, value: value(key) }]);
  const range = await store.rangeByPrefix('/r/');
  assert.deepEqual(range.entries.map((entry) => entry.key), ['/r/a', '/r/b', '/r/c']);
  assert.deepEqual(range.entries.map((entry) => entry.value.toString()), ['/r/a', '/r/b', '/r/c']);
  assert.ok(range.entries.every((entry) => entry.modRevision <= range.revision));
});

test('keys under a lease go when it is revoked, stay when it is released until the TTL lapses, and the holder is told', async () => {
  const revoked = await store.grantLease(2);
  await store.transaction([{ key: '/l/revoked', modRevision: 0n }], [{ type: 'put', key: '/l/revoked', value: value('x'), lease: revoked }]);
  assert.equal((await store.get('/l/revoked'))?.leaseId, revoked.id);
  await revoked.revoke();
  assert.equal(await store.get('/l/revoked'), null);

  const released = await store.grantLease(2);
  const lost: string[] = [];
  released.onLost((reason) => lost.push(reason));
  await store.transaction([{ key: '/l/released', modRevision: 0n }], [{ type: 'put', key: '/l/released', value: value('x'), lease: released }]);
  released.release();
  assert.notEqual(await store.get('/l/released'), null, 'a released lease keeps its keys until its TTL runs out');
  await waitUntil(async () => (await store.get('/l/released')) === null, 'etcd to delete the key of the lapsed lease', 15_000);
  assert.deepEqual(lost, [], 'release() is not a loss');
});

test('a renewed lease outlives its TTL', async () => {
  const lease = await store.grantLease(2);
  const lost: string[] = [];
  lease.onLost((reason) => lost.push(reason));
  await store.transaction([{ key: '/l/renewed', modRevision: 0n }], [{ type: 'put', key: '/l/renewed', value: value('x'), lease }]);
  // Three TTLs, told by etcd's revision counter moving on rather than by a sleep of guessed length.
  const deadline = performance.now() + 3 * lease.ttlSeconds * 1000;
  await waitUntil(async () => {
    await store.transaction([{ key: '/l/ticks', modRevision: (await store.get('/l/ticks'))?.modRevision ?? 0n }], [{ type: 'put', key: '/l/ticks', value: value('tick') }]);
    return performance.now() > deadline;
  }, 'three lease TTLs to pass', 30_000);
  assert.notEqual(await store.get('/l/renewed'), null);
  assert.deepEqual(lost, []);
  await lease.revoke();
});

test('a holder is told its lease is lost when etcd stops answering for longer than the TTL', async () => {
  const own = await startTestEtcd();
  const ownStore = new EtcdClusterStore({ endpoints: [own.endpoint], requestTimeoutMs: 2000 });
  try {
    const lease = await ownStore.grantLease(2);
    const lost: string[] = [];
    lease.onLost((reason) => lost.push(reason));
    process.kill(own.pid, 'SIGSTOP');
    try {
      await waitUntil(() => lost.length > 0, 'the lease to be reported lost', 15_000);
    } finally {
      process.kill(own.pid, 'SIGCONT');
    }
    assert.equal(lost.length, 1);
    assert.match(lost[0] ?? '', /no renewal confirmed within its 2 s TTL|etcd ended the lease/);
  } finally {
    ownStore.close();
    await own.stop();
  }
});

test('a prefix watch from a revision reports every put and delete under the prefix after it, in order', async () => {
  const start = await store.rangeByPrefix('/w/');
  const events: WatchEvent[] = [];
  const errors: string[] = [];
  const watch = await store.watchPrefix('/w/', { fromRevision: start.revision + 1n, onEvent: (event) => events.push(event), onError: (reason) => errors.push(reason) });
  try {
    const first = await store.transaction([{ key: '/w/a', modRevision: 0n }], [{ type: 'put', key: '/w/a', value: value('1') }]);
    await store.transaction([{ key: '/x/outside', modRevision: 0n }], [{ type: 'put', key: '/x/outside', value: value('no') }]);
    const second = await store.transaction([{ key: '/w/a', modRevision: first.revision }], [{ type: 'put', key: '/w/a', value: value('2') }]);
    const removed = await store.transaction([{ key: '/w/a', modRevision: second.revision }], [{ type: 'delete', key: '/w/a' }]);
    await waitUntil(() => events.length >= 3, 'three watch events');
    assert.deepEqual(
      events.map((event) => (event.type === 'put' ? ['put', event.entry.key, event.entry.value.toString(), event.entry.modRevision] : ['delete', event.key, event.modRevision])),
      [
        ['put', '/w/a', '1', first.revision],
        ['put', '/w/a', '2', second.revision],
        ['delete', '/w/a', removed.revision],
      ],
    );
    assert.deepEqual(errors, []);
  } finally {
    await watch.cancel();
  }
});
