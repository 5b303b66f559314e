/**
 * The fanout exchange: a message reaches every bound destination; its routing key (and the
 * binding's) is ignored in routing. The binding's routing key and arguments still make its
 * identity: a queue bound twice with different keys has two bindings, and still gets each message
 * once.
 */
import type { Binding, BindingMatcher } from './binding-matcher.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { DestinationBindings } from './destination-bindings.js';

export class FanoutMatcher<Destination> implements BindingMatcher<Destination> {
  private readonly all = new DestinationBindings<Destination>();

  get size(): number {
    return this.all.size;
  }

  add(binding: Binding<Destination>): boolean {
    return this.all.add(binding);
  }

  remove(binding: Binding<Destination>): boolean {
    return this.all.remove(binding);
  }

  removeDestination(destination: Destination): number {
    return this.all.removeDestination(destination);
  }

  route(_routingKey: string, _headers: FieldTable | undefined, into: Set<Destination>): void {
    this.all.addDestinationsTo(into);
  }

  /** A snapshot: the matcher may be changed while going through it. */
  bindings(): Binding<Destination>[] {
    return this.all.bindings();
  }
}
