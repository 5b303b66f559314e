/**
 * The policies of every virtual host, by name, and which one applies to a queue or an exchange
 * (policy.ts: choosePolicy). Policies are few (at most `maxPolicies`), so finding a queue's policy
 * tests each of its virtual host's patterns against the name.
 */
import type { QueueType } from '../queue-options.js';
import { choosePolicy, type Policy } from './policy.js';

/** Policies kept at most, all virtual hosts together: each one is tested against every name it could apply to. */
export const maxPolicies = 1000;

export class PolicySet {
  private readonly byHost = new Map<string, Map<string, Policy>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(virtualHost: string, name: string): Policy | undefined {
    return this.byHost.get(virtualHost)?.get(name);
  }

  /** Adds or replaces the policy of that name; true when it is new. */
  put(policy: Policy): boolean {
    let host = this.byHost.get(policy.virtualHost);
    if (host === undefined) this.byHost.set(policy.virtualHost, (host = new Map()));
    const added = !host.has(policy.name);
    host.set(policy.name, policy);
    if (added) this.count++;
    return added;
  }

  /** True when there was one. */
  remove(virtualHost: string, name: string): boolean {
    const removed = this.byHost.get(virtualHost)?.delete(name) ?? false;
    if (removed) this.count--;
    return removed;
  }

  removeVirtualHost(virtualHost: string): void {
    this.count -= this.byHost.get(virtualHost)?.size ?? 0;
    this.byHost.delete(virtualHost);
  }

  /** One virtual host's policies, or every one's; by virtual host, then name. */
  list(virtualHost?: string): Policy[] {
    const hosts = virtualHost === undefined ? [...this.byHost.keys()].sort(compareText) : [virtualHost];
    return hosts.flatMap((host) => [...(this.byHost.get(host)?.values() ?? [])].sort((left, right) => compareText(left.name, right.name)));
  }

  forQueue(virtualHost: string, name: string, queueType: QueueType): Policy | null {
    const host = this.byHost.get(virtualHost);
    return host === undefined ? null : choosePolicy(host.values(), { kind: 'queue', name, queueType });
  }

  forExchange(virtualHost: string, name: string): Policy | null {
    const host = this.byHost.get(virtualHost);
    return host === undefined ? null : choosePolicy(host.values(), { kind: 'exchange', name });
  }
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
