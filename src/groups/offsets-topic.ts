/**
 * The internal topic holding group state in a cluster: `__consumer_offsets`, as in Kafka. Each
 * group lives in one of its partitions, hash(group id) mod partition count, with Kafka's hash
 * (Java's String.hashCode, its absolute value), so a group lands in the partition a Kafka user
 * would expect; the leader of that partition coordinates the group (docs/cluster.md, "Groups").
 *
 * A single broker does not use it: its groups stay in its own group log (group-log.ts).
 */

export const offsetsTopicName = '__consumer_offsets';

/**
 * Partitions the topic is created with: Kafka's default offsets.topic.num.partitions. A cluster
 * topic has at most 127 (one etcd transaction creates its keys). Brokers hash with the count the
 * topic was created with (its record in etcd), never with this constant.
 */
export const offsetsTopicPartitionCount = 50;

/** Replicas per partition at creation: Kafka's default offsets.topic.replication.factor, or fewer when fewer brokers are live. */
export const offsetsTopicReplicationFactor = 3;

/**
 * The topic's configs. Nothing is ever deleted by retention (the coordinator replays a partition
 * from its start to rebuild its groups, so an offset dropped by retention would be lost); the
 * partition's leader cleans it up instead, as a single broker's group log (group-log.ts), and its
 * followers follow the leader's log start. Its segments are the group log's size
 * (`groups.offsetsLogSegmentBytes`, Kafka's offsets.topic.segment.bytes), so that a cleanup
 * deletes files. Kafka makes the topic compacted (cleanup.policy=compact) with its records in
 * Kafka's format; ours are Osprey's own and are cleaned by the coordinator's snapshot, so the
 * broker's log cleaner is not asked to compact them: cleanup.policy stays delete.
 */
export function offsetsTopicConfigs(segmentBytes: number): ReadonlyMap<string, string> {
  return new Map([
    ['retention.ms', '-1'],
    ['retention.bytes', '-1'],
    ['segment.bytes', String(segmentBytes)],
  ]);
}

/** Java's String.hashCode: h = 31·h + c over the UTF-16 code units, in 32-bit two's complement. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index++) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

/** The partition of the offsets topic holding `groupId`: Kafka's Utils.abs(hashCode) % count (abs of −2^31 is 0). */
export function groupPartition(groupId: string, partitionCount: number): number {
  const hash = javaStringHash(groupId);
  const absolute = hash === -0x80000000 ? 0 : Math.abs(hash);
  return absolute % partitionCount;
}
