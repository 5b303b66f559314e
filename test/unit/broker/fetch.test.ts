/**
 * The fetch pass (src/broker/fetch.ts) reads a request's partitions concurrently, within
 * allotments of the response budget, and settles them in request order. Its answers must be those
 * of reading the partitions one after the other, each with what the ones before it left (KIP-74:
 * at most partitionMaxBytes per partition and maxBytes per response, except that the first batch of
 * the first partition with data comes whole even when larger; a later partition whose next batch
 * does not fit what is left answers nothing). The oracle here
 * is that one-at-a-time reading, done directly on the partitions' handles, over random logs (several
 * segments, no tail cache, so reads go to the files), offsets and budgets; and reads into pooled
 * buffers, given back after each round, answer the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topic } from '../../../src/broker/broker.js';
import { readPartitions, type FetchTarget } from '../../../src/broker/fetch.js';
import { asOffset } from '../../../src/broker/offset.js';
import { Partition } from '../../../src/broker/partition.js';
import { PartitionHandle } from '../../../src/broker/partition-handle.js';
import { effectiveTopicConfig } from '../../../src/broker/topic-config.js';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { createLogger } from '../../../src/logging/logger.js';
import { batchTotalBytes } from '../../../src/protocol/kafka/batch-header.js';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';
import { systemClock } from '../../../src/storage/partition-log.js';
import { ReadBufferPool } from '../../../src/storage/read-buffers.js';
import { logOptions, seededRandom, simpleBatch } from '../storage/batch-fixtures.js';

const logger = createLogger('error', () => undefined);

function topicNamed(name: string): Topic {
  return { name, id: Buffer.alloc(16), partitions: [], configOverrides: new Map(), effective: effectiveTopicConfig(new Map(), defaultBrokerConfig.topicDefaults) };
}

/** What the fetch pass answered before it read concurrently: one partition after the other. */
async function readOneAtATime(targets: readonly FetchTarget[], maxBytes: number): Promise<Array<{ errorCode: number; bytes: Buffer }>> {
  const answers: Array<{ errorCode: number; bytes: Buffer }> = [];
  let byteCount = 0;
  for (const target of targets) {
    const handle = target.partition!.handle;
    const offset = target.fetchOffset!;
    if (offset < handle.logStartOffset || offset > handle.highWatermark) {
      answers.push({ errorCode: ErrorCode.offsetOutOfRange, bytes: Buffer.alloc(0) });
      continue;
    }
    const partitionMaxBytes = Math.min(target.partitionMaxBytes, maxBytes - byteCount);
    if (partitionMaxBytes <= 0 && byteCount > 0) {
      answers.push({ errorCode: ErrorCode.none, bytes: Buffer.alloc(0) });
      continue;
    }
    const read = await handle.read(offset, Math.max(partitionMaxBytes, 0));
    let bytes: Buffer = Buffer.concat(read.chunks);
    if (byteCount > 0) bytes = wholeBatchesWithin(bytes, partitionMaxBytes);
    byteCount += bytes.length;
    answers.push({ errorCode: ErrorCode.none, bytes });
  }
  return answers;
}

/** The whole batches at the start of `bytes` that fit in `maxBytes` (none when the first does not). */
function wholeBatchesWithin(bytes: Buffer, maxBytes: number): Buffer {
  let end = 0;
  while (end < bytes.length && end + batchTotalBytes(bytes, end) <= maxBytes) end += batchTotalBytes(bytes, end);
  return bytes.subarray(0, end);
}

test('concurrent reads answer exactly what one-at-a-time reads answer, in request order, within the budgets', async () => {
  const root = await mkdtemp(join(tmpdir(), 'osprey-fetch-'));
  const random = seededRandom(74);
  const partitions: Partition[] = [];
  const readBuffers = new ReadBufferPool(4 * 1024 * 1024);
  try {
    const topic = topicNamed('fetch-budget');
    for (let index = 0; index < 5; index++) {
      const handle = await PartitionHandle.create(join(root, `fetch-budget-${index}`), {
        logOptions: logOptions({ segmentBytes: 24 * 1024, indexIntervalBytes: 1024 }),
        logEnvironment: { logger, tailCacheBytes: 0 },
        producerLimits: { maxProducerIds: 10, expirationMs: 60_000 },
        clock: systemClock,
        logger,
      });
      const partition = new Partition(topic, index);
      partition.open(handle);
      partitions.push(partition);
      // Partition 3 stays empty: fetches of it answer nothing, and leave their budget to the others.
      const batchCount = index === 3 ? 0 : 40 + Math.floor(random() * 60);
      let durable: Promise<void> = Promise.resolve();
      for (let batch = 0; batch < batchCount; batch++) {
        durable = handle.append(simpleBatch(1 + Math.floor(random() * 20), { valueBytes: 10 + Math.floor(random() * 400), tag: `p${index}b${batch}-` })).durable;
      }
      await durable;
    }
    for (let round = 0; round < 300; round++) {
      const maxBytes = Math.floor(random() * 60_000);
      const targets: FetchTarget[] = partitions.map((partition) => {
        const handle = partition.handle;
        // Mostly inside the log, now and then its end, or past it (out of range).
        const span = handle.highWatermark - handle.logStartOffset + 1;
        const fetchOffset = round % 17 === 0 ? handle.highWatermark + 1 : handle.logStartOffset + Math.floor(random() * span);
        return { partition, errorCode: ErrorCode.none, fetchOffset: asOffset(fetchOffset), partitionMaxBytes: Math.floor(random() * 20_000), deletedErrorCode: ErrorCode.unknownTopicOrPartition };
      });
      const pass = await readPartitions(targets, maxBytes, logger);
      const expected = await readOneAtATime(targets, maxBytes);
      assert.equal(pass.results.length, targets.length);
      let byteCount = 0;
      for (const [index, result] of pass.results.entries()) {
        const label = `round ${round}, partition ${index} (maxBytes ${maxBytes}, partitionMaxBytes ${targets[index]!.partitionMaxBytes})`;
        assert.equal(result.errorCode, expected[index]!.errorCode, label);
        const bytes = Buffer.concat(result.records);
        assert.equal(result.byteCount, bytes.length, label);
        assert.ok(bytes.equals(expected[index]!.bytes), `${label}: ${bytes.length} bytes answered, ${expected[index]!.bytes.length} expected`);
        byteCount += result.byteCount;
      }
      assert.equal(pass.byteCount, byteCount);
      // Only the first partition with data may take the response past maxBytes (its first batch).
      const firstWithData = pass.results.find((result) => result.byteCount > 0)?.byteCount ?? 0;
      assert.ok(pass.byteCount <= Math.max(maxBytes, firstWithData), `round ${round}: ${pass.byteCount} bytes for maxBytes ${maxBytes}`);
      // Read into pooled buffers (as the Fetch handler does), the answer is the same bytes; they
      // are given back as the handler does once written, and the next rounds read into them again.
      const pooled = await readPartitions(targets, maxBytes, logger, readBuffers.allocate);
      for (const [index, result] of pooled.results.entries()) {
        assert.ok(Buffer.concat(result.records).equals(expected[index]!.bytes), `round ${round}, partition ${index}: pooled read`);
      }
      for (const result of pooled.results) readBuffers.give(result.records);
    }
    assert.ok(readBuffers.reused > readBuffers.allocated, `reads reused given-back buffers (${readBuffers.reused} reused, ${readBuffers.allocated} allocated)`);
  } finally {
    for (const partition of partitions) await partition.handle.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a partition that cannot be resolved answers its error and takes nothing from the budget', async () => {
  const pass = await readPartitions([{ partition: undefined, errorCode: ErrorCode.unknownTopicOrPartition, fetchOffset: asOffset(0), partitionMaxBytes: 1000, deletedErrorCode: ErrorCode.unknownTopicOrPartition }], 1000, logger);
  assert.equal(pass.results[0]!.errorCode, ErrorCode.unknownTopicOrPartition);
  assert.equal(pass.results[0]!.highWatermark, null);
  assert.equal(pass.byteCount, 0);
  assert.equal(pass.anyError, true);
});
