/**
 * A raw AMQP 0-9-1 client over a plain TCP socket, built on Osprey's own frame reader and codecs,
 * for tests that must send what no real client would (bad frames, methods out of order) and see
 * exactly what comes back.
 *
 *   const client = await RawAmqpClient.connect(port);
 *   await client.handshake();                          // header, start-ok (PLAIN guest), tune-ok, open "/"
 *   client.sendMethod(1, { name: 'channel.open', arguments: { reserved1: '' } });
 *   await client.nextMethod();                         // channel.open-ok on channel 1
 *   const close = await client.expectConnectionClose();
 *   await client.closed;                               // the broker ended the socket
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { AmqpFrameReader, encodeFrame, frameTypes, protocolHeader } from '../../src/protocol/amqp/frame-reader.js';
import type { AmqpFrame, FrameType } from '../../src/protocol/amqp/frame-reader.js';
import { decodeMethodPayload, methodPayload } from '../../src/protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../src/protocol/amqp/method-payload.js';
import { emptyFieldTable } from '../../src/protocol/amqp/field-table.js';
import type { FieldTable } from '../../src/protocol/amqp/field-table.js';

export interface HandshakeOptions {
  readonly user?: string;
  readonly password?: string;
  readonly virtualHost?: string;
  /** tune-ok values; 0 each by default (take the broker's), heartbeat 0 (none). */
  readonly channelMax?: number;
  readonly frameMax?: number;
  readonly heartbeat?: number;
  readonly clientProperties?: FieldTable;
}

type MethodOf<Name extends AmqpMethod['name']> = Extract<AmqpMethod, { name: Name }>;

export class RawAmqpClient {
  /** Every byte received, for tests that look at raw answers (the protocol header). */
  received = Buffer.alloc(0);
  /** Resolves when the socket has closed (the broker ended or destroyed it). */
  readonly closed: Promise<void>;
  private readonly reader = new AmqpFrameReader(2 ** 31);
  private readonly frames: AmqpFrame[] = [];
  private wake: (() => void) | null = null;
  private isClosed = false;
  /** Heartbeat frames received (counted, not queued). */
  heartbeatsReceived = 0;
  /** This end's port: the broker's logs name the connection by it (peer=127.0.0.1:PORT). */
  readonly localPort: number;

  private constructor(readonly socket: Socket) {
    this.localPort = socket.localPort ?? 0;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.reader.push(chunk);
      try {
        for (let frame = this.reader.next(); frame !== null; frame = this.reader.next()) {
          if (frame.type === frameTypes.heartbeat) this.heartbeatsReceived++;
          else this.frames.push(frame);
        }
      } catch {
        // raw bytes that are not frames (a protocol header): kept in `received`
      }
      this.wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawAmqpClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawAmqpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** True once the socket closed. */
  get ended(): boolean {
    return this.isClosed;
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  sendFrame(type: FrameType, channel: number, payload: Buffer): void {
    this.socket.write(encodeFrame(type, channel, payload));
  }

  sendMethod(channel: number, method: AmqpMethod): void {
    this.sendFrame(frameTypes.method, channel, methodPayload(method));
  }

  /** The next frame other than a heartbeat; rejects if the socket closes or nothing comes within timeoutMs. */
  async nextFrame(timeoutMs = 5000): Promise<AmqpFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.isClosed) throw new Error('the broker closed the socket');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  async nextMethod(timeoutMs = 5000): Promise<{ readonly channel: number; readonly method: AmqpMethod }> {
    const frame = await this.nextFrame(timeoutMs);
    if (frame.type !== frameTypes.method) throw new Error(`expected a method frame, got frame type ${frame.type}`);
    const method = decodeMethodPayload(frame.payload);
    if (method.name === 'unknown') throw new Error(`unknown method ${method.classId}.${method.methodId}`);
    return { channel: frame.channel, method };
  }

  /** The next method, which must be `name`. */
  async expect<Name extends AmqpMethod['name']>(name: Name, timeoutMs = 5000): Promise<MethodOf<Name> & { readonly channel: number }> {
    const { channel, method } = await this.nextMethod(timeoutMs);
    if (method.name !== name) throw new Error(`expected ${name}, got ${method.name} ${JSON.stringify(method.arguments, replacer)}`);
    return { ...(method as MethodOf<Name>), channel };
  }

  /** Waits for connection.close, answers close-ok, and returns its arguments. */
  async expectConnectionClose(timeoutMs = 5000): Promise<MethodOf<'connection.close'>['arguments']> {
    for (;;) {
      const { method } = await this.nextMethod(timeoutMs);
      if (method.name === 'connection.close') {
        if (!this.isClosed) this.sendMethod(0, { name: 'connection.close-ok', arguments: {} });
        return method.arguments;
      }
    }
  }

  /** Protocol header, start-ok, tune-ok and open; resolves after open-ok. */
  async handshake(options: HandshakeOptions = {}): Promise<{ readonly start: MethodOf<'connection.start'>; readonly tune: MethodOf<'connection.tune'> }> {
    this.sendRaw(protocolHeader);
    const start = await this.expect('connection.start');
    const response = Buffer.from(`\0${options.user ?? 'guest'}\0${options.password ?? 'guest'}`);
    this.sendMethod(0, { name: 'connection.start-ok', arguments: { clientProperties: options.clientProperties ?? emptyFieldTable(), mechanism: 'PLAIN', response, locale: 'en_US' } });
    const tune = await this.expect('connection.tune');
    this.sendMethod(0, { name: 'connection.tune-ok', arguments: { channelMax: options.channelMax ?? 0, frameMax: options.frameMax ?? 0, heartbeat: options.heartbeat ?? 0 } });
    this.sendMethod(0, { name: 'connection.open', arguments: { virtualHost: options.virtualHost ?? '/', reserved1: '', reserved2: false } });
    await this.expect('connection.open-ok');
    return { start, tune };
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, { name: 'channel.open', arguments: { reserved1: '' } });
    const reply = await this.expect('channel.open-ok');
    if (reply.channel !== channel) throw new Error(`channel.open-ok on channel ${reply.channel}, expected ${channel}`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
