/**
 * A durable queue's terms of leadership in a cluster (cluster/queue-partitions.ts): QueuePartitions
 * told of its partition's states opens the queue's store over the partition's real log when this
 * broker leads, once per leader epoch, and closes it when another broker leads; the queue's writes
 * carry the term's epoch and are refused once the term is over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionHandle, type PartitionStorageSettings } from '../../../src/broker/partition-handle.js';
import { Partition } from '../../../src/broker/partition.js';
import type { Topic } from '../../../src/broker/broker.js';
import { effectiveTopicConfig } from '../../../src/broker/topic-config.js';
import type { PartitionRecord } from '../../../src/cluster/keys.js';
import { QueuePartitions, queueTopicName, replicatedQueueLog, storageIdOfQueueTopic } from '../../../src/cluster/queue-partitions.js';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { createLogger } from '../../../src/logging/logger.js';
import { readPartitionLeaderEpoch } from '../../../src/protocol/kafka/batch-header.js';
import { LedQueueStore, QueueNotLedHereError } from '../../../src/queues/queue-store/led-queue-store.js';
import type { QueueLog } from '../../../src/queues/queue-store/queue-log.js';
import { ManualClock, logOptions, splitBatches, withTempDirectory } from '../storage/batch-fixtures.js';
import { indexOf, storeSettings, testMessage } from '../queues/queue-store/queue-store-fixtures.js';

const logger = createLogger('error', () => undefined);
const self = 1;
const storageId = 'k3x-9f2c';

async function queuePartition(directory: string): Promise<Partition> {
  const overrides = new Map([['retention.ms', '-1']]);
  const topic: Topic = { name: queueTopicName(storageId), id: Buffer.alloc(16), partitions: [], configOverrides: overrides, effective: effectiveTopicConfig(overrides, defaultBrokerConfig.topicDefaults) };
  const partition = new Partition(topic, 0);
  topic.partitions.push(partition);
  const settings: PartitionStorageSettings = {
    logOptions: logOptions({ segmentBytes: 64 * 1024 }),
    logEnvironment: { logger },
    producerLimits: { maxProducerIds: 10, expirationMs: 60_000 },
    clock: new ManualClock(),
    logger,
  };
  partition.open(await PartitionHandle.create(directory, settings));
  return partition;
}

function state(leader: number, leaderEpoch: number): PartitionRecord {
  return { replicas: [1, 2, 3], leader, leaderEpoch, isr: [1, 2, 3], partitionEpoch: leaderEpoch };
}

/** The AMQP side as the broker wires it (cluster/replicated-queues.ts), for one queue. */
function queueTerms(store: LedQueueStore, terms: string[]) {
  return {
    lead(id: string, log: QueueLog, term: string) {
      assert.equal(id, storageId);
      terms.push(term);
      void store.lead(log, term);
    },
    resign(id: string) {
      assert.equal(id, storageId);
      terms.push('resigned');
      void store.resign();
    },
  };
}

test('the queue topic names its storage id', () => {
  assert.equal(storageIdOfQueueTopic(queueTopicName(storageId)), storageId);
  assert.equal(storageIdOfQueueTopic('orders'), null);
  assert.equal(storageIdOfQueueTopic('__consumer_offsets'), null);
});

test('a queue is served here for each term of leadership of its partition, and only then', async () => {
  await withTempDirectory(async (directory) => {
    const partition = await queuePartition(directory);
    const store = new LedQueueStore("queue 'q'", storeSettings(), logger);
    const terms: string[] = [];
    const partitions = new QueuePartitions(queueTerms(store, terms), self, { commitTimeoutMs: 1000 }, logger);

    // Led here in epoch 5: the queue is served, its writes stamped with epoch 5.
    partition.ledHere = true;
    partition.leaderEpoch = 5;
    partitions.partitionChanged(partition, state(self, 5));
    await store.flush(); // waits for the term's store to open
    assert.equal(store.leading, true);
    await Promise.all([0, 1, 2].map((index) => store.append(testMessage(index)).durable));
    const taken = store.takeNext()!;
    // The same state again (another change to the topic) is no new term: what was taken stays taken.
    partitions.partitionChanged(partition, state(self, 5));
    await store.flush();
    assert.deepEqual(terms, ['leader epoch 5']);

    // Another broker leads (epoch 6): the queue is no longer served here, its publishes refused.
    partition.ledHere = false;
    partition.leaderEpoch = 6;
    partitions.partitionChanged(partition, state(2, 6));
    await store.flush();
    assert.equal(store.leading, false);
    await assert.rejects(store.append(testMessage(9)).durable, QueueNotLedHereError);

    // Led here again in epoch 7: served again from the log; the ack of the earlier term's delivery is ignored.
    partition.ledHere = true;
    partition.leaderEpoch = 7;
    partitions.partitionChanged(partition, state(self, 7));
    await store.flush();
    store.settle(taken);
    assert.deepEqual(
      [store.takeNext(), store.takeNext(), store.takeNext()].map((message) => (message === null ? null : indexOf(message))),
      [0, 1, 2],
    );
    await store.append(testMessage(3)).durable;
    assert.deepEqual(terms, ['leader epoch 5', 'resigned', 'leader epoch 7']);

    const { chunks } = await partition.handle.read(partition.handle.logStartOffset, 10_000_000, undefined, partition.handle.logEndOffset);
    const epochs = new Set(splitBatches(chunks).map((batch) => readPartitionLeaderEpoch(batch.bytes, 0)));
    assert.deepEqual([...epochs].sort(), [5, 7], 'every batch carries the epoch of the term that wrote it');

    // The topic is gone: the term ends.
    partitions.partitionChanged(partition, undefined);
    await store.flush();
    assert.equal(store.leading, false);
    partitions.stop();
    await store.close();
    await partition.handle.close();
  });
});

test('a term\'s log refuses writes and cleanups once the term is over', async () => {
  await withTempDirectory(async (directory) => {
    const partition = await queuePartition(directory);
    partition.ledHere = true;
    partition.leaderEpoch = 3;
    const log = replicatedQueueLog({ partition, leaderEpoch: 3 }, { commitTimeoutMs: 1000 });
    partition.leaderEpoch = 4;
    assert.throws(() => log.append(Buffer.alloc(61)), /a queue write refused: this broker no longer leads .* in leader epoch 3/);
    assert.throws(() => log.deleteRecordsBefore(partition.handle.logStartOffset), /a queue cleanup refused/);
    await partition.handle.close();
  });
});
