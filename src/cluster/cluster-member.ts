/**
 * A broker's membership of a cluster: one etcd session (a lease renewed in the background), the
 * registration under it, and the controller election run on it.
 *
 *   const member = await ClusterMember.join(store, registration, settings, logger);  // registered
 *   …
 *   await member.leave();   // clean shutdown: the lease is revoked, so the broker leaves at once
 *
 * join() rejects when etcd cannot be reached or the node id is held by another broker
 * (DuplicateNodeIdError), so such a broker does not start. If the lease is lost later (etcd out of
 * reach for longer than the TTL), the broker stops being controller at once, then registers again
 * under a new lease as soon as etcd answers, and campaigns again.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, Lease } from './cluster-store.js';
import { ControllerElection } from './controller-election.js';
import type { ElectionState } from './controller-election.js';
import { brokerKey } from './keys.js';
import type { BrokerRegistration } from './keys.js';
import { register } from './registration.js';

export interface MembershipSettings {
  readonly leaseTtlSeconds: number;
  /** Pause after a failed etcd request, doubled up to 10× on each failure in a row while re-registering. */
  readonly retryDelayMs: number;
}

interface Session {
  readonly lease: Lease;
  readonly election: ControllerElection;
}

export class ClusterMember {
  private session: Session | null = null;
  private leaving = false;
  private rejoining: Promise<void> = Promise.resolve();
  private currentRegistrationRevision = -1n;
  private readonly registeredAgainListeners: (() => void)[] = [];

  private constructor(
    private readonly store: ClusterStore,
    private readonly registration: BrokerRegistration,
    private readonly settings: MembershipSettings,
    private readonly logger: Logger,
  ) {}

  static async join(store: ClusterStore, registration: BrokerRegistration, settings: MembershipSettings, logger: Logger): Promise<ClusterMember> {
    const member = new ClusterMember(store, registration, settings, logger);
    await member.openSession();
    return member;
  }

  /**
   * The revision of this broker's registration (its key's createRevision): a new one each time it
   * registers. While a lost lease is being replaced, still the last one's.
   */
  get registrationRevision(): bigint {
    return this.currentRegistrationRevision;
  }

  /** Calls `listener` each time the broker registers again (a new registration revision). */
  onRegisteredAgain(listener: () => void): void {
    this.registeredAgainListeners.push(listener);
  }

  /** The election's view: controller (with its epoch), follower of another, campaigning, or stopped. */
  get electionState(): ElectionState {
    return this.session?.election.state ?? { role: 'stopped' };
  }

  /** Stops campaigning and revokes the lease: registration and controllership end at once. */
  async leave(): Promise<void> {
    this.leaving = true;
    await this.rejoining;
    const session = this.session;
    this.session = null;
    if (session === null) return;
    await session.election.stop();
    try {
      await session.lease.revoke();
      this.logger.info('left the cluster', { nodeId: this.registration.nodeId });
    } catch (error) {
      this.logger.warn('could not revoke the cluster lease; the registration lapses with its TTL', { error: describe(error), ttlSeconds: this.settings.leaseTtlSeconds });
      session.lease.release();
    }
  }

  private async openSession(): Promise<void> {
    const { nodeId } = this.registration;
    const lease = await this.store.grantLease(this.settings.leaseTtlSeconds);
    let registrationRevision: bigint;
    try {
      registrationRevision = await register(this.store, lease, this.registration, this.logger);
    } catch (error) {
      await lease.revoke().catch(() => lease.release());
      throw error;
    }
    const election = new ControllerElection({
      store: this.store,
      lease,
      nodeId,
      registrationKey: brokerKey(nodeId),
      registrationRevision,
      logger: this.logger,
      retryDelayMs: this.settings.retryDelayMs,
    });
    this.session = { lease, election };
    const first = this.currentRegistrationRevision < 0n;
    this.currentRegistrationRevision = registrationRevision;
    lease.onLost((reason) => this.sessionLost(reason));
    this.logger.info('registered in the cluster', { nodeId, host: this.registration.host, port: this.registration.kafkaPort, rack: this.registration.rack, leaseTtlSeconds: lease.ttlSeconds, revision: registrationRevision });
    election.start();
    if (!first) for (const listener of this.registeredAgainListeners) listener();
  }

  private sessionLost(reason: string): void {
    const session = this.session;
    if (session === null || this.leaving) return;
    this.session = null;
    this.logger.error('cluster lease lost: this broker is no longer registered, nor controller; registering again', { nodeId: this.registration.nodeId, reason });
    this.rejoining = (async () => {
      await session.election.stop();
      await this.registerAgain();
    })();
  }

  private async registerAgain(): Promise<void> {
    let delayMs = this.settings.retryDelayMs;
    while (!this.leaving) {
      try {
        await this.openSession();
        return;
      } catch (error) {
        this.logger.warn('cannot register in the cluster yet; trying again', { error: describe(error), retryMs: delayMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, this.settings.retryDelayMs * 10);
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
