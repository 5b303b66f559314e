/**
 * PriorityQueueStore over real level stores: MemoryQueueStore levels for a transient queue,
 * LogQueueStore levels in real folders for a durable one (reopened, and opened from crash images).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { contentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import type { QueueStore } from '../../../../src/queues/queue-store/queue-store-api.js';
import { LogQueueStore } from '../../../../src/queues/queue-store/queue-store.js';
import { PriorityQueueStore, type OpenLevelStore } from '../../../../src/queues/queue-store/priority-queue-store.js';
import type { QueuedMessage, StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { RecordingLogger, copyFolderNow, indexOf, seededRandom, storeSettings, takeMessages, testMessage, withTempQueue } from './queue-store-fixtures.js';

const timeout = 120_000;

/** Raw properties as a publisher sends them: persistent, with this priority (none when undefined), and headers before it to skip. */
function propertiesWith(priority: number | undefined): Buffer {
  const properties = { contentType: 'text/plain', headers: new Map([['k', { type: 'longString' as const, value: Buffer.from('v') }]]), deliveryMode: 2, ...(priority === undefined ? {} : { priority }) };
  return contentHeaderPayload({ bodySize: 0n, properties }).subarray(12);
}

function prioritized(index: number, priority: number | undefined, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return testMessage(index, { properties: propertiesWith(priority), ...overrides });
}

function levelOpener(overrides: Parameters<typeof storeSettings>[0] = {}): OpenLevelStore {
  return (directory) => LogQueueStore.open(directory, storeSettings(overrides));
}

function openDurable(directory: string, maxPriority: number, overrides: Parameters<typeof storeSettings>[0] = {}): Promise<PriorityQueueStore> {
  return PriorityQueueStore.open(directory, maxPriority, levelOpener(overrides), new RecordingLogger());
}

function takeAvailable(store: QueueStore): QueuedMessage[] {
  const taken: QueuedMessage[] = [];
  for (let next = store.takeNext(); next !== null; next = store.takeNext()) taken.push(next);
  return taken;
}

const indexes = (messages: readonly QueuedMessage[]): number[] => messages.map(indexOf);

/** Publishes index i with priority priorities[i]; returns the indexes in the order a priority queue must deliver them. */
function expectedOrder(priorities: ReadonlyArray<number | undefined>, maxPriority: number): number[] {
  const level = (index: number): number => Math.min(priorities[index] ?? 0, maxPriority);
  return priorities.map((_, index) => index).sort((left, right) => level(right) - level(left) || left - right);
}

test('in memory: highest priority first, FIFO within a level; no priority counts as 0, above the maximum as the maximum', () => {
  const store = PriorityQueueStore.inMemory(5, new RecordingLogger());
  const priorities = [0, 3, undefined, 5, 3, 9, 1, 0, 255, 5, 3];
  priorities.forEach((priority, index) => store.append(prioritized(index, priority)));
  assert.equal(store.readyCount, priorities.length);
  assert.deepEqual(store.levelPriorities, [5, 3, 1, 0]);
  const taken = takeAvailable(store);
  assert.deepEqual(indexes(taken), expectedOrder(priorities, 5));
  assert.deepEqual(indexes(taken), [3, 5, 8, 9, 1, 4, 10, 6, 0, 2, 7]);
  assert.equal(store.readyCount, 0);
  assert.equal(store.unackedCount, priorities.length);
  for (const message of taken) store.settle(message);
  assert.equal(store.unackedCount, 0);
});

test('a message appended at a higher level is taken before older lower ones still ready', () => {
  const store = PriorityQueueStore.inMemory(10, new RecordingLogger());
  store.append(prioritized(0, 1));
  store.append(prioritized(1, 1));
  assert.equal(indexOf(store.takeNext()!), 0);
  store.append(prioritized(2, 7));
  assert.equal(indexOf(store.takeNext()!), 2);
  assert.equal(indexOf(store.takeNext()!), 1);
  assert.equal(store.takeNext(), null);
});

test('requeue goes back to its own level, ahead of that level\'s fresh messages and behind higher levels; counts add up', () => {
  const store = PriorityQueueStore.inMemory(10, new RecordingLogger());
  [2, 2, 2, 8, 8, 0].forEach((priority, index) => store.append(prioritized(index, priority)));
  const first = store.takeNext()!; // 3 (level 8)
  const second = store.takeNext()!; // 4 (level 8)
  const third = store.takeNext()!; // 0 (level 2)
  const fourth = store.takeNext()!; // 1 (level 2)
  assert.deepEqual(indexes([first, second, third, fourth]), [3, 4, 0, 1]);
  assert.equal(store.readyCount, 2);
  assert.equal(store.unackedCount, 4);
  store.requeue(fourth);
  store.requeue(third);
  store.requeue(first);
  assert.equal(store.readyCount, 5);
  assert.equal(store.unackedCount, 1);
  store.settle(second);
  // Settling or requeuing again, or a message never taken, changes nothing.
  store.settle(second);
  store.requeue(second);
  store.settle({ offset: 0, message: prioritized(99, 8), redelivered: false, deliveryCount: 0 });
  assert.equal(store.unackedCount, 0);
  const order = takeAvailable(store);
  assert.deepEqual(
    order.map((message) => [indexOf(message), message.redelivered]),
    [
      [3, true],
      [0, true],
      [1, true],
      [2, false],
      [5, false],
    ],
  );
  assert.equal(store.unackedCount, 5);
  for (const message of order) store.settle(message);
  assert.equal(store.unackedCount, 0);
  assert.equal(store.readyCount, 0);
});

test('purge settles the ready messages of every level, taken ones stay; onReady fires on append and requeue', () => {
  const store = PriorityQueueStore.inMemory(3, new RecordingLogger());
  let calls = 0;
  store.onReady(() => calls++);
  [0, 1, 2, 3, 3, 1].forEach((priority, index) => store.append(prioritized(index, priority)));
  assert.equal(calls, 6);
  const taken = store.takeNext()!;
  assert.equal(indexOf(taken), 3);
  assert.equal(store.purge(), 5);
  assert.equal(store.readyCount, 0);
  assert.equal(store.unackedCount, 1);
  assert.equal(store.takeNext(), null);
  store.requeue(taken);
  assert.equal(calls, 7);
  assert.equal(indexOf(store.takeNext()!), 3);
});

test('the maximum is 1 to 255', () => {
  for (const maxPriority of [0, 256, 1.5]) assert.throws(() => PriorityQueueStore.inMemory(maxPriority, new RecordingLogger()), RangeError);
  const store = PriorityQueueStore.inMemory(255, new RecordingLogger());
  store.append(prioritized(0, 254));
  store.append(prioritized(1, 255));
  assert.deepEqual(indexes(takeAvailable(store)), [1, 0]);
});

test('durable: one folder per level used; order across levels kept over a reopen, taken-unsettled messages come back redelivered, settled ones do not', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openDurable(directory, 10);
    const random = seededRandom(12);
    const priorities = Array.from({ length: 300 }, () => Math.floor(random() * 12));
    const appended = priorities.map((priority, index) => store.append(prioritized(index, priority)));
    await Promise.all(appended.map((each) => each.durable));
    const order = expectedOrder(priorities, 10);
    assert.deepEqual(await readdir(directory).then((names) => names.sort()), [...new Set(priorities.map((priority) => Math.min(priority, 10)))].map((priority) => `priority-${priority}`).sort());
    const taken = await takeMessages(store, 40);
    assert.deepEqual(indexes(taken), order.slice(0, 40));
    for (const message of taken.slice(0, 30)) store.settle(message);
    await store.close();

    const reopened = await openDurable(directory, 10);
    assert.equal(reopened.readyCount, 270);
    assert.equal(reopened.unackedCount, 0);
    const again = await takeMessages(reopened, 270);
    assert.deepEqual(indexes(again), order.slice(30));
    assert.deepEqual(
      again.slice(0, 12).map((message) => message.redelivered),
      order.slice(30, 42).map((index) => taken.slice(30).some((message) => indexOf(message) === index)),
    );
    for (const message of again) reopened.settle(message);
    await reopened.close();
  });
});

test('durable: a crash image (the folder as fsynced, copied while open) recovers every level in order', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openDurable(directory, 4);
    const priorities = [1, 4, 0, 2, 4, 1, undefined, 3, 7, 2];
    const appended = priorities.map((priority, index) => store.append(prioritized(index, priority)));
    await Promise.all(appended.map((each) => each.durable));
    const image = join(root, 'crash-image');
    copyFolderNow(directory, image);
    await store.close();
    const recovered = await openDurable(image, 4);
    assert.deepEqual(recovered.levelPriorities, [4, 3, 2, 1, 0]);
    assert.deepEqual(indexes(await takeMessages(recovered, priorities.length)), expectedOrder(priorities, 4));
    await recovered.close();
  });
});

test('durable: transient messages are dropped at reopen; a level left empty is removed then', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openDurable(directory, 9);
    const durable = [store.append(prioritized(0, 9, { persistent: false })), store.append(prioritized(1, 5)), store.append(prioritized(2, 2))];
    await Promise.all(durable.map((each) => each.durable));
    const taken = await takeMessages(store, 3);
    assert.deepEqual(indexes(taken), [0, 1, 2]);
    store.settle(taken[2]!);
    store.requeue(taken[1]!);
    await store.close();
    const reopened = await openDurable(directory, 9);
    assert.deepEqual(reopened.levelPriorities, [5]);
    assert.deepEqual(await readdir(directory), ['priority-5']);
    const [only] = await takeMessages(reopened, 1);
    assert.equal(indexOf(only!), 1);
    assert.equal(only!.redelivered, true);
    // A level used again after its removal starts afresh.
    reopened.append(prioritized(3, 2));
    const [next] = await takeMessages(reopened, 1);
    assert.deepEqual([indexOf(next!), next!.offset], [3, 0]);
    await reopened.close();
  });
});

test('durable: while a new level opens, its messages are served from memory at once, and move into its store each in its state', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openDurable(directory, 5);
    await store.append(prioritized(0, 1)).durable; // level 1 is open
    const appended = [1, 2, 3, 4, 5].map((index) => store.append(prioritized(index, 4))); // level 4 opens now
    assert.equal(store.readyCount, 6);
    const [kept, requeued, settled] = [store.takeNext()!, store.takeNext()!, store.takeNext()!];
    assert.deepEqual(indexes([kept, requeued, settled]), [1, 2, 3]);
    store.requeue(requeued);
    store.settle(settled);
    assert.equal(store.readyCount, 4);
    assert.equal(store.unackedCount, 1);
    await Promise.all(appended.map((each) => each.durable));
    assert.equal(store.readyCount, 4);
    assert.equal(store.unackedCount, 1);
    const rest = await takeMessages(store, 4);
    assert.deepEqual(
      rest.map((message) => [indexOf(message), message.redelivered]),
      [
        [2, true],
        [4, false],
        [5, false],
        [0, false],
      ],
    );
    for (const message of rest) store.settle(message);
    // The message taken before the level opened is still unacked, and comes back after a reopen, flagged redelivered.
    assert.equal(store.unackedCount, 1);
    await store.close();
    const reopened = await openDurable(directory, 5);
    assert.equal(reopened.readyCount, 1);
    const [again] = await takeMessages(reopened, 1);
    assert.deepEqual([indexOf(again!), again!.redelivered], [1, true]);
    reopened.settle(again!);
    await reopened.close();
  });
});

test('durable: settling a message taken before its level opened, after it opened, reaches the store; purge reaches waiting messages', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openDurable(directory, 5);
    await store.append(prioritized(0, 1)).durable;
    const appended = [1, 2, 3].map((index) => store.append(prioritized(index, 5)));
    const taken = store.takeNext()!;
    assert.equal(indexOf(taken), 1);
    assert.equal(store.purge(), 3);
    assert.equal(store.readyCount, 0);
    assert.equal(store.unackedCount, 1);
    await Promise.all(appended.map((each) => each.durable));
    assert.equal(store.takeNext(), null);
    assert.equal(store.unackedCount, 1);
    store.settle(taken);
    assert.equal(store.unackedCount, 0);
    store.settle(taken);
    store.requeue(taken);
    assert.equal(store.readyCount, 0);
    await store.close();
    const reopened = await openDurable(directory, 5);
    assert.equal(reopened.readyCount, 0);
    assert.deepEqual(reopened.levelPriorities, []);
    await reopened.delete();
  });
});

test('durable: a level whose store fails to open loses its waiting messages (durable rejects), lower levels flow, the next message tries again', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    let failNext = false;
    const opener = levelOpener();
    const logger = new RecordingLogger();
    const store = await PriorityQueueStore.open(directory, 5, (levelDirectory) => (failNext ? Promise.reject(new Error('no room')) : opener(levelDirectory)), logger);
    await store.append(prioritized(0, 1)).durable;
    failNext = true;
    const lost = [store.append(prioritized(1, 3)), store.append(prioritized(2, 3))];
    const takenBeforeFailure = store.takeNext()!;
    assert.equal(indexOf(takenBeforeFailure), 1);
    for (const each of lost) await assert.rejects(each.durable, /no room/);
    assert.ok(logger.lines.some((line) => line.level === 'error' && line.fields?.['messages'] === 2));
    assert.equal(store.readyCount, 1);
    assert.equal(store.unackedCount, 0);
    store.settle(takenBeforeFailure);
    store.requeue(takenBeforeFailure);
    assert.deepEqual([store.readyCount, store.unackedCount], [1, 0]);
    assert.equal(indexOf(store.takeNext()!), 0);
    failNext = false;
    await store.append(prioritized(3, 3)).durable;
    assert.deepEqual(store.levelPriorities, [3, 1]);
    assert.equal(indexOf(store.takeNext()!), 3);
    await store.delete();
  });
});

test('durable: levels read from disk (little memory per level) still come out in priority order', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const settings = { maxReadyBytesInMemory: 2048 };
    const store = await openDurable(directory, 3, settings);
    const priorities = Array.from({ length: 400 }, (_, index) => (index * 7) % 4);
    const appended = priorities.map((priority, index) => store.append(prioritized(index, priority, { body: Buffer.from(`body-${index}`.padEnd(200, ' ')) })));
    await Promise.all(appended.map((each) => each.durable));
    await store.close();
    const reopened = await openDurable(directory, 3, settings);
    const taken = await takeMessages(reopened, 400);
    assert.deepEqual(
      taken.map((message) => Number(message.message.body.toString().trim().slice('body-'.length))),
      expectedOrder(priorities, 3),
    );
    await reopened.close();
  });
});

test('delete removes the queue folder with every level', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openDurable(directory, 2);
    await Promise.all([store.append(prioritized(0, 0)).durable, store.append(prioritized(1, 2)).durable]);
    await store.delete();
    assert.deepEqual(await readdir(root), []);
  });
});
