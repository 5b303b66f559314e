/**
 * The admin API of the AMQP side, on the HTTP listener: virtual hosts, exchanges, queues,
 * bindings and policies, listed, declared and deleted over JSON, in the paths and field names of RabbitMQ's
 * management API (docs/admin-api.md has every endpoint). The operator is the admin requester
 * (`null`): it sees every queue, exclusive ones included.
 *
 * Errors are `{ "error": kind, "reason": text }`; the AMQP errors of the queue broker keep their
 * reply text, and their code picks the status:
 *
 *   404 NOT_FOUND → 404   406 PRECONDITION_FAILED → 400   403 ACCESS_REFUSED → 403
 *   405 RESOURCE_LOCKED → 409   503 COMMAND_INVALID (an unknown exchange type) → 400
 *   540 NOT_IMPLEMENTED (get or purge on a stream queue) → 400   others → 500
 *   a policy refused ("Validation failed …", RabbitMQ's words) → 400
 *
 * With AMQP turned off there is no queue broker, and every endpoint answers 503.
 */
import type { Logger } from '../../logging/logger.js';
import { AmqpChannelError, AmqpConnectionError } from '../../protocol/amqp/errors.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import type { Exchange } from '../../queues/exchange.js';
import { PolicyValidationError, type Policy } from '../../queues/policies/policy.js';
import { defaultQueueOptions, type QueueOptions } from '../../queues/queue-options.js';
import { Queue } from '../../queues/queue.js';
import type { QueueBroker } from '../../queues/queue-broker.js';
import type { QueuedMessage } from '../../queues/queue-store/stored-message.js';
import type { ServedGet, ServedQueueCounts } from '../../queues/queue-store/queue-store-api.js';
import type { VirtualHost } from '../../queues/virtual-host.js';
import { TopicTarget } from '../../queues/streams/topic-target.js';
import { FeedError } from '../../queues/streams/topic-feeds.js';
import { bindingPropertiesKey } from './binding-key.js';
import { FieldTableJsonError, fieldTableFromJson, fieldTableToJson } from './field-table-json.js';
import type { JsonObject, JsonValue } from './field-table-json.js';
import { messageToJson } from './message-json.js';
import type { PayloadEncoding } from './message-json.js';
import { Router } from './router.js';
import type { HttpReply, RouteRequest } from './router.js';

/** Messages one `get` may take. */
export const maxMessagesPerGet = 1000;
/** How long a `get` waits for ready messages still being read from a queue's disk log. */
const readyWaitMs = 2000;
const readyPollMs = 10;

/** A request the API refuses before reaching the queue broker (a bad body, an unknown vhost). */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'AdminApiError';
  }
}

export class AdminApi {
  private readonly router = new Router();

  constructor(
    private readonly broker: QueueBroker | null,
    private readonly logger: Logger | null = null,
  ) {
    this.router
      .add('GET', '/api/vhosts', () => this.listVirtualHosts())
      .add('GET', '/api/vhosts/:vhost', (request) => this.showVirtualHost(request))
      .add('PUT', '/api/vhosts/:vhost', (request) => this.createVirtualHost(request))
      .add('DELETE', '/api/vhosts/:vhost', (request) => this.deleteVirtualHost(request))
      .add('GET', '/api/exchanges', () => this.listExchanges(null))
      .add('GET', '/api/exchanges/:vhost', (request) => this.listExchanges(this.host(request)))
      .add('GET', '/api/exchanges/:vhost/:name', (request) => this.showExchange(request))
      .add('PUT', '/api/exchanges/:vhost/:name', (request) => this.declareExchange(request))
      .add('DELETE', '/api/exchanges/:vhost/:name', (request) => this.deleteExchange(request))
      .add('GET', '/api/queues', () => this.listQueues(null))
      .add('GET', '/api/queues/:vhost', (request) => this.listQueues(this.host(request)))
      .add('GET', '/api/queues/:vhost/:name', (request) => this.showQueue(request))
      .add('PUT', '/api/queues/:vhost/:name', (request) => this.declareQueue(request))
      .add('DELETE', '/api/queues/:vhost/:name', (request) => this.deleteQueue(request))
      .add('DELETE', '/api/queues/:vhost/:name/contents', (request) => this.purgeQueue(request))
      .add('POST', '/api/queues/:vhost/:name/get', (request) => this.getMessages(request))
      .add('GET', '/api/bindings', () => this.listBindings(null, () => true))
      .add('GET', '/api/bindings/:vhost', (request) => this.listBindings(this.host(request), () => true))
      .add('GET', '/api/bindings/:vhost/e/:source/:kind/:destination', (request) => this.listBindingsBetween(request))
      .add('POST', '/api/bindings/:vhost/e/:source/:kind/:destination', (request) => this.bind(request))
      .add('DELETE', '/api/bindings/:vhost/e/:source/:kind/:destination/:props', (request) => this.unbind(request))
      .add('GET', '/api/policies', () => ok(this.queueBroker.policies().map(policyJson)))
      .add('GET', '/api/policies/:vhost', (request) => ok(this.queueBroker.policies(this.host(request).name).map(policyJson)))
      .add('GET', '/api/policies/:vhost/:name', (request) => this.showPolicy(request))
      .add('PUT', '/api/policies/:vhost/:name', (request) => this.setPolicy(request))
      .add('DELETE', '/api/policies/:vhost/:name', (request) => this.deletePolicy(request))
      .add('GET', '/api/feeds', () => this.listFeeds(null))
      .add('GET', '/api/feeds/:vhost', (request) => this.listFeeds(this.host(request)))
      .add('PUT', '/api/feeds/:vhost/:queue/:topic', (request) => this.addFeed(request))
      .add('DELETE', '/api/feeds/:vhost/:queue/:topic', (request) => this.removeFeed(request));
  }

  /** Answers one request; `path` is still percent-encoded, `body` the parsed JSON (undefined when none). */
  async answer(method: string, path: string, query: URLSearchParams, body: unknown): Promise<HttpReply> {
    const match = this.router.match(method, path);
    switch (match.kind) {
      case 'notFound':
        return errorReply(404, 'not_found', `no admin API endpoint ${path}`);
      case 'badPath':
        return errorReply(400, 'bad_request', match.reason);
      case 'wrongMethod':
        return { ...errorReply(405, 'method_not_allowed', `${path} takes ${match.allowed.join(', ')}`), headers: { allow: match.allowed.join(', ') } };
      case 'found':
        break;
    }
    if (this.broker === null) return errorReply(503, 'service_unavailable', 'AMQP is turned off on this broker, so there are no queues to administer');
    try {
      return await match.handler({ params: match.params, query, body });
    } catch (error) {
      const reply = replyForError(error);
      if (reply.status >= 500) this.logger?.error('admin API request failed', { method, path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      return reply;
    }
  }

  private get queueBroker(): QueueBroker {
    if (this.broker === null) throw new AdminApiError(503, 'service_unavailable', 'AMQP is turned off');
    return this.broker;
  }

  private host(request: RouteRequest): VirtualHost {
    const name = param(request, 'vhost');
    const host = this.queueBroker.virtualHosts.get(name);
    if (host === undefined) throw new AdminApiError(404, 'not_found', `NOT_FOUND - no vhost '${name}'`);
    return host;
  }

  private hosts(only: VirtualHost | null): VirtualHost[] {
    return only !== null ? [only] : [...this.queueBroker.virtualHosts.values()].sort(byName);
  }

  // ── virtual hosts ─────────────────────────────────────────────────────────────────────────

  private listVirtualHosts(): HttpReply {
    return ok(this.hosts(null).map(virtualHostJson));
  }

  private showVirtualHost(request: RouteRequest): HttpReply {
    return ok(virtualHostJson(this.host(request)));
  }

  private async createVirtualHost(request: RouteRequest): Promise<HttpReply> {
    const name = param(request, 'vhost');
    const existed = this.queueBroker.hasVirtualHost(name);
    await this.queueBroker.createVirtualHost(name);
    return { status: existed ? 204 : 201 };
  }

  private async deleteVirtualHost(request: RouteRequest): Promise<HttpReply> {
    await this.queueBroker.deleteVirtualHost(param(request, 'vhost'));
    return { status: 204 };
  }

  // ── exchanges ─────────────────────────────────────────────────────────────────────────────

  private listExchanges(only: VirtualHost | null): HttpReply {
    return ok(this.hosts(only).flatMap((host) => [...host.exchanges.values()].sort(byName).map((exchange) => exchangeJson(exchange, this.queueBroker.appliedPolicy(exchange)))));
  }

  private showExchange(request: RouteRequest): HttpReply {
    const exchange = this.queueBroker.exchange(this.host(request), param(request, 'name'));
    return ok(exchangeJson(exchange, this.queueBroker.appliedPolicy(exchange)));
  }

  private async declareExchange(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const name = param(request, 'name');
    const body = objectBody(request);
    const type = stringField(body, 'type', null);
    if (type === null) throw new AdminApiError(400, 'bad_request', "the exchange 'type' is required (direct, fanout, topic or headers)");
    const existed = host.exchanges.has(name);
    await this.queueBroker.declareExchange(host, {
      name,
      type,
      passive: false,
      durable: booleanField(body, 'durable', true),
      autoDelete: booleanField(body, 'auto_delete', false),
      internal: booleanField(body, 'internal', false),
      arguments: argumentsField(body),
    });
    return { status: existed ? 204 : 201 };
  }

  private async deleteExchange(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const name = param(request, 'name');
    this.queueBroker.exchange(host, name); // 404 when missing (the AMQP method would succeed)
    await this.queueBroker.deleteExchange(host, name, queryFlag(request, 'if-unused'));
    return { status: 204 };
  }

  // ── queues ────────────────────────────────────────────────────────────────────────────────

  private async listQueues(only: VirtualHost | null): Promise<HttpReply> {
    const queues = this.hosts(only).flatMap((host) => [...host.queues.values()].sort(byName));
    const counts = await Promise.all(queues.map((queue) => queue.servedCounts()));
    return ok(queues.map((queue, index) => queueJson(queue, this.queueBroker.appliedPolicy(queue), counts[index] ?? queue)));
  }

  private async showQueue(request: RouteRequest): Promise<HttpReply> {
    const queue = this.queueBroker.queue(this.host(request), param(request, 'name'), null);
    return ok(queueJson(queue, this.queueBroker.appliedPolicy(queue), await queue.servedCounts()));
  }

  private async declareQueue(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const name = param(request, 'name');
    const body = objectBody(request);
    const existed = host.queues.has(name);
    await this.queueBroker.declareQueue(
      host,
      {
        name,
        passive: false,
        durable: booleanField(body, 'durable', true),
        // Refused by the queue broker when true: an exclusive queue needs a connection to own it.
        exclusive: booleanField(body, 'exclusive', false),
        autoDelete: booleanField(body, 'auto_delete', false),
        arguments: argumentsField(body),
      },
      null,
    );
    return { status: existed ? 204 : 201 };
  }

  private async deleteQueue(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const name = param(request, 'name');
    this.queueBroker.queue(host, name, null); // 404 when missing (the AMQP method would succeed)
    await this.queueBroker.deleteQueue(host, name, { ifUnused: queryFlag(request, 'if-unused'), ifEmpty: queryFlag(request, 'if-empty') }, null);
    return { status: 204 };
  }

  private async purgeQueue(request: RouteRequest): Promise<HttpReply> {
    await this.queueBroker.purgeQueue(this.host(request), param(request, 'name'), null);
    return { status: 204 };
  }

  /**
   * Takes up to `count` messages, then gives them back (ack_requeue_true, reject_requeue_true:
   * flagged redelivered, as RabbitMQ does) or settles them (ack_requeue_false, reject_requeue_false).
   * All are taken before any is given back, so the same message is not read twice.
   */
  private async getMessages(request: RouteRequest): Promise<HttpReply> {
    const queue = this.queueBroker.queue(this.host(request), param(request, 'name'), null);
    const body = objectBody(request);
    const count = integerField(body, 'count', 1, { min: 1, max: maxMessagesPerGet });
    const requeue = requeueOf(stringField(body, 'ackmode', null));
    const encoding = encodingOf(stringField(body, 'encoding', 'auto'));
    const truncate = body['truncate'] === undefined || body['truncate'] === null ? null : integerField(body, 'truncate', 0, { min: 0, max: Number.MAX_SAFE_INTEGER });
    const taken: QueuedMessage[] = [];
    const messages: JsonObject[] = [];
    try {
      while (taken.length < count) {
        const got = await takeWhenReady(queue);
        if (got === null) break;
        taken.push(got.message);
        messages.push(messageToJson(got.message, got.messageCount, { encoding, truncateBytes: truncate }));
      }
    } finally {
      for (const message of taken) {
        if (requeue) queue.requeue(message);
        else queue.settle(message);
      }
    }
    return ok(messages);
  }

  // ── policies ──────────────────────────────────────────────────────────────────────────────

  private showPolicy(request: RouteRequest): HttpReply {
    const host = this.host(request);
    const name = param(request, 'name');
    const policy = this.queueBroker.policy(host.name, name);
    if (policy === undefined) throw new AdminApiError(404, 'not_found', `NOT_FOUND - no policy '${name}' in vhost '${host.name}'`);
    return ok(policyJson(policy));
  }

  /** RabbitMQ's body: {"pattern": …, "definition": {…}, "priority": 0, "apply-to": "all"}. */
  private async setPolicy(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const body = objectBody(request);
    const created = await this.queueBroker.setPolicy(host.name, param(request, 'name'), { pattern: body['pattern'], definition: body['definition'], priority: body['priority'], applyTo: body['apply-to'] });
    return { status: created ? 201 : 204 };
  }

  private async deletePolicy(request: RouteRequest): Promise<HttpReply> {
    await this.queueBroker.deletePolicy(this.host(request).name, param(request, 'name'));
    return { status: 204 };
  }

  // ── bindings ──────────────────────────────────────────────────────────────────────────────

  private listBindings(only: VirtualHost | null, wanted: (binding: JsonObject) => boolean): HttpReply {
    return ok(this.hosts(only).flatMap((host) => bindingsOf(host).filter(wanted)));
  }

  private listBindingsBetween(request: RouteRequest): HttpReply {
    const host = this.host(request);
    const { source, destination, destinationType } = this.bindingEnds(host, request);
    return this.listBindings(host, (binding) => binding['source'] === source.name && binding['destination'] === destination.name && binding['destination_type'] === destinationType);
  }

  private async bind(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const { source, destination } = this.bindingEnds(host, request);
    const body = objectBody(request);
    const binding = { source: source.name, destination: destination.name, routingKey: stringField(body, 'routing_key', ''), arguments: argumentsField(body) };
    if (destination instanceof TopicTarget) await this.queueBroker.bindTopic(host, binding);
    else if (destination instanceof Queue) await this.queueBroker.bindQueue(host, binding, null);
    else await this.queueBroker.bindExchange(host, binding);
    const key = bindingPropertiesKey(binding.routingKey, binding.arguments);
    return { status: 201, headers: { location: encodeURIComponent(key) } };
  }

  private async unbind(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const { source, destination } = this.bindingEnds(host, request);
    const key = param(request, 'props');
    const found = [...source.matcher.bindings()].find((binding) => binding.destination === destination && bindingPropertiesKey(binding.routingKey, binding.arguments) === key);
    if (found === undefined) throw new AdminApiError(404, 'not_found', `NOT_FOUND - no binding '${key}' from exchange '${source.name}' to '${destination.name}' in vhost '${host.name}'`);
    const binding = { source: source.name, destination: destination.name, routingKey: found.routingKey, arguments: found.arguments };
    if (destination instanceof TopicTarget) await this.queueBroker.unbindTopic(host, binding);
    else if (destination instanceof Queue) await this.queueBroker.unbindQueue(host, binding, null);
    else await this.queueBroker.unbindExchange(host, binding);
    return { status: 204 };
  }

  /** The source exchange and the destination named by `/e/:source/:kind/:destination` (kind q, e, or t for a Kafka topic). */
  private bindingEnds(host: VirtualHost, request: RouteRequest): { source: Exchange; destination: Queue | Exchange; destinationType: DestinationType } {
    const kind = param(request, 'kind');
    if (kind !== 'q' && kind !== 'e' && kind !== 't') throw new AdminApiError(404, 'not_found', `bindings go to a queue (/q/), an exchange (/e/) or a Kafka topic (/t/), not '/${kind}/'`);
    const source = this.queueBroker.exchange(host, param(request, 'source'));
    const destinationName = param(request, 'destination');
    // A topic's binding end exists whether or not a binding uses it yet; binding checks that the topic exists.
    if (kind === 't') return { source, destination: this.queueBroker.streams.topicTarget(host.name, destinationName, true), destinationType: 'topic' };
    if (kind === 'q') return { source, destination: this.queueBroker.queue(host, destinationName, null), destinationType: 'queue' };
    return { source, destination: this.queueBroker.exchange(host, destinationName), destinationType: 'exchange' };
  }

  // ── topic feeds ───────────────────────────────────────────────────────────────────────────

  private listFeeds(only: VirtualHost | null): HttpReply {
    const feeds = this.queueBroker.streams.feeds.list().filter((feed) => only === null || feed.virtualHost === only.name);
    return ok(feeds.map((feed) => ({ vhost: feed.virtualHost, queue: feed.queue, topic: feed.topic, positions: feed.positions })));
  }

  private async addFeed(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const queue = this.queueBroker.queue(host, param(request, 'queue'), null);
    const created = await feedCall(() => this.queueBroker.streams.feeds.add(host.name, queue.name, param(request, 'topic')));
    return { status: created ? 201 : 204 };
  }

  private async removeFeed(request: RouteRequest): Promise<HttpReply> {
    const host = this.host(request);
    const removed = await this.queueBroker.streams.feeds.remove(host.name, param(request, 'queue'), param(request, 'topic'));
    if (!removed) throw new AdminApiError(404, 'not_found', `NOT_FOUND - no feed of queue '${param(request, 'queue')}' from topic '${param(request, 'topic')}' in vhost '${host.name}'`);
    return { status: 204 };
  }
}

async function feedCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof FeedError) throw new AdminApiError(error.status, error.status === 404 ? 'not_found' : 'bad_request', error.message);
    throw error;
  }
}

type DestinationType = 'queue' | 'exchange' | 'topic';

// ── JSON shapes ─────────────────────────────────────────────────────────────────────────────

function virtualHostJson(host: VirtualHost): JsonObject {
  let ready = 0;
  let unacknowledged = 0;
  for (const queue of host.queues.values()) {
    ready += queue.messageCount;
    unacknowledged += queue.unackedCount;
  }
  return { name: host.name, messages: ready + unacknowledged, messages_ready: ready, messages_unacknowledged: unacknowledged };
}

function exchangeJson(exchange: Exchange, policy: Policy | null): JsonObject {
  const { settings } = exchange;
  const json: JsonObject = {
    name: settings.name,
    vhost: settings.virtualHost,
    type: settings.type,
    durable: settings.durable,
    auto_delete: settings.autoDelete,
    internal: settings.internal,
    arguments: fieldTableToJson(settings.arguments),
    policy: policy?.name ?? null,
  };
  // x-delayed-message exchanges: the messages they hold (the plugin's messages_delayed).
  if (exchange.delayedMessages !== null) json['messages_delayed'] = exchange.delayedMessages.heldCount;
  return json;
}

/** `served`: the counts where the queue is served (queue.ts servedCounts; unacknowledged messages are those taken through this broker). */
function queueJson(queue: Queue, policy: Policy | null, served: ServedQueueCounts): JsonObject {
  const { settings } = queue;
  const ready = served.messageCount;
  return {
    name: settings.name,
    vhost: settings.virtualHost,
    durable: settings.durable,
    auto_delete: settings.autoDelete,
    exclusive: settings.exclusiveOwner !== null,
    arguments: fieldTableToJson(settings.arguments),
    messages: ready + queue.unackedCount,
    messages_ready: ready,
    messages_unacknowledged: queue.unackedCount,
    consumers: served.consumerCount,
    served_here: queue.store.servedHere !== false,
    served_by: servedByOf(queue),
    policy: policy?.name ?? null,
    effective_policy_definition: { ...(policy?.definition ?? {}) },
    effective_options: optionsJson(queue.options),
  };
}

/** In a cluster, the node id of the broker serving a durable queue; null on a single broker, for a queue of this broker alone, or while none serves it. */
function servedByOf(queue: Queue): number | null {
  const nodeId = queue.store.servedBy;
  return nodeId === undefined || nodeId < 0 ? null : nodeId;
}

function policyJson(policy: Policy): JsonObject {
  return { vhost: policy.virtualHost, name: policy.name, pattern: policy.pattern, 'apply-to': policy.applyTo, definition: { ...policy.definition }, priority: policy.priority };
}

/** Names of the queue options as policy keys (policies/policy.ts) and x- arguments (without "x-") call them. */
const optionNames: Readonly<Record<keyof QueueOptions, string>> = {
  maxLength: 'max-length',
  maxLengthBytes: 'max-length-bytes',
  overflow: 'overflow',
  messageTtlMs: 'message-ttl',
  expiresMs: 'expires',
  deadLetterExchange: 'dead-letter-exchange',
  deadLetterRoutingKey: 'dead-letter-routing-key',
  deliveryLimit: 'delivery-limit',
  maxPriority: 'max-priority',
  singleActiveConsumer: 'single-active-consumer',
  queueType: 'queue-type',
};

/** What the queue applies (its arguments combined with its policy), where it differs from a plain queue. */
function optionsJson(options: QueueOptions): JsonObject {
  const result: JsonObject = {};
  for (const key of Object.keys(optionNames) as (keyof QueueOptions)[]) {
    const value = options[key];
    if (value !== defaultQueueOptions[key] && value !== null) result[optionNames[key]] = value;
  }
  return result;
}

/** Every binding of a vhost, the default exchange's implicit one to each queue first (RabbitMQ lists them too). */
function bindingsOf(host: VirtualHost): JsonObject[] {
  const result: JsonObject[] = [...host.queues.values()].sort(byName).map((queue) => bindingJson(host, '', queue.name, 'queue', queue.name, new Map()));
  for (const exchange of [...host.exchanges.values()].sort(byName)) {
    if (exchange.isDefault) continue;
    const rows = [...exchange.matcher.bindings()].map((binding) =>
      bindingJson(host, exchange.name, binding.destination.name, binding.destination instanceof TopicTarget ? 'topic' : binding.destination instanceof Queue ? 'queue' : 'exchange', binding.routingKey, binding.arguments),
    );
    rows.sort((left, right) => compareText(`${String(left['destination'])}\u0000${String(left['properties_key'])}`, `${String(right['destination'])}\u0000${String(right['properties_key'])}`));
    result.push(...rows);
  }
  return result;
}

function bindingJson(host: VirtualHost, source: string, destination: string, destinationType: DestinationType, routingKey: string, bindingArguments: FieldTable): JsonObject {
  return { source, vhost: host.name, destination, destination_type: destinationType, routing_key: routingKey, arguments: fieldTableToJson(bindingArguments), properties_key: bindingPropertiesKey(routingKey, bindingArguments) };
}

// ── requests ────────────────────────────────────────────────────────────────────────────────

function param(request: RouteRequest, name: string): string {
  const value = request.params[name];
  if (value === undefined) throw new Error(`route has no :${name}`);
  return value;
}

/** RabbitMQ takes `?if-unused=true`; any value but "false" counts, as does the bare flag. */
function queryFlag(request: RouteRequest, name: string): boolean {
  const value = request.query.get(name);
  return value !== null && value !== 'false';
}

function objectBody(request: RouteRequest): Readonly<Record<string, unknown>> {
  const { body } = request;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new AdminApiError(400, 'bad_request', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function booleanField(body: Readonly<Record<string, unknown>>, name: string, fallback: boolean): boolean {
  const value = body[name];
  if (value === undefined) return fallback;
  // RabbitMQ's own forms send "true"/"false" as strings.
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new AdminApiError(400, 'bad_request', `'${name}' must be true or false`);
}

function stringField<T extends string | null>(body: Readonly<Record<string, unknown>>, name: string, fallback: T): string | T {
  const value = body[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new AdminApiError(400, 'bad_request', `'${name}' must be a string`);
  return value;
}

function integerField(body: Readonly<Record<string, unknown>>, name: string, fallback: number, limits: { readonly min: number; readonly max: number }): number {
  const value = body[name];
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < limits.min || number > limits.max) {
    throw new AdminApiError(400, 'bad_request', `'${name}' must be an integer from ${limits.min} to ${limits.max}`);
  }
  return number;
}

function argumentsField(body: Readonly<Record<string, unknown>>): FieldTable {
  return fieldTableFromJson(body['arguments'] ?? undefined, 'arguments');
}

function requeueOf(ackmode: string | null): boolean {
  switch (ackmode) {
    case 'ack_requeue_true':
    case 'reject_requeue_true':
      return true;
    case 'ack_requeue_false':
    case 'reject_requeue_false':
      return false;
    default:
      throw new AdminApiError(400, 'bad_request', "'ackmode' must be ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false");
  }
}

function encodingOf(encoding: string): PayloadEncoding {
  if (encoding === 'auto' || encoding === 'base64') return encoding;
  throw new AdminApiError(400, 'bad_request', "'encoding' must be auto or base64");
}

/** The next ready message and how many are left; waits a little while ready messages are still being read from disk. */
async function takeWhenReady(queue: Queue): Promise<ServedGet | null> {
  // In a cluster, a queue another broker serves gives its messages (and its count) from there.
  const fromServer = queue.takeFromServer();
  if (fromServer !== null) return fromServer;
  const deadline = Date.now() + readyWaitMs;
  for (;;) {
    const message = queue.take();
    if (message !== null) return { message, messageCount: queue.messageCount };
    if (queue.deleted || queue.messageCount === 0 || Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, readyPollMs));
  }
}

// ── replies ─────────────────────────────────────────────────────────────────────────────────

function ok(body: JsonValue): HttpReply {
  return { status: 200, body };
}

export function errorReply(status: number, kind: string, reason: string): HttpReply {
  return { status, body: { error: kind, reason } };
}

/** The HTTP answer to an error thrown by a handler (the table at the top of this file). */
export function replyForError(error: unknown): HttpReply {
  if (error instanceof AdminApiError) return errorReply(error.status, error.kind, error.reason);
  if (error instanceof FieldTableJsonError) return errorReply(400, 'bad_request', error.message);
  if (error instanceof PolicyValidationError) return errorReply(400, 'bad_request', error.message);
  if (error instanceof AmqpChannelError || error instanceof AmqpConnectionError) {
    switch (error.replyCode) {
      case replyCodes.notFound:
        return errorReply(404, 'not_found', error.replyText);
      case replyCodes.preconditionFailed:
      case replyCodes.commandInvalid:
      case replyCodes.notImplemented:
        return errorReply(400, 'bad_request', error.replyText);
      case replyCodes.accessRefused:
        return errorReply(403, 'access_refused', error.replyText);
      case replyCodes.resourceLocked:
        return errorReply(409, 'resource_locked', error.replyText);
      default:
        return errorReply(500, 'internal_error', error.replyText);
    }
  }
  return errorReply(500, 'internal_error', error instanceof Error ? error.message : String(error));
}

function byName(left: { readonly name: string }, right: { readonly name: string }): number {
  return compareText(left.name, right.name);
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
