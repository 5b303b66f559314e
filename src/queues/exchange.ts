/**
 * An AMQP exchange: its type's binding matcher (routing/) and the properties it was declared
 * with. Exchanges route to queues and, through exchange-to-exchange bindings, to other exchanges.
 */
import type { FieldTable } from '../protocol/amqp/field-table.js';
import type { BindingMatcher, ExchangeTypeName } from './routing/binding-matcher.js';
import { createBindingMatcher } from './routing/matcher-for.js';
import type { Queue } from './queue.js';

export type Destination = Queue | Exchange;

export interface ExchangeSettings {
  readonly virtualHost: string;
  readonly name: string;
  readonly type: ExchangeTypeName;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

export class Exchange {
  readonly matcher: BindingMatcher<Destination>;
  /** The `alternate-exchange` argument. */
  readonly argumentAlternateExchange: string | null;
  /**
   * Where messages this exchange cannot route go: its argument, else its policy's
   * `alternate-exchange` (the queue broker sets it whenever policies change).
   */
  alternateExchange: string | null;
  deleted = false;

  constructor(readonly settings: ExchangeSettings) {
    this.matcher = createBindingMatcher<Destination>(settings.type);
    const alternate = settings.arguments.get('alternate-exchange');
    this.argumentAlternateExchange = alternate?.type === 'longString' ? alternate.value.toString('utf8') : null;
    this.alternateExchange = this.argumentAlternateExchange;
  }

  get name(): string {
    return this.settings.name;
  }

  get type(): ExchangeTypeName {
    return this.settings.type;
  }

  /** The default exchange ("") routes by queue name and takes no bindings. */
  get isDefault(): boolean {
    return this.settings.name === '';
  }
}
