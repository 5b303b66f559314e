/**
 * kcat's balanced consumer (`kcat -G`, librdkafka 2.0.2: JoinGroup v5, SyncGroup v3, Heartbeat v3,
 * OffsetCommit v7, OffsetFetch v7, FindCoordinator v2) against a real broker process: three
 * consumers sharing a 6-partition topic, one of them killed with SIGKILL (its session expires, its
 * partitions move), the group stopped and started again, the broker killed with SIGKILL under a
 * running group, two groups. Every record is counted in and out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { kcatSucceeds } from '../helpers/kcat.js';
import { requireTool } from '../helpers/tools.js';
import { produceMarkers, waitUntil, waitUntilCommitted } from '../helpers/waiting.js';

const partitionCount = 6;
const sessionTimeoutMs = 6000;
/** librdkafka auto-commits every 5 s by default; 1 s keeps the waits for a commit short. */
const autoCommitIntervalMs = 1000;
let broker: BrokerProcess;
const running = new Set<KcatConsumer>();

before(async () => {
  requireTool('kcat');
  broker = await startBrokerProcess({ args: ['--num-partitions', String(partitionCount), '--groups.initial-rebalance-delay-ms', '300'] });
});

after(async () => {
  for (const consumer of running) consumer.kill();
  await broker.stop();
});

function waitFor(condition: () => boolean, what: string, timeoutMs = 40_000): Promise<void> {
  return waitUntil(condition, what, timeoutMs, () => {
    const consumers = [...running].map((consumer) => `--- ${consumer.name} (${consumer.received.length} received) ---\n${consumer.stderr.slice(-1500)}`).join('\n');
    return `${consumers}\n--- broker log tail ---\n${broker.logs().split('\n').slice(-25).join('\n')}`;
  });
}

/** A `kcat -G` process; what it prints (`partition offset value`, unbuffered) is parsed as it comes. */
class KcatConsumer {
  readonly received: Array<{ partition: number; offset: number; value: string }> = [];
  /** The partitions of its latest assignment (from librdkafka's rebalance lines). */
  assigned: number[] = [];
  stderr = '';
  exited = false;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly closed: Promise<void>;

  constructor(
    readonly name: string,
    groupId: string,
    topic: string,
    extraArgs: readonly string[] = [],
  ) {
    const args = [
      ...extraArgs,
      '-b', broker.bootstrap, '-G', groupId, '-u',
      '-X', 'auto.offset.reset=earliest',
      '-X', `session.timeout.ms=${sessionTimeoutMs}`,
      '-X', 'heartbeat.interval.ms=500',
      '-X', 'reconnect.backoff.max.ms=500',
      '-X', `auto.commit.interval.ms=${autoCommitIntervalMs}`,
      '-f', '%p %o %s\\n',
      topic,
    ];
    this.child = spawn(requireTool('kcat'), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this);
    let partial = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^(\d+) (\d+) (.*)$/.exec(line);
        if (match !== null) this.received.push({ partition: Number(match[1]), offset: Number(match[2]), value: match[3]! });
      }
    });
    let partialError = '';
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      const lines = (partialError + chunk).split('\n');
      partialError = lines.pop() ?? '';
      for (const line of lines) {
        // Eager protocols: "assigned: t [0], …" / "revoked: …" (everything); cooperative-sticky:
        // "incremental assignment of N partition(s) (memberid …): t [0], …" / "incremental revoke of …".
        const partitionsIn = (text: string) => [...text.matchAll(/\[(\d+)\]/g)].map((found) => Number(found[1]));
        const assigned = / assigned: (.*)$/.exec(line);
        if (assigned !== null) this.assigned = partitionsIn(assigned[1]!);
        if (/ revoked: /.test(line)) this.assigned = [];
        const revoked = /incremental revoke of \d+ partition\(s\) \([^)]*\): (.*)$/.exec(line);
        if (revoked !== null) {
          const gone = new Set(partitionsIn(revoked[1]!));
          this.assigned = this.assigned.filter((partition) => !gone.has(partition));
        }
        const added = /incremental assignment of \d+ partition\(s\) \([^)]*\): (.*)$/.exec(line);
        if (added !== null) this.assigned = [...new Set([...this.assigned, ...partitionsIn(added[1]!)])];
      }
    });
    this.closed = new Promise((resolve) => {
      this.child.once('close', () => {
        this.exited = true;
        running.delete(this);
        resolve();
      });
    });
  }

  values(): string[] {
    return this.received.map((record) => record.value);
  }

  /** SIGTERM: kcat closes its consumer cleanly (commits, leaves the group). */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.closed;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  async killAndWait(): Promise<void> {
    this.kill();
    await this.closed;
  }
}

/** Produces `count` values `prefix-i`, spread over the partitions, with kcat. */
async function produce(topic: string, prefix: string, count: number): Promise<string[]> {
  const values = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  for (let partition = 0; partition < partitionCount; partition++) {
    const mine = values.filter((_, index) => index % partitionCount === partition);
    await kcatSucceeds(['-P', '-b', broker.bootstrap, '-t', topic, '-p', String(partition), '-X', 'acks=all'], { input: mine.join('\n') + '\n' });
  }
  return values;
}

/** How often each value arrived at any of `consumers`; markers (see settle) left out. */
function receivedBy(consumers: readonly KcatConsumer[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const consumer of consumers) for (const value of consumer.values()) if (!value.startsWith(markerPrefix)) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

const markerPrefix = 'marker';

/**
 * Writes a marker to every partition and waits until `consumers` have read them all: a record read
 * twice (say, again from an older committed offset) would have come before its partition's marker,
 * so "nothing read twice" can be checked at once afterwards.
 */
async function settle(topic: string, ...groups: ReadonlyArray<readonly KcatConsumer[]>): Promise<void> {
  const markers = await produceMarkers(broker, topic, partitionCount, markerPrefix);
  const readByGroup = (group: readonly KcatConsumer[]) => markers.every((marker) => group.some((consumer) => consumer.values().includes(marker)));
  await waitFor(() => groups.every(readByGroup), 'the markers after the records');
}

function startGroup(groupId: string, topic: string, names: readonly string[], extraArgs: readonly string[] = []): KcatConsumer[] {
  return names.map((name) => new KcatConsumer(name, groupId, topic, extraArgs));
}

function assignedEverything(consumers: readonly KcatConsumer[], perConsumer: number): boolean {
  const all = consumers.flatMap((consumer) => consumer.assigned);
  return consumers.every((consumer) => consumer.assigned.length === perConsumer) && new Set(all).size === partitionCount;
}

test('three kcat consumers share a 6-partition topic: every record exactly once, two partitions each', async () => {
  const topic = 'kcat-share';
  await produce(topic, 'warmup', 6); // creates the topic
  const group = startGroup('kcat-share', topic, ['a', 'b', 'c']);
  await waitFor(() => assignedEverything(group, 2) && receivedBy(group).size === 6, 'three members with two partitions each');
  const values = await produce(topic, 'shared', 600);
  await waitFor(() => values.every((value) => receivedBy(group).has(value)), 'every record');
  await settle(topic, group);
  const counts = receivedBy(group);
  assert.deepEqual([...counts].filter(([, count]) => count > 1), []);
  assert.equal(counts.size, 606);
  for (const consumer of group) assert.ok(consumer.received.length >= 200, `${consumer.name} got its share`);
  await Promise.all(group.map((consumer) => consumer.stop()));
});

test('cooperative-sticky (librdkafka): a third consumer joins a running pair, partitions move incrementally, every record exactly once', async () => {
  const topic = 'kcat-cooperative';
  await produce(topic, 'warmup', 6);
  const strategy = ['-X', 'partition.assignment.strategy=cooperative-sticky'];
  const pair = startGroup('kcat-cooperative', topic, ['a', 'b'], strategy);
  await waitFor(() => pair.every((consumer) => consumer.assigned.length === 3) && receivedBy(pair).size === 6, 'two members with three partitions each');
  const first = await produce(topic, 'first', 300);
  await waitFor(() => first.every((value) => receivedBy(pair).has(value)), 'the first records');
  await waitUntilCommitted(broker, 'kcat-cooperative', topic, partitionCount); // an auto-commit after the last record
  const third = new KcatConsumer('c', 'kcat-cooperative', topic, strategy);
  const group = [...pair, third];
  await waitFor(() => group.every((consumer) => consumer.assigned.length === 2), 'two partitions each after the incremental rebalance');
  const second = await produce(topic, 'second', 300);
  await waitFor(() => second.every((value) => receivedBy(group).has(value)), 'the second records');
  await settle(topic, group);
  assert.deepEqual([...receivedBy(group)].filter(([, count]) => count > 1), [], 'no record twice');
  assert.ok(third.received.length >= 100, 'the newcomer reads its share');
  assert.match(pair[0]!.stderr + pair[1]!.stderr, /incremental revoke/, 'partitions were handed over incrementally');
  await Promise.all(group.map((consumer) => consumer.stop()));
});

test('a kcat consumer killed with SIGKILL mid-stream: its session expires, its partitions move, nothing is skipped', async () => {
  const topic = 'kcat-kill';
  await produce(topic, 'warmup', 6);
  const group = startGroup('kcat-kill', topic, ['a', 'b', 'victim']);
  await waitFor(() => assignedEverything(group, 2) && receivedBy(group).size === 6, 'three members with two partitions each');
  const victim = group[2]!;
  const survivors = group.slice(0, 2);
  const first = await produce(topic, 'first', 300);
  await waitFor(() => victim.received.length > 50, 'the victim to read some records');
  await victim.killAndWait();
  const second = await produce(topic, 'second', 300);
  await waitFor(() => survivors.every((consumer) => consumer.assigned.length === 3), 'the victim’s partitions to move', sessionTimeoutMs + 20_000);
  const everything = ['warmup', 'first', 'second'].flatMap((prefix) => Array.from({ length: prefix === 'warmup' ? 6 : 300 }, (_, index) => `${prefix}-${index}`));
  await waitFor(() => everything.every((value) => receivedBy(group).has(value)), 'every record, once the victim’s partitions moved');
  assert.ok(second.every((value) => receivedBy(survivors).has(value)), 'the survivors read all of the second batch');
  assert.ok(first.length === 300);
  const survivorsTwice = [...receivedBy(survivors)].filter(([, count]) => count > 1);
  assert.deepEqual(survivorsTwice, [], 'no record came twice to the survivors');
  assert.match(broker.logs(), /session timeout \(6000 ms\) expired/);
  await Promise.all(survivors.map((consumer) => consumer.stop()));
});

test('static membership (group.instance.id): a member killed with SIGKILL and restarted in time takes its partitions back without a rebalance', async () => {
  const topic = 'kcat-static';
  await produce(topic, 'warmup', 6);
  const staticArgs = (instance: string) => ['-X', `group.instance.id=${instance}`];
  const first = new KcatConsumer('pod-1', 'kcat-static', topic, staticArgs('pod-1'));
  const second = new KcatConsumer('pod-2', 'kcat-static', topic, staticArgs('pod-2'));
  await waitFor(() => first.assigned.length === 3 && second.assigned.length === 3, 'three partitions each');
  const before = [...second.assigned].sort();
  const rebalancesBefore = broker.logs().split('\n').filter((line) => /preparing rebalance group=kcat-static/.test(line)).length;
  await second.killAndWait();
  const restarted = new KcatConsumer('pod-2 again', 'kcat-static', topic, staticArgs('pod-2'));
  await waitFor(() => restarted.assigned.length === 3, 'the restarted member to get its partitions');
  assert.deepEqual([...restarted.assigned].sort(), before, 'the same partitions');
  assert.match(broker.logs(), /static member replaced group=kcat-static instance=pod-2/);
  const values = await produce(topic, 'after', 60);
  await waitFor(() => values.every((value) => receivedBy([first, restarted]).has(value)), 'the records');
  const rebalancesAfter = broker.logs().split('\n').filter((line) => /preparing rebalance group=kcat-static/.test(line)).length;
  assert.equal(rebalancesAfter, rebalancesBefore, 'no rebalance');
  assert.equal(first.assigned.length, 3, 'the other member kept its partitions throughout');
  await Promise.all([first.stop(), restarted.stop()]);
});

test('the kcat group stops and starts again: it resumes from its committed offsets', async () => {
  const topic = 'kcat-restart';
  const first = await produce(topic, 'first', 300);
  let group = startGroup('kcat-restart', topic, ['a', 'b']);
  await waitFor(() => first.every((value) => receivedBy(group).has(value)), 'the first records');
  await Promise.all(group.map((consumer) => consumer.stop()));
  const second = await produce(topic, 'second', 300);
  group = startGroup('kcat-restart', topic, ['a', 'b']);
  await waitFor(() => second.every((value) => receivedBy(group).has(value)), 'the second records');
  await settle(topic, group);
  assert.deepEqual(group.flatMap((consumer) => consumer.values()).filter((value) => value.startsWith('first')), [], 'committed records are not read again');
  assert.deepEqual([...receivedBy(group)].filter(([, count]) => count > 1), []);
  await Promise.all(group.map((consumer) => consumer.stop()));
});

test('the broker is killed with SIGKILL under running kcat consumers and restarted: the group resumes from its committed offsets', async () => {
  const topic = 'kcat-broker-crash';
  const first = await produce(topic, 'first', 300);
  let group = startGroup('kcat-broker-crash', topic, ['a', 'b']);
  await waitFor(() => first.every((value) => receivedBy(group).has(value)), 'the first records');
  // librdkafka auto-commits every autoCommitIntervalMs: wait for a commit after the last record, so
  // everything read is committed, hence durable.
  await waitUntilCommitted(broker, 'kcat-broker-crash', topic, partitionCount);
  await broker.kill9();
  // kcat ends itself once every broker connection is down ("All broker connections are down: terminating").
  await waitFor(() => group.every((consumer) => consumer.exited), 'kcat to give up on the dead broker');
  broker = await broker.restart();
  const second = await produce(topic, 'second', 300);
  group = startGroup('kcat-broker-crash', topic, ['a', 'b']);
  await waitFor(() => second.every((value) => receivedBy(group).has(value)), 'the second records after the restart');
  await settle(topic, group);
  assert.deepEqual(group.flatMap((consumer) => consumer.values()).filter((value) => value.startsWith('first')), [], 'committed records are not read again');
  assert.deepEqual([...receivedBy(group)].filter(([, count]) => count > 1), []);
  await Promise.all(group.map((consumer) => consumer.stop()));
});

test('two kcat groups each receive every record', async () => {
  const topic = 'kcat-two-groups';
  const values = await produce(topic, 'both', 300);
  const x = startGroup('kcat-x', topic, ['x1', 'x2']);
  const y = startGroup('kcat-y', topic, ['y1']);
  await waitFor(() => values.every((value) => receivedBy(x).has(value) && receivedBy(y).has(value)), 'both groups to read everything');
  await settle(topic, x, y);
  assert.deepEqual([receivedBy(x).size, receivedBy(y).size], [300, 300]);
  assert.deepEqual([...receivedBy(x), ...receivedBy(y)].filter(([, count]) => count > 1), []);
  await Promise.all([...x, ...y].map((consumer) => consumer.stop()));
});
