/**
 * The AMQP definitions store on a full file system (a small tmpfs; needs root, never skipped):
 * definitions can still be removed, through the journal's reserve, while new ones are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountSmallFilesystem } from '../../../helpers/small-filesystem.js';
import { binding, exchange, queue, withStore } from './store-helpers.js';

test('on a full file system removals go through the reserve and additions are refused', async () => {
  const filesystem = mountSmallFilesystem(1024 * 1024);
  try {
    const dataDir = filesystem.path('data');
    await withStore(dataDir, async (store) => {
      await store.putVirtualHost('tenant');
      await store.putExchange(exchange('logs'));
      await store.putQueue(queue('jobs'));
      await store.putBinding(binding('logs', 'jobs'));
      await store.putQueue(queue('other', { virtualHost: 'tenant' }));
      filesystem.fillUp('filler');
      let refusal: unknown = null;
      for (let index = 0; index < 1000 && refusal === null; index++) {
        await store.putExchange(exchange(`added-${index}`)).catch((error: unknown) => (refusal = error));
      }
      assert.match(String(refusal), /ENOSPC/);
      // The smallest additions too, so what is left past the reserve is less than any removal's record.
      refusal = null;
      for (let index = 0; index < 1000 && refusal === null; index++) await store.putVirtualHost(`v${index}`).catch((error: unknown) => (refusal = error));
      assert.match(String(refusal), /ENOSPC/);
      await store.removeQueue('/', 'jobs');
      await store.removeExchange('/', 'logs');
      await store.removeVirtualHost('tenant');
      assert.deepEqual(store.definitions.queues, []);
      assert.deepEqual(store.definitions.bindings, []);
      assert.ok(store.definitions.exchanges.every((each) => each.name.startsWith('added-')));
    });
    await withStore(dataDir, async (store) => {
      assert.deepEqual(store.definitions.virtualHosts.filter((name) => !/^v\d+$/.test(name)), ['/']);
      assert.deepEqual(store.definitions.queues, []);
      assert.deepEqual(store.definitions.bindings, []);
      assert.equal(store.definitions.exchanges.find((each) => each.name === 'logs'), undefined);
    });
  } finally {
    filesystem.unmount();
  }
});
