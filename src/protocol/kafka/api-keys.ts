/**
 * The name of every Kafka API key, including those Osprey does not serve, so that tools can name
 * what any Kafka-compatible broker advertises in ApiVersions. Keys 4-7 were ZooKeeper-era
 * inter-broker APIs (gone in Kafka 4.0); the rest are as of Kafka 4.1. What Osprey serves, with
 * versions, is docs/kafka-apis.md.
 */
const names = [
  'Produce', 'Fetch', 'ListOffsets', 'Metadata', 'LeaderAndIsr', 'StopReplica', 'UpdateMetadata', 'ControlledShutdown',
  'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat', 'LeaveGroup', 'SyncGroup', 'DescribeGroups',
  'ListGroups', 'SaslHandshake', 'ApiVersions', 'CreateTopics', 'DeleteTopics', 'DeleteRecords', 'InitProducerId',
  'OffsetForLeaderEpoch', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn', 'WriteTxnMarkers', 'TxnOffsetCommit',
  'DescribeAcls', 'CreateAcls', 'DeleteAcls', 'DescribeConfigs', 'AlterConfigs', 'AlterReplicaLogDirs', 'DescribeLogDirs',
  'SaslAuthenticate', 'CreatePartitions', 'CreateDelegationToken', 'RenewDelegationToken', 'ExpireDelegationToken',
  'DescribeDelegationToken', 'DeleteGroups', 'ElectLeaders', 'IncrementalAlterConfigs', 'AlterPartitionReassignments',
  'ListPartitionReassignments', 'OffsetDelete', 'DescribeClientQuotas', 'AlterClientQuotas', 'DescribeUserScramCredentials',
  'AlterUserScramCredentials', 'Vote', 'BeginQuorumEpoch', 'EndQuorumEpoch', 'DescribeQuorum', 'AlterPartition',
  'UpdateFeatures', 'Envelope', 'FetchSnapshot', 'DescribeCluster', 'DescribeProducers', 'BrokerRegistration',
  'BrokerHeartbeat', 'UnregisterBroker', 'DescribeTransactions', 'ListTransactions', 'AllocateProducerIds',
  'ConsumerGroupHeartbeat', 'ConsumerGroupDescribe', 'ControllerRegistration', 'GetTelemetrySubscriptions', 'PushTelemetry',
  'AssignReplicasToDirs', 'ListConfigResources', 'DescribeTopicPartitions', 'ShareGroupHeartbeat', 'ShareGroupDescribe',
  'ShareFetch', 'ShareAcknowledge', 'AddRaftVoter', 'RemoveRaftVoter', 'UpdateRaftVoter', 'InitializeShareGroupState',
  'ReadShareGroupState', 'WriteShareGroupState', 'DeleteShareGroupState', 'ReadShareGroupStateSummary',
  'StreamsGroupHeartbeat', 'StreamsGroupDescribe', 'DescribeShareGroupOffsets', 'AlterShareGroupOffsets',
  'DeleteShareGroupOffsets',
] as const;

/** "Produce" for 0, …; `api-<key>` for a key newer than this table. */
export function kafkaApiName(key: number): string {
  return names[key] ?? `api-${key}`;
}
