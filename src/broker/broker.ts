/**
 * The broker's state: topics, their partitions and each partition's log, and the operations the
 * protocol handlers call (create, delete, alter, wait for data). It knows nothing of sockets or
 * wire formats beyond the record batch, which is also the storage format.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { LogOptions } from '../storage/partition-log.js';
import { PartitionLog, systemClock } from '../storage/partition-log.js';
import type { LogEnvironment } from '../storage/partition-log.js';
import { TailCacheBudget } from '../storage/batch-cache.js';
import { OpenSegmentFiles } from '../storage/open-segment-files.js';
import { forEachConcurrently } from './bounded-concurrency.js';
import { Partition } from './partition.js';
import { waitWhileRecoveryIsHeld } from './test-hooks.js';
import { PartitionProducers } from './idempotence/partition-producers.js';
import { fileProducerIdStorage, ProducerIdManager } from './idempotence/producer-ids.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import { openGroupCoordinator } from '../groups/coordinator.js';
import { LocalMetadataStore } from './metadata-store.js';
import { effectiveTopicConfig, validateTopicConfig } from './topic-config.js';
import type { EffectiveTopicConfig } from './topic-config.js';
import { topicNameProblem } from './topic-name.js';

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
const offsetsNotKnownYet = { logStartOffset: 0, logEndOffset: Number.MAX_SAFE_INTEGER, highWatermark: Number.MAX_SAFE_INTEGER };

function failure(errorCode: number, errorMessage: string): OperationResult {
  return { errorCode, errorMessage };
}

export function partitionDirectoryName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export class Broker {
  private readonly topics = new Map<string, Topic>();
  private readonly topicsById = new Map<string, Topic>();
  /**
   * The tail of each topic name's queue of changes (create, delete, add partitions, alter config).
   * Changes to one name run one at a time, so a topic re-created while its deletion still removes
   * files never shares a folder with it, and partitions are never added to a topic being deleted.
   */
  private readonly topicChanges = new Map<string, Promise<unknown>>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly producerStateTimers: NodeJS.Timeout[] = [];
  /** Set when shutdown begins, so waiting fetches answer at once. */
  closing = false;
  /** Consumer groups and committed offsets (groups/coordinator.ts); set by open(). */
  groups!: GroupCoordinator;
  /** Counters and gauges served at the HTTP listener's /metrics. */
  readonly metrics = new Metrics();
  /** Caps shared by every partition log: open segment files, tail cache bytes. */
  readonly openSegmentFiles: OpenSegmentFiles;
  readonly tailCacheBudget: TailCacheBudget;
  /**
   * Start-up recovery of the partition logs, running in the background once open() returns (the
   * listener answers meanwhile). Topic changes wait for it; close() stops it and waits for it.
   */
  private recovery: Promise<void> = Promise.resolve();
  /** Advertised listener, known once the socket is bound. */
  advertisedHost: string;
  advertisedPort: number;

  private constructor(
    readonly config: BrokerConfig,
    readonly logger: Logger,
    private readonly metadata: LocalMetadataStore,
    /** InitProducerId: producer ids and epochs. */
    readonly producerIds: ProducerIdManager,
  ) {
    this.advertisedHost = config.advertisedHost || config.host;
    this.advertisedPort = config.kafkaPort;
    this.metrics.gauge('osprey_topics', 'Topics this broker holds.', () => this.topics.size);
    this.metrics.gauge('osprey_partitions', 'Partitions this broker holds, all topics together.', () => {
      let partitions = 0;
      for (const topic of this.topics.values()) partitions += topic.partitions.length;
      return partitions;
    });
    this.openSegmentFiles = new OpenSegmentFiles(config.limits.maxOpenSegmentFiles);
    this.tailCacheBudget = new TailCacheBudget(config.limits.maxTailCacheBytes);
    this.metrics.gauge('osprey_partitions_not_open', 'Partitions whose log is not open: still being recovered at start-up, or failed to open.', () => {
      let notOpen = 0;
      for (const topic of this.topics.values()) for (const partition of topic.partitions) if (!partition.isOpen) notOpen++;
      return notOpen;
    });
    this.metrics.gauge('osprey_open_segment_files', 'Segment files open now, all partitions together (limits.maxOpenSegmentFiles).', () => this.openSegmentFiles.openCount);
    this.metrics.gauge('osprey_segment_files_closed_for_cap', 'Idle segment files closed since start to stay within limits.maxOpenSegmentFiles.', () => this.openSegmentFiles.closedForCap);
    this.metrics.gauge('osprey_tail_cache_bytes', 'Bytes of recent batches held by the tail caches of all partitions (limits.maxTailCacheBytes).', () => this.tailCacheBudget.byteCount);
    this.metrics.gauge('osprey_tail_cache_evicted_batches', 'Cached batches dropped since start to stay within limits.maxTailCacheBytes.', () => this.tailCacheBudget.evictedBatches);
  }

  static async open(config: BrokerConfig, logger: Logger): Promise<Broker> {
    await fs.mkdir(config.dataDir, { recursive: true });
    const metadata = await LocalMetadataStore.open(config.dataDir, config.clusterId);
    const producerIds = await ProducerIdManager.open(fileProducerIdStorage(join(config.dataDir, 'meta')), config.limits.maxProducerIdsRemembered, logger);
    const broker = new Broker(config, logger, metadata, producerIds);
    for (const [name, stored] of Object.entries(metadata.topics)) {
      const topic = broker.newTopic(name, Buffer.from(stored.id, 'hex'), new Map(Object.entries(stored.configs)));
      for (let index = 0; index < stored.partitionCount; index++) topic.partitions.push(new Partition(topic, index));
      broker.registerTopic(topic);
    }
    await broker.removeOrphanPartitionDirectories();
    broker.groups = await openGroupCoordinator(
      config,
      {
        partitionOffsets: (topic, index) => {
          const partition = broker.partition(topic, index);
          if (partition === undefined) return undefined;
          // A partition still being recovered exists; its offsets are not known yet, so commits are not range-checked.
          return partition.isOpen ? partition.log : offsetsNotKnownYet;
        },
        topicMetadata: (name) => {
          const topic = broker.topic(name);
          return topic === undefined ? undefined : { id: topic.id, partitionCount: topic.partitions.length };
        },
        topicName: (id) => broker.topicById(id)?.name,
      },
      logger,
    );
    broker.retentionTimer = setInterval(() => void broker.enforceRetention(), config.retentionCheckIntervalMs);
    broker.retentionTimer.unref();
    broker.startProducerStateTimers();
    broker.recovery = broker.recoverPartitions();
    logger.info('broker opened', { dataDir: config.dataDir, topics: broker.topics.size, clusterId: metadata.clusterId });
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
    const startedMs = Date.now();
    await forEachConcurrently(partitions, this.config.partitionOpenConcurrency, (partition) => this.openPartitionLog(partition), () => this.closing);
    const opened = partitions.filter((partition) => partition.isOpen).length;
    const failed = partitions.filter((partition) => partition.state === 'failed').length;
    const fields = { partitions: partitions.length, opened, failed, durationMs: Date.now() - startedMs };
    if (opened + failed < partitions.length) this.logger.info('partition recovery stopped by shutdown', fields);
    else this.logger.info('partitions recovered', fields);
  }

  get clusterId(): string {
    return this.metadata.clusterId;
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  topic(name: string): Topic | undefined {
    return this.topics.get(name);
  }

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
      segmentMs: effective.segmentMs,
      retentionMs: effective.retentionMs,
      retentionBytes: effective.retentionBytes,
      indexIntervalBytes: effective.indexIntervalBytes,
      flush: this.config.flush,
      flushIntervalMs: this.config.flushIntervalMs,
    };
  }

  private newTopic(name: string, id: Buffer, overrides: Map<string, string>): Topic {
    return { name, id, partitions: [], configOverrides: overrides, effective: effectiveTopicConfig(overrides, this.config.topicDefaults) };
  }

  private registerTopic(topic: Topic): void {
    this.topics.set(topic.name, topic);
    this.topicsById.set(topic.id.toString('hex'), topic);
  }

  private async loadTopic(name: string, id: Buffer, partitionCount: number, overrides: Map<string, string>): Promise<Topic> {
    const topic = this.newTopic(name, id, overrides);
    await this.openPartitions(topic, partitionCount);
    this.registerTopic(topic);
    return topic;
  }

  /** Adds partitions up to `partitionCount`, opened (several at once) before they are added. */
  private async openPartitions(topic: Topic, partitionCount: number): Promise<void> {
    const added: Partition[] = [];
    for (let index = topic.partitions.length; index < partitionCount; index++) added.push(new Partition(topic, index));
    await forEachConcurrently(added, this.config.partitionOpenConcurrency, (partition) => this.openPartitionLog(partition));
    topic.partitions.push(...added);
    const failed = added.find((partition) => !partition.isOpen);
    if (failed !== undefined) throw new Error(`partition ${failed.index} of '${topic.name}' could not be opened`);
  }

  /** Opens (recovering it) one partition's log and its producer state; a failure is logged and marks the partition failed. */
  private async openPartitionLog(partition: Partition): Promise<void> {
    const directory = join(this.config.dataDir, partitionDirectoryName(partition.topic.name, partition.index));
    try {
      const log = await PartitionLog.open(directory, this.logOptions(partition.topic.effective), systemClock, this.logEnvironment());
      const producers = await PartitionProducers.open(log, this.producerStateLimits(), { clock: systemClock, logger: this.logger });
      partition.open(log, producers);
    } catch (error) {
      partition.failed(String(error));
      this.logger.error('partition log could not be opened', { topic: partition.topic.name, partition: partition.index, error: String(error) });
      throw error;
    }
  }

  /** What every partition log shares with the others: the caps on open files and cached bytes. */
  private logEnvironment(): LogEnvironment {
    return {
      logger: this.logger,
      tailCacheBytes: this.config.limits.maxTailCacheBytesPerPartition,
      tailCacheBudget: this.tailCacheBudget,
      openSegmentFiles: this.openSegmentFiles,
      maxDecompressedBytes: this.config.limits.maxDecompressedBytes,
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
    for (const [key, value] of configs) {
      const problem = validateTopicConfig(key, value);
      if (problem !== null) return failure(ErrorCode.invalidConfig, `${key}: ${problem}`);
    }
    return ok;
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

  private async createTopicNow(name: string, partitionCount: number, configs: ReadonlyMap<string, string | null>): Promise<OperationResult> {
    const problem = this.validateNewTopic(name, partitionCount, configs);
    if (problem.errorCode !== ErrorCode.none) return problem;
    const overrides = new Map<string, string>();
    for (const [key, value] of configs) if (value !== null) overrides.set(key, value);
    const id = randomBytes(16);
    // Record the topic first: a crash after this leaves a topic whose partitions are created on start.
    await this.metadata.putTopic(name, { id: id.toString('hex'), partitionCount, configs: Object.fromEntries(overrides) });
    await this.loadTopic(name, id, partitionCount, overrides);
    this.logger.info('topic created', { topic: name, partitions: partitionCount });
    return ok;
  }

  /** Auto-creation on Metadata or Produce, when enabled. Concurrent requests for one name share one creation. */
  async autoCreateTopic(name: string): Promise<Topic | OperationResult> {
    const existing = this.topics.get(name);
    if (existing !== undefined) return existing;
    if (!this.config.autoCreateTopics) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    const result = await this.createTopic(name, this.config.topicDefaults.numPartitions, new Map());
    const topic = this.topics.get(name);
    return result.errorCode === ErrorCode.none || (result.errorCode === ErrorCode.topicAlreadyExists && topic !== undefined) ? topic! : result;
  }

  deleteTopic(name: string): Promise<OperationResult> {
    return this.changeTopic(name, () => this.deleteTopicNow(name));
  }

  private async deleteTopicNow(name: string): Promise<OperationResult> {
    const topic = this.topics.get(name);
    if (topic === undefined) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    this.topics.delete(name);
    this.topicsById.delete(topic.id.toString('hex'));
    await this.metadata.removeTopic(name);
    for (const partition of topic.partitions) {
      for (const listener of partition.dataListeners) listener();
      if (!partition.isOpen) continue; // failed to open at start-up; its folder is removed below
      await partition.producers.discard();
      await partition.log.delete();
    }
    for (const partition of topic.partitions) {
      if (partition.isOpen) continue;
      await fs.rm(join(this.config.dataDir, partitionDirectoryName(name, partition.index)), { recursive: true, force: true });
    }
    this.logger.info('topic deleted', { topic: name });
    return ok;
  }

  createPartitions(name: string, newTotal: number, validateOnly: boolean): Promise<OperationResult> {
    return this.changeTopic(name, () => this.createPartitionsNow(name, newTotal, validateOnly));
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
    if (validateOnly) return ok;
    await this.metadata.putTopic(name, { id: topic.id.toString('hex'), partitionCount: newTotal, configs: Object.fromEntries(topic.configOverrides) });
    await this.openPartitions(topic, newTotal);
    this.logger.info('partitions added', { topic: name, partitions: newTotal });
    return ok;
  }

  /**
   * Replaces (AlterConfigs) or edits (IncrementalAlterConfigs) a topic's overrides. `changes` maps a
   * key to its new value, or null to remove the override.
   */
  alterTopicConfig(name: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    return this.changeTopic(name, () => this.alterTopicConfigNow(name, changes, replaceAll, validateOnly));
  }

  private async alterTopicConfigNow(name: string, changes: ReadonlyMap<string, string | null>, replaceAll: boolean, validateOnly: boolean): Promise<OperationResult> {
    const topic = this.topics.get(name);
    if (topic === undefined) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
    for (const [key, value] of changes) {
      const problem = validateTopicConfig(key, value);
      if (problem !== null) return failure(ErrorCode.invalidConfig, `${key}: ${problem}`);
    }
    if (validateOnly) return ok;
    const next = replaceAll ? new Map<string, string>() : new Map(topic.configOverrides);
    for (const [key, value] of changes) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    await this.metadata.putTopic(name, { id: topic.id.toString('hex'), partitionCount: topic.partitions.length, configs: Object.fromEntries(next) });
    topic.configOverrides.clear();
    for (const [key, value] of next) topic.configOverrides.set(key, value);
    topic.effective = effectiveTopicConfig(topic.configOverrides, this.config.topicDefaults);
    const options = this.logOptions(topic.effective);
    for (const partition of topic.partitions) if (partition.isOpen) partition.log.updateOptions(options);
    this.logger.info('topic config changed', { topic: name, changes: [...changes.keys()].join(',') });
    return ok;
  }

  /** Wakes fetches waiting on this partition. */
  notifyData(partition: Partition): void {
    for (const listener of partition.dataListeners) listener();
  }

  /**
   * Resolves when any of the partitions gets new readable data, or after timeoutMs.
   * Returns a function that cancels the wait (and resolves it).
   */
  waitForData(partitions: readonly Partition[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        for (const partition of partitions) partition.dataListeners.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      for (const partition of partitions) partition.dataListeners.add(wake);
    });
  }

  private async enforceRetention(): Promise<void> {
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        if (!partition.isOpen) continue;
        try {
          const deletedBytes = await partition.log.enforceRetention();
          if (deletedBytes > 0) {
            const forgotten = partition.producers.logStartAdvanced();
            this.logger.info('retention deleted segments', { topic: topic.name, partition: partition.index, bytes: deletedBytes, producersForgotten: forgotten });
          }
        } catch (error) {
          this.logger.error('retention failed', { topic: topic.name, partition: partition.index, error: String(error) });
        }
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
    const snapshots = setInterval(everyPartition((partition) => void partition.producers.saveIfChanged()), this.config.producerStateSnapshotIntervalMs);
    const expiry = setInterval(everyPartition((partition) => partition.producers.expire()), this.config.producerIdExpirationCheckIntervalMs);
    for (const timer of [snapshots, expiry]) {
      timer.unref();
      this.producerStateTimers.push(timer);
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
      // Only folders that hold our segment files: never remove something else found in the data dir.
      const files = await fs.readdir(join(this.config.dataDir, entry.name));
      if (!files.some((file) => /^\d{20}\.log$/.test(file))) continue;
      this.logger.warn('removing partition folder of a deleted topic', { folder: entry.name });
      await fs.rm(join(this.config.dataDir, entry.name), { recursive: true, force: true });
    }
  }

  /**
   * Stops start-up recovery (partitions being opened finish), then flushes and closes every log,
   * `partitionCloseConcurrency` at a time so that their fsyncs overlap. Every log is closed even
   * when one fails; the first failure is thrown at the end.
   */
  async close(): Promise<void> {
    this.closing = true;
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    for (const timer of this.producerStateTimers) clearInterval(timer);
    await this.recovery;
    await this.groups?.close();
    const partitions: Partition[] = [];
    for (const topic of this.topics.values()) {
      for (const partition of topic.partitions) {
        for (const listener of partition.dataListeners) listener();
        if (partition.isOpen) partitions.push(partition);
      }
    }
    const failures: unknown[] = [];
    await forEachConcurrently(partitions, this.config.partitionCloseConcurrency, async (partition) => {
      try {
        await partition.log.close();
        await partition.producers.closeAfterLog();
      } catch (error) {
        failures.push(error);
        this.logger.error('partition log could not be closed cleanly', { topic: partition.topic.name, partition: partition.index, error: String(error) });
      }
    });
    if (failures.length > 0) throw failures[0];
  }
}
