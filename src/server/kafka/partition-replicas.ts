/**
 * What Metadata and DescribeTopicPartitions say of a partition's leadership and replicas, computed
 * in one place so the two answers cannot drift apart. On one broker it leads every partition in
 * leader epoch 0 (the epoch every stored batch carries, OffsetForLeaderEpoch's only epoch), and is
 * the only replica and the whole ISR. In a cluster every answer comes from the partition's state in
 * etcd (Broker.cluster, docs/cluster.md): its leader (-1 when offline, answered LEADER_NOT_AVAILABLE
 * as Kafka does), leader epoch, replicas, ISR, and the replicas whose broker is not live.
 */
import type { Broker, Partition } from '../../broker/broker.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';

/** The only leader epoch there is, on one broker. */
export const leaderEpoch = 0;

export interface PartitionReplicas {
  readonly errorCode: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicaNodes: number[];
  readonly isrNodes: number[];
  readonly offlineReplicas: number[];
}

export function partitionReplicas(broker: Broker, partition: Partition): PartitionReplicas {
  if (broker.inCluster) return clusterPartitionReplicas(broker, partition);
  return {
    errorCode: ErrorCode.none,
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

/** A partition of a cluster as etcd describes it; LEADER_NOT_AVAILABLE while its state is not known or it has no leader. */
function clusterPartitionReplicas(broker: Broker, partition: Partition): PartitionReplicas {
  const state = broker.cluster?.partitionState(partition.topic.name, partition.index);
  if (state === undefined || broker.cluster === null) return { errorCode: ErrorCode.leaderNotAvailable, leaderId: -1, leaderEpoch: -1, replicaNodes: [], isrNodes: [], offlineReplicas: [] };
  return {
    errorCode: state.leader < 0 ? ErrorCode.leaderNotAvailable : ErrorCode.none,
    leaderId: state.leader,
    leaderEpoch: state.leaderEpoch,
    replicaNodes: [...state.replicas],
    isrNodes: [...state.isr],
    offlineReplicas: broker.cluster.offlineReplicas(state),
  };
}
