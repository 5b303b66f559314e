/**
 * Dead-lettering, as RabbitMQ does it: a message a queue drops (x-max-length drop-head, or refused
 * by reject-publish-dlx), lets expire, sees rejected without requeue, or sees given back more often
 * than its delivery limit is published again to the queue's dead-letter exchange, with the
 * dead-letter routing key or its own, and headers telling its history:
 *
 *   x-death                 array of tables, most recent first; one per (queue, reason):
 *                           queue, reason (rejected | expired | maxlen | delivery_limit), count,
 *                           time (when first dead-lettered there), exchange and routing-keys it was
 *                           published with, original-expiration (when it had an expiration)
 *   x-first-death-queue / -reason / -exchange   the first time, never changed after
 *   x-last-death-queue / -reason / -exchange    the latest time
 *
 * The `expiration` property is removed (it is kept in x-death's original-expiration), so a message
 * does not expire again for the same reason in the next queue.
 *
 * Cycles: a message is not dead-lettered into a queue it already died in (per x-death, the entries
 * up to that queue's) unless one of those deaths was a rejection: an automatic cycle (expiry or
 * length limit looping) would never end. Rejections are a client's decision, so they may cycle.
 */
import type { FieldTable, FieldValue } from '../protocol/amqp/field-table.js';
import { decodeRawProperties, encodeRawProperties } from '../protocol/amqp/content-header.js';
import type { Logger } from '../logging/logger.js';
import { appendToQueues, type AppendRefusals } from './append-to-queues.js';
import type { Queue } from './queue.js';
import { integerValue } from './queue-options.js';
import type { StoredMessage } from './queue-store/stored-message.js';
import type { VirtualHost } from './virtual-host.js';

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export interface Death {
  readonly queue: string;
  readonly reason: DeathReason;
  /** Where the message was published, and with which routing key. */
  readonly exchange: string;
  readonly routingKey: string;
  readonly timeMs: number;
}

function text(value: string): FieldValue {
  return { type: 'longString', value: Buffer.from(value, 'utf8') };
}

function textOf(value: FieldValue | undefined): string | null {
  return value?.type === 'longString' ? value.value.toString('utf8') : null;
}

/** The count of an x-death entry (RabbitMQ writes a long; any integer is read). */
function countOf(value: FieldValue | undefined): number {
  return value === undefined ? 0 : (integerValue(value) ?? 0);
}

/**
 * The properties of a message dead-lettered for `death`: x-death and the first/last death headers
 * updated, expiration removed; encoded, and their headers (which routing and cycle checks read).
 */
export function deadLetteredProperties(properties: Buffer, death: Death): { readonly properties: Buffer; readonly headers: FieldTable } {
  const decoded = decodeRawProperties(properties);
  const headers = new Map<string, FieldValue>(decoded.headers ?? []);
  const earlier = headers.get('x-death');
  const deaths: FieldValue[] = earlier?.type === 'array' ? [...earlier.value] : [];
  const sameIndex = deaths.findIndex((entry) => entry.type === 'table' && textOf(entry.value.get('queue')) === death.queue && textOf(entry.value.get('reason')) === death.reason);
  let entry: Map<string, FieldValue>;
  if (sameIndex >= 0) {
    const same = deaths.splice(sameIndex, 1)[0] as { readonly type: 'table'; readonly value: FieldTable };
    entry = new Map(same.value);
    entry.set('count', { type: 'int64', value: BigInt(countOf(same.value.get('count')) + 1) });
  } else {
    entry = new Map<string, FieldValue>([
      ['count', { type: 'int64', value: 1n }],
      ['reason', text(death.reason)],
      ['queue', text(death.queue)],
      ['time', { type: 'timestamp', value: BigInt(Math.floor(death.timeMs / 1000)) }],
      ['exchange', text(death.exchange)],
      ['routing-keys', { type: 'array', value: [text(death.routingKey)] }],
    ]);
    if (decoded.expiration !== undefined) entry.set('original-expiration', text(decoded.expiration));
  }
  deaths.unshift({ type: 'table', value: entry });
  headers.set('x-death', { type: 'array', value: deaths });
  if (!headers.has('x-first-death-queue')) {
    headers.set('x-first-death-queue', text(death.queue));
    headers.set('x-first-death-reason', text(death.reason));
    headers.set('x-first-death-exchange', text(death.exchange));
  }
  headers.set('x-last-death-queue', text(death.queue));
  headers.set('x-last-death-reason', text(death.reason));
  headers.set('x-last-death-exchange', text(death.exchange));
  const { expiration: _removed, ...rest } = decoded;
  return { properties: encodeRawProperties({ ...rest, headers }), headers };
}

/** The properties with the x-delivery-count header set to `count` (a delivery of a message given back before). */
export function propertiesWithDeliveryCount(properties: Buffer, count: number): Buffer {
  const decoded = decodeRawProperties(properties);
  const headers = new Map<string, FieldValue>(decoded.headers ?? []);
  headers.set('x-delivery-count', { type: 'int64', value: BigInt(count) });
  return encodeRawProperties({ ...decoded, headers });
}

/**
 * Whether dead-lettering into `queueName` would close an automatic cycle: it appears in `deaths`
 * (most recent first) and none of the deaths up to its entry was a rejection.
 */
export function isDeathCycle(queueName: string, deaths: readonly FieldValue[]): boolean {
  for (const entry of deaths) {
    if (entry.type !== 'table') return false;
    if (textOf(entry.value.get('reason')) === 'rejected') return false;
    if (textOf(entry.value.get('queue')) === queueName) return true;
  }
  return false;
}

/** Routes dead-lettered messages within their queue's virtual host (QueueEvents.deadLetter). */
export class DeadLetterRouter {
  /** Reused by every route (routing is synchronous). */
  private readonly routed = new Set<Queue>();
  /** A target that refuses the letter (full, reject-publish) does not get it; the others do. */
  private readonly refusals: AppendRefusals = { refused: false };

  constructor(
    private readonly hostOf: (name: string) => VirtualHost | undefined,
    private readonly logger: Logger,
  ) {}

  deadLetter(queue: Queue, message: StoredMessage, reason: DeathReason): Promise<unknown> | null {
    const { deadLetterExchange, deadLetterRoutingKey } = queue.options;
    if (deadLetterExchange === null) return null;
    const host = this.hostOf(queue.virtualHost);
    const exchange = host?.exchanges.get(deadLetterExchange);
    if (host === undefined || exchange === undefined) {
      this.logger.debug('dead-letter exchange missing: message dropped', { queue: queue.name, deadLetterExchange });
      return null;
    }
    const nowMs = Date.now();
    let dead: ReturnType<typeof deadLetteredProperties>;
    try {
      dead = deadLetteredProperties(message.properties, { queue: queue.name, reason, exchange: message.exchange, routingKey: message.routingKey, timeMs: nowMs });
    } catch (error) {
      this.logger.warn('a message could not be dead-lettered (its properties do not decode): dropped', { queue: queue.name, error: (error as Error).message });
      return null;
    }
    const routingKey = deadLetterRoutingKey ?? message.routingKey;
    const routed = this.routed;
    routed.clear();
    host.route(exchange, routingKey, dead.headers, routed);
    const deaths = dead.headers.get('x-death');
    if (reason !== 'rejected' && deaths?.type === 'array') {
      for (const target of routed) {
        if (!isDeathCycle(target.name, deaths.value)) continue;
        this.logger.debug('dead-letter cycle: message not delivered to a queue it already died in', { queue: target.name });
        routed.delete(target);
      }
    }
    const letter: StoredMessage = { exchange: deadLetterExchange, routingKey, properties: dead.properties, body: message.body, persistent: message.persistent, publishedAtMs: nowMs, expiresAtMs: null };
    const durable = appendToQueues(routed, letter, this.refusals);
    routed.clear();
    return durable;
  }
}
