/**
 * How an exchange of one type finds the destinations of a message (AMQP 0-9-1 exchange types,
 * as RabbitMQ implements them). Each exchange owns one matcher holding its bindings; publishing
 * asks it for every destination a routing key (and, for headers exchanges, the message headers)
 * reaches. Destinations are opaque to the matcher and compared by identity (the same object is
 * passed for the same queue or exchange).
 *
 * A binding is the triple (destination, routing key, arguments); two bindings with the same triple
 * are the same binding (binding twice is a no-op, as in RabbitMQ).
 */
import type { FieldTable } from '../../protocol/amqp/field-table.js';

export type ExchangeTypeName = 'direct' | 'fanout' | 'topic' | 'headers';

export interface Binding<Destination> {
  readonly destination: Destination;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

export interface BindingMatcher<Destination> {
  /** Adds a binding; false when the same binding (destination, routing key, arguments) is there already. */
  add(binding: Binding<Destination>): boolean;
  /** Removes a binding; false when there is no such binding. */
  remove(binding: Binding<Destination>): boolean;
  /** Removes every binding to the destination (a deleted queue or exchange); returns how many. */
  removeDestination(destination: Destination): number;
  /** Adds to `into` every destination the message reaches (each once: it is a set). */
  route(routingKey: string, headers: FieldTable | undefined, into: Set<Destination>): void;
  /** Every binding, in no particular order. */
  bindings(): Iterable<Binding<Destination>>;
  readonly size: number;
}
