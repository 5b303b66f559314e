/**
 * What the broker needs from its consensus store, and nothing more: etcd's key-value model (keys
 * ordered, each with the revision of its last change), transactions conditioned on those revisions,
 * leases that a session keeps alive, and watches of a key prefix from a revision on. The rest of the
 * broker talks to this interface; etcd-cluster-store.ts is the one module that knows the etcd client
 * library, so the library can be replaced without touching membership, the controller or (later)
 * replication.
 *
 * Revisions are etcd's: one counter for the whole store, raised by every write, never reused. A key's
 * modRevision is the revision of its last write; a key that does not exist has modRevision 0, so
 * "create only if absent" is the condition { key, modRevision: 0n }.
 */

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  /** Revision at which the key was created (stays the same across later writes of the key). */
  readonly createRevision: bigint;
  /** Revision of the key's last write. */
  readonly modRevision: bigint;
  /** The lease the key is attached to, or null (a key under a lease is deleted when the lease ends). */
  readonly leaseId: string | null;
}

/** A read of several keys, and the store's revision it was taken at (a watch can resume from it + 1). */
export interface RangeResult {
  readonly revision: bigint;
  readonly entries: readonly KeyValue[];
}

/** Holds when the key's last write is at this revision (0n: the key does not exist). */
export interface RevisionCondition {
  readonly key: string;
  readonly modRevision: bigint;
}

export type StoreOperation =
  | { readonly type: 'put'; readonly key: string; readonly value: Buffer; readonly lease?: Lease }
  | { readonly type: 'delete'; readonly key: string }
  /** Deletes every key starting with prefix (one operation however many keys it deletes). */
  | { readonly type: 'deletePrefix'; readonly prefix: string };

export interface TransactionResult {
  /** Whether every condition held, so that the success operations ran. */
  readonly succeeded: boolean;
  /** The store's revision after the transaction (the revision of its writes when it wrote). */
  readonly revision: bigint;
}

/**
 * A lease kept alive in the background. Keys put under it disappear when it ends: revoked, or not
 * renewed within its TTL (the process died, or lost etcd for that long).
 */
export interface Lease {
  readonly id: string;
  /** The TTL etcd granted (it may raise a smaller one to its minimum). */
  readonly ttlSeconds: number;
  /**
   * Called once when the lease may have ended without revoke(): no renewal was confirmed within
   * the TTL counted from when the last confirmed renewal was sent (so it is said at the latest when
   * etcd lets it lapse, never after), or etcd says the lease is gone. A listener added after the
   * loss is called at once (so a loss during a slow grant or registration is not missed).
   */
  onLost(listener: (reason: string) => void): void;
  /** Ends the lease now: its keys are deleted at once. Idempotent; rejects once the lease was lost. */
  revoke(): Promise<void>;
  /** Stops renewing without revoking (keys live on until the TTL runs out): what a crash looks like. */
  release(): void;
}

export type WatchEvent = { readonly type: 'put'; readonly entry: KeyValue } | { readonly type: 'delete'; readonly key: string; readonly modRevision: bigint };

export interface Watch {
  cancel(): Promise<void>;
}

export interface WatchOptions {
  /** First revision to report changes of (a range's revision + 1, so nothing between them is missed). */
  readonly fromRevision: bigint;
  readonly onEvent: (event: WatchEvent) => void;
  /**
   * The watch cannot go on (its start revision was compacted away, or it was cancelled by etcd): the
   * caller reads the current state again and watches anew.
   */
  readonly onError: (reason: string) => void;
}

export interface ClusterStore {
  /** The key, or null when it does not exist. */
  get(key: string): Promise<KeyValue | null>;
  /** Every key starting with prefix, in key order, and the revision of the read. */
  rangeByPrefix(prefix: string): Promise<RangeResult>;
  /** Runs onSuccess if every condition holds, else onFailure, atomically. */
  transaction(conditions: readonly RevisionCondition[], onSuccess: readonly StoreOperation[], onFailure?: readonly StoreOperation[]): Promise<TransactionResult>;
  /** A new lease of ttlSeconds, renewed in the background until revoked or released. */
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Changes of keys under prefix from options.fromRevision on, in revision order. */
  watchPrefix(prefix: string, options: WatchOptions): Promise<Watch>;
  close(): void;
}
