/**
 * The embedded "consumer" protocol of classic groups (protocolType "consumer"): what Kafka
 * consumers put in JoinGroup metadata and SyncGroup assignments. The broker reads them only to
 * answer OffsetDelete (is a member subscribed to the topic?) and to show lag per member. They are
 * never flexible; a client may use a newer version than we know, whose extra fields come after
 * the ones read here.
 *
 *   Subscription: version int16 │ topics [string] │ userData nullable bytes │
 *                 v1+ ownedPartitions [topic string │ partitions [int32]] │ v2+ generationId int32 │
 *                 v3+ rackId nullable string
 *   Assignment:   version int16 │ assignedPartitions [topic string │ partitions [int32]] │
 *                 userData nullable bytes
 *   ([x] is an int32 count followed by the elements; strings have an int16 length.)
 */
import { MalformedInputError } from '../wire/errors.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';

export const consumerProtocolType = 'consumer';

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** The topics of a subscription; null when the bytes are not a subscription we can read. */
export function subscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const reader = new Reader(metadata);
    if (reader.int16() < 0) return null;
    const count = reader.arrayLength();
    const topics: string[] = [];
    for (let index = 0; index < count; index++) topics.push(reader.string());
    return topics;
  } catch (error) {
    if (error instanceof MalformedInputError) return null;
    throw error;
  }
}

/** The partitions of an assignment; null when unreadable. An empty buffer is an empty assignment. */
export function assignmentPartitions(assignment: Buffer): TopicPartitions[] | null {
  if (assignment.length === 0) return [];
  try {
    const reader = new Reader(assignment);
    if (reader.int16() < 0) return null;
    const count = reader.arrayLength();
    const result: TopicPartitions[] = [];
    for (let index = 0; index < count; index++) {
      const topic = reader.string();
      const partitionCount = reader.arrayLength();
      const partitions: number[] = [];
      for (let partition = 0; partition < partitionCount; partition++) partitions.push(reader.int32());
      result.push({ topic, partitions });
    }
    return result;
  } catch (error) {
    if (error instanceof MalformedInputError) return null;
    throw error;
  }
}

/** A version 0 subscription (for tests and tools). */
export function encodeSubscription(topics: readonly string[], userData: Buffer | null = null): Buffer {
  const writer = new Writer();
  writer.int16(0);
  writer.arrayLength(topics.length);
  for (const topic of topics) writer.string(topic);
  writer.nullableBytes(userData);
  return writer.toBuffer();
}

/** A version 0 assignment (for tests and tools). */
export function encodeAssignment(assigned: readonly TopicPartitions[], userData: Buffer | null = null): Buffer {
  const writer = new Writer();
  writer.int16(0);
  writer.arrayLength(assigned.length);
  for (const { topic, partitions } of assigned) {
    writer.string(topic);
    writer.arrayLength(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
  writer.nullableBytes(userData);
  return writer.toBuffer();
}
