/**
 * A partition leader cut off from its followers while it stays registered in etcd (docs/cluster.md,
 * "Faults"), on a real etcd and three real broker processes. Each broker advertises a TCP proxy in
 * front of its Kafka listener (`startTestCluster({ kafkaProxies: true })`, test/helpers/tcp-proxy.ts),
 * so the followers' replica fetches reach the leader only through its proxy; the test's producer
 * writes on a connection to the leader's listener itself, which the cut spares. Cutting the proxy
 * (connections reset, or held silently) is a network partition between the leader and the other
 * brokers only, both ways (the leader follows nothing here, so it dials no other broker; every
 * connection between them goes through its proxy): etcd, the controller and the test still reach
 * everyone, so no lease lapses and leadership stays. The brokers run with `--replica-lag-time-max-ms 2000`, and write what their
 * journal made durable to the segment files within 0.1 s (`--journal-write-behind-max-age-ms`; 5 s by
 * default), since the test reads those files.
 *
 * - min.insync.replicas 2: the leader takes its followers out of the ISR in etcd after the lag
 *   time, and from then on refuses every acks=all write with NOT_ENOUGH_REPLICAS (19): nothing sent
 *   during the cut is acknowledged. Healed, the followers catch up and the leader adds them back;
 *   acks=all is accepted again.
 * - min.insync.replicas 1: the leader, alone in the ISR, goes on acknowledging acks=all writes during
 *   the cut; the followers, which cannot hold them meanwhile, fetch them after the heal.
 *
 * Oracles: etcd's keys read directly (the partition state, the registrations), the leader's Produce
 * answers (raw requests), and each broker's segment files (what each replica holds), which must end
 * identical: every acknowledged record exactly once, in send order, nothing that was not sent and
 * nothing refused as NOT_ENOUGH_REPLICAS (refused before it is appended).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { brokerKey, decodeRegistration, partitionKey } from '../../src/cluster/keys.js';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { recordsOnDisk, valuesOnDisk } from '../helpers/partition-reader.js';
import { encodeRecordBatch, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const produceApi = rawApi(produceRequest, produceResponse);
const zeroTopicId = Buffer.alloc(16);
const lagTimeMs = 2000;
/** How long batches may be durable in the journal only: the segment files the test reads lag the replicas by about this much. */
const writeBehindMaxAgeMs = 100;
/** The produce requests' timeoutMs: longer than the lag time, so a write waiting at the cut is answered by the ISR's shrink, not its timeout. */
const produceTimeoutMs = 5000;
/**
 * How long the min.insync.replicas 2 cut lasts at least: past a follower's replica fetch timeout
 * (5.5 s), so that, cut silently, the followers give up their held connections and dial again into
 * the held proxy before the heal.
 */
const cutHoldMs = 8000;
const leader = 1;
const followers = [2, 3];

/** Where the test stands: before the cut, during it, after the heal. */
type Phase = 'before' | 'cut' | 'healed';

interface Answer {
  readonly value: string;
  readonly errorCode: number;
  /** The phase the request was sent in (its answer may come in the next). */
  readonly phase: Phase;
  readonly sentAtMs: number;
}

/**
 * A plain producer on one connection to the leader's own listener (not its proxy: the cut spares
 * it), sending one record at a time (`r<n>`, acks=all) until stopped, keeping every answer with the
 * phase its request was sent in.
 */
class DirectProducer {
  phase: Phase = 'before';
  readonly answers: Answer[] = [];
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly connection: RawKafkaConnection,
    topic: string,
  ) {
    this.done = this.run(topic);
  }

  /** The values acknowledged, in send order. */
  get acknowledged(): string[] {
    return this.answers.filter(({ errorCode }) => errorCode === ErrorCode.none).map(({ value }) => value);
  }

  /** The answers to the requests sent in `phase`, at or after `sinceMs`. */
  sentIn(phase: Phase, sinceMs = 0): Answer[] {
    return this.answers.filter((answer) => answer.phase === phase && answer.sentAtMs >= sinceMs);
  }

  /** "12× 0, 3× 19": the error codes answered to what was sent in `phase`. */
  tally(phase: Phase): string {
    const codes = new Map<number, number>();
    for (const { errorCode } of this.sentIn(phase)) codes.set(errorCode, (codes.get(errorCode) ?? 0) + 1);
    return [...codes].map(([errorCode, count]) => `${count}× ${errorCode}`).join(', ') || 'none';
  }

  /** Ends the loop once the request in flight is answered. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
  }

  /** Ends the loop at once (a failed test). */
  async abort(): Promise<void> {
    this.stopping = true;
    this.connection.destroy();
    await this.done.catch(() => undefined);
  }

  private async run(topic: string): Promise<void> {
    try {
      for (let index = 0; !this.stopping; index++) {
        const value = `r${index}`;
        const phase = this.phase;
        const sentAtMs = Date.now();
        const records = encodeRecordBatch([{ key: null, value: Buffer.from(value) }]);
        const request = { acks: -1, timeoutMs: produceTimeoutMs, transactionalId: null, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: 0, records }] }] };
        const answer = await this.connection.call(produceApi, 9, request, produceTimeoutMs + 10_000);
        const result = answer.responses[0]?.partitionResponses[0];
        assert.ok(result !== undefined);
        this.answers.push({ value, errorCode: result.errorCode, phase, sentAtMs });
        // Gaps between writes, as between a producer's sends: a follower fetching at the leader's log end then reaches it.
        await sleep(20);
      }
    } finally {
      this.connection.destroy();
    }
  }
}

interface PeerCutSetup {
  readonly cluster: TestCluster;
  readonly topic: string;
  /** The partition's state with every replica in sync, before anything is written. */
  readonly before: PartitionRecord;
  readonly producer: DirectProducer;
  /** Each broker's registration before the cut (registrationRevisions). */
  readonly registrations: ReadonlyMap<number, bigint>;
}

/**
 * A cluster of three brokers, each behind its Kafka proxy, a topic with one partition led by broker 1
 * and followed by 2 and 3, and the direct producer writing to it: returned once it has 10 records
 * acknowledged. The leader's registration names its proxy, which is what the followers dial.
 */
async function startPeerCut(topic: string, minInsyncReplicas: number): Promise<PeerCutSetup> {
  const cluster = await startTestCluster({ kafkaProxies: true, extraArgs: () => ['--replica-lag-time-max-ms', String(lagTimeMs), '--journal-write-behind-max-age-ms', String(writeBehindMaxAgeMs)] });
  try {
    const registration = await cluster.store.get(brokerKey(leader));
    assert.ok(registration !== null);
    const registered = decodeRegistration(registration.value);
    assert.ok(!(registered instanceof Error), String(registered));
    assert.equal(registered.kafkaPort, cluster.kafkaProxy(leader).port, 'the leader registered its proxy as its Kafka port');
    assert.notEqual(cluster.broker(leader).port, cluster.kafkaProxy(leader).port);

    await cluster.createTopic(topic, [[leader, ...followers]], leader, { 'min.insync.replicas': String(minInsyncReplicas) });
    const before = await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 3, `${topic}/0: every replica in sync`);
    assert.equal(before.leader, leader);
    const producer = new DirectProducer(await RawKafkaConnection.open(cluster.broker(leader).host, cluster.broker(leader).port), topic);
    await waitUntil(() => producer.acknowledged.length >= 10, 'acknowledged writes before the cut', 20_000, () => `answers: ${producer.tally('before')}`);
    return { cluster, topic, before, producer, registrations: await registrationRevisions(cluster) };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Every broker's registration (its key's createRevision), to check that nothing reached the controller. */
async function registrationRevisions(cluster: TestCluster): Promise<Map<number, bigint>> {
  const revisions = new Map<number, bigint>();
  for (const nodeId of [leader, ...followers]) {
    const entry = await cluster.store.get(brokerKey(nodeId));
    assert.ok(entry !== null);
    revisions.set(nodeId, entry.createRevision);
  }
  return revisions;
}

/** Every broker still registered under the registration it had before the cut: etcd and the controller saw no broker go. */
async function assertAllRegistered(cluster: TestCluster, createRevisions: ReadonlyMap<number, bigint>): Promise<void> {
  for (const [nodeId, createRevision] of createRevisions) {
    const entry = await cluster.store.get(brokerKey(nodeId));
    assert.equal(entry?.createRevision, createRevision, `broker ${nodeId} registered as before the cut`);
  }
}

interface Cut {
  readonly cutAtMs: number;
  readonly shrunkAtMs: number;
  /** The revision of the partition key that holds the shrunk ISR. */
  readonly shrunkRevision: bigint;
}

/**
 * Cuts the leader's proxy and waits until the leader has taken its followers out of the ISR in etcd,
 * checking that it still leads in its epoch (the controller did not act: every broker is registered).
 */
async function cutUntilShrunk({ cluster, topic, before, producer }: PeerCutSetup, how: 'reset' | 'silently'): Promise<Cut> {
  const cutAtMs = Date.now();
  cluster.kafkaProxy(leader).cut(how);
  producer.phase = 'cut';
  const shrunk = await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 1, `${topic}/0: the leader to take its cut-off followers out of the ISR`, 20_000);
  const shrunkAtMs = Date.now();
  assert.deepEqual({ leader: shrunk.leader, leaderEpoch: shrunk.leaderEpoch, isr: shrunk.isr }, { leader, leaderEpoch: before.leaderEpoch, isr: [leader] }, 'the leader, still leading in its epoch, alone in the ISR');
  await cluster.broker(leader).waitForLog(new RegExp(`WARN replicas left the ISR: not caught up within replica\\.lag\\.time\\.max\\.ms .*topic=${topic} partition=0`), 5000);
  const entry = await cluster.store.get(partitionKey(topic, 0));
  assert.ok(entry !== null);
  return { cutAtMs, shrunkAtMs, shrunkRevision: entry.modRevision };
}

interface Heal {
  readonly healedAtMs: number;
  /** When etcd's ISR held every replica again. */
  readonly grownAtMs: number;
}

/**
 * Checks that nothing changed the partition during the cut since the shrink (no follower came back,
 * leadership stayed) and that every broker stayed registered; heals the proxy, waits until the
 * followers are back in the ISR (the same leader in the same epoch) and 10 more writes are
 * acknowledged, then stops the producer. Every write sent once the ISR was whole again must have been
 * acknowledged.
 */
async function healUntilInSync({ cluster, topic, before, producer, registrations }: PeerCutSetup, cut: Cut): Promise<Heal> {
  assert.equal((await cluster.store.get(partitionKey(topic, 0)))?.modRevision, cut.shrunkRevision, `${topic}/0 unchanged since the ISR shrank`);
  await assertAllRegistered(cluster, registrations);
  cluster.kafkaProxy(leader).heal();
  producer.phase = 'healed';
  const healedAtMs = Date.now();
  const grown = await cluster.waitForPartition(topic, 0, (state) => state.isr.length === 3, `${topic}/0: the followers back in the ISR`, 30_000);
  const grownAtMs = Date.now();
  assert.deepEqual({ leader: grown.leader, leaderEpoch: grown.leaderEpoch }, { leader, leaderEpoch: before.leaderEpoch }, 'leadership stayed all along');
  const sinceGrown = () => producer.sentIn('healed', grownAtMs);
  await waitUntil(() => sinceGrown().filter(({ errorCode }) => errorCode === ErrorCode.none).length >= 10, 'acks=all accepted with every replica in sync again', 20_000, () => `answers since the heal: ${producer.tally('healed')}`);
  await producer.stop();
  await assertAllRegistered(cluster, registrations);
  assert.deepEqual(sinceGrown().filter(({ errorCode }) => errorCode !== ErrorCode.none), [], `every write acknowledged once the ISR was whole again; answers since the heal: ${producer.tally('healed')}`);
  return { healedAtMs, grownAtMs };
}

/**
 * Once the producer stopped: the three replicas' segment files end identical (offsets 0, 1, 2 …,
 * CRCs valid), holding every acknowledged record exactly once in send order, and nothing else but
 * records sent and not refused as NOT_ENOUGH_REPLICAS (which are never appended); returns the log.
 */
async function assertReplicasHoldExactly({ cluster, topic, producer }: PeerCutSetup): Promise<string[]> {
  const nodeIds = [leader, ...followers];
  const logOf = (nodeId: number) => recordsOnDisk(cluster.broker(nodeId), topic, 0);
  const missingOn = (nodeId: number): string[] => {
    const values = new Set(logOf(nodeId).map(({ value }) => value));
    return producer.acknowledged.filter((value) => !values.has(value));
  };
  // Every acknowledged record is on every replica already; the segment files hold them within writeBehindMaxAgeMs.
  const describe = (): string => nodeIds.map((nodeId) => `broker ${nodeId}: ${logOf(nodeId).length} records, missing ${missingOn(nodeId).join(' ') || 'none'}`).join('; ');
  await waitUntil(() => nodeIds.every((nodeId) => missingOn(nodeId).length === 0 && logOf(nodeId).length === logOf(leader).length), 'every replica\'s segment files to hold every acknowledged record, and as many records as the leader\'s', 20_000, describe);
  const held = logOf(leader);
  assert.deepEqual(held.map(({ offset }) => offset), held.map((_, index) => BigInt(index)), 'offsets without gaps');
  assert.deepEqual(held.filter(({ crcValid }) => !crcValid), [], 'every batch\'s CRC holds');
  for (const nodeId of followers) assert.deepEqual(logOf(nodeId), held, `broker ${nodeId} holds the leader's log`);

  const values = held.map(({ value }) => value);
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  assert.deepEqual([...counts].filter(([, count]) => count > 1), [], 'no record twice');
  const acknowledged = new Set(producer.acknowledged);
  assert.deepEqual(values.filter((value) => acknowledged.has(value)), producer.acknowledged, 'every acknowledged record, in send order');
  const answered = new Map(producer.answers.map(({ value, errorCode }) => [value, errorCode]));
  assert.deepEqual(values.filter((value) => !answered.has(value)), [], 'nothing that was not sent');
  assert.deepEqual(values.filter((value) => answered.get(value) === ErrorCode.notEnoughReplicas), [], 'nothing refused as NOT_ENOUGH_REPLICAS');
  return values;
}

/** The figures of a run: when the ISR shrank and grew back, what the producer was answered in each phase. */
function diagnostic(producer: DirectProducer, cut: Cut, heal: Heal, held: readonly string[]): string {
  return `ISR shrank to the leader ${cut.shrunkAtMs - cut.cutAtMs} ms after the cut, grew back ${heal.grownAtMs - heal.healedAtMs} ms after the heal; answers before the cut: ${producer.tally('before')}; during it: ${producer.tally('cut')}; after the heal: ${producer.tally('healed')}; ${held.length} records on each replica`;
}

// A cut that resets the connections through the proxy (the followers' fetchers fail fast and dial
// again, refused until the heal), and a silent one (connections stay open, nothing goes through:
// fetches wait for their deadlines, and what was held arrives late after the heal).
for (const how of ['reset', 'silently'] as const) {
  test(`a leader cut off from its followers ${how === 'reset' ? '(connections reset)' : 'silently (connections kept, nothing forwarded)'}, still registered, with min.insync.replicas 2: it takes them out of the ISR after replica.lag.time.max.ms and then refuses acks=all with NOT_ENOUGH_REPLICAS, acknowledging nothing; healed, they catch up and rejoin the ISR, acks=all is accepted again, and all three replicas hold every acknowledged record once, in order`, { timeout: 180_000 }, async (t) => {
    const setup = await startPeerCut('peer-cut', 2);
    const { cluster, topic, producer } = setup;
    try {
      const acknowledgedBeforeCut = producer.acknowledged;
      const cut = await cutUntilShrunk(setup, how);
      // From the leader's own write of that state on, every acks=all write is refused before it is appended.
      await waitUntil(() => producer.sentIn('cut', cut.shrunkAtMs).filter(({ errorCode }) => errorCode === ErrorCode.notEnoughReplicas).length >= 10, 'acks=all writes refused with NOT_ENOUGH_REPLICAS', 20_000, () => `answers during the cut: ${producer.tally('cut')}`);
      // The followers hold what was acknowledged before the cut, and nothing sent since (the cut holds).
      for (const nodeId of followers) {
        const missing = (): string[] => acknowledgedBeforeCut.filter((value) => !valuesOnDisk(cluster.broker(nodeId), topic, 0).includes(value));
        await waitUntil(() => missing().length === 0, `broker ${nodeId} to hold every record acknowledged before the cut in its segment files`, 5000, () => `missing: ${missing().join(', ')}`);
        const onDisk = valuesOnDisk(cluster.broker(nodeId), topic, 0);
        assert.deepEqual(producer.sentIn('cut').filter(({ value }) => onDisk.includes(value)), [], `broker ${nodeId} got nothing sent during the cut`);
      }
      await sleep(cut.cutAtMs + cutHoldMs - Date.now());
      const heal = await healUntilInSync(setup, cut);

      // During the cut: never acknowledged. A write waiting when the ISR shrank is answered
      // NOT_ENOUGH_REPLICAS_AFTER_APPEND (20), or REQUEST_TIMED_OUT (7) if its timeout came first;
      // from the first NOT_ENOUGH_REPLICAS on, every write is refused so, until the heal.
      const duringCut = producer.sentIn('cut');
      assert.deepEqual(duringCut.filter(({ errorCode }) => errorCode === ErrorCode.none), [], 'nothing sent during the cut acknowledged');
      const allowed: readonly number[] = [ErrorCode.requestTimedOut, ErrorCode.notEnoughReplicasAfterAppend, ErrorCode.notEnoughReplicas];
      assert.deepEqual(duringCut.filter(({ errorCode }) => !allowed.includes(errorCode)), [], `answers during the cut: ${producer.tally('cut')}`);
      const firstRefusal = duringCut.findIndex(({ errorCode }) => errorCode === ErrorCode.notEnoughReplicas);
      assert.deepEqual(duringCut.slice(firstRefusal).filter(({ errorCode }) => errorCode !== ErrorCode.notEnoughReplicas), [], 'NOT_ENOUGH_REPLICAS from the first on');

      const held = await assertReplicasHoldExactly(setup);
      assert.deepEqual(acknowledgedBeforeCut.filter((value) => !held.includes(value)), [], 'every record acknowledged before the cut on every replica');
      t.diagnostic(diagnostic(producer, cut, heal, held));
    } finally {
      await producer.abort();
      await cluster.stop();
    }
  });
}

test('a leader cut off from its followers, still registered, with min.insync.replicas 1: alone in the ISR after replica.lag.time.max.ms, it goes on acknowledging acks=all writes; healed, the followers fetch them, rejoin the ISR, and all three replicas hold every acknowledged record once, in order', { timeout: 180_000 }, async (t) => {
  const setup = await startPeerCut('peer-cut', 1);
  const { cluster, topic, producer } = setup;
  try {
    const cut = await cutUntilShrunk(setup, 'reset');
    await waitUntil(() => producer.sentIn('cut', cut.shrunkAtMs).filter(({ errorCode }) => errorCode === ErrorCode.none).length >= 20, 'acks=all writes acknowledged during the cut', 20_000, () => `answers during the cut: ${producer.tally('cut')}`);
    const acknowledgedDuringCut = producer.sentIn('cut').filter(({ errorCode }) => errorCode === ErrorCode.none).map(({ value }) => value);
    // They are on the leader alone: the followers cannot fetch them.
    for (const nodeId of followers) {
      const onDisk = valuesOnDisk(cluster.broker(nodeId), topic, 0);
      assert.deepEqual(acknowledgedDuringCut.filter((value) => onDisk.includes(value)), [], `broker ${nodeId} got nothing sent during the cut`);
    }
    const heal = await healUntilInSync(setup, cut);

    // With one in-sync replica enough, nothing is refused for want of replicas; a write waiting at the
    // cut is answered once the ISR shrank (or times out, if it took longer than its timeout).
    const refusals: readonly number[] = [ErrorCode.notEnoughReplicas, ErrorCode.notEnoughReplicasAfterAppend];
    assert.deepEqual(producer.answers.filter(({ errorCode }) => refusals.includes(errorCode)), [], 'no NOT_ENOUGH_REPLICAS');
    const held = await assertReplicasHoldExactly(setup);
    assert.deepEqual(acknowledgedDuringCut.filter((value) => !held.includes(value)), [], 'every record acknowledged during the cut on every replica');
    t.diagnostic(diagnostic(producer, cut, heal, held));
  } finally {
    await producer.abort();
    await cluster.stop();
  }
});
