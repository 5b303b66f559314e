/**
 * The direct exchange: a message reaches the destinations bound with exactly its routing key
 * (byte-for-byte equal; the empty key is a key like any other). Binding arguments take no part in
 * routing, only in a binding's identity. Bindings are kept per routing key, so routing is one map
 * lookup whatever the number of bindings.
 */
import type { Binding, BindingMatcher } from './binding-matcher.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { DestinationBindings } from './destination-bindings.js';
import { RoutingKeysByDestination } from './routing-keys-by-destination.js';

export class DirectMatcher<Destination> implements BindingMatcher<Destination> {
  private readonly byRoutingKey = new Map<string, DestinationBindings<Destination>>();
  private readonly routingKeysOf = new RoutingKeysByDestination<Destination>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(binding: Binding<Destination>): boolean {
    let group = this.byRoutingKey.get(binding.routingKey);
    if (group === undefined) {
      group = new DestinationBindings<Destination>();
      this.byRoutingKey.set(binding.routingKey, group);
    }
    if (!group.add(binding)) return false;
    this.routingKeysOf.note(binding.destination, binding.routingKey);
    this.count += 1;
    return true;
  }

  remove(binding: Binding<Destination>): boolean {
    const group = this.byRoutingKey.get(binding.routingKey);
    if (group === undefined || !group.remove(binding)) return false;
    if (!group.hasDestination(binding.destination)) this.routingKeysOf.forget(binding.destination, binding.routingKey);
    if (group.isEmpty) this.byRoutingKey.delete(binding.routingKey);
    this.count -= 1;
    return true;
  }

  removeDestination(destination: Destination): number {
    let removed = 0;
    for (const routingKey of this.routingKeysOf.take(destination)) {
      const group = this.byRoutingKey.get(routingKey);
      if (group === undefined) continue;
      removed += group.removeDestination(destination);
      if (group.isEmpty) this.byRoutingKey.delete(routingKey);
    }
    this.count -= removed;
    return removed;
  }

  route(routingKey: string, _headers: FieldTable | undefined, into: Set<Destination>): void {
    this.byRoutingKey.get(routingKey)?.addDestinationsTo(into);
  }

  /** A snapshot: the matcher may be changed while going through it. */
  bindings(): Binding<Destination>[] {
    const all: Binding<Destination>[] = [];
    for (const group of this.byRoutingKey.values()) {
      for (const binding of group.bindings()) all.push(binding);
    }
    return all;
  }
}
