/**
 * What the queue broker asks of the "one log, both protocols" side: stream queues (declared,
 * restored at start-up, deleted with their topic), the topic ends of exchange-to-topic bindings,
 * and the topics feeding queues (topic-feeds.ts). Everything goes through TopicAccess; without one
 * (a queue broker with no Kafka side, as in unit tests) streams are refused.
 *
 * Choices (docs/streams.md): a stream queue is one partition (a RabbitMQ stream is one log), so an
 * existing topic of that name is adopted only when it has one partition; the topic is the queue's
 * whatever vhost declares it, so one topic backs at most one stream queue; deleting the queue
 * deletes the topic, as deleting a RabbitMQ stream deletes its data.
 */
import type { Logger } from '../../logging/logger.js';
import { AmqpChannelError } from '../../protocol/amqp/errors.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import type { QueueSettings } from '../queue.js';
import { StreamQueue, streamPartition } from './stream-queue.js';
import { checkStreamDeclaration, purgeRefusal, queueResource, retentionConfigs, type StreamDeclarationFlags } from './stream-rules.js';
import { TopicAppendStore } from './topic-append-store.js';
import { TopicTarget } from './topic-target.js';
import type { TopicAccess } from './topic-access.js';
import { TopicFeeds, type QueueLookup } from './topic-feeds.js';

export class Streams {
  /** Topic targets by virtual host and topic: one per pair, shared by every binding to it. */
  private readonly targets = new Map<string, TopicTarget>();
  /** Stream queues by topic, for the one-stream-per-topic rule. */
  private readonly streamsByTopic = new Map<string, StreamQueue>();
  /** Topics feeding queues; null until opened (and without a Kafka side). */
  private topicFeeds: TopicFeeds | null = null;

  constructor(
    readonly topics: TopicAccess | null,
    private readonly logger: Logger,
  ) {}

  /** A new stream queue: its topic created (retention from x-max-length-bytes / x-max-age) or adopted. */
  async declare(settings: QueueSettings, flags: StreamDeclarationFlags): Promise<StreamQueue> {
    const { name, virtualHost } = settings;
    checkStreamDeclaration(flags, name, virtualHost);
    const topics = this.requireTopics(name, virtualHost);
    const configs = retentionConfigs(settings.arguments, name, virtualHost);
    const other = this.streamsByTopic.get(name);
    if (other !== undefined && !other.deleted) throw this.refusal(name, virtualHost, `topic '${name}' already backs the stream queue in vhost '${other.virtualHost}'`);
    let partitionCount: number;
    try {
      ({ partitionCount } = await topics.ensureTopic(name, { partitionCount: 1, configs }));
    } catch (error) {
      throw this.refusal(name, virtualHost, error instanceof Error ? error.message : String(error));
    }
    if (partitionCount !== 1) {
      throw this.refusal(name, virtualHost, `topic '${name}' has ${partitionCount} partitions and a stream queue is one; bind an exchange to it instead (osprey exchange bind-topic)`);
    }
    return this.streamQueue(settings, topics);
  }

  /** A stream queue found in the definitions at start-up; its topic is made again if it went meanwhile. */
  async restore(settings: QueueSettings): Promise<StreamQueue> {
    const topics = this.requireTopics(settings.name, settings.virtualHost);
    try {
      await topics.ensureTopic(settings.name, { partitionCount: 1, configs: retentionConfigs(settings.arguments, settings.name, settings.virtualHost) });
    } catch (error) {
      this.logger.error('the topic of a stream queue could not be opened', { queue: settings.name, error: error instanceof Error ? error.message : String(error) });
    }
    return this.streamQueue(settings, topics);
  }

  /**
   * A stream queue another broker of the cluster declared (its definition shared through etcd): that
   * broker made or adopted its topic, so it is not looked for here; appends go where the topic's
   * partition is led, as for any stream queue.
   */
  learnt(settings: QueueSettings): StreamQueue {
    return this.streamQueue(settings, this.requireTopics(settings.name, settings.virtualHost));
  }

  private streamQueue(settings: QueueSettings, topics: TopicAccess): StreamQueue {
    const { name, virtualHost } = settings;
    const store: TopicAppendStore = new TopicAppendStore({
      topics,
      topic: name,
      partition: streamPartition,
      purgeRefusal: () => purgeRefusal(name, virtualHost),
      onDelete: (): Promise<void> => this.deleteStreamTopic(queue),
      logger: this.logger,
    });
    const queue: StreamQueue = new StreamQueue(settings, store, topics, this.logger);
    this.streamsByTopic.set(name, queue);
    return queue;
  }

  private async deleteStreamTopic(queue: StreamQueue): Promise<void> {
    if (this.streamsByTopic.get(queue.topic) === queue) this.streamsByTopic.delete(queue.topic);
    try {
      const deleted = (await this.topics?.deleteTopic(queue.topic)) ?? false;
      if (deleted) this.logger.info('stream queue deleted with its topic', { queue: queue.name, virtualHost: queue.virtualHost });
      else this.logger.info('stream queue deleted; its topic stays (a cluster\'s topics go with DeleteTopics)', { queue: queue.name, virtualHost: queue.virtualHost, topic: queue.topic });
    } catch (error) {
      this.logger.error('the topic of a deleted stream queue could not be deleted', { topic: queue.topic, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** The destination an exchange-to-topic binding routes to; the topic must exist unless `restoring`. */
  topicTarget(virtualHost: string, topic: string, restoring = false): TopicTarget {
    const topics = this.topics;
    if (topics === null) throw new AmqpChannelError(replyCodes.notImplemented, 'NOT_IMPLEMENTED - this broker has no Kafka topics to bind to');
    if (!restoring && topics.partitionCount(topic) === null) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no topic '${topic}'`);
    const key = JSON.stringify([virtualHost, topic]);
    const existing = this.targets.get(key);
    if (existing !== undefined) return existing;
    const store = new TopicAppendStore({
      topics,
      topic,
      purgeRefusal: () => new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - topic '${topic}' is not a queue`),
      onDelete: () => Promise.resolve(),
      logger: this.logger,
    });
    const target = new TopicTarget(virtualHost, topic, store);
    this.targets.set(key, target);
    return target;
  }

  /** Restores the topic feeds kept in `directory` and starts them; called once the queues are restored. */
  async openFeeds(directory: string, findQueue: QueueLookup): Promise<void> {
    if (this.topics === null) return;
    this.topicFeeds = await TopicFeeds.open(directory, this.topics, findQueue, this.logger);
  }

  get feeds(): TopicFeeds {
    if (this.topicFeeds === null) throw new AmqpChannelError(replyCodes.notImplemented, 'NOT_IMPLEMENTED - this broker has no Kafka topics to feed queues from');
    return this.topicFeeds;
  }

  async close(): Promise<void> {
    await this.topicFeeds?.close();
  }

  private requireTopics(name: string, virtualHost: string): TopicAccess {
    if (this.topics === null) throw new AmqpChannelError(replyCodes.notImplemented, `NOT_IMPLEMENTED - stream queues need the broker's Kafka side (${queueResource(name, virtualHost)})`);
    return this.topics;
  }

  private refusal(name: string, virtualHost: string, reason: string): AmqpChannelError {
    return new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - cannot declare stream ${queueResource(name, virtualHost)}: ${reason}`);
  }
}
