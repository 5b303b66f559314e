/**
 * InitProducerId's producer ids and epochs (src/broker/idempotence/producer-ids.ts): ids unique
 * across restarts through blocks reserved on disk, and the KIP-360 epoch rules (bump, retried bump,
 * fencing, exhausted epochs, forgotten ids).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exhaustedEpoch, fileProducerIdStorage, notJoinedBlockSource, producerIdBlockFileName, producerIdBlockSize, ProducerIdManager } from '../../../src/broker/idempotence/producer-ids.js';
import type { ProducerIdBlockSource, ProducerIdStorage } from '../../../src/broker/idempotence/producer-ids.js';
import { createLogger } from '../../../src/logging/logger.js';
import { ErrorCode } from '../../../src/protocol/kafka/error-codes.js';

const logger = createLogger('error', () => undefined);

class MemoryStorage implements ProducerIdStorage {
  text: string | null = null;
  writes = 0;
  async read(): Promise<string | null> {
    return this.text;
  }
  async write(text: string): Promise<void> {
    this.writes++;
    await new Promise((resolve) => setImmediate(resolve));
    this.text = text;
  }
}

test('ids are unique across restarts, crashes included: a block is on disk before its first id is used', async () => {
  const storage = new MemoryStorage();
  const first = await ProducerIdManager.open(storage, 100, logger);
  const seen = new Set<bigint>();
  // Concurrent requests share one block reservation.
  const ids = await Promise.all(Array.from({ length: 5 }, () => first.allocate()));
  assert.equal(storage.writes, 1);
  for (const id of ids) seen.add(id);
  assert.equal(storage.text, `1\n${producerIdBlockSize}\n`);
  // "Crash": a new manager over the same file starts at the next block.
  const second = await ProducerIdManager.open(storage, 100, logger);
  const next = await second.allocate();
  assert.equal(next, producerIdBlockSize);
  for (let index = 0; index < Number(producerIdBlockSize) + 3; index++) {
    const id = await second.allocate();
    assert.ok(!seen.has(id), `id ${id} handed out twice`);
    seen.add(id);
  }
  assert.equal(storage.writes, 3);
});

test('the block file is written atomically in the meta folder; an unreadable one stops the start', async () => {
  const root = await mkdtemp(join(tmpdir(), 'osprey-producer-ids-'));
  try {
    const meta = join(root, 'meta');
    const manager = await ProducerIdManager.open(fileProducerIdStorage(meta), 100, logger);
    assert.equal((await manager.initProducerId(-1n, -1, 0)).producerId, 1n, 'the first id is 1: 0 is never handed out');
    assert.equal(await readFile(join(meta, producerIdBlockFileName), 'utf8'), `1\n${producerIdBlockSize}\n`);
    const again = await ProducerIdManager.open(fileProducerIdStorage(meta), 100, logger);
    assert.equal((await again.initProducerId(-1n, -1, 0)).producerId, producerIdBlockSize);
    await writeFile(join(meta, producerIdBlockFileName), 'garbage');
    await assert.rejects(ProducerIdManager.open(fileProducerIdStorage(meta), 100, logger), /refusing to guess/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a cluster broker refuses ids until it has joined, then takes every block from the cluster source', async () => {
  const manager = new ProducerIdManager(notJoinedBlockSource, 100, logger);
  await assert.rejects(manager.initProducerId(-1n, -1, 4), /not joined the cluster/);
  const reserved: bigint[] = [];
  let next = 7000n;
  const cluster: ProducerIdBlockSource = {
    async reserveBlock(size) {
      reserved.push(next);
      next += size;
      return next - size;
    },
  };
  manager.useBlockSource(cluster);
  const ids = await Promise.all(Array.from({ length: 3 }, () => manager.allocate()));
  assert.deepEqual(ids, [7000n, 7001n, 7002n], 'one reservation shared by concurrent requests');
  for (let index = 3; index < Number(producerIdBlockSize); index++) await manager.allocate();
  assert.equal(await manager.allocate(), 7000n + producerIdBlockSize, 'the next block from the same source');
  assert.deepEqual(reserved, [7000n, 7000n + producerIdBlockSize]);
});

test('the next block is reserved ahead once 90 % of the current one is used; a failed attempt is tried again, and the block is reserved when needed at the latest', async () => {
  let next = 0n;
  let failing = false;
  const calls: string[] = [];
  const source: ProducerIdBlockSource = {
    async reserveBlock(size) {
      await new Promise((resolve) => setImmediate(resolve));
      if (failing) {
        calls.push('failed');
        throw new Error('etcd does not answer');
      }
      calls.push(`reserved ${next}`);
      next += size;
      return next - size;
    },
  };
  const manager = new ProducerIdManager(source, 100, logger);
  const size = Number(producerIdBlockSize);
  for (let index = 1; index < size * 0.9 - 1; index++) await manager.allocate();
  assert.deepEqual(calls, ['reserved 0']);
  await manager.allocate(); // 100 ids left: the next block is asked for
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls, ['reserved 0', `reserved ${size}`]);
  for (let index = 0; index < size * 0.1; index++) await manager.allocate();
  assert.equal(await manager.allocate(), producerIdBlockSize, 'the block reserved ahead, taken without another reservation');
  assert.deepEqual(calls, ['reserved 0', `reserved ${size}`]);

  // etcd stops answering: the attempt ahead fails, is tried again, and the block is reserved when needed.
  failing = true;
  for (let index = 1; index < size * 0.9; index++) await manager.allocate();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls.slice(2), ['failed']);
  await manager.allocate();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls.slice(2), ['failed', 'failed'], 'tried again at the next allocation');
  failing = false;
  for (let index = 0; index < size * 0.1 - 1; index++) await manager.allocate();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(await manager.allocate(), 2n * producerIdBlockSize);
});

test('InitProducerId without an id gives a new id at epoch 0; one of id and epoch alone is INVALID_REQUEST', async () => {
  const manager = await ProducerIdManager.open(new MemoryStorage(), 100, logger);
  const a = await manager.initProducerId(-1n, -1, 0);
  const b = await manager.initProducerId(-1n, -1, 5);
  assert.deepEqual([a.errorCode, a.producerEpoch, b.errorCode, b.producerEpoch], [0, 0, 0, 0]);
  assert.notEqual(a.producerId, b.producerId);
  assert.equal((await manager.initProducerId(a.producerId, -1, 3)).errorCode, ErrorCode.invalidRequest);
  assert.equal((await manager.initProducerId(-1n, 0, 3)).errorCode, ErrorCode.invalidRequest);
});

test('KIP-360: the current epoch is bumped, a retried bump answered the same, a stale epoch fenced', async () => {
  const manager = await ProducerIdManager.open(new MemoryStorage(), 100, logger);
  const { producerId } = await manager.initProducerId(-1n, -1, 4);
  const bumped = await manager.initProducerId(producerId, 0, 4);
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [0, producerId, 1]);
  const retried = await manager.initProducerId(producerId, 0, 4);
  assert.deepEqual([retried.errorCode, retried.producerId, retried.producerEpoch], [0, producerId, 1]);
  assert.equal((await manager.initProducerId(producerId, 1, 4)).producerEpoch, 2);
  // Epoch 0 is now two bumps old: fenced, with the code the request version understands.
  assert.equal((await manager.initProducerId(producerId, 0, 4)).errorCode, ErrorCode.producerFenced);
  assert.equal((await manager.initProducerId(producerId, 0, 3)).errorCode, ErrorCode.invalidProducerEpoch);
  assert.equal((await manager.initProducerId(producerId, 9, 5)).errorCode, ErrorCode.producerFenced);
});

test('an exhausted epoch moves the producer to a new id; a retry of that gets the same new id', async () => {
  const manager = await ProducerIdManager.open(new MemoryStorage(), 100, logger);
  const { producerId } = await manager.initProducerId(-1n, -1, 4);
  let epoch = 0;
  while (epoch < exhaustedEpoch) epoch = (await manager.initProducerId(producerId, epoch, 4)).producerEpoch;
  const rotated = await manager.initProducerId(producerId, exhaustedEpoch, 4);
  assert.equal(rotated.errorCode, 0);
  assert.notEqual(rotated.producerId, producerId);
  assert.equal(rotated.producerEpoch, 0);
  const retried = await manager.initProducerId(producerId, exhaustedEpoch, 4);
  assert.deepEqual([retried.producerId, retried.producerEpoch], [rotated.producerId, 0]);
  assert.equal((await manager.initProducerId(producerId, 3, 4)).errorCode, ErrorCode.producerFenced);
});

test('an id the broker does not remember (restart, or beyond maxRemembered) gets a new id, as Kafka answers', async () => {
  const manager = await ProducerIdManager.open(new MemoryStorage(), 2, logger);
  const first = await manager.initProducerId(-1n, -1, 4);
  await manager.initProducerId(-1n, -1, 4);
  await manager.initProducerId(-1n, -1, 4); // the first is forgotten now
  const answer = await manager.initProducerId(first.producerId, 0, 4);
  assert.equal(answer.errorCode, 0);
  assert.notEqual(answer.producerId, first.producerId);
  assert.equal(answer.producerEpoch, 0);
  const unknown = await manager.initProducerId(123_456n, 7, 4);
  assert.equal(unknown.errorCode, 0);
  assert.equal(unknown.producerEpoch, 0);
});

test('id 0 is never handed out, so (0, 0), which some clients send for "no id yet", always gets a new id', async () => {
  const manager = await ProducerIdManager.open(new MemoryStorage(), 100, logger);
  const first = await manager.initProducerId(0n, 0, 4);
  const second = await manager.initProducerId(0n, 0, 4);
  assert.equal(first.errorCode, ErrorCode.none);
  assert.equal(second.errorCode, ErrorCode.none);
  assert.notEqual(first.producerId, 0n);
  assert.notEqual(second.producerId, first.producerId, 'two such producers do not share an id (one would fence the other)');
  assert.deepEqual([first.producerEpoch, second.producerEpoch], [0, 0]);
});
