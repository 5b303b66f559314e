/**
 * What a queue (queues/queue.ts: consumers, prefetch, confirms) needs from the storage of its
 * messages: DESIGN.md decision 11, a queue is a log plus its dispositions. The implementation
 * (queue-store.ts) appends each message to a partition log (storage/) and keeps the state of each
 * message (ready, taken for delivery and not settled, settled) in memory as ranges plus a sparse
 * set, and durably as state batches in the same log, snapshotted now and then, so a queue that has
 * seen a billion messages costs what its current ones cost. Segments wholly below the first
 * unsettled message (and the latest snapshot) are deleted.
 */
import type { Logger } from '../../logging/logger.js';
import type { Clock, LogEnvironment, LogOptions } from '../../storage/partition-log.js';
import type { QueuedMessage, StoredMessage } from './stored-message.js';

export interface QueueStoreSettings {
  /** Segment size, flush policy (always: appends are fsynced, group-committed, before `durable` resolves), … */
  readonly logOptions: LogOptions;
  readonly logEnvironment: LogEnvironment;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Bytes of ready messages held in memory ahead of delivery; beyond it they stay on disk and are read back when their turn comes. */
  readonly maxReadyBytesInMemory: number;
  /**
   * x-max-priority of a priority queue kept in one log (priority-dispositions.ts: in a cluster,
   * where the queue's log is replicated); absent or 0: messages go out in log order.
   */
  readonly maxPriority?: number;
}

export interface AppendedMessage {
  readonly offset: number;
  /** Resolves once the message is on disk per the flush policy (the publisher confirm waits for it). */
  readonly durable: Promise<void>;
}

/**
 * An append the store refused (a topic partition not led here, a queue served by another broker):
 * no offset, and `durable` rejected with why, so a publisher with confirms gets a nack.
 */
export function refusedAppend(error: unknown): AppendedMessage {
  const durable = Promise.reject(error instanceof Error ? error : new Error(String(error)));
  durable.catch(() => undefined); // a publisher without confirms does not wait for it
  return { offset: -1, durable };
}

/** What the broker serving a queue reports of it (queue.declare-ok's counts there). */
/** A message basic.get took where the queue is served, with the ready messages left there (get-ok's message-count). */
export interface ServedGet {
  readonly message: QueuedMessage;
  readonly messageCount: number;
}

export interface ServedQueueCounts {
  readonly messageCount: number;
  readonly consumerCount: number;
}

export interface QueueStore {
  /** Appends a message; it is ready at once (in memory), durable when `durable` resolves. */
  append(message: StoredMessage): AppendedMessage;
  /** Messages ready for delivery, whether in memory or still on disk. */
  readonly readyCount: number;
  /** Messages taken (delivered or got) and neither settled nor requeued. */
  readonly unackedCount: number;
  /** Body bytes of the ready messages (x-max-length-bytes). */
  readonly readyBytes: number;
  /**
   * Whether transient messages are kept as durably as persistent ones (a Kafka topic keeps every
   * record), so that a confirm of one waits for the disk too; false or absent for queues.
   */
  readonly keepsTransientMessages?: boolean;
  /**
   * False while the queue is served by another broker of the cluster (led-queue-store.ts: appends
   * are forwarded there, deliveries come from there); true or absent when served here.
   */
  readonly servedHere?: boolean;
  /**
   * Since when this broker serves the queue (ms since the epoch), for a queue whose serving broker
   * can change (led-queue-store.ts): its x-expires time counts from then at the earliest, as the use
   * it had on the broker serving it before is not known here. Absent otherwise.
   */
  readonly servedSinceMs?: number | undefined;
  /** In a cluster: the node id of the broker serving the queue, -1 when none does just now; absent on a single broker. */
  readonly servedBy?: number | undefined;
  /**
   * The next ready message, now taken (requeued ones first, lowest offset first, then log order);
   * null when none is ready, or when the next ones are still being read from disk: the onReady
   * listener is called once they are in.
   */
  takeNext(): QueuedMessage | null;
  /**
   * What takeNext would return now, left ready (the queue looks at it to expire it); null when
   * takeNext would return null (and, as there, the next ones are then read from disk).
   */
  peekNext(): QueuedMessage | null;
  /**
   * How many consumers the queue has now, told on every change, and their `window`: how many
   * unacknowledged deliveries they may hold together (the sum of their prefetch limits; 0: no
   * limit). A store whose messages are on another broker (led-queue-store.ts) takes them from there
   * only while someone here consumes, and no more at a time than they may hold.
   */
  consumersChanged?(count: number, window: number): void;
  /**
   * While the queue is served by another broker (servedHere false), what only that broker can
   * answer, each null while the queue is served here: basic.get, queue.purge, and the counts of
   * queue.declare-ok.
   */
  takeFromServer?(): Promise<ServedGet | null> | null;
  /**
   * basic.consume of a queue served by another broker: resolves once that broker agreed (rejects
   * with InExclusiveUseError, remote-queue-source.ts, when the queue is in exclusive use there, or
   * has consumers and `exclusive` was asked); null when there is nothing to ask. `window`: the
   * consumer's prefetch limit (0: none).
   */
  admitConsumer?(exclusive: boolean, window: number): Promise<void> | null;
  purgeOnServer?(): Promise<number> | null;
  countsOnServer?(): Promise<ServedQueueCounts> | null;
  /** Called whenever takeNext may return a message it could not before (after an append, a requeue or a read from disk). */
  onReady(listener: () => void): void;
  /**
   * A taken message goes back to ready, ahead of messages never delivered, flagged redelivered,
   * its deliveryCount one higher (durably, for a durable store). `counted` false: the same without
   * counting a return (another broker of the cluster giving back messages it only held for its
   * consumers: queue-links.ts); stores that cannot tell count it.
   */
  requeue(message: QueuedMessage, counted?: boolean): void;
  /** A taken message is done (acked, or rejected without requeue); recorded in a state batch (group commit, not awaited). */
  settle(message: QueuedMessage): void;
  /** Settles every ready message (taken ones stay); returns how many. */
  purge(): number;
  /** Writes and fsyncs what is pending (messages and state). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Closes and removes the queue's files. */
  delete(): Promise<void>;
}
