/**
 * Policies in the AMQP definitions store: put, replaced by name, removed (with their virtual host),
 * replayed from the journal and read back from a snapshot; a snapshot written before policies
 * existed (no "policies" field) is read as having none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PolicyRecord } from '../../../../src/queues/definitions/definitions.js';
import { snapshotFileName } from '../../../../src/queues/definitions/definitions-store.js';
import { exchange, settings, withDataDirectory, withStore } from './store-helpers.js';

const policy = (name: string, fields: Partial<PolicyRecord> = {}): PolicyRecord => ({ virtualHost: '/', name, pattern: '^orders\\.', applyTo: 'queues', priority: 0, definition: { 'max-length': 1000, overflow: 'reject-publish' }, ...fields });
const names = (records: readonly PolicyRecord[]) => records.map((record) => `${record.virtualHost}|${record.name}|${record.priority}`).sort();

test('policies are stored, replaced by name, removed, and read back after a reopen', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putVirtualHost('tenant');
      await store.putPolicy(policy('limits'));
      await store.putPolicy(policy('retry', { definition: { 'dead-letter-exchange': 'retry', 'delivery-limit': 5 }, priority: 10 }));
      await store.putPolicy(policy('limits', { virtualHost: 'tenant', priority: -1, applyTo: 'all' }));
      await store.putPolicy(policy('limits', { priority: 3 })); // replaces the first
      await store.putPolicy(policy('gone'));
      await store.removePolicy('/', 'gone');
      await store.removePolicy('/', 'never-there');
      assert.deepEqual(names(store.definitions.policies), ['/|limits|3', '/|retry|10', 'tenant|limits|-1']);
    });
    await withStore(dataDir, async (store) => {
      assert.deepEqual(names(store.definitions.policies), ['/|limits|3', '/|retry|10', 'tenant|limits|-1'], 'replayed from the journal');
      assert.deepEqual(
        store.definitions.policies.find((record) => record.name === 'retry'),
        { virtualHost: '/', name: 'retry', pattern: '^orders\\.', applyTo: 'queues', priority: 10, definition: { 'dead-letter-exchange': 'retry', 'delivery-limit': 5 } },
      );
      await store.removeVirtualHost('tenant');
      assert.deepEqual(names(store.definitions.policies), ['/|limits|3', '/|retry|10'], 'a removed virtual host takes its policies');
      await assert.rejects(store.putPolicy(policy('late', { virtualHost: 'tenant' })), /virtual host "tenant" does not exist/);
      await assert.rejects(store.putPolicy(policy('é'.repeat(128))), /policy name of 256 bytes refused/);
    });
  });
});

test('compaction writes the policies into the snapshot; a reopen reads them from it', async () => {
  await withDataDirectory(async (dataDir) => {
    const compacting = { ...settings, compactionMinBytes: 1 };
    await withStore(
      dataDir,
      async (store) => {
        for (let index = 0; index < 20; index++) await store.putPolicy(policy(`p${index}`, { priority: index }));
        await store.putExchange(exchange('after')); // written after the last compaction started
      },
      compacting,
    );
    const snapshot = JSON.parse(await readFile(join(dataDir, 'amqp', snapshotFileName), 'utf8')) as { policies: PolicyRecord[] };
    assert.ok(snapshot.policies.length > 0, 'the snapshot holds policies');
    await withStore(dataDir, async (store) => {
      assert.equal(store.definitions.policies.length, 20);
      assert.equal(store.definitions.policies.find((record) => record.name === 'p19')?.priority, 19);
    });
  });
});

test('a snapshot written before policies existed is read as having none, and policies can then be added', async () => {
  await withDataDirectory(async (dataDir) => {
    await mkdir(join(dataDir, 'amqp'), { recursive: true });
    const older = { formatVersion: 1, journalSequence: 0, virtualHosts: ['/'], exchanges: [], queues: [], bindings: [] };
    await writeFile(join(dataDir, 'amqp', snapshotFileName), JSON.stringify(older));
    await withStore(dataDir, async (store) => {
      assert.deepEqual(store.definitions.policies, []);
      await store.putPolicy(policy('new'));
    });
    await withStore(dataDir, async (store) => assert.deepEqual(names(store.definitions.policies), ['/|new|0']));
  });
});

test('a snapshot whose policies are malformed is refused, not silently emptied', async () => {
  await withDataDirectory(async (dataDir) => {
    await mkdir(join(dataDir, 'amqp'), { recursive: true });
    const broken = { formatVersion: 1, journalSequence: 0, virtualHosts: ['/'], exchanges: [], queues: [], bindings: [], policies: [{ virtualHost: '/', name: 'p', pattern: '.*', applyTo: 'all', priority: 'high', definition: {} }] };
    await writeFile(join(dataDir, 'amqp', snapshotFileName), JSON.stringify(broken));
    await assert.rejects(withStore(dataDir, async () => undefined), /not an AMQP definitions snapshot/);
  });
});
