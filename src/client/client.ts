/**
 * A client of a Kafka-protocol cluster: bootstrap addresses, a metadata cache (brokers, topics,
 * partition leaders), one pipelined connection per broker, group coordinators.
 *
 *   const client = new KafkaClient({ brokers: ['127.0.0.1:9092'] });
 *   const topic = await client.topicMetadata('orders');      // partitions and leaders
 *   const leader = await client.connectionToNode(topic.partitions[0].leaderId);
 *   …
 *   client.close();
 *
 * Admin operations are in admin.ts, the producer in producer.ts, the consumer in consumer.ts.
 */
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { apis } from './apis.js';
import { Connection } from './connection.js';
import { BrokerUnreachableError, KafkaClientError, KafkaProtocolError, checkErrorCode, isRetriable } from './errors.js';

export interface ClientOptions {
  /** host:port of one or more brokers to learn the cluster from. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

export interface PartitionMetadata {
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Replicas the broker reports offline (Osprey: itself, when the partition's stored data is damaged). */
  readonly offlineReplicas: readonly number[];
  readonly errorCode: number;
}

export interface TopicMetadata {
  readonly name: string;
  readonly topicId: Buffer;
  readonly isInternal: boolean;
  readonly partitions: readonly PartitionMetadata[];
}

export interface ClusterMetadata {
  readonly clusterId: string | null;
  readonly controllerId: number;
  readonly brokers: readonly BrokerAddress[];
  readonly topics: readonly TopicMetadata[];
}

/** Parses "host:port" (IPv6 as "[::1]:9092"); port 9092 when left out. */
export function parseBrokerAddress(text: string): { host: string; port: number } {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed !== null) return { host: bracketed[1]!, port: Number(bracketed[2] ?? 9092) };
  const colon = trimmed.lastIndexOf(':');
  if (colon < 0) return { host: trimmed, port: 9092 };
  const port = Number(trimmed.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new KafkaClientError(`'${text}' is not host:port (port 1-65535)`);
  return { host: trimmed.slice(0, colon), port };
}

export class KafkaClient {
  readonly clientId: string;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  private readonly bootstrapAddresses: readonly { host: string; port: number }[];
  private readonly connectionsByAddress = new Map<string, Promise<Connection>>();
  private readonly brokersById = new Map<number, BrokerAddress>();
  private readonly topics = new Map<string, TopicMetadata>();
  private bootstrapConnection: Connection | null = null;
  private closed = false;

  constructor(options: ClientOptions) {
    if (options.brokers.length === 0) throw new KafkaClientError('no broker address given');
    this.bootstrapAddresses = options.brokers.map(parseBrokerAddress);
    this.clientId = options.clientId ?? 'osprey';
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** A connection to any broker: the bootstrap list is tried in order. */
  async anyConnection(): Promise<Connection> {
    if (this.bootstrapConnection !== null && !this.bootstrapConnection.isClosed) return this.bootstrapConnection;
    for (const broker of this.brokersById.values()) {
      const cached = this.connectionsByAddress.get(`${broker.host}:${broker.port}`);
      if (cached !== undefined) {
        const connection = await cached.catch(() => null);
        if (connection !== null && !connection.isClosed) return (this.bootstrapConnection = connection);
      }
    }
    const failures: BrokerUnreachableError[] = [];
    for (const { host, port } of this.bootstrapAddresses) {
      try {
        this.bootstrapConnection = await this.connectionTo(host, port);
        return this.bootstrapConnection;
      } catch (error) {
        if (!(error instanceof BrokerUnreachableError)) throw error;
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0]!;
    throw new BrokerUnreachableError(failures.map((failure) => failure.address).join(', '), failures.map((failure) => `${failure.address}: ${failure.reason}`).join('; '));
  }

  /** The (shared) connection to host:port, opened on first use. */
  connectionTo(host: string, port: number): Promise<Connection> {
    if (this.closed) return Promise.reject(new KafkaClientError('the client is closed'));
    const address = `${host}:${port}`;
    const cached = this.connectionsByAddress.get(address);
    if (cached !== undefined) return cached;
    const opening = Connection.open({ host, port, clientId: this.clientId, connectTimeoutMs: this.connectTimeoutMs, requestTimeoutMs: this.requestTimeoutMs });
    this.connectionsByAddress.set(address, opening);
    opening.then(
      (connection) => connection.onClose(() => this.connectionsByAddress.get(address) === opening && this.connectionsByAddress.delete(address)),
      () => this.connectionsByAddress.delete(address),
    );
    return opening;
  }

  async connectionToNode(nodeId: number): Promise<Connection> {
    let broker = this.brokersById.get(nodeId);
    if (broker === undefined) {
      await this.refreshMetadata([]);
      broker = this.brokersById.get(nodeId);
    }
    if (broker === undefined) throw new KafkaClientError(`broker ${nodeId} is not in the cluster metadata`);
    return this.connectionTo(broker.host, broker.port);
  }

  /**
   * Asks for metadata: `topics` null means all topics, [] none (brokers only). Updates the cache.
   */
  async refreshMetadata(topics: readonly string[] | null, allowAutoTopicCreation = false): Promise<ClusterMetadata> {
    const connection = await this.anyConnection();
    const response = await connection.request(apis.metadata, {
      topics: topics === null ? null : topics.map((name) => ({ name, topicId: zeroTopicId })),
      allowAutoTopicCreation,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    checkErrorCode(response.errorCode, 'Metadata');
    const brokers = response.brokers.map((broker) => ({ nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack }));
    for (const broker of brokers) this.brokersById.set(broker.nodeId, broker);
    const topicList: TopicMetadata[] = [];
    for (const topic of response.topics) {
      if (topic.name === null) continue;
      if (topic.errorCode !== ErrorCode.none) {
        this.topics.delete(topic.name);
        continue;
      }
      const metadata: TopicMetadata = {
        name: topic.name,
        topicId: topic.topicId,
        isInternal: topic.isInternal,
        partitions: topic.partitions
          .map((partition) => ({
            partition: partition.partitionIndex,
            leaderId: partition.leaderId,
            leaderEpoch: partition.leaderEpoch,
            replicas: partition.replicaNodes,
            isr: partition.isrNodes,
            offlineReplicas: partition.offlineReplicas,
            errorCode: partition.errorCode,
          }))
          .sort((left, right) => left.partition - right.partition),
      };
      this.topics.set(topic.name, metadata);
      topicList.push(metadata);
    }
    return { clusterId: response.clusterId, controllerId: response.controllerId, brokers, topics: topicList };
  }

  /**
   * Metadata of one topic, from the cache unless `refresh`; throws KafkaProtocolError
   * UNKNOWN_TOPIC_OR_PARTITION when it does not exist (and was not auto-created).
   */
  async topicMetadata(topic: string, options: { refresh?: boolean; allowAutoTopicCreation?: boolean } = {}): Promise<TopicMetadata> {
    const cached = options.refresh === true ? undefined : this.topics.get(topic);
    if (cached !== undefined) return cached;
    for (let attempt = 0; ; attempt++) {
      const connection = await this.anyConnection();
      const response = await connection.request(apis.metadata, {
        topics: [{ name: topic, topicId: zeroTopicId }],
        allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
        includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
      });
      for (const broker of response.brokers) this.brokersById.set(broker.nodeId, { nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack });
      const entry = response.topics.find((candidate) => candidate.name === topic);
      const code = entry?.errorCode ?? ErrorCode.unknownTopicOrPartition;
      // A topic just auto-created may report LEADER_NOT_AVAILABLE for a moment.
      if ((code === ErrorCode.leaderNotAvailable || isRetriable(code)) && attempt < 10) {
        await delay(100 * (attempt + 1));
        continue;
      }
      checkErrorCode(code, `topic '${topic}'`);
      await this.refreshMetadata([topic]);
      const fresh = this.topics.get(topic);
      if (fresh === undefined) throw new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${topic}'`);
      return fresh;
    }
  }

  cachedTopic(topic: string): TopicMetadata | undefined {
    return this.topics.get(topic);
  }

  /** Leader connection of one partition (from cached metadata). */
  async leaderConnection(topic: string, partition: number): Promise<Connection> {
    const metadata = await this.topicMetadata(topic);
    const entry = metadata.partitions.find((candidate) => candidate.partition === partition);
    if (entry === undefined) throw new KafkaProtocolError(ErrorCode.unknownTopicOrPartition, `topic '${topic}' partition ${partition} (it has ${metadata.partitions.length})`);
    if (entry.leaderId < 0) throw new KafkaProtocolError(ErrorCode.leaderNotAvailable, `topic '${topic}' partition ${partition}`);
    return this.connectionToNode(entry.leaderId);
  }

  /** The coordinator of a consumer group (FindCoordinator, retried while it is loading). */
  async coordinator(groupId: string): Promise<Connection> {
    for (let attempt = 0; ; attempt++) {
      const connection = await this.anyConnection();
      const response = await connection.request(apis.findCoordinator, { key: groupId, keyType: 0, coordinatorKeys: [] });
      if (response.errorCode !== ErrorCode.none) {
        if (isRetriable(response.errorCode) && attempt < 20) {
          await delay(100 * Math.min(attempt + 1, 5));
          continue;
        }
        checkErrorCode(response.errorCode, `FindCoordinator for group '${groupId}'`, response.errorMessage);
      }
      return this.connectionTo(response.host, response.port);
    }
  }

  close(): void {
    this.closed = true;
    for (const opening of this.connectionsByAddress.values()) opening.then((connection) => connection.close(), () => undefined);
    this.connectionsByAddress.clear();
    this.bootstrapConnection = null;
  }
}

/** Topic ids are not used by this client: requests carry names. */
export const zeroTopicId = Buffer.alloc(16);

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
