/**
 * The client side of the broker's HTTP admin API (server/http/admin-api.ts; docs/admin-api.md),
 * for the queue, exchange, vhost and policy commands: one method per endpoint, names percent-encoded into
 * the path (the vhost "/" travels as %2F), JSON in and out. A refusal becomes an
 * AdminApiRequestError carrying the broker's reason ("PRECONDITION_FAILED - queue 'q' in vhost '/'
 * not empty"); a broker that cannot be reached, an AdminApiUnreachableError.
 */
import type { JsonObject, JsonValue } from '../server/http/field-table-json.js';

export interface VirtualHostInfo {
  readonly name: string;
  readonly messages: number;
  readonly messages_ready: number;
  readonly messages_unacknowledged: number;
}

export interface ExchangeInfo {
  readonly name: string;
  readonly vhost: string;
  readonly type: string;
  readonly durable: boolean;
  readonly auto_delete: boolean;
  readonly internal: boolean;
  readonly arguments: JsonObject;
  /** The policy that applies to it, if any. */
  readonly policy: string | null;
}

export interface QueueInfo {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly auto_delete: boolean;
  readonly exclusive: boolean;
  readonly arguments: JsonObject;
  readonly messages: number;
  readonly messages_ready: number;
  readonly messages_unacknowledged: number;
  readonly consumers: number;
  /** In a cluster, the node id of the broker serving it (null on a single broker, or while none does). */
  readonly served_by?: number | null;
  /** The policy that applies to it, if any, and that policy's definition ({} when none). */
  readonly policy: string | null;
  readonly effective_policy_definition: JsonObject;
  /** What it applies, its arguments combined with its policy, where that differs from a plain queue. */
  readonly effective_options: JsonObject;
}

export interface PolicyInfo {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly 'apply-to': string;
  readonly definition: JsonObject;
  readonly priority: number;
}

export interface BindingInfo {
  readonly source: string;
  readonly vhost: string;
  readonly destination: string;
  readonly destination_type: 'queue' | 'exchange';
  readonly routing_key: string;
  readonly arguments: JsonObject;
  readonly properties_key: string;
}

export interface GotMessage {
  readonly payload: string;
  readonly payload_bytes: number;
  readonly payload_encoding: 'string' | 'base64';
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routing_key: string;
  readonly message_count: number;
  readonly properties: JsonObject;
}

/** A Kafka topic feeding a queue: the next offset read per partition. */
export interface FeedInfo {
  readonly vhost: string;
  readonly queue: string;
  readonly topic: string;
  readonly positions: number[];
}

export type AckMode = 'ack_requeue_true' | 'ack_requeue_false' | 'reject_requeue_true' | 'reject_requeue_false';
export type DestinationKind = 'queue' | 'exchange' | 'topic';

/** The broker answered with an error: its HTTP status, error kind and reason. */
export class AdminApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'AdminApiRequestError';
  }
}

/** No answer: nothing listening, a timeout, a reset connection. */
export class AdminApiUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminApiUnreachableError';
  }
}

export class AdminApiClient {
  readonly baseUrl: string;

  /** `address` is HOST:PORT, or a URL (http://host:port). */
  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.baseUrl = (/^https?:\/\//.test(address) ? address : `http://${address}`).replace(/\/+$/, '');
  }

  listVirtualHosts(): Promise<VirtualHostInfo[]> {
    return this.request('GET', '/api/vhosts') as Promise<VirtualHostInfo[]>;
  }

  /** True when it was created, false when it was there already. */
  async createVirtualHost(name: string): Promise<boolean> {
    return (await this.send('PUT', `/api/vhosts/${segment(name)}`)).status === 201;
  }

  async deleteVirtualHost(name: string): Promise<void> {
    await this.send('DELETE', `/api/vhosts/${segment(name)}`);
  }

  listExchanges(vhost: string): Promise<ExchangeInfo[]> {
    return this.request('GET', `/api/exchanges/${segment(vhost)}`) as Promise<ExchangeInfo[]>;
  }

  async declareExchange(vhost: string, name: string, body: JsonObject): Promise<boolean> {
    return (await this.send('PUT', `/api/exchanges/${segment(vhost)}/${segment(name)}`, body)).status === 201;
  }

  async deleteExchange(vhost: string, name: string, options: { readonly ifUnused: boolean }): Promise<void> {
    await this.send('DELETE', `/api/exchanges/${segment(vhost)}/${segment(name)}${options.ifUnused ? '?if-unused=true' : ''}`);
  }

  listQueues(vhost: string): Promise<QueueInfo[]> {
    return this.request('GET', `/api/queues/${segment(vhost)}`) as Promise<QueueInfo[]>;
  }

  queue(vhost: string, name: string): Promise<QueueInfo> {
    return this.request('GET', `/api/queues/${segment(vhost)}/${segment(name)}`) as Promise<QueueInfo>;
  }

  async declareQueue(vhost: string, name: string, body: JsonObject): Promise<boolean> {
    return (await this.send('PUT', `/api/queues/${segment(vhost)}/${segment(name)}`, body)).status === 201;
  }

  async deleteQueue(vhost: string, name: string, options: { readonly ifUnused: boolean; readonly ifEmpty: boolean }): Promise<void> {
    const query = new URLSearchParams();
    if (options.ifUnused) query.set('if-unused', 'true');
    if (options.ifEmpty) query.set('if-empty', 'true');
    const text = query.toString();
    await this.send('DELETE', `/api/queues/${segment(vhost)}/${segment(name)}${text === '' ? '' : `?${text}`}`);
  }

  async purgeQueue(vhost: string, name: string): Promise<void> {
    await this.send('DELETE', `/api/queues/${segment(vhost)}/${segment(name)}/contents`);
  }

  getMessages(vhost: string, name: string, body: { readonly count: number; readonly ackmode: AckMode; readonly encoding: 'auto' | 'base64' }): Promise<GotMessage[]> {
    return this.request('POST', `/api/queues/${segment(vhost)}/${segment(name)}/get`, { ...body }) as Promise<GotMessage[]>;
  }

  listBindings(vhost: string): Promise<BindingInfo[]> {
    return this.request('GET', `/api/bindings/${segment(vhost)}`) as Promise<BindingInfo[]>;
  }

  async bind(vhost: string, source: string, kind: DestinationKind, destination: string, body: JsonObject): Promise<void> {
    await this.send('POST', bindingPath(vhost, source, kind, destination), body);
  }

  async unbind(vhost: string, source: string, kind: DestinationKind, destination: string, propertiesKey: string): Promise<void> {
    await this.send('DELETE', `${bindingPath(vhost, source, kind, destination)}/${segment(propertiesKey)}`);
  }

  listPolicies(vhost: string): Promise<PolicyInfo[]> {
    return this.request('GET', `/api/policies/${segment(vhost)}`) as Promise<PolicyInfo[]>;
  }

  /** True when it was created, false when it replaced one of the same name. */
  async setPolicy(vhost: string, name: string, body: { readonly pattern: string; readonly definition: JsonObject; readonly priority: number; readonly 'apply-to': string }): Promise<boolean> {
    return (await this.send('PUT', `/api/policies/${segment(vhost)}/${segment(name)}`, { ...body })).status === 201;
  }

  async deletePolicy(vhost: string, name: string): Promise<void> {
    await this.send('DELETE', `/api/policies/${segment(vhost)}/${segment(name)}`);
  }

  listFeeds(vhost: string): Promise<FeedInfo[]> {
    return this.request('GET', `/api/feeds/${segment(vhost)}`) as Promise<FeedInfo[]>;
  }

  /** True when the feed is new, false when it was there already. */
  async addFeed(vhost: string, queue: string, topic: string): Promise<boolean> {
    return (await this.send('PUT', `/api/feeds/${segment(vhost)}/${segment(queue)}/${segment(topic)}`, {})).status === 201;
  }

  async removeFeed(vhost: string, queue: string, topic: string): Promise<void> {
    await this.send('DELETE', `/api/feeds/${segment(vhost)}/${segment(queue)}/${segment(topic)}`);
  }

  /** The parsed JSON answer of a request that succeeded. */
  async request(method: string, path: string, body?: JsonValue): Promise<unknown> {
    const { text } = await this.send(method, path, body);
    return text === '' ? null : (JSON.parse(text) as unknown);
  }

  private async send(method: string, path: string, body?: JsonValue): Promise<{ status: number; text: string }> {
    const url = this.baseUrl + path;
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      text = await response.text();
    } catch (error) {
      throw new AdminApiUnreachableError(`cannot reach the admin API at ${this.baseUrl}: ${describeFetchFailure(error, this.timeoutMs)}`);
    }
    if (response.status >= 400) throw requestError(response.status, text);
    return { status: response.status, text };
  }
}

function segment(name: string): string {
  return encodeURIComponent(name);
}

function bindingPath(vhost: string, source: string, kind: DestinationKind, destination: string): string {
  return `/api/bindings/${segment(vhost)}/e/${segment(source)}/${kind === 'queue' ? 'q' : kind === 'topic' ? 't' : 'e'}/${segment(destination)}`;
}

function requestError(status: number, text: string): AdminApiRequestError {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && 'reason' in parsed && typeof parsed.reason === 'string') {
      const kind = 'error' in parsed && typeof parsed.error === 'string' ? parsed.error : 'error';
      return new AdminApiRequestError(status, kind, parsed.reason);
    }
  } catch {
    // not JSON: not our admin API (another server on that port?)
  }
  return new AdminApiRequestError(status, 'error', `HTTP ${status} from the admin API: ${text.trim().slice(0, 200) || '(no body)'}`);
}

/** fetch wraps the socket error in `cause`: ECONNREFUSED, a timeout, … */
function describeFetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
