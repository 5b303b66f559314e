import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copyFolderNow, openStore, seededRandom, testMessage, withTempQueue, StoreHarness } from './queue-store-fixtures.js';

/**
 * Random sequences of appends, takes, settles, requeues, purges, flushes, reopens and crash images
 * (taken after a flush), checked after every step against a naive model: an array of messages with
 * their state. Small segments and a tiny in-memory budget make reads from disk and segment deletion
 * part of every run.
 */

interface ModelMessage {
  readonly index: number;
  readonly offset: number;
  readonly persistent: boolean;
  state: 'ready' | 'taken' | 'settled';
  /** Ready again after a requeue (since the last reopen): goes before never-delivered ones. */
  requeued: boolean;
  everTaken: boolean;
  /** What `redelivered` must say on its next take. */
  redelivered: boolean;
  /** Times requeued: its deliveryCount, kept across reopens. */
  returns: number;
  readonly bodyBytes: number;
}

class Model {
  readonly messages: ModelMessage[] = [];
  /** Messages by offset: offsets are in append order, not the message's index (state batches take offsets between them). */
  readonly byOffset = new Map<number, ModelMessage>();

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
    return ready.find((message) => message.requeued) ?? ready[0] ?? null;
  }

  /** What a restart makes of the queue: unsettled persistent messages ready, the rest gone. */
  restart(): void {
    for (const message of this.messages) {
      if (message.state === 'settled') continue;
      if (!message.persistent) {
        message.state = 'settled';
        continue;
      }
      message.state = 'ready';
      message.requeued = false;
      message.redelivered = message.everTaken;
    }
  }
}

let scenariosThatDeletedSegments = 0;

async function runScenario(seed: number, steps: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  await withTempQueue(async (directory, root) => {
    // fsync skipped: crash images are copies of what the files hold, which fsync does not change.
    const options = { maxReadyBytesInMemory: 1 + Math.floor(random() * 600), log: { segmentBytes: 1024 + Math.floor(random() * 2048) }, syncFile: async () => {} };
    const tuning = { stateCompactionMinBytes: 512 };
    let folder = directory;
    let crashes = 0;
    const model = new Model();
    const harness = new StoreHarness(await openStore(folder, options, tuning));
    const durable: Array<Promise<void>> = [];
    for (let step = 0; step < steps; step++) {
      const choice = random();
      const context = `seed ${seed} step ${step}`;
      if (choice < 0.3) {
        const count = 1 + Math.floor(random() * 4);
        for (let each = 0; each < count; each++) {
          const index = model.messages.length;
          const persistent = random() < 0.8;
          const bodyBytes = Math.floor(random() * 120);
          const appended = harness.store.append(testMessage(index, { persistent, body: Buffer.alloc(bodyBytes, index % 251) }));
          const previous = model.messages.at(-1);
          assert.ok(previous === undefined || appended.offset > previous.offset, `${context}: offsets in append order`);
          durable.push(appended.durable);
          const message: ModelMessage = { index, offset: appended.offset, persistent, state: 'ready', requeued: false, everTaken: false, redelivered: false, returns: 0, bodyBytes };
          model.messages.push(message);
          model.byOffset.set(message.offset, message);
        }
      } else if (choice < 0.55) {
        const expected = model.next();
        const peeked = harness.store.peekNext();
        if (peeked !== null) assert.equal(peeked.offset, expected?.offset, `${context}: peekNext shows what takeNext takes`);
        const next = await harness.take(expected !== null);
        if (expected === null) {
          assert.equal(next, null, context);
        } else {
          assert.ok(next !== null, context);
          assert.equal(next.offset, expected.offset, `${context}: take order`);
          assert.equal(next.message.routingKey, `key-${expected.index}`, context);
          assert.equal(next.redelivered, expected.redelivered, `${context}: redelivered flag of ${expected.offset}`);
          assert.equal(next.deliveryCount, expected.returns, `${context}: delivery count of ${expected.offset}`);
          assert.equal(next.message.persistent, expected.persistent, context);
          assert.equal(next.message.body.length > 0 ? next.message.body[0] : expected.index % 251, expected.index % 251, context);
          expected.state = 'taken';
          expected.everTaken = true;
          expected.requeued = false;
          harness.taken.set(next.offset, next);
        }
      } else if (choice < 0.72) {
        if (harness.taken.size > 0) {
          const offset = pick([...harness.taken.keys()]);
          harness.store.settle(harness.taken.get(offset)!);
          harness.taken.delete(offset);
          model.byOffset.get(offset)!.state = 'settled';
        }
      } else if (choice < 0.8) {
        if (harness.taken.size > 0) {
          const offset = pick([...harness.taken.keys()]);
          harness.store.requeue(harness.taken.get(offset)!);
          harness.taken.delete(offset);
          const message = model.byOffset.get(offset)!;
          Object.assign(message, { state: 'ready', requeued: true, redelivered: true, returns: message.returns + 1 });
        }
      } else if (choice < 0.82) {
        const purged = harness.store.purge();
        assert.equal(purged, model.readyCount, `${context}: purge count`);
        for (const message of model.messages) if (message.state === 'ready') message.state = 'settled';
      } else if (choice < 0.9) {
        await harness.store.flush();
      } else if (choice < 0.96) {
        await harness.store.close();
        harness.replace(await openStore(folder, options, tuning));
        model.restart();
      } else {
        // A crash image: the folder copied as it is after a flush, the original store left behind.
        await harness.store.flush();
        const crash = join(root, `crash-${++crashes}`);
        copyFolderNow(folder, crash);
        await harness.store.close();
        folder = crash;
        harness.replace(await openStore(folder, options, tuning));
        model.restart();
      }
      assert.equal(harness.store.readyCount, model.readyCount, `${context}: readyCount`);
      assert.equal(harness.store.unackedCount, model.takenCount, `${context}: unackedCount`);
      assert.equal(harness.store.readyBytes, model.readyBytes, `${context}: readyBytes`);
      harness.store.invariants();
    }
    await Promise.all(durable);
    await harness.store.flush();
    if (harness.store.logStartOffset > 0) scenariosThatDeletedSegments++;
    await harness.store.close();
  });
}

test('random operations agree with a naive model, across reopens and crash images', { timeout: 300_000 }, async () => {
  for (let seed = 1; seed <= 8; seed++) await runScenario(seed, 400);
  // The runs covered what they are for: reads from disk and settled segments deleted.
  assert.ok(StoreHarness.waits > 20, `takeNext waited for the disk ${StoreHarness.waits} times`);
  assert.ok(scenariosThatDeletedSegments > 0, 'some run deleted settled segments');
});
