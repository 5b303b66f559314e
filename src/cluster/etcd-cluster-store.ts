/**
 * ClusterStore on etcd v3 through the `etcd3` library (gRPC in pure JavaScript). The only module that
 * imports the library: everything it returns is turned into our types here (revisions as bigint,
 * keys as strings, values as Buffers).
 *
 * Lease lapse is judged here rather than by the library, which reports a lost lease only after twice
 * its TTL without renewal: a lease counts as lost once no renewal was confirmed within the TTL counted
 * from when the last confirmed renewal was *sent*. etcd cannot have let it lapse before that moment
 * (the renewal reached it after it was sent), so a holder stops acting on its keys no later than etcd
 * deletes them, and another broker that sees them deleted cannot overlap with it (clock rates aside:
 * both sides measure a TTL of seconds on their own monotonic clocks).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import type { IKeyValue, IOperation, IRequestOp, Lease as LibraryLease, Watcher } from 'etcd3';
import type { ClusterStore, KeyValue, Lease, RangeResult, RevisionCondition, StoreOperation, TransactionResult, Watch, WatchOptions } from './cluster-store.js';

export interface EtcdStoreOptions {
  /** `http://host:port` of each etcd member. */
  readonly endpoints: readonly string[];
  /** Deadline of each request (not of watches or lease renewal streams). */
  readonly requestTimeoutMs: number;
}

export class EtcdClusterStore implements ClusterStore {
  private readonly client: Etcd3;
  private readonly requestTimeoutMs: number;

  constructor(options: EtcdStoreOptions) {
    const { requestTimeoutMs } = options;
    this.requestTimeoutMs = requestTimeoutMs;
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: requestTimeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    });
  }

  async get(key: string): Promise<KeyValue | null> {
    const response = await this.client.get(key).exec();
    const found = response.kvs[0];
    return found === undefined ? null : toKeyValue(found);
  }

  async rangeByPrefix(prefix: string): Promise<RangeResult> {
    const response = await this.client.getAll().prefix(prefix).exec();
    return { revision: BigInt(response.header.revision), entries: response.kvs.map(toKeyValue) };
  }

  async transaction(conditions: readonly RevisionCondition[], onSuccess: readonly StoreOperation[], onFailure: readonly StoreOperation[] = []): Promise<TransactionResult> {
    const [first, ...rest] = conditions;
    if (first === undefined) throw new Error('a transaction needs at least one condition');
    let builder = this.client.if(first.key, 'Mod', '==', first.modRevision.toString());
    for (const condition of rest) builder = builder.and(condition.key, 'Mod', '==', condition.modRevision.toString());
    const response = await builder.then(...onSuccess.map((operation) => this.operation(operation))).else(...onFailure.map((operation) => this.operation(operation))).commit();
    return { succeeded: response.succeeded, revision: BigInt(response.header.revision) };
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    const sentAtMs = performance.now();
    const inner = this.client.lease(ttlSeconds, { autoKeepAlive: true });
    // The library reports failures of the grant both as a rejection and as 'lost': keep the latter quiet.
    inner.on('lost', () => undefined);
    const id = await inner.grant();
    return new EtcdLease(inner, id, ttlSeconds, sentAtMs, this.requestTimeoutMs);
  }

  async watchPrefix(prefix: string, options: WatchOptions): Promise<Watch> {
    const watcher: Watcher = await this.client.watch().prefix(prefix).startRevision(options.fromRevision.toString()).create();
    watcher.on('put', (entry) => options.onEvent({ type: 'put', entry: toKeyValue(entry) }));
    watcher.on('delete', (entry) => options.onEvent({ type: 'delete', key: entry.key.toString('utf8'), modRevision: BigInt(entry.mod_revision) }));
    watcher.on('error', (error) => options.onError(error.message));
    // Cancelling waits for etcd's confirmation, which never comes while etcd is out of reach: the
    // caller has stopped listening either way, so it waits no longer than a request would.
    let cancelling: Promise<void> | null = null;
    return { cancel: () => (cancelling ??= Promise.race([watcher.cancel().catch(() => undefined), sleep(this.requestTimeoutMs, undefined, { ref: false })])) };
  }

  close(): void {
    this.client.close();
  }

  private operation(operation: StoreOperation): IOperation | IRequestOp {
    if (operation.type === 'delete') return this.client.delete().key(operation.key);
    if (operation.type === 'deletePrefix') return this.client.delete().prefix(operation.prefix);
    const put = this.client.put(operation.key).value(operation.value);
    return operation.lease === undefined ? put : put.lease(operation.lease.id);
  }
}

function toKeyValue(entry: IKeyValue): KeyValue {
  const lease = entry.lease;
  return {
    key: entry.key.toString('utf8'),
    value: entry.value,
    createRevision: BigInt(entry.create_revision),
    modRevision: BigInt(entry.mod_revision),
    leaseId: lease === undefined || lease === '0' ? null : lease,
  };
}

/** A library lease renewed in the background, with lapse judged as the module comment says. */
class EtcdLease implements Lease {
  private readonly listeners: ((reason: string) => void)[] = [];
  /** Why the lease was lost, once it was (a listener added later is told at once). */
  private lostReason: string | null = null;
  /** When each renewal not yet answered was sent, oldest first (answers come in order on one stream). */
  private readonly renewalsSentAtMs: number[] = [];
  private expiryTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly inner: LibraryLease,
    readonly id: string,
    readonly ttlSeconds: number,
    grantSentAtMs: number,
    private readonly requestTimeoutMs: number,
  ) {
    this.armExpiry(grantSentAtMs + ttlSeconds * 1000);
    // A new renewal stream: answers to renewals sent on the old one will not come.
    inner.on('keepaliveEstablished', () => (this.renewalsSentAtMs.length = 0));
    inner.on('keepaliveFired', () => this.renewalsSentAtMs.push(performance.now()));
    inner.on('keepaliveSucceeded', (response) => {
      const sentAtMs = this.renewalsSentAtMs.shift();
      if (sentAtMs !== undefined) this.armExpiry(sentAtMs + Number(response.TTL) * 1000);
    });
    inner.on('lost', (error) => this.lose(`etcd ended the lease: ${error.message}`));
  }

  onLost(listener: (reason: string) => void): void {
    const reason = this.lostReason;
    if (reason === null) this.listeners.push(listener);
    else queueMicrotask(() => listener(reason));
  }

  async revoke(): Promise<void> {
    // Lost: a revoke was already tried then; whether its keys are gone, only their TTL can tell.
    if (this.lostReason !== null) throw new Error(`the lease was already lost (${this.lostReason})`);
    if (this.ended) return;
    this.end();
    // The library retries a revoke etcd does not answer well past the request deadline; a broker
    // shutting down waits no longer than one request (the lease then lapses with its TTL).
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`etcd did not answer the revoke within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
    });
    try {
      await Promise.race([this.inner.revoke(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  release(): void {
    if (this.ended) return;
    this.end();
    this.inner.release();
  }

  private armExpiry(expiresAtMs: number): void {
    if (this.ended) return;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.lose(`no renewal confirmed within its ${this.ttlSeconds} s TTL`), Math.max(0, expiresAtMs - performance.now()));
    this.expiryTimer.unref();
  }

  private lose(reason: string): void {
    if (this.ended) return;
    this.end();
    this.lostReason = reason;
    // Best effort: if etcd still holds the lease, its keys go now instead of at the end of the TTL.
    this.inner.revoke().catch(() => undefined);
    for (const listener of this.listeners) listener(reason);
  }

  private end(): void {
    this.ended = true;
    clearTimeout(this.expiryTimer);
  }
}
