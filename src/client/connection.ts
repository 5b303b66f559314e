/**
 * One TCP connection to one broker, speaking the Kafka protocol with pipelining: many requests may
 * be in flight, each matched to its answer by correlation id.
 *
 *   request:  size int32 │ api_key int16 │ api_version int16 │ correlation_id int32 │
 *             client_id nullable string │ [tagged fields: header v2, flexible versions] │ body
 *   response: size int32 │ correlation_id int32 │ [tagged fields: flexible versions, except
 *             ApiVersions, whose response header is always v0] │ body
 *
 * Responses are cut from the byte stream by the same frame reader the broker uses for requests
 * (src/protocol/kafka/frame-reader.ts): a frame inside one socket read is a view, not a copy.
 *
 * Opening a connection sends ApiVersions (v3; v0 again if the broker refuses v3) and remembers
 * each API's version range; every later request uses the highest version both sides support.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { Decoded, Encodable, MessageSchema } from '../protocol/kafka/schema.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { FrameReader, FrameTooLargeError } from '../protocol/kafka/frame-reader.js';
import { Reader } from '../protocol/wire/reader.js';
import { Writer } from '../protocol/wire/writer.js';
import { apis } from './apis.js';
import type { Api } from './apis.js';
import { BrokerUnreachableError, KafkaProtocolError, RequestTimeoutError, UnsupportedVersionError } from './errors.js';

export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  /** How long a TCP connect plus ApiVersions may take. */
  readonly connectTimeoutMs: number;
  /** How long any one request may wait for its answer (Fetch adds its own maxWaitMs on top). */
  readonly requestTimeoutMs: number;
  /** Largest response frame accepted. */
  readonly maxResponseBytes?: number;
}

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

interface Pending {
  readonly apiKey: number;
  readonly apiName: string;
  readonly flexible: boolean;
  readonly decode: (reader: Reader) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

const defaultMaxResponseBytes = 256 * 1024 * 1024;
const apiVersionsKey = 18;
const correlationIdBytes = 4;

export class Connection {
  readonly address: string;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private versions = new Map<number, VersionRange>();
  /** Features the broker reported in ApiVersions v3+ (name → supported range, finalized level). */
  features: { name: string; minVersion: number; maxVersion: number; finalizedLevel: number | null }[] = [];
  private closedError: Error | null = null;
  private readonly frames: FrameReader;
  private readonly closeListeners = new Set<(error: Error) => void>();

  private constructor(socket: Socket, private readonly options: ConnectionOptions) {
    this.socket = socket;
    this.address = `${options.host}:${options.port}`;
    this.frames = new FrameReader(options.maxResponseBytes ?? defaultMaxResponseBytes, 'maxResponseBytes');
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new BrokerUnreachableError(this.address, describeSocketError(error))));
    socket.on('close', () => this.fail(new BrokerUnreachableError(this.address, 'the connection was closed')));
  }

  /** Connects and negotiates API versions; rejects with BrokerUnreachableError naming host:port. */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const address = `${options.host}:${options.port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const candidate = connect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        candidate.destroy();
        reject(new BrokerUnreachableError(address, `no connection within ${options.connectTimeoutMs} ms`));
      }, options.connectTimeoutMs);
      candidate.once('connect', () => {
        clearTimeout(timer);
        candidate.removeAllListeners('error');
        resolve(candidate);
      });
      candidate.once('error', (error) => {
        clearTimeout(timer);
        reject(new BrokerUnreachableError(address, describeSocketError(error)));
      });
    });
    const connection = new Connection(socket, options);
    try {
      await connection.negotiateVersions();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The broker's version range of an API, or undefined when it does not offer it. */
  versionRange(apiKey: number): VersionRange | undefined {
    return this.versions.get(apiKey);
  }

  /** Every API the broker offers, from ApiVersions. */
  get apiVersions(): ReadonlyMap<number, VersionRange> {
    return this.versions;
  }

  get isClosed(): boolean {
    return this.closedError !== null;
  }

  onClose(listener: (error: Error) => void): void {
    this.closeListeners.add(listener);
  }

  /** The version a request of `api` will use here: the highest both sides support. */
  versionFor(api: Api<MessageSchema, MessageSchema>): number {
    const range = this.versions.get(api.key);
    if (range === undefined) throw new UnsupportedVersionError(`broker ${this.address} does not offer ${api.name} (API key ${api.key})`);
    const version = Math.min(range.max, api.clientMaxVersion);
    if (version < Math.max(range.min, api.request.lowestVersion)) {
      throw new UnsupportedVersionError(
        `broker ${this.address} offers ${api.name} versions ${range.min}-${range.max}, this client speaks ${api.request.lowestVersion}-${api.clientMaxVersion}`,
      );
    }
    return version;
  }

  /** Sends one request and resolves with its decoded answer. */
  request<Request extends MessageSchema, Response extends MessageSchema>(
    api: Api<Request, Response>,
    body: Encodable<Request>,
    options: { version?: number; timeoutMs?: number } = {},
  ): Promise<Decoded<Response>> {
    const version = options.version ?? this.versionFor(api as unknown as Api<MessageSchema, MessageSchema>);
    return new Promise<Decoded<Response>>((resolve, reject) => {
      if (this.closedError !== null) return reject(this.closedError);
      const correlationId = this.write(api, version, body);
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new RequestTimeoutError(this.address, api.name, timeoutMs));
      }, timeoutMs);
      this.pending.set(correlationId, {
        apiKey: api.key,
        apiName: api.name,
        flexible: api.response.isFlexible(version),
        decode: (reader) => api.response.decode(version, reader),
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
    });
  }

  /** Sends a request that gets no answer (Produce with acks=0). */
  send<Request extends MessageSchema, Response extends MessageSchema>(api: Api<Request, Response>, body: Encodable<Request>): void {
    if (this.closedError !== null) throw this.closedError;
    this.write(api, this.versionFor(api as unknown as Api<MessageSchema, MessageSchema>), body);
  }

  /** True when the socket's write buffer is over its high-water mark. */
  get writeBackedUp(): boolean {
    return this.socket.writableNeedDrain;
  }

  close(): void {
    this.fail(new BrokerUnreachableError(this.address, 'the connection was closed by the client'));
  }

  private write<Request extends MessageSchema, Response extends MessageSchema>(api: Api<Request, Response>, version: number, body: Encodable<Request>): number {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    const writer = new Writer(512);
    writer.int32(0); // size, patched below
    writer.int16(api.key);
    writer.int16(version);
    writer.int32(correlationId);
    writer.nullableString(this.options.clientId);
    if (api.request.isFlexible(version)) writer.uvarint(0);
    api.request.encode(version, body, writer);
    const size = writer.length - 4;
    writer.patchInt32(0, size);
    const chunks = writer.finish();
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
    } else {
      this.socket.cork();
      for (const chunk of chunks) this.socket.write(chunk);
      this.socket.uncork();
    }
    return correlationId;
  }

  private async negotiateVersions(): Promise<void> {
    const api = apis.apiVersions;
    const timeoutMs = this.options.connectTimeoutMs;
    let response = await this.request(api, { clientSoftwareName: 'osprey-client', clientSoftwareVersion: '0.1.0' }, { version: 3, timeoutMs });
    if (response.errorCode === ErrorCode.unsupportedVersion) response = await this.request(api, { clientSoftwareName: '', clientSoftwareVersion: '' }, { version: 0, timeoutMs });
    if (response.errorCode !== ErrorCode.none) throw new KafkaProtocolError(response.errorCode, `ApiVersions from ${this.address}`);
    this.versions = new Map(response.apiKeys.map((entry) => [entry.apiKey, { min: entry.minVersion, max: entry.maxVersion }]));
    this.features = response.supportedFeatures.map((feature) => ({
      name: feature.name,
      minVersion: feature.minVersion,
      maxVersion: feature.maxVersion,
      finalizedLevel: response.finalizedFeatures.find((finalized) => finalized.name === feature.name)?.maxVersionLevel ?? null,
    }));
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk);
    for (;;) {
      let frame: Buffer | null;
      try {
        frame = this.frames.next();
      } catch (error) {
        if (!(error instanceof FrameTooLargeError)) throw error;
        this.refuseFrame(error.frameBytes);
        return;
      }
      if (frame === null) return;
      // Every response starts with its correlation id.
      if (frame.length < correlationIdBytes) {
        this.refuseFrame(frame.length);
        return;
      }
      this.onFrame(frame);
      if (this.closedError !== null) return;
    }
  }

  private refuseFrame(frameBytes: number): void {
    this.fail(new BrokerUnreachableError(this.address, `a response frame of ${frameBytes} bytes is not acceptable; closing`));
    this.socket.destroy();
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return; // timed out earlier
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    try {
      const reader = new Reader(frame, correlationIdBytes);
      if (pending.flexible && pending.apiKey !== apiVersionsKey) reader.taggedFields();
      pending.resolve(pending.decode(reader));
    } catch (error) {
      pending.reject(new BrokerUnreachableError(this.address, `unreadable ${pending.apiName} response: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  private fail(error: Error): void {
    if (this.closedError !== null) return;
    this.closedError = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    this.socket.destroy();
    for (const listener of this.closeListeners) listener(error);
  }
}

function describeSocketError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is a broker listening there? check --brokers or OSPREY_BROKERS)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found (check --brokers or OSPREY_BROKERS)';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${code}: the host cannot be reached`;
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the broker closed the connection';
    default:
      return error.message;
  }
}
