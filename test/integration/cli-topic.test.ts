/**
 * `osprey topic …` and `osprey cluster info` against a real broker process: outputs (human and
 * --json) checked, and the failures users meet: unreachable broker, unknown topic, a topic that
 * exists, invalid flags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { assertFailed, assertSucceeded, describeResult, osprey, ospreyJson } from '../helpers/osprey-cli.js';
import { waitUntilWrittenOut } from '../helpers/waiting.js';

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({ args: ['--auto-create-topics=false'] });
});

after(async () => {
  await broker.stop();
});

interface TopicDescription {
  topic: string;
  partitions: { partition: number; leader: number; replicas: number[]; startOffset: number; endOffset: number; records: number; sizeBytes: number | null }[];
  configs: { name: string; value: string | null; source: string }[];
}

/** Bytes of the segment files in a partition's folder. */
function segmentBytes(dataDir: string, partitionFolder: string): number {
  const folder = join(dataDir, partitionFolder);
  return readdirSync(folder)
    .filter((name) => name.endsWith('.log'))
    .reduce((total, name) => total + statSync(join(folder, name)).size, 0);
}

test('topic create, list and describe show partitions, leaders, offsets and configs', async () => {
  const created = await osprey(broker, ['topic', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000']);
  assertSucceeded(created);
  assert.equal(created.stdout, 'created topic orders with 3 partitions\n');

  const list = await osprey(broker, ['topic', 'list']);
  assertSucceeded(list);
  assert.match(list.stdout, /^TOPIC\s+PARTITIONS\s+REPLICAS\n/);
  assert.match(list.stdout, /^orders\s+3\s+1$/m);
  const listed = await ospreyJson<{ topic: string; partitions: number }[]>(broker, ['topic', 'list']);
  assert.deepEqual(listed.find((entry) => entry.topic === 'orders'), { topic: 'orders', partitions: 3, replicas: 1, internal: false });

  assertSucceeded(await osprey(broker, ['produce', 'orders', '--partition', '1'], { input: 'a\nb\nc\n' }));
  const described = await ospreyJson<TopicDescription>(broker, ['topic', 'describe', 'orders']);
  assert.equal(described.topic, 'orders');
  assert.deepEqual(
    described.partitions.map((partition) => [partition.partition, partition.leader, partition.startOffset, partition.endOffset, partition.records]),
    [
      [0, 0, 0, 0, 0],
      [1, 0, 0, 3, 3],
      [2, 0, 0, 0, 0],
    ],
  );
  assert.deepEqual(described.configs, [{ name: 'retention.ms', value: '86400000', source: 'topic', readOnly: false }]);
  // Bytes on disk, from DescribeLogDirs: the segment files of each partition (once written behind the journal).
  await waitUntilWrittenOut(broker);
  assert.deepEqual(
    described.partitions.map((partition) => partition.sizeBytes),
    [0, 1, 2].map((partition) => segmentBytes(broker.dataDir, `orders-${partition}`)),
  );
  assert.ok(described.partitions[1]!.sizeBytes! > 0);

  const human = await osprey(broker, ['topic', 'describe', 'orders']);
  assertSucceeded(human);
  assert.match(human.stdout, /^records:\s+3$/m);
  assert.match(human.stdout, /^PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+OFFLINE\s+START\s+END\s+RECORDS\s+SIZE$/m);
  assert.match(human.stdout, new RegExp(`^\\s+1\\s+0\\s+0\\s+0\\s+-\\s+0\\s+3\\s+3\\s+${described.partitions[1]!.sizeBytes} B$`, 'm'));
  assert.match(human.stdout, /^\s+0\s+0\s+0\s+0\s+-\s+0\s+0\s+0\s+0 B$/m);
  assert.match(human.stdout, new RegExp(`^size:\\s+${described.partitions[1]!.sizeBytes} B$`, 'm'));
  assert.match(human.stdout, /^retention\.ms\s+86400000\s+topic$/m);
  assert.doesNotMatch(human.stdout, /\u001b\[/, 'no colour when stdout is not a terminal');
});

test('topic alter-config sets and removes configs', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'configured', '-p', '1']));
  const set = await osprey(broker, ['topic', 'alter-config', 'configured', '--set', 'retention.ms=3600000', '--set', 'cleanup.policy=delete']);
  assertSucceeded(set);
  assert.equal(set.stdout, 'configured: set retention.ms=3600000\nconfigured: set cleanup.policy=delete\n');
  let configs = (await ospreyJson<TopicDescription>(broker, ['topic', 'describe', 'configured'])).configs;
  assert.equal(configs.find((entry) => entry.name === 'retention.ms')?.value, '3600000');
  assertSucceeded(await osprey(broker, ['topic', 'alter-config', 'configured', '--delete', 'retention.ms']));
  configs = (await ospreyJson<TopicDescription>(broker, ['topic', 'describe', 'configured'])).configs;
  assert.equal(configs.find((entry) => entry.name === 'retention.ms'), undefined, 'back to the default, so not listed');
  const all = (await ospreyJson<TopicDescription>(broker, ['topic', 'describe', 'configured', '--all-configs'])).configs;
  assert.ok(all.some((entry) => entry.name === 'retention.ms' && entry.source !== 'topic'), JSON.stringify(all));

  const usage = await osprey(broker, ['topic', 'alter-config', 'configured']);
  assertFailed(usage, /nothing to change: give --set KEY=VALUE or --delete KEY/, 2);
});

test('topic add-partitions grows a topic by --num or to --total', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'growing', '-p', '1']));
  const added = await osprey(broker, ['topic', 'add-partitions', 'growing', '--num', '2']);
  assertSucceeded(added);
  assert.equal(added.stdout, 'growing: 1 → 3 partitions\n');
  const total = await ospreyJson<{ before: number; partitions: number }>(broker, ['topic', 'add-partitions', 'growing', '--total', '5']);
  assert.deepEqual(total, { topic: 'growing', before: 3, partitions: 5 });
  assertFailed(await osprey(broker, ['topic', 'add-partitions', 'growing', '--total', '2']), /INVALID_PARTITIONS/);
  assertFailed(await osprey(broker, ['topic', 'add-partitions', 'growing']), /give exactly one of --num N .* or --total N/, 2);
});

test('topic trim deletes records before an offset or a time', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'trimmed', '-p', '1']));
  assertSucceeded(await osprey(broker, ['produce', 'trimmed'], { input: 'r0\nr1\nr2\nr3\nr4\n' }));
  const trimmed = await ospreyJson<{ partitions: { partition: number; startOffset: number; endOffset: number }[] }>(broker, ['topic', 'trim', 'trimmed', '--before-offset', '2']);
  assert.deepEqual(trimmed.partitions, [{ partition: 0, startOffset: 2, endOffset: 5 }]);
  const consumed = await osprey(broker, ['consume', 'trimmed', '--exit-at-end']);
  assertSucceeded(consumed);
  assert.equal(consumed.stdout, 'r2\nr3\nr4\n');
  // Every record is older than a time in the future: all go.
  const byTime = await osprey(broker, ['topic', 'trim', 'trimmed', '--before-timestamp', String(Date.now() + 60_000)]);
  assertSucceeded(byTime);
  assert.match(byTime.stdout, /^\s+0\s+5\s+5$/m);
  assertFailed(await osprey(broker, ['topic', 'trim', 'trimmed']), /give exactly one of --before-offset or --before-timestamp/, 2);
});

test('topic delete removes the topic', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'doomed', '-p', '2']));
  const deleted = await osprey(broker, ['topic', 'delete', 'doomed']);
  assertSucceeded(deleted);
  assert.equal(deleted.stdout, 'deleted topic doomed\n');
  const listed = await ospreyJson<{ topic: string }[]>(broker, ['topic', 'list']);
  assert.ok(!listed.some((entry) => entry.topic === 'doomed'));
  assertFailed(await osprey(broker, ['topic', 'delete', 'doomed']), /delete topic 'doomed': UNKNOWN_TOPIC_OR_PARTITION/);
});

test('errors say what happened and what to do, with exit codes 1 (failed) and 2 (usage)', async () => {
  assertFailed(await osprey(broker, ['topic', 'describe', 'missing']), /^osprey topic describe: topic 'missing': UNKNOWN_TOPIC_OR_PARTITION; .*osprey topic list/m);
  assertSucceeded(await osprey(broker, ['topic', 'create', 'twice', '-p', '1']));
  assertFailed(await osprey(broker, ['topic', 'create', 'twice', '-p', '1']), /TOPIC_ALREADY_EXISTS/);
  assertFailed(await osprey(broker, ['topic', 'create', 'x', '--partitions', 'many']), /--partitions: expected an integer 1-100000, got 'many'\nSee 'osprey topic create --help'/, 2);
  assertFailed(await osprey(broker, ['topic', 'create', 'x', '--bogus']), /unknown flag --bogus/, 2);
  assertFailed(await osprey(broker, ['topic', 'create']), /osprey topic create: missing NAME/, 2);
  assertFailed(await osprey(broker, ['topic', 'frob']), /osprey topic: unknown command 'frob'; one of: create, list/, 2);
  assertFailed(await osprey(broker, ['topic', 'create', 'x', '--config', 'novalue']), /--config: expected key=value, got 'novalue'/, 2);

  const unreachable = await osprey('127.0.0.1:1', ['topic', 'list']);
  assertFailed(unreachable, /^osprey topic list: cannot reach broker 127\.0\.0\.1:1: connection refused/m);
  const twoDown = await osprey('127.0.0.1:1,127.0.0.1:2', ['cluster', 'info']);
  assertFailed(twoDown, /cannot reach broker 127\.0\.0\.1:1, 127\.0\.0\.1:2/);
});

test('a broker that accepts connections but never answers times out with a message naming it', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  try {
    const result = await osprey(address, ['topic', 'list', '--timeout', '500ms']);
    assertFailed(result, new RegExp(`^osprey topic list: ApiVersions request to ${address.replace(/\./g, '\\.')} got no answer within 500 ms; .*--timeout`, 'm'));
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('OSPREY_BROKERS is used when --brokers is not given', async () => {
  const result = await osprey(broker, ['topic', 'list', '--json'], { noBrokersFlag: true, env: { OSPREY_BROKERS: broker.bootstrap } });
  assertSucceeded(result);
  assert.ok(Array.isArray(JSON.parse(result.stdout)));
  const defaultAddress = await osprey(broker, ['topic', 'list'], { noBrokersFlag: true, env: { OSPREY_BROKERS: '127.0.0.1:1' } });
  assertFailed(defaultAddress, /cannot reach broker 127\.0\.0\.1:1/);
});

test('cluster info names the brokers, the controller and the protocol versions', async () => {
  const info = await ospreyJson<{ clusterId: string; controllerId: number; brokers: { nodeId: number; host: string; port: number }[]; apis: { key: number; name: string; maxVersion: number }[] }>(broker, ['cluster', 'info']);
  assert.equal(info.controllerId, 0);
  assert.deepEqual(info.brokers.map((entry) => [entry.nodeId, entry.host, entry.port]), [[0, broker.host, broker.port]]);
  assert.ok(info.clusterId.length > 0);
  assert.ok(info.apis.some((api) => api.name === 'Produce' && api.key === 0));
  assert.deepEqual(info.apis.filter((api) => api.name.startsWith('api-')), [], 'every API the broker offers has its name');
  assert.ok(info.apis.some((api) => api.name === 'ConsumerGroupHeartbeat' && api.key === 68));
  const human = await osprey(broker, ['cluster', 'info', '--apis']);
  assertSucceeded(human);
  assert.match(human.stdout, /^controller:\s+0$/m);
  assert.match(human.stdout, new RegExp(`^\\s*0\\s+${broker.host.replace(/\./g, '\\.')}\\s+${broker.port}\\s+-\\s+controller$`, 'm'));
  assert.match(human.stdout, /^\s+0\s+Produce\s+\d+-\d+$/m);
});

test('every client command has --help with examples', async () => {
  const commands = [
    ['topic', 'create'], ['topic', 'list'], ['topic', 'describe'], ['topic', 'alter-config'], ['topic', 'add-partitions'], ['topic', 'delete'], ['topic', 'trim'],
    ['produce'], ['consume'], ['group', 'list'], ['group', 'describe'], ['group', 'delete'], ['group', 'reset-offsets'],
    ['cluster', 'info'], ['perf', 'produce'], ['perf', 'consume'], ['perf', 'e2e'],
  ];
  // Each is a process of its own, mostly starting up: a few at a time rather than one by one.
  const helpOf = (args: readonly string[]) => osprey(broker, [...args, '--help'], { noBrokersFlag: true });
  const results = await inTurns(commands, 4, helpOf);
  for (const [index, command] of commands.entries()) {
    const result = results[index]!;
    assertSucceeded(result);
    assert.match(result.stdout, new RegExp(`^Usage: osprey ${command.join(' ')}`), describeResult(result));
    assert.match(result.stdout, /--brokers HOST:PORT/);
    const examples = result.stdout.split('Examples:\n')[1] ?? '';
    assert.ok(examples.includes(`osprey ${command.join(' ')}`), describeResult(result));
  }
  const groups = ['topic', 'group', 'cluster', 'perf'];
  const groupResults = await inTurns(groups.map((group) => [group]), 4, helpOf);
  for (const [index, group] of groups.entries()) {
    const result = groupResults[index]!;
    assertSucceeded(result);
    assert.match(result.stdout, new RegExp(`^Usage: osprey ${group} <command>`));
  }
});

/** `work` on every item, at most `concurrency` at a time; the results in the items' order. */
async function inTurns<Item, Result>(items: readonly Item[], concurrency: number, work: (item: Item) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = new Array<Result>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
