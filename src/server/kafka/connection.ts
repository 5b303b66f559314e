/**
 * One client connection speaking the Kafka protocol.
 *
 * Request frame (after the size prefix, see src/protocol/kafka/frame-reader.ts):
 *
 *     header v1: api_key int16 │ api_version int16 │ correlation_id int32 │ client_id nullable string
 *     header v2: header v1 fields, then a tagged-fields section (flexible versions of the API)
 *
 * Response frame: size int32 │ correlation_id int32 │ [tagged fields if flexible, but never for
 * ApiVersions] │ body.
 *
 * Requests are handled concurrently but answered strictly in arrival order, as Kafka clients
 * expect. Frames are taken one at a time, and none beyond `maxInFlightRequests` unanswered ones,
 * even when one socket read holds many.
 *
 * Responses are bounded as requests are: a request's handler starts only while the connection's
 * queued output (responses encoded but not yet written, plus the socket's write buffer) is under
 * `maxQueuedResponseBytes`, and a Fetch only while no other Fetch of the connection runs (Kafka
 * clients keep one in flight per connection). A request that may not start waits, read and
 * decoded, holding its request memory; requests behind it stay unread, so they start in arrival
 * order (Produce order is kept). It starts when output is written (each response's write callback,
 * the socket's 'drain') or when the Fetch before it is answered; a close drops the whole queue. So a
 * client that never reads holds at most that limit plus the responses of requests started below
 * it, one Fetch among them, however many Fetches it pipelines (osprey_response_queue_bytes).
 *
 * Reading pauses while the connection holds its share of request memory (`maxInFlightBytes`, the
 * frame being read included), while the memory all connections share is spent (request-memory.ts),
 * while a request waits to start, or while the socket's write buffer is full, so clients cannot
 * make us buffer without bound. Until a connection's first well-formed request its frames are
 * limited to `maxUnauthenticatedFrameBytes`, and every frame must arrive within
 * `frameReceiveTimeoutMs` (frame-deadline.ts).
 *
 * Anything we cannot parse closes this connection only; so does any unexpected error while a frame
 * is handled (logged with the API and version, counted in osprey_connection_errors_total).
 */
import type { Socket } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import type { ConnectionLimits } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import type { Counter } from '../../metrics/metrics.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';
import { MalformedInputError } from '../../protocol/wire/errors.js';
import { Reader } from '../../protocol/wire/reader.js';
import { Writer } from '../../protocol/wire/writer.js';
import type { ApiRegistry } from './api-registry.js';
import { apiVersionsKey, fetchKey } from './api-registry.js';
import { InjectedFaultError } from './fault-hook.js';
import { FrameDeadline } from './frame-deadline.js';
import { FrameReader, FrameTooLargeError, sizePrefixBytes } from '../../protocol/kafka/frame-reader.js';
import type { MemoryClaimant, RequestMemoryPool } from './request-memory.js';
import type { ApiHandler, RequestContext } from './handler.js';

const requestHeaderFixedBytes = 8;

interface PendingResponse {
  readonly requestBytes: number;
  /** Fetch requests run one at a time per connection (see mayStart). */
  readonly isFetch: boolean;
  /** Encoded response, null until the handler has answered, 'none' when nothing is to be sent. */
  chunks: Buffer[] | 'none' | null;
  /** Bytes of `chunks`, counted in the queued output until they are handed to the socket. */
  responseBytes: number;
  /** What the handler asked to run once the socket has taken the response (RequestContext.afterResponseWritten). */
  afterWritten: (() => void) | null;
}

/** A request read and decoded whose handler may not start yet (see mayStart). */
interface DeferredRequest {
  readonly slot: PendingResponse;
  readonly start: () => void;
}

/** Why connections are closed by the broker, the label values of osprey_connections_closed_total. */
export type CloseReason = 'frame_too_large' | 'frame_timeout' | 'malformed' | 'unsupported' | 'internal_error' | 'idle_timeout';

/** What every connection of a listener shares. */
export interface ConnectionServices {
  readonly registry: ApiRegistry;
  readonly broker: Broker;
  readonly limits: ConnectionLimits;
  readonly memory: RequestMemoryPool;
  readonly logger: Logger;
  /** Connections closed because handling a frame threw unexpectedly, by API. */
  readonly unexpectedErrors: Counter;
  /** Connections the broker closed, by CloseReason. */
  readonly closes: Counter;
  /** The API the test fault hook is set for (fault-hook.ts); null normally. */
  readonly faultInjectedApi: string | null;
}

let nextConnectionId = 1;

export class KafkaConnection {
  readonly id = nextConnectionId++;
  private readonly frames: FrameReader;
  private readonly deadline: FrameDeadline;
  /** This connection as the request memory pool sees it. */
  private readonly claimant: MemoryClaimant;
  private readonly pending: PendingResponse[] = [];
  /** The request waiting to start; while one waits, no frame behind it is taken, and reading pauses. */
  private deferred: DeferredRequest | null = null;
  /** Fetch handlers running: 0 or 1. */
  private runningFetches = 0;
  /** Bytes of responses encoded but not yet handed to the socket (waiting behind an earlier request). */
  private encodedResponseBytes = 0;
  /** Bytes of frames handed to handlers and not yet answered. */
  private inFlightBytes = 0;
  /** Bytes this connection holds in the shared request memory: buffered, or handled and not yet answered. */
  private claimedBytes = 0;
  private completedFrames = 0;
  private readingResumedAtMs = 0;
  /** True once a request was well-formed: from then on the larger maxFrameBytes applies. */
  private sentWellFormedRequest = false;
  /** Set while frames are being taken, so a response finishing meanwhile does not re-enter. */
  private takingFrames = false;
  /** A writeReady is queued with process.nextTick (writeReadySoon). */
  private writeReadyScheduled = false;
  /** The request being decoded, for the log line of an unexpected error. */
  private currentApi: { name: string; version: number } | null = null;
  private draining: (() => void) | null = null;
  private closed = false;
  private readonly limits: ConnectionLimits;
  private readonly logger: Logger;
  /** The peer's address as group descriptions show it. */
  private readonly clientHost: string;
  /** Called once the socket has closed, whoever closed it. */
  onClosed: () => void = () => undefined;

  constructor(
    private readonly socket: Socket,
    private readonly services: ConnectionServices,
  ) {
    this.limits = services.limits;
    this.logger = services.logger.with({ connection: this.id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    // Kafka shows a member's host as Java's InetAddress.toString() does: "/127.0.0.1".
    this.clientHost = `/${socket.remoteAddress ?? ''}`;
    this.frames = new FrameReader(this.limits.maxUnauthenticatedFrameBytes, 'limits.maxUnauthenticatedFrameBytes, before the first well-formed request');
    const connection = this;
    this.claimant = {
      get claimedBytes() { return connection.claimedBytes; },
      get receivingFrame() { return connection.frames.buffered > 0; },
      retry: () => this.retryAfterMemory(),
    };
    services.memory.register(this.claimant);
    this.deadline = new FrameDeadline(
      this.limits.frameReceiveTimeoutMs,
      {
        get completedFrames() { return connection.completedFrames; },
        get receivingFrame() { return connection.frames.buffered > 0; },
        get readingPaused() { return connection.socket.isPaused(); },
        get readingResumedAtMs() { return connection.readingResumedAtMs; },
      },
      (elapsedMs) => this.frameTimedOut(elapsedMs),
    );
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs, () => this.close('idle timeout', 'idle_timeout'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.contain(() => this.continueAfterOutput()));
    socket.on('error', (error) => this.logger.debug('socket error', { error: error.message }));
    socket.on('close', () => {
      if (!this.closed) this.logPeerClose();
      this.closed = true;
      this.releaseAllMemory();
      this.draining?.();
      this.onClosed();
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

  /**
   * Output this connection holds: responses encoded but not yet written, and the socket's write
   * buffer (what the kernel has not taken). The start rule keeps it near limits.maxQueuedResponseBytes.
   */
  get queuedResponseBytes(): number {
    if (this.closed) return 0;
    return this.encodedResponseBytes + this.socket.writableLength;
  }

  /** Closes this connection, logging why; `reason` labels the closes metric. */
  close(why: string, reason: CloseReason): void {
    if (this.closed) return;
    this.services.closes.inc({ reason });
    this.logger.warn('closing connection', { reason: why });
    this.closeQuietly();
  }

  private closeQuietly(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseAllMemory();
    this.socket.destroy();
  }

  /**
   * Shutdown: reads nothing more, lets the requests already handed to handlers be answered, then
   * ends the connection. Resolves once it is closed (the caller bounds the wait).
   */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.draining = resolve;
      this.socket.pause();
      this.finishDrainIfDone();
    });
  }

  /** Closes at once, for a shutdown whose drain took too long. */
  destroy(): void {
    this.closeQuietly();
    this.draining?.();
  }

  private finishDrainIfDone(): void {
    const resolve = this.draining;
    if (resolve === null || this.pending.length > 0) return;
    this.closed = true;
    this.releaseAllMemory();
    // end() sends what is still buffered; the socket is destroyed once it is flushed.
    this.socket.end(() => this.socket.destroy());
    resolve();
  }

  /** Runs `work`, turning anything unexpected it throws into the close of this one connection. */
  private contain(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.failUnexpectedly(error);
    }
  }

  private failUnexpectedly(error: unknown): void {
    const api = this.currentApi;
    this.currentApi = null;
    this.services.unexpectedErrors.inc({ api: api?.name ?? 'none' });
    this.logger.error('unexpected error while handling a frame', {
      api: api?.name,
      version: api?.version,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    this.close(`internal error${api === null ? '' : ` in ${api.name} v${api.version}`}`, 'internal_error');
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.services.memory.claim(chunk.length);
    this.claimedBytes += chunk.length;
    this.frames.push(chunk);
    this.contain(() => this.takeFrames());
    this.deadline.noteBytes();
  }

  /** Hands buffered frames to their handlers, one at a time while under the in-flight limit; then pauses or resumes reading. */
  private takeFrames(): void {
    this.takingFrames = true;
    try {
      while (!this.closed && this.draining === null && this.deferred === null && this.pending.length < this.limits.maxInFlightRequests) {
        const frame = this.nextFrame();
        if (frame === null) break;
        this.onFrame(frame);
      }
    } finally {
      this.takingFrames = false;
    }
    this.updateReading();
  }

  private nextFrame(): Buffer | null {
    let frame: Buffer | null;
    try {
      frame = this.frames.next();
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.close(error.message, 'frame_too_large');
      return null;
    }
    if (frame === null) return null;
    this.completedFrames++;
    this.releaseMemory(sizePrefixBytes);
    this.services.memory.endLead(this.claimant);
    return frame;
  }

  /** Called by the pool once memory is released: reads on if there is room now. */
  private retryAfterMemory(): void {
    if (this.closed) return;
    this.contain(() => this.updateReading());
  }

  private releaseMemory(bytes: number): void {
    this.claimedBytes -= bytes;
    this.services.memory.release(bytes);
  }

  /** On close: the queue is dropped (its responses are never sent) and all request memory released. */
  private releaseAllMemory(): void {
    this.pending.length = 0;
    this.deferred = null;
    this.encodedResponseBytes = 0;
    this.deadline.stop();
    this.services.memory.stopWaiting(this.claimant);
    this.services.memory.release(this.claimedBytes);
    this.claimedBytes = 0;
  }

  private frameTimedOut(elapsedMs: number): void {
    const unfinished = this.frames.unfinishedFrame;
    this.close(
      `frame not received within ${this.limits.frameReceiveTimeoutMs} ms (limits.frameReceiveTimeoutMs): ${unfinished?.receivedBytes ?? 0} bytes ` +
        `of ${unfinished?.frameBytes ?? 'an unread size'} after ${elapsedMs} ms`,
      'frame_timeout',
    );
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < requestHeaderFixedBytes) return this.close(`request of ${frame.length} bytes is shorter than a header`, 'malformed');
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const handler = this.services.registry.get(apiKey);
    if (handler === undefined) return this.close(`unknown api key ${apiKey}`, 'unsupported');
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === apiVersionsKey) return this.answerUnsupportedApiVersions(correlationId, frame.length);
      return this.close(`unsupported version ${apiVersion} of ${handler.name} (we answer ${handler.minVersion}-${handler.maxVersion})`, 'unsupported');
    }
    this.currentApi = { name: handler.name, version: apiVersion };
    const decoded = this.decode(handler, apiVersion, frame);
    if (decoded === null) return;
    if (this.services.faultInjectedApi === handler.name) throw new InjectedFaultError(handler.name);
    this.currentApi = null;
    this.noteWellFormedRequest();
    const slot: PendingResponse = { requestBytes: frame.length, isFetch: apiKey === fetchKey, chunks: null, responseBytes: 0, afterWritten: null };
    this.pending.push(slot);
    this.inFlightBytes += frame.length;
    const context: RequestContext = {
      apiVersion,
      clientId: decoded.clientId,
      connectionId: this.id,
      clientHost: this.clientHost,
      logger: this.logger,
      broker: this.services.broker,
      supportedApis: this.services.registry.supported,
      afterResponseWritten: (callback) => {
        slot.afterWritten = callback;
      },
    };
    const start = () => this.run(handler, decoded.request, context, correlationId, slot);
    if (this.mayStart(slot)) start();
    else this.deferred = { slot, start };
  }

  /**
   * The start rule: a request's handler starts only while this connection's queued output is under
   * limits.maxQueuedResponseBytes, and a Fetch only while no other Fetch of this connection runs
   * (Kafka clients keep one Fetch in flight per connection). So a client that does not read holds
   * at most that limit plus the responses of the requests started below it, one Fetch among them.
   */
  private mayStart(slot: PendingResponse): boolean {
    if (this.queuedResponseBytes >= this.limits.maxQueuedResponseBytes) return false;
    return !slot.isFetch || this.runningFetches === 0;
  }

  /** Starts the deferred request if the start rule now allows it. */
  private startDeferred(): void {
    const deferred = this.deferred;
    if (deferred === null || this.closed || !this.mayStart(deferred.slot)) return;
    this.deferred = null;
    deferred.start();
  }

  /**
   * Output was written (a write completed, or the socket drained): a deferred request may start, and
   * the frames behind it be taken.
   */
  private continueAfterOutput(): void {
    if (this.closed) return;
    this.startDeferred();
    if (this.takingFrames) return;
    if (this.draining !== null) return this.finishDrainIfDone();
    this.takeFrames();
  }

  /** The request header's client id and the body; null when malformed (the connection is then closed). */
  private decode(handler: ApiHandler, apiVersion: number, frame: Buffer): { clientId: string | null; request: unknown } | null {
    try {
      const reader = new Reader(frame, requestHeaderFixedBytes, frame.length, this.limits.maxRequestArrayElements);
      const clientId = reader.nullableString();
      if (handler.request.isFlexible(apiVersion)) reader.taggedFields();
      return { clientId, request: handler.request.decode(apiVersion, reader) };
    } catch (error) {
      if (!(error instanceof MalformedInputError)) throw error;
      this.close(`malformed ${handler.name} v${apiVersion} request: ${error.message}`, 'malformed');
      return null;
    }
  }

  /** The first well-formed request lifts the frame limit from maxUnauthenticatedFrameBytes to maxFrameBytes. */
  private noteWellFormedRequest(): void {
    if (this.sentWellFormedRequest) return;
    this.sentWellFormedRequest = true;
    this.frames.setMaxFrameBytes(this.limits.maxFrameBytes, 'limits.maxFrameBytes');
  }

  private run(handler: ApiHandler, request: unknown, context: RequestContext, correlationId: number, slot: PendingResponse): void {
    let running = true;
    if (slot.isFetch) this.runningFetches++;
    const endRun = () => {
      if (!running) return;
      running = false;
      if (slot.isFetch) this.runningFetches--;
    };
    const finish = (response: unknown) => {
      endRun();
      // A closed connection dropped its queue: nothing is encoded for it.
      if (this.closed) return;
      try {
        slot.chunks = response === null ? 'none' : this.encodeResponse(handler, context.apiVersion, correlationId, response);
      } catch (error) {
        return fail(error);
      }
      this.noteEncoded(slot);
      this.writeReadySoon();
    };
    const fail = (error: unknown) => {
      endRun();
      this.services.unexpectedErrors.inc({ api: handler.name });
      this.logger.error('request handler failed', {
        api: handler.name,
        version: context.apiVersion,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      this.close(`internal error in ${handler.name} v${context.apiVersion}`, 'internal_error');
      this.draining?.();
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

  /** Counts an encoded response in the queued output until writeReady hands it to the socket. */
  private noteEncoded(slot: PendingResponse): void {
    if (slot.chunks === null || slot.chunks === 'none') return;
    slot.responseBytes = slot.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.encodedResponseBytes += slot.responseBytes;
  }

  /** KIP-511: an ApiVersions version we do not know gets UNSUPPORTED_VERSION in a v0 body listing our range. */
  private answerUnsupportedApiVersions(correlationId: number, requestBytes: number): void {
    const handler = this.services.registry.get(apiVersionsKey)!;
    const own = this.services.registry.supported.filter((api) => api.apiKey === apiVersionsKey);
    const chunks = this.encodeResponse(handler, 0, correlationId, { errorCode: ErrorCode.unsupportedVersion, apiKeys: own });
    const slot: PendingResponse = { requestBytes, isFetch: false, chunks, responseBytes: 0, afterWritten: null };
    this.noteEncoded(slot);
    this.pending.push(slot);
    this.inFlightBytes += requestBytes;
    this.writeReady();
  }

  /** Writes every finished response at the head of the queue, keeping arrival order. */
  /**
   * writeReady once the microtasks running now are done: one journal commit completes every request
   * whose batches it carried in the same run of microtasks, so their responses leave in one writev
   * instead of one send each (a send on loopback costs as much as handling a small produce).
   */
  private writeReadySoon(): void {
    if (this.writeReadyScheduled) return;
    this.writeReadyScheduled = true;
    process.nextTick(() => {
      this.writeReadyScheduled = false;
      this.writeReady();
    });
  }

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
      this.encodedResponseBytes -= slot.responseBytes;
      this.writeResponse(slot.chunks!, slot.afterWritten);
    }
    if (corked) this.socket.uncork();
    this.startDeferred();
    if (this.draining !== null) return this.finishDrainIfDone();
    // Frames left buffered at the in-flight limit can go now; inside takeFrames its loop takes them.
    if (this.takingFrames) return;
    this.contain(() => this.takeFrames());
  }

  /**
   * Hands a response to the socket. Its last chunk's callback runs once the kernel has taken it all:
   * then the queued output is smaller, and a deferred request may start (the socket's 'drain' event
   * alone would not do: it comes only after a write that filled the write buffer). `afterWritten`
   * runs then too, when the write succeeded (the chunks are written in order, so the last one's
   * callback means the kernel has taken them all).
   */
  private writeResponse(chunks: readonly Buffer[], afterWritten: (() => void) | null): void {
    const last = chunks.length - 1;
    for (let index = 0; index < last; index++) this.socket.write(chunks[index]!);
    this.socket.write(chunks[last]!, (error) => {
      if (afterWritten !== null && (error === undefined || error === null)) afterWritten();
      this.contain(() => this.continueAfterOutput());
    });
  }

  /**
   * Pauses reading while over the in-flight limits, over this connection's share of request memory,
   * without room in the shared pool, while a request waits to start, or while the socket cannot take
   * more output; resumes otherwise.
   */
  private updateReading(): void {
    if (this.closed || this.draining !== null) return;
    const heldBack =
      this.pending.length >= this.limits.maxInFlightRequests ||
      // Nothing behind a deferred request could start: leave it in the client's socket.
      this.deferred !== null ||
      // The frame being read may always complete when nothing else is held, however large it is.
      (this.claimedBytes >= this.limits.maxInFlightBytes && this.inFlightBytes > 0) ||
      this.socket.writableNeedDrain;
    // A lead that stops reading for another reason lets another connection lead.
    if (heldBack) this.services.memory.endLead(this.claimant);
    const waitingForMemory = !heldBack && !this.services.memory.hasRoom(this.claimant, this.frameSize());
    const overLimits = heldBack || waitingForMemory;
    if (waitingForMemory) this.services.memory.waitForMemory(this.claimant);
    if (overLimits && !this.socket.isPaused()) this.socket.pause();
    else if (!overLimits && this.socket.isPaused()) {
      this.readingResumedAtMs = Date.now();
      this.socket.resume();
    }
  }

  /** Whether the frame being read is small (may use the pool's small-request reserve). */
  private frameSize(): 'small' | 'large' {
    const announcedBytes = this.frames.announcedFrameBytes;
    return announcedBytes !== null && announcedBytes > this.limits.smallRequestBytes ? 'large' : 'small';
  }
}
