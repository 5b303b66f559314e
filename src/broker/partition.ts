/**
 * One partition of a topic, as the broker holds it. It exists (Metadata lists it) from the moment
 * its topic is known, but its log is usable only once opened: at start-up logs are recovered in the
 * background while the listener already answers, so a request may find a partition still opening.
 *
 *   opening ──open()──► open ──close()──► closed
 *      └──────failed()──► failed (recovery threw; answered KAFKA_STORAGE_ERROR until restart)
 *
 * Handlers ask `unavailableError` first and answer that code (retriable) while the log is not open;
 * `log` and `producers` assert the partition is open.
 */
import { strict as assert } from 'node:assert';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { PartitionProducers } from './idempotence/partition-producers.js';
import type { Topic } from './broker.js';

export type PartitionState = 'opening' | 'open' | 'failed';

export class Partition {
  /** Called when new data becomes readable (waiting fetches). */
  readonly dataListeners = new Set<() => void>();
  private opened: { readonly log: PartitionLog; readonly producers: PartitionProducers } | null = null;
  private openFailure: string | null = null;

  constructor(
    readonly topic: Topic,
    readonly index: number,
  ) {}

  get state(): PartitionState {
    if (this.opened !== null) return 'open';
    return this.openFailure === null ? 'opening' : 'failed';
  }

  get isOpen(): boolean {
    return this.opened !== null;
  }

  /**
   * The error code to answer instead of serving this partition, or none when it is open.
   * A Kafka broker answers NOT_LEADER_OR_FOLLOWER for a partition it does not lead yet (as while
   * leadership moves): retriable, clients refresh metadata and retry. A log that failed to open is
   * Kafka's offline log directory: KAFKA_STORAGE_ERROR.
   */
  get unavailableError(): number {
    if (this.opened !== null) return ErrorCode.none;
    return this.openFailure === null ? ErrorCode.notLeaderOrFollower : ErrorCode.kafkaStorageError;
  }

  get log(): PartitionLog {
    assert(this.opened !== null, `partition ${this.topic.name}-${this.index} is not open`);
    return this.opened.log;
  }

  /** Idempotent producers' sequence state (idempotence/partition-producers.ts). */
  get producers(): PartitionProducers {
    assert(this.opened !== null, `partition ${this.topic.name}-${this.index} is not open`);
    return this.opened.producers;
  }

  open(log: PartitionLog, producers: PartitionProducers): void {
    assert(this.opened === null, 'a partition is opened once');
    this.opened = { log, producers };
    this.openFailure = null;
  }

  failed(reason: string): void {
    this.openFailure = reason;
  }
}
