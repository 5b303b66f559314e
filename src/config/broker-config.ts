/**
 * Everything an operator can set on a broker, with its default. One place, so every limit has a
 * name, a default and a config key (DESIGN.md, decision 7).
 *
 * Keys are the same in the YAML file (`kafkaPort: 9092` or nested `limits: { maxFrameBytes: … }`, `amqp: { … }`),
 * as flags (`--kafka-port`) and as environment variables (`OSPREY_KAFKA_PORT`); see loader.ts.
 */

import type { FlushPolicy } from '../storage/flush.js';

/** Topic-level defaults; each can be overridden per topic with the Kafka config key in brackets. */
export interface TopicDefaults {
  /** [num.partitions] partitions of an auto-created topic, or of CreateTopics with -1. */
  numPartitions: number;
  /** [segment.bytes] roll the active segment when it reaches this size. */
  segmentBytes: number;
  /** [segment.ms] roll the active segment when its first batch is this old. */
  segmentMs: number;
  /** [retention.ms] delete segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** [retention.bytes] delete oldest segments while a partition is larger; -1 is unlimited. */
  retentionBytes: number;
  /** [max.message.bytes] largest record batch accepted. */
  maxMessageBytes: number;
  /** [message.timestamp.type] CreateTime or LogAppendTime. */
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  /** [index.interval.bytes] bytes between offset-index entries. */
  indexIntervalBytes: number;
  /** [min.insync.replicas] in-sync replicas a partition needs for acks=all to be accepted (capped at its replica count, as in Kafka). */
  minInsyncReplicas: number;
}

export interface ConnectionLimits {
  /** Largest request frame accepted once a connection is past authentication. */
  maxFrameBytes: number;
  /**
   * Largest request frame accepted from a connection until it has sent one well-formed request
   * (as Kafka's sasl.server.max.receive.size before authentication; there is no SASL yet, so every
   * connection starts here). Keeps a stranger from making the broker wait for a huge frame.
   */
  maxUnauthenticatedFrameBytes: number;
  /** Requests read but not yet answered, per connection; no further frame is handled, nor read, beyond it. */
  maxInFlightRequests: number;
  /** A connection's share of the request memory: bytes received and not yet answered (the frame being read included); reading pauses beyond it. */
  maxInFlightBytes: number;
  /** [queued.max.request.bytes] bytes of requests all connections together may hold, counted as they arrive, until answered. */
  maxQueuedRequestBytes: number;
  /** Open connections per broker; further ones are closed at once. */
  maxConnections: number;
  /** A connection that sends nothing for this long is closed. */
  idleTimeoutMs: number;
  /** Longest a Fetch may wait for data, whatever the client asks. */
  maxFetchWaitMs: number;
  /** Largest Fetch response, whatever the client asks. */
  maxFetchResponseBytes: number;
  /** Array elements (topics, partitions, members…) one request may hold; more closes the connection. */
  maxRequestArrayElements: number;
  /** [max.request.partition.size.limit] partitions one DescribeTopicPartitions response lists at most, whatever the client asks. */
  maxDescribedPartitions: number;
  /** Active producers one DescribeProducers response lists at most, all partitions together. */
  maxDescribedProducers: number;
  /** Largest partition count of one topic. */
  maxPartitionsPerTopic: number;
  /** Idempotent producer ids tracked per partition; beyond it the least recently active is forgotten. */
  maxProducerIdsPerPartition: number;
  /** Producer ids whose current epoch InitProducerId remembers (KIP-360 epoch bumps); least recently used forgotten first. */
  maxProducerIdsRemembered: number;
  /** A frame up to this size is a small request (Metadata, heartbeats, ApiVersions…) and may use the small-request reserve. */
  smallRequestBytes: number;
  /** The top of maxQueuedRequestBytes only small requests may use, so large ones never starve them. */
  smallRequestReserveBytes: number;
  /** A request frame must arrive whole within this long of its first byte (time the broker holds off reading does not count); else the connection is closed. */
  frameReceiveTimeoutMs: number;
  /** Open connections from one client IP address; further ones are closed at once. */
  maxConnectionsPerAddress: number;
  /** Connections the kernel may queue before the broker accepts them (listen backlog; the kernel caps it at net.core.somaxconn). */
  listenBacklog: number;
  /** On shutdown, how long connections get to be answered what they already sent before they are closed. */
  shutdownDrainTimeoutMs: number;
  /** Topics this broker holds; creating more (CreateTopics, auto-creation) is refused with POLICY_VIOLATION. */
  maxTopics: number;
  /** Partitions this broker holds, all topics together; more (CreateTopics, CreatePartitions, auto-creation) is refused with POLICY_VIOLATION. */
  maxPartitions: number;
  /** Segment files open at once, all partitions together; the least recently used idle ones are closed beyond it. */
  maxOpenSegmentFiles: number;
  /** Bytes of recent batches all partitions' tail caches hold together; the least recently written partitions give theirs up first. */
  maxTailCacheBytes: number;
  /** Bytes of recent batches one partition's tail cache holds. */
  maxTailCacheBytesPerPartition: number;
  /** Bytes of buffers fetches read segment files into that are kept for the next fetches once written (0: none kept). */
  maxPooledReadBytes: number;
  /** Bytes of sealed segments' offset and time indexes kept in memory, all partitions together; the least recently used are dropped beyond it. */
  maxSegmentIndexBytes: number;
  /** Largest size a compressed batch may declare it decompresses to (Produce), and may be inflated to (timestamp lookups). */
  maxDecompressedBytes: number;
  /**
   * A connection's queued output: responses encoded but not yet written, plus its socket's write
   * buffer. A request starts only while it is under this (and a Fetch only while no other Fetch of
   * the connection runs), so a client that does not read cannot make the broker hold its responses.
   */
  maxQueuedResponseBytes: number;
}

/** The AMQP 0-9-1 listener and its connections (src/server/amqp/). */
export interface AmqpSettings {
  /** False turns the AMQP listener off, whatever amqpPort says. */
  enabled: boolean;
  /** The frame_max proposed in connection.tune, header and frame-end octet included; clients may ask for less. */
  frameMaxBytes: number;
  /** The channel_max proposed in connection.tune: highest channel number a client may open. */
  channelMax: number;
  /** The heartbeat interval proposed in connection.tune; 0 proposes none. */
  heartbeatSeconds: number;
  /** From the protocol header to connection.open-ok; also how long a broker-sent connection.close waits for close-ok. */
  handshakeTimeoutMs: number;
  /** Messages delivered and not yet acknowledged, all channels of a connection together (enforced by the sessions). */
  maxUnackedMessagesPerConnection: number;
  /** Unsent output before deliveries wait, and frames held behind a pending handler before reading pauses, per connection. */
  maxBufferedBytesPerConnection: number;
  /** Largest message body accepted from basic.publish (RabbitMQ's max_message_size). */
  maxContentBytes: number;
  /** Open AMQP connections; further ones are closed at once (RabbitMQ's connection_max). */
  connectionMax: number;
  /** Segment size of a durable queue's log. */
  queueSegmentBytes: number;
  /** Bytes of ready messages a durable queue keeps in memory ahead of its consumers; the rest is read back from disk. */
  maxReadyBytesInMemoryPerQueue: number;
  /** In a cluster: how long a publisher confirm for a record appended to a replicated topic partition waits for the in-sync replicas. */
  topicConfirmTimeoutMs: number;
  /** Queues, all virtual hosts together. */
  maxQueues: number;
  /** Declared exchanges (the predeclared ones do not count). */
  maxExchanges: number;
  /** Bindings, all exchanges together. */
  maxBindings: number;
  /** Messages held by x-delayed-message exchanges, all together. */
  maxDelayedMessages: number;
}

/** Consumer groups and their committed offsets (the group coordinator, src/groups/). */
export interface GroupSettings {
  /** [group.min.session.timeout.ms] shortest session timeout a member may ask for. */
  minSessionTimeoutMs: number;
  /** [group.max.session.timeout.ms] longest session timeout a member may ask for. */
  maxSessionTimeoutMs: number;
  /** [group.initial.rebalance.delay.ms] how long the first rebalance of an empty group waits for more members. */
  initialRebalanceDelayMs: number;
  /** [group.max.size] members (joined or asked to rejoin) one classic group may have. */
  maxGroupSize: number;
  /** Groups this broker keeps; a new group beyond it is refused (COORDINATOR_NOT_AVAILABLE). */
  maxGroups: number;
  /** Longest group id, in UTF-8 bytes. */
  maxGroupIdBytes: number;
  /** Protocol (assignor) entries one JoinGroup may list. */
  maxProtocolsPerMember: number;
  /** Bytes of protocol metadata (subscriptions) one JoinGroup may carry, all protocols together. */
  maxMemberMetadataBytes: number;
  /** [offset.metadata.max.bytes] longest metadata string of a committed offset. */
  maxMetadataBytes: number;
  /** Committed offsets of an empty group expire this long after the group became empty and after their commit. */
  offsetsRetentionMs: number;
  /** [offsets.retention.check.interval.ms] how often expired offsets are looked for. */
  offsetsRetentionCheckIntervalMs: number;
  /** [offsets.topic.segment.bytes] segment size of the group offsets log. */
  offsetsLogSegmentBytes: number;
  /** When the group offsets log grows past this, the live state is written anew and older segments dropped. */
  offsetsLogCleanupBytes: number;
  /** [offsets.commit.timeout.ms] in a cluster, how long a group write waits for every in-sync replica of its offsets partition. */
  offsetsCommitTimeoutMs: number;
  /** [group.consumer.session.timeout.ms] a KIP-848 consumer group member not heard from this long is removed. */
  consumerSessionTimeoutMs: number;
  /** [group.consumer.heartbeat.interval.ms] how often KIP-848 members are told to heartbeat. */
  consumerHeartbeatIntervalMs: number;
  /** [group.consumer.min.session.timeout.ms] shortest consumer.session.timeout.ms a group's own config may set. */
  consumerMinSessionTimeoutMs: number;
  /** [group.consumer.max.session.timeout.ms] longest consumer.session.timeout.ms a group's own config may set. */
  consumerMaxSessionTimeoutMs: number;
  /** [group.consumer.min.heartbeat.interval.ms] shortest consumer.heartbeat.interval.ms a group's own config may set. */
  consumerMinHeartbeatIntervalMs: number;
  /** [group.consumer.max.heartbeat.interval.ms] longest consumer.heartbeat.interval.ms a group's own config may set. */
  consumerMaxHeartbeatIntervalMs: number;
  /** [group.consumer.max.size] members one KIP-848 consumer group may have. */
  consumerMaxGroupSize: number;
  /** Topic names one KIP-848 member may subscribe to. */
  consumerMaxSubscribedTopics: number;
}

export interface BrokerConfig {
  /** Address the Kafka listener binds to. */
  host: string;
  kafkaPort: number;
  /** Port of the HTTP listener (Prometheus metrics at /metrics, the AMQP admin API at /api/) on `host`; 0 picks a free port, -1 turns it off. */
  httpPort: number;
  /** Port of the AMQP 0-9-1 listener on `host`; 0 picks a free port, -1 turns it off. */
  amqpPort: number;
  /** Host advertised to clients in Metadata; defaults to `host`. */
  advertisedHost: string;
  dataDir: string;
  /** This broker's node id; unique in a cluster (registration in etcd refuses a second holder). */
  nodeId: number;
  clusterId: string;
  /** Kafka port advertised to clients and peers; 0 means the Kafka listener's own port. */
  advertisedKafkaPort: number;
  /** Rack (or zone) of this broker, for placing replicas apart; empty means none. */
  rack: string;
  /** etcd client URLs, comma-separated (`http://10.0.0.1:2379,http://10.0.0.2:2379`); empty runs a single broker without etcd. */
  etcdEndpoints: string;
  /** TTL of the lease this broker registers under: how long after it stops renewing (crash, cut off) it counts as gone. */
  etcdLeaseTtlSeconds: number;
  /** Deadline of each request to etcd (watches and lease renewals excepted). */
  etcdRequestTimeoutMs: number;
  /** [replica.lag.time.max.ms] an in-sync follower that has not caught up with its leader for this long leaves the ISR. */
  replicaLagTimeMaxMs: number;
  /** [flush] always: fsync (group commit) before acks=1/all are answered; interval: every flushIntervalMs; never: leave it to the OS. */
  flush: FlushPolicy;
  flushIntervalMs: number;
  /** Under flush=always, make appends durable through one journal shared by all partitions (storage/journal.ts) rather than an fsync per partition. */
  journal: boolean;
  journalFileBytes: number;
  journalMaxBytes: number;
  /** Bytes durable in the journal and not yet written to segment files, over all partitions (storage/write-behind.ts). */
  journalUnwrittenMaxBytes: number;
  /** How long a partition's batches may stay durable in the journal only, before they are written to its segment files (storage/write-behind.ts). */
  journalWriteBehindMaxAgeMs: number;
  autoCreateTopics: boolean;
  /** How often retention and segment age are checked. */
  retentionCheckIntervalMs: number;
  /** [log.cleaner.enable] whether the log cleaner compacts topics whose cleanup.policy includes compact. */
  logCleanerEnable: boolean;
  /** [log.cleaner.backoff.ms] how long the log cleaner sleeps when no log needs cleaning. */
  logCleanerBackoffMs: number;
  /** [log.cleaner.dedupe.buffer.size] memory of the log cleaner's key map (24 bytes per key); a pass cleans as many segments as fit. */
  logCleanerDedupeBufferBytes: number;
  /** [producer.id.expiration.ms] a partition forgets an idempotent producer after this long without an append from it. */
  producerIdExpirationMs: number;
  /** [producer.id.expiration.check.interval.ms] how often expired producer ids are removed. */
  producerIdExpirationCheckIntervalMs: number;
  /** How often partitions whose producer state or log changed write a producer state snapshot. */
  producerStateSnapshotIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Free-space reserve of the data directory's file system: while less is free, Produce is refused
   * (KAFKA_STORAGE_ERROR, retriable) so that what must still be written (offset commits, indexes,
   * checkpoints) has room; 0 turns the check off.
   */
  minFreeDiskBytes: number;
  /** How often free disk space is measured (statfs), besides right after a failed write. */
  diskCheckIntervalMs: number;
  /** Lines one log message (the same text, whatever its fields) may write per logSuppressionWindowMs; the rest are counted and reported in one line. */
  logLinesPerMessage: number;
  /** The window of logLinesPerMessage. */
  logSuppressionWindowMs: number;
  /** Zeros kept allocated ahead of the cluster metadata journal's records, so topics can still be deleted (freeing space) on a full disk. */
  metadataJournalReserveBytes: number;
  /** The metadata journal is compacted into a new snapshot once it is larger than this and than the last snapshot. */
  metadataCompactionMinBytes: number;
  /** Partition logs opened (recovered) at once at start-up, in the background while the listener answers. */
  partitionOpenConcurrency: number;
  /** Partition logs flushed and closed at once at shutdown. */
  partitionCloseConcurrency: number;
  topicDefaults: TopicDefaults;
  limits: ConnectionLimits;
  groups: GroupSettings;
  amqp: AmqpSettings;
}

export const defaultBrokerConfig: BrokerConfig = {
  host: '127.0.0.1',
  kafkaPort: 9092,
  httpPort: 8080,
  amqpPort: 5672,
  advertisedHost: '',
  dataDir: './data',
  nodeId: 0,
  clusterId: '',
  advertisedKafkaPort: 0,
  rack: '',
  etcdEndpoints: '',
  etcdLeaseTtlSeconds: 10,
  etcdRequestTimeoutMs: 5000,
  replicaLagTimeMaxMs: 30_000,
  flush: 'always',
  flushIntervalMs: 1000,
  journal: true,
  journalFileBytes: 64 * 1024 * 1024,
  journalMaxBytes: 1024 * 1024 * 1024,
  journalUnwrittenMaxBytes: 32 * 1024 * 1024,
  journalWriteBehindMaxAgeMs: 5000,
  autoCreateTopics: true,
  retentionCheckIntervalMs: 60_000,
  logCleanerEnable: true,
  logCleanerBackoffMs: 15_000,
  logCleanerDedupeBufferBytes: 128 * 1024 * 1024,
  producerIdExpirationMs: 24 * 60 * 60 * 1000,
  producerIdExpirationCheckIntervalMs: 10 * 60 * 1000,
  producerStateSnapshotIntervalMs: 60_000,
  logLevel: 'info',
  minFreeDiskBytes: 64 * 1024 * 1024,
  diskCheckIntervalMs: 1000,
  logLinesPerMessage: 20,
  logSuppressionWindowMs: 10_000,
  metadataJournalReserveBytes: 64 * 1024,
  metadataCompactionMinBytes: 1024 * 1024,
  partitionOpenConcurrency: 32,
  partitionCloseConcurrency: 32,
  topicDefaults: {
    numPartitions: 1,
    segmentBytes: 1024 * 1024 * 1024,
    segmentMs: 7 * 24 * 60 * 60 * 1000,
    retentionMs: 7 * 24 * 60 * 60 * 1000,
    retentionBytes: -1,
    maxMessageBytes: 1024 * 1024 + 12,
    messageTimestampType: 'CreateTime',
    indexIntervalBytes: 4096,
    minInsyncReplicas: 1,
  },
  limits: {
    maxFrameBytes: 100 * 1024 * 1024,
    maxUnauthenticatedFrameBytes: 512 * 1024,
    maxInFlightRequests: 100,
    maxInFlightBytes: 128 * 1024 * 1024,
    maxQueuedRequestBytes: 512 * 1024 * 1024,
    maxConnections: 10_000,
    idleTimeoutMs: 10 * 60 * 1000,
    maxFetchWaitMs: 30_000,
    maxFetchResponseBytes: 55 * 1024 * 1024,
    maxRequestArrayElements: 200_000,
    maxDescribedPartitions: 2000,
    maxDescribedProducers: 100_000,
    maxPartitionsPerTopic: 10_000,
    maxProducerIdsPerPartition: 10_000,
    maxProducerIdsRemembered: 100_000,
    smallRequestBytes: 256 * 1024,
    smallRequestReserveBytes: 32 * 1024 * 1024,
    frameReceiveTimeoutMs: 30_000,
    maxConnectionsPerAddress: 1000,
    listenBacklog: 4096,
    shutdownDrainTimeoutMs: 5000,
    maxTopics: 10_000,
    maxPartitions: 20_000,
    maxOpenSegmentFiles: 4096,
    maxTailCacheBytes: 32 * 1024 * 1024,
    maxTailCacheBytesPerPartition: 1024 * 1024,
    maxPooledReadBytes: 16 * 1024 * 1024,
    maxSegmentIndexBytes: 64 * 1024 * 1024,
    maxDecompressedBytes: 64 * 1024 * 1024,
    maxQueuedResponseBytes: 64 * 1024 * 1024,
  },
  groups: {
    minSessionTimeoutMs: 6000,
    maxSessionTimeoutMs: 1_800_000,
    initialRebalanceDelayMs: 3000,
    maxGroupSize: 1000,
    maxGroups: 10_000,
    maxGroupIdBytes: 255,
    maxProtocolsPerMember: 32,
    maxMemberMetadataBytes: 256 * 1024,
    maxMetadataBytes: 4096,
    offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
    offsetsRetentionCheckIntervalMs: 600_000,
    offsetsLogSegmentBytes: 16 * 1024 * 1024,
    offsetsLogCleanupBytes: 64 * 1024 * 1024,
    offsetsCommitTimeoutMs: 5000,
    consumerSessionTimeoutMs: 45_000,
    consumerHeartbeatIntervalMs: 5000,
    consumerMinSessionTimeoutMs: 45_000,
    consumerMaxSessionTimeoutMs: 60_000,
    consumerMinHeartbeatIntervalMs: 5000,
    consumerMaxHeartbeatIntervalMs: 15_000,
    consumerMaxGroupSize: 1000,
    consumerMaxSubscribedTopics: 1000,
  },
  amqp: {
    enabled: true,
    frameMaxBytes: 131_072,
    channelMax: 2047,
    heartbeatSeconds: 60,
    handshakeTimeoutMs: 10_000,
    maxUnackedMessagesPerConnection: 10_000,
    maxBufferedBytesPerConnection: 16 * 1024 * 1024,
    maxContentBytes: 128 * 1024 * 1024,
    connectionMax: 10_000,
    queueSegmentBytes: 64 * 1024 * 1024,
    maxReadyBytesInMemoryPerQueue: 8 * 1024 * 1024,
    topicConfirmTimeoutMs: 30_000,
    maxQueues: 10_000,
    maxExchanges: 10_000,
    maxBindings: 100_000,
    maxDelayedMessages: 1_000_000,
  },
};
