/**
 * src/cluster/prefix-follower.ts against a scripted store (reads answer what the test set, watches
 * are driven by hand): the first read then the watch from the revision after it; a failed watch
 * read again, failed reads tried again until one succeeds; nothing reported after stop(). The same
 * follower against a real etcd runs in every cluster test (the metadata cache, the broker directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterStore, KeyValue, RangeResult, WatchEvent, WatchOptions } from '../../../src/cluster/cluster-store.js';
import { createLogger } from '../../../src/logging/logger.js';
import { PrefixFollower } from '../../../src/cluster/prefix-follower.js';

function entry(key: string, revision: bigint): KeyValue {
  return { key, value: Buffer.from(key), createRevision: revision, modRevision: revision, leaseId: null };
}

class ScriptedStore implements Pick<ClusterStore, 'rangeByPrefix' | 'watchPrefix'> {
  range: RangeResult = { revision: 0n, entries: [] };
  failReads = 0;
  reads = 0;
  readonly watches: { prefix: string; options: WatchOptions; cancelled: boolean }[] = [];

  async rangeByPrefix(prefix: string): Promise<RangeResult> {
    this.reads++;
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('etcd out of reach');
    }
    return { revision: this.range.revision, entries: this.range.entries.filter((kv) => kv.key.startsWith(prefix)) };
  }

  async watchPrefix(prefix: string, options: WatchOptions) {
    const watch = { prefix, options, cancelled: false };
    this.watches.push(watch);
    return { cancel: async () => void (watch.cancelled = true) };
  }

  get current() {
    const watch = this.watches.at(-1);
    assert.ok(watch !== undefined && !watch.cancelled, 'a watch is open');
    return watch;
  }
}

function follow(store: ScriptedStore) {
  const seen: { loaded: string[][]; revisions: bigint[]; changes: WatchEvent[] } = { loaded: [], revisions: [], changes: [] };
  const lines: string[] = [];
  const follower = new PrefixFollower(
    store,
    '/p/',
    { loaded: (entries, revision) => (seen.loaded.push(entries.map((kv) => kv.key)), seen.revisions.push(revision)), changed: (event) => seen.changes.push(event) },
    createLogger('warn', (line) => lines.push(line)),
    { watchFailed: 'watch failed', readFailed: 'read failed' },
    20,
  );
  return { follower, seen, lines };
}

test('reads the prefix, then watches from the revision after that read and hands on each change', async () => {
  const store = new ScriptedStore();
  store.range = { revision: 7n, entries: [entry('/p/a', 3n), entry('/p/b', 7n), entry('/q/x', 5n)] };
  const { follower, seen } = follow(store);
  await follower.start();
  assert.deepEqual(seen.loaded, [['/p/a', '/p/b']]);
  assert.deepEqual(seen.revisions, [7n]);
  assert.equal(store.current.prefix, '/p/');
  assert.equal(store.current.options.fromRevision, 8n);
  store.current.options.onEvent({ type: 'put', entry: entry('/p/c', 8n) });
  store.current.options.onEvent({ type: 'delete', key: '/p/a', modRevision: 9n });
  assert.deepEqual(seen.changes.map((event) => (event.type === 'put' ? `put ${event.entry.key}` : `delete ${event.key}`)), ['put /p/c', 'delete /p/a']);
  await follower.stop();
});

test('a failed watch: the prefix is read again (failed reads tried again until one succeeds) and watched from the new read', async () => {
  const store = new ScriptedStore();
  store.range = { revision: 7n, entries: [entry('/p/a', 3n)] };
  const { follower, seen, lines } = follow(store);
  await follower.start();
  const first = store.current;
  store.range = { revision: 12n, entries: [entry('/p/a', 3n), entry('/p/d', 11n)] };
  store.failReads = 2;
  first.options.onError('compacted');
  await sleep(150);
  assert.equal(first.cancelled, true, 'the failed watch is cancelled');
  assert.equal(store.reads, 4, 'the first read, two failed ones, then the one that succeeded');
  assert.deepEqual(seen.loaded, [['/p/a'], ['/p/a', '/p/d']]);
  assert.equal(store.current.options.fromRevision, 13n);
  assert.equal(lines.filter((line) => line.includes('watch failed')).length, 1);
  assert.equal(lines.filter((line) => line.includes('read failed')).length, 2);
  await follower.stop();
});

test('after stop(): no change is handed on, no read is tried again, the watch is cancelled', async () => {
  const store = new ScriptedStore();
  const { follower, seen } = follow(store);
  await follower.start();
  const watch = store.current;
  store.failReads = 100;
  watch.options.onError('cancelled');
  await follower.stop();
  const readsAtStop = store.reads;
  watch.options.onEvent({ type: 'put', entry: entry('/p/late', 20n) });
  await sleep(80);
  assert.deepEqual(seen.changes, []);
  assert.equal(store.reads, readsAtStop, 'no read after stop');
  assert.equal(watch.cancelled, true);
});
