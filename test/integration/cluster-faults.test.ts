/**
 * Cluster faults (docs/cluster.md, "Faults"), on a real etcd and three real broker processes, each
 * test on a cluster of its own: kill -9 of a partition leader while idempotent producers stream with
 * acks=all, a leader paused (SIGSTOP) for longer than its lease and then resumed, a broker restarted
 * with an empty data directory, etcd paused while clients go on, and a leader, a follower or the
 * controller cut off from etcd (its own TCP proxy to etcd cut, test/helpers/tcp-proxy.ts) while it
 * keeps running and talking to clients and the other brokers.
 *
 * Oracles: etcd's keys read directly (partition states, the producer id block), Produce answers of
 * the brokers (raw requests, so a resumed old leader can be asked before it catches up), what the
 * partitions hold read back with @platformatic/kafka (PartitionReader) from whichever broker leads,
 * a follower's segment files read while it runs, and what KafkaJS producers and a KafkaJS consumer
 * group were told and received.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { brokerKey, decodePartition, decodeProducerIdBlock, partitionKey, producerIdBlockKey } from '../../src/cluster/keys.js';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import type { Watch } from '../../src/cluster/cluster-store.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { initProducerIdRequest, initProducerIdResponse } from '../../src/protocol/kafka/messages/init-producer-id.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { ControllerState, TestCluster } from '../helpers/cluster.js';
import { readPartitionValues, valuesOnDisk } from '../helpers/partition-reader.js';
import { encodeRecordBatch, processIsAlive, rawApi, RawKafkaConnection, withConnection } from '../helpers/raw-kafka-client.js';
import type { BatchOptions } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const { Kafka, logLevel } = kafkajs;

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const produceApi = rawApi(produceRequest, produceResponse);
const initProducerIdApi = rawApi(initProducerIdRequest, initProducerIdResponse);
const zeroTopicId = Buffer.alloc(16);

interface ProduceAnswer {
  readonly errorCode: number;
  readonly baseOffset: bigint;
}

function createTopicRequest(topic: string, assignments: readonly (readonly number[])[], timeoutMs = 10_000) {
  return {
    topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds: [...brokerIds] })), configs: [] }],
    timeoutMs,
    validateOnly: false,
  };
}

/** Creates the topic with these replicas per partition (first: the leader) and waits until every ISR is complete. */
async function createReplicated(cluster: TestCluster, topic: string, assignments: readonly (readonly number[])[]): Promise<void> {
  await cluster.createTopic(topic, assignments);
  for (const [index, replicas] of assignments.entries()) {
    await cluster.waitForPartition(topic, index, (state) => state.isr.length === replicas.length, `${topic}/${index}: the ISR to hold every replica`);
  }
}

function produceBody(topic: string, partition: number, acks: number, records: Buffer, timeoutMs: number) {
  return { acks, timeoutMs, transactionalId: null, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: partition, records }] }] };
}

async function produceOn(connection: RawKafkaConnection, topic: string, partition: number, acks: number, records: Buffer, timeoutMs = 5000): Promise<ProduceAnswer> {
  const answer = await connection.call(produceApi, 9, produceBody(topic, partition, acks, records, timeoutMs), timeoutMs + 10_000);
  const result = answer.responses[0]?.partitionResponses[0];
  assert.ok(result !== undefined);
  return { errorCode: result.errorCode, baseOffset: result.baseOffset };
}

function produceTo(broker: BrokerProcess, topic: string, partition: number, acks: number, records: Buffer, timeoutMs = 5000): Promise<ProduceAnswer> {
  return withConnection(broker, (connection) => produceOn(connection, topic, partition, acks, records, timeoutMs));
}

function batchOf(values: readonly string[], options: BatchOptions = {}): Buffer {
  return encodeRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })), options);
}

/** The values of one partition, read from its leader (asked through `bootstrap`), offsets checked to run 0, 1, 2 … */
function readValues(bootstrap: BrokerProcess, topic: string, partition: number): Promise<string[]> {
  return readPartitionValues(bootstrap.bootstrap, topic, partition, 'osprey-faults-reader', '<null>');
}

/** Waits until etcd names a leader other than `former` (and not -1), and returns that state. */
function newLeader(cluster: TestCluster, topic: string, index: number, former: number): Promise<PartitionRecord> {
  return cluster.waitForPartition(topic, index, (state) => state.leader !== former && state.leader !== -1, `${topic}/${index}: a leader other than broker ${former}`);
}

/** Waits until etcd names a controller other than broker `former`, and returns it. */
async function newController(cluster: TestCluster, former: number): Promise<ControllerState> {
  let found: ControllerState | null = null;
  await waitUntil(
    async () => {
      const current = await cluster.controller();
      if (current === null || current.nodeId === former) return false;
      found = current;
      return true;
    },
    `a controller other than broker ${former}`,
    20_000,
  );
  const result = found as ControllerState | null;
  assert.ok(result !== null);
  return result;
}

function allLogs(cluster: TestCluster): string {
  return [...cluster.brokers].map(([nodeId, broker]) => `\n--- broker ${nodeId} ---\n${broker.logs().split('\n').slice(-40).join('\n')}`).join('');
}

test('producer ids come from etcd blocks, unique across brokers; a new leader, and a follower restarted then leading, recognise a retried batch and refuse a sequence gap as the old leader would', async () => {
  const cluster = await startTestCluster();
  try {
    // Every broker reserves its own block in etcd: ids never collide, whichever broker a producer asks.
    const ids: bigint[] = [];
    for (const nodeId of [1, 2, 3]) {
      for (let round = 0; round < 3; round++) {
        const answer = await withConnection(cluster.broker(nodeId), (connection) => connection.call(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 }));
        assert.equal(answer.errorCode, ErrorCode.none);
        ids.push(answer.producerId);
      }
    }
    assert.equal(new Set(ids).size, ids.length, `ids handed out: ${ids.join(', ')}`);
    const blocks = new Set(ids.map((id) => id / 1000n));
    assert.equal(blocks.size, 3, `one block per broker: ${ids.join(', ')}`);
    const block = await cluster.store.get(producerIdBlockKey);
    assert.ok(block !== null);
    assert.deepEqual(decodeProducerIdBlock(block.value), { nextProducerId: 3000 });

    await createReplicated(cluster, 'retried', [[1, 2, 3]]);
    const producer = { producerId: ids[0]!, producerEpoch: 0 };
    assert.deepEqual(await produceTo(cluster.broker(1), 'retried', 0, -1, batchOf(['a0', 'a1', 'a2'], { ...producer, baseSequence: 0 })), { errorCode: ErrorCode.none, baseOffset: 0n });
    const second = batchOf(['a3', 'a4'], { ...producer, baseSequence: 3 });
    assert.deepEqual(await produceTo(cluster.broker(1), 'retried', 0, -1, second), { errorCode: ErrorCode.none, baseOffset: 3n });

    // The leader dies; a follower, which rebuilt the producer's state from the batches it fetched, leads.
    await cluster.broker(1).kill9();
    const moved = await newLeader(cluster, 'retried', 0, 1);
    const leader = cluster.broker(moved.leader);
    // The retry of an acknowledged batch (its answer lost with the old leader): the original offset, not written again.
    assert.deepEqual(await produceTo(leader, 'retried', 0, -1, Buffer.from(second)), { errorCode: ErrorCode.none, baseOffset: 3n });
    // A gap in the sequence is refused, as the old leader would have refused it.
    assert.equal((await produceTo(leader, 'retried', 0, -1, batchOf(['gap'], { ...producer, baseSequence: 9 }))).errorCode, ErrorCode.outOfOrderSequenceNumber);
    assert.deepEqual(await produceTo(leader, 'retried', 0, -1, batchOf(['a5'], { ...producer, baseSequence: 5 })), { errorCode: ErrorCode.none, baseOffset: 5n });
    assert.deepEqual(await readValues(leader, 'retried', 0), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);

    // The other follower crashes and restarts: it rebuilds the producer's state from its own log
    // (snapshot and replay, as a single broker), catches up, and deduplicates once it leads.
    const followerId = moved.leader === 2 ? 3 : 2;
    await cluster.broker(followerId).kill9();
    await cluster.waitForPartition('retried', 0, (state) => !state.isr.includes(followerId), `broker ${followerId} to leave the ISR`);
    await cluster.restart(followerId);
    await cluster.waitForPartition('retried', 0, (state) => state.isr.includes(followerId), `broker ${followerId} to rejoin the ISR`);
    await cluster.broker(moved.leader).kill9();
    await cluster.waitForPartition('retried', 0, (state) => state.leader === followerId, `broker ${followerId} to lead`);
    const last = cluster.broker(followerId);
    assert.deepEqual(await produceTo(last, 'retried', 0, -1, batchOf(['a5'], { ...producer, baseSequence: 5 })), { errorCode: ErrorCode.none, baseOffset: 5n });
    assert.equal((await produceTo(last, 'retried', 0, -1, batchOf(['gap'], { ...producer, baseSequence: 9 }))).errorCode, ErrorCode.outOfOrderSequenceNumber);
    assert.deepEqual(await readValues(last, 'retried', 0), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  } finally {
    await cluster.stop();
  }
});

test('kill -9 of the leader while idempotent KafkaJS producers stream with acks=all: every acknowledged record once, in send order per producer and partition; a consumer group carries on', { timeout: 180_000 }, async (t) => {
  const cluster = await startTestCluster();
  const topic = 'streamed';
  const partitionCount = 3;
  const producerCount = 2;
  const sendCount = 60;
  const recordsPerSend = 6;
  const killAfterSends = 20;
  let consumer: kafkajs.Consumer | undefined;
  try {
    // Broker 1 leads every partition, so the kill hits every stream.
    await createReplicated(cluster, topic, [[1, 2, 3], [1, 3, 2], [1, 2, 3]]);
    const bootstraps = [1, 2, 3].map((nodeId) => cluster.broker(nodeId).bootstrap);
    const retry = { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 };
    const kafka = new Kafka({ clientId: 'osprey-faults', brokers: bootstraps, logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 10_000, retry });

    const received = new Set<string>();
    consumer = kafka.consumer({ groupId: 'faults-group', sessionTimeout: 10_000, heartbeatInterval: 500, retry });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.add(message.value?.toString('utf8') ?? '<null>');
      },
    });

    /** expected[producer][partition]: the values acknowledged, in send order. */
    const expected = Array.from({ length: producerCount }, () => Array.from({ length: partitionCount }, () => [] as string[]));
    let acknowledgedSends = 0;
    let applicationRetries = 0;
    const stream = async (producerIndex: number): Promise<void> => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
      await producer.connect();
      try {
        for (let send = 0; send < sendCount; send++) {
          const messages = Array.from({ length: recordsPerSend }, (_, index) => ({ partition: index % partitionCount, value: `p${producerIndex}-s${send}-r${index}` }));
          for (let attempt = 0; ; attempt++) {
            try {
              await producer.send({ topic, messages, acks: -1, timeout: 10_000 });
              break;
            } catch (error) {
              // KafkaJS gave up: the application sends again (KafkaJS keeps the sequence numbers it gave).
              if (attempt >= 5) throw error;
              applicationRetries++;
              await sleep(300);
            }
          }
          for (const message of messages) expected[producerIndex]![message.partition]!.push(message.value);
          acknowledgedSends++;
        }
      } finally {
        await producer.disconnect().catch(() => undefined);
      }
    };
    const killer = (async () => {
      while (acknowledgedSends < killAfterSends) await sleep(5);
      await cluster.broker(1).kill9();
    })();
    await Promise.all([stream(0), stream(1), killer]);

    const leaders = await Promise.all(Array.from({ length: partitionCount }, (_, index) => newLeader(cluster, topic, index, 1)));
    t.diagnostic(`${producerCount * sendCount * recordsPerSend} records acknowledged; new leaders ${leaders.map((state) => state.leader).join(', ')}; ${applicationRetries} sends retried by the test`);
    const problems: string[] = [];
    let stored = 0;
    for (let partition = 0; partition < partitionCount; partition++) {
      const values = await readValues(cluster.broker(2), topic, partition);
      stored += values.length;
      for (let producerIndex = 0; producerIndex < producerCount; producerIndex++) {
        const mine = values.filter((value) => value.startsWith(`p${producerIndex}-`));
        const wanted = expected[producerIndex]![partition]!;
        if (JSON.stringify(mine) !== JSON.stringify(wanted)) {
          const firstDifference = mine.findIndex((value, index) => value !== wanted[index]);
          problems.push(`partition ${partition}, producer ${producerIndex}: ${mine.length} stored, ${wanted.length} acknowledged; first difference at ${firstDifference}: ${mine[firstDifference]} where ${wanted[firstDifference]} was sent`);
        }
      }
    }
    assert.deepEqual(problems, [], problems.join('\n') + allLogs(cluster));
    assert.equal(stored, producerCount * sendCount * recordsPerSend, 'nothing stored besides the acknowledged records');

    // The consumer group went on through the failover and got every record (at least once).
    const all = expected.flat(2);
    await waitUntil(() => all.every((value) => received.has(value)), 'the consumer group to receive every record', 60_000, () => `${all.filter((value) => !received.has(value)).length} of ${all.length} missing`);
  } finally {
    await consumer?.disconnect().catch(() => undefined);
    await cluster.stop();
  }
});

test('a leader paused past its lease, then resumed: it acknowledges no acks=all write it cannot keep, and follows the new leader', async (t) => {
  const cluster = await startTestCluster();
  const topic = 'paused';
  try {
    await createReplicated(cluster, topic, [[1, 2, 3]]);
    assert.deepEqual(await produceTo(cluster.broker(1), topic, 0, -1, batchOf(['before'])), { errorCode: ErrorCode.none, baseOffset: 0n });
    // Connections to the leader, opened before it is paused: requests queued in its socket before
    // etcd moves the leadership (so it may read them before it learns of the change: then it
    // appends them and waits for its followers), and one after.
    const earlyConnections = await Promise.all(Array.from({ length: 4 }, () => RawKafkaConnection.open(cluster.broker(1).host, cluster.broker(1).port)));
    const lateConnection = await RawKafkaConnection.open(cluster.broker(1).host, cluster.broker(1).port);
    try {
      process.kill(cluster.broker(1).pid, 'SIGSTOP');
      let resumed = false;
      try {
        const early = earlyConnections.map((connection, index) => produceOn(connection, topic, 0, -1, batchOf([`queued before the change ${index}`]), 3000));
        const moved = await newLeader(cluster, topic, 0, 1);
        assert.ok(!moved.isr.includes(1), 'the paused broker left the ISR');
        assert.ok(moved.leaderEpoch > 0);
        const leader = cluster.broker(moved.leader);
        assert.deepEqual(await produceTo(leader, topic, 0, -1, batchOf(['through the new leader'])), { errorCode: ErrorCode.none, baseOffset: 1n });
        const late = produceOn(lateConnection, topic, 0, -1, batchOf(['queued after the change']), 3000);
        await sleep(100);
        process.kill(cluster.broker(1).pid, 'SIGCONT');
        resumed = true;
        const refusals: readonly number[] = [ErrorCode.requestTimedOut, ErrorCode.notLeaderOrFollower];
        const answers = [...(await Promise.all(early)).map((answer) => answer.errorCode), (await late).errorCode];
        t.diagnostic(`the resumed old leader answered error codes ${answers.join(', ')}`);
        for (const errorCode of answers) assert.ok(refusals.includes(errorCode), `the resumed old leader answered acks=all with error code ${errorCode}`);
        // It learns the new state and follows the new leader.
        await cluster.broker(1).waitForLog(new RegExp(`INFO following partition .*topic=${topic} partition=0 leader=${moved.leader} leaderEpoch=${moved.leaderEpoch}`), 20_000);
        assert.equal((await produceTo(cluster.broker(1), topic, 0, -1, batchOf(['refused']))).errorCode, ErrorCode.notLeaderOrFollower);
        assert.deepEqual(await readValues(leader, topic, 0), ['before', 'through the new leader'], 'the new leader holds what was acknowledged, and only that');
      } finally {
        if (!resumed) process.kill(cluster.broker(1).pid, 'SIGCONT');
      }
    } finally {
      for (const connection of earlyConnections) connection.destroy();
      lateConnection.destroy();
    }
  } finally {
    await cluster.stop();
  }
});

test('a broker restarted with an empty data directory fetches its partitions again, rejoins the ISR, and holds every record', async () => {
  const cluster = await startTestCluster();
  const topic = 'refilled';
  try {
    await createReplicated(cluster, topic, [[1, 2, 3], [2, 3, 1]]);
    const expected: string[][] = [[], []];
    for (let round = 0; round < 20; round++) {
      for (const partition of [0, 1]) {
        const values = [`p${partition}-r${round}-a`, `p${partition}-r${round}-b`];
        const leader = partition === 0 ? 1 : 2;
        assert.equal((await produceTo(cluster.broker(leader), topic, partition, -1, batchOf(values))).errorCode, ErrorCode.none);
        expected[partition]!.push(...values);
      }
    }
    // Broker 3 loses its disk: killed, then started on a new, empty directory under the same node id.
    const formerDataDir = cluster.broker(3).dataDir;
    await cluster.broker(3).kill9();
    for (const partition of [0, 1]) await cluster.waitForPartition(topic, partition, (state) => !state.isr.includes(3), `${topic}/${partition}: broker 3 to leave the ISR`);
    const emptied = await cluster.startBroker(3);
    assert.notEqual(emptied.dataDir, formerDataDir);
    for (const partition of [0, 1]) await cluster.waitForPartition(topic, partition, (state) => state.isr.includes(3), `${topic}/${partition}: broker 3 to rejoin the ISR`, 30_000);

    // What broker 3 holds, read once it is the only broker left (so it leads both partitions).
    await cluster.broker(1).stop();
    await cluster.broker(2).stop();
    for (const partition of [0, 1]) await cluster.waitForPartition(topic, partition, (state) => state.leader === 3, `${topic}/${partition}: broker 3 to lead`);
    for (const partition of [0, 1]) assert.deepEqual(await readValues(emptied, topic, partition), expected[partition], `${topic}/${partition} as broker 3 holds it`);
  } finally {
    await cluster.stop();
  }
});

test('a follower restarted at once on an empty data directory, registered again before the controller acted on its leaving, leaves the ISR before it counts, rejoins once caught up, and never leads before that', async () => {
  // Leases of 6 s, so the controller can be paused across the victim's lapse and return without
  // losing its own (paused at most about 3.2 s; it renews every 2 s).
  const leaseTtlSeconds = 6;
  const cluster = await startTestCluster({ leaseTtlSeconds });
  const topic = 'refenced';
  try {
    const controller = await cluster.controller();
    assert.ok(controller !== null);
    // The victim is a follower that is not the controller; the leader is one of the other two.
    const victim = controller.nodeId === 3 ? 2 : 3;
    const [leader, other] = [1, 2, 3].filter((nodeId) => nodeId !== victim) as [number, number];
    await createReplicated(cluster, topic, [[leader, other, victim]]);
    const expected: string[] = [];
    for (let round = 0; round < 20; round++) {
      const values = [`r${round}-a`, `r${round}-b`];
      assert.equal((await produceTo(cluster.broker(leader), topic, 0, -1, batchOf(values))).errorCode, ErrorCode.none);
      expected.push(...values);
    }
    const formerRegistration = await cluster.store.get(brokerKey(victim));
    assert.ok(formerRegistration !== null);

    // The victim loses its disk and is started again at once under the same node id: it registers
    // as soon as its old lease lapses. The controller is paused across that moment, so that it sees
    // the leaving and the new registration only together (as when a pass is slow or a controller
    // is being elected).
    const killedAtMs = Date.now();
    await cluster.broker(victim).kill9();
    const restarting = cluster.startBroker(victim);
    await sleep(Math.max(0, leaseTtlSeconds * 1000 * (2 / 3) - 300 - (Date.now() - killedAtMs)));
    let registeredAt = formerRegistration.createRevision;
    process.kill(cluster.broker(controller.nodeId).pid, 'SIGSTOP');
    try {
      await waitUntil(
        async () => {
          registeredAt = (await cluster.store.get(brokerKey(victim)))?.createRevision ?? formerRegistration.createRevision;
          return registeredAt !== formerRegistration.createRevision;
        },
        `broker ${victim} to register again`,
        10_000,
      );
    } finally {
      process.kill(cluster.broker(controller.nodeId).pid, 'SIGCONT');
    }
    const emptied = await restarting;

    // Rejoins once caught up (its leader adds it back).
    await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(victim) && state.leader === leader, `${topic}/0: broker ${victim} back in the ISR`, 30_000);

    // Every partition state written since the new registration: the first takes the victim out of
    // the ISR, and none names it leader.
    const states: PartitionRecord[] = [];
    const watch = await cluster.store.watchPrefix(partitionKey(topic, 0), {
      fromRevision: registeredAt,
      onEvent: (event) => {
        if (event.type === 'put') {
          const state = decodePartition(event.entry.value);
          if (!(state instanceof Error)) states.push(state);
        }
      },
      onError: () => undefined,
    });
    await waitUntil(() => states.some((state) => state.isr.includes(victim)), 'the watch to replay the states since the registration', 5000, () => JSON.stringify(states));
    await watch.cancel();
    assert.ok(states.length >= 2, `states since broker ${victim} registered again: ${JSON.stringify(states)}`);
    assert.ok(!states[0]!.isr.includes(victim), `broker ${victim} left the ISR first: ${JSON.stringify(states)}${allLogs(cluster)}`);
    assert.ok(states.every((state) => state.leader !== victim), `broker ${victim} never led: ${JSON.stringify(states)}`);

    // Every acknowledged record is on the victim: read from it once the other two are gone.
    await cluster.broker(leader).stop();
    await cluster.broker(other).stop();
    await cluster.waitForPartition(topic, 0, (state) => state.leader === victim, `${topic}/0: broker ${victim} to lead`);
    assert.deepEqual(await readValues(emptied, topic, 0), expected, `${topic}/0 as broker ${victim} holds it`);
  } finally {
    await cluster.stop();
  }
});

test('a leader that is its partition\'s only in-sync replica, restarted and registered again before the controller acted on its leaving, leads nothing under its former registration: it leads again in a new leader epoch, every record kept', async () => {
  const leaseTtlSeconds = 6;
  const cluster = await startTestCluster({ leaseTtlSeconds });
  const topic = 'new-term';
  try {
    const controller = await cluster.controller();
    assert.ok(controller !== null);
    const victim = controller.nodeId === 3 ? 2 : 3;
    // One replica: the victim is leader and the whole ISR, so no other broker can take over.
    await createReplicated(cluster, topic, [[victim]]);
    const expected: string[] = [];
    for (let round = 0; round < 10; round++) {
      const values = [`r${round}-a`, `r${round}-b`];
      assert.equal((await produceTo(cluster.broker(victim), topic, 0, -1, batchOf(values))).errorCode, ErrorCode.none);
      expected.push(...values);
    }
    const before = await cluster.waitForPartition(topic, 0, (state) => state.leader === victim, `${topic}/0: led by broker ${victim}`);
    const formerRegistration = await cluster.store.get(brokerKey(victim));
    assert.ok(formerRegistration !== null);

    // Killed and started again at once (same data directory); the controller is paused across the
    // moment it registers again, so it sees the leaving and the new registration only together.
    const killedAtMs = Date.now();
    await cluster.broker(victim).kill9();
    const restarting = cluster.restart(victim);
    await sleep(Math.max(0, leaseTtlSeconds * 1000 * (2 / 3) - 300 - (Date.now() - killedAtMs)));
    process.kill(cluster.broker(controller.nodeId).pid, 'SIGSTOP');
    let refusedMeanwhile: number | undefined;
    try {
      await waitUntil(
        async () => ((await cluster.store.get(brokerKey(victim)))?.createRevision ?? formerRegistration.createRevision) !== formerRegistration.createRevision,
        `broker ${victim} to register again`,
        10_000,
      );
      const restarted = await restarting;
      // etcd still names it leader in the state its former life led (the controller has not acted):
      // it must not serve that state.
      const state = decodePartition((await cluster.store.get(partitionKey(topic, 0)))!.value);
      assert.ok(!(state instanceof Error) && state.leader === victim && state.leaderEpoch === before.leaderEpoch, `etcd unchanged while the controller is paused: ${JSON.stringify(state)}`);
      refusedMeanwhile = (await produceTo(restarted, topic, 0, -1, batchOf(['while-paused']), 1000)).errorCode;
    } finally {
      process.kill(cluster.broker(controller.nodeId).pid, 'SIGCONT');
    }
    assert.equal(refusedMeanwhile, ErrorCode.notLeaderOrFollower, 'a produce to the restarted broker before the controller acted');

    const renewed = await cluster.waitForPartition(topic, 0, (state) => state.leader === victim && state.leaderEpoch > before.leaderEpoch, `${topic}/0: broker ${victim} to lead in a new leader epoch`, 30_000);
    assert.deepEqual(renewed.isr, [victim]);
    await waitUntil(async () => (await produceTo(cluster.broker(victim), topic, 0, -1, batchOf(['after']))).errorCode === ErrorCode.none, `a produce to broker ${victim} in its new term`, 15_000);
    assert.deepEqual(await readValues(cluster.broker(victim), topic, 0), [...expected, 'after']);
  } finally {
    await cluster.stop();
  }
});

test('etcd paused for longer than the leases and the brokers\' etcd request timeout: produce (acks=all) and fetch go on with the current leaders; CreateTopics waits and completes once etcd is back', async (t) => {
  const cluster = await startTestCluster();
  const topic = 'steady';
  try {
    await createReplicated(cluster, topic, [[1, 2, 3]]);
    const leader = cluster.broker(1);
    const expected = ['before'];
    assert.equal((await produceTo(leader, topic, 0, -1, batchOf(['before']))).errorCode, ErrorCode.none);
    process.kill(cluster.etcd.pid, 'SIGSTOP');
    let resumed = false;
    try {
      const creation = withConnection(cluster.broker(2), (connection) => connection.call(createTopicsApi, 7, createTopicRequest('created-during-outage', [[2, 3, 1]], 30_000), 60_000));
      const pausedAtMs = Date.now();
      // The leases lapse (2 s), and the first etcd request of the creation passes its deadline (5 s),
      // while the data path goes on without etcd.
      while (Date.now() - pausedAtMs < 7000) {
        const value = `during-${expected.length}`;
        const answer = await produceTo(leader, topic, 0, -1, batchOf([value]));
        assert.deepEqual(answer, { errorCode: ErrorCode.none, baseOffset: BigInt(expected.length) }, `acks=all during the outage${allLogs(cluster)}`);
        expected.push(value);
        await sleep(200);
      }
      await leader.waitForLog(/ERROR cluster lease lost/, 10_000);
      assert.deepEqual(await readValues(leader, topic, 0), expected, 'fetched during the outage');
      let settled = false;
      void creation.then(() => (settled = true), () => (settled = true));
      await sleep(100);
      assert.equal(settled, false, 'CreateTopics waits for etcd');
      process.kill(cluster.etcd.pid, 'SIGCONT');
      resumed = true;
      const resumedAtMs = Date.now();
      const created = await creation;
      assert.equal(created.topics[0]?.errorCode, ErrorCode.none, created.topics[0]?.errorMessage ?? '');
      t.diagnostic(`CreateTopics answered ${Date.now() - resumedAtMs} ms after etcd resumed, ${Date.now() - pausedAtMs} ms after it was sent`);
    } finally {
      if (!resumed) process.kill(cluster.etcd.pid, 'SIGCONT');
    }
    const state = await cluster.partition('created-during-outage', 0);
    assert.deepEqual(state?.replicas, [2, 3, 1]);
    // Once the brokers have registered again, clients go on; nothing acknowledged was lost.
    await waitUntil(async () => (await cluster.store.rangeByPrefix('/osprey/brokers/')).entries.length === 3, 'every broker to register again', 30_000);
    const kafka = new Kafka({ clientId: 'osprey-faults-after', brokers: [1, 2, 3].map((nodeId) => cluster.broker(nodeId).bootstrap), logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] });
      await producer.send({ topic: 'created-during-outage', acks: -1, messages: [{ value: 'in the new topic' }] });
    } finally {
      await producer.disconnect();
    }
    const current = await cluster.waitForPartition(topic, 0, (partition) => partition.leader !== -1, 'a leader');
    assert.deepEqual(await readValues(cluster.broker(current.leader), topic, 0), [...expected, 'after']);
    assert.deepEqual(await readValues(cluster.broker(2), 'created-during-outage', 0), ['in the new topic']);
  } finally {
    await cluster.stop();
  }
});

/** Each value of `values` that occurs more than once, with its count. */
function repeated(values: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1).map(([value, count]) => `${value} ×${count}`);
}

/** Where a cut-off test stands: before the cut; cut: until both followers fetch from the new leader; alone: from then until the heal. */
type CutPhase = 'before' | 'cut' | 'alone' | 'healed';

/**
 * A plain producer on one connection to the broker about to be cut off, opened before the cut,
 * sending one record at a time (`<prefix><n>`) with acks=all to partition 0 until the heal: what it
 * is told in each phase is the point. A request sent in one phase and answered in the next counts
 * for the one it was sent in.
 */
class PinnedProducer {
  phase: CutPhase = 'before';
  readonly acknowledged: string[] = [];
  readonly refused: string[] = [];
  readonly answers = new Map<CutPhase, { value: string; errorCode: number }[]>([['before', []], ['cut', []], ['alone', []], ['healed', []]]);
  /** The loop, ended by the heal. */
  readonly done: Promise<void>;

  constructor(readonly connection: RawKafkaConnection, topic: string, prefix: string) {
    this.done = this.run(topic, prefix);
  }

  private async run(topic: string, prefix: string): Promise<void> {
    for (let index = 0; this.phase !== 'healed'; index++) {
      const value = `${prefix}${index}`;
      const sentIn = this.phase;
      const answer = await produceOn(this.connection, topic, 0, -1, batchOf([value]), 1500);
      this.answers.get(sentIn)!.push({ value, errorCode: answer.errorCode });
      if (answer.errorCode === ErrorCode.none) this.acknowledged.push(value);
      else {
        this.refused.push(value);
        await sleep(100);
      }
    }
  }

  /** The records sent once the broker was alone, each refused (REQUEST_TIMED_OUT or NOT_LEADER_OR_FOLLOWER), never acknowledged. */
  refusedWhileAlone(): { value: string; errorCode: number }[] {
    const alone = this.answers.get('alone')!;
    const refusals: readonly number[] = [ErrorCode.requestTimedOut, ErrorCode.notLeaderOrFollower];
    for (const { value, errorCode } of alone) assert.ok(refusals.includes(errorCode), `the cut-off broker answered ${value} (acks=all, sent once it was alone) with error code ${errorCode}`);
    return alone;
  }

  /** "12× 0, 3× 7": the error codes answered to what was sent in `phase`. */
  tally(phase: CutPhase): string {
    const codes = new Map<number, number>();
    for (const { errorCode } of this.answers.get(phase)!) codes.set(errorCode, (codes.get(errorCode) ?? 0) + 1);
    return [...codes].map(([errorCode, count]) => `${count}× ${errorCode}`).join(', ') || 'none';
  }
}

/** A partition's leadership as a cut-off test waits to see it moved. */
interface MovedLeadership {
  readonly leader: number;
  readonly leaderEpoch: number;
}

/**
 * The alone phase, then the heal: once `otherFollower` follows the new leader of `topic`/0, the
 * cut-off broker is alone; three of its answers to the pinned producer are awaited, then its link to
 * etcd is healed. Healed, it must register again (a new registration, not the former one), follow the
 * new leader and truncate what it appended alone. Returns when the heal was and what was sent while
 * it was alone, every one of them refused.
 */
async function aloneThenHealed(
  cluster: TestCluster,
  { topic, cutOff, otherFollower, moved, pinned, formerRegistration }: { topic: string; cutOff: number; otherFollower: number; moved: MovedLeadership; pinned: PinnedProducer; formerRegistration: { createRevision: unknown } | null },
): Promise<{ healedAtMs: number; alone: { value: string; errorCode: number }[] }> {
  const following = new RegExp(`INFO following partition .*topic=${topic} partition=0 leader=${moved.leader} leaderEpoch=${moved.leaderEpoch}`);
  await cluster.broker(otherFollower).waitForLog(following, 10_000);
  pinned.phase = 'alone';
  // The cut-off broker, still leader in its own eyes, answers its client but acknowledges nothing:
  // nobody fetches from it, so its high watermark cannot move.
  await waitUntil(() => pinned.answers.get('alone')!.length >= 3, 'the cut-off broker to answer produce requests sent once it was alone', 20_000);

  cluster.etcdProxy(cutOff).heal();
  pinned.phase = 'healed';
  const healedAtMs = Date.now();
  await pinned.done;
  const alone = pinned.refusedWhileAlone();
  await waitUntil(async () => (await cluster.store.get(brokerKey(cutOff)))?.createRevision !== formerRegistration?.createRevision, `broker ${cutOff} to register again`, 30_000);
  await cluster.broker(cutOff).waitForLog(following, 30_000);
  await cluster.broker(cutOff).waitForLog(new RegExp(`INFO replica log truncated to where it leaves the leader's .*topic=${topic} partition=0 leader=${moved.leader}`), 30_000);
  return { healedAtMs, alone };
}

// A cut that resets the connections (the broker's etcd client fails fast and reconnects), and a silent
// one (connections stay open, nothing goes through: requests wait for their deadlines, and what was
// held arrives late after the heal).
for (const how of ['reset', 'silently'] as const) {
  test(`a leader cut off from etcd ${how === 'reset' ? '(connections reset)' : 'silently (connections kept, nothing forwarded)'} while it runs on, clients and brokers still reaching it: leadership moves in a new leader epoch, it acknowledges no acks=all write it cannot keep, clients move; healed, it registers again, truncates, follows and rejoins the ISR holding every acknowledged record once`, { timeout: 240_000 }, async (t) => {
    const cluster = await startTestCluster({ etcdProxies: true });
    const topic = 'cut-off';
    let stopping = false;
    let pinned: PinnedProducer | undefined;
    // The KafkaJS producer's loop, awaited in the end (and on failure, so that it ends with the test, as the pinned one does).
    let stream: Promise<void> | undefined;
    try {
      // The cut-off broker leads the partition and is not the controller, so the controller that
      // moves its leadership keeps running on etcd's side of the cut.
      const controller = await cluster.controller();
      assert.ok(controller !== null);
      const cutOff = controller.nodeId === 1 ? 2 : 1;
      const others = [1, 2, 3].filter((nodeId) => nodeId !== cutOff);
      await createReplicated(cluster, topic, [[cutOff, ...others]]);
      const before = await cluster.waitForPartition(topic, 0, (state) => state.leader === cutOff, `${topic}/0: led by broker ${cutOff}`);
      const formerRegistration = await cluster.store.get(brokerKey(cutOff));
      assert.ok(formerRegistration !== null);

      // An idempotent KafkaJS producer streams acks=all sends through all three brokers; what it was
      // told is acknowledged, in send order.
      const retry = { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 };
      const kafka = new Kafka({ clientId: 'osprey-cut', brokers: [1, 2, 3].map((nodeId) => cluster.broker(nodeId).bootstrap), logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 10_000, retry });
      const streamed: string[] = [];
      stream = (async () => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
        await producer.connect();
        try {
          for (let send = 0; !stopping; send++) {
            const messages = [0, 1, 2].map((index) => ({ partition: 0, value: `s${send}-r${index}` }));
            await producer.send({ topic, messages, acks: -1, timeout: 2000 });
            streamed.push(...messages.map((message) => message.value));
          }
        } finally {
          await producer.disconnect().catch(() => undefined);
        }
      })();
      // Alone (from both followers fetching from the new leader until the heal), nothing the cut-off broker appends can reach another broker.
      pinned = new PinnedProducer(await RawKafkaConnection.open(cluster.broker(cutOff).host, cluster.broker(cutOff).port), topic, 'L');
      await waitUntil(() => streamed.length >= 30 && pinned!.acknowledged.length >= 5, 'acknowledged writes before the cut', 20_000);

      const cutAtMs = Date.now();
      cluster.etcdProxy(cutOff).cut(how);
      pinned.phase = 'cut';
      const moved = await newLeader(cluster, topic, 0, cutOff);
      const movedAtMs = Date.now();
      const streamedAtMove = streamed.length;
      assert.ok(moved.leaderEpoch > before.leaderEpoch, `a new leader epoch: ${JSON.stringify(moved)}`);
      assert.deepEqual([...moved.isr].sort((left, right) => left - right), others, `broker ${cutOff} left the ISR, the others stay: ${JSON.stringify(moved)}`);
      assert.ok(processIsAlive(cluster.broker(cutOff).pid), `broker ${cutOff} runs on`);
      await cluster.broker(cutOff).waitForLog(/ERROR cluster lease lost/, 10_000);

      // Clients move to the new leader: the stream goes on, acks=all there, so both followers of the
      // cut-off broker now fetch from the new leader.
      await waitUntil(() => streamed.length >= streamedAtMove + 30, 'the producer to go on through the new leader', 60_000, () => `${streamed.length - streamedAtMove} records acknowledged since the move${allLogs(cluster)}`);
      // Healed: it registers again, learns the new state, follows the new leader (truncating what it
      // appended alone) and rejoins the ISR.
      const otherFollower = others.find((nodeId) => nodeId !== moved.leader)!;
      const { healedAtMs, alone } = await aloneThenHealed(cluster, { topic, cutOff, otherFollower, moved, pinned, formerRegistration });
      const rejoined = await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(cutOff), `${topic}/0: broker ${cutOff} back in the ISR`, 60_000);
      assert.equal(rejoined.leader, moved.leader, `still led by broker ${moved.leader}: ${JSON.stringify(rejoined)}`);
      const rejoinedAtMs = Date.now();
      stopping = true;
      await stream;
      t.diagnostic(`leadership moved ${movedAtMs - cutAtMs} ms after the cut; broker ${cutOff} back in the ISR ${rejoinedAtMs - healedAtMs} ms after the heal; ${streamed.length} records streamed; error codes answered on the pinned connection before the cut: ${pinned.tally('before')}; cut, before the followers moved: ${pinned.tally('cut')}; alone: ${pinned.tally('alone')}`);

      // Every acknowledged record once on the new leader, the stream's in send order; besides them
      // only refused records of the plain producer, each at most once (a timed-out acks=all write
      // may still be kept, as in Kafka).
      const held = await readValues(cluster.broker(moved.leader), topic, 0);
      assert.deepEqual(repeated(held), [], 'no record twice');
      assert.deepEqual(held.filter((value) => value.startsWith('s')), streamed, 'the stream as acknowledged, in order');
      const missing = pinned.acknowledged.filter((value) => !held.includes(value));
      assert.deepEqual(missing, [], `records acknowledged by the cut-off broker missing on the new leader${allLogs(cluster)}`);
      const allowed = new Set([...streamed, ...pinned.acknowledged, ...pinned.refused]);
      assert.deepEqual(held.filter((value) => !allowed.has(value)), [], 'nothing that was not sent');
      // What the cut-off broker appended alone reached no other broker.
      assert.deepEqual(alone.filter(({ value }) => held.includes(value)), [], 'records appended by the cut-off broker alone are not on the new leader');

      // The cut-off broker holds exactly the new leader's log: read from it once it is the only broker left.
      for (const nodeId of others) await cluster.broker(nodeId).stop();
      await cluster.waitForPartition(topic, 0, (state) => state.leader === cutOff, `${topic}/0: broker ${cutOff} to lead`);
      assert.deepEqual(await readValues(cluster.broker(cutOff), topic, 0), held, `${topic}/0 as broker ${cutOff} holds it`);
    } finally {
      stopping = true;
      pinned?.connection.destroy();
      await Promise.all([stream?.catch(() => undefined), pinned?.done.catch(() => undefined)]);
      await cluster.stop();
    }
  });
}

test('a follower cut off from etcd while it runs on: it keeps replicating over the Kafka protocol; the controller takes it out of the ISR when its registration lapses, its leader adds it back only once it registered again, and it stays', { timeout: 180_000 }, async (t) => {
  const cluster = await startTestCluster({ etcdProxies: true });
  const topic = 'cut-follower';
  let stopping = false;
  let watch: Watch | undefined;
  let writing: Promise<void> | undefined;
  try {
    const controller = await cluster.controller();
    assert.ok(controller !== null);
    // The cut-off follower is not the controller; the leader is the other broker that is not.
    const [cutOff, leader] = [1, 2, 3].filter((nodeId) => nodeId !== controller.nodeId) as [number, number];
    await createReplicated(cluster, topic, [[leader, cutOff, controller.nodeId]]);
    const formerRegistration = await cluster.store.get(brokerKey(cutOff));
    assert.ok(formerRegistration !== null);

    // Every partition state from here on, with the revision it was written at.
    const states: { state: PartitionRecord; revision: bigint }[] = [];
    watch = await cluster.store.watchPrefix(partitionKey(topic, 0), {
      fromRevision: formerRegistration.createRevision,
      onEvent: (event) => {
        if (event.type !== 'put') return;
        const state = decodePartition(event.entry.value);
        if (!(state instanceof Error)) states.push({ state, revision: event.entry.modRevision });
      },
      onError: () => undefined,
    });
    const isrs = (): string => states.map(({ state, revision }) => `${revision}:[${state.isr.join(',')}]`).join(' ');

    // acks=all writes to the leader, one at a time, all along.
    const acknowledged: string[] = [];
    const refused: string[] = [];
    writing = withConnection(cluster.broker(leader), async (connection) => {
      for (let index = 0; !stopping; index++) {
        const value = `f${index}`;
        const answer = await produceOn(connection, topic, 0, -1, batchOf([value]), 3000);
        if (answer.errorCode === ErrorCode.none) acknowledged.push(value);
        else refused.push(`${value}: ${answer.errorCode}`);
        await sleep(20);
      }
    });
    await waitUntil(() => acknowledged.length >= 10, 'acknowledged writes before the cut', 20_000);
    await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 3, `${topic}/0: every replica in sync`);
    const revisionBeforeCut = (await cluster.store.get(partitionKey(topic, 0)))!.modRevision;

    cluster.etcdProxy(cutOff).cut();
    const cutAtMs = Date.now();
    const sinceCut = () => states.filter(({ revision }) => revision > revisionBeforeCut);
    await cluster.broker(cutOff).waitForLog(/ERROR cluster lease lost/, 10_000);
    await waitUntil(async () => (await cluster.store.get(brokerKey(cutOff))) === null, `broker ${cutOff}'s registration to lapse`, 10_000);
    // As for any broker gone from etcd: the controller takes it out of the ISR (acks=all no longer
    // waits for it).
    await waitUntil(() => sinceCut().some(({ state }) => !state.isr.includes(cutOff)), `${topic}/0: broker ${cutOff} out of the ISR`, 20_000, isrs);
    const outAtMs = Date.now();
    // It keeps replicating meanwhile: what is acknowledged during the cut reaches its disk.
    const acknowledgedAtOut = acknowledged.length;
    await waitUntil(() => acknowledged.length >= acknowledgedAtOut + 20, 'acknowledged writes during the cut', 20_000, () => `refused: ${refused.join(', ')}`);
    const lastDuringCut = acknowledged[acknowledged.length - 1]!;
    await waitUntil(() => valuesOnDisk(cluster.broker(cutOff), topic, 0).includes(lastDuringCut), `broker ${cutOff} to replicate ${lastDuringCut} while cut off`, 10_000);
    assert.ok(processIsAlive(cluster.broker(cutOff).pid));

    cluster.etcdProxy(cutOff).heal();
    const healedAtMs = Date.now();
    let registration: Awaited<ReturnType<typeof cluster.store.get>> = null;
    await waitUntil(async () => (registration = await cluster.store.get(brokerKey(cutOff))) !== null, `broker ${cutOff} to register again`, 30_000);
    const registeredAt = registration!.createRevision;
    const rejoined = await cluster.waitForPartition(topic, 0, (state) => state.isr.includes(cutOff), `${topic}/0: broker ${cutOff} back in the ISR`, 30_000);
    const rejoinedAtMs = Date.now();
    assert.equal(rejoined.leader, leader);
    // Not in the ISR while unregistered: from its removal until its new registration, no state names it.
    const removedAt = sinceCut().find(({ state }) => !state.isr.includes(cutOff))!.revision;
    const whileGone = states.filter(({ revision }) => revision > removedAt && revision < registeredAt);
    assert.deepEqual(whileGone.filter(({ state }) => state.isr.includes(cutOff)), [], `broker ${cutOff} added to the ISR while not registered (registered again at ${registeredAt}): ${isrs()}`);
    // For good: still there a while later (a follower dropped and re-added in turn would show here).
    await sleep(3000);
    const settled = await cluster.partition(topic, 0);
    assert.ok(settled !== null && settled.isr.includes(cutOff) && settled.leader === leader, `${topic}/0 settled: ${JSON.stringify(settled)}; ISRs: ${isrs()}`);
    stopping = true;
    await writing;
    t.diagnostic(`out of the ISR ${outAtMs - cutAtMs} ms after the cut, back ${rejoinedAtMs - healedAtMs} ms after the heal; ${acknowledged.length} writes acknowledged, ${refused.length} refused; ISR by revision: ${isrs()} (registered again at ${registeredAt})`);

    // Every acknowledged record, once, on the leader and on the once cut-off follower.
    assert.deepEqual(await readValues(cluster.broker(leader), topic, 0), acknowledged);
    for (const nodeId of [leader, controller.nodeId]) await cluster.broker(nodeId).stop();
    await cluster.waitForPartition(topic, 0, (state) => state.leader === cutOff, `${topic}/0: broker ${cutOff} to lead`);
    assert.deepEqual(await readValues(cluster.broker(cutOff), topic, 0), acknowledged, `${topic}/0 as broker ${cutOff} holds it`);
  } finally {
    stopping = true;
    await writing?.catch(() => undefined);
    await watch?.cancel();
    await cluster.stop();
  }
});

test('the controller cut off from etcd while it runs on, leading a partition clients write to: its lease lapses, another broker becomes controller and moves its leadership in a new leader epoch, it acknowledges no acks=all write it cannot keep, clients move; healed, it registers again as an ordinary broker, truncates, follows and rejoins the ISR of its partitions holding every acknowledged record once', { timeout: 240_000 }, async (t) => {
  const cluster = await startTestCluster({ etcdProxies: true });
  const topic = 'cut-controller';
  let stopping = false;
  let pinned: PinnedProducer | undefined;
  let stream: Promise<void> | undefined;
  try {
    const formerController = await cluster.controller();
    assert.ok(formerController !== null);
    const cutOff = formerController.nodeId;
    const others = [1, 2, 3].filter((nodeId) => nodeId !== cutOff) as [number, number];
    // Partition 0 is led by the controller; partition 1 by another broker, the controller its follower.
    const assignments = [[cutOff, ...others], [others[0], cutOff, others[1]]];
    await cluster.createTopic(topic, assignments, cutOff, { 'min.insync.replicas': '2' });
    for (const index of [0, 1]) await cluster.waitForPartition(topic, index, (state) => state.isr.length === 3, `${topic}/${index}: the ISR to hold every replica`);
    const before = await cluster.waitForPartition(topic, 0, (state) => state.leader === cutOff, `${topic}/0: led by broker ${cutOff}`);
    const formerRegistration = await cluster.store.get(brokerKey(cutOff));
    assert.ok(formerRegistration !== null);

    // An idempotent KafkaJS producer streams acks=all sends through all three brokers, each send to
    // one partition, the partitions in turn. (A send spanning partitions led by two brokers is not
    // safe with KafkaJS 2: retried after one broker failed, it skips every broker that answered, so a
    // partition whose leadership moved to such a broker is dropped while the send resolves as a
    // success; an earlier form of this test lost records that way.)
    const retry = { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 };
    const kafka = new Kafka({ clientId: 'osprey-cut-controller', brokers: [1, 2, 3].map((nodeId) => cluster.broker(nodeId).bootstrap), logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 10_000, retry });
    /** streamed[partition]: the values acknowledged, in send order. */
    const streamed: [string[], string[]] = [[], []];
    stream = (async () => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry });
      await producer.connect();
      try {
        for (let send = 0; !stopping; send++) {
          const partition = send % 2;
          const messages = [0, 1, 2].map((index) => ({ partition, value: `s${send}-p${partition}-r${index}` }));
          await producer.send({ topic, messages, acks: -1, timeout: 2000 });
          for (const message of messages) streamed[message.partition]!.push(message.value);
        }
      } finally {
        await producer.disconnect().catch(() => undefined);
      }
    })();
    const streamedCount = (): number => streamed[0].length + streamed[1].length;
    // The plain producer is on a connection to the controller, writing to the partition it leads.
    pinned = new PinnedProducer(await RawKafkaConnection.open(cluster.broker(cutOff).host, cluster.broker(cutOff).port), topic, 'C');
    await waitUntil(() => streamedCount() >= 40 && pinned!.acknowledged.length >= 5, 'acknowledged writes before the cut', 20_000);

    const cutAtMs = Date.now();
    cluster.etcdProxy(cutOff).cut();
    pinned.phase = 'cut';
    // It stops acting as controller when its lease is lost; another broker is elected in a later epoch.
    await cluster.broker(cutOff).waitForLog(/ERROR cluster lease lost/, 10_000);
    await cluster.broker(cutOff).waitForLog(new RegExp(`INFO no longer controller .*epoch=${formerController.epoch}`), 10_000);
    const elected = await newController(cluster, cutOff);
    const electedAtMs = Date.now();
    assert.ok(others.includes(elected.nodeId) && elected.epoch > formerController.epoch, `controller ${elected.nodeId} in epoch ${elected.epoch} after ${cutOff} in ${formerController.epoch}`);
    await cluster.broker(elected.nodeId).waitForLog(new RegExp(`INFO elected controller .*nodeId=${elected.nodeId} epoch=${elected.epoch}`), 10_000);
    // The new controller acts: the cut-off broker's partition gets another ISR member as leader in a
    // new leader epoch, and it leaves the ISR of both partitions.
    const moved = await newLeader(cluster, topic, 0, cutOff);
    const movedAtMs = Date.now();
    assert.ok(moved.leaderEpoch > before.leaderEpoch, `a new leader epoch: ${JSON.stringify(moved)}`);
    assert.deepEqual([...moved.isr].sort((left, right) => left - right), others, `broker ${cutOff} left the ISR, the others stay: ${JSON.stringify(moved)}`);
    await cluster.waitForPartition(topic, 1, (state) => state.leader === others[0] && !state.isr.includes(cutOff), `${topic}/1: broker ${cutOff} out of the ISR, still led by broker ${others[0]}`);
    assert.ok(processIsAlive(cluster.broker(cutOff).pid), `broker ${cutOff} runs on`);

    // Clients move to the new leader and go on with both partitions (two in-sync replicas each).
    const streamedAtMove = [streamed[0].length, streamed[1].length];
    await waitUntil(() => streamed[0].length >= streamedAtMove[0]! + 20 && streamed[1].length >= streamedAtMove[1]! + 20, 'the producer to go on with both partitions', 60_000, () => `${streamed[0].length - streamedAtMove[0]!} and ${streamed[1].length - streamedAtMove[1]!} records acknowledged since the move${allLogs(cluster)}`);
    // Healed: it registers again, and as an ordinary broker: the new controller's key is held under
    // a live lease, so its campaign's transaction fails and it follows that controller.
    const otherFollower = others.find((nodeId) => nodeId !== moved.leader)!;
    const { healedAtMs, alone } = await aloneThenHealed(cluster, { topic, cutOff, otherFollower, moved, pinned, formerRegistration });
    await cluster.broker(cutOff).waitForLog(new RegExp(`INFO controller is another broker .*controllerId=${elected.nodeId} epoch=${elected.epoch}`), 30_000);
    const rejoined = await Promise.all([0, 1].map((index) => cluster.waitForPartition(topic, index, (state) => state.isr.includes(cutOff), `${topic}/${index}: broker ${cutOff} back in the ISR`, 60_000)));
    const rejoinedAtMs = Date.now();
    assert.equal(rejoined[0]!.leader, moved.leader, `${topic}/0 still led by broker ${moved.leader}: ${JSON.stringify(rejoined[0])}`);
    assert.equal(rejoined[1]!.leader, others[0], `${topic}/1 still led by broker ${others[0]}: ${JSON.stringify(rejoined[1])}`);
    const controllerAfter = await cluster.controller();
    assert.ok(controllerAfter !== null && controllerAfter.nodeId === elected.nodeId && controllerAfter.epoch === elected.epoch, `the controller elected during the cut stays controller, now broker ${String(controllerAfter?.nodeId)} in epoch ${String(controllerAfter?.epoch)}`);
    stopping = true;
    await stream;
    t.diagnostic(`broker ${elected.nodeId} controller ${electedAtMs - cutAtMs} ms after the cut; leadership moved ${movedAtMs - cutAtMs} ms after the cut; broker ${cutOff} back in both ISRs ${rejoinedAtMs - healedAtMs} ms after the heal; ${streamedCount()} records streamed; the pinned connection: ${pinned.acknowledged.length} acknowledged, ${alone.length} sent while alone, all refused`);

    // Every acknowledged record once, in send order; besides them only refused records of the plain
    // producer, each at most once; nothing the cut-off broker appended alone.
    const held = [await readValues(cluster.broker(moved.leader), topic, 0), await readValues(cluster.broker(others[0]), topic, 1)];
    for (const [index, values] of held.entries()) {
      assert.deepEqual(repeated(values), [], `${topic}/${index}: no record twice`);
      assert.deepEqual(values.filter((value) => value.startsWith('s')), streamed[index], `${topic}/${index}: the stream as acknowledged, in order`);
    }
    assert.deepEqual(held[1]!.filter((value) => !value.startsWith('s')), [], `${topic}/1: nothing but the stream`);
    assert.deepEqual(pinned.acknowledged.filter((value) => !held[0]!.includes(value)), [], `records acknowledged by the cut-off broker missing on the new leader${allLogs(cluster)}`);
    const allowed = new Set([...streamed[0], ...pinned.acknowledged, ...pinned.refused]);
    assert.deepEqual(held[0]!.filter((value) => !allowed.has(value)), [], 'nothing that was not sent');
    assert.deepEqual(alone.filter(({ value }) => held[0]!.includes(value)), [], 'records appended by the cut-off broker alone are not on the new leader');

    // The once cut-off broker holds exactly the leaders' logs: read from it once it is the only broker left.
    for (const nodeId of others) await cluster.broker(nodeId).stop();
    for (const index of [0, 1]) await cluster.waitForPartition(topic, index, (state) => state.leader === cutOff, `${topic}/${index}: broker ${cutOff} to lead`);
    for (const index of [0, 1]) assert.deepEqual(await readValues(cluster.broker(cutOff), topic, index), held[index], `${topic}/${index} as broker ${cutOff} holds it`);
  } finally {
    stopping = true;
    pinned?.connection.destroy();
    await Promise.all([stream?.catch(() => undefined), pinned?.done.catch(() => undefined)]);
    await cluster.stop();
  }
});
