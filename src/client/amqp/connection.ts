/**
 * One AMQP 0-9-1 connection to a broker, and the channels on it.
 *
 * Opening, on channel 0 (AMQP 0-9-1, section 2.2.4):
 *
 *   client                                   broker
 *   'AMQP' 0 0 9 1  ──────────────────────▶
 *                   ◀──────────────────────  connection.start   (mechanisms, server properties)
 *   connection.start-ok (PLAIN \0user\0password) ──▶
 *                   ◀──────────────────────  connection.tune    (channel_max, frame_max, heartbeat)
 *   connection.tune-ok (each the lower of ours and the broker's; 0 = no limit)
 *   connection.open (vhost)  ─────────────▶
 *                   ◀──────────────────────  connection.open-ok
 *
 * A refused login or vhost comes back as connection.close (403, 530): the connect promise rejects
 * with an AmqpClosedError carrying it (we announce authentication_failure_close so RabbitMQ says
 * why instead of dropping the socket). Later, a connection.close from the broker is answered with
 * close-ok and fails every channel with the same error. Heartbeats, when negotiated (default off),
 * are sent every half interval; two silent intervals from the broker end the connection.
 */
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { AmqpFrameReader, frameTypes, protocolHeader } from '../../protocol/amqp/frame-reader.js';
import type { AmqpFrame } from '../../protocol/amqp/frame-reader.js';
import { decodeMethodPayload } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { AmqpChannel } from './channel.js';
import { AmqpClientError, AmqpClosedError, AmqpConnectionLostError } from './errors.js';
import { FrameWriter } from './frame-writer.js';
import { parseAmqpUrl } from './url.js';
import type { AmqpConnectionSettings } from './url.js';

export interface AmqpConnectOptions {
  /** Gives up on the TCP connect and the handshake after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Shown by the broker (connection_name), e.g. in rabbitmqctl list_connections. */
  readonly connectionName?: string;
}

/** What connection.tune / tune-ok settled on. */
export interface AmqpTuning {
  readonly channelMax: number;
  readonly frameMaxBytes: number;
  readonly heartbeatSeconds: number;
}

/** The most channels we open on one connection, whatever the broker allows. */
const channelMaxLimit = 2047;
const defaultConnectTimeoutMs = 10_000;
const closeTimeoutMs = 5_000;

type MethodNamed<Name extends AmqpMethod['name']> = Extract<AmqpMethod, { name: Name }>;

export async function connectAmqp(target: string | AmqpConnectionSettings, options: AmqpConnectOptions = {}): Promise<AmqpConnection> {
  const settings = typeof target === 'string' ? parseAmqpUrl(target) : target;
  const socket = connectTcp({ host: settings.host, port: settings.port });
  socket.setNoDelay(true);
  const connection = new AmqpConnection(socket, settings, options.connectionName ?? 'osprey');
  const timeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
  const timer = setTimeout(() => connection.destroy(new AmqpConnectionLostError(`no AMQP handshake with ${settings.host}:${settings.port} within ${timeoutMs} ms`)), timeoutMs);
  try {
    await connection.opened;
    return connection;
  } finally {
    clearTimeout(timer);
  }
}

export class AmqpConnection {
  readonly writer: FrameWriter;
  /** Resolves when open-ok arrives; rejects if the handshake fails. */
  readonly opened: Promise<void>;
  private readonly reader: AmqpFrameReader;
  private readonly channels = new Map<number, AmqpChannel>();
  private state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  private resolveOpened!: () => void;
  private rejectOpened!: (error: Error) => void;
  private readonly closedPromise: Promise<Error | null>;
  private resolveClosed!: (error: Error | null) => void;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastReceivedAtMs = Date.now();
  private nextChannelId = 1;
  private closeError: Error | null = null;
  serverProperties: FieldTable = new Map();
  tuning: AmqpTuning;
  /** True between connection.blocked and connection.unblocked (the broker is short of memory or disk). */
  blocked = false;

  constructor(
    private readonly socket: Socket,
    private readonly settings: AmqpConnectionSettings,
    private readonly connectionName: string,
  ) {
    this.tuning = { channelMax: channelMaxLimit, frameMaxBytes: settings.frameMaxBytes, heartbeatSeconds: settings.heartbeatSeconds };
    this.reader = new AmqpFrameReader(settings.frameMaxBytes);
    this.writer = new FrameWriter(socket, settings.frameMaxBytes);
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    this.opened.catch(() => undefined); // handled by whoever awaits it; never an unhandled rejection
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('connect', () => {
      this.writer.raw(protocolHeader);
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.destroy(new AmqpConnectionLostError(`${this.address}: ${error.message}`)));
    socket.on('close', () => this.destroy(new AmqpConnectionLostError(`${this.address}: the broker closed the connection`)));
  }

  get address(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  /** Resolves once the connection is closed: null after close(), the error otherwise. */
  get closed(): Promise<Error | null> {
    return this.closedPromise;
  }

  /** Opens a channel on the next free number. */
  async createChannel(): Promise<AmqpChannel> {
    if (this.state !== 'open') throw this.closeError ?? new AmqpClientError(`connection is ${this.state}`);
    const channel = new AmqpChannel(this.allocateChannelId(), { writer: this.writer, release: (id) => this.channels.delete(id) });
    this.channels.set(channel.id, channel);
    await channel.open();
    return channel;
  }

  /** Resolves once the socket can take more (after a publish returned false). */
  async drained(): Promise<void> {
    if (this.writer.queuedBytes > 0) await new Promise((resolve) => setImmediate(resolve));
    if (!this.socket.writableNeedDrain || this.state === 'closed') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** connection.close with 200, waits for close-ok (at most 5 s), then ends the socket. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state !== 'closing') {
      this.state = 'closing';
      this.writer.method(0, { name: 'connection.close', arguments: { replyCode: replyCodes.replySuccess, replyText: 'closed by the client', classId: 0, methodId: 0 } });
    }
    const timer = setTimeout(() => this.destroy(null), closeTimeoutMs);
    await this.closedPromise;
    clearTimeout(timer);
  }

  /** Ends everything at once: channels fail with `error` (nothing pending fails when null). */
  destroy(error: Error | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error ?? new AmqpClientError('the connection is closed');
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.writer.flush();
    this.socket.end();
    this.socket.destroySoon();
    for (const channel of [...this.channels.values()]) channel.connectionEnded(error);
    this.channels.clear();
    this.rejectOpened(this.closeError);
    this.resolveClosed(error);
  }

  private receive(chunk: Buffer): void {
    this.lastReceivedAtMs = Date.now();
    this.reader.push(chunk);
    try {
      for (let frame = this.reader.next(); frame !== null; frame = this.state === 'closed' ? null : this.reader.next()) this.dispatch(frame);
      // Acks and replies written while handling this chunk leave now, in one write, rather than at
      // the end of the turn: the broker's prefetch window reopens sooner.
      this.writer.flush();
    } catch (error) {
      // A frame we cannot make sense of: tell the broker why, then drop the connection.
      const message = error instanceof Error ? error.message : String(error);
      this.writer.method(0, { name: 'connection.close', arguments: { replyCode: replyCodes.frameError, replyText: message.slice(0, 255), classId: 0, methodId: 0 } });
      this.destroy(new AmqpClientError(`protocol error from ${this.address}: ${message}`));
    }
  }

  private dispatch(frame: AmqpFrame): void {
    if (frame.type === frameTypes.heartbeat) return;
    if (frame.channel !== 0) {
      const channel = this.channels.get(frame.channel);
      // Frames for a channel we already consider closed (after our close-ok) are dropped.
      channel?.handleFrame(frame);
      return;
    }
    if (frame.type !== frameTypes.method) throw new AmqpClientError(`frame type ${frame.type} on channel 0`);
    const method = decodeMethodPayload(frame.payload);
    if (method.name === 'unknown') throw new AmqpClientError(`unknown method ${method.classId}.${method.methodId} on channel 0`);
    this.handleConnectionMethod(method);
  }

  private handleConnectionMethod(method: AmqpMethod): void {
    switch (method.name) {
      case 'connection.start':
        return this.startOk(method);
      case 'connection.secure':
        throw new AmqpClientError('the broker asked for a SASL challenge; only PLAIN is supported');
      case 'connection.tune':
        return this.tuneOk(method);
      case 'connection.open-ok':
        this.state = 'open';
        this.startHeartbeats();
        this.resolveOpened();
        return;
      case 'connection.close': {
        const { replyCode, replyText, classId, methodId } = method.arguments;
        this.writer.method(0, { name: 'connection.close-ok', arguments: {} });
        this.destroy(new AmqpClosedError('connection', replyCode, replyText, classId, methodId));
        return;
      }
      case 'connection.close-ok':
        this.destroy(null);
        return;
      case 'connection.blocked':
        this.blocked = true;
        return;
      case 'connection.unblocked':
        this.blocked = false;
        return;
      default:
        throw new AmqpClientError(`unexpected ${method.name} on channel 0`);
    }
  }

  private startOk(start: MethodNamed<'connection.start'>): void {
    this.serverProperties = start.arguments.serverProperties;
    const mechanisms = start.arguments.mechanisms.toString('utf8').split(' ');
    if (!mechanisms.includes('PLAIN')) throw new AmqpClientError(`the broker offers ${mechanisms.join(', ')}; only PLAIN is supported`);
    const response = Buffer.from(`\0${this.settings.user}\0${this.settings.password}`, 'utf8');
    this.writer.method(0, { name: 'connection.start-ok', arguments: { clientProperties: this.clientProperties(), mechanism: 'PLAIN', response, locale: 'en_US' } });
  }

  private tuneOk(tune: MethodNamed<'connection.tune'>): void {
    const lower = (ours: number, theirs: number) => (theirs === 0 ? ours : Math.min(ours, theirs));
    const heartbeatSeconds = this.settings.heartbeatSeconds === 0 ? 0 : lower(this.settings.heartbeatSeconds, tune.arguments.heartbeat);
    this.tuning = { channelMax: lower(channelMaxLimit, tune.arguments.channelMax), frameMaxBytes: lower(this.settings.frameMaxBytes, tune.arguments.frameMax), heartbeatSeconds };
    this.reader.setMaxFrameBytes(this.tuning.frameMaxBytes);
    this.writer.frameMaxBytes = this.tuning.frameMaxBytes;
    this.writer.method(0, { name: 'connection.tune-ok', arguments: { channelMax: this.tuning.channelMax, frameMax: this.tuning.frameMaxBytes, heartbeat: heartbeatSeconds } });
    this.writer.method(0, { name: 'connection.open', arguments: { virtualHost: this.settings.vhost, reserved1: '', reserved2: false } });
  }

  private clientProperties(): FieldTable {
    const text = (value: string): FieldValue => ({ type: 'longString', value: Buffer.from(value, 'utf8') });
    const yes: FieldValue = { type: 'boolean', value: true };
    const capabilities = new Map<string, FieldValue>([
      ['publisher_confirms', yes],
      ['basic.nack', yes],
      ['consumer_cancel_notify', yes],
      ['exchange_exchange_bindings', yes],
      ['connection.blocked', yes],
      ['authentication_failure_close', yes],
    ]);
    return new Map<string, FieldValue>([
      ['product', text('osprey')],
      ['platform', text(`Node.js ${process.version}`)],
      ['connection_name', text(this.connectionName)],
      ['capabilities', { type: 'table', value: capabilities }],
    ]);
  }

  private startHeartbeats(): void {
    const seconds = this.tuning.heartbeatSeconds;
    if (seconds === 0) return;
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastReceivedAtMs > 2 * seconds * 1000) {
        this.destroy(new AmqpConnectionLostError(`${this.address}: no frame from the broker for ${2 * seconds} s (heartbeat)`));
        return;
      }
      this.writer.heartbeat();
    }, (seconds * 1000) / 2);
    this.heartbeatTimer.unref();
  }

  private allocateChannelId(): number {
    for (let tried = 0; tried < this.tuning.channelMax; tried++) {
      const id = this.nextChannelId;
      this.nextChannelId = id >= this.tuning.channelMax ? 1 : id + 1;
      if (!this.channels.has(id)) return id;
    }
    throw new AmqpClientError(`all ${this.tuning.channelMax} channels are open`);
  }
}
