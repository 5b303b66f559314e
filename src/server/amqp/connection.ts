/**
 * One AMQP 0-9-1 connection: the socket, the frame reader and writer, the handshake (handshake.ts
 * decides, this sends), heartbeats (heartbeat.ts), the table of open channels (channel.ts) and the
 * closes.
 *
 *   state     header ─▶ start-ok ─▶ tune-ok ─▶ open ─▶ running
 *               │ (any state) connection.close from the client: close-ok, socket ended
 *               │ (any state) an error: connection.close sent ─▶ closing ─▶ close-ok or
 *               │             amqp.handshakeTimeoutMs ─▶ socket ended
 *               └ another protocol header: ours is written back, socket ended
 *
 * After the broker sent connection.close, every frame but close and close-ok is ignored. A frame
 * the reader cannot make out (bad frame-end, too large, unknown type) breaks the stream: the close
 * is sent and the socket ended at once, since no close-ok could be read.
 */
import type { Socket } from 'node:net';
import type { AmqpSettings } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import { AmqpFrameError, AmqpFrameReader, checkProtocolHeader, frameTypes, protocolHeader } from '../../protocol/amqp/frame-reader.js';
import type { AmqpFrame } from '../../protocol/amqp/frame-reader.js';
import { emptyFieldTable } from '../../protocol/amqp/field-table.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { AmqpChannel } from './channel.js';
import type { ChannelHost } from './channel.js';
import type { AmqpSessions, ConnectionInfo } from './channel-handler.js';
import { AmqpConnectionError } from './errors.js';
import { FrameWriter } from './frame-writer.js';
import { authenticate, type InterBrokerLogin, hasClientCapability, connectionStartMethod, connectionTuneMethod, negotiateTuning, readCredentials } from './handshake.js';
import { HeartbeatMonitor } from './heartbeat.js';
import { decodeMethodFrame, idsOf, noMethod } from './method-frames.js';
import type { MethodIds } from './method-frames.js';

type ConnectionState = 'header' | 'start-ok' | 'tune-ok' | 'open' | 'running' | 'closing' | 'closed';

export interface ConnectionServices {
  readonly settings: AmqpSettings;
  readonly sessions: AmqpSessions;
  readonly logger: Logger;
  /** The secret other brokers of the cluster log in with, once known. */
  readonly interBrokerLogin?: InterBrokerLogin;
}

export class AmqpConnection implements ChannelHost {
  readonly writer: FrameWriter;
  readonly peer: string;
  private readonly reader: AmqpFrameReader;
  private readonly channels = new Map<number, AmqpChannel>();
  private state: ConnectionState = 'header';
  private channelMax: number;
  private heartbeat: HeartbeatMonitor | null = null;
  private deadline: NodeJS.Timeout | null;
  private info: ConnectionInfo | null = null;
  private clientProperties: FieldTable = emptyFieldTable();
  private user = '';
  /** Logged in as another broker of the cluster (queue links), not a client. */
  private interBroker = false;
  private heldBytes = 0;
  private readingPaused = false;
  private readonly closedWaiters: Array<() => void> = [];
  /** Called once, after the socket closed. */
  onClosed: () => void = () => undefined;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly services: ConnectionServices,
  ) {
    const { settings } = services;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.reader = new AmqpFrameReader(settings.frameMaxBytes);
    this.writer = new FrameWriter(socket, settings.frameMaxBytes);
    this.channelMax = settings.channelMax;
    socket.setNoDelay(true);
    this.deadline = setTimeout(() => this.handshakeTimedOut(), settings.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => services.logger.debug('amqp connection socket error', { peer: this.peer, error: error.message }));
    socket.on('end', () => {
      if (this.reader.buffered > 0 && !this.isClosed()) {
        services.logger.warn('amqp connection ended in the middle of a frame', { peer: this.peer, bufferedBytes: this.reader.buffered });
      }
    });
    socket.on('close', () => this.socketClosed());
    socket.on('drain', () => {
      if (!this.writable) return;
      for (const channel of this.channels.values()) channel.notifyWritable();
    });
  }

  get writable(): boolean {
    return this.writer.unsentBytes <= this.services.settings.maxBufferedBytesPerConnection;
  }

  get maxContentBytes(): number {
    return this.services.settings.maxContentBytes;
  }

  /** Broker shutdown: connection.close 320, then the socket ends once close-ok arrives or the close times out. */
  shutdown(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    if (this.state === 'header') this.socket.destroy();
    else this.closeWithError(new AmqpConnectionError(replyCodes.connectionForced, 'CONNECTION_FORCED - broker shutdown'), noMethod, 'info');
    return closed;
  }

  /** sessions.onBlockedChange, forwarded by the listener. */
  blockedChanged(blocked: boolean, reason: string): void {
    if (this.state !== 'running' || !hasClientCapability(this.clientProperties, 'connection.blocked')) return;
    this.writer.sendMethod(0, blocked ? { name: 'connection.blocked', arguments: { reason } } : { name: 'connection.unblocked', arguments: {} });
  }

  // ChannelHost

  heldBytesChanged(deltaBytes: number): void {
    this.heldBytes += deltaBytes;
    const limit = this.services.settings.maxBufferedBytesPerConnection;
    if (!this.readingPaused && this.heldBytes > limit) {
      this.readingPaused = true;
      this.socket.pause();
    } else if (this.readingPaused && this.heldBytes <= limit) {
      this.readingPaused = false;
      this.socket.resume();
    }
  }

  connectionError(error: AmqpConnectionError, blame: MethodIds): void {
    this.closeWithError(error, blame, 'warn');
  }

  internalError(error: unknown, blame: MethodIds): void {
    const message = error instanceof Error ? error.message : String(error);
    this.services.logger.error('amqp channel handler failed', { peer: this.peer, classId: blame.classId, methodId: blame.methodId, error: message, stack: error instanceof Error ? error.stack : undefined });
    this.closeWithError(new AmqpConnectionError(replyCodes.internalError, 'INTERNAL_ERROR'), blame, 'warn');
  }

  channelGone(channelNumber: number, laterFrames: readonly AmqpFrame[]): void {
    this.channels.delete(channelNumber);
    for (const frame of laterFrames) {
      if (this.state !== 'running') return;
      this.routeChannelFrame(frame);
    }
  }

  // Reading

  private receive(chunk: Buffer): void {
    this.heartbeat?.received();
    if (this.state === 'closed') return;
    this.reader.push(chunk);
    if (this.state === 'header' && !this.readHeader()) return;
    try {
      for (let frame = this.reader.next(); frame !== null; frame = this.reader.next()) {
        this.handleFrame(frame);
        if (this.isClosed()) return;
      }
    } catch (error) {
      if (!(error instanceof AmqpFrameError)) throw error;
      this.streamBroken(new AmqpConnectionError(replyCodes.frameError, `FRAME_ERROR - ${error.message}`));
    }
  }

  /** The 8-octet protocol header; false while it is incomplete or when it was wrong. */
  private readHeader(): boolean {
    const header = this.reader.takeOctets(protocolHeader.length);
    if (header === null) return false;
    if (checkProtocolHeader(header) !== 'amqp-0-9-1') {
      this.services.logger.warn('amqp connection refused: unsupported protocol header', { peer: this.peer, header: header.toString('hex') });
      this.writer.sendRaw(protocolHeader);
      this.endSocket();
      return false;
    }
    this.state = 'start-ok';
    this.writer.sendMethod(0, connectionStartMethod());
    return true;
  }

  private handleFrame(frame: AmqpFrame): void {
    if (this.state === 'closing') {
      this.frameWhileClosing(frame);
    } else if (frame.type === frameTypes.heartbeat) {
      if (frame.channel !== 0) this.connectionError(new AmqpConnectionError(replyCodes.frameError, `FRAME_ERROR - heartbeat frame on channel ${frame.channel}`), noMethod);
    } else if (frame.channel === 0) {
      this.connectionFrame(frame);
    } else if (this.state !== 'running') {
      this.connectionError(new AmqpConnectionError(replyCodes.channelError, `CHANNEL_ERROR - frame on channel ${frame.channel} before the connection is open`), noMethod);
    } else {
      this.routeChannelFrame(frame);
    }
  }

  private connectionFrame(frame: AmqpFrame): void {
    if (frame.type !== frameTypes.method) {
      this.connectionError(new AmqpConnectionError(replyCodes.unexpectedFrame, 'UNEXPECTED_FRAME - content frame on channel 0'), noMethod);
      return;
    }
    const decoded = decodeMethodFrame(frame.payload);
    if ('error' in decoded) {
      this.connectionError(decoded.error, decoded.ids);
      return;
    }
    try {
      this.connectionMethod(decoded.method);
    } catch (error) {
      if (error instanceof AmqpConnectionError) this.connectionError(error, idsOf(decoded.method));
      else this.internalError(error, idsOf(decoded.method));
    }
  }

  private connectionMethod(method: AmqpMethod): void {
    if (method.name === 'connection.close') {
      this.closeFromClient(method.arguments.replyCode, method.arguments.replyText);
      return;
    }
    if (method.name.startsWith('connection.')) {
      if (this.state === 'start-ok' && method.name === 'connection.start-ok') return this.startOk(method.arguments);
      if (this.state === 'tune-ok' && method.name === 'connection.tune-ok') return this.tuneOk(method.arguments);
      if (this.state === 'open' && method.name === 'connection.open') return this.open(method.arguments.virtualHost);
      if (this.state === 'running' && method.name === 'connection.close-ok') return; // we sent no close
      if (this.state === 'running' && method.name === 'connection.update-secret') {
        // There are no expiring credentials (no OAuth 2 tokens) to replace.
        throw new AmqpConnectionError(replyCodes.notImplemented, 'NOT_IMPLEMENTED - connection.update-secret: there is no secret to update');
      }
      throw new AmqpConnectionError(replyCodes.commandInvalid, `COMMAND_INVALID - unexpected ${method.name} in connection state ${this.state}`);
    }
    throw new AmqpConnectionError(replyCodes.channelError, `CHANNEL_ERROR - ${method.name} on channel 0, which is the connection's; channels are numbered from 1`);
  }

  private startOk(startOk: { readonly clientProperties: FieldTable; readonly mechanism: string; readonly response: Buffer }): void {
    this.clientProperties = startOk.clientProperties;
    const credentials = readCredentials(startOk.mechanism, startOk.response);
    this.user = credentials.user;
    this.interBroker = authenticate(startOk.mechanism, credentials, this.socket.remoteAddress ?? '', this.services.interBrokerLogin) === 'inter-broker';
    this.state = 'tune-ok';
    this.writer.sendMethod(0, connectionTuneMethod(this.services.settings));
  }

  private tuneOk(tuneOk: { readonly channelMax: number; readonly frameMax: number; readonly heartbeat: number }): void {
    const tuning = negotiateTuning(this.services.settings, tuneOk);
    this.channelMax = tuning.channelMax;
    this.reader.setMaxFrameBytes(tuning.frameMaxBytes);
    this.writer.setFrameMaxBytes(tuning.frameMaxBytes);
    if (tuning.heartbeatSeconds > 0) {
      const writer = this.writer;
      const readingPaused = (): boolean => this.readingPaused;
      this.heartbeat = new HeartbeatMonitor(tuning.heartbeatSeconds, {
        get lastWriteMs() {
          return writer.lastWriteMs;
        },
        get readingPaused() {
          return readingPaused();
        },
        sendHeartbeat: () => writer.sendHeartbeat(),
        timedOut: () => {
          this.services.logger.warn(`missed heartbeats from client, timeout: ${tuning.heartbeatSeconds}s`, { peer: this.peer });
          this.socket.destroy();
        },
      });
    }
    this.state = 'open';
  }

  private open(virtualHost: string): void {
    if (!this.services.sessions.hasVirtualHost(virtualHost)) {
      throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - vhost ${virtualHost} not found`);
    }
    this.clearDeadline();
    this.info = { id: this.id, virtualHost, user: this.user, peer: this.peer, clientProperties: this.clientProperties, interBroker: this.interBroker };
    this.state = 'running';
    this.writer.sendMethod(0, { name: 'connection.open-ok', arguments: { reserved1: '' } });
    this.services.logger.debug('amqp connection open', { peer: this.peer, user: this.user, virtualHost });
    if (this.services.sessions.blocked) this.blockedChanged(true, 'the broker is short of resources');
  }

  // Channels

  private routeChannelFrame(frame: AmqpFrame): void {
    const channel = this.channels.get(frame.channel);
    if (channel !== undefined) {
      channel.receive(frame);
      return;
    }
    const decoded = frame.type === frameTypes.method ? decodeMethodFrame(frame.payload) : null;
    if (decoded !== null && 'error' in decoded) {
      this.connectionError(decoded.error, decoded.ids);
      return;
    }
    const blame = decoded === null ? noMethod : idsOf(decoded.method);
    if (decoded?.method.name !== 'channel.open') {
      this.connectionError(new AmqpConnectionError(replyCodes.channelError, "CHANNEL_ERROR - expected 'channel.open'"), blame);
      return;
    }
    if (frame.channel > this.channelMax) {
      this.connectionError(new AmqpConnectionError(replyCodes.channelError, `CHANNEL_ERROR - channel ${frame.channel} is above the negotiated channel_max ${this.channelMax}`), blame);
      return;
    }
    this.openChannel(frame.channel, blame);
  }

  private openChannel(channelNumber: number, blame: MethodIds): void {
    const info = this.info;
    if (info === null) throw new Error('channel opened before connection.open');
    const channel = new AmqpChannel(channelNumber, this);
    let handler;
    try {
      handler = this.services.sessions.openChannel(info, channel.output);
    } catch (error) {
      if (error instanceof AmqpConnectionError) this.connectionError(error, blame);
      else this.internalError(error, blame);
      return;
    }
    channel.attach(handler);
    this.channels.set(channelNumber, channel);
    this.writer.sendMethod(channelNumber, { name: 'channel.open-ok', arguments: { reserved1: Buffer.alloc(0) } });
  }

  // Closing

  private closeFromClient(replyCode: number, replyText: string): void {
    this.services.logger.debug('amqp connection closed by client', { peer: this.peer, replyCode, replyText });
    this.state = 'closed';
    this.releaseChannels();
    this.writer.sendMethod(0, { name: 'connection.close-ok', arguments: {} });
    this.endSocket();
  }

  private closeWithError(error: AmqpConnectionError, blame: MethodIds, level: 'warn' | 'info'): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.services.logger[level]('amqp connection closed by the broker', { peer: this.peer, replyCode: error.replyCode, replyText: error.replyText, classId: blame.classId, methodId: blame.methodId });
    this.state = 'closing';
    this.releaseChannels();
    this.writer.sendMethod(0, { name: 'connection.close', arguments: { replyCode: error.replyCode, replyText: error.replyText, classId: blame.classId, methodId: blame.methodId } });
    this.clearDeadline();
    this.deadline = setTimeout(() => this.socket.destroy(), this.services.settings.handshakeTimeoutMs);
  }

  /** The bytes cannot be read further: close, then end the socket without waiting for a close-ok. */
  private streamBroken(error: AmqpConnectionError): void {
    this.closeWithError(error, noMethod, 'warn');
    this.endSocket();
  }

  private frameWhileClosing(frame: AmqpFrame): void {
    if (frame.channel !== 0 || frame.type !== frameTypes.method) return;
    const decoded = decodeMethodFrame(frame.payload);
    if (!('method' in decoded)) return;
    if (decoded.method.name === 'connection.close') {
      this.writer.sendMethod(0, { name: 'connection.close-ok', arguments: {} });
      this.endSocket();
    } else if (decoded.method.name === 'connection.close-ok') {
      this.endSocket();
    }
  }

  private handshakeTimedOut(): void {
    this.deadline = null;
    this.services.logger.warn('amqp handshake timed out', { peer: this.peer, state: this.state, timeoutMs: this.services.settings.handshakeTimeoutMs });
    this.socket.destroy();
  }

  /** Every channel's handler is closed, then the sessions hear the connection is gone. */
  private releaseChannels(): void {
    const channels = [...this.channels.values()];
    this.channels.clear();
    for (const channel of channels) this.guarded('amqp channel handler close failed', () => channel.shutdown());
    const info = this.info;
    this.info = null;
    if (info !== null) this.guarded('amqp sessions connectionClosed failed', () => this.services.sessions.connectionClosed(info));
  }

  /** The sessions' clean-up must not take the process down from a socket event. */
  private guarded(message: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.services.logger.error(message, { peer: this.peer, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** Our last frames go out, then FIN; a peer that does not close its side in time is cut off. */
  private endSocket(): void {
    this.state = 'closed';
    this.writer.flush();
    this.socket.end();
    this.clearDeadline();
    this.deadline = setTimeout(() => this.socket.destroy(), this.services.settings.handshakeTimeoutMs);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private clearDeadline(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }

  private socketClosed(): void {
    this.state = 'closed';
    this.clearDeadline();
    this.heartbeat?.stop();
    this.releaseChannels();
    this.onClosed();
    for (const resolve of this.closedWaiters.splice(0)) resolve();
  }
}
