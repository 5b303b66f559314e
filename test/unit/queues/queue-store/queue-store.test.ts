import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import type { SyncKind } from '../../../../src/storage/segment.js';
import { join } from 'node:path';
import { LogQueueStore } from '../../../../src/queues/queue-store/queue-store.js';
import { encodeMessage } from '../../../../src/queues/queue-store/message-codec.js';
import { StateLog } from '../../../../src/queues/queue-store/state-log.js';
import { PartitionLog } from '../../../../src/storage/partition-log.js';
import type { QueuedMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { RecordingLogger, copyFolder, copyFolderNow, indexOf, openStore, storeSettings, takeAvailable, takeMessages, testMessage, withTempQueue } from './queue-store-fixtures.js';

const timeout = 120_000;

test('requeued messages go first, lowest offset first, flagged redelivered; counts follow', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory);
    const appended = [0, 1, 2, 3, 4].map((index) => store.append(testMessage(index)));
    assert.deepEqual(
      appended.map((each) => each.offset),
      [0, 1, 2, 3, 4],
    );
    assert.equal(store.readyCount, 5);
    assert.equal(store.unackedCount, 0);
    const first = store.takeNext()!;
    const second = store.takeNext()!;
    const third = store.takeNext()!;
    assert.deepEqual([indexOf(first), indexOf(second), indexOf(third)], [0, 1, 2]);
    assert.equal(first.redelivered, false);
    assert.equal(store.readyCount, 2);
    assert.equal(store.unackedCount, 3);
    store.requeue(third);
    store.requeue(first);
    assert.equal(store.readyCount, 4);
    assert.equal(store.unackedCount, 1);
    store.settle(second);
    assert.equal(store.unackedCount, 0);
    const order = takeAvailable(store);
    assert.deepEqual(
      order.map((message) => [indexOf(message), message.redelivered]),
      [
        [0, true],
        [2, true],
        [3, false],
        [4, false],
      ],
    );
    assert.equal(store.readyCount, 0);
    assert.equal(store.unackedCount, 4);
    // Settling twice, or a message not taken, changes nothing.
    store.settle(second);
    assert.equal(store.unackedCount, 4);
    for (const message of order) store.settle(message);
    assert.equal(store.unackedCount, 0);
    assert.equal(store.settledBelow, 5);
    store.invariants();
    await Promise.all(appended.map((each) => each.durable));
    await store.close();
  });
});

test('takeNext hands out the message as published, the same object as settle and requeue take', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory);
    const original = testMessage(7, { exchange: 'x', routingKey: 'r.k', properties: Buffer.from([1, 2, 3]), persistent: false });
    store.append(original);
    const taken = store.takeNext()!;
    assert.deepEqual(taken.message, original);
    assert.equal(taken.offset, 0);
    assert.equal(store.takeNext(), null);
    await store.close();
  });
});

test('onReady fires on append and requeue', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory);
    let calls = 0;
    store.onReady(() => calls++);
    store.append(testMessage(0));
    assert.equal(calls, 1);
    const message = store.takeNext()!;
    store.requeue(message);
    assert.equal(calls, 2);
    await store.close();
  });
});

test('beyond maxReadyBytesInMemory messages are read back from the log in order, onReady telling when', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory, { maxReadyBytesInMemory: 500, log: { segmentBytes: 4096 } });
    const count = 2_000;
    let last: Promise<void> = Promise.resolve();
    for (let index = 0; index < count; index++) last = store.append(testMessage(index, { body: Buffer.alloc(40 + (index % 7), index % 256) })).durable;
    assert.equal(store.readyCount, count);
    assert.ok(store.bufferedBytes <= 500, `buffered ${store.bufferedBytes} bytes`);
    const onReadyCalls = { count: 0 };
    const taken = await takeMessages(store, count, onReadyCalls);
    assert.deepEqual(
      taken.map((message) => message.offset),
      Array.from({ length: count }, (_, index) => index),
    );
    for (const [index, message] of taken.entries()) assert.deepEqual(message.message.body, Buffer.alloc(40 + (index % 7), index % 256));
    assert.ok(onReadyCalls.count > 10, `onReady called ${onReadyCalls.count} times`);
    assert.equal(store.readyCount, 0);
    assert.equal(store.takeNext(), null);
    store.invariants();
    await last;
    await store.close();
  });
});

test('purge settles every ready message, on disk and requeued, leaving taken ones', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory, { maxReadyBytesInMemory: 200 });
    for (let index = 0; index < 500; index++) store.append(testMessage(index));
    const [a, b, c] = (await takeMessages(store, 3)) as [QueuedMessage, QueuedMessage, QueuedMessage];
    store.requeue(b);
    assert.equal(store.purge(), 498);
    assert.equal(store.readyCount, 0);
    assert.equal(store.unackedCount, 2);
    assert.equal(store.takeNext(), null);
    assert.ok(store.settledRangeCount <= 2, `${store.settledRangeCount} ranges`);
    store.settle(a);
    store.settle(c);
    // Every offset is settled: the 500 messages, and the state batches (the delivered mark) written meanwhile after them.
    assert.ok(store.logEndOffset >= 500);
    assert.equal(store.settledBelow, store.logEndOffset);
    store.append(testMessage(500));
    const last = store.takeNext()!;
    assert.equal(indexOf(last), 500);
    store.settle(last);
    store.invariants();
    await store.close();
    const reopened = await openStore(directory);
    assert.equal(reopened.readyCount, 0, 'the purge is durable');
    await reopened.close();
  });
});

test('reopen: unsettled messages come back ready, delivered ones redelivered; settled and transient ones are gone', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory);
    for (let index = 0; index < 10; index++) store.append(testMessage(index, { persistent: index !== 6 && index !== 8 }));
    const taken = [0, 1, 2, 3, 4].map(() => store.takeNext()!);
    store.settle(taken[0]!);
    store.settle(taken[3]!);
    store.requeue(taken[1]!);
    await store.close();

    const reopened = await openStore(directory);
    assert.equal(reopened.readyCount, 6);
    assert.equal(reopened.unackedCount, 0);
    const all = takeAvailable(reopened);
    assert.deepEqual(
      all.map((message) => [indexOf(message), message.redelivered]),
      [
        [1, true],
        [2, true],
        [4, true],
        [5, false],
        [7, false],
        [9, false],
      ],
    );
    assert.deepEqual(all[0]!.message, testMessage(1));
    reopened.settle(all[1]!);
    reopened.settle(all[4]!);
    reopened.invariants();
    await reopened.close();

    const again = await openStore(directory);
    assert.deepEqual(
      takeAvailable(again).map(indexOf),
      [1, 4, 5, 9],
    );
    await again.close();
  });
});

test('a crash image taken after a flush recovers it; settles not yet written bring their messages back', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openStore(directory);
    const appended = Array.from({ length: 20 }, (_, index) => store.append(testMessage(index)));
    await Promise.all(appended.map((each) => each.durable));
    const taken = Array.from({ length: 12 }, () => store.takeNext()!);
    for (const message of taken.slice(0, 8)) store.settle(message);
    await store.flush();
    // Settled now, in memory only: the state log has not had its cycle yet when the folder is copied.
    store.settle(taken[8]!);
    store.settle(taken[9]!);
    const crash = join(root, 'crash');
    copyFolderNow(directory, crash); // synchronous: no cycle can run before the copy
    await store.close();

    const recovered = await openStore(crash);
    const ready = takeAvailable(recovered);
    assert.deepEqual(
      ready.map((message) => [indexOf(message), message.redelivered]),
      [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map((index) => [index, index < 12]),
    );
    recovered.invariants();
    await recovered.close();

    const clean = await openStore(directory);
    assert.deepEqual(
      takeAvailable(clean).map(indexOf),
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    );
    await clean.close();
  });
});

/** Where each batch of a segment file starts, in order. */
function batchPositions(bytes: Buffer): number[] {
  const positions: number[] = [];
  for (let position = 0; position + 12 <= bytes.length; position += bytes.readInt32BE(position + 8) + 12) positions.push(position);
  return positions;
}

/** Makes the log folder recover from its segment files alone (as after a crash before any checkpoint). */
async function dropLogCheckpoints(logFolder: string): Promise<void> {
  await rm(join(logFolder, 'recovery-point-offset-checkpoint'), { force: true });
  for (const name of await readdir(logFolder)) if (name.endsWith('.index') || name.endsWith('.timeindex')) await rm(join(logFolder, name));
}

test('a state batch torn at the log end is cut away by the log recovery: only its settles are lost', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openStore(directory);
    for (let index = 0; index < 10; index++) store.append(testMessage(index));
    const taken = takeAvailable(store);
    store.settle(taken[0]!);
    store.settle(taken[1]!);
    await store.flush();
    store.settle(taken[5]!);
    await store.flush();
    store.settle(taken[7]!); // its state batch is the one torn
    await store.flush();
    const logEnd = store.logEndOffset;
    const crash = join(root, 'crash');
    await copyFolder(directory, crash);
    await store.close();
    const segment = join(crash, 'log', '00000000000000000000.log');
    const bytes = await readFile(segment);
    const last = batchPositions(bytes).at(-1)!;
    await truncate(segment, last + 30);
    await dropLogCheckpoints(join(crash, 'log'));
    const recovered = await openStore(crash);
    assert.deepEqual(
      takeAvailable(recovered).map((message) => [indexOf(message), message.redelivered]),
      [2, 3, 4, 6, 7, 8, 9].map((index) => [index, true]),
    );
    // The torn batch's offset is taken again, by the snapshot recovery appends.
    assert.equal(recovered.logEndOffset, logEnd);
    recovered.invariants();
    await recovered.close();
  });
});

test('a log cut by a crash keeps each message with its settles: settles cut with the tail bring their messages back, and the offsets cut are handed out again', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openStore(directory);
    for (let index = 0; index < 10; index++) store.append(testMessage(index));
    const taken = takeAvailable(store);
    for (const message of taken.slice(0, 5)) store.settle(message);
    await store.flush();
    const kept = (await readFile(join(directory, 'log', '00000000000000000000.log'))).length;
    const keptEnd = store.logEndOffset;
    for (const message of taken.slice(5)) store.settle(message);
    await store.flush();
    assert.ok(store.logEndOffset > keptEnd);
    const crash = join(root, 'crash');
    await copyFolder(directory, crash);
    await store.close();
    // The later state batch never reached the disk, and a torn batch follows what did.
    const segment = join(crash, 'log', '00000000000000000000.log');
    const bytes = await readFile(segment);
    await writeFile(segment, bytes.subarray(0, kept + 20));
    await dropLogCheckpoints(join(crash, 'log'));

    const recovered = await openStore(crash);
    assert.deepEqual(
      takeAvailable(recovered).map((message) => [indexOf(message), message.redelivered]),
      [5, 6, 7, 8, 9].map((index) => [index, true]),
    );
    // Recovery appended its snapshot where the lost batch was; the next message goes after it.
    assert.equal(recovered.logEndOffset, keptEnd + 1);
    const appended = recovered.append(testMessage(100));
    assert.equal(appended.offset, keptEnd + 1);
    await appended.durable;
    recovered.invariants();
    await recovered.close();
    const again = await openStore(crash);
    assert.deepEqual(
      takeAvailable(again).map(indexOf),
      [5, 6, 7, 8, 9, 100],
    );
    await again.close();
  });
});

test('a queue written with a state file opens with that state, moves it into its log and removes the file', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    // The folder as the store wrote it before state batches: messages in the log, the state in
    // dispositions.state (written here with the state file's own writer).
    const logger = new RecordingLogger();
    const settings = storeSettings({ logger });
    const log = await PartitionLog.open(join(directory, 'log'), settings.logOptions, settings.clock, settings.logEnvironment);
    for (let index = 0; index < 10; index++) await log.append(encodeMessage(testMessage(index)).batch).durable;
    await log.close();
    const source = { settledBelow: 2, deliveredBelow: 7, snapshot: () => ({ settledBelow: 2, settledRanges: [4, 6], deliveredBelow: 7, returnCounts: [3, 2] }) };
    const stateLog = await StateLog.create(directory, source, { logger });
    await stateLog.close();
    const legacyCopy = join(root, 'legacy');
    await copyFolder(directory, legacyCopy);

    const store = await LogQueueStore.open(directory, settings);
    const expected = [
      [2, true, 0],
      [3, true, 2],
      [6, true, 0],
      [7, false, 0],
      [8, false, 0],
      [9, false, 0],
    ];
    assert.deepEqual(takeAvailable(store).map((message) => [indexOf(message), message.redelivered, message.deliveryCount]), expected);
    await store.close();
    await assert.rejects(stat(join(directory, 'dispositions.state')), { code: 'ENOENT' });
    assert.ok(logger.lines.some((line) => line.message.includes('moved from its state file into its log')), JSON.stringify(logger.lines));
    // Every message was handed out above: all come back redelivered from now on.
    const handedOut = expected.map(([index, , count]) => [index, true, count]);
    const reopened = await openStore(directory);
    assert.deepEqual(takeAvailable(reopened).map((message) => [indexOf(message), message.redelivered, message.deliveryCount]), handedOut);
    await reopened.close();

    // A crash after the snapshot and before the file was removed: the file is replayed, then the
    // log's snapshot replaces its state; the same state.
    const halfway = join(root, 'halfway');
    await copyFolder(directory, halfway);
    await copyFile(join(legacyCopy, 'dispositions.state'), join(halfway, 'dispositions.state'));
    const resumed = await openStore(halfway);
    assert.deepEqual(takeAvailable(resumed).map((message) => [indexOf(message), message.redelivered, message.deliveryCount]), handedOut);
    await resumed.close();
  });
});

test('state snapshots keep the same state in fewer bytes of state batches', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory, {}, { stateCompactionMinBytes: 4096 });
    for (let index = 0; index < 3000; index++) store.append(testMessage(index));
    const taken = takeAvailable(store);
    assert.equal(taken.length, 3000);
    // Every tenth message stays unacked; each flush writes the settles since the last one.
    for (let group = 0; group < 300; group++) {
      for (let index = group * 10 + 1; index < group * 10 + 10; index++) store.settle(taken[index]!);
      await store.flush();
    }
    assert.ok(store.stateCompactionCount >= 1, 'a snapshot was appended by itself');
    assert.ok(store.stateSizeBytes < 300 * 100 + 4096 * 2, `${store.stateSizeBytes} bytes of state batches since the last snapshot`);
    for (let group = 0; group < 150; group++) store.requeue(taken[group * 20]!);
    await store.flush();
    const before = store.stateSizeBytes;
    await store.compactState();
    assert.ok(store.stateSizeBytes <= before, `a snapshot grew the state from ${before} to ${store.stateSizeBytes} bytes`);
    await store.close();
    const reopened = await openStore(directory);
    assert.deepEqual(
      takeAvailable(reopened).map(indexOf),
      Array.from({ length: 300 }, (_, group) => group * 10),
    );
    await reopened.close();
  });
});

test('100k messages appended and settled leave little state and their segments deleted', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory, { log: { segmentBytes: 256 * 1024 } });
    const count = 100_000;
    for (let start = 0; start < count; start += 10_000) {
      let last: Promise<void> = Promise.resolve();
      for (let index = start; index < start + 10_000; index++) last = store.append(testMessage(index)).durable;
      for (const message of await takeMessages(store, 10_000)) store.settle(message);
      await last;
    }
    assert.equal(store.readyCount, 0);
    assert.equal(store.unackedCount, 0);
    assert.equal(store.settledBelow, store.logEndOffset, 'every offset settled: messages and state batches');
    // The state cycles already deleted settled segments as they went, before any flush.
    assert.ok(store.logStartOffset > 0, 'segments deleted along the way');
    await store.flush();
    assert.ok(store.segmentCount <= 2, `${store.segmentCount} segments left`);
    assert.ok(store.logStartOffset > count - 5_000, `log start ${store.logStartOffset}`);
    assert.ok(store.stateSizeBytes < 2048, `${store.stateSizeBytes} bytes of state batches since the last snapshot`);
    const files = await readdir(join(directory, 'log'));
    assert.ok(files.filter((name) => name.endsWith('.log')).length <= 2, files.join(' '));
    await store.close();
    const reopened = await openStore(directory);
    assert.equal(reopened.readyCount, 0);
    const logEnd = reopened.logEndOffset;
    assert.equal(reopened.append(testMessage(count)).offset, logEnd);
    assert.equal(indexOf(reopened.takeNext()!), count);
    await reopened.close();
  });
});

test('delete removes the folder', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await LogQueueStore.open(directory, storeSettings());
    await store.append(testMessage(0)).durable;
    await store.delete();
    await assert.rejects(stat(directory), { code: 'ENOENT' });
  });
});

test('a failed data fsync cuts its messages away: they leave the queue, their settles are void, their offsets are reused', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    let failNextLogSync = false;
    const syncFile = async (handle: FileHandle, kind: SyncKind): Promise<void> => {
      if (failNextLogSync && kind === 'log') {
        failNextLogSync = false;
        throw Object.assign(new Error('simulated EIO'), { code: 'EIO' });
      }
      await handle.datasync();
    };
    const store = await openStore(directory, { syncFile });
    await Promise.all([0, 1, 2].map((index) => store.append(testMessage(index)).durable));
    const first = store.takeNext()!;
    failNextLogSync = true;
    const lost = [3, 4].map((index) => store.append(testMessage(index)));
    const taken = takeAvailable(store); // 1, 2, 3, 4: delivered before they were durable
    assert.deepEqual(taken.map(indexOf), [1, 2, 3, 4]);
    store.settle(taken[2]!); // message 3, settled before its write failed
    await assert.rejects(lost[0]!.durable);
    await assert.rejects(lost[1]!.durable);
    assert.equal(store.logEndOffset, 3);
    assert.equal(store.readyCount, 0);
    assert.equal(store.unackedCount, 3, 'messages 0, 1 and 2 stay taken; 4 is gone');
    store.settle(taken[3]!); // ignored: cut away
    assert.equal(store.unackedCount, 3);
    store.invariants();
    const replacement = store.append(testMessage(30));
    assert.equal(replacement.offset, 3);
    await replacement.durable;
    store.settle(first);
    await store.close();

    const reopened = await openStore(directory);
    assert.deepEqual(
      takeAvailable(reopened).map((message) => [message.offset, indexOf(message)]),
      [
        [1, 1],
        [2, 2],
        [3, 30],
      ],
    );
    await reopened.close();
  });
});

test('a message damaged at rest is dropped with an error; the others stay', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const store = await openStore(directory);
    await Promise.all(Array.from({ length: 10 }, (_, index) => store.append(testMessage(index)).durable));
    await store.close();
    const segment = join(directory, 'log', '00000000000000000000.log');
    const bytes = await readFile(segment);
    let position = 0;
    for (let batch = 0; batch < 4; batch++) position += bytes.readInt32BE(position + 8) + 12;
    bytes[position + bytes.readInt32BE(position + 8) + 12 - 5]! ^= 0xff; // inside message 4's properties
    await writeFile(segment, bytes);

    const logger = new RecordingLogger();
    const reopened = await openStore(directory, { logger });
    assert.deepEqual(
      takeAvailable(reopened).map(indexOf),
      [0, 1, 2, 3, 5, 6, 7, 8, 9],
    );
    assert.ok(logger.lines.some((line) => line.level === 'error' && line.message.includes('damaged')), JSON.stringify(logger.lines));
    await reopened.close();
  });
});

test('deliveries alone write the delivered mark: after a crash, what was handed out comes back redelivered', { timeout }, async () => {
  await withTempQueue(async (directory, root) => {
    const store = await openStore(directory);
    await Promise.all(Array.from({ length: 5 }, (_, index) => store.append(testMessage(index)).durable));
    const sizeBefore = store.stateSizeBytes;
    const handedOut = [store.takeNext()!, store.takeNext()!, store.takeNext()!];
    assert.deepEqual(handedOut.map(indexOf), [0, 1, 2]);
    // No settle and no flush: the mark goes with the next write on its own.
    for (let polls = 0; store.stateSizeBytes === sizeBefore; polls++) {
      assert.ok(polls < 2_000, 'the delivered mark was never written');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const crash = join(root, 'crash');
    copyFolderNow(directory, crash);
    await store.close();
    const recovered = await openStore(crash);
    assert.deepEqual(
      takeAvailable(recovered).map((message) => [indexOf(message), message.redelivered]),
      [
        [0, true],
        [1, true],
        [2, true],
        [3, false],
        [4, false],
      ],
    );
    await recovered.close();
  });
});

test('a store opened over a lent log (openOnLog) leaves the log open when it closes; the next store over it carries the queue on', { timeout }, async () => {
  await withTempQueue(async (directory) => {
    const settings = storeSettings();
    // The log's keeper (in a cluster, the broker holding the queue's partition) opens it; stores come and go over it.
    const log = await PartitionLog.open(join(directory, 'lent'), settings.logOptions, settings.clock, settings.logEnvironment);
    try {
      const first = await LogQueueStore.openOnLog(log, 'queue q', settings);
      const appended = [0, 1, 2, 3].map((index) => first.append(testMessage(index)));
      await Promise.all(appended.map((each) => each.durable));
      const zero = first.takeNext()!;
      const one = first.takeNext()!;
      first.settle(zero);
      assert.equal(indexOf(one), 1); // taken, not settled: comes back redelivered
      await first.flush();
      await first.close();
      assert.equal(log.isClosed, false, 'closing the store left the log open');
      // A second store over the same log, as a new term of leadership would open it.
      const second = await LogQueueStore.openOnLog(log, 'queue q', settings);
      assert.deepEqual(
        takeAvailable(second).map((message) => [indexOf(message), message.redelivered]),
        [
          [1, true],
          [2, false],
          [3, false],
        ],
      );
      second.invariants();
      await second.delete();
      assert.equal(log.isClosed, false, 'deleting the store deletes nothing of a lent log');
      assert.ok((await readdir(join(directory, 'lent'))).length > 0);
    } finally {
      await log.close();
    }
  });
});
