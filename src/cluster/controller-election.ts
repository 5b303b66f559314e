/**
 * Controller election through etcd: one transaction creates /osprey/controller under the broker's
 * lease, on two conditions, that the key is absent and that the broker's own registration is still
 * the one it wrote (so only a registered broker becomes controller). The winner is controller until
 * the key goes: its lease is revoked (clean shutdown) or lapses (crash, cut off from etcd), or someone
 * deletes the key. Every other broker watches the key from the revision it read and tries again when
 * it is deleted. The controller epoch is the key's createRevision: etcd's revisions only grow, so a
 * later controller always has a larger epoch. The controller's partition leadership writes
 * (partition-leadership.ts) are conditioned on it, so a stale controller cannot write.
 *
 *   campaign ──txn succeeded──► controller ──key deleted / stop()──► campaign (or stopped)
 *      │  ▲
 *      │  └──────key deleted────────┐
 *      └──txn failed──► follower: watch /osprey/controller
 *
 * A broker whose lease is lost stops its election (cluster-member.ts) before etcd can have deleted
 * the key (etcd-cluster-store.ts judges the loss early), so two brokers never both act as controller
 * on their own clocks' reading of the same lease.
 */
import type { Logger } from '../logging/logger.js';
import { BrokerDirectory } from './broker-directory.js';
import type { BrokerDirectoryListener } from './broker-directory.js';
import type { ClusterStore, Lease, Watch } from './cluster-store.js';
import { controllerKey, decodeController, encodeController } from './keys.js';
import { PartitionLeadership } from './partition-leadership.js';

export interface ControllerElectionOptions {
  readonly store: ClusterStore;
  readonly lease: Lease;
  readonly nodeId: number;
  readonly registrationKey: string;
  /** The modRevision of this broker's registration, as it wrote it. */
  readonly registrationRevision: bigint;
  readonly logger: Logger;
  /** Pause after a failed etcd request before the next attempt. */
  readonly retryDelayMs: number;
}

export type ElectionState = { readonly role: 'campaigning' } | { readonly role: 'controller'; readonly epoch: bigint; readonly leadership: PartitionLeadership } | { readonly role: 'follower'; readonly controllerId: number; readonly epoch: bigint } | { readonly role: 'stopped' };

export class ControllerElection {
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  /** Resolved by stop(): every wait (a request, a watch, a retry pause) races it, so stop() acts at once. */
  private readonly stopSignal: Promise<'stopped'>;
  private signalStop: () => void = () => undefined;
  private currentState: ElectionState = { role: 'campaigning' };
  private lastReportedControllerEpoch: bigint | null = null;

  constructor(private readonly options: ControllerElectionOptions) {
    this.stopSignal = new Promise((resolve) => (this.signalStop = () => resolve('stopped')));
  }

  /** Once stop() is called the broker is no longer controller, whatever clean-up is still under way. */
  get state(): ElectionState {
    return this.stopped ? { role: 'stopped' } : this.currentState;
  }

  start(): void {
    this.running = this.loop();
  }

  /** Stops campaigning and, if controller, stops acting as one (the key goes with the lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.signalStop();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { logger, retryDelayMs } = this.options;
    while (!this.stopped) {
      try {
        await this.campaignOnce();
      } catch (error) {
        if (this.stopped) break;
        logger.warn('controller election: etcd request failed; trying again', { error: error instanceof Error ? error.message : String(error), retryMs: retryDelayMs });
        await this.pause(retryDelayMs);
      }
    }
    this.currentState = { role: 'stopped' };
  }

  /** One round: win and serve as controller until the key goes, or follow until it goes. */
  private async campaignOnce(): Promise<void> {
    const { store, lease, nodeId, registrationKey, registrationRevision, logger } = this.options;
    this.currentState = { role: 'campaigning' };
    const attempt = await this.untilStopped(store.transaction(
      [
        { key: controllerKey, modRevision: 0n },
        { key: registrationKey, modRevision: registrationRevision },
      ],
      [{ type: 'put', key: controllerKey, value: encodeController({ nodeId }), lease }],
    ));
    // Stopped while the request was on its way: the key, if won, goes with the lease being given up.
    if (this.stopped) return;
    if (attempt.succeeded) {
      await this.serveAsController(attempt.revision);
      return;
    }
    const current = await this.untilStopped(store.get(controllerKey));
    if (this.stopped) return;
    if (current === null) {
      // Either the controller just left (campaign again at once) or our registration is gone.
      const registration = await this.untilStopped(store.get(registrationKey));
      if (registration?.modRevision !== registrationRevision) {
        logger.warn('controller election: this broker is no longer registered; not campaigning');
        this.stopped = true;
      }
      return;
    }
    if (current.leaseId === lease.id) {
      // Ours from an earlier round whose wait failed: still controller, same epoch.
      await this.serveAsController(current.createRevision, current.modRevision + 1n);
      return;
    }
    const controller = decodeController(current.value);
    const controllerId = controller instanceof Error ? -1 : controller.nodeId;
    this.currentState = { role: 'follower', controllerId, epoch: current.createRevision };
    if (this.lastReportedControllerEpoch !== current.createRevision) {
      this.lastReportedControllerEpoch = current.createRevision;
      logger.info('controller is another broker', { controllerId, epoch: current.createRevision });
    }
    await this.untilControllerKeyDeleted(current.modRevision + 1n);
  }

  private async serveAsController(epoch: bigint, watchFromRevision: bigint = epoch + 1n): Promise<void> {
    const { store, nodeId, logger } = this.options;
    const leadership = new PartitionLeadership({ store, epoch, liveBrokers: () => directory.registrationRevisions(), logger, retryDelayMs: this.options.retryDelayMs });
    this.currentState = { role: 'controller', epoch, leadership };
    this.lastReportedControllerEpoch = epoch;
    logger.info('elected controller', { nodeId, epoch });
    const directory: BrokerDirectory = new BrokerDirectory(store, controllerListener(logger, leadership), logger);
    let reason = 'the controller key was deleted';
    try {
      if ((await Promise.race([directory.start(), this.stopSignal])) !== 'stopped') await this.untilControllerKeyDeleted(watchFromRevision);
    } catch (error) {
      // The next round finds the key still ours (same lease) and serves again, with the same epoch.
      reason = `etcd request failed: ${error instanceof Error ? error.message : String(error)}`;
      throw error;
    } finally {
      // Step down before any clean-up that needs etcd, which may be out of reach (that may be why).
      this.currentState = { role: 'campaigning' };
      logger.info('no longer controller', { nodeId, epoch, reason: this.stopped ? 'stopping' : reason });
      await leadership.stop();
      await directory.stop();
    }
  }

  /** Resolves when /osprey/controller is deleted at or after fromRevision, or stop() is called. */
  private async untilControllerKeyDeleted(fromRevision: bigint): Promise<void> {
    if (this.stopped) return;
    let watch: Watch | null = null;
    let failure: string | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        void this.stopSignal.then(() => resolve());
        this.options.store
          .watchPrefix(controllerKey, {
            fromRevision,
            // The prefix also matches longer keys; only the key itself counts.
            onEvent: (event) => {
              if (event.type === 'delete' && event.key === controllerKey) resolve();
            },
            onError: (reason) => {
              failure = reason;
              resolve();
            },
          })
          .then((created) => {
            watch = created;
            if (this.stopped) resolve();
          }, reject);
      });
    } finally {
      // Not awaited: with etcd out of reach the cancel waits a request's deadline, and the caller
      // (stepping down as controller) must not.
      void (watch as Watch | null)?.cancel();
    }
    if (failure !== null) throw new Error(`watch of ${controllerKey} failed: ${String(failure)}`);
  }

  /**
   * The request's answer, or a StoppedError as soon as stop() is called: stop() does not wait for a
   * request etcd is slow to answer (it goes on in the background; its answer is ignored).
   */
  private untilStopped<T>(request: Promise<T>): Promise<T> {
    return Promise.race([request, this.stopSignal.then(() => Promise.reject(new StoppedError()))]);
  }

  private async pause(delayMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, delayMs))), this.stopSignal]);
    clearTimeout(timer);
  }
}

class StoppedError extends Error {
  override readonly name = 'StoppedError';
}

/** What the controller does with brokers coming and going: say so, and move partition leadership. */
function controllerListener(logger: Logger, leadership: PartitionLeadership): BrokerDirectoryListener {
  return {
    joined: (broker) => {
      logger.info('broker joined', { nodeId: broker.nodeId, host: broker.host, port: broker.kafkaPort, rack: broker.rack });
      leadership.brokersChanged();
    },
    reregistered: (broker) => {
      logger.info('broker registered again', { nodeId: broker.nodeId, host: broker.host, port: broker.kafkaPort, rack: broker.rack });
      leadership.brokersChanged();
    },
    left: (nodeId) => {
      logger.info('broker left', { nodeId });
      leadership.brokersChanged();
    },
  };
}
