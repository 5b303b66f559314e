/** DelayedMessageStore on real folders: due order, recovery (graceful and crash images), routed offsets recorded only once the queues hold them, compaction and segment deletion, the shared limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedMessageStore, type DelayedMessageCount, type DelayedStoreSettings, type MessageToHold } from '../../../../src/queues/delayed/delayed-store.js';
import type { StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { systemClock } from '../../../../src/storage/partition-log.js';
import { logOptions } from '../../storage/batch-fixtures.js';
import { RecordingLogger, copyFolderNow, withTempQueue } from '../queue-store/queue-store-fixtures.js';
import { waitUntil } from '../../../helpers/waiting.js';

const timeout = 30_000;

function settings(count: DelayedMessageCount = { held: 0, max: 1_000_000 }, overrides: Partial<DelayedStoreSettings> = {}): DelayedStoreSettings {
  return { logOptions: logOptions({ segmentBytes: 16 * 1024 }), logEnvironment: {}, clock: systemClock, logger: new RecordingLogger(), count, ...overrides };
}

function open(directory: string, options: { recover?: boolean; durable?: boolean; settings?: DelayedStoreSettings } = {}): Promise<DelayedMessageStore> {
  return DelayedMessageStore.open(directory, options.settings ?? settings(), { recover: options.recover ?? true, durable: options.durable ?? true });
}

function message(name: string, delayMs: number, persistent = true): MessageToHold {
  return { exchange: 'later', routingKey: `key-${name}`, properties: Buffer.from([0x10, 0x00, 0x02]), body: Buffer.from(name), persistent, delayMs, expirationMs: null };
}

/** A router that records the bodies it is given, in order; their queues hold them at once. */
function recorder(): { readonly routed: string[]; readonly messages: StoredMessage[]; route(message: StoredMessage): null } {
  const routed: string[] = [];
  const messages: StoredMessage[] = [];
  return {
    routed,
    messages,
    route(message) {
      routed.push(message.body.toString());
      messages.push(message);
      return null;
    },
  };
}

function held(result: ReturnType<DelayedMessageStore['hold']>): Promise<void> | null {
  assert.ok(result.held, 'held');
  return result.durable;
}

test('messages are routed in order of due time, ties in publish order, each once, as published', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory);
    const router = recorder();
    store.start((routed) => router.route(routed));
    const startedMs = Date.now();
    for (const [name, delayMs] of [['c', 300], ['a', 100], ['b', 200], ['a2', 100], ['d', 250]] as const) store.hold(message(name, delayMs));
    assert.equal(store.heldCount, 5);
    store.invariants();
    await waitUntil(() => router.routed.length === 5, 'every message routed', 5000);
    assert.deepEqual(router.routed, ['a', 'a2', 'b', 'd', 'c']);
    const first = router.messages[0]!;
    assert.equal(first.routingKey, 'key-a');
    assert.equal(first.exchange, 'later');
    assert.ok(first.publishedAtMs - startedMs >= 100, 'published (into the queues) when routed');
    assert.equal(store.heldCount, 0);
    store.invariants();
    await sleep(50);
    assert.equal(router.routed.length, 5, 'nothing routed twice');
    await store.close();
    const reopened = await open(directory);
    assert.equal(reopened.heldCount, 0, 'routed offsets were recorded');
    await reopened.close();
  });
});

test('a restart keeps persistent messages with their due time and drops transient ones; overdue ones go at start', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory);
    store.start(() => null);
    const durable = held(store.hold(message('overdue', 150)));
    assert.ok(durable !== null, 'a persistent message in a durable store is waited for');
    await durable;
    assert.equal(held(store.hold(message('transient', 150, false))), null, 'a transient one is not');
    const laterDueMs = Date.now() + 700;
    held(store.hold(message('later', 700)));
    await store.close();
    assert.equal(store.heldCount, 3);
    await sleep(200);

    const router = recorder();
    const reopened = await open(directory);
    assert.equal(reopened.heldCount, 2);
    assert.deepEqual(router.routed, [], 'nothing routed before start');
    reopened.start((routed) => router.route(routed));
    await waitUntil(() => router.routed.length === 2, 'both routed', 3000);
    assert.deepEqual(router.routed, ['overdue', 'later']);
    assert.ok(router.messages[1]!.publishedAtMs >= laterDueMs, 'the later one kept its due time');
    await reopened.close();
  });
});

test('a crash image keeps what was confirmed; an offset counts as routed only once its queues hold the message', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await open(directory);
    let releaseQueues: () => void = () => undefined;
    const queuesHold = new Promise<void>((resolve) => (releaseQueues = resolve));
    const routed: string[] = [];
    store.start((message) => {
      routed.push(message.body.toString());
      return queuesHold;
    });
    await held(store.hold(message('first', 50)));
    await held(store.hold(message('second', 60_000)));
    copyFolderNow(directory, join(root, 'crash-held'));
    await waitUntil(() => routed.length === 1, 'first routed', 2000);
    await store.flush();
    // Routed, but its queues have not made it durable: a crash now routes it again.
    copyFolderNow(directory, join(root, 'crash-routing'));
    releaseQueues();
    await waitUntil(() => store.heldCount === 1, 'first finished', 2000);
    await store.flush();
    copyFolderNow(directory, join(root, 'crash-routed'));
    await store.close();

    for (const [image, expected] of [['crash-held', 2], ['crash-routing', 2], ['crash-routed', 1]] as const) {
      const recovered = await open(join(root, image));
      assert.equal(recovered.heldCount, expected, image);
      recovered.invariants();
      await recovered.close();
    }
  });
});

test('the state file is compacted, routed segments are deleted, and a reopen holds only what is left', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory, { settings: settings(undefined, { stateCompactionMinBytes: 1024 }) });
    let routedCount = 0;
    store.start(() => {
      routedCount++;
      return null;
    });
    const body = 'x'.repeat(200);
    // Delays out of publish order, so routed offsets come in scattered ranges; every tenth one stays held.
    let last: Promise<void> | null = null;
    for (let index = 0; index < 1000; index++) {
      const delayMs = index % 10 === 0 ? 60_000 : 20 + ((index * 37) % 200);
      last = held(store.hold({ ...message(`${index}`, delayMs), body: Buffer.from(body) }));
    }
    await last;
    await waitUntil(() => routedCount === 900, '900 routed', 10_000);
    await store.flush();
    await store.flush();
    assert.ok(store.stateCompactionCount >= 1, 'compacted by itself');
    // Without compaction every routed offset would be a record of its own (25 bytes): they come scattered.
    assert.ok(store.stateSizeBytes < 900 * 25, `state file of ${store.stateSizeBytes} bytes`);
    assert.equal(store.heldCount, 100);
    assert.equal(store.routedBelow, 0, 'offset 0 is still held');
    await store.close();

    const reopened = await open(directory, { settings: settings(undefined, { stateCompactionMinBytes: 1024 }) });
    assert.equal(reopened.heldCount, 100);
    // The open wrote a snapshot: header 8 + record 9 + 20, and one range per gap between held offsets (every tenth is held).
    assert.equal(reopened.stateSizeBytes, 8 + 9 + 20 + 100 * 16);
    reopened.invariants();
    await reopened.close();
  });
});

test('segments wholly below the lowest held message are deleted', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory);
    let routedCount = 0;
    store.start(() => {
      routedCount++;
      return null;
    });
    let last: Promise<void> | null = null;
    for (let index = 0; index < 400; index++) last = held(store.hold({ ...message(`${index}`, 20), body: Buffer.alloc(500, 1) }));
    await last;
    held(store.hold(message('kept', 60_000)));
    await waitUntil(() => routedCount === 400, '400 routed', 10_000);
    await store.flush();
    await waitUntil(
      async () => {
        await store.flush();
        return store.segmentCount <= 2;
      },
      'routed segments deleted',
      20_000, // deleting segments fsyncs the folder: slow on a busy disk
      () => `segments ${store.segmentCount}, routed below ${store.routedBelow}, log start ${store.logStartOffset}, held ${store.heldCount}`,
    );
    assert.equal(store.routedBelow, 400);
    assert.ok(store.logStartOffset > 300, `log start ${store.logStartOffset}`);
    const files = await readdir(join(directory, 'log'));
    assert.ok(files.filter((name) => name.endsWith('.log')).length <= 2, files.join(' '));
    await store.close();
    const reopened = await open(directory);
    assert.equal(reopened.heldCount, 1);
    await reopened.close();
  });
});

test('the count is shared and limited; a routed message makes room; open without recovery starts empty', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const count: DelayedMessageCount = { held: 0, max: 2 };
    const one = await open(directory, { settings: settings(count) });
    const other = await open(join(root, 'other'), { settings: settings(count), durable: false });
    one.start(() => null);
    other.start(() => null);
    held(one.hold(message('a', 100)));
    assert.equal(held(other.hold(message('b', 60_000))), null, 'a non-durable store waits for nothing');
    const refused = one.hold(message('c', 100));
    assert.deepEqual(refused, { held: false, reason: 'delayed message limit (2, amqp.maxDelayedMessages) is reached' });
    assert.equal(count.held, 2);
    await waitUntil(() => count.held === 1, 'a routed', 2000);
    held(one.hold(message('d', 60_000)));
    await one.close();
    await other.delete();
    assert.equal(count.held, 0, 'closed and deleted stores hold nothing any more');
    const fresh = await open(directory, { settings: settings(count), recover: false });
    assert.equal(fresh.heldCount, 0);
    await fresh.close();
  });
});

test('a long delay at the head of the log does not keep the entries routed after it', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory);
    let routedCount = 0;
    store.start(() => {
      routedCount++;
      return null;
    });
    held(store.hold(message('long', 60_000)));
    let last: Promise<void> | null = null;
    for (let index = 0; index < 3000; index++) last = held(store.hold(message(`${index}`, 5)));
    await last;
    await waitUntil(() => routedCount === 3000, '3000 routed', 10_000);
    assert.equal(store.heldCount, 1);
    assert.equal(store.routedBelow, 0);
    store.invariants(); // done entries are dropped once they outnumber the held ones
    await store.close();
  });
});

test('past maxBytesInMemory messages are read back from the log when due, still in due order, memory within the bound', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await open(directory, { settings: settings(undefined, { maxBytesInMemory: 2048 }) });
    const router = recorder();
    let checks = 0;
    store.start((routed) => {
      if (checks++ % 25 === 0) store.invariants(); // bytes kept in memory ≤ the bound, as they are counted
      return router.route(routed);
    });
    let last: Promise<void> | null = null;
    for (let index = 0; index < 300; index++) {
      const delayMs = 50 + ((index * 7919) % 400);
      last = held(store.hold({ ...message(`${index}`, delayMs), body: Buffer.alloc(100, index % 256) }));
    }
    await last;
    await waitUntil(() => router.routed.length === 300, '300 routed', 10_000);
    // Due order, up to the millisecond each was held in: a later-held message due at the same
    // computed time may only follow.
    const position = new Map(router.messages.map((routed, index) => [routed.routingKey.slice('key-'.length), index]));
    const byDelay = (index: number) => 50 + ((index * 7919) % 400);
    for (let left = 0; left < 300; left++) {
      for (let right = 0; right < 300; right++) {
        if (byDelay(left) + 20 < byDelay(right) && left < right) assert.ok(position.get(`${left}`)! < position.get(`${right}`)!, `${left} before ${right}`);
      }
    }
    assert.equal(position.size, 300, 'each once');
    for (const routed of router.messages) assert.deepEqual(routed.body, Buffer.alloc(100, Number(routed.routingKey.slice('key-'.length)) % 256), 'the body as held');
    store.invariants();
    await store.close();
  });
});
