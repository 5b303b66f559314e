/**
 * The AMQP listener and connection layer against a real client (amqplib) and a real broker
 * process: the handshake and what it advertises, channels opened and closed, logins and virtual
 * hosts refused, heartbeats, shutdown, and the settings that turn the listener on and off.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import amqp from 'amqplib';
import { startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';

let broker: BrokerProcess;
let url: string;

before(async () => {
  broker = await startBrokerProcess();
  assert.ok(broker.amqpPort !== null);
  url = `amqp://guest:guest@127.0.0.1:${broker.amqpPort}`;
});

after(async () => {
  await broker.stop();
});

test('amqpPort 0 listens on a free port and logs the one chosen', async () => {
  assert.match(broker.logs(), new RegExp(`INFO amqp listener ready host=127\\.0\\.0\\.1 port=${String(broker.amqpPort)}\\n`));
  assert.notEqual(broker.amqpPort, 0);
});

test('connect: server properties name Osprey and advertise the capabilities, connection.blocked among them', async () => {
  const connection = await amqp.connect(url);
  try {
    const properties = connection.connection.serverProperties as unknown as Record<string, unknown>;
    assert.equal(properties['product'], 'Osprey');
    assert.equal(typeof properties['version'], 'string');
    assert.match(String(properties['platform']), /^Node\.js v/);
    assert.deepEqual(properties['capabilities'], {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      per_consumer_qos: true,
      authentication_failure_close: true,
    });
  } finally {
    await connection.close();
  }
});

test('many channels open on one connection, one closes, and the connection closes cleanly', async () => {
  const connection = await amqp.connect(url);
  const channels = await Promise.all(Array.from({ length: 200 }, () => connection.createChannel()));
  assert.equal(channels.length, 200);
  await channels[7]?.close();
  await channels[100]?.close();
  const again = await connection.createChannel(); // amqplib reuses the lowest free number
  await again.close();
  const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
  await connection.close();
  await closed;
});

test('AMQPLAIN logs in too', async () => {
  const connection = await amqp.connect(url, { credentials: amqp.credentials.amqplain('guest', 'guest') });
  await (await connection.createChannel()).close();
  await connection.close();
});

test('a wrong password or user is refused with 403 and RabbitMQ\'s text', async () => {
  const refused = /403 \(ACCESS-REFUSED\) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN\. For details see the broker logfile\."/;
  await assert.rejects(amqp.connect(`amqp://guest:wrong@127.0.0.1:${String(broker.amqpPort)}`), refused);
  await assert.rejects(amqp.connect(`amqp://someone:guest@127.0.0.1:${String(broker.amqpPort)}`), refused);
  await assert.rejects(
    amqp.connect(url, { credentials: amqp.credentials.amqplain('guest', 'wrong') }),
    /ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN/,
  );
});

test('an unknown virtual host is refused (530, logged with its text)', async () => {
  await assert.rejects(amqp.connect(`${url}/elsewhere`), /ConnectionClose/);
  await broker.waitForLog(/replyCode=530 replyText="NOT_ALLOWED - vhost elsewhere not found"/);
});

test('heartbeat=1: an idle connection stays up for several seconds and still works', async () => {
  const connection = await amqp.connect(`${url}?heartbeat=1`);
  let failure: Error | null = null;
  connection.on('error', (error: Error) => (failure = error));
  connection.on('close', () => (failure ??= new Error('closed')));
  await new Promise((resolve) => setTimeout(resolve, 4500));
  assert.equal(failure, null);
  const channel = await connection.createChannel();
  await channel.close();
  await connection.close();
});

test('a method Osprey does not implement (basic.recover with requeue=false, as RabbitMQ) closes the connection with 540, other connections unaffected', async () => {
  const bystander = await amqp.connect(url);
  const connection = await amqp.connect(url);
  const errored = new Promise<Error>((resolve) => connection.once('error', resolve));
  const channel = (await connection.createChannel()) as unknown as { on(event: string, listener: () => void): void; rpc(method: number, fields: object, expect: number): Promise<unknown> };
  channel.on('error', () => undefined);
  // amqplib's recover() always asks to requeue; its rpc() sends the method as given.
  await assert.rejects(channel.rpc(60 * 65536 + 110, { requeue: false }, 60 * 65536 + 111));
  assert.match((await errored).message, /540 \(NOT-IMPLEMENTED\)/);
  await (await bystander.createChannel()).close();
  await bystander.close();
});

test('shutdown closes open connections with 320 CONNECTION_FORCED and the broker exits 0', async () => {
  const own = await startBrokerProcess();
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${String(own.amqpPort)}`);
  // amqplib takes 320 as a normal close: no 'error' event, the reason comes with 'close'.
  const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
  await own.stop();
  assert.match(String((await closed)?.message), /320 \(CONNECTION-FORCED\) with message "CONNECTION_FORCED - broker shutdown"/);
});

test('amqp.connectionMax: connections past it are closed at once, and room frees as connections close', async () => {
  const own = await startBrokerProcess({ args: ['--amqp.connection-max', '2'] });
  const ownUrl = `amqp://guest:guest@127.0.0.1:${String(own.amqpPort)}`;
  try {
    const first = await amqp.connect(ownUrl);
    const second = await amqp.connect(ownUrl);
    await assert.rejects(amqp.connect(ownUrl));
    await own.waitForLog(/WARN amqp connection refused: too many connections maximum=2/);
    await first.close();
    // The slot frees when the broker sees the socket close, a moment after close-ok.
    let third: Awaited<ReturnType<typeof amqp.connect>> | null = null;
    for (let attempt = 0; third === null && attempt < 50; attempt++) {
      third = await amqp.connect(ownUrl).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return null;
      });
    }
    assert.ok(third !== null, 'a connection was accepted again after one closed');
    await third.close();
    await second.close();
  } finally {
    await own.stop();
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertNothingListens(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      reject(new Error(`something listens on ${port}`));
    });
    socket.once('error', () => resolve());
  });
}

test('amqpPort -1, amqp.enabled false (env or YAML) leave the AMQP listener off', async () => {
  const off = await startBrokerProcess({ args: ['--amqp-port', '-1'] });
  assert.equal(off.amqpPort, null);
  assert.doesNotMatch(off.logs(), /amqp listener/);
  await off.stop();

  const port = await freePort();
  const byEnv = await startBrokerProcess({ args: ['--amqp-port', String(port)], env: { OSPREY_AMQP_ENABLED: 'false' } });
  assert.equal(byEnv.amqpPort, null);
  await assertNothingListens(port);
  await byEnv.stop();

  const file = join(temporaryDirectory(), 'osprey.yaml');
  writeFileSync(file, 'amqp:\n  enabled: false\n');
  const byYaml = await startBrokerProcess({ args: ['--config', file, '--amqp-port', String(port)] });
  assert.equal(byYaml.amqpPort, null);
  await assertNothingListens(port);
  await byYaml.stop();

  const on = await startBrokerProcess({ args: ['--amqp-port', String(port)] });
  assert.equal(on.amqpPort, port, 'the same port, with the listener on, is taken');
  await on.stop();
});

test('amqp.maxQueues: a declare past the limit closes that channel with 406, the connection goes on', async () => {
  const own = await startBrokerProcess({ args: ['--amqp.max-queues', '1'] });
  try {
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${String(own.amqpPort)}`);
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await channel.assertQueue('first', { durable: false });
    await assert.rejects(channel.assertQueue('second', { durable: false }), /PRECONDITION_FAILED - cannot declare queue 'second' in vhost '\/': queue limit \(1, amqp.maxQueues\) is reached/);
    const next = await connection.createChannel();
    await next.checkQueue('first');
    await connection.close();
  } finally {
    await own.stop();
  }
});
