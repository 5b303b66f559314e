/**
 * What Metadata and DescribeTopicPartitions say of a partition's leadership and replicas, computed
 * in one place so the two answers cannot drift apart. On one broker it leads every partition in
 * leader epoch 0 (the epoch every stored batch carries, OffsetForLeaderEpoch's only epoch), and is
 * the only replica and the whole ISR. In a cluster every answer comes from the partition's state in
 * etcd (Broker.cluster, docs/cluster.md): its leader (-1 when there is none or it is not a live
 * broker, answered LEADER_NOT_AVAILABLE as Kafka does), leader epoch, replicas, ISR, and the
 * replicas whose broker is not live.
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

/**
 * A partition of a cluster as etcd describes it; LEADER_NOT_AVAILABLE (leader -1) while its state
 * is not known, it has no leader, or its leader is not a live broker. The last is the moment
 * between a leader's registration lapsing and the controller moving its partitions: naming a leader
 * the same answer leaves out of its broker list strands clients (KafkaJS then maps the partition to
 * a broker it has no connection for, fetches it from nowhere and, its metadata being fresh, does
 * not ask again for minutes). Kafka answers a leader without a live endpoint the same way, and
 * clients retry LEADER_NOT_AVAILABLE until the new leader is there.
 */
function clusterPartitionReplicas(broker: Broker, partition: Partition): PartitionReplicas {
  const state = broker.cluster?.partitionState(partition.topic.name, partition.index);
  if (state === undefined || broker.cluster === null) return { errorCode: ErrorCode.leaderNotAvailable, leaderId: -1, leaderEpoch: -1, replicaNodes: [], isrNodes: [], offlineReplicas: [] };
  const offlineReplicas = broker.cluster.offlineReplicas(state);
  const leaderLive = state.leader >= 0 && !offlineReplicas.includes(state.leader);
  return {
    errorCode: leaderLive ? ErrorCode.none : ErrorCode.leaderNotAvailable,
    leaderId: leaderLive ? state.leader : -1,
    leaderEpoch: state.leaderEpoch,
    replicaNodes: [...state.replicas],
    isrNodes: [...state.isr],
    offlineReplicas,
  };
}
