import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { contentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import { LogQueueStore } from '../../../../src/queues/queue-store/queue-store.js';
import { PriorityQueueStore } from '../../../../src/queues/queue-store/priority-queue-store.js';
import type { QueueStore } from '../../../../src/queues/queue-store/queue-store-api.js';
import { RecordingLogger, copyFolderNow, seededRandom, storeSettings, testMessage, withTempQueue, StoreHarness } from './queue-store-fixtures.js';

/**
 * Random sequences of appends (random priorities, some missing or above the maximum), takes,
 * settles, requeues, purges, flushes, reopens and crash images (taken after a flush), checked after
 * every step against a naive model: the messages with their level and state; the next one is the
 * highest level's first requeued one, else its first fresh one. New levels open during the run (their
 * messages served while they open), levels read from disk (a tiny in-memory budget), and empty levels
 * are removed at reopen. The same sequences run on a transient store, without reopens, and on a
 * priority queue kept in one log (LogQueueStore with maxPriority: priority-dispositions.ts, as in a
 * cluster), where after a restart a message never delivered may come back flagged redelivered when a
 * later one was delivered (the delivered mark is a high-water mark there), but one delivered always does.
 */

/** How the priority queue is kept: one store per level (durable or transient), or one log. */
type Variant = 'levels' | 'transient levels' | 'one log';

const maxPriority = 4;

interface ModelMessage {
  readonly index: number;
  readonly level: number;
  readonly persistent: boolean;
  state: 'ready' | 'taken' | 'settled';
  requeued: boolean;
  everTaken: boolean;
  /** 'either': never delivered, but below the delivered mark of a one-log store after a restart. */
  redelivered: boolean | 'either';
  /** Times requeued: its deliveryCount, kept across reopens. */
  returns: number;
  readonly bodyBytes: number;
}

class Model {
  readonly messages: ModelMessage[] = [];

  get readyCount(): number {
    return this.messages.filter((message) => message.state === 'ready').length;
  }

  get readyBytes(): number {
    return this.messages.reduce((sum, message) => sum + (message.state === 'ready' ? message.bodyBytes : 0), 0);
  }

  get takenCount(): number {
    return this.messages.filter((message) => message.state === 'taken').length;
  }

  next(): ModelMessage | null {
    const ready = this.messages.filter((message) => message.state === 'ready');
    const top = Math.max(-1, ...ready.map((message) => message.level));
    const level = ready.filter((message) => message.level === top);
    return level.find((message) => message.requeued) ?? level[0] ?? null;
  }

  restart(variant: Variant): void {
    // One log: the delivered mark is one past the latest message ever taken.
    const markIndex = variant === 'one log' ? Math.max(-1, ...this.messages.filter((message) => message.everTaken).map((message) => message.index)) : -1;
    for (const message of this.messages) {
      if (message.state === 'settled') continue;
      if (!message.persistent) {
        message.state = 'settled';
        continue;
      }
      message.state = 'ready';
      message.requeued = false;
      message.redelivered = message.everTaken || (message.index < markIndex ? 'either' : false);
    }
  }
}

function propertiesWith(priority: number | undefined): Buffer {
  return contentHeaderPayload({ bodySize: 0n, properties: priority === undefined ? { deliveryMode: 2 } : { deliveryMode: 2, priority } }).subarray(12);
}

async function runScenario(seed: number, steps: number, variant: Variant): Promise<void> {
  const durable = variant !== 'transient levels';
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  await withTempQueue(async (directory, root) => {
    const options = { maxReadyBytesInMemory: 1 + Math.floor(random() * 400), log: { segmentBytes: 1024 + Math.floor(random() * 2048) }, syncFile: async () => {} };
    const open = (folder: string): Promise<QueueStore> => {
      if (variant === 'one log') return LogQueueStore.open(folder, { ...storeSettings(options), maxPriority });
      if (variant === 'levels') return PriorityQueueStore.open(folder, maxPriority, (levelFolder) => LogQueueStore.open(levelFolder, storeSettings(options)), new RecordingLogger());
      return Promise.resolve(PriorityQueueStore.inMemory(maxPriority, new RecordingLogger()));
    };
    let folder = directory;
    let crashes = 0;
    const model = new Model();
    const harness = new StoreHarness(await open(folder));
    const durables: Array<Promise<void>> = [];
    for (let step = 0; step < steps; step++) {
      const choice = random();
      const context = `${variant} seed ${seed} step ${step}`;
      if (choice < 0.3) {
        const count = 1 + Math.floor(random() * 4);
        for (let each = 0; each < count; each++) {
          const index = model.messages.length;
          const persistent = random() < 0.8;
          const priority = random() < 0.15 ? undefined : Math.floor(random() * (maxPriority + 3));
          const bodyBytes = Math.floor(random() * 120);
          durables.push(harness.store.append(testMessage(index, { persistent, properties: propertiesWith(priority), body: Buffer.alloc(bodyBytes, index % 251) })).durable);
          model.messages.push({ index, level: Math.min(priority ?? 0, maxPriority), persistent, state: 'ready', requeued: false, everTaken: false, redelivered: false, returns: 0, bodyBytes });
        }
      } else if (choice < 0.55) {
        const expected = model.next();
        const peeked = harness.store.peekNext();
        const next = await harness.take(expected !== null);
        // The queue settles what it peeked after taking it: the same object.
        if (peeked !== null) assert.equal(next, peeked, `${context}: peekNext shows what takeNext takes`);
        if (expected === null) {
          assert.equal(next, null, context);
        } else {
          assert.ok(next !== null, context);
          assert.equal(next.message.routingKey, `key-${expected.index}`, `${context}: take order`);
          if (expected.redelivered !== 'either') assert.equal(next.redelivered, expected.redelivered, `${context}: redelivered flag of ${expected.index}`);
          assert.equal(next.deliveryCount, expected.returns, `${context}: delivery count of ${expected.index}`);
          Object.assign(expected, { state: 'taken', everTaken: true, requeued: false });
          harness.taken.set(expected.index, next);
        }
      } else if (choice < 0.72) {
        if (harness.taken.size > 0) {
          const index = pick([...harness.taken.keys()]);
          harness.store.settle(harness.taken.get(index)!);
          harness.taken.delete(index);
          model.messages[index]!.state = 'settled';
        }
      } else if (choice < 0.8) {
        if (harness.taken.size > 0) {
          const index = pick([...harness.taken.keys()]);
          harness.store.requeue(harness.taken.get(index)!);
          harness.taken.delete(index);
          const message = model.messages[index]!;
          Object.assign(message, { state: 'ready', requeued: true, redelivered: true, returns: message.returns + 1 });
        }
      } else if (choice < 0.82) {
        assert.equal(harness.store.purge(), model.readyCount, `${context}: purge count`);
        for (const message of model.messages) if (message.state === 'ready') message.state = 'settled';
      } else if (choice < 0.9 || !durable) {
        await harness.store.flush();
      } else if (choice < 0.96) {
        await harness.store.close();
        harness.replace(await open(folder));
        model.restart(variant);
      } else {
        await harness.store.flush();
        const crash = join(root, `crash-${++crashes}`);
        copyFolderNow(folder, crash);
        await harness.store.close();
        folder = crash;
        harness.replace(await open(folder));
        model.restart(variant);
      }
      assert.equal(harness.store.readyCount, model.readyCount, `${context}: readyCount`);
      assert.equal(harness.store.unackedCount, model.takenCount, `${context}: unackedCount`);
      assert.equal(harness.store.readyBytes, model.readyBytes, `${context}: readyBytes`);
      if (harness.store instanceof LogQueueStore) harness.store.invariants();
    }
    await Promise.all(durables);
    await harness.store.close();
  });
}

test('random operations on a durable priority store agree with a naive model, across reopens and crash images', { timeout: 300_000 }, async () => {
  const waitsBefore = StoreHarness.waits;
  for (let seed = 1; seed <= 8; seed++) await runScenario(seed, 400, 'levels');
  assert.ok(StoreHarness.waits - waitsBefore > 20, `takeNext waited (a level reading from disk) ${StoreHarness.waits - waitsBefore} times`);
});

test('random operations on a transient priority store agree with the same model', async () => {
  for (let seed = 1; seed <= 8; seed++) await runScenario(seed, 400, 'transient levels');
});

test('random operations on a priority queue kept in one log agree with the same model, across reopens and crash images', { timeout: 300_000 }, async () => {
  const waitsBefore = StoreHarness.waits;
  for (let seed = 1; seed <= 8; seed++) await runScenario(seed, 400, 'one log');
  assert.ok(StoreHarness.waits - waitsBefore > 20, `takeNext waited (bodies read back from the log) ${StoreHarness.waits - waitsBefore} times`);
});
