/**
 * Faults of durable AMQP queues in a cluster (docs/cluster.md, "AMQP queues" and "Faults"), each
 * test on a cluster of its own (etcd and three brokers with their AMQP listeners):
 *
 * - the broker serving a queue paused (SIGSTOP) for longer than its etcd lease while a publisher
 *   with confirms goes on through it: a follower takes over in a new leader epoch and the publisher
 *   moves there; resumed, the paused broker must confirm no publish it cannot keep (every message
 *   confirmed with an ack, through either broker, is delivered by the new leader), and it follows
 *   the new leader and rejoins the ISR;
 * - a follower of a queue's log restarted on an empty data directory fetches the log again, state
 *   batches included, from a leader that has already deleted its settled segments; once it leads,
 *   it serves exactly the messages not acknowledged.
 *
 * Oracles: publisher confirms (amqplib), the deliveries and their redelivered flags, the partition's
 * state in etcd (leader, leader epoch, ISR), the leader's log start offset (ListOffsets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { queueTopicName } from '../../src/cluster/queue-partitions.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { connectAmqp, openChannel } from '../helpers/amqp-client.js';
import { consumeUntil, publishConfirmed, storageIdOf } from '../helpers/amqp-cluster.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { startOffsets, waitUntil } from '../helpers/waiting.js';

type Outcome = 'pending' | 'ack' | 'nack' | 'closed';

/** One broker a ConfirmingPublisher sends through: its confirm channel and the publishes it has not answered yet. */
interface Lane {
  readonly name: string;
  readonly channel: ConfirmChannel;
  inFlight: number;
}

interface Publish {
  readonly lane: string;
  outcome: Outcome;
  answeredAtMs: number | null;
}

/** Unanswered publishes per channel before the publisher waits (a paused broker answers none). */
const publishWindow = 50;
const publishIntervalMs = 5;

/**
 * Publishes persistent messages p0, p1, … to one queue with confirms, one every few milliseconds
 * and at most `publishWindow` unanswered per channel, through the channel it was last moved to,
 * and records each one's answer: an ack, a nack, or its channel closed first ('closed'; also a
 * publish on a channel already closed).
 */
class ConfirmingPublisher {
  /** Every publish by body, in publish order. */
  readonly publishes = new Map<string, Publish>();
  private lane: Lane;
  private next = 0;
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(
    private readonly queue: string,
    laneName: string,
    channel: ConfirmChannel,
  ) {
    this.lane = { name: laneName, channel, inFlight: 0 };
    this.running = this.run();
  }

  /** Publishes go through `channel` from now on; those sent on the previous one are answered there (or never). */
  moveTo(laneName: string, channel: ConfirmChannel): void {
    this.lane = { name: laneName, channel, inFlight: 0 };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  count(laneName: string, outcome: Outcome): number {
    let count = 0;
    for (const publish of this.publishes.values()) if (publish.lane === laneName && publish.outcome === outcome) count++;
    return count;
  }

  bodies(outcome: Outcome): string[] {
    return [...this.publishes].filter(([, publish]) => publish.outcome === outcome).map(([body]) => body);
  }

  /** Outcomes per lane, e.g. `paused broker: 812 ack, 50 nack, 0 closed, 0 pending`. */
  tally(): string {
    const lanes = new Set([...this.publishes.values()].map((publish) => publish.lane));
    const outcomes: readonly Outcome[] = ['ack', 'nack', 'closed', 'pending'];
    return [...lanes].map((lane) => `${lane}: ${outcomes.map((outcome) => `${this.count(lane, outcome)} ${outcome}`).join(', ')}`).join('; ');
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const lane = this.lane;
      if (lane.inFlight >= publishWindow) {
        await sleep(20);
        continue;
      }
      this.publish(lane);
      await sleep(publishIntervalMs);
    }
  }

  private publish(lane: Lane): void {
    const body = `p${this.next++}`;
    const publish: Publish = { lane: lane.name, outcome: 'pending', answeredAtMs: null };
    this.publishes.set(body, publish);
    lane.inFlight++;
    const answer = (outcome: Outcome) => {
      if (publish.outcome !== 'pending') return;
      publish.outcome = outcome;
      publish.answeredAtMs = Date.now();
      lane.inFlight--;
    };
    try {
      // amqplib calls back with null (ack), Error('message nacked'), or Error('channel closed').
      lane.channel.sendToQueue(this.queue, Buffer.from(body), { persistent: true }, (error: unknown) => {
        if (error === null || error === undefined) answer('ack');
        else answer(error instanceof Error && error.message === 'message nacked' ? 'nack' : 'closed');
      });
    } catch {
      answer('closed'); // the channel was closed already
    }
  }
}

/** A connection whose end (its broker paused, killed or closing it) the test expects: errors are kept from throwing. */
async function connectExpectingFaults(broker: BrokerProcess, opened: ChannelModel[]): Promise<ChannelModel> {
  const connection = await connectAmqp(broker);
  connection.on('error', () => undefined);
  opened.push(connection);
  return connection;
}

async function confirmChannel(connection: ChannelModel): Promise<ConfirmChannel> {
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  return channel;
}

/** Closes what is still open, not waiting long for a broker that answers nothing (the cluster stops after). */
async function closeAll(connections: readonly ChannelModel[]): Promise<void> {
  await Promise.all(connections.map((connection) => Promise.race([connection.close().catch(() => undefined), sleep(2000)])));
}

/** Declares the durable queue through broker `throughNodeId` and waits until its log has three in-sync replicas; returns the log's topic and its state. */
async function declareReplicated(cluster: TestCluster, throughNodeId: number, queue: string) {
  const connection = await connectAmqp(cluster.broker(throughNodeId));
  try {
    await (await openChannel(connection)).assertQueue(queue, { durable: true });
  } finally {
    await connection.close();
  }
  const topic = queueTopicName(await storageIdOf(cluster, queue));
  const state = await cluster.waitForPartition(topic, 0, (candidate) => candidate.leader !== -1 && candidate.isr.length === 3, `the log of ${queue} on three brokers, in sync`);
  return { topic, state };
}

test('the broker serving a queue paused past its lease while a publisher with confirms goes on: a follower takes over in a new leader epoch and the publisher moves there; resumed, the paused broker confirms no publish it cannot keep (every confirmed message is delivered by the new leader), follows and rejoins the ISR', { timeout: 180_000 }, async (t) => {
  const cluster = await startTestCluster({ nodeIds: [1, 2, 3], extraArgs: () => ['--amqp-port', '0'] });
  const connections: ChannelModel[] = [];
  let pausedPid: number | null = null;
  try {
    const queue = 'paused';
    const { topic, state: initial } = await declareReplicated(cluster, 1, queue);
    const servingId = initial.leader;
    const serving = cluster.broker(servingId);

    const publisher = new ConfirmingPublisher(queue, 'paused broker', await confirmChannel(await connectExpectingFaults(serving, connections)));
    let moved: PartitionRecord | null = null;
    try {
      await waitUntil(() => publisher.count('paused broker', 'ack') >= 100, 'confirms from the broker serving the queue', 20_000, () => publisher.tally());

      process.kill(serving.pid, 'SIGSTOP');
      pausedPid = serving.pid;
      const pausedAtMs = Date.now();
      moved = await cluster.waitForPartition(topic, 0, (state) => state.leader !== servingId && state.leader !== -1, `a leader of ${topic} other than the paused broker ${servingId}`, 30_000);
      assert.ok(moved.leaderEpoch > initial.leaderEpoch, `a new leader epoch: ${initial.leaderEpoch} then ${moved.leaderEpoch}`);
      assert.ok(!moved.isr.includes(servingId), 'the paused broker left the ISR');

      // The publisher goes on through the new leader while the old one is still paused.
      publisher.moveTo('new leader', await confirmChannel(await connectExpectingFaults(cluster.broker(moved.leader), connections)));
      await waitUntil(() => publisher.count('new leader', 'ack') >= 100, 'confirms from the new leader', 20_000, () => publisher.tally());
      const pausedForMs = Date.now() - pausedAtMs;

      process.kill(serving.pid, 'SIGCONT');
      pausedPid = null;
      const resumedAtMs = Date.now();
      // It reads what was queued in its socket meanwhile, learns that it no longer leads, and
      // answers every publish: none of them with an ack it cannot keep (checked below).
      await waitUntil(() => publisher.count('paused broker', 'pending') === 0, 'an answer (or a closed channel) for every publish through the resumed broker', 45_000, () => publisher.tally());
      const ackedAfterResume = [...publisher.publishes.values()].filter((publish) => publish.lane === 'paused broker' && publish.outcome === 'ack' && (publish.answeredAtMs ?? 0) >= resumedAtMs).length;
      const acksSoFar = publisher.count('new leader', 'ack');
      await waitUntil(() => publisher.count('new leader', 'ack') >= acksSoFar + 50, 'confirms from the new leader after the resume', 20_000, () => publisher.tally());
      t.diagnostic(`paused for ${pausedForMs} ms; acks from the paused broker after its resume: ${ackedAfterResume}`);
    } finally {
      await publisher.stop();
    }
    assert.ok(moved !== null);
    const newLeaderId = moved.leader;
    const newLeaderEpoch = moved.leaderEpoch;
    await waitUntil(() => publisher.count('new leader', 'pending') === 0, 'an answer for every publish through the new leader', 30_000, () => publisher.tally());
    t.diagnostic(publisher.tally());
    assert.equal(publisher.count('new leader', 'ack'), [...publisher.publishes.values()].filter((publish) => publish.lane === 'new leader').length, 'the new leader confirmed every publish');

    // The resumed broker follows the new leader and rejoins the ISR.
    await cluster.waitForPartition(topic, 0, (state) => state.leader === newLeaderId && state.leaderEpoch === newLeaderEpoch && state.isr.includes(servingId), `the resumed broker ${servingId} back in the ISR of ${topic}`, 30_000);

    // Everything the new leader holds, read up to a last message published after the rest.
    const reader = await connectExpectingFaults(cluster.broker(newLeaderId), connections);
    assert.equal(await publishConfirmed(await confirmChannel(reader), queue, 'last'), 'ack');
    const { received, ack } = await consumeUntil(reader, queue, (got) => got.some((message) => message.content.toString() === 'last'), 0, 30_000);
    for (const message of received) ack(message);
    const delivered = received.map((message) => message.content.toString());
    const deliveredOnce = new Set(delivered);
    t.diagnostic(`delivered by the new leader: ${delivered.length} messages, ${deliveredOnce.size} distinct`);
    assert.deepEqual(
      delivered.filter((body) => body !== 'last' && !publisher.publishes.has(body)),
      [],
      'nothing delivered that was never published',
    );
    assert.deepEqual(
      publisher.bodies('ack').filter((body) => !deliveredOnce.has(body)),
      [],
      'every publish confirmed with an ack, through either broker, delivered by the new leader',
    );
  } finally {
    if (pausedPid !== null) process.kill(pausedPid, 'SIGCONT');
    await closeAll(connections);
    await cluster.stop();
  }
});

/** A message body of about 200 bytes, so that a hundred of them fill several 4 KiB segments. */
function paddedBody(label: string): string {
  return `${label} `.padEnd(200, '.');
}

function labelOf(body: string): string {
  return body.split(' ')[0] ?? body;
}

test('a follower of a queue\'s log restarted on an empty data directory fetches it again, from the leader\'s log start, state batches included: once it leads, it serves exactly the messages not acknowledged, those delivered before flagged redelivered', { timeout: 180_000 }, async (t) => {
  // Small segments, so that the leader deletes the settled ones before the follower comes back empty.
  const cluster = await startTestCluster({ nodeIds: [1, 2, 3], extraArgs: () => ['--amqp-port', '0', '--amqp.queue-segment-bytes', '4096'] });
  const connections: ChannelModel[] = [];
  try {
    const queue = 'refilled';
    const { topic, state: initial } = await declareReplicated(cluster, 1, queue);
    const leaderId = initial.leader;
    const [emptiedId, otherId] = initial.replicas.filter((nodeId) => nodeId !== leaderId);
    assert.ok(emptiedId !== undefined && otherId !== undefined);

    // 300 confirmed, 120 of them consumed (a prefetch of 120: exactly these are delivered), the
    // rest never delivered. Of the 120, acknowledged: m0…m79, a prefix the leader can delete, and the
    // even ones of m80…m119, which stay in the log and are settled only by the state batches.
    const total = 300;
    const toLeader = await connectExpectingFaults(cluster.broker(leaderId), connections);
    const channel = await confirmChannel(toLeader);
    const confirms = await Promise.all(Array.from({ length: total }, (_, index) => publishConfirmed(channel, queue, paddedBody(`m${index}`))));
    assert.deepEqual(
      confirms.filter((answer) => answer !== 'ack'),
      [],
      'every publish confirmed',
    );
    const { received, ack } = await consumeUntil(toLeader, queue, (got) => got.length >= 120, 120);
    assert.deepEqual(
      received.map((message) => labelOf(message.content.toString())),
      Array.from({ length: 120 }, (_, index) => `m${index}`),
    );
    // The scattered acks first: the prefix's settle, whose durability is waited for below, comes in
    // the same state batch or a later one.
    for (const message of received.slice(80).filter((_, index) => index % 2 === 0)) ack(message);
    for (const message of received.slice(0, 80)) ack(message);
    const unacked = [...received.slice(80).filter((_, index) => index % 2 === 1).map((message) => labelOf(message.content.toString())), ...Array.from({ length: total - 120 }, (_, index) => `m${120 + index}`)];
    // Acks have no answer in AMQP: a round trip on the channel makes sure the broker read them.
    await channel.checkQueue(queue);
    // The leader deletes settled segments only once their settles are durable, i.e. held by every
    // in-sync replica: its log start moving shows the state batches replicated, and makes the empty
    // follower start from there.
    let logStart = -1n;
    await waitUntil(
      async () => {
        logStart = (await startOffsets(cluster.broker(leaderId), topic, 1))[0] ?? -1n;
        return logStart > 0n;
      },
      `broker ${leaderId} to delete the settled segments of ${topic}`,
      20_000,
      () => `log start ${logStart}`,
    );
    t.diagnostic(`the leader's log start before the follower came back empty: ${logStart}`);

    // The follower loses its disk: killed, then started on a new, empty directory under the same node id.
    const formerDataDir = cluster.broker(emptiedId).dataDir;
    await cluster.broker(emptiedId).kill9();
    await cluster.waitForPartition(topic, 0, (state) => !state.isr.includes(emptiedId), `broker ${emptiedId} to leave the ISR of ${topic}`);
    const emptied = await cluster.startBroker(emptiedId);
    assert.notEqual(emptied.dataDir, formerDataDir);
    await cluster.waitForPartition(topic, 0, (state) => state.leader === leaderId && state.isr.includes(emptiedId), `broker ${emptiedId} back in the ISR of ${topic}`, 30_000);

    // Leadership moves to it: the other follower leaves the ISR, then the leader dies, so that the
    // refilled broker is the only in-sync replica left.
    await cluster.broker(otherId).kill9();
    await cluster.waitForPartition(topic, 0, (state) => !state.isr.includes(otherId), `broker ${otherId} to leave the ISR of ${topic}`);
    await cluster.broker(leaderId).kill9();
    const moved = await cluster.waitForPartition(topic, 0, (state) => state.leader === emptiedId, `broker ${emptiedId} to lead ${topic}`, 30_000);
    assert.ok(moved.leaderEpoch > initial.leaderEpoch);
    // The other follower returns (on its data), so the queue has min.insync.replicas again and its
    // state batches (deliveries, acks) can be written.
    await cluster.restart(otherId);
    await cluster.waitForPartition(topic, 0, (state) => state.leader === emptiedId && state.isr.includes(otherId), `broker ${otherId} back in the ISR of ${topic}`, 30_000);

    const toRefilled = await connectExpectingFaults(emptied, connections);
    const { received: served, ack: ackServed } = await consumeUntil(toRefilled, queue, (got) => got.length >= unacked.length);
    assert.deepEqual(
      served.map((message) => labelOf(message.content.toString())),
      unacked,
      'exactly the messages not acknowledged, in order',
    );
    assert.deepEqual(
      served.filter((message) => message.fields.redelivered).map((message) => labelOf(message.content.toString())),
      unacked.slice(0, 20),
      'those delivered before, and only those, flagged redelivered',
    );
    for (const message of served) ackServed(message);

    // It serves the queue in full: a new publish is confirmed and delivered, and nothing else comes.
    assert.equal(await publishConfirmed(await confirmChannel(toRefilled), queue, 'after the move'), 'ack');
    const { received: latest } = await consumeUntil(toRefilled, queue, (got) => got.some((message) => message.content.toString() === 'after the move'));
    assert.deepEqual(
      latest.map((message) => message.content.toString()),
      ['after the move'],
    );
  } finally {
    await closeAll(connections);
    await cluster.stop();
  }
});
