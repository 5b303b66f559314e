/**
 * The connection layer's side of the channel-handler boundary, in-process: a listener on a free
 * port with scripted sessions, and a raw client, for what is hard to bring about through a real
 * broker: content assembled and handed to handlePublish, handlers' promises holding their channel's
 * frames in order, errors thrown by handlers, ChannelOutput's content splitting and back-pressure,
 * channel.flow and blocked notifications.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultBrokerConfig } from '../../../../src/config/broker-config.js';
import type { BrokerConfig } from '../../../../src/config/broker-config.js';
import { createLogger } from '../../../../src/logging/logger.js';
import { contentHeaderPayload, decodeContentHeaderPayload } from '../../../../src/protocol/amqp/content-header.js';
import { frameTypes } from '../../../../src/protocol/amqp/frame-reader.js';
import type { AmqpMethod } from '../../../../src/protocol/amqp/method-payload.js';
import { startAmqpListener } from '../../../../src/server/amqp/listener.js';
import type { AmqpListener } from '../../../../src/server/amqp/listener.js';
import type { AmqpSessions, ChannelHandler, ChannelOutput, ConnectionInfo, IncomingPublish } from '../../../../src/server/amqp/channel-handler.js';
import { AmqpChannelError } from '../../../../src/server/amqp/errors.js';
import { RawAmqpClient } from '../../../helpers/raw-amqp-client.js';

/** What each test scripts the handlers to do, and what they saw. */
interface Script {
  handleMethod?: (method: AmqpMethod, output: ChannelOutput) => void | Promise<void>;
}

let script: Script = {};
const seen: string[] = [];
const publishes: IncomingPublish[] = [];
const flows: boolean[] = [];
let closedHandlers = 0;
let closedConnections = 0;
let blockedListener: (blocked: boolean, reason: string) => void = () => undefined;
const logLines: string[] = [];

const sessions: AmqpSessions = {
  hasVirtualHost: (name) => name === '/',
  openChannel(_connection: ConnectionInfo, output: ChannelOutput): ChannelHandler {
    return {
      handleMethod: (method) => {
        seen.push(`${output.channelNumber}:${method.name}`);
        return script.handleMethod?.(method, output);
      },
      handlePublish: (publish) => {
        publishes.push(publish);
      },
      setFlow: (active) => flows.push(active),
      close: () => closedHandlers++,
    };
  },
  connectionClosed: () => closedConnections++,
  onBlockedChange: (listener) => {
    blockedListener = listener;
  },
  blocked: false,
};

const config: BrokerConfig = { ...defaultBrokerConfig, amqpPort: 0, amqp: { ...defaultBrokerConfig.amqp, maxBufferedBytesPerConnection: 64 * 1024 } };
let listener: AmqpListener;
const clients: RawAmqpClient[] = [];

before(async () => {
  listener = await startAmqpListener(config, sessions, createLogger('debug', (line) => logLines.push(line)));
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  script = {};
  seen.length = 0;
  publishes.length = 0;
  flows.length = 0;
});

after(async () => {
  await listener.close();
});

async function client(options: Parameters<RawAmqpClient['handshake']>[0] = {}): Promise<RawAmqpClient> {
  const connected = await RawAmqpClient.connect(listener.port);
  clients.push(connected);
  await connected.handshake(options);
  return connected;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const publish = { name: 'basic.publish', arguments: { reserved1: 0, exchange: 'x', routingKey: 'key', mandatory: true, immediate: false } } as const;
const qos = (prefetchCount: number): AmqpMethod => ({ name: 'basic.qos', arguments: { prefetchSize: 0, prefetchCount, global: false } });

test('a publish whose body spans several frames reaches handlePublish whole, with its raw properties; an empty body needs no body frame', async () => {
  const connection = await client({ frameMax: 4096 });
  await connection.openChannel(1);
  const body = Buffer.alloc(10_000, 7);
  const header = contentHeaderPayload({ bodySize: BigInt(body.length), properties: { contentType: 'text/plain', headers: new Map([['a', { type: 'int32', value: 5 }]]) } });
  connection.sendMethod(1, publish);
  connection.sendFrame(frameTypes.header, 1, header);
  for (let offset = 0; offset < body.length; offset += 4088) connection.sendFrame(frameTypes.body, 1, body.subarray(offset, offset + 4088));
  connection.sendMethod(1, publish);
  connection.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: 0n, properties: {} }));
  await waitFor(() => publishes.length === 2, 'two publishes');
  const [first, empty] = publishes;
  assert.ok(first !== undefined && empty !== undefined);
  assert.deepEqual([first.exchange, first.routingKey, first.mandatory, first.immediate], ['x', 'key', true, false]);
  assert.ok(first.body.equals(body));
  assert.ok(first.properties.equals(header.subarray(12)));
  assert.equal(first.header.bodySize, 10_000n);
  assert.equal(first.header.properties.contentType, 'text/plain');
  assert.equal(empty.body.length, 0);
});

test("a handler's pending promise holds its channel's later methods in order; other channels go on", async () => {
  let release: () => void = () => undefined;
  script.handleMethod = (method, output) => {
    if (method.name === 'basic.qos' && method.arguments.prefetchCount === 1 && output.channelNumber === 1) {
      return new Promise<void>((resolve) => (release = resolve));
    }
    return undefined;
  };
  const connection = await client();
  await connection.openChannel(1);
  await connection.openChannel(2);
  connection.sendMethod(1, qos(1));
  connection.sendMethod(1, qos(2));
  connection.sendMethod(1, qos(3));
  connection.sendMethod(2, qos(9));
  await waitFor(() => seen.includes('2:basic.qos'), 'channel 2 handled');
  assert.deepEqual(seen, ['1:basic.qos', '2:basic.qos'], 'channel 1 waits behind its pending handler');
  release();
  await waitFor(() => seen.length === 4, 'the held methods');
  assert.deepEqual(seen, ['1:basic.qos', '2:basic.qos', '1:basic.qos', '1:basic.qos']);
});

test('frames held behind a pending handler past maxBufferedBytesPerConnection stop the reading; all are handled once it settles', async () => {
  let release: () => void = () => undefined;
  script.handleMethod = (method) => {
    if (method.name === 'basic.qos') return new Promise<void>((resolve) => (release = resolve));
    return undefined;
  };
  const connection = await client();
  await connection.openChannel(1);
  connection.sendMethod(1, qos(1));
  await waitFor(() => seen.length === 1, 'the pending handler');
  // 32 MiB of content behind it: more than the kernel's socket buffers take, so once the broker stops
  // reading (past its 64 KiB limit) the rest stays in the client's socket.
  const body = Buffer.alloc(32 * 1024 * 1024, 1);
  connection.sendMethod(1, publish);
  connection.sendFrame(frameTypes.header, 1, contentHeaderPayload({ bodySize: BigInt(body.length), properties: {} }));
  for (let offset = 0; offset < body.length; offset += 131_064) connection.sendFrame(frameTypes.body, 1, body.subarray(offset, offset + 131_064));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(connection.socket.writableLength > 8 * 1024 * 1024, `the broker kept reading: ${connection.socket.writableLength} bytes left unsent`);
  assert.equal(publishes.length, 0);
  release();
  await waitFor(() => publishes.length === 1, 'the publish');
  assert.ok(publishes[0]?.body.equals(body));
});

test('AmqpChannelError closes only the channel, naming the method; frames until close-ok are dropped', async () => {
  script.handleMethod = (method) => {
    if (method.name === 'queue.declare') throw new AmqpChannelError(404, "NOT_FOUND - no queue 'q' in vhost '/'");
  };
  const connection = await client();
  await connection.openChannel(1);
  const closedBefore = closedHandlers;
  connection.sendMethod(1, { name: 'queue.declare', arguments: { reserved1: 0, queue: 'q', passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: new Map() } });
  const close = await connection.expect('channel.close');
  assert.deepEqual({ ...close.arguments }, { replyCode: 404, replyText: "NOT_FOUND - no queue 'q' in vhost '/'", classId: 50, methodId: 10 });
  assert.equal(closedHandlers, closedBefore + 1);
  connection.sendMethod(1, qos(1)); // dropped
  connection.sendMethod(1, { name: 'channel.close-ok', arguments: {} });
  await connection.openChannel(1);
  connection.sendMethod(1, qos(2));
  await waitFor(() => seen.length === 2, 'the qos after reopening');
  assert.deepEqual(seen, ['1:queue.declare', '1:basic.qos']);
});

test('a channel closed by both sides at once, then reopened while its handler was still pending, ends up open again', async () => {
  let fail: (error: Error) => void = () => undefined;
  script.handleMethod = (method) => {
    if (method.name === 'basic.qos') return new Promise<void>((_, reject) => (fail = reject));
    return undefined;
  };
  const connection = await client();
  await connection.openChannel(1);
  connection.sendMethod(1, qos(1));
  await waitFor(() => seen.length === 1, 'the pending handler');
  // Held behind the pending qos: the client's own close, and a new open of the same number.
  connection.sendMethod(1, { name: 'channel.close', arguments: { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 } });
  connection.sendMethod(1, { name: 'channel.open', arguments: { reserved1: '' } });
  await new Promise((resolve) => setTimeout(resolve, 50));
  fail(new AmqpChannelError(406, 'PRECONDITION_FAILED - no'));
  const close = await connection.expect('channel.close');
  assert.equal(close.arguments.replyCode, 406);
  assert.equal((await connection.expect('channel.close-ok')).channel, 1);
  assert.equal((await connection.expect('channel.open-ok')).channel, 1);
  connection.sendMethod(1, { name: 'basic.recover', arguments: { requeue: true } });
  await waitFor(() => seen.length === 2, 'a method on the reopened channel');
  assert.deepEqual(seen, ['1:basic.qos', '1:basic.recover']);
});

test('a handler that fails unexpectedly closes the connection with 541; every handler is closed, then connectionClosed', async () => {
  script.handleMethod = () => Promise.reject(new Error('disk on fire'));
  const connection = await client();
  await connection.openChannel(1);
  await connection.openChannel(2);
  const handlersBefore = closedHandlers;
  const connectionsBefore = closedConnections;
  connection.sendMethod(2, qos(1));
  const close = await connection.expectConnectionClose();
  assert.deepEqual({ ...close }, { replyCode: 541, replyText: 'INTERNAL_ERROR', classId: 60, methodId: 10 });
  assert.equal(closedHandlers, handlersBefore + 2);
  assert.equal(closedConnections, connectionsBefore + 1);
  assert.ok(logLines.some((line) => line.includes('ERROR amqp channel handler failed') && line.includes('disk on fire')));
  await connection.closed;
});

test('sendContent splits a body into frames of frame_max − 8 bytes after the method and header', async () => {
  const body = Buffer.alloc(10_000);
  for (let index = 0; index < body.length; index++) body[index] = index % 251;
  const properties = contentHeaderPayload({ bodySize: 0n, properties: { messageId: 'm1' } }).subarray(12);
  script.handleMethod = (method, output) => {
    if (method.name !== 'basic.get') return;
    output.sendContent({ name: 'basic.get-ok', arguments: { deliveryTag: 1n, redelivered: false, exchange: '', routingKey: 'q', messageCount: 0 } }, properties, body);
  };
  const connection = await client({ frameMax: 4096 });
  await connection.openChannel(1);
  connection.sendMethod(1, { name: 'basic.get', arguments: { reserved1: 0, queue: 'q', noAck: true } });
  const getOk = await connection.expect('basic.get-ok');
  assert.equal(getOk.channel, 1);
  const header = await connection.nextFrame();
  assert.equal(header.type, frameTypes.header);
  const decoded = decodeContentHeaderPayload(header.payload);
  assert.equal(decoded.bodySize, 10_000n);
  assert.equal(decoded.properties.messageId, 'm1');
  const sizes: number[] = [];
  const pieces: Buffer[] = [];
  while (pieces.reduce((total, piece) => total + piece.length, 0) < body.length) {
    const frame = await connection.nextFrame();
    assert.equal(frame.type, frameTypes.body);
    sizes.push(frame.payload.length);
    pieces.push(frame.payload);
  }
  assert.deepEqual(sizes, [4088, 4088, 1824]);
  assert.ok(Buffer.concat(pieces).equals(body));
});

test('writable turns false past maxBufferedBytesPerConnection and onWritable fires once the client reads again', async () => {
  let output: ChannelOutput | null = null;
  let writableCalls = 0;
  script.handleMethod = (method, channelOutput) => {
    if (method.name !== 'basic.get') return;
    output = channelOutput;
    channelOutput.onWritable(() => writableCalls++);
  };
  const connection = await client();
  await connection.openChannel(1);
  connection.socket.pause();
  connection.sendMethod(1, { name: 'basic.get', arguments: { reserved1: 0, queue: 'q', noAck: true } });
  await waitFor(() => output !== null, 'the handler');
  const channelOutput = output as unknown as ChannelOutput;
  // Deliver until the kernel's buffers are full and bytes stay in the socket (the client reads nothing).
  const body = Buffer.alloc(256 * 1024);
  let sent = 0;
  for (; sent < 400; sent++) {
    channelOutput.sendContent({ name: 'basic.get-ok', arguments: { deliveryTag: BigInt(sent + 1), redelivered: false, exchange: '', routingKey: 'q', messageCount: 0 } }, Buffer.from([0, 0]), body);
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (!channelOutput.writable) break;
  }
  assert.equal(channelOutput.writable, false, `still writable after ${sent} deliveries of 256 KiB`);
  // Earlier deliveries drained into the kernel and called onWritable; now nothing drains until the client reads.
  const callsWhenFull = writableCalls;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(writableCalls, callsWhenFull);
  assert.equal(channelOutput.writable, false);
  connection.socket.resume();
  await waitFor(() => writableCalls > callsWhenFull, 'onWritable');
  assert.equal(channelOutput.writable, true);
});

test('channel.flow reaches setFlow and is answered flow-ok', async () => {
  const connection = await client();
  await connection.openChannel(3);
  connection.sendMethod(3, { name: 'channel.flow', arguments: { active: false } });
  const flowOk = await connection.expect('channel.flow-ok');
  assert.equal(flowOk.arguments.active, false);
  assert.deepEqual(flows, [false]);
});

test('connection.blocked and unblocked go to clients that advertised the capability, only', async () => {
  const capabilities = new Map([['capabilities', { type: 'table' as const, value: new Map([['connection.blocked', { type: 'boolean' as const, value: true }]]) }]]);
  const aware = await client({ clientProperties: capabilities });
  const unaware = await client();
  blockedListener(true, 'low on disk');
  const blocked = await aware.expect('connection.blocked');
  assert.equal(blocked.arguments.reason, 'low on disk');
  blockedListener(false, '');
  await aware.expect('connection.unblocked');
  await unaware.openChannel(1); // its next frame is the open-ok, not a blocked notice
});

test('update-secret is answered 540', async () => {
  const connection = await client();
  connection.sendMethod(0, { name: 'connection.update-secret', arguments: { newSecret: Buffer.from('token'), reason: 'refresh' } });
  const close = await connection.expectConnectionClose();
  assert.equal(close.replyCode, 540);
});
