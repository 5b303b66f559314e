/**
 * An AMQP exchange: its type's binding matcher (routing/) and the properties it was declared
 * with. Exchanges route to queues and, through exchange-to-exchange bindings, to other exchanges.
 * An `x-delayed-message` exchange routes with the matcher of its `x-delayed-type` and holds
 * delayed messages in its store (delayed/).
 */
import type { FieldTable } from '../protocol/amqp/field-table.js';
import type { BindingMatcher, ExchangeTypeName } from './routing/binding-matcher.js';
import { createBindingMatcher } from './routing/matcher-for.js';
import { delayedExchangeType, delayedRoutingType, type DeclarableExchangeType } from './delayed/delayed-exchange-type.js';
import type { DelayedMessageStore } from './delayed/delayed-store.js';
import type { Queue } from './queue.js';

export type Destination = Queue | Exchange;

export interface ExchangeSettings {
  readonly virtualHost: string;
  readonly name: string;
  readonly type: DeclarableExchangeType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

export class Exchange {
  readonly matcher: BindingMatcher<Destination>;
  /** How it routes: its type, or an x-delayed-message exchange's x-delayed-type. */
  readonly routingType: ExchangeTypeName;
  /** Where an x-delayed-message exchange holds its delayed messages (set once opened); null for the others. */
  delayedMessages: DelayedMessageStore | null = null;
  /** The `alternate-exchange` argument. */
  readonly argumentAlternateExchange: string | null;
  /**
   * Where messages this exchange cannot route go: its argument, else its policy's
   * `alternate-exchange` (the queue broker sets it whenever policies change).
   */
  alternateExchange: string | null;
  deleted = false;

  constructor(readonly settings: ExchangeSettings) {
    this.routingType = routingTypeOf(settings);
    this.matcher = createBindingMatcher<Destination>(this.routingType);
    const alternate = settings.arguments.get('alternate-exchange');
    this.argumentAlternateExchange = alternate?.type === 'longString' ? alternate.value.toString('utf8') : null;
    this.alternateExchange = this.argumentAlternateExchange;
  }

  get name(): string {
    return this.settings.name;
  }

  get type(): DeclarableExchangeType {
    return this.settings.type;
  }

  get isDelayed(): boolean {
    return this.settings.type === delayedExchangeType;
  }

  /** The default exchange ("") routes by queue name and takes no bindings. */
  get isDefault(): boolean {
    return this.settings.name === '';
  }
}

/** The routing type; a delayed exchange's x-delayed-type is checked before one is made (QueueBroker). */
function routingTypeOf(settings: ExchangeSettings): ExchangeTypeName {
  if (settings.type !== delayedExchangeType) return settings.type;
  const routingType = delayedRoutingType(settings.arguments);
  if (typeof routingType !== 'string') throw new Error(routingType.problem);
  return routingType;
}
