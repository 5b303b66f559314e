/**
 * The table of settings: every key of BrokerConfig with its value type, description, Kafka name and
 * flag aliases, and the names derived from it by one rule (loader.ts draws the rule). The sources
 * (flag-source.ts, environment-source.ts, yaml-source.ts) read values by these names; help-text.ts
 * renders the table as `osprey broker --help` and as docs/configuration.md.
 *
 * Mapped types make the compiler insist on an entry for every key of BrokerConfig, so a new setting
 * cannot be added without a flag, an env var and a description. Names that collide, or look so alike
 * that a suggestion could not tell them apart, are refused when the module loads.
 */
import { defaultBrokerConfig } from './broker-config.js';
import type { AmqpSettings, BrokerConfig, ConnectionLimits, GroupSettings, TopicDefaults } from './broker-config.js';
import { boolean, bytes, count, etcdEndpointList, identifier, integer, maxInt32, maxTimerMs, milliseconds, oneOf, optionalHost, host, path, rackName } from './value-types.js';
import type { ValueType } from './value-types.js';

interface Setting<T> {
  readonly type: ValueType<T>;
  readonly description: string;
  /** Extra flag names, for settings users reach for often. */
  readonly aliases?: readonly string[];
  /** Kafka's name for the same setting (topic config, or broker config for top-level keys). */
  readonly kafkaName?: string;
}

type Settings<Shape> = { readonly [Key in keyof Shape]-?: Setting<Shape[Key]> };

/** Keys of BrokerConfig that are YAML mappings of their own. */
export const sectionNames = ['topicDefaults', 'limits', 'groups', 'amqp'] as const;
export type SectionName = (typeof sectionNames)[number];

const topLevelSettings: Settings<Omit<BrokerConfig, SectionName>> = {
  host: { type: host, description: 'Address the Kafka listener binds to. There is no authentication yet: bind wider than loopback only on a trusted network.' },
  kafkaPort: { type: integer(0, 65535, 'PORT'), description: 'Port of the Kafka listener; 0 picks a free port (the one chosen is logged).' },
  httpPort: { type: integer(-1, 65535, 'PORT'), description: 'Port of the HTTP listener on host (Prometheus metrics at /metrics, the AMQP admin API at /api/, docs/admin-api.md); 0 picks a free port (the one chosen is logged), -1 turns it off.' },
  amqpPort: { type: integer(-1, 65535, 'PORT'), description: 'Port of the AMQP 0-9-1 listener on host; 0 picks a free port (the one chosen is logged), -1 turns it off (as amqp.enabled false does).' },
  advertisedHost: { type: optionalHost, description: 'Host given to clients in Metadata responses, and to other brokers through etcd; empty means the same as host.' },
  dataDir: { type: path, description: 'Directory of the partition logs; created if missing. A relative path is resolved against the working directory.', kafkaName: 'log.dirs' },
  nodeId: { type: integer(0, maxInt32, 'ID'), description: "This broker's node id; in a cluster (etcdEndpoints) every broker needs one of its own.", kafkaName: 'node.id' },
  clusterId: { type: identifier, description: 'Cluster id reported to clients; empty lets the broker choose.' },
  advertisedKafkaPort: { type: integer(0, 65535, 'PORT'), description: 'Kafka port given to clients in Metadata and to other brokers through etcd; 0 means the port the Kafka listener bound.' },
  rack: { type: rackName, description: 'Rack (or availability zone) of this broker, registered in etcd for placing replicas apart; empty means none.', kafkaName: 'broker.rack' },
  etcdEndpoints: {
    type: etcdEndpointList,
    description:
      'etcd client URLs (comma-separated) of the cluster this broker joins: it registers under a lease and takes part in the controller election (docs/cluster.md). Needs --node-id. Empty (the default): a single broker, no etcd.',
  },
  etcdLeaseTtlSeconds: {
    type: integer(2, 3600, 'SECONDS'),
    description: "TTL of the etcd lease this broker registers under: once it stops renewing (crash, cut off from etcd) it counts as gone this long after, and its controllership with it. etcd raises a TTL below its own minimum (about 2 s by default).",
  },
  etcdRequestTimeoutMs: { type: milliseconds(100, maxTimerMs), description: 'Deadline of each request to etcd (watches and lease renewals excepted).' },
  replicaLagTimeMaxMs: {
    type: milliseconds(1, maxTimerMs),
    description: 'In a cluster: a follower in the ISR that has not caught up with its leader for this long (stalled, or too slow) is removed from the ISR by the leader, so it no longer holds acks=all back; it rejoins once caught up.',
    kafkaName: 'replica.lag.time.max.ms',
  },
  flush: { type: oneOf(['always', 'interval', 'never']), description: 'When appends are fsynced: always = before acks=1/all are answered (one fsync per event-loop turn); interval = every flushIntervalMs; never = left to the OS.' },
  flushIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'Time between fsyncs when flush is interval.', kafkaName: 'log.flush.interval.ms' },
  journal: {
    type: boolean,
    description:
      'Under flush always, every partition hands the batches of a flush cycle to one journal (data-dir/journal/) that makes them durable with one fdatasync for all partitions; the segment files are fsynced later (on roll, on flush, and when the journal reclaims space), and replayed from the journal after a crash. false: each partition fsyncs its own segment file every cycle.',
  },
  journalFileBytes: { type: bytes(1024 * 1024, maxInt32), description: 'Size at which a journal file is closed and the next one begun.' },
  journalMaxBytes: {
    type: bytes(1024 * 1024),
    description: 'Bytes all journal files may hold before the oldest is reclaimed: the partitions with batches in it fsync their segments, then it is reused for a later file or deleted. Larger means fewer segment fsyncs and a longer replay after a crash.',
  },
  journalUnwrittenMaxBytes: {
    type: bytes(1024 * 1024, maxInt32),
    description:
      'Bytes of batches, over all partitions, that may be durable in the journal before they are written to their segment files (they wait in memory, where reads find them); past it the partitions holding them longest write them out. A partition also writes its batches out once it holds 256 KiB of them and after journalWriteBehindMaxAgeMs.',
  },
  journalWriteBehindMaxAgeMs: {
    type: milliseconds(10, maxTimerMs),
    description:
      'How long a partition\'s batches may be durable in the journal only before they are written to its segment files. Shorter means less to replay after a crash; longer means fewer, larger writes when many partitions each take a few batches a second (every write-out of a partition is a write to its own file, which it may have to reopen).',
  },
  autoCreateTopics: { type: boolean, description: 'Create a topic, with the topic defaults, when a client produces to or asks for one that does not exist.', kafkaName: 'auto.create.topics.enable' },
  retentionCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often retention and segment age are checked.', kafkaName: 'log.retention.check.interval.ms' },
  logCleanerEnable: { type: boolean, description: 'Run the log cleaner, which compacts topics whose cleanup.policy includes compact (keeping the latest record of each key).', kafkaName: 'log.cleaner.enable' },
  logCleanerBackoffMs: { type: milliseconds(1, maxTimerMs), description: 'How long the log cleaner sleeps between looks for logs to clean when none needs it.', kafkaName: 'log.cleaner.backoff.ms' },
  logCleanerDedupeBufferBytes: {
    type: bytes(1024, 2 * 1024 * 1024 * 1024),
    description: "Memory of the log cleaner's key map, 24 bytes per key (a 16-byte digest and an offset), allocated per pass up to what the log needs; a pass cleans as many segments as fit.",
    kafkaName: 'log.cleaner.dedupe.buffer.size',
  },
  producerIdExpirationMs: { type: milliseconds(1), description: 'A partition forgets an idempotent producer after this long without an append from it; a retry after that may be written twice.', kafkaName: 'producer.id.expiration.ms' },
  producerIdExpirationCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often expired producer ids are removed.', kafkaName: 'producer.id.expiration.check.interval.ms' },
  producerStateSnapshotIntervalMs: { type: milliseconds(1, maxTimerMs), description: "How often partitions whose producer state or log changed write a producer state snapshot; after a crash, the log written since a partition's last snapshot is read again on start." },
  logLevel: { type: oneOf(['debug', 'info', 'warn', 'error']), description: 'Lowest level of the log lines written to stderr.' },
  minFreeDiskBytes: {
    type: bytes(0),
    description:
      "Free-space reserve of the data directory's file system, like RabbitMQ's disk alarm: while less is free, Produce is refused with KAFKA_STORAGE_ERROR (retriable; clients retry) so that offset commits, indexes and checkpoints still have room. A WARN line when the alarm is raised, an INFO line when it clears; gauge osprey_disk_alarm. 0 turns the check off.",
  },
  diskCheckIntervalMs: { type: milliseconds(10, maxTimerMs), description: 'How often free disk space is measured for minFreeDiskBytes (one statfs call), besides right after a failed write.' },
  logLinesPerMessage: { type: count(1), description: 'Lines one log message (the same text, whatever its fields) may write per logSuppressionWindowMs; further ones are counted and reported in one "similar lines suppressed" line.' },
  logSuppressionWindowMs: { type: milliseconds(1, maxTimerMs), description: 'The window of logLinesPerMessage.' },
  metadataJournalReserveBytes: {
    type: bytes(4096, 1024 * 1024 * 1024),
    description: 'Zeros kept allocated ahead of the records of the cluster metadata journal (<dataDir>/meta), so that topics can still be deleted, freeing space, when the disk is full; creating a topic needs the whole reserve free. About 100 bytes per deletion.',
  },
  metadataCompactionMinBytes: { type: bytes(1024), description: 'The cluster metadata journal is compacted into a new snapshot once it holds more than this many bytes of changes and more than the last snapshot.' },
  partitionOpenConcurrency: {
    type: count(1, 100_000),
    description: 'Partition logs opened (recovered) at once at start-up. The Kafka listener answers meanwhile; a partition still being recovered answers NOT_LEADER_OR_FOLLOWER, which clients retry.',
  },
  partitionCloseConcurrency: { type: count(1, 100_000), description: 'Partition logs flushed and closed at once at shutdown.' },
};

const topicDefaultSettings: Settings<TopicDefaults> = {
  numPartitions: { type: count(1, maxInt32), description: 'Partitions of an auto-created topic, or of CreateTopics asking for -1.', aliases: ['--num-partitions'], kafkaName: 'num.partitions' },
  segmentBytes: { type: bytes(14, maxInt32), description: 'Roll the active segment when it reaches this size.', kafkaName: 'segment.bytes' },
  segmentMs: { type: milliseconds(1), description: 'Roll the active segment when its first batch is this old.', kafkaName: 'segment.ms' },
  retentionMs: { type: milliseconds(-1), description: 'Delete segments whose newest record is older than this; -1 keeps them forever.', kafkaName: 'retention.ms' },
  retentionBytes: { type: bytes(-1), description: 'Delete the oldest segments while a partition is larger than this; -1 is unlimited.', kafkaName: 'retention.bytes' },
  maxMessageBytes: { type: bytes(0, maxInt32), description: 'Largest record batch accepted.', kafkaName: 'max.message.bytes' },
  messageTimestampType: { type: oneOf(['CreateTime', 'LogAppendTime']), description: "Which timestamp records keep: the producer's (CreateTime) or the broker's at append (LogAppendTime).", kafkaName: 'message.timestamp.type' },
  indexIntervalBytes: { type: bytes(0, maxInt32), description: 'Bytes of log between two offset-index entries.', kafkaName: 'index.interval.bytes' },
  minInsyncReplicas: {
    type: count(1, maxInt32),
    description:
      'In-sync replicas a partition needs for a produce with acks=all: with fewer in the ISR it is refused with NOT_ENOUGH_REPLICAS before anything is appended (NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it waited). As in Kafka, a partition with fewer replicas needs only as many as it has, so a single broker is never refused. acks=0/1 are not affected.',
    aliases: ['--min-insync-replicas'],
    kafkaName: 'min.insync.replicas',
  },
};

const limitSettings: Settings<ConnectionLimits> = {
  maxFrameBytes: { type: bytes(8, maxInt32), description: 'Largest request frame accepted once a connection is past authentication.', kafkaName: 'socket.request.max.bytes' },
  maxUnauthenticatedFrameBytes: {
    type: bytes(8, maxInt32),
    description: 'Largest request frame accepted from a connection until it has sent one well-formed request, as Kafka\'s sasl.server.max.receive.size before authentication. There is no SASL yet, so it applies to every new connection; a larger frame closes it.',
  },
  maxInFlightRequests: { type: count(1), description: 'Requests read but not yet answered, per connection; beyond it no further frame is handled or read until one is answered.' },
  maxInFlightBytes: { type: bytes(1), description: 'A connection\'s share of the request memory: bytes received and not yet answered, the frame being read included; reading pauses beyond it.' },
  maxQueuedRequestBytes: {
    type: bytes(1),
    description: 'Bytes of requests all connections together may hold, counted as they arrive (not when a size prefix announces them) and released when answered; a connection waits to read while they are spent. A single frame larger than this is read only when no other request is held.',
    kafkaName: 'queued.max.request.bytes',
  },
  maxConnections: { type: count(1), description: 'Open connections per broker; further ones are closed at once.', kafkaName: 'max.connections' },
  idleTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'A connection that sends nothing for this long is closed.', kafkaName: 'connections.max.idle.ms' },
  maxFetchWaitMs: { type: milliseconds(0, maxTimerMs), description: 'Longest a Fetch may wait for data, whatever the client asks.' },
  maxFetchResponseBytes: { type: bytes(1, maxInt32), description: 'Largest Fetch response, whatever the client asks.' },
  maxRequestArrayElements: { type: count(1), description: 'Array elements (topics, partitions, members...) one request may hold; a request with more closes its connection.' },
  maxDescribedPartitions: {
    type: count(1, maxInt32),
    description: 'Partitions one DescribeTopicPartitions response lists at most, whatever its responsePartitionLimit asks; the rest is left to the next page (nextCursor).',
    kafkaName: 'max.request.partition.size.limit',
  },
  maxDescribedProducers: {
    type: count(1, maxInt32),
    description: 'Active producers one DescribeProducers response lists at most, all partitions together (about 40 bytes each); partitions past it are answered POLICY_VIOLATION, so that a request naming a partition many times cannot build an unbounded response.',
  },
  maxPartitionsPerTopic: { type: count(1, maxInt32), description: 'Largest partition count of one topic.' },
  maxProducerIdsPerPartition: { type: count(1, maxInt32), description: 'Idempotent producer ids tracked per partition (about 0.5 KB each); beyond it the least recently active producer is forgotten, and its retries are no longer recognised.' },
  maxProducerIdsRemembered: { type: count(1, maxInt32), description: 'Producer ids whose current epoch InitProducerId remembers, so that a producer can bump its epoch (KIP-360); a forgotten one gets a new id instead.' },
  smallRequestBytes: { type: bytes(1, maxInt32), description: 'A frame up to this size counts as a small request (Metadata, heartbeats, ApiVersions, offset commits) and may use the small-request reserve of the request memory.' },
  smallRequestReserveBytes: { type: bytes(0), description: 'The top of limits.maxQueuedRequestBytes that only small requests may use: connections reading larger frames pause below it, so large requests never starve small ones.' },
  frameReceiveTimeoutMs: {
    type: milliseconds(1, maxTimerMs),
    description: 'A request frame must arrive whole within this long of its first byte, or the connection is closed and its memory freed (a client trickling a frame cannot hold memory). Time the broker itself holds off reading does not count.',
  },
  maxConnectionsPerAddress: { type: count(1), description: 'Open connections from one client IP address; further ones are closed at once.', kafkaName: 'max.connections.per.ip' },
  listenBacklog: { type: count(1, maxInt32), description: 'Connections the kernel queues for the Kafka listener before they are accepted (the kernel caps it at net.core.somaxconn). Too small a backlog makes a burst of connections wait for SYN retries.' },
  shutdownDrainTimeoutMs: { type: milliseconds(0, maxTimerMs), description: 'On shutdown, how long connections get for the requests they already sent to be answered (waiting fetches answer at once) before they are closed.' },
  maxTopics: { type: count(1, maxInt32), description: 'Topics this broker holds; CreateTopics and auto-creation beyond it are refused with POLICY_VIOLATION.' },
  maxPartitions: { type: count(1, maxInt32), description: 'Partitions this broker holds, all topics together; CreateTopics, CreatePartitions and auto-creation beyond it are refused with POLICY_VIOLATION.' },
  maxOpenSegmentFiles: {
    type: count(1, maxInt32),
    description: 'Segment files open at once, all partitions together; beyond it the least recently used idle files are closed and reopened when next read or written. Files in use or holding writes not yet fsynced stay open, so the count can pass it briefly.',
  },
  maxTailCacheBytes: { type: bytes(0), description: 'Bytes of recently appended batches all partitions keep in memory together for tail readers; beyond it the partitions written least recently drop their oldest cached batches (reads then go to the segment files).' },
  maxTailCacheBytesPerPartition: { type: bytes(0, maxInt32), description: 'Bytes of recently appended batches one partition keeps in memory for tail readers.' },
  maxPooledReadBytes: {
    type: bytes(0, maxInt32),
    description:
      'Bytes of buffers that fetches read segment files into, kept once a response is written so that the next fetches read into them instead of allocating (a backlog read then costs no garbage collection). Buffers come in power-of-two sizes from 64 KiB; a read larger than this gets a buffer of its own.',
  },
  maxSegmentIndexBytes: {
    type: bytes(0),
    description:
      "Bytes of sealed segments' offset and time indexes kept in memory, all partitions together (about 20 bytes per index.interval.bytes of log); beyond it the indexes looked up least recently are dropped and read back from their files by the next lookup that needs them. Active segments' indexes always stay in memory.",
  },
  maxDecompressedBytes: {
    type: bytes(1, maxInt32),
    description: 'Largest size a compressed batch may declare it decompresses to: Produce refuses a larger one with MESSAGE_TOO_LARGE (from its headers; records are not inflated). Timestamp lookups (ListOffsets) inflate no more than this.',
  },
  maxQueuedResponseBytes: {
    type: bytes(1),
    description:
      "A connection's queued output: responses encoded but not yet written to its socket, plus the socket's write buffer. A request starts only while it is under this, and a Fetch only while no other Fetch of the connection runs; later requests wait in arrival order, unread, until output is written. So a client that does not read holds at most this plus the responses of requests already started (one Fetch among them); gauge osprey_response_queue_bytes.",
  },
};

const groupSettings: Settings<GroupSettings> = {
  minSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'Shortest session timeout a group member may ask for; shorter joins get INVALID_SESSION_TIMEOUT.', kafkaName: 'group.min.session.timeout.ms' },
  maxSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'Longest session timeout a group member may ask for; longer joins get INVALID_SESSION_TIMEOUT.', kafkaName: 'group.max.session.timeout.ms' },
  initialRebalanceDelayMs: { type: milliseconds(0, maxTimerMs), description: 'How long the first rebalance of an empty group waits for more members to join (extended while members keep joining, up to the rebalance timeout).', kafkaName: 'group.initial.rebalance.delay.ms' },
  maxGroupSize: { type: count(1, maxInt32), description: 'Members (joined, or told to rejoin with their new member id) one classic group may have; more get GROUP_MAX_SIZE_REACHED.', kafkaName: 'group.max.size' },
  maxGroups: { type: count(1, maxInt32), description: 'Consumer groups this broker keeps; a new group beyond it is refused with COORDINATOR_NOT_AVAILABLE.' },
  maxGroupIdBytes: { type: bytes(1, 32_767), description: 'Longest group id, in UTF-8 bytes; longer ones get INVALID_GROUP_ID.' },
  maxProtocolsPerMember: { type: count(1, 10_000), description: 'Protocols (assignors) one JoinGroup may list; more get INCONSISTENT_GROUP_PROTOCOL.' },
  maxMemberMetadataBytes: { type: bytes(0, maxInt32), description: 'Bytes of protocol metadata (subscriptions) one JoinGroup may carry, all its protocols together; more get INCONSISTENT_GROUP_PROTOCOL.' },
  maxMetadataBytes: { type: bytes(0, 32_767), description: 'Longest metadata string of a committed offset; longer ones get OFFSET_METADATA_TOO_LARGE.', kafkaName: 'offset.metadata.max.bytes' },
  offsetsRetentionMs: { type: milliseconds(1), description: "Committed offsets of an empty group are deleted once the group has been empty this long and the offset is this old (Kafka's offsets.retention.minutes, in ms)." },
  offsetsRetentionCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often expired committed offsets are looked for.', kafkaName: 'offsets.retention.check.interval.ms' },
  offsetsLogSegmentBytes: { type: bytes(1024, maxInt32), description: "Segment size of the group offsets log: a single broker's (<dataDir>/__internal/group-offsets), and in a cluster the segment.bytes __consumer_offsets is created with (a cleanup frees whole segments).", kafkaName: 'offsets.topic.segment.bytes' },
  offsetsLogCleanupBytes: { type: bytes(1024), description: "When a group offsets log grows past this size (a single broker's, or in a cluster a __consumer_offsets partition, on its leader), the live state (offsets and groups) is written anew and the segments before it are deleted; a cluster's followers follow the leader's log start." },
  offsetsCommitTimeoutMs: {
    type: milliseconds(1, maxTimerMs),
    description: 'In a cluster, how long an offset commit or group metadata write waits for every in-sync replica of its __consumer_offsets partition before it is answered COORDINATOR_NOT_AVAILABLE (the client retries).',
    kafkaName: 'offsets.commit.timeout.ms',
  },
  consumerSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'A member of a KIP-848 consumer group (ConsumerGroupHeartbeat) not heard from for this long is removed and its partitions reassigned.', kafkaName: 'group.consumer.session.timeout.ms' },
  consumerHeartbeatIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often members of KIP-848 consumer groups are told to heartbeat; they learn of new assignments at this pace. Keep it well below consumerSessionTimeoutMs.', kafkaName: 'group.consumer.heartbeat.interval.ms' },
  consumerMinSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: "Shortest consumer.session.timeout.ms a group's own config (IncrementalAlterConfigs on the group) may set; shorter is INVALID_CONFIG. Bounds group configs only, not consumerSessionTimeoutMs.", kafkaName: 'group.consumer.min.session.timeout.ms' },
  consumerMaxSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: "Longest consumer.session.timeout.ms a group's own config may set; longer is INVALID_CONFIG.", kafkaName: 'group.consumer.max.session.timeout.ms' },
  consumerMinHeartbeatIntervalMs: { type: milliseconds(1, maxTimerMs), description: "Shortest consumer.heartbeat.interval.ms a group's own config may set; shorter is INVALID_CONFIG. Bounds group configs only, not consumerHeartbeatIntervalMs.", kafkaName: 'group.consumer.min.heartbeat.interval.ms' },
  consumerMaxHeartbeatIntervalMs: { type: milliseconds(1, maxTimerMs), description: "Longest consumer.heartbeat.interval.ms a group's own config may set; longer is INVALID_CONFIG.", kafkaName: 'group.consumer.max.heartbeat.interval.ms' },
  consumerMaxGroupSize: { type: count(1, maxInt32), description: 'Members one KIP-848 consumer group may have; more get GROUP_MAX_SIZE_REACHED.', kafkaName: 'group.consumer.max.size' },
  consumerMaxSubscribedTopics: { type: count(1, 1_000_000), description: 'Topic names one KIP-848 consumer group member may subscribe to; a longer list gets INVALID_REQUEST.' },
};

const amqpSettings: Settings<AmqpSettings> = {
  enabled: { type: boolean, description: 'Whether the AMQP 0-9-1 listener runs (on amqpPort); false turns it off.' },
  frameMaxBytes: {
    type: bytes(4096, maxInt32),
    description: 'Largest frame, header and frame-end octet included, proposed in connection.tune; a client may ask for less (not under 4096) but not more. Larger bodies are split into frames of this size.',
  },
  channelMax: { type: count(1, 65_535), description: 'Highest channel number a client may open, proposed in connection.tune; a client may ask for less.' },
  heartbeatSeconds: {
    type: integer(0, 65_535, 'SECONDS'),
    description: 'Heartbeat interval proposed in connection.tune; the client decides (its tune-ok value wins, 0 turns heartbeats off). A connection from which nothing arrives for two intervals is closed.',
  },
  handshakeTimeoutMs: {
    type: milliseconds(1, maxTimerMs),
    description: 'A connection must get from its protocol header to connection.open-ok within this long, or it is closed; also how long a connection.close sent by the broker waits for close-ok.',
  },
  maxUnackedMessagesPerConnection: { type: count(1, maxInt32), description: 'Messages delivered and not yet acknowledged, all channels of a connection together; beyond it deliveries to the connection wait.' },
  maxBufferedBytesPerConnection: {
    type: bytes(4096),
    description:
      'Per connection: output not yet taken by the socket beyond which deliveries wait, and frames held behind a channel whose previous method is still being handled (a durable declare waiting for disk) beyond which the socket is not read.',
  },
  maxContentBytes: {
    type: bytes(0, maxInt32),
    description: "Largest message body basic.publish may carry (RabbitMQ's max_message_size); a larger declared body size closes the channel with 406 PRECONDITION_FAILED, before the body is read into memory.",
  },
  connectionMax: { type: count(1), description: "Open AMQP connections (RabbitMQ's connection_max); further ones are closed at once, before the handshake. Kafka connections count separately (limits.maxConnections)." },
  queueSegmentBytes: { type: bytes(4096, maxInt32), description: "Segment size of a durable queue's log (<dataDir>/amqp/queues/); segments wholly behind the oldest unsettled message are deleted, so smaller segments give space back sooner." },
  maxQueues: { type: count(1), description: 'Queues the broker keeps, all virtual hosts together; a declare past it is refused (406 PRECONDITION_FAILED). Each durable queue keeps its log files open.' },
  maxExchanges: { type: count(1), description: 'Declared exchanges the broker keeps (the predeclared amq.* ones do not count); a declare past it is refused (406).' },
  maxBindings: { type: count(1), description: 'Bindings the broker keeps, all exchanges together; a bind past it is refused (406).' },
  maxDelayedMessages: {
    type: count(1),
    description: 'Messages held by x-delayed-message exchanges until their x-delay has passed, all exchanges together (each costs a small entry in memory; bodies stay on disk); past it a delayed publish is refused: nacked to a confirming publisher, dropped otherwise.',
  },
  maxReadyBytesInMemoryPerQueue: { type: bytes(0, maxInt32), description: 'Bytes of ready messages a durable queue holds in memory ahead of its consumers; a longer backlog stays on disk and is read back as consumers reach it.' },
  topicConfirmTimeoutMs: {
    type: milliseconds(1, maxTimerMs),
    description:
      'In a cluster, how long the publisher confirm of a record appended to a topic partition with followers (a stream queue, an exchange bound to a topic) waits for every in-sync replica to hold it, as a Kafka acks=all produce does; past it the publish is nacked (the record may still be kept, as after a timed-out acks=all produce).',
  },
};

const sectionSettings: { readonly [Section in SectionName]: Settings<BrokerConfig[Section]> } = {
  topicDefaults: topicDefaultSettings,
  limits: limitSettings,
  groups: groupSettings,
  amqp: amqpSettings,
};

/** One setting with all its names, as listed in help and docs. */
export interface ConfigOption {
  /** Dotted path in BrokerConfig: `kafkaPort`, `topicDefaults.numPartitions`. */
  readonly key: string;
  /** The YAML mapping holding it, or null at the top level. */
  readonly section: SectionName | null;
  /** Its YAML key inside that mapping. */
  readonly name: string;
  readonly flag: string;
  readonly aliases: readonly string[];
  readonly env: string;
  readonly kafkaName: string | null;
  readonly placeholder: string;
  readonly expected: string;
  readonly isBoolean: boolean;
  /** A text setting, so a YAML number or boolean given for it wants quotes. */
  readonly isText: boolean;
  readonly description: string;
  readonly defaultValue: string | number | boolean;
  parseText(text: string): unknown;
  parseYaml(value: unknown): unknown;
}

const kebab = (camel: string): string => camel.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
const envWord = (camel: string): string => kebab(camel).replace(/-/g, '_').toUpperCase();

function makeOption(section: SectionName | null, name: string, setting: Setting<unknown>): ConfigOption {
  const names = section === null ? [name] : [section, name];
  const defaults: Record<string, unknown> = section === null ? { ...defaultBrokerConfig } : { ...defaultBrokerConfig[section] };
  const defaultValue = defaults[name];
  if (typeof defaultValue !== 'string' && typeof defaultValue !== 'number' && typeof defaultValue !== 'boolean') {
    throw new Error(`config table: ${names.join('.')} has no scalar default`);
  }
  return {
    key: names.join('.'),
    section,
    name,
    flag: `--${names.map(kebab).join('.')}`,
    aliases: setting.aliases ?? [],
    env: `OSPREY_${names.map(envWord).join('_')}`,
    kafkaName: setting.kafkaName ?? null,
    placeholder: setting.type.placeholder,
    expected: setting.type.expected,
    isBoolean: setting.type.kind === 'boolean',
    isText: setting.type.kind === 'text',
    description: setting.description,
    defaultValue,
    parseText: (value) => setting.type.parseText(value),
    parseYaml: (value) => setting.type.parseYaml(value),
  };
}

function buildOptions(): readonly ConfigOption[] {
  const options: ConfigOption[] = [];
  for (const [name, setting] of Object.entries<Setting<unknown>>(topLevelSettings)) options.push(makeOption(null, name, setting));
  for (const section of sectionNames) {
    for (const [name, setting] of Object.entries<Setting<unknown>>(sectionSettings[section])) options.push(makeOption(section, name, setting));
  }
  return options;
}

/** Every setting, in help order: top-level keys, then topicDefaults, limits, groups and amqp. */
export const configOptions: readonly ConfigOption[] = buildOptions();

/** The flag and variable naming the YAML file; not settings themselves. */
export const configFileFlag = '--config';
export const configFileEnv = 'OSPREY_CONFIG';

const flagOptions = new Map<string, ConfigOption>();
const environmentOptions = new Map<string, ConfigOption>();
const looseOptions = new Map<string, ConfigOption>();
/** Every flag name (aliases included) → its setting. */
export const optionByFlag: ReadonlyMap<string, ConfigOption> = flagOptions;
/** Every OSPREY_* variable → its setting. */
export const optionByEnv: ReadonlyMap<string, ConfigOption> = environmentOptions;
/** Lowercase letters and digits only, `log.` dropped: matches kafka_port, kafka-port, num.partitions … */
export const looseName = (name: string): string => name.toLowerCase().replace(/^(--|osprey_)/, '').replace(/^(log\.|topic_defaults_|limits_|groups_|amqp_)/, '').replace(/[^a-z0-9]/g, '');
/** Loose names (looseName) of every key and Kafka name → its setting: what suggestions look up. */
export const optionByLooseName: ReadonlyMap<string, ConfigOption> = looseOptions;

for (const option of configOptions) {
  for (const flag of [option.flag, ...option.aliases]) {
    if (flagOptions.has(flag) || flag === configFileFlag) throw new Error(`config table: flag ${flag} is used twice`);
    flagOptions.set(flag, option);
  }
  if (environmentOptions.has(option.env) || option.env === configFileEnv) throw new Error(`config table: ${option.env} is used twice`);
  environmentOptions.set(option.env, option);
  for (const name of [option.name, option.kafkaName]) {
    if (name === null) continue;
    const loose = looseName(name);
    const holder = looseOptions.get(loose);
    if (holder !== undefined && holder !== option) throw new Error(`config table: ${option.key} and ${holder.key} look alike`);
    looseOptions.set(loose, option);
  }
}
