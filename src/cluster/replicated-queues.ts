/**
 * This broker's durable AMQP queues in a cluster (queue-partitions.ts says how a queue is kept):
 * one LedQueueStore per queue, by storage id, told when this broker starts or stops leading the
 * queue's partition; the declaring broker creates the queue's internal topic, the deleting broker
 * deletes it.
 *
 * A lead may come before this broker knows the queue (its partition was replicated here before the
 * shared definition arrived): it is kept until the queue's store is made, then applied.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Broker } from '../broker/broker.js';
import type { Logger } from '../logging/logger.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { LedQueueStore } from '../queues/queue-store/led-queue-store.js';
import type { QueueLog } from '../queues/queue-store/queue-log.js';
import type { QueueStoreSettings } from '../queues/queue-store/queue-store-api.js';
import type { QueueAddress, ReplicatedQueueStorage } from '../queues/queue-broker.js';
import { QueueLinks } from './queue-links.js';
import { queueTopicName, type QueueTerms } from './queue-partitions.js';

/** Replicas of a queue's partition (as RabbitMQ's quorum queues default to three members), fewer in a smaller cluster. */
const queueReplicationFactor = 3;
/** How long a declare waits for the queue's topic to be created and served here before it fails. */
const creationTimeoutMs = 15_000;
/** How long a declare waits then for the followers to be in sync (untilEnoughInSync), and how often it looks. */
const inSyncWaitMs = 10_000;
const inSyncPollMs = 20;

export class ReplicatedQueues implements ReplicatedQueueStorage, QueueTerms {
  private readonly stores = new Map<string, LedQueueStore>();
  /** Leads that came before the queue's store was made. */
  private readonly pendingLeads = new Map<string, { log: QueueLog; term: string }>();
  /** How queues served by other brokers are reached from here. */
  readonly links: QueueLinks;

  constructor(
    private readonly broker: Broker,
    private readonly settings: QueueStoreSettings,
    private readonly segmentBytes: number,
    private readonly logger: Logger,
  ) {
    this.links = new QueueLinks(() => broker.cluster, broker.nodeId, logger.with({ component: 'queue-links' }));
  }

  store(storageId: string, queue: QueueAddress, maxPriority: number): LedQueueStore {
    let store = this.stores.get(storageId);
    if (store === undefined) {
      const link = this.links.forQueue({ ...queue, storageId });
      store = new LedQueueStore(`queue ${storageId}`, { ...this.settings, maxPriority, logger: this.logger.with({ queueStore: storageId }) }, this.logger, {}, link);
      this.stores.set(storageId, store);
      const pending = this.pendingLeads.get(storageId);
      this.pendingLeads.delete(storageId);
      if (pending !== undefined) void store.lead(pending.log, pending.term);
    }
    return store;
  }

  lead(storageId: string, log: QueueLog, term: string): void {
    const store = this.stores.get(storageId);
    if (store === undefined) this.pendingLeads.set(storageId, { log, term });
    else void store.lead(log, term);
  }

  resign(storageId: string): void {
    this.pendingLeads.delete(storageId);
    void this.stores.get(storageId)?.resign();
  }

  /**
   * Creates the queue's topic with this broker as its first (preferred leader) replica and up to
   * two others, then waits until this broker serves the queue, so that the client's first publish
   * after declare-ok is taken.
   */
  async create(storageId: string): Promise<void> {
    const cluster = this.broker.cluster;
    if (cluster === null) throw new Error('this broker has not joined its cluster yet; retry');
    const self = this.broker.nodeId;
    const others = cluster
      .liveBrokers()
      .map((broker) => broker.nodeId)
      .filter((nodeId) => nodeId !== self);
    for (let index = others.length - 1; index > 0; index--) {
      const other = randomInt(0, index + 1);
      [others[index], others[other]] = [others[other]!, others[index]!];
    }
    const replicas = [self, ...others.slice(0, queueReplicationFactor - 1)];
    const configs = new Map([
      ['retention.ms', '-1'],
      ['retention.bytes', '-1'],
      ['segment.bytes', String(this.segmentBytes)],
      // With three replicas a confirm needs two copies; with fewer brokers, the ones there are.
      ['min.insync.replicas', String(Math.min(2, replicas.length))],
    ]);
    const outcome = await cluster.createTopic({ name: queueTopicName(storageId), partitionCount: 1, replicationFactor: replicas.length, assignment: [replicas], configs }, false, creationTimeoutMs);
    if (outcome.errorCode !== ErrorCode.none) throw new Error(`the queue's replicated log could not be created: ${outcome.errorMessage ?? `error ${outcome.errorCode}`}`);
    await this.stores.get(storageId)?.whenLeading(creationTimeoutMs);
    await this.untilEnoughInSync(queueTopicName(storageId));
  }

  /**
   * Waits (a while) for the new log's followers to be in sync: until then a confirmed publish would
   * be refused for want of min.insync.replicas, and a client that declares and publishes at once
   * (as most do) would get nacks for its first messages. A follower slow to come is not waited for
   * longer than `inSyncWaitMs`: the queue is declared, and publishes are nacked until it comes.
   */
  private async untilEnoughInSync(topicName: string): Promise<void> {
    const deadlineMs = Date.now() + inSyncWaitMs;
    for (;;) {
      const partition = this.broker.topic(topicName)?.partitions[0];
      if (partition === undefined || partition.missingInSyncReplicas === 0) return;
      if (Date.now() >= deadlineMs) {
        this.logger.warn('a new queue log has fewer in-sync replicas than min.insync.replicas: its publishes are nacked until its followers catch up', { topic: topicName });
        return;
      }
      await sleep(inSyncPollMs);
    }
  }

  async remove(storageId: string, deleteLog: boolean): Promise<void> {
    const store = this.stores.get(storageId);
    this.stores.delete(storageId);
    this.pendingLeads.delete(storageId);
    await store?.close();
    const cluster = this.broker.cluster;
    if (!deleteLog || cluster === null) return;
    const outcome = await cluster.deleteTopic(queueTopicName(storageId));
    if (outcome.errorCode !== ErrorCode.none && outcome.errorCode !== ErrorCode.unknownTopicOrPartition) {
      this.logger.warn('the replicated log of a deleted queue could not be deleted', { storageId, error: outcome.errorMessage ?? String(outcome.errorCode) });
    }
  }
}
