/**
 * What one Kafka API handler is: the codecs of its request and response, the versions it answers,
 * and the function that turns a request into a response. The ApiVersions answer is derived from the
 * registered handlers (api-registry.ts), so we never advertise what is not implemented.
 */
import type { MessageCodec } from '../../protocol/kafka/codec.js';
import { codecFor } from '../../protocol/kafka/codec.js';
import type { Decoded, Encodable, MessageSchema } from '../../protocol/kafka/schema.js';
import { parseRange } from '../../protocol/kafka/schema.js';
import type { Logger } from '../../logging/logger.js';
import type { Broker } from '../../broker/broker.js';

export interface RequestContext {
  readonly apiVersion: number;
  readonly clientId: string | null;
  readonly connectionId: number;
  /** The client's address, as Kafka shows it in group descriptions ("/127.0.0.1"). */
  readonly clientHost: string;
  readonly logger: Logger;
  readonly broker: Broker;
  /** The API versions this broker answers, for ApiVersions. */
  readonly supportedApis: readonly SupportedApi[];
  /**
   * Runs `callback` once the socket has taken the whole response (its bytes are no longer needed):
   * Fetch gives its read buffers back then. Not run if the connection closes before that.
   */
  afterResponseWritten(callback: () => void): void;
}

export interface SupportedApi {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

/** null means "send no response" (Produce with acks=0). */
export type HandlerResult<Response extends MessageSchema> = Encodable<Response> | null;

export interface ApiHandler<Request extends MessageSchema = MessageSchema, Response extends MessageSchema = MessageSchema> {
  readonly apiKey: number;
  readonly name: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(request: Decoded<Request>, context: RequestContext): HandlerResult<Response> | Promise<HandlerResult<Response>>;
}

export interface HandlerDefinition<Request extends MessageSchema, Response extends MessageSchema> {
  readonly request: Request;
  readonly response: Response;
  /** Versions answered; the schema's whole range when left out. */
  readonly versions?: { readonly min: number; readonly max: number };
  handle(request: Decoded<Request>, context: RequestContext): HandlerResult<Response> | Promise<HandlerResult<Response>>;
}

export function defineHandler<Request extends MessageSchema, Response extends MessageSchema>(
  definition: HandlerDefinition<Request, Response>,
): ApiHandler<Request, Response> {
  const range = parseRange(definition.request.validVersions);
  const minVersion = definition.versions?.min ?? range.lowest;
  const maxVersion = definition.versions?.max ?? range.highest;
  if (definition.request.apiKey !== definition.response.apiKey) throw new Error(`${definition.request.name}: request and response keys differ`);
  if (minVersion < range.lowest || maxVersion > range.highest) throw new Error(`${definition.request.name}: versions outside the schema`);
  return {
    apiKey: definition.request.apiKey,
    name: definition.request.name,
    request: codecFor(definition.request),
    response: codecFor(definition.response),
    minVersion,
    maxVersion,
    handle: definition.handle,
  };
}
