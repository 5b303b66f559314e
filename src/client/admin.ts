/**
 * Admin operations over KafkaClient: topics, configs, partitions, records, groups, the cluster.
 * Each throws KafkaProtocolError (with the broker's error name and message) when the broker refuses.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { assignmentPartitions } from '../protocol/kafka/consumer-protocol.js';
import { apis } from './apis.js';
import type { KafkaClient, BrokerAddress } from './client.js';
import { checkErrorCode, KafkaProtocolError } from './errors.js';
import type { Connection } from './connection.js';

/** ListGroups asked again this many times, 100 ms apart, while a broker answers COORDINATOR_LOAD_IN_PROGRESS. */
const listGroupsLoadingAttempts = 30;

/** Resource types of DescribeConfigs / IncrementalAlterConfigs. */
const topicResource = 2;
const brokerResource = 4;
/** ListOffsets special timestamps. */
export const latestTimestamp = -1;
export const earliestTimestamp = -2;

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly isDefault: boolean;
  readonly isSensitive: boolean;
  /** Kafka's config source, as a word: topic, broker, default, … */
  readonly source: string;
}

const configSources: Readonly<Record<number, string>> = {
  [-1]: 'unknown',
  0: 'unknown',
  1: 'topic',
  2: 'dynamic-broker',
  3: 'dynamic-default-broker',
  4: 'static-broker',
  5: 'default',
  6: 'dynamic-broker-logger',
  7: 'client-metrics',
  8: 'group',
};

export class Admin {
  constructor(readonly client: KafkaClient) {}

  /** The controller when the metadata names one, any broker otherwise. */
  private async controller(): Promise<Connection> {
    const metadata = await this.client.refreshMetadata([]);
    if (metadata.controllerId >= 0 && metadata.brokers.some((broker) => broker.nodeId === metadata.controllerId)) return this.client.connectionToNode(metadata.controllerId);
    return this.client.anyConnection();
  }

  async createTopic(name: string, options: { partitions?: number; replicationFactor?: number; configs?: Readonly<Record<string, string>>; validateOnly?: boolean } = {}): Promise<{ partitions: number; replicationFactor: number }> {
    const connection = await this.controller();
    const response = await connection.request(apis.createTopics, {
      topics: [
        {
          name,
          numPartitions: options.partitions ?? -1,
          replicationFactor: options.replicationFactor ?? -1,
          assignments: [],
          configs: Object.entries(options.configs ?? {}).map(([key, value]) => ({ name: key, value })),
        },
      ],
      timeoutMs: this.client.requestTimeoutMs,
      validateOnly: options.validateOnly ?? false,
    });
    const result = response.topics[0];
    if (result === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `create topic '${name}'`, 'empty answer');
    checkErrorCode(result.errorCode, `create topic '${name}'`, result.errorMessage);
    return { partitions: result.numPartitions >= 0 ? result.numPartitions : (options.partitions ?? -1), replicationFactor: result.replicationFactor };
  }

  async deleteTopic(name: string): Promise<void> {
    const connection = await this.controller();
    // v6+ lists topics (by name or id); v1-5 lists names.
    const byName = connection.versionFor(apis.deleteTopics) >= 6;
    const response = await connection.request(apis.deleteTopics, {
      topics: byName ? [{ name, topicId: Buffer.alloc(16) }] : [],
      topicNames: byName ? [] : [name],
      timeoutMs: this.client.requestTimeoutMs,
    });
    const result = response.responses[0];
    if (result === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `delete topic '${name}'`, 'empty answer');
    checkErrorCode(result.errorCode, `delete topic '${name}'`, result.errorMessage);
  }

  async addPartitions(name: string, totalCount: number): Promise<void> {
    const connection = await this.controller();
    const response = await connection.request(apis.createPartitions, {
      topics: [{ name, count: totalCount, assignments: null }],
      timeoutMs: this.client.requestTimeoutMs,
      validateOnly: false,
    });
    const result = response.results[0];
    if (result === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `add partitions to '${name}'`, 'empty answer');
    checkErrorCode(result.errorCode, `add partitions to '${name}'`, result.errorMessage);
  }

  /** Sets (value string) or removes (value null: back to the default) topic configs. */
  async alterTopicConfig(name: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    const connection = await this.controller();
    const response = await connection.request(apis.incrementalAlterConfigs, {
      resources: [
        {
          resourceType: topicResource,
          resourceName: name,
          configs: Object.entries(changes).map(([key, value]) => ({ name: key, configOperation: value === null ? 1 : 0, value })),
        },
      ],
      validateOnly: false,
    });
    const result = response.responses[0];
    if (result === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `alter config of '${name}'`, 'empty answer');
    checkErrorCode(result.errorCode, `alter config of '${name}'`, result.errorMessage);
  }

  async describeTopicConfig(name: string): Promise<ConfigEntry[]> {
    return this.describeConfigs(topicResource, name);
  }

  async describeBrokerConfig(nodeId: number): Promise<ConfigEntry[]> {
    return this.describeConfigs(brokerResource, String(nodeId), await this.client.connectionToNode(nodeId));
  }

  private async describeConfigs(resourceType: number, resourceName: string, via?: Connection): Promise<ConfigEntry[]> {
    const connection = via ?? (await this.client.anyConnection());
    const response = await connection.request(apis.describeConfigs, {
      resources: [{ resourceType, resourceName, configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const result = response.results[0];
    if (result === undefined) return [];
    checkErrorCode(result.errorCode, `describe config of '${resourceName}'`, result.errorMessage);
    return result.configs
      .map((entry) => ({
        name: entry.name,
        value: entry.value,
        readOnly: entry.readOnly,
        isDefault: entry.configSource === 5,
        isSensitive: entry.isSensitive,
        source: configSources[entry.configSource] ?? `source-${entry.configSource}`,
      }))
      .sort((left, right) => (left.name < right.name ? -1 : 1));
  }

  /**
   * Offsets of partitions at a timestamp (ms), or latestTimestamp / earliestTimestamp. The answer
   * maps partition → offset (-1 when no record is at or after the timestamp).
   */
  async listOffsets(topic: string, partitions: readonly number[], timestamp: number): Promise<Map<number, { offset: number; timestamp: number }>> {
    const metadata = await this.client.topicMetadata(topic);
    const byLeader = new Map<number, number[]>();
    for (const partition of partitions) {
      const entry = metadata.partitions.find((candidate) => candidate.partition === partition);
      if (entry === undefined) throw new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${topic}' partition ${partition} (it has ${metadata.partitions.length})`);
      const list = byLeader.get(entry.leaderId) ?? [];
      list.push(partition);
      byLeader.set(entry.leaderId, list);
    }
    const answers = await Promise.all(
      [...byLeader].map(async ([leaderId, leaderPartitions]) => {
        const connection = await this.client.connectionToNode(leaderId);
        return connection.request(apis.listOffsets, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: topic, partitions: leaderPartitions.map((partitionIndex) => ({ partitionIndex, timestamp: BigInt(timestamp) })) }],
          timeoutMs: this.client.requestTimeoutMs,
        });
      }),
    );
    const offsets = new Map<number, { offset: number; timestamp: number }>();
    for (const answer of answers) {
      for (const topicAnswer of answer.topics) {
        for (const partition of topicAnswer.partitions) {
          checkErrorCode(partition.errorCode, `ListOffsets of '${topic}' partition ${partition.partitionIndex}`);
          offsets.set(partition.partitionIndex, { offset: Number(partition.offset), timestamp: Number(partition.timestamp) });
        }
      }
    }
    return offsets;
  }

  /** DeleteRecords: removes records before `offsets[partition]`; answers the new low watermarks. */
  async deleteRecords(topic: string, offsets: ReadonlyMap<number, number>): Promise<Map<number, number>> {
    const metadata = await this.client.topicMetadata(topic);
    const byLeader = new Map<number, { partitionIndex: number; offset: bigint }[]>();
    for (const [partition, offset] of offsets) {
      const entry = metadata.partitions.find((candidate) => candidate.partition === partition);
      if (entry === undefined) throw new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${topic}' partition ${partition}`);
      const list = byLeader.get(entry.leaderId) ?? [];
      list.push({ partitionIndex: partition, offset: BigInt(offset) });
      byLeader.set(entry.leaderId, list);
    }
    const lowWatermarks = new Map<number, number>();
    for (const [leaderId, partitions] of byLeader) {
      const connection = await this.client.connectionToNode(leaderId);
      const response = await connection.request(apis.deleteRecords, { topics: [{ name: topic, partitions }], timeoutMs: this.client.requestTimeoutMs });
      for (const topicAnswer of response.topics) {
        for (const partition of topicAnswer.partitions) {
          checkErrorCode(partition.errorCode, `delete records of '${topic}' partition ${partition.partitionIndex}`);
          lowWatermarks.set(partition.partitionIndex, Number(partition.lowWatermark));
        }
      }
    }
    return lowWatermarks;
  }

  /**
   * Bytes on disk of partitions' logs, as their leaders report them (DescribeLogDirs; a partition in
   * several log directories is summed, a future copy being moved between them is not counted). A
   * partition whose leader does not offer DescribeLogDirs, or does not list it, is left out.
   */
  async partitionSizes(topic: string, partitions: readonly number[]): Promise<Map<number, number>> {
    const metadata = await this.client.topicMetadata(topic);
    const byLeader = new Map<number, number[]>();
    for (const partition of metadata.partitions) {
      if (!partitions.includes(partition.partition)) continue;
      byLeader.set(partition.leaderId, [...(byLeader.get(partition.leaderId) ?? []), partition.partition]);
    }
    const sizes = new Map<number, number>();
    await Promise.all(
      [...byLeader].map(async ([leaderId, leaderPartitions]) => {
        const connection = await this.client.connectionToNode(leaderId);
        if (connection.versionRange(apis.describeLogDirs.key) === undefined) return;
        const answer = await connection.request(apis.describeLogDirs, { topics: [{ topic, partitions: leaderPartitions }] });
        checkErrorCode(answer.errorCode, 'DescribeLogDirs');
        for (const logDir of answer.results) {
          if (logDir.errorCode !== ErrorCode.none) continue; // an offline directory: its partitions stay unknown
          for (const topicAnswer of logDir.topics) {
            if (topicAnswer.name !== topic) continue;
            for (const partition of topicAnswer.partitions) {
              if (partition.isFutureKey || !leaderPartitions.includes(partition.partitionIndex)) continue;
              sizes.set(partition.partitionIndex, (sizes.get(partition.partitionIndex) ?? 0) + Number(partition.partitionSize));
            }
          }
        }
      }),
    );
    return sizes;
  }

  /**
   * AlterPartitionReassignments (sent to the controller): each partition's target replicas, or
   * null to cancel its reassignment under way. Answers each partition's outcome (errorCode 0: the
   * reassignment was accepted; it goes on in the cluster, see listReassignments).
   */
  async reassignPartitions(targets: readonly { topic: string; partition: number; replicas: readonly number[] | null }[]): Promise<PartitionOutcome[]> {
    const connection = await this.controller();
    const byTopic = new Map<string, { partitionIndex: number; replicas: number[] | null }[]>();
    for (const { topic, partition, replicas } of targets) byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partitionIndex: partition, replicas: replicas === null ? null : [...replicas] }]);
    const response = await connection.request(apis.alterPartitionReassignments, {
      timeoutMs: this.client.requestTimeoutMs,
      allowReplicationFactorChange: true,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    checkErrorCode(response.errorCode, 'AlterPartitionReassignments', response.errorMessage);
    return response.responses.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.partitionIndex, errorCode: partition.errorCode, errorMessage: partition.errorMessage })));
  }

  /** ListPartitionReassignments (sent to the controller): the reassignments under way (of the topics' partitions named, or all). */
  async listReassignments(topics: readonly { topic: string; partitions: readonly number[] }[] | null = null): Promise<Reassignment[]> {
    const connection = await this.controller();
    const response = await connection.request(apis.listPartitionReassignments, {
      timeoutMs: this.client.requestTimeoutMs,
      topics: topics === null ? null : topics.map(({ topic, partitions }) => ({ name: topic, partitionIndexes: [...partitions] })),
    });
    checkErrorCode(response.errorCode, 'ListPartitionReassignments', response.errorMessage);
    return response.topics.flatMap((topic) =>
      topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.partitionIndex, replicas: partition.replicas, addingReplicas: partition.addingReplicas, removingReplicas: partition.removingReplicas })),
    );
  }

  /** ElectLeaders (sent to the controller): preferred or unclean election of the partitions named, or of all. */
  async electLeaders(partitions: readonly { topic: string; partition: number }[] | null, type: 'preferred' | 'unclean' = 'preferred'): Promise<PartitionOutcome[]> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions ?? []) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const request = {
      electionType: type === 'preferred' ? 0 : 1,
      topicPartitions: partitions === null ? null : [...byTopic].map(([topic, indexes]) => ({ topic, partitions: indexes })),
      timeoutMs: this.client.requestTimeoutMs,
    };
    // Only the controller answers; the one the metadata named may have just been replaced.
    let response = await (await this.controller()).request(apis.electLeaders, request);
    for (let attempt = 1; attempt < 3 && response.errorCode === ErrorCode.notController; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      response = await (await this.controller()).request(apis.electLeaders, request);
    }
    checkErrorCode(response.errorCode, 'ElectLeaders', null);
    return response.replicaElectionResults.flatMap((topic) => topic.partitionResult.map((result) => ({ topic: topic.topic, partition: result.partitionId, errorCode: result.errorCode, errorMessage: result.errorMessage })));
  }

  /** Brokers, controller, cluster id; DescribeCluster when the broker offers it, Metadata otherwise. */
  async describeCluster(): Promise<{ clusterId: string | null; controllerId: number; brokers: BrokerAddress[] }> {
    const connection = await this.client.anyConnection();
    if (connection.versionRange(apis.describeCluster.key) !== undefined) {
      const response = await connection.request(apis.describeCluster, { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false });
      checkErrorCode(response.errorCode, 'DescribeCluster', response.errorMessage);
      return {
        clusterId: response.clusterId,
        controllerId: response.controllerId,
        brokers: response.brokers.map((broker) => ({ nodeId: broker.brokerId, host: broker.host, port: broker.port, rack: broker.rack })).sort((left, right) => left.nodeId - right.nodeId),
      };
    }
    const metadata = await this.client.refreshMetadata([]);
    return { clusterId: metadata.clusterId, controllerId: metadata.controllerId, brokers: [...metadata.brokers].sort((left, right) => left.nodeId - right.nodeId) };
  }

  async listGroups(): Promise<{ groupId: string; protocolType: string; state: string; type: string }[]> {
    const metadata = await this.client.refreshMetadata([]);
    const groups: { groupId: string; protocolType: string; state: string; type: string }[] = [];
    for (const broker of metadata.brokers) {
      const connection = await this.client.connectionTo(broker.host, broker.port);
      let response = await connection.request(apis.listGroups, { statesFilter: [], typesFilter: [] });
      // A cluster broker reading back the groups of a partition it came to lead answers that for a moment.
      for (let attempt = 0; response.errorCode === ErrorCode.coordinatorLoadInProgress && attempt < listGroupsLoadingAttempts; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        response = await connection.request(apis.listGroups, { statesFilter: [], typesFilter: [] });
      }
      checkErrorCode(response.errorCode, `ListGroups on broker ${broker.nodeId}`);
      for (const group of response.groups) groups.push({ groupId: group.groupId, protocolType: group.protocolType, state: group.groupState, type: group.groupType });
    }
    return groups.sort((left, right) => (left.groupId < right.groupId ? -1 : 1));
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const connection = await this.client.coordinator(groupId);
    const response = await connection.request(apis.describeGroups, { groups: [groupId], includeAuthorizedOperations: false });
    const group = response.groups[0];
    if (group === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `describe group '${groupId}'`, 'empty answer');
    checkErrorCode(group.errorCode, `describe group '${groupId}'`, group.errorMessage);
    return {
      groupId,
      state: group.groupState,
      protocolType: group.protocolType,
      protocol: group.protocolData,
      members: group.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        assignment: group.protocolType === 'consumer' ? (assignmentPartitions(member.memberAssignment) ?? []) : [],
      })),
    };
  }

  async deleteGroup(groupId: string): Promise<void> {
    const connection = await this.client.coordinator(groupId);
    const response = await connection.request(apis.deleteGroups, { groupsNames: [groupId] });
    const result = response.results[0];
    if (result === undefined) throw new KafkaProtocolError(ErrorCode.unknownServerError, `delete group '${groupId}'`, 'empty answer');
    checkErrorCode(result.errorCode, `delete group '${groupId}'`);
  }

  /** Committed offsets of a group: all topics when `topics` is null. Offsets of -1 are left out. */
  async fetchCommittedOffsets(groupId: string, topics: readonly { topic: string; partitions: readonly number[] }[] | null = null): Promise<CommittedOffset[]> {
    const connection = await this.client.coordinator(groupId);
    const response = await connection.request(apis.offsetFetch, {
      groupId,
      topics: topics === null ? null : topics.map((entry) => ({ name: entry.topic, partitionIndexes: [...entry.partitions] })),
      groups: [],
      requireStable: false,
    });
    checkErrorCode(response.errorCode, `fetch committed offsets of group '${groupId}'`);
    const result: CommittedOffset[] = [];
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        checkErrorCode(partition.errorCode, `committed offset of group '${groupId}' on '${topic.name}' partition ${partition.partitionIndex}`);
        if (partition.committedOffset >= 0n) result.push({ topic: topic.name, partition: partition.partitionIndex, offset: Number(partition.committedOffset), metadata: partition.metadata });
      }
    }
    return result;
  }

  /**
   * Commits offsets for a group with no active members (what reset-offsets does): generation -1
   * and an empty member id, which a broker accepts only while the group is empty.
   */
  async commitOffsets(groupId: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    const connection = await this.client.coordinator(groupId);
    await commitWith(connection, groupId, -1, '', offsets);
  }
}

/** One partition's answer to an admin request acting on many (0: done). */
export interface PartitionOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

/** A reassignment under way: replicas now (target first), those being added and removed. */
export interface Reassignment {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly protocol: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly clientId: string;
    readonly clientHost: string;
    readonly assignment: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
  }[];
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

/** OffsetCommit of `offsets`, grouped by topic; throws on the first partition error. */
export async function commitWith(connection: Connection, groupId: string, generationId: number, memberId: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
  const byTopic = new Map<string, { partitionIndex: number; committedOffset: bigint; committedMetadata: string | null }[]>();
  for (const { topic, partition, offset } of offsets) {
    const list = byTopic.get(topic) ?? [];
    list.push({ partitionIndex: partition, committedOffset: BigInt(offset), committedMetadata: '' });
    byTopic.set(topic, list);
  }
  if (byTopic.size === 0) return;
  const response = await connection.request(apis.offsetCommit, {
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  });
  for (const topic of response.topics) {
    for (const partition of topic.partitions) checkErrorCode(partition.errorCode, `commit offset of group '${groupId}' on '${topic.name}' partition ${partition.partitionIndex}`);
  }
}
