/**
 * Consumer groups in a cluster (docs/cluster.md, "Consumer groups"), on a real etcd and three real
 * broker processes: a group's coordinator is the leader of its partition of the replicated
 * `__consumer_offsets` topic (created by the first FindCoordinator, 50 partitions, 3 replicas),
 * every other broker answers the group APIs with NOT_COORDINATOR, a commit is answered (and
 * visible) only once every in-sync replica holds it (a paused follower holds it back), and when the coordinator's broker is killed (kill -9) the partition's new
 * leader reads the group back: KafkaJS consumers carry on and resume from the committed offsets.
 *
 * Oracles: etcd's partition keys read directly (who leads the group's partition, its ISR), raw
 * FindCoordinator / OffsetFetch / group API answers, and what KafkaJS consumers receive.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { groupPartition } from '../../src/groups/offsets-topic.js';
import { encodeSubscription } from '../../src/protocol/kafka/consumer-protocol.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../src/protocol/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../src/protocol/kafka/messages/delete-topics.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../src/protocol/kafka/messages/describe-groups.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../../src/protocol/kafka/messages/find-coordinator.js';
import { heartbeatRequest, heartbeatResponse } from '../../src/protocol/kafka/messages/heartbeat.js';
import { incrementalAlterConfigsRequest, incrementalAlterConfigsResponse } from '../../src/protocol/kafka/messages/incremental-alter-configs.js';
import { joinGroupRequest, joinGroupResponse } from '../../src/protocol/kafka/messages/join-group.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../src/protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { endOffsets, waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const createPartitionsApi = rawApi(createPartitionsRequest, createPartitionsResponse);
const deleteTopicsApi = rawApi(deleteTopicsRequest, deleteTopicsResponse);
const incrementalAlterConfigsApi = rawApi(incrementalAlterConfigsRequest, incrementalAlterConfigsResponse);
const findCoordinatorApi = rawApi(findCoordinatorRequest, findCoordinatorResponse);
const offsetCommitApi = rawApi(offsetCommitRequest, offsetCommitResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const heartbeatApi = rawApi(heartbeatRequest, heartbeatResponse);
const joinGroupApi = rawApi(joinGroupRequest, joinGroupResponse);
const describeGroupsApi = rawApi(describeGroupsRequest, describeGroupsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);

const offsetsTopic = '__consumer_offsets';
const partitionCount = 3;

describe('a three-broker cluster: consumer groups in __consumer_offsets', () => {
  let cluster: TestCluster;
  const live = (): number[] => [...cluster.brokers].filter(([, broker]) => broker.exitCode === null && broker.exitSignal === null).map(([nodeId]) => nodeId);

  before(async () => {
    cluster = await startTestCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  /** FindCoordinator (v3) through broker `via`, retried while the answer is retriable; the node id. */
  async function findCoordinator(groupId: string, via: number): Promise<number> {
    let nodeId = -1;
    let last = '';
    await waitUntil(
      async () => {
        const answer = await withConnection(cluster.broker(via), (connection) => connection.call(findCoordinatorApi, 3, { key: groupId, keyType: 0, coordinatorKeys: [] }));
        last = `${answer.errorCode} ${answer.errorMessage ?? ''}`;
        if (answer.errorCode !== ErrorCode.none) return false;
        nodeId = answer.nodeId;
        return true;
      },
      `a coordinator for ${groupId}`,
      20_000,
      () => last,
    );
    return nodeId;
  }

  /**
   * A first commit right after FindCoordinator named the leader of the group's partition: that
   * broker may not have taken the partition up yet (its log still opening, or etcd's new term not
   * yet seen), and answers COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR meanwhile; Kafka
   * clients retry both (the second after asking FindCoordinator again, which names the same broker).
   */
  function stillTakingUp(errorCode: number): boolean {
    return errorCode === ErrorCode.coordinatorLoadInProgress || errorCode === ErrorCode.notCoordinator;
  }

  /** OffsetFetch (v5) of every partition of `topic` from broker `nodeId`, retried while it is loading; null offsets as -1. */
  async function fetchCommitted(nodeId: number, groupId: string, topic: string): Promise<bigint[]> {
    let committed: bigint[] = [];
    let last = '';
    await waitUntil(
      async () => {
        const answer = await withConnection(cluster.broker(nodeId), (connection) =>
          connection.call(offsetFetchApi, 5, { groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: partitionCount }, (_, index) => index) }], groups: [], requireStable: false }),
        );
        last = `error ${answer.errorCode}`;
        if (answer.errorCode === ErrorCode.coordinatorLoadInProgress) return false;
        assert.equal(answer.errorCode, ErrorCode.none, `OffsetFetch on broker ${nodeId}`);
        committed = (answer.topics[0]?.partitions ?? []).sort((left, right) => left.partitionIndex - right.partitionIndex).map((partition) => partition.committedOffset);
        return true;
      },
      `the offsets of ${groupId} on broker ${nodeId}`,
      20_000,
      () => last,
    );
    return committed;
  }

  async function createTopic(name: string): Promise<void> {
    // Three replicas need three live brokers, as broker 1 sees them (a paused or restarted broker registers again first).
    await waitUntil(async () => {
      const metadata = await withConnection(cluster.broker(1), (connection) => connection.call(metadataApi, 9, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
      return metadata.brokers.length === 3;
    }, 'broker 1 to see three live brokers');
    const answer = await withConnection(cluster.broker(1), (connection) =>
      connection.call(createTopicsApi, 7, { topics: [{ name, numPartitions: partitionCount, replicationFactor: 3, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false }),
    );
    assert.equal(answer.topics[0]?.errorCode, ErrorCode.none, answer.topics[0]?.errorMessage ?? '');
    for (let index = 0; index < partitionCount; index++) await cluster.waitForPartition(name, index, (state) => state.isr.length === 3, `${name}-${index} fully in sync`);
  }

  function kafka(clientId: string) {
    return new Kafka({ clientId, brokers: live().map((nodeId) => cluster.broker(nodeId).bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
  }

  async function produce(topic: string, values: readonly string[]): Promise<void> {
    const producer = kafka('osprey-cluster-groups-producer').producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: values.map((value, index) => ({ partition: index % partitionCount, value })) });
    } finally {
      await producer.disconnect();
    }
  }

  /** Waits until the group's coordinator answers, for every partition of `topic`, the log end as committed. */
  async function waitUntilCommittedToEnd(groupId: string, topic: string): Promise<bigint[]> {
    let last = '';
    let ends: bigint[] = [];
    await waitUntil(
      async () => {
        const coordinator = await findCoordinator(groupId, live()[0]!);
        ends = await leaderEndOffsets(topic);
        const committed = await fetchCommitted(coordinator, groupId, topic);
        last = `ends ${ends.join(',')}; committed on ${coordinator}: ${committed.join(',')}`;
        return committed.length === partitionCount && committed.every((offset, index) => offset === ends[index]);
      },
      `${groupId} to commit the end of ${topic}`,
      30_000,
      () => last,
    );
    return ends;
  }

  /** A KafkaJS consumer of the group reads `count` records of `topic` (from the beginning when nothing is committed), commits them and leaves; what it read. */
  async function readAndCommit(clientId: string, groupId: string, topic: string, count: number): Promise<string[]> {
    const read: string[] = [];
    const consumer = kafka(clientId).consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void read.push(message.value?.toString('utf8') ?? '') });
      await waitUntil(() => read.length >= count, `${clientId} to read ${count} records`, 30_000, () => `${read.length} read`);
      await waitUntilCommittedToEnd(groupId, topic);
    } finally {
      await consumer.disconnect();
    }
    return read;
  }

  /** Each partition's log end, asked of its leader as etcd names it. */
  async function leaderEndOffsets(topic: string): Promise<bigint[]> {
    const states = await cluster.partitions(topic);
    const ends: bigint[] = [];
    for (const [index, state] of states.entries()) ends.push((await endOffsets(cluster.broker(state.leader), topic, partitionCount))[index]!);
    return ends;
  }

  test('FindCoordinator creates __consumer_offsets and answers the leader of the group partition; other brokers answer NOT_COORDINATOR', async () => {
    const groupId = 'coordinated';
    const partition = groupPartition(groupId, 50);
    const coordinator = await findCoordinator(groupId, 2);
    const topicState = await cluster.partitions(offsetsTopic);
    assert.equal(topicState.length, 50, 'Kafka default offsets.topic.num.partitions');
    const state = topicState[partition]!;
    assert.equal(coordinator, state.leader, `the leader of ${offsetsTopic}-${partition}`);
    assert.equal(state.replicas.length, 3);
    // Every broker answers the same; the v4 batch too.
    for (const via of [1, 3]) assert.equal(await findCoordinator(groupId, via), coordinator);
    const batch = await withConnection(cluster.broker(3), (connection) => connection.call(findCoordinatorApi, 4, { key: '', keyType: 0, coordinatorKeys: [groupId, 'another-group'] }));
    assert.deepEqual(
      batch.coordinators.map((entry) => [entry.key, entry.errorCode, entry.nodeId]),
      [
        [groupId, 0, coordinator],
        ['another-group', 0, topicState[groupPartition('another-group', 50)]!.leader],
      ],
    );
    const metadata = await withConnection(cluster.broker(1), (connection) => connection.call(metadataApi, 9, { topics: [{ name: offsetsTopic, topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
    assert.equal(metadata.topics[0]?.isInternal, true, 'Metadata marks it internal');

    await createTopic('coordinated-topic');
    // A commit from outside group management, on the coordinator (retried while it loads the partition).
    let commitError = -1;
    await waitUntil(async () => {
      const answer = await withConnection(cluster.broker(coordinator), (connection) =>
        connection.call(offsetCommitApi, 8, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [{ name: 'coordinated-topic', partitions: [{ partitionIndex: 1, committedOffset: 7n, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
        }),
      );
      commitError = answer.topics[0]?.partitions[0]?.errorCode ?? -1;
      return !stillTakingUp(commitError);
    }, 'the coordinator to load');
    assert.equal(commitError, ErrorCode.none);
    assert.deepEqual(await fetchCommitted(coordinator, groupId, 'coordinated-topic'), [-1n, 7n, -1n]);

    for (const other of [1, 2, 3].filter((nodeId) => nodeId !== coordinator)) {
      await withConnection(cluster.broker(other), async (connection) => {
        const fetched = await connection.call(offsetFetchApi, 5, { groupId, topics: [{ name: 'coordinated-topic', partitionIndexes: [1] }], groups: [], requireStable: false });
        assert.equal(fetched.errorCode, ErrorCode.notCoordinator, `OffsetFetch on broker ${other}`);
        const committed = await connection.call(offsetCommitApi, 8, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [{ name: 'coordinated-topic', partitions: [{ partitionIndex: 1, committedOffset: 9n, committedLeaderEpoch: -1, committedMetadata: null }] }],
        });
        assert.equal(committed.topics[0]?.partitions[0]?.errorCode, ErrorCode.notCoordinator, `OffsetCommit on broker ${other}`);
        const joined = await connection.call(joinGroupApi, 5, {
          groupId,
          sessionTimeoutMs: 10_000,
          rebalanceTimeoutMs: 10_000,
          memberId: '',
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: encodeSubscription(['coordinated-topic']) }],
        });
        assert.equal(joined.errorCode, ErrorCode.notCoordinator, `JoinGroup on broker ${other}`);
        const heartbeat = await connection.call(heartbeatApi, 3, { groupId, generationId: 1, memberId: 'someone', groupInstanceId: null });
        assert.equal(heartbeat.errorCode, ErrorCode.notCoordinator, `Heartbeat on broker ${other}`);
        const described = await connection.call(describeGroupsApi, 5, { groups: [groupId], includeAuthorizedOperations: false });
        assert.equal(described.groups[0]?.errorCode, ErrorCode.notCoordinator, `DescribeGroups on broker ${other}`);
      });
    }
    assert.deepEqual(await fetchCommitted(coordinator, groupId, 'coordinated-topic'), [-1n, 7n, -1n], 'the refused commit changed nothing');

    // Clients may not write to the internal topic.
    const produced = await withConnection(cluster.broker(state.leader), (connection) =>
      connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: offsetsTopic, topicId: Buffer.alloc(16), partitionData: [{ index: partition, records: encodeRecordBatch([{ key: null, value: Buffer.from('forged') }]) }] }] }),
    );
    assert.equal(produced.responses[0]?.partitionResponses[0]?.errorCode, ErrorCode.invalidTopicException);
    // Nor delete it, add partitions to it or change its configs (groups would lose their state).
    await withConnection(cluster.broker(1), async (connection) => {
      const deleted = await connection.call(deleteTopicsApi, 5, { topics: [], topicNames: [offsetsTopic], timeoutMs: 10_000 });
      assert.equal(deleted.responses[0]?.errorCode, ErrorCode.invalidRequest);
      const grown = await connection.call(createPartitionsApi, 3, { topics: [{ name: offsetsTopic, count: 60, assignments: null }], timeoutMs: 10_000, validateOnly: false });
      assert.equal(grown.results[0]?.errorCode, ErrorCode.invalidRequest);
      const topicResourceType = 2;
      const setOperation = 0;
      const altered = await connection.call(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: topicResourceType, resourceName: offsetsTopic, configs: [{ name: 'retention.ms', configOperation: setOperation, value: '1000' }] }], validateOnly: false });
      assert.equal(altered.responses[0]?.errorCode, ErrorCode.invalidRequest);
    });
    assert.equal((await cluster.partitions(offsetsTopic)).length, 50);
  });

  test('a commit is answered once every in-sync replica holds it: a paused follower holds it back (not visible) until it leaves the ISR', async () => {
    const groupId = 'patient';
    const topic = 'patient-topic';
    await createTopic(topic);
    const partition = groupPartition(groupId, 50);
    const coordinator = await findCoordinator(groupId, 1);
    const state = await cluster.waitForPartition(offsetsTopic, partition, (candidate) => candidate.isr.length === 3 && candidate.leader === coordinator, `${offsetsTopic}-${partition} fully in sync`);
    const commit = (offset: bigint) =>
      withConnection(cluster.broker(coordinator), (connection) =>
        connection.call(offsetCommitApi, 8, {
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
        }),
      );
    let first = -1;
    await waitUntil(async () => {
      first = (await commit(5n)).topics[0]?.partitions[0]?.errorCode ?? -1;
      return !stillTakingUp(first);
    }, 'the coordinator to load');
    assert.equal(first, ErrorCode.none);

    const follower = state.replicas.find((nodeId) => nodeId !== coordinator)!;
    process.kill(cluster.broker(follower).pid, 'SIGSTOP');
    try {
      const startedMs = Date.now();
      const pending = commit(6n);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual((await fetchCommitted(coordinator, groupId, topic))[0], 5n, 'not visible while a follower in the ISR lacks it');
      let answer = (await pending).topics[0]?.partitions[0]?.errorCode;
      assert.ok(Date.now() - startedMs >= 500, 'not answered before the follower left the ISR');
      // The follower's lease lapses and the controller drops it from the ISR; the commit then passes
      // the high watermark (or, on a slow machine, timed out first: the client retries).
      await cluster.waitForPartition(offsetsTopic, partition, (candidate) => !candidate.isr.includes(follower), 'the paused follower to leave the ISR');
      while (answer === ErrorCode.coordinatorNotAvailable) answer = (await commit(6n)).topics[0]?.partitions[0]?.errorCode;
      assert.equal(answer, ErrorCode.none);
      assert.deepEqual((await fetchCommitted(coordinator, groupId, topic))[0], 6n);
    } finally {
      process.kill(cluster.broker(follower).pid, 'SIGCONT');
    }
    await cluster.waitForPartition(offsetsTopic, partition, (candidate) => candidate.isr.length === 3, 'the resumed follower to rejoin the ISR', 30_000);
  });

  test('offsets committed before kill -9 of the coordinator are served by the new one; a new consumer resumes from them', async () => {
    const topic = 'resumed';
    const groupId = 'resuming-readers';
    await createTopic(topic);
    const first = Array.from({ length: 30 }, (_, index) => `first-${index}`);
    await produce(topic, first);

    const readFirst = await readAndCommit('osprey-cluster-groups-first', groupId, topic, first.length);
    assert.deepEqual([...readFirst].sort(), [...first].sort());
    const committedBefore = await fetchCommitted(await findCoordinator(groupId, 1), groupId, topic);

    const partition = groupPartition(groupId, 50);
    const before = await cluster.waitForPartition(offsetsTopic, partition, (state) => state.isr.length === 3, `${offsetsTopic}-${partition} fully in sync`);
    const coordinator = await findCoordinator(groupId, 1);
    assert.equal(coordinator, before.leader);
    await cluster.broker(coordinator).kill9();
    const after = await cluster.waitForPartition(offsetsTopic, partition, (state) => state.leader !== coordinator && state.leader !== -1, `${offsetsTopic}-${partition} to move`);
    assert.ok(before.isr.includes(after.leader), 'the new leader comes from the ISR');
    const survivor = live()[0]!;
    assert.equal(await findCoordinator(groupId, survivor), after.leader, 'FindCoordinator answers the new leader');
    assert.deepEqual(await fetchCommitted(after.leader, groupId, topic), committedBefore, 'the new coordinator serves the offsets committed on the old one');

    const second = Array.from({ length: 30 }, (_, index) => `second-${index}`);
    await produce(topic, second);
    const readSecond = await readAndCommit('osprey-cluster-groups-second', groupId, topic, second.length);
    assert.deepEqual([...readSecond].sort(), [...second].sort(), 'only what came after the committed offsets: nothing read again from the beginning');

    await cluster.restart(coordinator);
  });

  test('a running KafkaJS consumer group carries on across kill -9 of its coordinator, never reading again what it committed', async () => {
    const topic = 'carried-on';
    const groupId = 'steady-readers';
    await createTopic(topic);
    const partition = groupPartition(groupId, 50);
    await findCoordinator(groupId, 1); // creates __consumer_offsets when this test runs alone
    // Every replica of the group's partition in sync (the broker restarted by the test before has caught up).
    await cluster.waitForPartition(offsetsTopic, partition, (state) => state.isr.length === 3, `${offsetsTopic}-${partition} fully in sync`, 30_000);
    const first = Array.from({ length: 30 }, (_, index) => `before-${index}`);
    await produce(topic, first);

    const read: string[] = [];
    const consumer = kafka('osprey-cluster-groups-steady').consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void read.push(message.value?.toString('utf8') ?? '') });
      await waitUntil(() => read.length >= first.length, 'the consumer to read every record', 30_000, () => `${read.length} read`);
      await waitUntilCommittedToEnd(groupId, topic);

      const coordinator = await findCoordinator(groupId, live()[0]!);
      await cluster.broker(coordinator).kill9();
      const moved = await cluster.waitForPartition(offsetsTopic, partition, (state) => state.leader !== coordinator && state.leader !== -1, `${offsetsTopic}-${partition} to move`);

      const second = Array.from({ length: 30 }, (_, index) => `after-${index}`);
      await produce(topic, second);
      await waitUntil(() => read.length >= first.length + second.length, 'the consumer to read the records written after the kill', 60_000, () => `${read.length} read`);
      const ends = await waitUntilCommittedToEnd(groupId, topic);
      assert.equal(await findCoordinator(groupId, live()[0]!), moved.leader, 'the group is coordinated by the new leader');
      assert.equal(ends.reduce((sum, end) => sum + end, 0n), 60n);
      // What was committed before the kill is never read again; every record is read. The group comes
      // back Empty on the new coordinator (members are not stored), so the consumer rejoins and may read
      // again what it read after the kill and before its rejoin: those offsets were not committed.
      assert.deepEqual(read.filter((value) => value.startsWith('before-')).sort(), [...first].sort(), 'no re-reading from the beginning');
      assert.deepEqual([...new Set(read.filter((value) => value.startsWith('after-')))].sort(), [...second].sort(), 'every record written after the kill');
      await cluster.restart(coordinator);
    } finally {
      await consumer.disconnect();
    }
  });
});
