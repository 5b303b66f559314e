/**
 * The topic end of an exchange-to-topic binding (`osprey exchange bind-topic EX TOPIC`): to the
 * exchange's matcher it is one more destination, reached like a queue, and what reaches it is
 * appended to the topic, the partition chosen by the routing key (the record key) as Kafka's
 * default partitioner chooses it. It has no consumers: Kafka clients read the topic.
 */
import { emptyFieldTable } from '../../protocol/amqp/field-table.js';
import { Queue } from '../queue.js';
import type { TopicAppendStore } from './topic-append-store.js';

/** The storageId of a topic target: never a folder, but not empty, so bindings to it are stored. */
export function topicTargetStorageId(topic: string): string {
  return `topic:${topic}`;
}

export class TopicTarget extends Queue {
  constructor(virtualHost: string, topic: string, store: TopicAppendStore) {
    super({ virtualHost, name: topic, durable: true, exclusiveOwner: null, autoDelete: false, arguments: emptyFieldTable(), storageId: topicTargetStorageId(topic) }, store);
  }

  get topic(): string {
    return this.name;
  }
}
