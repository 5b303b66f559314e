/**
 * Follows every key under an etcd prefix: reads them once, then watches from the revision after
 * that read, so no change between the two is missed.
 *
 *   read prefix ──► loaded(entries, revision) ──► watch from revision + 1 ──► changed(event) …
 *        ▲                                                    │
 *        └─── the watch failed (etcd compacted the revision it would resume from, or cancelled
 *             it): read again; a failed read is tried again every retryMs until one succeeds
 *
 * Each read hands the owner the whole prefix again, so after a failed watch the owner still sees
 * every net change, if not every intermediate one. The metadata cache (metadata-cache.ts) and the
 * controller's broker directory (broker-directory.ts) are its two owners.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, KeyValue, Watch, WatchEvent } from './cluster-store.js';

export interface PrefixFollowerOwner {
  /** Every key under the prefix as one read found them, that read being at `revision`. */
  loaded(entries: readonly KeyValue[], revision: bigint): void;
  /** A change after the last read (put or delete), in etcd's order. */
  changed(event: WatchEvent): void;
}

export interface PrefixFollowerMessages {
  /** Logged (warn) when the watch fails and the prefix is read again. */
  readonly watchFailed: string;
  /** Logged (error) when a read again fails; it is tried again after retryMs. */
  readonly readFailed: string;
}

export class PrefixFollower {
  private watch: Watch | null = null;
  private stopped = false;
  /** The latest read again, so stop() can wait for it. */
  private syncing: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<ClusterStore, 'rangeByPrefix' | 'watchPrefix'>,
    private readonly prefix: string,
    private readonly owner: PrefixFollowerOwner,
    private readonly logger: Logger,
    private readonly messages: PrefixFollowerMessages,
    private readonly retryMs: number,
  ) {}

  /** Reads the prefix and starts following it; resolves once both are done (rejects if the first read fails). */
  async start(): Promise<void> {
    await this.synchronise();
  }

  /** Stops reporting at once; the watch is cancelled in the background (etcd may be out of reach). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    void this.watch?.cancel();
    this.watch = null;
    await this.syncing.catch(() => undefined);
  }

  private async synchronise(): Promise<void> {
    const previousWatch = this.watch;
    this.watch = null;
    await previousWatch?.cancel();
    const range = await this.store.rangeByPrefix(this.prefix);
    if (this.stopped) return;
    this.owner.loaded(range.entries, range.revision);
    this.watch = await this.store.watchPrefix(this.prefix, {
      fromRevision: range.revision + 1n,
      onEvent: (event) => {
        if (!this.stopped) this.owner.changed(event);
      },
      onError: (reason) => this.resynchronise(reason, true),
    });
    if (this.stopped) await this.watch.cancel();
  }

  private resynchronise(reason: string, watchFailed: boolean): void {
    this.retryTimer = null;
    if (this.stopped) return;
    if (watchFailed) this.logger.warn(this.messages.watchFailed, { prefix: this.prefix, reason });
    this.syncing = this.synchronise().catch((error: unknown) => {
      this.logger.error(this.messages.readFailed, { prefix: this.prefix, error: error instanceof Error ? error.message : String(error), retryMs: this.retryMs });
      if (this.stopped) return;
      this.retryTimer = setTimeout(() => this.resynchronise('the previous read failed', false), this.retryMs);
      this.retryTimer.unref();
    });
  }
}
