/**
 * What the AMQP listener does with input no well-behaved client sends, over raw sockets against a
 * real broker process: each case gets its connection.close code (or our protocol header back) and
 * only its own connection closed; a witness connection opened at the start keeps working
 * throughout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { frameTypes, protocolHeader } from '../../src/protocol/amqp/frame-reader.js';
import { contentHeaderPayload } from '../../src/protocol/amqp/content-header.js';
import { methodPayload } from '../../src/protocol/amqp/method-payload.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { RawAmqpClient } from '../helpers/raw-amqp-client.js';

const maxContentBytes = 1000;
let broker: BrokerProcess;
let amqpPort: number;
let witness: RawAmqpClient;
let witnessChannel = 0;

before(async () => {
  broker = await startBrokerProcess({ args: ['--amqp.max-content-bytes', String(maxContentBytes), '--amqp.handshake-timeout-ms', '1000'] });
  assert.ok(broker.amqpPort !== null && broker.amqpPort > 0, 'the harness passes --amqp-port 0 and reads the port from the log');
  amqpPort = broker.amqpPort;
  witness = await RawAmqpClient.connect(amqpPort);
  await witness.handshake();
});

after(async () => {
  witness.destroy();
  await broker.stop();
});

/** A client through the handshake, with tune-ok values of its own. */
async function openClient(options: { channelMax?: number; frameMax?: number; heartbeat?: number } = {}): Promise<RawAmqpClient> {
  const client = await RawAmqpClient.connect(amqpPort);
  await client.handshake(options);
  return client;
}

/** The connection closes with this code, the socket ends, the broker logged it with the peer, and the witness still works. */
async function assertClosedWith(client: RawAmqpClient, replyCode: number, text?: RegExp): Promise<void> {
  const close = await client.expectConnectionClose();
  assert.equal(close.replyCode, replyCode, close.replyText);
  if (text !== undefined) assert.match(close.replyText, text);
  await client.closed;
  await broker.waitForLog(new RegExp(`WARN .*peer=127\\.0\\.0\\.1:${client.localPort}\\b`));
  await assertWitnessWorks();
}

async function assertWitnessWorks(): Promise<void> {
  witnessChannel++;
  await witness.openChannel(witnessChannel);
}

const channelOpen = { name: 'channel.open', arguments: { reserved1: '' } } as const;
const publish = { name: 'basic.publish', arguments: { reserved1: 0, exchange: '', routingKey: 'q', mandatory: false, immediate: false } } as const;

test('a wrong protocol header gets ours back, then the socket is closed', async () => {
  const client = await RawAmqpClient.connect(amqpPort);
  client.sendRaw(Buffer.from('AMQP\x00\x00\x08\x00'));
  await client.closed;
  assert.deepEqual(client.received, protocolHeader);
  await broker.waitForLog(/unsupported protocol header/);
  await assertWitnessWorks();
});

test('HTTP instead of AMQP gets the protocol header back too', async () => {
  const client = await RawAmqpClient.connect(amqpPort);
  client.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await client.closed;
  assert.deepEqual(client.received, protocolHeader);
});

test('a bad frame-end octet is 501 FRAME_ERROR', async () => {
  const client = await openClient();
  const frame = Buffer.from(methodPayload(channelOpen));
  const bytes = Buffer.concat([Buffer.from([frameTypes.method, 0, 1, 0, 0, 0, frame.length]), frame, Buffer.from([0x00])]);
  client.sendRaw(bytes);
  await assertClosedWith(client, 501, /^FRAME_ERROR - frame end octet/);
});

test('a frame over the negotiated frame_max is 501, from its header alone (a huge declared size is never allocated)', async () => {
  const client = await openClient({ frameMax: 4096 });
  // Only the 7 header octets of a frame declaring 2 GiB: the broker must not wait for (or reserve) its payload.
  client.sendRaw(Buffer.from([frameTypes.body, 0, 1, 0x7f, 0xff, 0xff, 0xff]));
  await assertClosedWith(client, 501, /exceeds frame_max 4096/);
});

test('a frame over frame_max during the handshake is 501 too', async () => {
  const client = await RawAmqpClient.connect(amqpPort);
  client.sendRaw(protocolHeader);
  await client.expect('connection.start');
  client.sendRaw(Buffer.from([frameTypes.method, 0, 0, 0xff, 0xff, 0xff, 0xf0]));
  await assertClosedWith(client, 501);
});

test('an unknown frame type is 501', async () => {
  const client = await openClient();
  client.sendRaw(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0xce]));
  await assertClosedWith(client, 501, /unknown frame type 9/);
});

test('an unknown class or method is 540 NOT_IMPLEMENTED', async () => {
  const client = await openClient();
  client.sendFrame(frameTypes.method, 1, Buffer.from([0, 99, 0, 1]));
  await assertClosedWith(client, 540, /^NOT_IMPLEMENTED - unknown method: class 99, method 1/);
});

test('method arguments that do not fit the payload are 501', async () => {
  const client = await openClient();
  const truncated = methodPayload(channelOpen).subarray(0, 4); // class and method ids, no shortstr
  client.sendFrame(frameTypes.method, 1, truncated);
  await assertClosedWith(client, 501, /^FRAME_ERROR - cannot decode method frame \(class 20, method 10\)/);
});

test('a heartbeat on a channel other than 0 is 501', async () => {
  const client = await openClient();
  client.sendFrame(frameTypes.heartbeat, 3, Buffer.alloc(0));
  await assertClosedWith(client, 501, /heartbeat frame on channel 3/);
});

test('a content header without basic.publish before it is 505 UNEXPECTED_FRAME', async () => {
  const client = await openClient();
  await client.openChannel(1);
  client.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: 3n, properties: {} }));
  await assertClosedWith(client, 505, /^UNEXPECTED_FRAME - expected method frame/);
});

test('a method between basic.publish and its content header is 505 UNEXPECTED_FRAME', async () => {
  const client = await openClient();
  await client.openChannel(1);
  client.sendMethod(1, publish);
  client.sendMethod(1, { name: 'basic.qos', arguments: { prefetchSize: 0, prefetchCount: 1, global: false } });
  await assertClosedWith(client, 505, /^UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead$/);
});

test('a method before the body is complete is 505, and so is a body frame past the declared size', async () => {
  const early = await openClient();
  await early.openChannel(1);
  early.sendMethod(1, publish);
  early.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: 10n, properties: {} }));
  early.sendFrame(frameTypes.body, 1, Buffer.alloc(4));
  early.sendMethod(1, publish);
  await assertClosedWith(early, 505, /expected content body/);

  const long = await openClient();
  await long.openChannel(1);
  long.sendMethod(1, publish);
  long.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: 10n, properties: {} }));
  long.sendFrame(frameTypes.body, 1, Buffer.alloc(6));
  long.sendFrame(frameTypes.body, 1, Buffer.alloc(6));
  await assertClosedWith(long, 505, /more than the 10 bytes/);
});

test('a body larger than amqp.maxContentBytes closes the channel with 406 from its header; the connection goes on', async () => {
  const client = await openClient();
  await client.openChannel(1);
  client.sendMethod(1, publish);
  client.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: BigInt(maxContentBytes + 1), properties: {} }));
  client.sendFrame(frameTypes.body, 1, Buffer.alloc(600)); // dropped: the channel is closing
  const close = await client.expect('channel.close');
  assert.equal(close.channel, 1);
  assert.equal(close.arguments.replyCode, 406);
  assert.equal(close.arguments.replyText, `PRECONDITION_FAILED - message size ${maxContentBytes + 1} is larger than configured max size ${maxContentBytes}`);
  assert.deepEqual([close.arguments.classId, close.arguments.methodId], [60, 40]);
  client.sendFrame(frameTypes.body, 1, Buffer.alloc(401)); // still dropped, before close-ok
  client.sendMethod(1, { name: 'channel.close-ok', arguments: {} });
  await client.openChannel(1); // the number is free again
  await client.openChannel(2);
  client.destroy();
});

test('channel.open above the negotiated channel_max, or on channel 0, is 504 CHANNEL_ERROR', async () => {
  const above = await openClient({ channelMax: 10 });
  await above.openChannel(10);
  above.sendMethod(11, channelOpen);
  await assertClosedWith(above, 504, /channel 11 is above the negotiated channel_max 10/);

  const zero = await openClient();
  zero.sendMethod(0, channelOpen);
  await assertClosedWith(zero, 504);
});

test('a method on a channel that is not open is 504 expected channel.open; a second channel.open is 504 too', async () => {
  const notOpen = await openClient();
  notOpen.sendMethod(5, { name: 'basic.qos', arguments: { prefetchSize: 0, prefetchCount: 1, global: false } });
  await assertClosedWith(notOpen, 504, /^CHANNEL_ERROR - expected 'channel.open'$/);

  const twice = await openClient();
  await twice.openChannel(1);
  twice.sendMethod(1, channelOpen);
  await assertClosedWith(twice, 504, /second 'channel.open' seen/);
});

test('a method only the server sends (basic.deliver) is 503 COMMAND_INVALID', async () => {
  const client = await openClient();
  await client.openChannel(1);
  client.sendMethod(1, { name: 'basic.deliver', arguments: { consumerTag: 'c', deliveryTag: 1n, redelivered: false, exchange: '', routingKey: 'q' } });
  await assertClosedWith(client, 503, /^COMMAND_INVALID - basic.deliver/);
});

test('tune-ok with frame_max under 4096 or over ours is 530 NOT_ALLOWED', async () => {
  for (const [frameMax, text] of [[1024, /frame_max = 1024 is lower than the minimum allowed value \(4096\)/], [10_000_000, /frame_max = 10000000 is higher than the maximum allowed value \(131072\)/]] as const) {
    const client = await RawAmqpClient.connect(amqpPort);
    client.sendRaw(protocolHeader);
    await client.expect('connection.start');
    client.sendMethod(0, { name: 'connection.start-ok', arguments: { clientProperties: new Map(), mechanism: 'PLAIN', response: Buffer.from('\0guest\0guest'), locale: 'en_US' } });
    await client.expect('connection.tune');
    client.sendMethod(0, { name: 'connection.tune-ok', arguments: { channelMax: 0, frameMax, heartbeat: 0 } });
    await assertClosedWith(client, 530, text);
  }
});

test('a wrong virtual host is 530 with RabbitMQ\'s text; an unknown mechanism is 403', async () => {
  const vhost = await RawAmqpClient.connect(amqpPort);
  await assert.rejects(vhost.handshake({ virtualHost: 'nowhere' }), /expected connection.open-ok, got connection.close .*NOT_ALLOWED - vhost nowhere not found/);
  await vhost.closed;

  const mechanism = await RawAmqpClient.connect(amqpPort);
  mechanism.sendRaw(protocolHeader);
  await mechanism.expect('connection.start');
  mechanism.sendMethod(0, { name: 'connection.start-ok', arguments: { clientProperties: new Map(), mechanism: 'EXTERNAL', response: Buffer.alloc(0), locale: 'en_US' } });
  await assertClosedWith(mechanism, 403, /unsupported authentication mechanism 'EXTERNAL'/);
});

test('a connection that stops in the middle of a frame is closed and logged', async () => {
  const client = await openClient();
  client.sendRaw(Buffer.from([frameTypes.method, 0, 1, 0, 0, 0, 50, 0, 20]));
  client.socket.end();
  await client.closed;
  await broker.waitForLog(new RegExp(`ended in the middle of a frame peer=127\\.0\\.0\\.1:${client.localPort}\\b`));
  await assertWitnessWorks();
});

test('a connection that sends nothing is closed after amqp.handshakeTimeoutMs', async () => {
  const started = Date.now();
  const silent = await RawAmqpClient.connect(amqpPort);
  await silent.closed;
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs >= 900 && elapsedMs < 10_000, `closed after ${elapsedMs} ms`);
  await broker.waitForLog(/amqp handshake timed out/);

  const stalled = await RawAmqpClient.connect(amqpPort);
  stalled.sendRaw(protocolHeader);
  await stalled.expect('connection.start');
  await stalled.closed; // no start-ok: the same deadline applies
  await assertWitnessWorks();
});

test('a client that negotiated heartbeats and goes silent gets heartbeats, then is dropped after two intervals', async () => {
  const client = await openClient({ heartbeat: 1 });
  const started = Date.now();
  await client.closed;
  const elapsedMs = Date.now() - started;
  assert.ok(elapsedMs >= 1500 && elapsedMs < 10_000, `dropped after ${elapsedMs} ms`);
  assert.ok(client.heartbeatsReceived >= 2, `${client.heartbeatsReceived} heartbeats received`);
  await broker.waitForLog(/missed heartbeats from client, timeout: 1s/);
  await assertWitnessWorks();
});
