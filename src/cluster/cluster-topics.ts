/**
 * The cluster as the handlers see it (cluster-view.ts), on etcd: answers from the metadata cache,
 * and topic creation, deletion, added partitions and config changes as etcd transactions
 * (docs/cluster.md, "Creating and deleting a topic", "Changing a topic"). Any broker may create or delete: the transaction's condition (the topic key absent, or
 * as read) makes concurrent attempts safe, and the controller is not involved.
 *
 * A creation or deletion is answered once this broker's cache has seen the write and its own
 * replicas followed (so Metadata here shows it at once); other brokers follow within their watch's
 * delay, as in Kafka, where metadata reaches brokers asynchronously too.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { ClusterStore, StoreOperation } from './cluster-store.js';
import type { ClusterBroker, ClusterOutcome, ClusterView, NewClusterTopic } from './cluster-view.js';
import { offsetsTopicConfigs, offsetsTopicName, offsetsTopicPartitionCount, offsetsTopicReplicationFactor, groupPartition } from '../groups/offsets-topic.js';
import { configsKey, decodeConfigs, decodePartition, decodeTopic, encodeConfigs, encodePartition, encodeTopic, noLeader, partitionKey, reassigning, topicKey } from './keys.js';
import type { PartitionRecord, TopicRecord } from './keys.js';
import type { MetadataCache } from './metadata-cache.js';
import type { ElectionResult, PartitionLeadership } from './partition-leadership.js';
import { offlineReplicas, initialPartitionState, startReassignment } from './partition-state.js';
import { placeReplicas, replicationFactorProblem } from './placement.js';
import type { ReplicaSync } from './replica-sync.js';

/**
 * A topic is created in one transaction: its key and one key per partition. etcd refuses
 * transactions of more than --max-txn-ops operations (128 by default), hence this limit.
 */
export const maxPartitionsPerClusterTopic = 127;

/** How long a creation or deletion waits for this broker to follow its own write before answering anyway. */
const followWriteTimeoutMs = 5000;
/** Pause before trying a creation again after etcd did not answer. */
const etcdRetryDelayMs = 500;
/** How long creating `__consumer_offsets` for a FindCoordinator may take, etcd outages included. */
const offsetsTopicCreationTimeoutMs = 10_000;

const ok: ClusterOutcome = { errorCode: ErrorCode.none, errorMessage: null };

function failure(errorCode: number, errorMessage: string): ClusterOutcome {
  return { errorCode, errorMessage };
}

export class ClusterTopics implements ClusterView {
  private offsetsTopicCreation: Promise<ClusterOutcome> | null = null;

  constructor(
    /** The cluster's id, as etcd holds it (cluster-id.ts). */
    readonly clusterId: string,
    private readonly store: ClusterStore,
    private readonly cache: MetadataCache,
    private readonly replicas: ReplicaSync,
    /** segment.bytes of `__consumer_offsets` when this broker creates it (groups.offsetsLogSegmentBytes). */
    private readonly offsetsTopicSegmentBytes: number,
    /** The controller's partition leadership while this broker is the controller, else null. */
    private readonly controller: () => PartitionLeadership | null = () => null,
  ) {}

  liveBrokers(): ClusterBroker[] {
    return this.cache.liveBrokers().map((broker) => ({ nodeId: broker.nodeId, host: broker.host, port: broker.kafkaPort, ...(broker.amqpPort === undefined ? {} : { amqpPort: broker.amqpPort }), rack: broker.rack }));
  }

  controllerId(): number {
    return this.cache.controller?.nodeId ?? -1;
  }

  partitionState(topic: string, index: number): PartitionRecord | undefined {
    return this.cache.partition(topic, index)?.record;
  }

  offlineReplicas(state: PartitionRecord): number[] {
    return offlineReplicas(state, this.cache.liveBrokerIds());
  }

  /**
   * While etcd does not answer (stopped, partitioned away), the transaction is tried again until
   * `timeoutMs` (the request's) has passed, then answered REQUEST_TIMED_OUT, which clients retry. An
   * attempt whose answer was lost may still have been applied: a later attempt that finds the topic
   * with the id this call chose knows it is its own creation and answers success.
   */
  async createTopic(topic: NewClusterTopic, validateOnly: boolean, timeoutMs: number): Promise<ClusterOutcome> {
    const assignment = this.assignmentFor(topic);
    if (!Array.isArray(assignment)) return assignment;
    if (this.cache.topic(topic.name) !== undefined) return failure(ErrorCode.topicAlreadyExists, `topic '${topic.name}' already exists`);
    if (validateOnly) return ok;
    const key = topicKey(topic.name);
    const topicId = randomBytes(16);
    const operations: StoreOperation[] = [{ type: 'put', key, value: encodeTopic({ topicId, partitionCount: assignment.length, configs: topic.configs, replicaAssignment: assignment }) }];
    assignment.forEach((replicas, index) => operations.push({ type: 'put', key: partitionKey(topic.name, index), value: encodePartition(initialPartitionState(replicas)) }));
    const deadlineMs = Date.now() + Math.max(timeoutMs, 0);
    for (;;) {
      try {
        const written = await this.store.transaction([{ key, modRevision: 0n }], operations);
        const revision = written.succeeded ? written.revision : await this.ownCreation(key, topicId);
        if (revision === null) return failure(ErrorCode.topicAlreadyExists, `topic '${topic.name}' already exists`);
        await this.follow(topic.name, revision);
        return ok;
      } catch (error) {
        if (Date.now() + etcdRetryDelayMs >= deadlineMs) return storeUnreachable(error);
        await sleep(etcdRetryDelayMs);
      }
    }
  }

  /** The revision of the topic key when it holds the topic this broker wrote with `topicId`, else null. */
  private async ownCreation(key: string, topicId: Buffer): Promise<bigint | null> {
    const current = await this.store.get(key);
    if (current === null) return null;
    const record = decodeTopic(current.value);
    return !(record instanceof Error) && record.topicId.equals(topicId) ? current.modRevision : null;
  }

  /** etcd not answering is REQUEST_TIMED_OUT (retriable): nothing may have been deleted, or all of it. */
  async deleteTopic(name: string): Promise<ClusterOutcome> {
    try {
      return await this.deleteTopicOnce(name);
    } catch (error) {
      return storeUnreachable(error);
    }
  }

  private async deleteTopicOnce(name: string): Promise<ClusterOutcome> {
    const key = topicKey(name);
    // Read from etcd rather than the cache, so that the condition is the latest state.
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.store.get(key);
      if (current === null) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
      const record = decodeTopic(current.value);
      // An unreadable record: delete every partition key the topic can have.
      const partitionCount = record instanceof Error ? maxPartitionsPerClusterTopic : record.partitionCount;
      const operations: StoreOperation[] = [{ type: 'delete', key }];
      for (let index = 0; index < partitionCount; index++) operations.push({ type: 'delete', key: partitionKey(name, index) });
      const written = await this.store.transaction([{ key, modRevision: current.modRevision }], operations);
      if (!written.succeeded) continue; // changed (or deleted and created again) since the read
      await this.follow(name, written.revision);
      return ok;
    }
    return failure(ErrorCode.unknownServerError, `topic '${name}' kept changing while it was being deleted; retry`);
  }

  async createPartitions(name: string, newTotal: number, assignment: readonly (readonly number[])[] | null, validateOnly: boolean): Promise<ClusterOutcome> {
    return this.rewriteTopic(
      name,
      (record) => {
        const added = this.addedAssignment(name, record, newTotal, assignment);
        if (!Array.isArray(added)) return added;
        const operations: StoreOperation[] = added.map((replicas, offset) => ({ type: 'put', key: partitionKey(name, record.partitionCount + offset), value: encodePartition(initialPartitionState(replicas)) }));
        return { record: { ...record, partitionCount: newTotal, replicaAssignment: [...record.replicaAssignment, ...added] }, operations };
      },
      validateOnly,
    );
  }

  async alterTopicConfigs(name: string, edit: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string> | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome> {
    return this.rewriteTopic(
      name,
      (record) => {
        const configs = edit(record.configs);
        return 'errorCode' in configs ? configs : { record: { ...record, configs }, operations: [] };
      },
      validateOnly,
    );
  }

  /**
   * The write is conditioned on the partition key's revision as read just before (a change since
   * wins, and the write is tried again on the new state), not on the controller: it changes
   * neither leader nor epochs, and only narrows the ISR (docs/cluster.md, "Reassignment").
   */
  async reassignPartition(topic: string, index: number, target: readonly number[] | null, allowReplicationFactorChange: boolean): Promise<ClusterOutcome> {
    const cached = this.cache.topic(topic);
    if (cached === undefined || index < 0 || index >= cached.record.partitionCount) return failure(ErrorCode.unknownTopicOrPartition, `topic '${topic}' has no partition ${index}`);
    if (target !== null) {
      const problem = assignmentProblem([target], this.cache.liveBrokerIds());
      if (problem !== null) return { errorCode: problem.errorCode, errorMessage: problem.errorMessage?.replace('partition 0', `partition ${index}`) ?? null };
    }
    const key = partitionKey(topic, index);
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.store.get(key);
      if (current === null) return failure(ErrorCode.unknownTopicOrPartition, `topic '${topic}' has no partition ${index}`);
      const state = decodePartition(current.value);
      if (state instanceof Error) return failure(ErrorCode.unknownServerError, `the state of partition ${index} in etcd cannot be read: ${state.message}`);
      if (target === null && !reassigning(state)) return failure(ErrorCode.noReassignmentInProgress, `no reassignment of partition ${index} of '${topic}' is under way`);
      const original = state.replicas.filter((nodeId) => !(state.addingReplicas ?? []).includes(nodeId));
      if (target !== null && !allowReplicationFactorChange && target.length !== original.length) {
        return failure(ErrorCode.invalidReplicationFactor, `partition ${index} has ${original.length} replicas and the target ${target.length}, and the request does not allow changing the replication factor`);
      }
      const next = startReassignment(state, target);
      if (typeof next === 'string') return failure(ErrorCode.reassignmentInProgress, next);
      if (!reassigning(state) && !reassigning(next) && next.replicas.join(',') === state.replicas.join(',')) return ok; // already placed so
      const written = await this.store.transaction([{ key, modRevision: current.modRevision }], [{ type: 'put', key, value: encodePartition(next) }]);
      if (!written.succeeded) continue;
      await this.cache.caughtUpTo(written.revision, followWriteTimeoutMs);
      return ok;
    }
    return failure(ErrorCode.unknownServerError, `partition ${index} of '${topic}' kept changing while its reassignment was written; retry`);
  }

  reassignments(): { topic: string; index: number; state: PartitionRecord }[] {
    const found: { topic: string; index: number; state: PartitionRecord }[] = [];
    for (const topic of this.cache.topicNames()) {
      const count = this.cache.topic(topic)?.record.partitionCount ?? 0;
      for (let index = 0; index < count; index++) {
        const state = this.cache.partition(topic, index)?.record;
        if (state !== undefined && reassigning(state)) found.push({ topic, index, state });
      }
    }
    return found;
  }

  async electLeaders(partitions: readonly { topic: string; partition: number }[] | null, type: 'preferred' | 'unclean'): Promise<ElectionResult[] | null> {
    const leadership = this.controller();
    if (leadership === null) return null;
    return leadership.elect(partitions, type);
  }

  /**
   * FindCoordinator: the leader of the group's partition of `__consumer_offsets` (docs/cluster.md,
   * "Consumer groups"). The first broker asked creates the topic, as Kafka does, with
   * min(3, live brokers) replicas per partition; a concurrent creation elsewhere is fine (its
   * transaction or ours wins, TOPIC_ALREADY_EXISTS for the other).
   */
  async groupCoordinator(groupId: string): Promise<ClusterBroker | ClusterOutcome> {
    let topic = this.cache.topic(offsetsTopicName);
    if (topic === undefined) {
      const created = await this.createOffsetsTopic();
      topic = this.cache.topic(offsetsTopicName);
      if (topic === undefined) return failure(ErrorCode.coordinatorNotAvailable, `the topic ${offsetsTopicName} holding groups is not there yet (${created.errorMessage ?? 'being created'}); retry`);
    }
    const index = groupPartition(groupId, topic.record.partitionCount);
    const leader = this.cache.partition(offsetsTopicName, index)?.record.leader ?? noLeader;
    const found = this.liveBrokers().find((broker) => broker.nodeId === leader);
    return found ?? failure(ErrorCode.coordinatorNotAvailable, `partition ${index} of ${offsetsTopicName} has no live leader just now; retry`);
  }

  /**
   * Creates `__consumer_offsets`; one creation at a time from this broker. Bounded like a CreateTopics
   * request (retried while etcd does not answer): FindCoordinator answers COORDINATOR_NOT_AVAILABLE
   * meanwhile, and clients ask again.
   */
  private createOffsetsTopic(): Promise<ClusterOutcome> {
    this.offsetsTopicCreation ??= this.createTopic(
      { name: offsetsTopicName, partitionCount: offsetsTopicPartitionCount, replicationFactor: Math.min(offsetsTopicReplicationFactor, this.cache.liveBrokers().length), assignment: null, configs: offsetsTopicConfigs(this.offsetsTopicSegmentBytes) },
      false,
      offsetsTopicCreationTimeoutMs,
    ).finally(() => {
      this.offsetsTopicCreation = null;
    });
    return this.offsetsTopicCreation;
  }

  /** The replica lists of a topic to create, or why it cannot be created as asked. */
  private assignmentFor(topic: NewClusterTopic): (readonly number[])[] | ClusterOutcome {
    const live = this.cache.liveBrokers();
    const count = topic.assignment?.length ?? topic.partitionCount;
    if (count > maxPartitionsPerClusterTopic) return failure(ErrorCode.invalidPartitions, `a topic of a cluster has at most ${maxPartitionsPerClusterTopic} partitions for now (one etcd transaction creates them), got ${count}`);
    if (topic.assignment !== null) return assignmentProblem(topic.assignment, new Set(live.map((broker) => broker.nodeId))) ?? [...topic.assignment];
    const problem = replicationFactorProblem(topic.replicationFactor, live.length);
    if (problem !== null) return failure(ErrorCode.invalidReplicationFactor, problem);
    return placeReplicas(live, topic.partitionCount, topic.replicationFactor, randomInt(0, 1 << 30));
  }

  /**
   * Writes a new version of a topic's record (and `operations` with it) in one transaction
   * conditioned on the record's modRevision as read, so a change made since the read (a deletion,
   * another change) is never overwritten: the read and `rewrite` are done again, a few times at most.
   * Read from etcd rather than the cache, so that the condition is the latest state. etcd not
   * answering is REQUEST_TIMED_OUT (retriable), as for a deletion.
   */
  private async rewriteTopic(name: string, rewrite: (record: TopicRecord) => { record: TopicRecord; operations: StoreOperation[] } | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome> {
    try {
      return await this.rewriteTopicOnce(name, rewrite, validateOnly);
    } catch (error) {
      return storeUnreachable(error);
    }
  }

  private async rewriteTopicOnce(name: string, rewrite: (record: TopicRecord) => { record: TopicRecord; operations: StoreOperation[] } | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome> {
    const key = topicKey(name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.store.get(key);
      if (current === null) return failure(ErrorCode.unknownTopicOrPartition, `topic '${name}' does not exist`);
      const record = decodeTopic(current.value);
      if (record instanceof Error) return failure(ErrorCode.unknownServerError, `the record of topic '${name}' in etcd cannot be read: ${record.message}`);
      const rewritten = rewrite(record);
      if ('errorCode' in rewritten) return rewritten;
      if (validateOnly) return ok;
      const written = await this.store.transaction([{ key, modRevision: current.modRevision }], [{ type: 'put', key, value: encodeTopic(rewritten.record) }, ...rewritten.operations]);
      if (!written.succeeded) continue;
      await this.follow(name, written.revision);
      return ok;
    }
    return failure(ErrorCode.unknownServerError, `topic '${name}' kept changing while it was being changed; retry`);
  }

  /** The replica lists of the partitions a CreatePartitions adds, or why they cannot be added. */
  private addedAssignment(name: string, record: TopicRecord, newTotal: number, assignment: readonly (readonly number[])[] | null): (readonly number[])[] | ClusterOutcome {
    const current = record.partitionCount;
    if (newTotal <= current) return failure(ErrorCode.invalidPartitions, `topic '${name}' has ${current} partitions; the new count must be larger, got ${newTotal}`);
    if (newTotal > maxPartitionsPerClusterTopic) return failure(ErrorCode.invalidPartitions, `a topic of a cluster has at most ${maxPartitionsPerClusterTopic} partitions for now (one etcd transaction deletes them), got ${newTotal}`);
    const replicationFactor = record.replicaAssignment[0]?.length ?? 1;
    const live = this.cache.liveBrokers();
    if (assignment !== null) {
      if (assignment.length !== newTotal - current) return failure(ErrorCode.invalidReplicaAssignment, `the partition count rises by ${newTotal - current} but ${assignment.length} assignments were given`);
      const problem = assignmentProblem(assignment, new Set(live.map((broker) => broker.nodeId)));
      if (problem !== null) return problem;
      if (assignment[0]!.length !== replicationFactor) return failure(ErrorCode.invalidReplicaAssignment, `the new partitions have ${assignment[0]!.length} replicas and the topic's have ${replicationFactor}: every partition needs as many`);
      return [...assignment];
    }
    const problem = replicationFactorProblem(replicationFactor, live.length);
    if (problem !== null) return failure(ErrorCode.invalidReplicationFactor, problem);
    // Placed as if the topic were created with newTotal partitions, keeping only the new ones: their
    // leaders go on around the brokers from a random start, racks apart as at creation.
    return placeReplicas(live, newTotal, replicationFactor, randomInt(0, 1 << 30)).slice(current);
  }

  /** Conditioned on the key's revision as read (0: absent), so two brokers editing at once lose neither edit. */
  async alterConfigs(resource: string, edit: (current: ReadonlyMap<string, string>) => ReadonlyMap<string, string> | ClusterOutcome, validateOnly: boolean): Promise<ClusterOutcome> {
    const key = configsKey(resource);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const current = await this.store.get(key);
        const configs = current === null ? new Map<string, string>() : decodeConfigs(current.value);
        if (configs instanceof Error) return failure(ErrorCode.unknownServerError, `the configs of '${resource}' in etcd cannot be read: ${configs.message}`);
        const next = edit(configs);
        if ('errorCode' in next) return next;
        if (validateOnly) return ok;
        const written = await this.store.transaction(
          [{ key, modRevision: current?.modRevision ?? 0n }],
          [next.size === 0 ? { type: 'delete', key } : { type: 'put', key, value: encodeConfigs(next) }],
        );
        if (!written.succeeded) continue;
        await this.cache.caughtUpTo(written.revision, followWriteTimeoutMs);
        return ok;
      }
      return failure(ErrorCode.unknownServerError, `the configs of '${resource}' kept changing while they were being changed; retry`);
    } catch (error) {
      return storeUnreachable(error);
    }
  }

  configs(resource: string): ReadonlyMap<string, string> {
    return this.cache.configs(resource);
  }

  configResources(): string[] {
    return this.cache.configResources();
  }

  /** Waits until this broker's cache saw the write at revision and its replicas followed the topic. */
  private async follow(name: string, revision: bigint): Promise<void> {
    await this.cache.caughtUpTo(revision, followWriteTimeoutMs);
    await this.replicas.settled(name);
  }
}

function storeUnreachable(error: unknown): ClusterOutcome {
  const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return failure(ErrorCode.requestTimedOut, `the cluster's metadata store (etcd) did not answer in time (${reason}); retry`);
}

/** Why an explicit assignment cannot be used, or null: each partition on distinct live brokers, all with as many replicas. */
export function assignmentProblem(assignment: readonly (readonly number[])[], liveBrokers: ReadonlySet<number>): ClusterOutcome | null {
  const replicationFactor = assignment[0]?.length ?? 0;
  for (const [index, replicas] of assignment.entries()) {
    if (replicas.length === 0) return failure(ErrorCode.invalidReplicaAssignment, `partition ${index} has no replicas`);
    if (replicas.length !== replicationFactor) return failure(ErrorCode.invalidReplicaAssignment, `partition ${index} has ${replicas.length} replicas and partition 0 has ${replicationFactor}: every partition needs as many`);
    if (new Set(replicas).size !== replicas.length) return failure(ErrorCode.invalidReplicaAssignment, `partition ${index} names a broker twice: [${replicas.join(', ')}]`);
    const unknown = replicas.find((nodeId) => !liveBrokers.has(nodeId));
    if (unknown !== undefined) return failure(ErrorCode.invalidReplicaAssignment, `partition ${index} is assigned to broker ${unknown}, which is not a live broker of the cluster`);
  }
  return null;
}
