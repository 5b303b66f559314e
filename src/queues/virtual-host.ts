/**
 * A virtual host: a namespace of exchanges and queues (RabbitMQ's vhost). Each starts with the
 * default exchange ("", routing by queue name) and the predeclared amq.* exchanges.
 */
import { emptyFieldTable } from '../protocol/amqp/field-table.js';
import type { FieldTable } from '../protocol/amqp/field-table.js';
import type { ExchangeTypeName } from './routing/binding-matcher.js';
import { Exchange, type Destination } from './exchange.js';
import { Queue } from './queue.js';

const predeclaredExchanges: ReadonlyArray<readonly [string, ExchangeTypeName]> = [
  ['', 'direct'],
  ['amq.direct', 'direct'],
  ['amq.fanout', 'fanout'],
  ['amq.topic', 'topic'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

/** Exchanges one publish may pass through (exchange-to-exchange bindings and alternate exchanges). */
const maxExchangeHops = 64;

export class VirtualHost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Scratch sets reused by route(), which runs synchronously. */
  private readonly matched = new Set<Destination>();
  private readonly visited = new Set<Exchange>();

  /** How many of `exchanges` every virtual host starts with (they do not count against amqp.maxExchanges). */
  readonly predeclaredExchangeCount = predeclaredExchanges.length;

  constructor(readonly name: string) {
    for (const [exchangeName, type] of predeclaredExchanges) {
      this.exchanges.set(exchangeName, new Exchange({ virtualHost: name, name: exchangeName, type, durable: true, autoDelete: false, internal: false, arguments: emptyFieldTable() }));
    }
  }

  /**
   * Adds to `into` every queue a message published to `exchange` reaches: through its bindings,
   * exchange-to-exchange bindings (each exchange visited once) and, where an exchange routes
   * nowhere, its alternate exchange.
   */
  route(exchange: Exchange, routingKey: string, headers: FieldTable | undefined, into: Set<Queue>): void {
    this.visited.clear();
    this.routeFrom(exchange, routingKey, headers, into);
  }

  private routeFrom(exchange: Exchange, routingKey: string, headers: FieldTable | undefined, into: Set<Queue>): void {
    if (this.visited.has(exchange) || this.visited.size >= maxExchangeHops) return;
    this.visited.add(exchange);
    const before = into.size;
    if (exchange.isDefault) {
      const queue = this.queues.get(routingKey);
      if (queue !== undefined) into.add(queue);
      return;
    }
    const matched = this.matched;
    matched.clear();
    exchange.matcher.route(routingKey, headers, matched);
    // Exchanges found are followed after the loop: following one reuses `matched`.
    let exchanges: Exchange[] | null = null;
    for (const destination of matched) {
      if (destination instanceof Queue) into.add(destination);
      else (exchanges ??= []).push(destination);
    }
    matched.clear();
    if (exchanges !== null) for (const next of exchanges) this.routeFrom(next, routingKey, headers, into);
    if (into.size === before && exchange.alternateExchange !== null) {
      const alternate = this.exchanges.get(exchange.alternateExchange);
      if (alternate !== undefined) this.routeFrom(alternate, routingKey, headers, into);
    }
  }
}
