/**
 * The store a durable queue has on each broker of a cluster (led-queue-store.ts): served only
 * while this broker leads the queue's partition, recovered from the log at each term.
 * Here the log is a plain PartitionLog standing for the replicated partition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LedQueueStore, QueueNotLedHereError } from '../../../../src/queues/queue-store/led-queue-store.js';
import { PartitionLog } from '../../../../src/storage/partition-log.js';
import { RecordingLogger, indexOf, storeSettings, testMessage, withTempQueue } from './queue-store-fixtures.js';

test('a led queue store serves only during a term; an ack from an ended term is ignored and its message comes back', { timeout: 60_000 }, async () => {
  await withTempQueue(async (directory) => {
    const settings = storeSettings();
    const log = await PartitionLog.open(join(directory, 'partition'), settings.logOptions, settings.clock, settings.logEnvironment);
    try {
      const store = new LedQueueStore("queue 'q'", settings, new RecordingLogger());
      let readyCalls = 0;
      store.onReady(() => readyCalls++);

      // Not leading: a publish is refused (a nack), and the confirm of a transient message waits for that too.
      const refused = store.append(testMessage(0));
      await assert.rejects(refused.durable, QueueNotLedHereError);
      assert.equal(store.keepsTransientMessages, true);
      assert.equal(store.takeNext(), null);

      await store.lead(log, 'leader epoch 1');
      assert.equal(store.leading, true);
      assert.equal(store.keepsTransientMessages, false);
      assert.ok(readyCalls > 0, 'the queue is told it may dispatch');
      const appended = [1, 2, 3].map((index) => store.append(testMessage(index)));
      await Promise.all(appended.map((each) => each.durable));
      const first = store.takeNext()!;
      const second = store.takeNext()!;
      store.settle(first);
      await store.flush();

      // The term ends (another broker leads): nothing is served, publishes are refused.
      await store.resign();
      assert.equal(store.leading, false);
      assert.equal(store.readyCount, 0);
      await assert.rejects(store.append(testMessage(9)).durable, QueueNotLedHereError);

      // A new term here: the queue comes back from the log; the message taken in the ended term
      // and acked after it ended is not settled by that ack, and is delivered again (flagged);
      // the one never taken is delivered for the first time.
      await store.lead(log, 'leader epoch 2');
      store.settle(second);
      const again = [store.takeNext()!, store.takeNext()!];
      assert.deepEqual(
        again.map((message) => [indexOf(message), message.redelivered]),
        [
          [2, true],
          [3, false],
        ],
      );
      assert.equal(store.takeNext(), null);
      await store.close();
      assert.equal(log.isClosed, false, 'the log is the broker\'s, not the store\'s');
    } finally {
      await log.close();
    }
  });
});
