/**
 * The producer's batching (src/client/batch-accumulator.ts) without a broker: which partition a
 * record goes to, when a batch closes (size, overflow, linger, closeAll), and that what it hands
 * on is a batch our reader and the records' callbacks agree on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { BatchAccumulator } from '../../../src/client/batch-accumulator.js';
import type { AccumulatedBatch, BatchSink } from '../../../src/client/batch-accumulator.js';
import type { TopicMetadata } from '../../../src/client/client.js';
import { partitionForKey } from '../../../src/client/partitioner.js';
import { RecordIterator } from '../../../src/protocol/kafka/records.js';
import { batchHeaderBytes } from '../../../src/protocol/kafka/batch-header.js';

function topic(name: string, partitions: number): TopicMetadata {
  return {
    name,
    topicId: Buffer.alloc(16),
    isInternal: false,
    partitions: Array.from({ length: partitions }, (_, partition) => ({ partition, leaderId: 100 + partition, leaderEpoch: 0, replicas: [], isr: [], offlineReplicas: [], errorCode: 0 })),
  };
}

class RecordingSink extends EventEmitter implements BatchSink {
  readonly enqueued: { batch: AccumulatedBatch; leaderId: number }[] = [];
  drains = 0;
  /** Leaders with no room (all requests in flight): their batches are held at the end of the linger. */
  readonly busyLeaders = new Set<number>();
  hasRoom(leaderId: number): boolean {
    return !this.busyLeaders.has(leaderId);
  }
  enqueue(batch: AccumulatedBatch, leaderId: number): void {
    this.enqueued.push({ batch, leaderId });
  }
  drain(): void {
    this.drains++;
    this.emit('drain');
  }
}

function setUp(options: { lingerMs: number; batchBytes: number }, metadata: TopicMetadata): { accumulator: BatchAccumulator; sink: RecordingSink } {
  const sink = new RecordingSink();
  const accumulator = new BatchAccumulator(options, (name) => (name === metadata.name ? metadata : undefined), sink);
  return { accumulator, sink };
}

test('a record goes to its own partition, else its key’s murmur2 partition, else the sticky one', () => {
  const orders = topic('orders', 6);
  const { accumulator } = setUp({ lingerMs: 1000, batchBytes: 1 << 20 }, orders);
  assert.equal(accumulator.choosePartition(orders, { value: 'v', partition: 4 }), 4);
  assert.equal(accumulator.choosePartition(orders, { key: 'user-1', value: 'v' }), partitionForKey(Buffer.from('user-1'), 6));
  const sticky = accumulator.choosePartition(orders, { value: 'v' });
  assert.equal(accumulator.choosePartition(orders, { value: 'w' }), sticky, 'the same until a batch closes');
  accumulator.closeAll();
});

test('a batch closes when it reaches batchBytes, and the record that would overflow starts the next', () => {
  const orders = topic('orders', 2);
  const { accumulator, sink } = setUp({ lingerMs: 60_000, batchBytes: 2000 }, orders);
  let grownBytes = 0;
  for (let index = 0; index < 30; index++) grownBytes += accumulator.append(orders, 1, { value: Buffer.alloc(100, index) }, undefined);
  assert.ok(sink.enqueued.length >= 1, 'at least one batch closed on size');
  for (const { batch, leaderId } of sink.enqueued) {
    assert.equal(leaderId, 101, 'queued for the partition leader');
    assert.ok(batch.builder.sizeBytes <= 2000, `a closed batch of ${batch.builder.sizeBytes} bytes stays within batchBytes`);
  }
  accumulator.closeAll();
  const total = sink.enqueued.reduce((sum, { batch }) => sum + batch.builder.recordCount, 0);
  assert.equal(total, 30, 'every record in exactly one batch');
  assert.equal(grownBytes, sink.enqueued.reduce((sum, { batch }) => sum + batch.builder.sizeBytes - batchHeaderBytes, 0), 'the bytes reported are the records written');
});

test('a record larger than batchBytes gets a batch of its own', () => {
  const orders = topic('orders', 1);
  const { accumulator, sink } = setUp({ lingerMs: 60_000, batchBytes: 1000 }, orders);
  accumulator.append(orders, 0, { value: 'small' }, undefined);
  accumulator.append(orders, 0, { value: Buffer.alloc(5000) }, undefined);
  assert.deepEqual(
    sink.enqueued.map(({ batch }) => batch.builder.recordCount),
    [1, 1],
  );
});

test('lingerMs after the first record every open batch closes; the callbacks travel with their records in order', async () => {
  const orders = topic('orders', 3);
  const { accumulator, sink } = setUp({ lingerMs: 5, batchBytes: 1 << 20 }, orders);
  const callbacks = [0, 1, 2, 3].map((index) => () => index);
  accumulator.append(orders, 0, { value: 'a', timestampMs: 10 }, callbacks[0]);
  accumulator.append(orders, 2, { value: 'b', timestampMs: 11 }, callbacks[1]);
  accumulator.append(orders, 0, { key: 'k', value: 'c', timestampMs: 12, headers: [{ key: 'h', value: 'x' }] }, callbacks[2]);
  assert.equal(sink.enqueued.length, 0, 'nothing closes before the linger');
  await once(sink, 'drain');
  assert.deepEqual(
    sink.enqueued.map(({ batch }) => [batch.partition, batch.callbacks.length]),
    [
      [0, 2],
      [2, 1],
    ],
  );
  const first = sink.enqueued[0]!.batch;
  assert.deepEqual(first.callbacks, [callbacks[0], callbacks[2]]);
  const batch = await first.builder.finish(0);
  const iterator = new RecordIterator(batch, 0, batch, batchHeaderBytes, batch.length);
  const read: [number, number, string | undefined][] = [];
  while (iterator.next()) read.push([iterator.offset, iterator.timestampMs, iterator.value()?.toString()]);
  assert.deepEqual(read, [
    [0, 10, 'a'],
    [1, 12, 'c'],
  ]);
  accumulator.append(orders, 1, { value: 'later' }, callbacks[3]);
  accumulator.closeAll();
  assert.equal(sink.enqueued.length, 3, 'closeAll closes the new open batch at once');
});

test('an open batch whose topic left the metadata cache is still handed on at closeAll, with no leader, never dropped', () => {
  const orders = topic('orders', 2);
  let known: TopicMetadata | undefined = orders;
  const sink = new RecordingSink();
  const accumulator = new BatchAccumulator({ lingerMs: 60_000, batchBytes: 1 << 20 }, () => known, sink);
  accumulator.append(orders, 1, { value: 'kept' }, () => undefined);
  known = undefined; // a metadata refresh found the topic unknown while the batch was open
  accumulator.closeAll();
  assert.equal(sink.enqueued.length, 1, 'the batch reaches the sender, whose retries and delivery timeout answer its records');
  assert.equal(sink.enqueued[0]!.leaderId, -1);
  assert.equal(sink.enqueued[0]!.batch.callbacks.length, 1);
});

test('at the end of the linger a batch whose leader has no room is held open, takes later records, and closes at closeHeld once there is room', async () => {
  const orders = topic('orders', 2);
  const { accumulator, sink } = setUp({ lingerMs: 0, batchBytes: 1 << 20 }, orders);
  sink.busyLeaders.add(100); // partition 0's leader: every request in flight
  accumulator.append(orders, 0, { value: 'a' }, undefined);
  accumulator.append(orders, 1, { value: 'b' }, undefined);
  await once(sink, 'drain');
  assert.deepEqual(
    sink.enqueued.map(({ batch }) => batch.partition),
    [1],
    'the batch of the leader with room closes; the other is held',
  );
  accumulator.append(orders, 0, { value: 'c' }, undefined);
  await new Promise((resolve) => setImmediate(resolve));
  accumulator.append(orders, 0, { value: 'd' }, undefined);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sink.enqueued.length, 1, 'records of later turns join the held batch; nothing closes while the leader has no room');
  accumulator.closeHeld();
  assert.equal(sink.enqueued.length, 1, 'closeHeld keeps it while there is still no room');
  sink.busyLeaders.delete(100);
  accumulator.closeHeld();
  assert.equal(sink.enqueued.length, 2);
  const held = sink.enqueued[1]!.batch;
  assert.equal(held.partition, 0);
  const batch = await held.builder.finish(0);
  const iterator = new RecordIterator(batch, 0, batch, batchHeaderBytes, batch.length);
  const values: (string | undefined)[] = [];
  while (iterator.next()) values.push(iterator.value()?.toString());
  assert.deepEqual(values, ['a', 'c', 'd'], 'one batch of the records that waited, in order');
  accumulator.append(orders, 0, { value: 'e' }, undefined);
  await once(sink, 'drain');
  assert.equal(sink.enqueued.length, 3, 'the next batch of that partition starts afresh and closes at its linger');
});

test('a held batch still closes when it is full, and at closeAll (a flush), room or not', async () => {
  const orders = topic('orders', 1);
  const { accumulator, sink } = setUp({ lingerMs: 0, batchBytes: 2000 }, orders);
  sink.busyLeaders.add(100);
  accumulator.append(orders, 0, { value: Buffer.alloc(100) }, undefined);
  await once(sink, 'drain'); // the linger is over: held
  assert.equal(sink.enqueued.length, 0);
  for (let index = 0; index < 30; index++) accumulator.append(orders, 0, { value: Buffer.alloc(100) }, undefined);
  assert.ok(sink.enqueued.length >= 1, 'full batches close on size as always');
  const closedRecords = sink.enqueued.reduce((sum, { batch }) => sum + batch.callbacks.length, 0);
  assert.ok(closedRecords < 31, 'the last batch is still open');
  accumulator.closeAll();
  assert.equal(
    sink.enqueued.reduce((sum, { batch }) => sum + batch.callbacks.length, 0),
    31,
    'closeAll hands on every record',
  );
});

test('a batch buffer starts small, and at the size of the partition’s previous batch (no 64 KiB buffer per one-record batch)', () => {
  const orders = topic('orders', 2);
  const batchBytes = 64 * 1024;
  const { accumulator, sink } = setUp({ lingerMs: 60_000, batchBytes }, orders);
  accumulator.append(orders, 0, { value: Buffer.alloc(100) }, undefined);
  accumulator.closeAll();
  const lone = sink.enqueued[0]!.batch.builder;
  assert.ok(lone.capacityBytes <= 4096, `a one-record batch took a buffer of ${lone.capacityBytes} bytes`);
  // Fill partition 1 until a batch closes on size; the next batch of partition 1 starts at that size.
  while (sink.enqueued.length < 2) accumulator.append(orders, 1, { value: Buffer.alloc(1000) }, undefined);
  const full = sink.enqueued[1]!.batch.builder;
  assert.ok(full.sizeBytes > batchBytes - 2000);
  accumulator.append(orders, 1, { value: Buffer.alloc(1000) }, undefined);
  accumulator.append(orders, 0, { value: Buffer.alloc(100) }, undefined);
  accumulator.closeAll();
  const next = sink.enqueued.find(({ batch }) => batch.partition === 1 && batch.builder !== full)!.batch.builder;
  assert.ok(next.capacityBytes >= full.sizeBytes, `the next batch started at ${next.capacityBytes} bytes, the last one held ${full.sizeBytes}`);
  assert.ok(next.capacityBytes <= batchBytes + 1024, 'never above batchBytes (plus the header)');
  const otherPartition = sink.enqueued.filter(({ batch }) => batch.partition === 0).at(-1)!.batch.builder;
  assert.ok(otherPartition.capacityBytes <= 4096, 'sizes are per partition');
});
