import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterView } from '../../../src/cluster/cluster-view.js';
import { queueTopicName } from '../../../src/cluster/queue-partitions.js';
import { linkRedialDelayMs, QueueLinks } from '../../../src/cluster/queue-links.js';
import { RecordingLogger } from '../queues/queue-store/queue-store-fixtures.js';

/** A port nothing listens on: a server's, closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

test('a broker that cannot be reached is dialled again only after linkRedialDelayMs: what needs the link meanwhile fails at once, without a connection attempt of its own', async () => {
  const port = await closedPort();
  const queue = { virtualHost: '/', name: 'orders', storageId: 'k1-abc' };
  // The queue is led by broker 2, registered with an AMQP port nothing listens on (it just died).
  const view: Pick<ClusterView, 'liveBrokers' | 'partitionState'> = {
    liveBrokers: () => [{ nodeId: 2, host: '127.0.0.1', port: 1, amqpPort: port, rack: null }],
    partitionState: (topic) => (topic === queueTopicName(queue.storageId) ? { replicas: [2, 1], leader: 2, leaderEpoch: 1, isr: [2, 1], partitionEpoch: 1 } : undefined),
  };
  const logger = new RecordingLogger();
  const links = new QueueLinks(() => view as ClusterView, 1, logger);
  links.useSecret('secret');
  const link = links.forQueue(queue);
  const attempts = (): number => logger.lines.filter((line) => line.message === 'queue link could not connect').length;
  try {
    for (let call = 0; call < 5; call++) await assert.rejects(link.purge(), /ECONNREFUSED/);
    assert.equal(attempts(), 1, 'one connection attempt for five calls in a row');
    await sleep(linkRedialDelayMs + 300);
    await assert.rejects(link.purge(), /ECONNREFUSED/);
    assert.equal(attempts(), 2, 'dialled again once the delay passed');
  } finally {
    await links.close();
  }
});
