/**
 * Which routing keys each destination is bound with, so removing a destination (a deleted queue
 * or exchange) visits only its own bindings instead of every binding of the exchange. A key is
 * listed while the destination has at least one binding with it.
 */
export class RoutingKeysByDestination<Destination> {
  private readonly keys = new Map<Destination, Set<string>>();

  note(destination: Destination, routingKey: string): void {
    const keys = this.keys.get(destination);
    if (keys === undefined) this.keys.set(destination, new Set([routingKey]));
    else keys.add(routingKey);
  }

  forget(destination: Destination, routingKey: string): void {
    const keys = this.keys.get(destination);
    if (keys === undefined) return;
    keys.delete(routingKey);
    if (keys.size === 0) this.keys.delete(destination);
  }

  /** The destination's routing keys, no longer listed once taken. */
  take(destination: Destination): ReadonlySet<string> {
    const keys = this.keys.get(destination) ?? new Set<string>();
    this.keys.delete(destination);
    return keys;
  }
}
