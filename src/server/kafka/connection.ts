/**
 * One client connection speaking the Kafka protocol.
 *
 * Request frame (after the size prefix, see frame-reader.ts):
 *
 *     header v1: api_key int16 │ api_version int16 │ correlation_id int32 │ client_id nullable string
 *     header v2: header v1 fields, then a tagged-fields section (flexible versions of the API)
 *
 * Response frame: size int32 │ correlation_id int32 │ [tagged fields if flexible, but never for
 * ApiVersions] │ body.
 *
 * Requests are handled concurrently but answered strictly in arrival order, as Kafka clients
 * expect. Reading pauses while too many requests or bytes are in flight, or while the socket's
 * write buffer is full, or while the memory all connections share for requests is spent
 * (request-memory.ts), so clients cannot make us buffer without bound. Anything we cannot parse
 * closes this connection only.
 */
import type { Socket } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import type { ConnectionLimits } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';
import { MalformedInputError } from '../../protocol/wire/errors.js';
import { Reader } from '../../protocol/wire/reader.js';
import { Writer } from '../../protocol/wire/writer.js';
import type { ApiRegistry } from './api-registry.js';
import { apiVersionsKey } from './api-registry.js';
import { FrameReader, FrameTooLargeError } from './frame-reader.js';
import type { RequestMemoryPool } from './request-memory.js';
import type { ApiHandler, RequestContext } from './handler.js';

const requestHeaderFixedBytes = 8;

interface PendingResponse {
  readonly requestBytes: number;
  /** Encoded response, null while the handler runs, 'none' when nothing is to be sent. */
  chunks: Buffer[] | 'none' | null;
}

let nextConnectionId = 1;

export class KafkaConnection {
  readonly id = nextConnectionId++;
  private readonly frames: FrameReader;
  private readonly pending: PendingResponse[] = [];
  private inFlightBytes = 0;
  /** Bytes this connection holds in the shared request memory: frames being read or not yet answered. */
  private reservedBytes = 0;
  private closed = false;
  private readonly logger: Logger;
  /** The peer's address as group descriptions show it. */
  private readonly clientHost: string;

  constructor(
    private readonly socket: Socket,
    private readonly registry: ApiRegistry,
    private readonly broker: Broker,
    private readonly limits: ConnectionLimits,
    private readonly memory: RequestMemoryPool,
    logger: Logger,
  ) {
    this.logger = logger.with({ connection: this.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    // Kafka shows a member's host as Java's InetAddress.toString() does: "/127.0.0.1".
    this.clientHost = `/${socket.remoteAddress ?? ''}`;
    // Without SASL every connection counts as authenticated; the smaller pre-authentication limit
    // applies once SASL exists.
    this.frames = new FrameReader(limits.maxFrameBytes, (frameBytes) => this.reserveMemory(frameBytes));
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.close('idle timeout'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateReading());
    socket.on('error', (error) => this.logger.debug('socket error', { error: error.message }));
    socket.on('close', () => {
      if (!this.closed) this.logPeerClose();
      this.closed = true;
      this.releaseAllMemory();
    });
    this.logger.debug('connection opened');
  }

  /** The client closed the connection; a frame cut short is worth a warning (a broken client). */
  private logPeerClose(): void {
    const unfinished = this.frames.unfinishedFrame;
    if (unfinished === null) return this.logger.debug('connection closed by the client');
    this.logger.warn('connection closed by the client in the middle of a frame', {
      receivedBytes: unfinished.receivedBytes,
      frameBytes: unfinished.frameBytes ?? 'size prefix incomplete',
    });
  }

  /** Closes this connection, logging why. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseAllMemory();
    this.logger.warn('closing connection', { reason });
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.readFrames(() => this.frames.push(chunk));
  }

  /** Handles the frames `next` yields; then pauses or resumes reading. */
  private readFrames(next: () => Buffer[]): void {
    let frames: Buffer[];
    try {
      frames = next();
    } catch (error) {
      if (error instanceof FrameTooLargeError) return this.close(error.message);
      throw error;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.onFrame(frame);
    }
    this.updateReading();
  }

  private reserveMemory(frameBytes: number): boolean {
    if (this.memory.tryReserve(frameBytes)) {
      this.reservedBytes += frameBytes;
      return true;
    }
    this.memory.waitForMemory(this.retryAfterMemory);
    return false;
  }

  /** Called by the pool once memory is released: reads on where the frame reader stopped. */
  private readonly retryAfterMemory = (): void => {
    if (this.closed) return;
    this.readFrames(() => this.frames.drain());
  };

  private releaseMemory(bytes: number): void {
    this.reservedBytes -= bytes;
    this.memory.release(bytes);
  }

  private releaseAllMemory(): void {
    this.memory.stopWaiting(this.retryAfterMemory);
    this.memory.release(this.reservedBytes);
    this.reservedBytes = 0;
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < requestHeaderFixedBytes) return this.close(`request of ${frame.length} bytes is shorter than a header`);
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.registry.get(apiKey);
    if (handler === undefined) return this.close(`unknown api key ${apiKey}`);
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === apiVersionsKey) return this.answerUnsupportedApiVersions(correlationId, frame.length);
      return this.close(`unsupported version ${apiVersion} of ${handler.name} (we answer ${handler.minVersion}-${handler.maxVersion})`);
    }
    const flexible = handler.request.isFlexible(apiVersion);
    let request: unknown;
    let clientId: string | null;
    try {
      const reader = new Reader(frame, requestHeaderFixedBytes, frame.length, this.limits.maxRequestArrayElements);
      clientId = reader.nullableString();
      if (flexible) reader.taggedFields();
      request = handler.request.decode(apiVersion, reader);
    } catch (error) {
      if (error instanceof MalformedInputError) {
        return this.close(`malformed ${handler.name} v${apiVersion} request: ${error.message}`);
      }
      throw error;
    }
    const slot: PendingResponse = { requestBytes: frame.length, chunks: null };
    this.pending.push(slot);
    this.inFlightBytes += frame.length;
    const context: RequestContext = {
      apiVersion,
      clientId,
      connectionId: this.id,
      clientHost: this.clientHost,
      logger: this.logger,
      broker: this.broker,
      supportedApis: this.registry.supported,
    };
    this.run(handler, request, context, correlationId, slot);
  }

  private run(handler: ApiHandler, request: unknown, context: RequestContext, correlationId: number, slot: PendingResponse): void {
    const finish = (response: unknown) => {
      try {
        slot.chunks = response === null ? 'none' : this.encodeResponse(handler, context.apiVersion, correlationId, response);
      } catch (error) {
        return fail(error);
      }
      this.writeReady();
    };
    const fail = (error: unknown) => {
      this.logger.error('request handler failed', {
        api: handler.name,
        version: context.apiVersion,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      this.close(`internal error in ${handler.name}`);
    };
    try {
      const result = handler.handle(request as never, context);
      if (result instanceof Promise) result.then(finish, fail);
      else finish(result);
    } catch (error) {
      fail(error);
    }
  }

  private encodeResponse(handler: ApiHandler, apiVersion: number, correlationId: number, response: unknown): Buffer[] {
    const writer = new Writer(512);
    writer.int32(0); // size, patched below
    writer.int32(correlationId);
    // ApiVersions always answers with header v0 so that any client can read it (KIP-511).
    if (handler.response.isFlexible(apiVersion) && handler.apiKey !== apiVersionsKey) writer.uvarint(0);
    handler.response.encode(apiVersion, response as never, writer);
    writer.patchInt32(0, writer.length - 4);
    return writer.finish();
  }

  /** KIP-511: an ApiVersions version we do not know gets UNSUPPORTED_VERSION in a v0 body listing our range. */
  private answerUnsupportedApiVersions(correlationId: number, requestBytes: number): void {
    const handler = this.registry.get(apiVersionsKey)!;
    const own = this.registry.supported.filter((api) => api.apiKey === apiVersionsKey);
    const chunks = this.encodeResponse(handler, 0, correlationId, { errorCode: ErrorCode.unsupportedVersion, apiKeys: own });
    this.pending.push({ requestBytes, chunks });
    this.inFlightBytes += requestBytes;
    this.writeReady();
  }

  /** Writes every finished response at the head of the queue, keeping arrival order. */
  private writeReady(): void {
    if (this.closed) return;
    let corked = false;
    while (this.pending.length > 0 && this.pending[0]!.chunks !== null) {
      const slot = this.pending.shift()!;
      this.inFlightBytes -= slot.requestBytes;
      this.releaseMemory(slot.requestBytes);
      if (slot.chunks === 'none') continue;
      if (!corked) {
        this.socket.cork();
        corked = true;
      }
      for (const chunk of slot.chunks!) this.socket.write(chunk);
    }
    if (corked) this.socket.uncork();
    this.updateReading();
  }

  /** Pauses reading while over the in-flight limits, without request memory, or while the socket cannot take more output. */
  private updateReading(): void {
    if (this.closed) return;
    const overLimits =
      this.frames.waitingForMemory ||
      this.pending.length >= this.limits.maxInFlightRequests ||
      this.inFlightBytes >= this.limits.maxInFlightBytes ||
      this.socket.writableNeedDrain;
    if (overLimits && !this.socket.isPaused()) this.socket.pause();
    else if (!overLimits && this.socket.isPaused()) this.socket.resume();
  }
}
