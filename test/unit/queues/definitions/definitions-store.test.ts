/**
 * The AMQP definitions store (src/queues/definitions/definitions-store.ts) on real temporary
 * directories: every kind of definition survives a close and reopen, a put replaces the definition
 * with its key, removals cascade to what the removed definition holds or routes, and what AMQP
 * cannot name (over 255 bytes) or what has no virtual host is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Definitions } from '../../../../src/queues/definitions/definitions.js';
import { binding, exchange, queue, table, withDataDirectory, withStore } from './store-helpers.js';

/** Names only, sorted, for comparing which definitions a store holds. */
function summary(definitions: Definitions): Record<string, string[]> {
  return {
    virtualHosts: [...definitions.virtualHosts].sort(),
    exchanges: definitions.exchanges.map((each) => `${each.virtualHost}|${each.name}`).sort(),
    queues: definitions.queues.map((each) => `${each.virtualHost}|${each.name}`).sort(),
    bindings: definitions.bindings.map((each) => `${each.virtualHost}|${each.source}->${each.destinationKind}:${each.destination}|${each.routingKey}`).sort(),
  };
}

test('a new store holds the virtual host "/" and nothing else, written to <dataDir>/amqp/', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      assert.deepEqual(store.definitions, { virtualHosts: ['/'], exchanges: [], queues: [], bindings: [], policies: [] });
    });
    assert.deepEqual((await readdir(join(dataDir, 'amqp'))).sort(), ['definitions.journal', 'definitions.json']);
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions.virtualHosts, ['/']));
  });
});

test('every kind of definition, with every field, survives a close and reopen', async () => {
  await withDataDirectory(async (dataDir) => {
    const exchanges = [
      exchange('logs', { type: 'topic', autoDelete: true, internal: false, arguments: table({ 'alternate-exchange': { type: 'longString', value: Buffer.from('unrouted') } }) }),
      exchange('inner', { virtualHost: 'tenant', type: 'fanout', internal: true }),
    ];
    const queues = [
      queue('jobs', { autoDelete: true, arguments: table({ 'x-max-length': { type: 'int32', value: 1000 }, 'x-queue-type': { type: 'longString', value: Buffer.from('classic') } }) }),
      queue('jobs', { virtualHost: 'tenant', storageId: 'other-folder' }),
    ];
    const bindings = [
      binding('logs', 'jobs', { routingKey: 'error.#' }),
      binding('logs', 'inner', { virtualHost: 'tenant', destinationKind: 'exchange', routingKey: 'x', arguments: table({ 'x-match': { type: 'longString', value: Buffer.from('all') } }) }),
    ];
    const expected: Definitions = { virtualHosts: ['/', 'tenant'], exchanges, queues, bindings, policies: [] };
    await withStore(dataDir, async (store) => {
      await store.putVirtualHost('tenant');
      for (const each of exchanges) await store.putExchange(each);
      for (const each of queues) await store.putQueue(each);
      for (const each of bindings) await store.putBinding(each);
      assert.deepEqual(store.definitions, expected, 'each change is visible once its promise resolved');
    });
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions, expected));
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions, expected, 'a second reopen reads the same'));
  });
});

test('changes queued together (one group commit) all apply, in call order', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await Promise.all([store.putExchange(exchange('a')), store.putExchange(exchange('b')), store.removeExchange('/', 'a'), store.putQueue(queue('q'))]);
      assert.deepEqual(summary(store.definitions).exchanges, ['/|b']);
    });
    await withStore(dataDir, async (store) => {
      assert.deepEqual(summary(store.definitions), { virtualHosts: ['/'], exchanges: ['/|b'], queues: ['/|q'], bindings: [] });
    });
  });
});

test('a put replaces the definition with the same key; a binding is keyed by all its fields', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putExchange(exchange('logs', { type: 'direct' }));
      await store.putExchange(exchange('logs', { type: 'topic' }));
      await store.putQueue(queue('jobs', { storageId: 'first' }));
      await store.putQueue(queue('jobs', { storageId: 'second' }));
      const ordered = table({ a: { type: 'int8', value: 1 }, b: { type: 'int8', value: 2 } });
      const reordered = table({ b: { type: 'int8', value: 2 }, a: { type: 'int8', value: 1 } });
      await store.putBinding(binding('logs', 'jobs', { routingKey: 'k', arguments: ordered }));
      await store.putBinding(binding('logs', 'jobs', { routingKey: 'k', arguments: reordered })); // the same binding
      await store.putBinding(binding('logs', 'jobs', { routingKey: 'k' })); // other arguments: another binding
      await store.putBinding(binding('logs', 'jobs', { routingKey: 'other' }));
      await store.putBinding(binding('logs', 'jobs', { routingKey: 'k', destinationKind: 'exchange' }));
    });
    await withStore(dataDir, async (store) => {
      const { exchanges, queues, bindings } = store.definitions;
      assert.deepEqual(exchanges.map((each) => each.type), ['topic']);
      assert.deepEqual(queues.map((each) => each.storageId), ['second']);
      assert.equal(bindings.length, 4);
      assert.deepEqual([...bindings[0]!.arguments.keys()], ['b', 'a'], 'the later put replaced the earlier one');
      await store.removeBinding(binding('logs', 'jobs', { routingKey: 'k', arguments: table({ a: { type: 'int8', value: 1 }, b: { type: 'int8', value: 2 } }) }));
      assert.deepEqual(store.definitions.bindings.map((each) => [each.routingKey, each.destinationKind, each.arguments.size]), [['k', 'queue', 0], ['other', 'queue', 0], ['k', 'exchange', 0]]);
    });
  });
});

test('removing a virtual host removes its exchanges, queues and bindings, and nothing of another host', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putVirtualHost('tenant');
      for (const virtualHost of ['/', 'tenant']) {
        await store.putExchange(exchange('logs', { virtualHost }));
        await store.putQueue(queue('jobs', { virtualHost }));
        await store.putBinding(binding('logs', 'jobs', { virtualHost }));
      }
      await store.removeVirtualHost('tenant');
      const expected = { virtualHosts: ['/'], exchanges: ['/|logs'], queues: ['/|jobs'], bindings: ['/|logs->queue:jobs|'] };
      assert.deepEqual(summary(store.definitions), expected);
      await store.removeVirtualHost('/');
      assert.deepEqual(summary(store.definitions), { virtualHosts: [], exchanges: [], queues: [], bindings: [] });
    });
    await withStore(dataDir, async (store) => {
      assert.deepEqual(summary(store.definitions), { virtualHosts: [], exchanges: [], queues: [], bindings: [] }, 'the removed "/" is not created again');
      await assert.rejects(store.putExchange(exchange('late')), /virtual host "\/" does not exist/);
    });
  });
});

test('removing an exchange removes the bindings from it and to it; removing a queue, those to it', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putVirtualHost('tenant');
      for (const name of ['upstream', 'middle', 'downstream']) await store.putExchange(exchange(name));
      await store.putExchange(exchange('middle', { virtualHost: 'tenant' }));
      for (const name of ['q1', 'q2']) await store.putQueue(queue(name));
      await store.putBinding(binding('upstream', 'middle', { destinationKind: 'exchange' }));
      await store.putBinding(binding('middle', 'downstream', { destinationKind: 'exchange' }));
      await store.putBinding(binding('middle', 'q1'));
      await store.putBinding(binding('downstream', 'q1'));
      await store.putBinding(binding('downstream', 'q2'));
      await store.putBinding(binding('upstream', 'q2'));
      await store.putBinding(binding('middle', 'q1', { virtualHost: 'tenant' }));
      await store.putBinding(binding('upstream', 'middle', { destinationKind: 'queue' })); // a queue named like the exchange
      await store.removeExchange('/', 'middle');
      assert.deepEqual(summary(store.definitions).bindings, [
        '/|downstream->queue:q1|',
        '/|downstream->queue:q2|',
        '/|upstream->queue:middle|',
        '/|upstream->queue:q2|',
        'tenant|middle->queue:q1|',
      ]);
      await store.removeQueue('/', 'q2');
      assert.deepEqual(summary(store.definitions).bindings, ['/|downstream->queue:q1|', '/|upstream->queue:middle|', 'tenant|middle->queue:q1|']);
    });
    await withStore(dataDir, async (store) => {
      assert.deepEqual(summary(store.definitions), {
        virtualHosts: ['/', 'tenant'],
        exchanges: ['/|downstream', '/|upstream', 'tenant|middle'],
        queues: ['/|q1'],
        bindings: ['/|downstream->queue:q1|', '/|upstream->queue:middle|', 'tenant|middle->queue:q1|'],
      });
    });
  });
});

test('names over 255 bytes of UTF-8 are refused, and nothing is written', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      const longest = 'é'.repeat(127) + 'x'; // 255 bytes
      const tooLong = 'é'.repeat(128); // 128 characters, 256 bytes
      await store.putVirtualHost(longest);
      await store.putExchange(exchange(longest, { virtualHost: longest }));
      const bytesBefore = store.journalBytes;
      await assert.rejects(store.putVirtualHost(tooLong), /virtual host name of 256 bytes refused/);
      await assert.rejects(store.putExchange(exchange(tooLong)), /exchange name of 256 bytes refused/);
      await assert.rejects(store.putExchange(exchange('logs', { type: tooLong })), /exchange type of 256 bytes/);
      await assert.rejects(store.putQueue(queue(tooLong)), /queue name of 256 bytes/);
      await assert.rejects(store.putBinding(binding('logs', 'q', { routingKey: tooLong })), /routing key of 256 bytes/);
      await assert.rejects(store.putBinding(binding(tooLong, 'q')), /binding source of 256 bytes/);
      await assert.rejects(store.putBinding(binding('logs', tooLong)), /binding destination of 256 bytes/);
      await assert.rejects(store.removeQueue('/', tooLong), /queue name of 256 bytes/);
      assert.equal(store.journalBytes, bytesBefore);
    });
    await withStore(dataDir, async (store) => {
      assert.equal(store.definitions.virtualHosts.length, 2);
      assert.equal(store.definitions.exchanges[0]?.name.length, 128);
    });
  });
});

test('a definition in a virtual host that does not exist is refused', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await assert.rejects(store.putQueue(queue('jobs', { virtualHost: 'nowhere' })), /virtual host "nowhere" does not exist/);
      await assert.rejects(store.putBinding(binding('a', 'b', { virtualHost: 'nowhere' })), /does not exist/);
      await store.putVirtualHost('going');
      // Both pass the check; the removal is written first, so the put is refused when applied.
      const [removed, put] = await Promise.allSettled([store.removeVirtualHost('going'), store.putExchange(exchange('late', { virtualHost: 'going' }))]);
      assert.equal(removed.status, 'fulfilled');
      assert.equal(put.status, 'rejected');
      assert.deepEqual(store.definitions.exchanges, []);
    });
    await withStore(dataDir, async (store) => assert.deepEqual(summary(store.definitions), { virtualHosts: ['/'], exchanges: [], queues: [], bindings: [] }));
  });
});
