/**
 * A set of bindings grouped by destination: the building block every matcher stores its bindings
 * in (one for a fanout or headers exchange, one per routing key for a direct exchange, one per
 * trie node for a topic exchange). A destination usually has one binding in a group; several only
 * when the same destination is bound with different routing keys (fanout, headers) or different
 * arguments, so the per-destination list is searched linearly.
 *
 * Routing asks `destinations()` (each destination once, however many of its bindings are here);
 * identity is (destination by ===, routing key, arguments by content).
 */
import type { Binding } from './binding-matcher.js';
import { fieldTablesEqual } from './field-table-equality.js';

export function sameBinding<Destination>(left: Binding<Destination>, right: Binding<Destination>): boolean {
  return left.destination === right.destination
    && left.routingKey === right.routingKey
    && fieldTablesEqual(left.arguments, right.arguments);
}

export class DestinationBindings<Destination, Stored extends Binding<Destination> = Binding<Destination>> {
  private readonly byDestination = new Map<Destination, Stored[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  /** False when the same binding is here already. */
  add(binding: Stored): boolean {
    const list = this.byDestination.get(binding.destination);
    if (list === undefined) {
      this.byDestination.set(binding.destination, [binding]);
    } else {
      if (list.some((present) => sameBinding(present, binding))) return false;
      list.push(binding);
    }
    this.count += 1;
    return true;
  }

  /** False when there is no such binding. */
  remove(binding: Binding<Destination>): boolean {
    const list = this.byDestination.get(binding.destination);
    if (list === undefined) return false;
    const index = list.findIndex((present) => sameBinding(present, binding));
    if (index < 0) return false;
    list.splice(index, 1);
    if (list.length === 0) this.byDestination.delete(binding.destination);
    this.count -= 1;
    return true;
  }

  /** Removes every binding to the destination; returns how many there were. */
  removeDestination(destination: Destination): number {
    const list = this.byDestination.get(destination);
    if (list === undefined) return 0;
    this.byDestination.delete(destination);
    this.count -= list.length;
    return list.length;
  }

  hasDestination(destination: Destination): boolean {
    return this.byDestination.has(destination);
  }

  /** Each destination with at least one binding here, once. */
  destinations(): IterableIterator<Destination> {
    return this.byDestination.keys();
  }

  /** Each destination with its bindings here (never an empty list). */
  byDestinationEntries(): IterableIterator<[Destination, readonly Stored[]]> {
    return this.byDestination.entries();
  }

  /** Every binding here, as a new array. */
  bindings(): Stored[] {
    const all: Stored[] = [];
    for (const list of this.byDestination.values()) {
      for (const binding of list) all.push(binding);
    }
    return all;
  }

  /** Adds every destination here to `into`. */
  addDestinationsTo(into: Set<Destination>): void {
    for (const destination of this.byDestination.keys()) into.add(destination);
  }
}
