/**
 * `osprey group …` against a real broker process, with live `osprey consume --group` members:
 * membership and assignments, lag, deleting, resetting offsets, and the refusals while a group is
 * in use.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { assertFailed, assertSucceeded, osprey, ospreyJson, startOsprey } from '../helpers/osprey-cli.js';

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({ args: ['--auto-create-topics=false'] });
});

after(async () => {
  await broker.stop();
});

interface GroupJson {
  group: string;
  state: string;
  members: { memberId: string; clientId: string; assignment: { topic: string; partitions: number[] }[] }[];
  partitions: { topic: string; partition: number; committedOffset: number | null; logEndOffset: number | null; lag: number | null; memberId: string | null }[];
  totalLag: number;
}

async function waitFor<T>(probe: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('group list, describe (members, assignments, lag), and refusals while members are active', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'payments', '-p', '2']));
  assertSucceeded(await osprey(broker, ['produce', 'payments', '-p', '0'], { input: 'a\nb\nc\nd\n' }));
  assertSucceeded(await osprey(broker, ['produce', 'payments', '-p', '1'], { input: 'e\nf\n' }));
  // A new group: commit 3 on partition 0 and nothing on partition 1 (lag 1 there, unknown on 1).
  assertSucceeded(await osprey(broker, ['group', 'reset-offsets', 'ledger', '--topic', 'payments', '--partition', '0', '--to', '3']));

  const listed = await osprey(broker, ['group', 'list']);
  assertSucceeded(listed);
  assert.match(listed.stdout, /^GROUP\s+STATE\s+PROTOCOL\s+TYPE$/m);
  assert.match(listed.stdout, /^ledger\s+Empty\s+/m);

  const idle = await ospreyJson<GroupJson>(broker, ['group', 'describe', 'ledger']);
  assert.equal(idle.state, 'Empty');
  assert.deepEqual(idle.partitions.map((row) => [row.partition, row.committedOffset, row.logEndOffset, row.lag]), [[0, 3, 4, 1]]);
  assert.equal(idle.totalLag, 1);

  // The members live through the whole check below (a dozen osprey commands, each a process of its
  // own): their time limit covers all of it, on a machine busy with other test files too.
  const memberOptions = { timeoutMs: 120_000 };
  const first = startOsprey(broker, ['consume', 'payments', '--group', 'ledger', '--from', 'beginning'], memberOptions);
  const second = startOsprey(broker, ['consume', 'payments', '--group', 'ledger', '--from', 'beginning'], memberOptions);
  try {
    const active = await waitFor(
      () => ospreyJson<GroupJson>(broker, ['group', 'describe', 'ledger']),
      (group) => group.state === 'Stable' && group.members.length === 2 && group.members.every((member) => member.assignment.length === 1),
      'two members with one partition each',
    );
    const assigned = active.members.flatMap((member) => member.assignment.flatMap((entry) => entry.partitions)).sort();
    assert.deepEqual(assigned, [0, 1], 'the range assignor splits the two partitions');
    const human = await osprey(broker, ['group', 'describe', 'ledger']);
    assertSucceeded(human);
    assert.match(human.stdout, /^state:\s+Stable$/m);
    assert.match(human.stdout, /^members:\s+2$/m);
    assert.match(human.stdout, /^MEMBER\s+CLIENT\s+HOST\s+ASSIGNED$/m);
    assert.match(human.stdout, /osprey-consume\s+\S+\s+payments:[01]$/m);
    assert.match(human.stdout, /^TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\s+MEMBER$/m);

    assertFailed(await osprey(broker, ['group', 'delete', 'ledger']), /^osprey group delete: delete group 'ledger': NON_EMPTY_GROUP; the group still has members: stop its consumers first/m);
    assertFailed(await osprey(broker, ['group', 'reset-offsets', 'ledger', '--topic', 'payments', '--to', 'earliest']), /group 'ledger' has 2 active members .*NON_EMPTY_GROUP/);
  } finally {
    first.child.kill('SIGINT');
    second.child.kill('SIGINT');
  }
  const [firstResult, secondResult] = await Promise.all([first.result, second.result]);
  assert.equal(firstResult.code, 0, firstResult.stderr);
  assert.equal(secondResult.code, 0, secondResult.stderr);
  const printed = (firstResult.stdout + secondResult.stdout).split('\n').filter(Boolean).sort();
  assert.deepEqual(printed, ['d', 'e', 'f'], 'partition 0 from its committed 3, partition 1 from the beginning');

  const done = await ospreyJson<GroupJson>(broker, ['group', 'describe', 'ledger']);
  assert.deepEqual(done.partitions.map((row) => [row.partition, row.committedOffset, row.lag]), [[0, 4, 0], [1, 2, 0]]);
  assert.equal(done.totalLag, 0);
});

test('group reset-offsets: dry run, earliest, latest, an offset, a time', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'replay', '-p', '1']));
  assertSucceeded(await osprey(broker, ['produce', 'replay'], { input: 'a\nb\nc\n' }));
  const middle = Date.now();
  // What is tested is a lookup by time: the clock moves on before the next records are written.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertSucceeded(await osprey(broker, ['produce', 'replay'], { input: 'd\ne\n' }));
  assertSucceeded(await osprey(broker, ['consume', 'replay', '--group', 'replayers', '--num', '5']));

  const dry = await osprey(broker, ['group', 'reset-offsets', 'replayers', '--topic', 'replay', '--to', 'earliest', '--dry-run']);
  assertSucceeded(dry);
  assert.match(dry.stdout, /^TOPIC\s+PARTITION\s+BEFORE\s+AFTER\nreplay\s+0\s+5\s+0\n\(dry run: nothing committed\)\n$/);
  const committed = async () => (await ospreyJson<GroupJson>(broker, ['group', 'describe', 'replayers'])).partitions[0]?.committedOffset;
  assert.equal(await committed(), 5);

  const reset = async (to: string) => ospreyJson<{ partitions: { partition: number; previous: number | null; offset: number }[] }>(broker, ['group', 'reset-offsets', 'replayers', '-t', 'replay', `--to=${to}`]);
  assert.deepEqual((await reset('earliest')).partitions, [{ topic: 'replay', partition: 0, previous: 5, offset: 0 }]);
  assert.equal(await committed(), 0);
  assert.equal((await reset(`@${middle}`)).partitions[0]?.offset, 3);
  assert.equal((await reset('1')).partitions[0]?.offset, 1);
  assert.equal((await reset('-1')).partitions[0]?.offset, 4);
  assert.equal((await reset('latest')).partitions[0]?.offset, 5);

  const again = await osprey(broker, ['consume', 'replay', '--group', 'replayers', '--exit-at-end']);
  assertSucceeded(again);
  assert.equal(again.stdout, '', 'reset to latest: nothing left to read');

  assertFailed(await osprey(broker, ['group', 'reset-offsets', 'replayers', '--to', 'earliest']), /--topic is required/, 2);
  assertFailed(await osprey(broker, ['group', 'reset-offsets', 'replayers', '-t', 'replay']), /--to is required/, 2);
  assertFailed(await osprey(broker, ['group', 'reset-offsets', 'replayers', '-t', 'nope', '--to', 'earliest']), /UNKNOWN_TOPIC_OR_PARTITION/);
});

test('group delete removes an empty group; unknown groups are reported', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'short-lived', '-p', '1']));
  assertSucceeded(await osprey(broker, ['produce', 'short-lived'], { input: 'x\n' }));
  assertSucceeded(await osprey(broker, ['consume', 'short-lived', '--group', 'temporary', '--num', '1']));
  const deleted = await osprey(broker, ['group', 'delete', 'temporary']);
  assertSucceeded(deleted);
  assert.equal(deleted.stdout, 'deleted group temporary\n');
  const listed = await ospreyJson<{ groupId: string }[]>(broker, ['group', 'list']);
  assert.ok(!listed.some((group) => group.groupId === 'temporary'));
  assertFailed(await osprey(broker, ['group', 'describe', 'temporary']), /^osprey group describe: .*GROUP_ID_NOT_FOUND.*osprey group list/m);
  assertFailed(await osprey(broker, ['group', 'delete', 'never-existed']), /GROUP_ID_NOT_FOUND/);
});
