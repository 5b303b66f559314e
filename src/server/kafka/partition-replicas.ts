/**
 * What Metadata and DescribeTopicPartitions say of a partition's leadership and replicas, computed
 * in one place so the two answers cannot drift apart. On one broker it leads every partition in
 * leader epoch 0 (the epoch every stored batch carries, OffsetForLeaderEpoch's only epoch), and is
 * the only replica and the whole ISR.
 */
import type { Broker, Partition } from '../../broker/broker.js';

/** The only leader epoch there is, on one broker. */
export const leaderEpoch = 0;

export interface PartitionReplicas {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicaNodes: number[];
  readonly isrNodes: number[];
  readonly offlineReplicas: number[];
}

export function partitionReplicas(broker: Broker, partition: Partition): PartitionReplicas {
  return {
    leaderId: broker.nodeId,
    leaderEpoch,
    replicaNodes: [broker.nodeId],
    isrNodes: [broker.nodeId],
    // A log that failed to open, or damaged stored data (kept, not served): this broker names
    // itself an offline replica so tools (osprey topic describe) can show the partition marked; it
    // still leads the partition and serves what it can.
    offlineReplicas: partition.state === 'failed' || (partition.isOpen && partition.handle.damagedRangeCount > 0) ? [broker.nodeId] : [],
  };
}
