/**
 * The broker's state: topics, their partitions and each partition's log, and the operations the
 * protocol handlers call (create, delete, alter, wait for data). It knows nothing of sockets or
 * wire formats beyond the record batch, which is also the storage format.
 */
import { queueTopicPrefix, type QueueTerms } from '../cluster/queue-partitions.js';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { LogEnvironment, LogOptions, WriteFailure } from '../storage/partition-log.js';
import { systemClock } from '../storage/partition-log.js';
import { DiskAlarm } from './disk-alarm.js';
import { logStartOffsetFileName, recoveryPointFileName, temporarySuffix } from '../storage/checkpoint.js';
import { logSuffix, offsetIndexSuffix, parseSegmentFileName, timeIndexSuffix } from '../storage/segment.js';
import { TailCacheBudget } from '../storage/batch-cache.js';
import { ReadBufferPool } from '../storage/read-buffers.js';
import { OpenSegmentFiles } from '../storage/open-segment-files.js';
import { SegmentIndexCache } from '../storage/segment-index-cache.js';
import { forEachConcurrently } from './bounded-concurrency.js';
import { Partition } from './partition.js';
import { PartitionHandle } from './partition-handle.js';
import type { PartitionStorageSettings } from './partition-handle.js';
import { waitWhileCleanerSwapIsHeld, waitWhileRecoveryIsHeld } from './test-hooks.js';
import { LogCleaner, type CleanablePartition } from './log-cleaner/log-cleaner.js';
import type { CleaningOutcome } from './log-cleaner/clean-partition.js';
import { cleanedSuffix, cleanerStateFileName, cleanerSwapFileName } from '../storage/cleaner-state.js';
import { leaderEpochFileName } from '../storage/leader-epoch-cache.js';
import { producerSnapshotFileName } from './idempotence/partition-producers.js';
import { fileProducerIdStorage, notJoinedBlockSource, ProducerIdManager } from './idempotence/producer-ids.js';
import { coordinatorOptions, openGroupCoordinator } from '../groups/coordinator.js';
import { groupLogDirectory } from '../groups/group-persistence.js';
import type { TopicDirectory } from '../groups/coordinator.js';
import type { GroupService } from '../groups/group-service.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import { PartitionedGroupCoordinator } from '../groups/partitioned-coordinator.js';
import { mapConcurrently } from './concurrency.js';
import { LocalMetadataStore } from './metadata-store.js';
import type { StoredTopic } from './metadata-store.js';
import { effectiveTopicConfig, topicConfigsProblem, validateTopicConfig } from './topic-config.js';
import type { EffectiveTopicConfig } from './topic-config.js';
import { DynamicBrokerConfigs, dynamicBrokerConfigProblem } from './broker-settings.js';
import type { BrokerConfigLevel } from './broker-settings.js';
import { effectiveGroupConfig, groupConfigsProblem } from './group-config.js';
import { asOffset } from './offset.js';
import { topicNameProblem } from './topic-name.js';
import { Journal } from '../storage/journal.js';
import type { ClusterView } from '../cluster/cluster-view.js';

export { Partition };

export interface Topic {
  readonly name: string;
  readonly id: Buffer;
  readonly partitions: Partition[];
  readonly configOverrides: Map<string, string>;
  effective: EffectiveTopicConfig;
}

export interface OperationResult {
  errorCode: number;
  errorMessage: string | null;
}

const ok: OperationResult = { errorCode: ErrorCode.none, errorMessage: null };

/** What the group coordinator sees of a partition whose log is not open yet. */
const offsetsNotKnownYet = { logStartOffset: asOffset(0), logEndOffset: asOffset(Number.MAX_SAFE_INTEGER), highWatermark: asOffset(Number.MAX_SAFE_INTEGER) };

function failure(errorCode: number, errorMessage: string): OperationResult {
  return { errorCode, errorMessage };
}

export function partitionDirectoryName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/**
 * Partition folders created at once while a topic or its new partitions are created: enough to
 * keep the disk busy, few enough that one large creation leaves the thread pool to other clients.
 */
const partitionCreationConcurrency = 16;
/** Topics one request creates at once (CreateTopics, auto-creation); their metadata records share fsyncs. */
export const topicCreationConcurrency = 32;

/** A partition whose log failed to open is tried again after 1 s, then twice as long each time, up to 30 s. */
const partitionOpenRetryFirstMs = 1000;
const partitionOpenRetryMaxMs = 30_000;

export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly topicsById = new Map<string, Topic>();
  /**
   * The tail of each topic name's queue of changes (create, delete, add partitions, alter config).
   * Changes to one name run one at a time, so a topic re-created while its deletion still removes
   * files never shares a folder with it, and partitions are never added to a topic being deleted.
   */
  private readonly topicChanges = new Map<string, Promise<unknown>>();
  /** Partitions of every topic held, kept current for the maxPartitions check. */
  private heldPartitionCount = 0;
  /** Topics and partitions being created, counted against maxTopics and maxPartitions until done. */
  private pendingTopicCount = 0;
  private pendingPartitionCount = 0;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Compacts topics whose cleanup.policy includes compact (log-cleaner/); null when log.cleaner.enable is false. */
  private logCleaner: LogCleaner | null = null;
  private readonly cleanableByPartition = new WeakMap<Partition, CleanablePartition>();
  private readonly producerStateTimers: NodeJS.Timeout[] = [];
  /** Timers of partitions waiting to try opening their log again (see retryOpenLater). */
  private readonly openRetryTimers = new Set<NodeJS.Timeout>();
  /** Set when shutdown begins, so waiting fetches answer at once. */
  closing = false;
  /**
   * Consumer groups and committed offsets; set by open(). A single broker's GroupCoordinator
   * (groups/coordinator.ts) over its own group log; in a cluster `groupPartitions`.
   */
  groups!: GroupService;
  /**
   * In a cluster: the coordinators of the `__consumer_offsets` partitions this broker leads
   * (groups/partitioned-coordinator.ts), told by cluster/group-partitions.ts. Null for a single broker.
   */
  groupPartitions: PartitionedGroupCoordinator | null = null;
  /** Counters and gauges served at the HTTP listener's /metrics. */
  readonly metrics = new Metrics();
  /** Free-space reserve: produce is refused while it is raised (disk-alarm.ts). */
  readonly diskAlarm: DiskAlarm;
  private readonly limitRefusals = this.metrics.counter('osprey_topic_limit_refusals_total', 'Topic or partition creations refused by maxTopics or maxPartitions (POLICY_VIOLATION), by limit.');
  private readonly metadataFailures = this.metrics.counter(
    'osprey_metadata_change_failures_total',
    'Topic creations, deletions and changes refused because the metadata or partition folders could not be written (KAFKA_STORAGE_ERROR), by operation.',
  );
  /** Caps shared by every partition log: open segment files, tail cache bytes. */
  readonly openSegmentFiles: OpenSegmentFiles;
  readonly tailCacheBudget: TailCacheBudget;
  /** Buffers fetches read segment files into, used again once the response is written (limits.maxPooledReadBytes). */
  readonly readBuffers: ReadBufferPool;
  readonly segmentIndexCache: SegmentIndexCache;
  /**
   * Start-up recovery of the partition logs, running in the background once open() returns (the
   * listener answers meanwhile). Topic changes wait for it; close() stops it and waits for it.
   */
  private recovery: Promise<void> = Promise.resolve();
  /** Dynamic broker configs (IncrementalAlterConfigs on the broker resource), kept in the cluster metadata. */
  readonly dynamicConfigs: DynamicBrokerConfigs;
  /** Configs of groups of their own (GROUP config resources), by group id, kept in the cluster metadata. */
  private readonly groupConfigMap = new Map<string, ReadonlyMap<string, string>>();
  /** The tail of the queue of broker and group config changes: they run one at a time. */
  private configChanges: Promise<unknown> = Promise.resolve();
  /** Advertised listener, known once the socket is bound. */
  advertisedHost: string;
  advertisedPort: number;
  /**
   * In a cluster (etcdEndpoints set) topics are created and deleted through etcd, this broker holds
   * every topic with the logs of the partitions it hosts, and leads only what etcd says
   * (cluster/replica-sync.ts). False for a single broker, which leads everything it holds.
   */
  readonly inCluster: boolean;
  /** What the handlers ask of the cluster (Metadata, CreateTopics, DeleteTopics); set once joined, null for a single broker. */
  cluster: ClusterView | null = null;

  private constructor(
    readonly config: BrokerConfig,
    readonly logger: Logger,
    private readonly metadata: LocalMetadataStore,
    /** InitProducerId: producer ids and epochs. */
    readonly producerIds: ProducerIdManager,
    /** The journal every partition log shares (storage/journal.ts). */
    readonly journal: Journal,
  ) {
    this.advertisedHost = config.advertisedHost || config.host;
    this.advertisedPort = config.kafkaPort;
    this.inCluster = config.etcdEndpoints !== '';
    this.dynamicConfigs = new DynamicBrokerConfigs(metadata.configs(brokerConfigResource('broker', config.nodeId)), metadata.configs(brokerConfigResource('clusterDefault', config.nodeId)));
    for (const resource of metadata.configResources(groupConfigPrefix)) this.groupConfigMap.set(resource.slice(groupConfigPrefix.length), metadata.configs(resource));
    this.metrics.gauge('osprey_topics', 'Topics this broker holds.', () => this.topics.size);
    this.metrics.gauge('osprey_partitions', 'Partitions this broker holds, all topics together.', () => {
      let partitions = 0;
      for (const topic of this.topics.values()) partitions += topic.partitions.length;
      return partitions;
    });
    this.diskAlarm = new DiskAlarm(
      {
        directory: config.dataDir,
        minFreeDiskBytes: config.minFreeDiskBytes,
        checkIntervalMs: config.diskCheckIntervalMs,
        bytesWrittenPerAppendedByte: journal.acceptsWrites && config.flush === 'always' ? 2 : 1,
      },
      logger,
    );
    this.registerDiskMetrics();
    this.registerStorageDamageMetrics();
    this.metrics.gauge('osprey_metadata_journal_bytes', 'Bytes of changes in the cluster metadata journal since its last compaction into the snapshot.', () => this.metadata.journalBytes);
    this.metrics.gauge('osprey_journal_bytes', 'Bytes in the journal files (journal: true): batches made durable by the journal whose partitions have not all fsynced their segments past them yet.', () => journal.sizeBytes);
    this.metrics.gauge('osprey_journal_files', 'Journal files on disk.', () => journal.fileCount);
    this.metrics.gauge('osprey_journal_unwritten_bytes', 'Bytes durable in the journal and not yet written to their segment files (held in memory; journalUnwrittenMaxBytes bounds them).', () => journal.writeBehind.byteCount);
    this.metrics.gauge('osprey_journal_commits', 'Journal commits (one writev and one fdatasync for every partition with appends in that turn) since start.', () => journal.commitCount);
    this.openSegmentFiles = new OpenSegmentFiles(config.limits.maxOpenSegmentFiles);
    this.tailCacheBudget = new TailCacheBudget(config.limits.maxTailCacheBytes);
    this.readBuffers = new ReadBufferPool(config.limits.maxPooledReadBytes);
    this.segmentIndexCache = new SegmentIndexCache(config.limits.maxSegmentIndexBytes);
    this.metrics.gauge('osprey_partitions_not_open', 'Partitions whose log is not open: still being recovered at start-up, or failed to open.', () => {
      let notOpen = 0;
      for (const topic of this.topics.values()) for (const partition of topic.partitions) if (!partition.isOpen) notOpen++;
      return notOpen;
    });
    this.metrics.gauge('osprey_open_segment_files', 'Segment files open now, all partitions together (limits.maxOpenSegmentFiles).', () => this.openSegmentFiles.openCount);
    this.metrics.gauge('osprey_segment_files_closed_for_cap', 'Idle segment files closed since start to stay within limits.maxOpenSegmentFiles.', () => this.openSegmentFiles.closedForCap);
    this.metrics.gauge('osprey_tail_cache_bytes', 'Bytes of recent batches held by the tail caches of all partitions (limits.maxTailCacheBytes).', () => this.tailCacheBudget.byteCount);
    this.metrics.gauge('osprey_tail_cache_evicted_batches', 'Cached batches dropped since start to stay within limits.maxTailCacheBytes.', () => this.tailCacheBudget.evictedBatches);
    this.metrics.gauge('osprey_read_buffers_free_bytes', 'Bytes of read buffers kept for the next fetches (limits.maxPooledReadBytes).', () => this.readBuffers.freeByteCount);
    this.metrics.gauge('osprey_segment_index_bytes', 'Bytes of sealed segments\' offset and time indexes in memory, all partitions together (limits.maxSegmentIndexBytes).', () => this.segmentIndexCache.byteCount);
    this.metrics.gauge('osprey_segment_indexes_dropped', 'Sealed segments whose indexes were dropped from memory since start to stay within limits.maxSegmentIndexBytes (read back from their files when next needed).', () => this.segmentIndexCache.droppedCount);
  }

  private registerDiskMetrics(): void {
    this.metrics.gauge('osprey_disk_free_bytes', "Free bytes of the data directory's file system at the last check.", () => this.diskAlarm.freeBytes ?? 0);
    this.metrics.gauge('osprey_disk_alarm', '1 while free disk space is under minFreeDiskBytes and produce is refused, else 0.', () => (this.diskAlarm.raised ? 1 : 0));
  }

  /** A partition log's write or fsync failed (it rolled back and logged it): count it, measure the disk now. */
  private logWriteFailed(failure: WriteFailure): void {
    this.metrics.counter('osprey_log_write_failures_total', 'Flush cycles of partition logs whose write or fsync failed (their appends were refused and cut away).').inc({ operation: failure.operation });
    this.diskAlarm.checkSoon();
  }

  /** Damaged ranges kept in partition logs (storage/segment-scan.ts): never served, waiting for an operator. */
  private registerStorageDamageMetrics(): void {
    this.metrics.gauge('osprey_partition_damaged_ranges', 'Damaged ranges of stored data found in a partition (kept on disk, not served); 0 for healthy partitions is not listed.', () =>
      this.damagedPartitions().map(({ partition, ranges }) => ({ labels: { topic: partition.topic.name, partition: partition.index }, value: ranges })),
    );
    this.metrics.gauge('osprey_damaged_partitions', 'Partitions holding damaged stored data (see osprey_partition_damaged_ranges and the error log).', () => this.damagedPartitions().length);
  }

  /** Partitions whose log holds damaged ranges, with how many. */
  damagedPartitions(): { partition: Partition; ranges: number }[] {
    const damaged: { partition: Partition; ranges: number }[] = [];
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (!partition.isOpen) continue;
        const ranges = partition.handle.damagedRangeCount;
        if (ranges > 0) damaged.push({ partition, ranges });
      }
    }
    return damaged;
  }

  static async open(config: BrokerConfig, logger: Logger): Promise<Broker> {
    await fs.mkdir(config.dataDir, { recursive: true });
    const metadata = await LocalMetadataStore.open(
      config.dataDir,
      config.clusterId,
      { journalReserveBytes: config.metadataJournalReserveBytes, compactionMinBytes: config.metadataCompactionMinBytes },
      logger,
    );
    // In a cluster, producer ids come from etcd once the broker has joined (cluster/join.ts).
    const producerIds =
      config.etcdEndpoints !== ''
        ? new ProducerIdManager(notJoinedBlockSource, config.limits.maxProducerIdsRemembered, logger)
        : await ProducerIdManager.open(fileProducerIdStorage(join(config.dataDir, 'meta')), config.limits.maxProducerIdsRemembered, logger);
    // Opened even when turned off, so that what an earlier run left in it is replayed (and then dropped).
    const journal = await Journal.open(config.dataDir, {
      acceptsWrites: config.journal,
      fileBytes: config.journalFileBytes,
      maxBytes: config.journalMaxBytes,
      unwrittenMaxBytes: config.journalUnwrittenMaxBytes,
      writeBehindMaxAgeMs: config.journalWriteBehindMaxAgeMs,
      logger,
    });
    const broker = new Broker(config, logger, metadata, producerIds, journal);
    await broker.diskAlarm.start();
    // In a cluster a broker holds folders only for the partitions it hosts: none is missing.
    if (!broker.inCluster) await broker.reportMissingPartitionDirectories();
    for (const [name, stored] of Object.entries(metadata.topics)) {
      const topic = broker.newTopic(name, Buffer.from(stored.id, 'hex'), new Map(Object.entries(stored.configs)));
      for (let index = 0; index < stored.partitionCount; index++) topic.partitions.push(broker.newPartition(topic, index));
      broker.registerTopic(topic);
    }
    await broker.removeOrphanPartitionDirectories();
    const topics: TopicDirectory = {
      partitionOffsets: (topic, index) => {
        const partition = broker.partition(topic, index);
        if (partition === undefined) return undefined;
        // A partition still being recovered exists; its offsets are not known yet.
        return partition.isOpen ? partition.handle : offsetsNotKnownYet;
      },
      topicMetadata: (name) => {
        const topic = broker.topic(name);
        return topic === undefined ? undefined : { id: topic.id, partitionCount: topic.partitions.length };
      },
      topicName: (id) => broker.topicById(id)?.name,
      topicNames: () => broker.topics.keys(),
    };
    const groupConfig = (groupId: string) => effectiveGroupConfig(broker.groupConfig(groupId), config.groups);
    if (broker.inCluster) {
      // Groups live in the replicated __consumer_offsets topic; the local group log is not used.
      broker.groupPartitions = new PartitionedGroupCoordinator(coordinatorOptions(config, topics, logger, groupConfig));
      const localGroupLog = groupLogDirectory(config.dataDir);
      if (existsSync(localGroupLog)) logger.warn('a single broker\'s group log is in the data dir; in a cluster groups live in __consumer_offsets and it is not read', { directory: localGroupLog });
      broker.groups = broker.groupPartitions;
    } else {
      broker.groups = await openGroupCoordinator(config, topics, logger, groupConfig);
    }
    broker.retentionTimer = setInterval(() => void broker.enforceRetention(), config.retentionCheckIntervalMs);
    broker.retentionTimer.unref();
    broker.startLogCleaner();
    broker.startProducerStateTimers();
    broker.recovery = broker.recoverPartitions();
    // In a cluster the cluster's id is settled once the broker joins (cluster/join.ts logs it); the local one is not it.
    logger.info('broker opened', broker.inCluster ? { dataDir: config.dataDir, topics: broker.topics.size } : { dataDir: config.dataDir, topics: broker.topics.size, clusterId: metadata.clusterId });
    return broker;
  }

  /**
   * Opens every partition log, `partitionOpenConcurrency` at a time (recovery reads only what lies
   * past each recovery point; the fsyncs of many partitions overlap). A partition that fails to
   * open is logged and answers KAFKA_STORAGE_ERROR; the others are served.
   */
  private async recoverPartitions(): Promise<void> {
    await waitWhileRecoveryIsHeld(() => this.closing, this.logger);
    const partitions: Partition[] = [];
    for (const topic of this.topics.values()) partitions.push(...topic.partitions);
    if (this.inCluster) {
      // Only the partitions hosted here have a folder; etcd (replica-sync.ts) says which others to create.
      const present = new Set(await fs.readdir(this.config.dataDir));
      partitions.splice(0, partitions.length, ...partitions.filter((partition) => present.has(partitionDirectoryName(partition.topic.name, partition.index))));
    }
    const startedMs = Date.now();
    await forEachConcurrently(partitions, this.config.partitionOpenConcurrency, (partition) => this.openPartition(partition), () => this.closing);
    const opened = partitions.filter((partition) => partition.isOpen).length;
    const failed = partitions.filter((partition) => partition.state === 'failed').length;
    // Batches the journal holds for logs that failed to open stay for their next attempt.
    if (opened + failed === partitions.length) {
      this.journal.release(partitions.filter((partition) => partition.state === 'failed').map((partition) => this.partitionDirectory(partition)));
    }
    const fields = { partitions: partitions.length, opened, failed, durationMs: Date.now() - startedMs };
    if (opened + failed < partitions.length) this.logger.info('partition recovery stopped by shutdown', fields);
    else this.logger.info('partitions recovered', fields);
  }

  /** In a cluster, the cluster's (from etcd, once joined); else the one of this broker's metadata. */
  get clusterId(): string {
    return this.cluster?.clusterId ?? this.metadata.clusterId;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  topic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

  /**
   * Internal topics, in a cluster: `__consumer_offsets`, where the group coordinators keep group
   * state (groups/offsets-topic.ts), and `__amqp_queue-…`, each a durable AMQP queue's log
   * (cluster/queue-partitions.ts). Metadata marks them internal; clients may not produce to them.
   */
  isInternalTopic(name: string): boolean {
    return this.inCluster && (name === offsetsTopicName || name.startsWith(queueTopicPrefix));
  }

  /** In a cluster with AMQP: the durable queues kept in replicated topics, told of their partitions' leadership (cluster/join.ts). */
  queueTerms: QueueTerms | null = null;

  topicById(id: Buffer): Topic | undefined {
    return this.topicsById.get(id.toString('hex'));
  }

  allTopics(): Topic[] {
    return [...this.topics.values()];
  }

  partition(topicName: string, index: number): Partition | undefined {
    return this.topics.get(topicName)?.partitions[index];
  }

  logOptions(effective: EffectiveTopicConfig): LogOptions {
    return {
      segmentBytes: effective.segmentBytes,
      // A compacted topic's active segment is never cleaned: it rolls by max.compaction.lag.ms too, as in Kafka.
      segmentMs: effective.cleanupPolicy.compact ? Math.min(effective.segmentMs, effective.maxCompactionLagMs) : effective.segmentMs,
      // cleanup.policy=compact alone keeps every key's latest record however old: no retention.
      retentionMs: effective.cleanupPolicy.delete ? effective.retentionMs : -1,
      retentionBytes: effective.cleanupPolicy.delete ? effective.retentionBytes : -1,
      indexIntervalBytes: effective.indexIntervalBytes,
      flush: this.config.flush,
      flushIntervalMs: this.config.flushIntervalMs,
    };
  }

  /** A partition as this broker holds it: led here on a single broker, in a cluster only once etcd says so. */
  private newPartition(topic: Topic, index: number): Partition {
    const partition = new Partition(topic, index);
    partition.ledHere = !this.inCluster;
    return partition;
  }

  private newTopic(name: string, id: Buffer, overrides: Map<string, string>): Topic {
    return { name, id, partitions: [], configOverrides: overrides, effective: this.effectiveOf(overrides) };
  }

  /** A topic's effective settings: its overrides, else the dynamic broker configs, else the config file. */
  private effectiveOf(overrides: ReadonlyMap<string, string>): EffectiveTopicConfig {
    return effectiveTopicConfig(overrides, this.config.topicDefaults, this.dynamicConfigs.topicValues());
  }

  /** Recomputes a topic's effective settings and hands the log options to its open partitions. */
  private applyEffective(topic: Topic): void {
    topic.effective = this.effectiveOf(topic.configOverrides);
    const options = this.logOptions(topic.effective);
    for (const partition of topic.partitions) if (partition.isOpen) partition.handle.updateOptions(options);
  }

  private registerTopic(topic: Topic): void {
    this.topics.set(topic.name, topic);
    this.topicsById.set(topic.id.toString('hex'), topic);
    this.heldPartitionCount += topic.partitions.length;
  }

  private unregisterTopic(topic: Topic): void {
    this.topics.delete(topic.name);
    this.topicsById.delete(topic.id.toString('hex'));
    this.heldPartitionCount -= topic.partitions.length;
  }

  /**
   * Opens (recovering it) one partition's storage through a PartitionHandle, its log and its
   * producer state, and serves the partition. A failure is logged, marks the partition failed
   * (KAFKA_STORAGE_ERROR) and is tried again later: opening writes files (indexes, checkpoints),
   * so a full disk at start-up must not keep a partition offline once space returns.
   */
  private async openPartition(partition: Partition, attempt = 1): Promise<void> {
    const directory = this.partitionDirectory(partition);
    try {
      partition.open(await PartitionHandle.open(directory, this.partitionStorageSettings(partition.topic)));
      if (attempt > 1) this.logger.info('partition log opened after failing to', { topic: partition.topic.name, partition: partition.index, attempt });
    } catch (error) {
      partition.failed(String(error));
      const retryInMs = Math.min(partitionOpenRetryMaxMs, partitionOpenRetryFirstMs * 2 ** (attempt - 1));
      this.logger.error('partition log could not be opened; trying again later', { topic: partition.topic.name, partition: partition.index, attempt, retryInMs, error: String(error) });
      this.retryOpenLater(partition, attempt + 1, retryInMs);
      throw error;
    }
  }

  /** Tries opening a failed partition again after `delayMs`, as a change of its topic (so never beside a deletion). */
  private retryOpenLater(partition: Partition, attempt: number, delayMs: number): void {
    if (this.closing) return;
    const timer = setTimeout(() => {
      this.openRetryTimers.delete(timer);
      void this.changeTopic(partition.topic.name, async () => {
        const current = this.topics.get(partition.topic.name)?.partitions[partition.index];
        if (this.closing || current !== partition || partition.state !== 'failed') return;
        await this.openPartition(partition, attempt).catch(() => undefined);
      });
    }, delayMs);
    timer.unref();
    this.openRetryTimers.add(timer);
  }

  private partitionDirectory(partition: Partition): string {
    return join(this.config.dataDir, partitionDirectoryName(partition.topic.name, partition.index));
  }

  private partitionStorageSettings(topic: Topic): PartitionStorageSettings {
    return { logOptions: this.logOptions(topic.effective), logEnvironment: this.logEnvironment(), producerLimits: this.producerStateLimits(), clock: systemClock, logger: this.logger };
  }

  /** What every partition log gets: the logger, a say in write failures, and the caps on open files and cached bytes it shares with the others. */
  private logEnvironment(): LogEnvironment {
    return {
      logger: this.logger,
      onWriteFailure: (failure) => this.logWriteFailed(failure),
      tailCacheBytes: this.config.limits.maxTailCacheBytesPerPartition,
      tailCacheBudget: this.tailCacheBudget,
      openSegmentFiles: this.openSegmentFiles,
      journal: this.journal,
      segmentIndexCache: this.segmentIndexCache,
    };
  }

  /** Checks a CreateTopics entry without creating anything. */
  validateNewTopic(name: string, partitionCount: number, configs: ReadonlyMap<string, string | null>): OperationResult {
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) return failure(ErrorCode.invalidTopicException, nameProblem);
    if (this.topics.has(name)) return failure(ErrorCode.topicAlreadyExists, `topic '${name}' already exists`);
    if (partitionCount < 1) return failure(ErrorCode.invalidPartitions, `number of partitions must be at least 1, got ${partitionCount}`);
    if (partitionCount > this.config.limits.maxPartitionsPerTopic) {
      return failure(ErrorCode.invalidPartitions, `number of partitions ${partitionCount} exceeds the limit of ${this.config.limits.maxPartitionsPerTopic}`);
    }
    const overrides = new Map<string, string>();
    for (const [key, value] of configs) {
      const problem = validateTopicConfig(key, value);
      if (problem !== null) return failure(ErrorCode.invalidConfig, `${key}: ${problem}`);
      if (value !== null) overrides.set(key, value);
    }
    const conflict = topicConfigsProblem(overrides, this.config.topicDefaults, this.dynamicConfigs.topicValues());
    if (conflict !== null) return failure(ErrorCode.invalidConfig, conflict);
    return this.capacityProblem(1, partitionCount) ?? ok;
  }

  /**
   * Whether `addedTopics` topics with `addedPartitions` partitions fit under maxTopics and
   * maxPartitions, counting creations still in progress. Kafka refuses creations beyond its own
   * such limits with POLICY_VIOLATION.
   */
  private capacityProblem(addedTopics: number, addedPartitions: number): OperationResult | null {
    const { maxTopics, maxPartitions } = this.config.limits;
    const topics = this.topics.size + this.pendingTopicCount;
    if (topics + addedTopics > maxTopics) {
      this.limitRefusals.inc({ limit: 'maxTopics' });
      return failure(ErrorCode.policyViolation, `this broker holds ${topics} topics (creations in progress included), the limit (maxTopics) is ${maxTopics}`);
    }
    const partitions = this.heldPartitionCount + this.pendingPartitionCount;
    if (partitions + addedPartitions > maxPartitions) {
      this.limitRefusals.inc({ limit: 'maxPartitions' });
      return failure(
        ErrorCode.policyViolation,
        `this broker holds ${partitions} partitions (creations in progress included); ${addedPartitions} more would exceed the limit (maxPartitions) of ${maxPartitions}`,
      );
    }
    return null;
  }

  /** Runs `change` after every earlier change to topic `name` has finished, and after start-up recovery. */
  private changeTopic<T>(name: string, change: () => Promise<T>): Promise<T> {
    const previous = this.topicChanges.get(name) ?? this.recovery;
    const next = previous.then(change, change);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.topicChanges.set(name, settled);
    void settled.then(() => {
      if (this.topicChanges.get(name) === settled) this.topicChanges.delete(name);
    });
    return next;
  }

  /** Creates a topic. A second creation of the same name waits for the first and gets TOPIC_ALREADY_EXISTS. */
  createTopic(name: string, partitionCount: number, configs: ReadonlyMap<string, string | null>): Promise<OperationResult> {
    return this.changeTopic(name, () => this.createTopicNow(name, partitionCount, configs));
  }

  /**
   * Folders first, then the metadata record, then memory: a crash before the record leaves folders
   * no topic names (removed on the next start), never a recorded topic without its folders; a
   * failure removes the folders again and answers KAFKA_STORAGE_ERROR.
   */
  private async createTopicNow(name: string, partitionCount: number, configs: ReadonlyMap<string, string | null>): Promise<OperationResult> {
    const problem = this.validateNewTopic(name, partitionCount, configs);
    if (problem.errorCode !== ErrorCode.none) return problem;
    const overrides = new Map<string, string>();
    for (const [key, value] of configs) if (value !== null) overrides.set(key, value);
    const topic: Topic = { name, id: randomBytes(16), partitions: [], configOverrides: overrides, effective: this.effectiveOf(overrides) };
    this.pendingTopicCount++;
    this.pendingPartitionCount += partitionCount;
    try {
      const partitions = await this.createPartitionLogs(topic, 0, partitionCount);
      await this.recordOrDiscard(partitions, () => this.metadata.putTopic(name, storedTopic(topic, partitionCount, overrides)));
      topic.partitions.push(...partitions);
      this.registerTopic(topic);
    } catch (error) {
      return this.storageFailure('create topic', name, error);
    } finally {
      this.pendingTopicCount--;
      this.pendingPartitionCount -= partitionCount;
    }
    this.logger.info('topic created', { topic: name, partitions: partitionCount });
    return ok;
  }

  /** Creates the logs of partitions [fromIndex, toIndex) of `topic`; on a failure, removes those made and throws. */
  private async createPartitionLogs(topic: Topic, fromIndex: number, toIndex: number): Promise<Partition[]> {
    const indexes = Array.from({ length: toIndex - fromIndex }, (_, offset) => fromIndex + offset);
    const created: Partition[] = [];
    let firstError: unknown = null;
    await mapConcurrently(indexes, partitionCreationConcurrency, async (index) => {
      if (firstError !== null) return;
      try {
        created.push(await this.createPartition(topic, index));
      } catch (error) {
        firstError ??= error;
      }
    });
    if (firstError !== null) {
      await this.discardPartitions(created);
      throw firstError;
    }
    return created.sort((left, right) => left.index - right.index);
  }

  private async createPartition(topic: Topic, index: number): Promise<Partition> {
    const directory = join(this.config.dataDir, partitionDirectoryName(topic.name, index));
    await removeLeftoverPartitionDirectory(directory, this.logger);
    const partition = this.newPartition(topic, index);
    partition.open(await PartitionHandle.create(directory, this.partitionStorageSettings(topic)));
    return partition;
  }

  /**
   * In a cluster: makes this broker hold a topic as etcd describes it (cluster/replica-sync.ts),
   * with the logs of the partitions it hosts (`hostedIndexes`). A topic held under another id was
   * deleted and created again while this broker was away: it is deleted here first. Partition logs
   * hosted but missing are created; a failure is logged and leaves that partition unopened
   * (NOT_LEADER_OR_FOLLOWER) until the next change of the topic. Limits (maxTopics, maxPartitions)
   * were checked by the broker that created the topic; this one follows etcd. A topic held already
   * takes etcd's partition count (CreatePartitions only raises it) and config overrides.
   */
  adoptClusterTopic(name: string, topicId: Buffer, partitionCount: number, configs: ReadonlyMap<string, string>, hostedIndexes: ReadonlySet<number>): Promise<void> {
    return this.changeTopic(name, async () => {
      let topic = this.topics.get(name);
      if (topic !== undefined && !topic.id.equals(topicId)) {
        await this.deleteTopicNow(name);
        topic = undefined;
      }
      if (topic === undefined) {
        const created: Topic = { name, id: topicId, partitions: [], configOverrides: new Map(configs), effective: this.effectiveOf(configs) };
        for (let index = 0; index < partitionCount; index++) created.partitions.push(this.newPartition(created, index));
        await this.metadata.putTopic(name, storedTopic(created, partitionCount, created.configOverrides));
        this.registerTopic(created);
        this.logger.info('topic adopted from the cluster', { topic: name, partitions: partitionCount, hosted: [...hostedIndexes].join(',') });
        topic = created;
      } else await this.followClusterTopic(topic, partitionCount, configs);
      for (const partition of topic.partitions) {
        if (!hostedIndexes.has(partition.index) || partition.state !== 'opening') continue;
        const directory = this.partitionDirectory(partition);
        try {
          await removeLeftoverPartitionDirectory(directory, this.logger);
          partition.open(await PartitionHandle.create(directory, this.partitionStorageSettings(topic)));
        } catch (error) {
          this.logger.error('partition log could not be created for a hosted replica', { topic: name, partition: partition.index, error: String(error) });
        }
      }
    });
  }

  /**
   * A held topic changed in etcd: partitions added, config overrides changed. Recorded in the local
   * metadata first (a restart finds them), then applied; the added partitions are opened by the
   * caller where hosted.
   */
  private async followClusterTopic(topic: Topic, partitionCount: number, configs: ReadonlyMap<string, string>): Promise<void> {
    const added = Math.max(partitionCount - topic.partitions.length, 0);
    const configsChanged = configs.size !== topic.configOverrides.size || [...configs].some(([key, value]) => topic.configOverrides.get(key) !== value);
    if (added === 0 && !configsChanged) return;
    await this.metadata.putTopic(topic.name, storedTopic(topic, topic.partitions.length + added, configs));
    for (let index = topic.partitions.length; index < partitionCount; index++) topic.partitions.push(this.newPartition(topic, index));
    this.heldPartitionCount += added;
    if (added > 0) this.logger.info('partitions added in the cluster', { topic: topic.name, partitions: topic.partitions.length });
    if (configsChanged) {
      topic.configOverrides.clear();
      for (const [key, value] of configs) topic.configOverrides.set(key, value);
      this.applyEffective(topic);
      this.logger.info('topic config changed in the cluster', { topic: topic.name });
    }
  }

  /** In a cluster: the topic is gone from etcd; deletes it here if it is the one held (same id). */
  dropClusterTopic(name: string, topicId: Buffer | null): Promise<void> {
    return this.changeTopic(name, async () => {
      const topic = this.topics.get(name);
      if (topic === undefined || (topicId !== null && !topic.id.equals(topicId))) return;
      const result = await this.deleteTopicNow(name);
      if (result.errorCode !== ErrorCode.none) this.logger.error('topic deleted in the cluster could not be deleted here', { topic: name, error: result.errorMessage ?? '' });
    });
  }

  /**
   * In a cluster: this broker is no longer a replica of the partition (a reassignment moved it).
   * Its log is deleted and a fresh, unopened partition takes its place, so the topic keeps its
   * partition count and a later reassignment back here starts from an empty log. Requests still
   * holding the old partition see it deleted, as when a topic is deleted.
   */
  dropClusterReplica(name: string, topicId: Buffer, index: number): Promise<void> {
    return this.changeTopic(name, async () => {
      const topic = this.topics.get(name);
      const partition = topic?.partitions[index];
      if (topic === undefined || partition === undefined || !topic.id.equals(topicId) || partition.state === 'opening') return;
      topic.partitions[index] = this.newPartition(topic, index);
      await this.discardPartitions([partition]);
      this.logger.info('replica deleted here', { topic: name, partition: index });
    });
  }

  /** Runs `record` (a metadata change); if it fails, removes the partitions made for it and rethrows. */
  private async recordOrDiscard(partitions: readonly Partition[], record: () => Promise<void>): Promise<void> {
    try {
      await record();
    } catch (error) {
      await this.discardPartitions(partitions);
      throw error;
    }
  }

  /** Closes and removes partitions no topic holds (any longer); a folder left behind is removed on the next start. */
  private async discardPartitions(partitions: readonly Partition[]): Promise<void> {
    for (const partition of partitions) {
      partition.deleted = true;
      partition.wakeDataWaiters();
      // A cleaner pass over it ends first, so that none of its files appears in a folder being removed.
      await this.logCleaner?.released(this.cleanableByPartition.get(partition));
      const folder = this.partitionDirectory(partition);
      try {
        if (partition.isOpen) {
          await partition.handle.delete();
        } else {
          await fs.rm(folder, { recursive: true, force: true }); // its log failed to open at start-up
        }
      } catch (error) {
        this.logger.warn('partition folder not removed; it is removed on the next start', { folder, error: String(error) });
      }
    }
  }

  /** A metadata change that failed on storage: one log line, and KAFKA_STORAGE_ERROR for the client. */
  private storageFailure(operation: string, name: string, error: unknown): OperationResult {
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.error('metadata change failed', { operation, topic: name, error: reason });
    this.metadataFailures.inc({ operation });
    return failure(ErrorCode.kafkaStorageError, `could not ${operation} '${name}', nothing was changed: ${reason}`);
  }

  /** Auto-creation on Metadata or Produce, when enabled. Concurrent requests for one name share one creation. */
  async autoCreateTopic(name: string): Promise<Topic | OperationResult> {
    const existing = this.topics.get(name);
    if (existing !== undefined) return existing;
    if (!this.config.autoCreateTopics) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    if (this.inCluster) return this.autoCreateClusterTopic(name);
    const result = await this.createTopic(name, this.config.topicDefaults.numPartitions, new Map());
    const topic = this.topics.get(name);
    return result.errorCode === ErrorCode.none || (result.errorCode === ErrorCode.topicAlreadyExists && topic !== undefined) ? topic! : result;
  }

  /** Auto-creation in a cluster: through etcd, as CreateTopics with the defaults (replication factor 1, as Kafka's default.replication.factor). */
  private async autoCreateClusterTopic(name: string): Promise<Topic | OperationResult> {
    if (this.cluster === null) return failure(ErrorCode.leaderNotAvailable, 'this broker has not joined the cluster yet; retry');
    const result = await this.cluster.createTopic({ name, partitionCount: this.config.topicDefaults.numPartitions, replicationFactor: 1, assignment: null, configs: new Map() }, false, 0);
    const topic = this.topics.get(name);
    return (result.errorCode === ErrorCode.none || result.errorCode === ErrorCode.topicAlreadyExists) && topic !== undefined ? topic : result.errorCode === ErrorCode.none ? failure(ErrorCode.leaderNotAvailable, `topic '${name}' is being created; retry`) : result;
  }

  /**
   * Auto-creates several topics (the unknown ones a Metadata request names), a few at a time so
   * that their metadata records share fsyncs. Names beyond maxTopics get POLICY_VIOLATION.
   */
  async autoCreateTopics(names: readonly string[]): Promise<Map<string, Topic | OperationResult>> {
    const unique = [...new Set(names)];
    const results = await mapConcurrently(unique, topicCreationConcurrency, (name) => this.autoCreateTopic(name));
    return new Map(unique.map((name, index) => [name, results[index]!]));
  }

  deleteTopic(name: string): Promise<OperationResult> {
    return this.changeTopic(name, () => this.deleteTopicNow(name));
  }

  /**
   * The metadata record first (it may use the journal's reserve, so this works on a full disk),
   * then memory, then the files: a crash after the record leaves folders no topic names, removed on
   * the next start. If the record cannot be written, nothing changes and the client may retry.
   */
  private async deleteTopicNow(name: string): Promise<OperationResult> {
    const topic = this.topics.get(name);
    if (topic === undefined) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    try {
      await this.metadata.removeTopic(name);
    } catch (error) {
      return this.storageFailure('delete topic', name, error);
    }
    this.unregisterTopic(topic);
    await this.discardPartitions(topic.partitions);
    this.logger.info('topic deleted', { topic: name });
    return ok;
  }

  /**
   * Raises a topic's partition count. In a cluster, through etcd (cluster-topics.ts), with the
   * replicas placed there or as `assignment` gives them (one replica list per new partition); a
   * single broker checks the assignment in its handler.
   */
  createPartitions(name: string, newTotal: number, validateOnly: boolean, assignment: readonly (readonly number[])[] | null = null): Promise<OperationResult> {
    if (this.inCluster) return this.createClusterPartitions(name, newTotal, validateOnly, assignment);
    return this.changeTopic(name, () => this.createPartitionsNow(name, newTotal, validateOnly));
  }

  private async createClusterPartitions(name: string, newTotal: number, validateOnly: boolean, assignment: readonly (readonly number[])[] | null): Promise<OperationResult> {
    if (newTotal > this.config.limits.maxPartitionsPerTopic) {
      return failure(ErrorCode.invalidPartitions, `number of partitions ${newTotal} exceeds the limit of ${this.config.limits.maxPartitionsPerTopic}`);
    }
    // A group's partition is its hash mod the partition count: more partitions would move groups away from their state.
    if (this.isInternalTopic(name)) return failure(ErrorCode.invalidRequest, `the internal topic '${name}' keeps its partition count: each group lives in the partition its id hashes to`);
    if (this.cluster === null) return failure(ErrorCode.notController, 'this broker has not joined the cluster yet; retry');
    return this.cluster.createPartitions(name, newTotal, assignment, validateOnly);
  }

  private async createPartitionsNow(name: string, newTotal: number, validateOnly: boolean): Promise<OperationResult> {
    const topic = this.topics.get(name);
    if (topic === undefined) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    if (newTotal <= topic.partitions.length) {
      return failure(ErrorCode.invalidPartitions, `topic '${name}' has ${topic.partitions.length} partitions; the new count must be larger, got ${newTotal}`);
    }
    if (newTotal > this.config.limits.maxPartitionsPerTopic) {
      return failure(ErrorCode.invalidPartitions, `number of partitions ${newTotal} exceeds the limit of ${this.config.limits.maxPartitionsPerTopic}`);
    }
    const added = newTotal - topic.partitions.length;
    const capacity = this.capacityProblem(0, added);
    if (capacity !== null) return capacity;
    if (validateOnly) return ok;
    this.pendingPartitionCount += added;
    try {
      const partitions = await this.createPartitionLogs(topic, topic.partitions.length, newTotal);
      await this.recordOrDiscard(partitions, () => this.metadata.putTopic(name, storedTopic(topic, newTotal, topic.configOverrides)));
      topic.partitions.push(...partitions);
      this.heldPartitionCount += added;
    } catch (error) {
      return this.storageFailure('add partitions to topic', name, error);
    } finally {
      this.pendingPartitionCount -= added;
    }
    this.logger.info('partitions added', { topic: name, partitions: newTotal });
    return ok;
  }

  /**
   * Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's overrides. `changes` maps a
   * key to its new value, or null to remove the override.
   */
  alterTopicConfig(name: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    // In a cluster the change is made in etcd, and every broker (this one too) applies it from there.
    if (this.inCluster) return this.alterClusterTopicConfig(name, changes, replaceAll, validateOnly);
    return this.changeTopic(name, () => this.alterTopicConfigNow(name, changes, replaceAll, validateOnly));
  }

  private async alterClusterTopicConfig(name: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    const invalid = configChangesProblem(changes);
    if (invalid !== null) return invalid;
    // Its configs are the coordinators' to set: retention, for one, would drop committed offsets.
    if (this.isInternalTopic(name)) return failure(ErrorCode.invalidRequest, `the configs of the internal topic '${name}' are set by the brokers and cannot be changed`);
    if (this.cluster === null) return failure(ErrorCode.notController, 'this broker has not joined the cluster yet; retry');
    return this.cluster.alterTopicConfigs(name, (current) => this.editedOverrides(current, changes, replaceAll), validateOnly);
  }

  /** The overrides after `changes` (all replaced, or edited), or why they are refused as a whole. */
  private editedOverrides(current: ReadonlyMap<string, string>, changes: ReadonlyMap<string, string | null>, replaceAll: boolean): Map<string, string> | OperationResult {
    const next = withConfigChanges(current, changes, replaceAll);
    const conflict = topicConfigsProblem(next, this.config.topicDefaults, this.dynamicConfigs.topicValues());
    return conflict === null ? next : failure(ErrorCode.invalidConfig, conflict);
  }

  private async alterTopicConfigNow(name: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    const topic = this.topics.get(name);
    if (topic === undefined) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    const invalid = configChangesProblem(changes);
    if (invalid !== null) return invalid;
    const next = this.editedOverrides(topic.configOverrides, changes, replaceAll);
    if (!(next instanceof Map)) return next;
    if (validateOnly) return ok;
    try {
      await this.metadata.putTopic(name, storedTopic(topic, topic.partitions.length, next));
    } catch (error) {
      return this.storageFailure('alter config of topic', name, error);
    }
    topic.configOverrides.clear();
    for (const [key, value] of next) topic.configOverrides.set(key, value);
    this.applyEffective(topic);
    this.logger.info('topic config changed', { topic: name, changes: [...changes.keys()].join(',') });
    return ok;
  }

  /** Runs config changes of the broker and of groups one at a time, in call order. */
  private changeConfigs<T>(change: () => Promise<T>): Promise<T> {
    const next = this.configChanges.then(change, change);
    this.configChanges = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /**
   * Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) the dynamic broker configs of one
   * level: this broker's own, or the cluster-wide defaults. Every refusal is INVALID_REQUEST, as in
   * Kafka. Recorded in the cluster metadata, then applied at once: topics without an override of
   * the matching topic config take the new default.
   */
  alterBrokerConfigs(level: BrokerConfigLevel, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    for (const [name, value] of changes) {
      const problem = dynamicBrokerConfigProblem(name, value);
      if (problem !== null) return Promise.resolve(failure(ErrorCode.invalidRequest, problem));
    }
    const edit = (current: ReadonlyMap<string, string>): Map<string, string> | OperationResult => {
      const next = withConfigChanges(current, changes, replaceAll);
      const prospective = new DynamicBrokerConfigs(level === 'broker' ? next : this.dynamicConfigs.values('broker'), level === 'clusterDefault' ? next : this.dynamicConfigs.values('clusterDefault'));
      const conflict = topicConfigsProblem(new Map(), this.config.topicDefaults, prospective.topicValues());
      return conflict === null ? next : failure(ErrorCode.invalidRequest, conflict);
    };
    const resource = brokerConfigResource(level, this.nodeId);
    return this.changeConfigs(async () => {
      // A cluster keeps the cluster-wide defaults in etcd, where every broker follows them
      // (clusterConfigsChanged); a broker's own stay with it.
      if (level === 'clusterDefault' && this.cluster !== null) return this.cluster.alterConfigs(resource, edit, validateOnly);
      const next = edit(this.dynamicConfigs.values(level));
      if (!(next instanceof Map)) return next;
      if (validateOnly) return ok;
      try {
        await this.metadata.putConfigs(resource, next);
      } catch (error) {
        return this.storageFailure('alter configs of', resource, error);
      }
      this.dynamicConfigs.replace(level, next);
      for (const topic of this.topics.values()) this.applyEffective(topic);
      this.logger.info('broker config changed', { level, changes: [...changes.keys()].join(',') });
      return ok;
    });
  }

  /** A group's configs of its own (GROUP config resources); empty when it has none. */
  groupConfig(groupId: string): ReadonlyMap<string, string> {
    return this.groupConfigMap.get(groupId) ?? new Map<string, string>();
  }

  /**
   * Replaces or edits a group's configs of their own (INVALID_CONFIG for an unknown key or a value
   * out of the broker's bounds), recorded in the cluster metadata; the group's members get them at
   * their next heartbeat. The group need not exist.
   */
  alterGroupConfigs(groupId: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    const edit = (current: ReadonlyMap<string, string>): Map<string, string> | OperationResult => {
      const next = withConfigChanges(current, changes, replaceAll);
      const problem = groupConfigsProblem(next, this.config.groups);
      return problem === null ? next : failure(ErrorCode.invalidConfig, problem);
    };
    const resource = `${groupConfigPrefix}${groupId}`;
    return this.changeConfigs(async () => {
      // In a cluster any broker may coordinate the group: its configs live in etcd (clusterConfigsChanged).
      if (this.cluster !== null) return this.cluster.alterConfigs(resource, edit, validateOnly);
      const next = edit(this.groupConfig(groupId));
      if (!(next instanceof Map)) return next;
      if (validateOnly) return ok;
      try {
        await this.metadata.putConfigs(resource, next);
      } catch (error) {
        return this.storageFailure('alter configs of', resource, error);
      }
      if (next.size === 0) this.groupConfigMap.delete(groupId);
      else this.groupConfigMap.set(groupId, next);
      this.logger.info('group config changed', { group: groupId, changes: [...changes.keys()].join(',') });
      return ok;
    });
  }

  /**
   * A cluster-wide config resource as etcd holds it now (a cluster: cluster/join.ts calls this for
   * each one at start and on every change): the cluster-wide dynamic broker defaults, or a group's
   * own configs. Applied at once, as a change made here is.
   */
  clusterConfigsChanged(resource: string, configs: ReadonlyMap<string, string>): void {
    if (resource === brokerConfigResource('clusterDefault', this.nodeId)) {
      this.dynamicConfigs.replace('clusterDefault', configs);
      for (const topic of this.topics.values()) this.applyEffective(topic);
      this.logger.info('cluster-wide broker configs changed in the cluster', { configs: [...configs.keys()].join(',') });
    } else if (resource.startsWith(groupConfigPrefix)) {
      const groupId = resource.slice(groupConfigPrefix.length);
      if (configs.size === 0) this.groupConfigMap.delete(groupId);
      else this.groupConfigMap.set(groupId, configs);
    }
  }

  /**
   * Joining a cluster: the cluster-wide configs are etcd's from now on. What this broker kept on its
   * own disk for them (from before it joined) gives way, whether etcd holds any or not.
   */
  adoptClusterConfigs(configsOf: (resource: string) => ReadonlyMap<string, string>, resources: readonly string[]): void {
    this.groupConfigMap.clear();
    this.clusterConfigsChanged(brokerConfigResource('clusterDefault', this.nodeId), configsOf(brokerConfigResource('clusterDefault', this.nodeId)));
    for (const resource of resources) if (resource.startsWith(groupConfigPrefix)) this.clusterConfigsChanged(resource, configsOf(resource));
  }

  /** Wakes fetches waiting on this partition. */
  notifyData(partition: Partition): void {
    partition.wakeDataWaiters();
  }

  /**
   * Resolves when any of the partitions gets new readable data, or after timeoutMs.
   */
  waitForData(partitions: readonly Partition[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        for (const cancel of cancels) cancel();
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      const cancels = partitions.map((partition) => partition.onNextData(wake));
    });
  }

  private async enforceRetention(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (!partition.isOpen) continue;
        try {
          const { deletedBytes, producersForgotten } = await partition.handle.enforceRetention();
          if (deletedBytes > 0) {
            this.logger.info('retention deleted segments', { topic: topic.name, partition: partition.index, bytes: deletedBytes, producersForgotten });
          }
        } catch (error) {
          this.logger.error('retention failed', { topic: topic.name, partition: partition.index, error: String(error) });
        }
      }
    }
  }

  private startLogCleaner(): void {
    if (!this.config.logCleanerEnable) return;
    const limits = { dedupeBufferBytes: this.config.logCleanerDedupeBufferBytes, ioChunkBytes: cleanerChunkBytes, maxDecompressedBytes: this.config.limits.maxDecompressedBytes };
    const beforeSwap = (shouldStop: () => boolean) => waitWhileCleanerSwapIsHeld(shouldStop, this.logger);
    const passes = this.metrics.counter('osprey_log_cleaner_passes_total', 'Passes of the log cleaner that swapped cleaned segments in.');
    const removedBytes = this.metrics.counter('osprey_log_cleaner_removed_bytes_total', 'Bytes of log the log cleaner removed from compacted topics.');
    const onPass = (outcome: CleaningOutcome) => {
      passes.inc();
      removedBytes.inc({}, Math.max(0, outcome.bytesBefore - outcome.bytesAfter));
    };
    this.logCleaner = new LogCleaner(() => this.cleanablePartitions(), { backoffMs: this.config.logCleanerBackoffMs, limits, nowMs: () => Date.now(), beforeSwap, onPass }, this.logger);
    this.logCleaner.start();
  }

  /** The open partitions of topics whose cleanup.policy includes compact, as the log cleaner sees them. */
  private *cleanablePartitions(): Generator<CleanablePartition> {
    for (const topic of this.topics.values()) {
      if (!topic.effective.cleanupPolicy.compact) continue;
      for (const partition of topic.partitions) {
        if (!partition.isOpen || partition.deleted) continue;
        let cleanable = this.cleanableByPartition.get(partition);
        if (cleanable === undefined) {
          const handle = partition.handle;
          cleanable = {
            topic: topic.name,
            index: partition.index,
            get config() {
              return partition.topic.effective;
            },
            log: handle.compactableLog,
            producerLastOffsets: () => handle.producerLastOffsets(),
            isCurrent: () => !this.closing && !partition.deleted && this.topics.get(topic.name) === topic,
          };
          this.cleanableByPartition.set(partition, cleanable);
        }
        yield cleanable;
      }
    }
  }

  private producerStateLimits(): { maxProducerIds: number; expirationMs: number } {
    return { maxProducerIds: this.config.limits.maxProducerIdsPerPartition, expirationMs: this.config.producerIdExpirationMs };
  }

  /** Periodic producer state snapshots and producer id expiry, for every partition. */
  private startProducerStateTimers(): void {
    const everyPartition = (work: (partition: Partition) => void) => () => {
      for (const topic of this.topics.values()) for (const partition of topic.partitions) if (partition.isOpen) work(partition);
    };
    const snapshots = setInterval(everyPartition((partition) => void partition.handle.producers.saveIfChanged()), this.config.producerStateSnapshotIntervalMs);
    const expiry = setInterval(everyPartition((partition) => partition.handle.producers.expire()), this.config.producerIdExpirationCheckIntervalMs);
    for (const timer of [snapshots, expiry]) {
      timer.unref();
      this.producerStateTimers.push(timer);
    }
  }

  /**
   * A recorded topic's partition folder is created before the topic is recorded, so a missing one
   * was lost outside the broker (or by a version that recorded first). It is started empty, loudly.
   */
  private async reportMissingPartitionDirectories(): Promise<void> {
    const present = new Set(await fs.readdir(this.config.dataDir));
    for (const [name, stored] of Object.entries(this.metadata.topics)) {
      for (let index = 0; index < stored.partitionCount; index++) {
        const folder = partitionDirectoryName(name, index);
        if (!present.has(folder)) this.logger.error('partition folder missing; starting the partition empty', { topic: name, partition: index, folder });
      }
    }
  }

  /** Partition folders left behind by a topic deleted just before a crash. */
  private async removeOrphanPartitionDirectories(): Promise<void> {
    const entries = await fs.readdir(this.config.dataDir, { withFileTypes: true });
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name === 'meta') continue;
      const match = /^(.+)-(\d+)$/.exec(entry.name);
      if (match === null) continue;
      const topic = this.topics.get(match[1]!);
      if (topic !== undefined && Number(match[2]) < topic.partitions.length) continue;
      // Only folders that hold what a partition log writes: never remove something else found in the data dir.
      if (!holdsOnlyPartitionLog(await fs.readdir(join(this.config.dataDir, entry.name)))) continue;
      this.logger.warn('removing partition folder of a deleted topic', { folder: entry.name });
      await fs.rm(join(this.config.dataDir, entry.name), { recursive: true, force: true });
    }
  }

  /**
   * Shutdown begins: fetches waiting for data answer now with what they have, and new ones do not
   * wait, so connections can be answered before the logs close (server/start.ts).
   */
  stopWaitingFetches(): void {
    this.closing = true;
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        partition.wakeDataWaiters();
      }
    }
  }

  /**
   * Stops start-up recovery (partitions being opened finish), then flushes and closes every log,
   * `partitionCloseConcurrency` at a time so that their fsyncs overlap. Every log is closed even
   * when one fails; the first failure is thrown at the end.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.diskAlarm.stop();
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    await this.logCleaner?.stop(); // its pass under way ends before the logs close
    for (const timer of this.producerStateTimers) clearInterval(timer);
    for (const timer of this.openRetryTimers) clearTimeout(timer);
    await this.recovery;
    await Promise.all(this.topicChanges.values()); // creations, deletions, retried opens under way
    await this.groups?.close();
    const partitions: Partition[] = [];
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        partition.wakeDataWaiters();
        if (partition.isOpen) partitions.push(partition);
      }
    }
    const failures: unknown[] = [];
    await forEachConcurrently(partitions, this.config.partitionCloseConcurrency, async (partition) => {
      try {
        await partition.handle.close();
      } catch (error) {
        failures.push(error);
        this.logger.error('partition log could not be closed cleanly', { topic: partition.topic.name, partition: partition.index, error: String(error) });
      }
    });
    await this.journal.close();
    await this.metadata.close();
    if (failures.length > 0) throw failures[0];
  }
}

const groupConfigPrefix = 'group:';

/**
 * A config set after AlterConfigs (replaceAll: `changes` are the whole new set) or
 * IncrementalAlterConfigs (`changes` edit `current`; null deletes the key).
 */
function withConfigChanges(current: ReadonlyMap<string, string>, changes: ReadonlyMap<string, string | null>, replaceAll: boolean): Map<string, string> {
  const next = replaceAll ? new Map<string, string>() : new Map(current);
  for (const [name, value] of changes) {
    if (value === null) next.delete(name);
    else next.set(name, value);
  }
  return next;
}

/** The cluster metadata resource of one level of dynamic broker configs: `broker:<node id>`, or `broker:` for the cluster-wide defaults. */
function brokerConfigResource(level: BrokerConfigLevel, nodeId: number): string {
  return level === 'broker' ? `broker:${nodeId}` : 'broker:';
}

/** INVALID_CONFIG for the first key or value of a topic config change that is not acceptable, else null. */
function configChangesProblem(changes: ReadonlyMap<string, string | null>): OperationResult | null {
  for (const [key, value] of changes) {
    const problem = validateTopicConfig(key, value);
    if (problem !== null) return failure(ErrorCode.invalidConfig, `${key}: ${problem}`);
  }
  return null;
}

function storedTopic(topic: Topic, partitionCount: number, configs: ReadonlyMap<string, string>): StoredTopic {
  return { id: topic.id.toString('hex'), partitionCount, configs: Object.fromEntries(configs) };
}

/**
 * Bytes the log cleaner reads (and then filters, hashing every key) between two turns of the event
 * loop: 256 KiB of small records is a few milliseconds of work, short enough not to delay produce
 * and fetch noticeably.
 */
const cleanerChunkBytes = 256 * 1024;

const partitionLogFileNames = new Set([recoveryPointFileName, logStartOffsetFileName, producerSnapshotFileName, cleanerStateFileName, cleanerSwapFileName, leaderEpochFileName]);

/**
 * Whether a folder's files are a partition log's: it holds a segment, or nothing but files a log
 * writes (a creation or deletion cut short by a crash leaves such folders, possibly empty).
 */
function holdsOnlyPartitionLog(files: readonly string[]): boolean {
  const isSegment = (file: string) => parseSegmentFileName(file, logSuffix) !== null;
  const isLogFile = (file: string) =>
    isSegment(file) || parseSegmentFileName(file, offsetIndexSuffix) !== null || parseSegmentFileName(file, timeIndexSuffix) !== null || partitionLogFileNames.has(file) || file.endsWith(temporarySuffix) || file.endsWith(cleanedSuffix);
  return files.some(isSegment) || files.every(isLogFile);
}

/**
 * Removes the folder a new partition is about to take, if one is there: no topic holds it (changes
 * to a name run one at a time), so it is what a crash or a failed deletion left. Anything that is
 * not one of our partition folders is left alone, and the creation fails.
 */
async function removeLeftoverPartitionDirectory(directory: string, logger: Logger): Promise<void> {
  let files: string[];
  try {
    files = await fs.readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!holdsOnlyPartitionLog(files)) {
    throw new Error(`folder ${directory} is in the way and does not hold a partition log; move it away`);
  }
  logger.warn('removing a leftover partition folder before creating the partition', { folder: directory });
  await fs.rm(directory, { recursive: true, force: true });
}
