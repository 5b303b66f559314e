/**
 * Reassignment and leader election on request (docs/cluster.md, "Reassignment" and "Preferred
 * leader election"), on a real etcd and real broker processes: AlterPartitionReassignments moves a
 * partition from [1, 2] to [2, 3] under KafkaJS acks=all traffic; broker 3 catches up and holds
 * every acknowledged record (read from it once it leads), broker 1 deletes its copy, leadership
 * leaves broker 1; ListPartitionReassignments shows the reassignment while it waits for broker 3;
 * ElectLeaders brings leadership back to the preferred replica after a restart.
 *
 * Oracles: etcd's partition keys, the data directories, KafkaJS's admin (listPartitionReassignments)
 * and raw requests, and the records each replica serves once it leads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { partitionDirectoryName } from '../../src/broker/broker.js';
import { brokersPrefix } from '../../src/cluster/keys.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse } from '../../src/protocol/kafka/messages/alter-partition-reassignments.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { electLeadersRequest, electLeadersResponse } from '../../src/protocol/kafka/messages/elect-leaders.js';
import { listPartitionReassignmentsRequest, listPartitionReassignmentsResponse } from '../../src/protocol/kafka/messages/list-partition-reassignments.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import { assertSucceeded, osprey, ospreyJson } from '../helpers/osprey-cli.js';
import type { TestCluster } from '../helpers/cluster.js';
import { PartitionReader } from '../helpers/partition-reader.js';
import { rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const alterApi = rawApi(alterPartitionReassignmentsRequest, alterPartitionReassignmentsResponse);
const listApi = rawApi(listPartitionReassignmentsRequest, listPartitionReassignmentsResponse);
const electApi = rawApi(electLeadersRequest, electLeadersResponse);

describe('a cluster: reassignment and leader election on request', () => {
  let cluster: TestCluster;
  const broker = (nodeId: number): BrokerProcess => cluster.broker(nodeId);

  before(async () => {
    cluster = await startTestCluster({ nodeIds: [1, 2, 3] });
  });
  after(async () => {
    await cluster.stop();
  });

  async function create(topic: string, replicas: number[]): Promise<void> {
    const answer = await withConnection(broker(1), (connection) =>
      connection.call(createTopicsApi, 7, { topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: replicas }], configs: [] }], timeoutMs: 10_000, validateOnly: false }),
    );
    assert.equal(answer.topics[0]?.errorCode, ErrorCode.none, answer.topics[0]?.errorMessage ?? '');
  }

  /** Waits until every broker is registered (one paused or restarted by a test registers again). */
  async function allRegistered(): Promise<void> {
    await waitUntil(async () => (await cluster.store.rangeByPrefix(brokersPrefix)).entries.length === cluster.brokers.size, 'every broker to be registered', 20_000);
  }

  async function reassign(nodeId: number, topic: string, replicas: number[] | null): Promise<{ errorCode: number; errorMessage: string | null }> {
    const answer = await withConnection(broker(nodeId), (connection) =>
      connection.call(alterApi, 1, { timeoutMs: 10_000, allowReplicationFactorChange: true, topics: [{ name: topic, partitions: [{ partitionIndex: 0, replicas }] }] }),
    );
    assert.equal(answer.errorCode, ErrorCode.none);
    const partition = answer.responses[0]?.partitions[0];
    assert.ok(partition);
    return { errorCode: partition.errorCode, errorMessage: partition.errorMessage };
  }

  async function elect(nodeId: number, topic: string): Promise<{ topLevel: number; partition: number | undefined }> {
    const answer = await withConnection(broker(nodeId), (connection) => connection.call(electApi, 2, { electionType: 0, topicPartitions: [{ topic, partitions: [0] }], timeoutMs: 10_000 }));
    return { topLevel: answer.errorCode, partition: answer.replicaElectionResults[0]?.partitionResult[0]?.errorCode };
  }

  async function readValues(bootstrapNodeId: number, topic: string): Promise<string[]> {
    const reader = new PartitionReader(broker(bootstrapNodeId).bootstrap, 'osprey-reassignment-reader');
    try {
      const contents = await reader.readPartition(topic, 0);
      return contents.records.map((record) => record.value?.toString('utf8') ?? '');
    } finally {
      await reader.close();
    }
  }

  test('[1, 2] → [2, 3] under acks=all traffic: broker 3 holds every acknowledged record, broker 1 deletes its copy, leadership leaves broker 1', async () => {
    // Broker 3 is paused below: it must not be the controller, which KafkaJS's admin talks to.
    if ((await cluster.controller())?.nodeId === 3) {
      await broker(3).stop();
      await waitUntil(async () => ![null, 3].includes((await cluster.controller())?.nodeId ?? null), 'another controller');
      await cluster.restart(3);
      await allRegistered();
    }
    await create('moving', [1, 2]);
    await cluster.waitForPartition('moving', 0, (state) => state.isr.length === 2, 'the ISR to hold both replicas');
    const kafka = new Kafka({ clientId: 'osprey-reassignment', brokers: [broker(2).bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    const acknowledged: string[] = [];
    let producing = true;
    // Keeps producing through the reassignment (and the move of leadership it ends with).
    const traffic = (async () => {
      for (let round = 0; producing || round < 5; round++) {
        const messages = Array.from({ length: 10 }, (_, index) => ({ value: `r${round}-m${index}` }));
        await producer.send({ topic: 'moving', acks: -1, messages });
        acknowledged.push(...messages.map((message) => message.value));
      }
    })();
    try {
      await waitUntil(() => acknowledged.length >= 50, 'records acknowledged before the reassignment');
      // Broker 3 is paused: the reassignment cannot end before it catches up, so it can be listed.
      process.kill(broker(3).pid, 'SIGSTOP');
      let resumed = false;
      try {
        assert.deepEqual(await reassign(2, 'moving', [2, 3]), { errorCode: ErrorCode.none, errorMessage: null });
        const started = await cluster.partition('moving', 0);
        assert.ok(started !== null);
        assert.deepEqual(started.replicas, [2, 3, 1], 'target first, then the replica leaving');
        assert.deepEqual(started.addingReplicas, [3]);
        assert.deepEqual(started.removingReplicas, [1]);
        assert.equal(started.leader, 1, 'starting a reassignment moves no leadership');
        const listed = await admin.listPartitionReassignments({ topics: [{ topic: 'moving', partitions: [0] }] });
        // KafkaJS hands the topics on as decoded (its typings say `topic`; the field is `name`).
        assert.deepEqual(listed.topics as unknown, [{ name: 'moving', partitions: [{ partition: 0, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] }] }]);
        const raw = await withConnection(broker(1), (connection) => connection.call(listApi, 0, { timeoutMs: 5000, topics: null }));
        assert.deepEqual(raw.topics.map((topic) => topic.name), ['moving'], 'every reassignment under way, from another broker');
        process.kill(broker(3).pid, 'SIGCONT');
        resumed = true;
      } finally {
        if (!resumed) process.kill(broker(3).pid, 'SIGCONT');
      }
      const ended = await cluster.waitForPartition('moving', 0, (state) => state.addingReplicas === undefined && state.replicas.length === 2, 'the reassignment to end', 40_000);
      assert.deepEqual(ended.replicas, [2, 3]);
      assert.deepEqual([...ended.isr].sort(), [2, 3]);
      assert.equal(ended.leader, 2, 'the leader being removed handed over to the first target replica');
      await waitUntil(() => !existsSync(join(broker(1).dataDir, partitionDirectoryName('moving', 0))), 'broker 1 to delete its copy');
      assert.deepEqual((await admin.listPartitionReassignments({})).topics, [], 'nothing under way any more');
    } finally {
      producing = false;
      await traffic;
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    }
    assert.ok(acknowledged.length >= 100);
    // Compared each once, in order of first appearance: KafkaJS's producer (not idempotent) sends a
    // batch again when leadership moves before its answer, so a batch the first attempt wrote may
    // be stored twice (at least once, as with Kafka). No acknowledged record may be missing.
    const readValuesBefore = readValues(3, 'moving');
    assert.deepEqual([...new Set(await readValuesBefore)], acknowledged, 'read from broker 2, the leader');
    // Broker 3 on its own: it leads once broker 2 is gone, and serves every acknowledged record.
    await broker(2).stop();
    await cluster.waitForPartition('moving', 0, (state) => state.leader === 3, 'broker 3 to lead');
    const fromBroker3 = await readValues(3, 'moving');
    assert.deepEqual([...new Set(fromBroker3)], acknowledged, 'read from broker 3, the replica added');
    assert.deepEqual(fromBroker3, await readValuesBefore, 'broker 3 holds exactly what broker 2 led');
    await cluster.restart(2);
    await allRegistered();
  });

  test('ElectLeaders brings leadership back to the preferred replica after a restart; NOT_CONTROLLER elsewhere; not needed when it leads', async () => {
    await allRegistered();
    await create('preferred', [1, 2, 3]);
    await cluster.waitForPartition('preferred', 0, (state) => state.isr.length === 3, 'the ISR to hold every replica');
    await broker(1).stop();
    const moved = await cluster.waitForPartition('preferred', 0, (state) => state.leader !== 1 && state.leader !== -1, 'leadership to leave broker 1');
    await cluster.restart(1);
    await cluster.waitForPartition('preferred', 0, (state) => state.isr.includes(1), 'broker 1 to rejoin the ISR');
    assert.equal((await cluster.partition('preferred', 0))?.leader, moved.leader, 'a returning broker does not take leadership back by itself');

    const controller = await cluster.controller();
    assert.ok(controller !== null);
    const other = [1, 2, 3].find((nodeId) => nodeId !== controller.nodeId)!;
    assert.deepEqual(await elect(other, 'preferred'), { topLevel: ErrorCode.notController, partition: ErrorCode.notController });
    assert.deepEqual(await elect(controller.nodeId, 'preferred'), { topLevel: ErrorCode.none, partition: ErrorCode.none });
    const back = await cluster.partition('preferred', 0);
    assert.equal(back?.leader, 1);
    assert.equal(back?.leaderEpoch, moved.leaderEpoch + 1);
    assert.deepEqual(await elect(controller.nodeId, 'preferred'), { topLevel: ErrorCode.none, partition: ErrorCode.electionNotNeeded });
  });

  test('the CLI: a broker added, osprey topic reassign --wait, osprey broker drain empties a broker, osprey cluster elect-leaders', async () => {
    // A fourth broker, so that broker 3's replicas of the three-replica topic above have somewhere to go.
    await cluster.startBroker(4);
    await allRegistered();
    const created = await osprey(broker(1), ['topic', 'create', 'drained', '--partitions', '3', '--replication-factor', '2']);
    assertSucceeded(created);
    for (let index = 0; index < 3; index++) await cluster.waitForPartition('drained', index, (state) => state.isr.length === 2, 'the ISR to hold both replicas');
    const kafka = new Kafka({ clientId: 'osprey-drain', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, index) => ({ partition: index % 3, value: `d${index}` }));
    try {
      await producer.send({ topic: 'drained', acks: -1, messages: sent });
    } finally {
      await producer.disconnect();
    }

    // One partition onto a broker it is not on, with --wait.
    const before = await cluster.partition('drained', 0);
    assert.ok(before !== null);
    const spare = [1, 2, 3, 4].find((nodeId) => !before.replicas.includes(nodeId))!;
    const target = [spare, before.replicas[0]!];
    const moved = await ospreyJson<{ errorCode: number; done: boolean }>(broker(1), ['topic', 'reassign', 'drained', '--partition', '0', '--replicas', target.join(','), '--wait']);
    assert.deepEqual(moved, { ...moved, errorCode: 0, done: true });
    const after = await cluster.partition('drained', 0);
    assert.deepEqual(after?.replicas, target);
    assert.equal(after?.addingReplicas, undefined);

    // Drain broker 3: no partition keeps a replica on it, replication factors kept, its folders gone.
    const drained = await ospreyJson<{ broker: number; partitions: { status: string; to: number[] }[]; done: boolean }>(broker(1), ['broker', 'drain', '3']);
    assert.equal(drained.done, true, JSON.stringify(drained));
    assert.ok(drained.partitions.every((entry) => entry.status === 'moved' && !entry.to.includes(3)), JSON.stringify(drained));
    for (const topic of ['drained', 'moving', 'preferred']) {
      const states = await cluster.partitions(topic);
      assert.ok(states.every((state) => !state.replicas.includes(3) && state.leader !== 3), JSON.stringify(states));
    }
    assert.ok((await cluster.partitions('drained')).every((state) => state.replicas.length === 2), 'replication factor kept');
    assert.equal((await cluster.partition('preferred', 0))?.replicas.length, 3, 'replication factor kept');
    await waitUntil(() => [0, 1, 2].every((index) => !existsSync(join(broker(3).dataDir, partitionDirectoryName('drained', index)))), 'broker 3 to delete its copies');
    const again = await ospreyJson<{ partitions: unknown[] }>(broker(1), ['broker', 'drain', '3']);
    assert.deepEqual(again.partitions, [], 'nothing left on broker 3');

    // Every record is still there.
    for (let index = 0; index < 3; index++) {
      const reader = new PartitionReader(broker(1).bootstrap, 'osprey-drain-reader');
      try {
        const values = (await reader.readPartition('drained', index)).records.map((record) => record.value?.toString('utf8'));
        assert.deepEqual(values, sent.filter((message) => message.partition === index).map((message) => message.value));
      } finally {
        await reader.close();
      }
    }

    // Preferred leaders: every partition led by its first replica afterwards (or already was).
    const elected = await osprey(broker(2), ['cluster', 'elect-leaders', '--topic', 'drained']);
    assertSucceeded(elected);
    assert.match(elected.stdout, /elected/);
    const led = await cluster.partitions('drained');
    assert.ok(led.every((state) => state.leader === state.replicas[0]), JSON.stringify(led));
  });

  test('refusals: cancelling nothing, an unknown broker, an unknown partition', async () => {
    await create('refused', [1, 2]);
    assert.equal((await reassign(1, 'refused', null)).errorCode, ErrorCode.noReassignmentInProgress);
    assert.equal((await reassign(1, 'refused', [1, 9])).errorCode, ErrorCode.invalidReplicaAssignment);
    assert.equal((await reassign(1, 'refused', [1, 1])).errorCode, ErrorCode.invalidReplicaAssignment);
    assert.equal((await reassign(1, 'no-such-topic', [1, 2])).errorCode, ErrorCode.unknownTopicOrPartition);
    // KafkaJS's admin (v0, to the controller): the same brokers in another order only reorder them.
    const kafka = new Kafka({ clientId: 'osprey-reorder', brokers: [broker(1).bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.alterPartitionReassignments({ topics: [{ topic: 'refused', partitionAssignment: [{ partition: 0, replicas: [2, 1] }] }] });
    } finally {
      await admin.disconnect();
    }
    const reordered = await cluster.partition('refused', 0);
    assert.deepEqual([reordered?.replicas, reordered?.addingReplicas, reordered?.leader], [[2, 1], undefined, 1]);
  });

  test('cancelling a reassignment under way: back to the replicas before it, the broker being added left out', async () => {
    await allRegistered();
    await create('cancelled', [1, 2]);
    // Brokers 3 and 4 are live by now; the one paused below is not the controller (clients talk to it).
    const controllerId = (await cluster.controller())?.nodeId;
    const target = [...cluster.brokers.keys()].find((nodeId) => nodeId > 2 && nodeId !== controllerId)!;
    // Paused, the broker being added cannot catch up, so the reassignment stays under way.
    process.kill(broker(target).pid, 'SIGSTOP');
    try {
      assert.deepEqual(await reassign(1, 'cancelled', [1, 2, target]), { errorCode: ErrorCode.none, errorMessage: null });
      assert.deepEqual((await cluster.partition('cancelled', 0))?.addingReplicas, [target]);
      assert.deepEqual(await reassign(2, 'cancelled', null), { errorCode: ErrorCode.none, errorMessage: null });
    } finally {
      process.kill(broker(target).pid, 'SIGCONT');
    }
    const state = await cluster.partition('cancelled', 0);
    assert.deepEqual(state?.replicas, [1, 2]);
    assert.equal(state?.addingReplicas, undefined);
    assert.equal((await reassign(1, 'cancelled', null)).errorCode, ErrorCode.noReassignmentInProgress);
    await allRegistered();
  });
});
