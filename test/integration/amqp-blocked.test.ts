/**
 * connection.blocked / unblocked with amqplib against a real broker whose data directory is on a
 * small file system of its own: when free space falls below minFreeDiskBytes (the disk alarm), AMQP
 * clients are told the connection is blocked ("low on disk", as RabbitMQ says) and publishes are
 * held, not confirmed and not lost; when space comes back they are unblocked and the held publish
 * goes through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { connectAmqp } from '../helpers/amqp-client.js';
import { waitUntil } from '../helpers/waiting.js';

const filesystemBytes = 32 * 1024 * 1024;
const reserveBytes = 8 * 1024 * 1024;

test('the disk alarm blocks AMQP publishers and holds their publishes until space comes back', async () => {
  const filesystem = mountSmallFilesystem(filesystemBytes);
  try {
    const broker = await startBrokerProcess({ dataDir: filesystem.path('data'), args: ['--min-free-disk-bytes', String(reserveBytes), '--disk-check-interval-ms', '100'] });
    const connection = await connectAmqp(broker);
    const events: string[] = [];
    connection.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
    connection.on('unblocked', () => events.push('unblocked'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('held', { durable: true });
    channel.sendToQueue('held', Buffer.from('before'), { persistent: true });
    await channel.waitForConfirms();

    filesystem.writeFiller('filler', filesystem.freeBytes() - reserveBytes / 2);
    await waitUntil(() => events.length > 0, 'the connection.blocked notice', 5000);
    assert.deepEqual(events, ['blocked: low on disk']);

    let confirmed = false;
    const publish = new Promise<void>((resolve, reject) => {
      channel.sendToQueue('held', Buffer.from('during'), { persistent: true }, (error: unknown) => {
        if (error) reject(error instanceof Error ? error : new Error(String(error)));
        confirmed = true;
        resolve();
      });
    });
    await sleep(700);
    assert.equal(confirmed, false, 'a publish is held while the broker is blocked');

    filesystem.remove('filler');
    await publish;
    assert.deepEqual(events, ['blocked: low on disk', 'unblocked']);
    const reader = await connection.createChannel();
    const bodies: string[] = [];
    for (let message = await reader.get('held', { noAck: true }); message !== false; message = await reader.get('held', { noAck: true })) bodies.push(message.content.toString());
    assert.deepEqual(bodies, ['before', 'during']);
    await connection.close();
    await broker.stop();
  } finally {
    filesystem.unmount();
  }
});
