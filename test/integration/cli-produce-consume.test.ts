/**
 * `osprey produce` and `osprey consume` against a real broker process, checked against kcat
 * (librdkafka: an implementation nobody here wrote) in both directions and with every codec.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { consumeJson, kcatSucceeds } from '../helpers/kcat.js';
import { assertFailed, assertSucceeded, osprey, ospreyJson, startOsprey } from '../helpers/osprey-cli.js';
import { partitionForKey } from '../../src/client/partitioner.js';

let broker: BrokerProcess;

before(async () => {
  broker = await startBrokerProcess({ args: ['--auto-create-topics=false'] });
});

after(async () => {
  await broker.stop();
});

interface JsonRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: { key: string; value: string | null }[];
}

function jsonLines(stdout: string): JsonRecord[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as JsonRecord);
}

test('produce splits keys, adds headers, partitions keys like the Java client, and reports acknowledgements', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'keyed', '-p', '4']));
  const lines = Array.from({ length: 40 }, (_, index) => `user-${index % 10}:event ${index}`);
  const produced = await osprey(broker, ['produce', 'keyed', '--key-delimiter', ':', '--header', 'source=test', '--header', 'v=1'], { input: lines.join('\n') + '\n' });
  assertSucceeded(produced);
  assert.match(produced.stdout, /^40 of 40 records acknowledged by keyed \(/);

  const consumed = await osprey(broker, ['consume', 'keyed', '--json', '--exit-at-end']);
  assertSucceeded(consumed);
  const records = jsonLines(consumed.stdout);
  assert.equal(records.length, 40);
  for (const record of records) {
    assert.equal(record.partition, partitionForKey(Buffer.from(record.key!), 4), `key ${record.key}`);
    assert.deepEqual(record.headers, [
      { key: 'source', value: 'test' },
      { key: 'v', value: '1' },
    ]);
    assert.match(record.value!, /^event \d+$/);
    assert.equal(`${record.key}:${record.value}`, lines[Number(record.value!.slice(6))]);
  }
  // Per key, records keep the order they were produced in.
  for (let key = 0; key < 10; key++) {
    const values = records.filter((record) => record.key === `user-${key}`).map((record) => Number(record.value!.slice(6)));
    assert.deepEqual(values, [key, key + 10, key + 20, key + 30]);
  }
});

test('kcat reads what osprey produced, with every compression codec', async () => {
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    const topic = `codec-${codec}`;
    assertSucceeded(await osprey(broker, ['topic', 'create', topic, '-p', '1']));
    const lines = Array.from({ length: 500 }, (_, index) => `k${index}|${codec} value ${index} ${'x'.repeat(index % 50)}`);
    const produced = await ospreyJson<{ sent: number; acknowledged: number; failed: number }>(broker, ['produce', topic, '-k', '|', '--compression', codec, '-H', 'h=1'], { input: lines.join('\n') });
    assert.deepEqual([produced.sent, produced.acknowledged, produced.failed], [500, 500, 0], codec);
    const seen = await consumeJson(broker.bootstrap, topic);
    assert.equal(seen.length, 500, codec);
    seen.forEach((record, index) => {
      assert.equal(record.offset, index);
      assert.equal(record.key?.toString('latin1'), `k${index}`);
      assert.equal(record.value?.toString('latin1'), lines[index]!.slice(lines[index]!.indexOf('|') + 1));
      assert.deepEqual(record.headers?.map(([name, value]) => [name, value?.toString('latin1')]), [['h', '1']]);
    });
  }
});

test('osprey consumes what kcat produced, compressed with every codec', async () => {
  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    const topic = `from-kcat-${codec}`;
    assertSucceeded(await osprey(broker, ['topic', 'create', topic, '-p', '1']));
    const input = Array.from({ length: 300 }, (_, index) => `key${index}=value ${index}`).join('\n') + '\n';
    await kcatSucceeds(['-P', '-b', broker.bootstrap, '-t', topic, '-K', '=', '-z', codec, '-H', 'from=kcat'], { input });
    const consumed = await osprey(broker, ['consume', topic, '--exit-at-end', '--format', '{offset} {key} {value} {headers}\\n']);
    assertSucceeded(consumed);
    const expected = Array.from({ length: 300 }, (_, index) => `${index} key${index} value ${index} from=kcat\n`).join('');
    assert.equal(consumed.stdout, expected, codec);
  }
});

test('consume --from beginning, end, OFFSET, -N and a time; --num; --partition', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'positions', '-p', '2']));
  assertSucceeded(await osprey(broker, ['produce', 'positions', '-p', '0'], { input: 'a\nb\nc\n' }));
  const middle = Date.now();
  // What is tested is a lookup by time: the clock moves on before the next records are written.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertSucceeded(await osprey(broker, ['produce', 'positions', '-p', '0'], { input: 'd\ne\n' }));
  assertSucceeded(await osprey(broker, ['produce', 'positions', '-p', '1'], { input: 'z\n' }));

  const read = async (...args: string[]) => {
    const result = await osprey(broker, ['consume', 'positions', '--exit-at-end', '-f', '{partition}:{value} ', ...args]);
    assertSucceeded(result);
    return result.stdout;
  };
  assert.equal(await read('-p', '0'), '0:a 0:b 0:c 0:d 0:e ');
  assert.equal(await read('-p', '0', '--from', 'end'), '');
  assert.equal(await read('-p', '0', '--from', '3'), '0:d 0:e ');
  assert.equal(await read('-p', '0', '--from=-2'), '0:d 0:e ');
  assert.equal(await read('-p', '0', '--from', `@${middle}`), '0:d 0:e ');
  assert.equal(await read('-p', '0', '--from', new Date(middle).toISOString()), '0:d 0:e ');
  assert.equal(await read('-p', '1'), '1:z ');
  assert.equal((await read()).split(' ').filter(Boolean).sort().join(' '), '0:a 0:b 0:c 0:d 0:e 1:z');
  const limited = await osprey(broker, ['consume', 'positions', '-p', '0', '--num', '2']);
  assertSucceeded(limited);
  assert.equal(limited.stdout, 'a\nb\n');

  assertFailed(await osprey(broker, ['consume', 'positions', '--from', 'yesterday']), /--from: expected beginning, end, an offset/, 2);
  assertFailed(await osprey(broker, ['consume', 'positions', '--partition', '7']), /--partition 7: topic 'positions' has partitions 0-1/, 2);
  assertFailed(await osprey(broker, ['consume', 'positions', '--group', 'g', '--partition', '0']), /--partition and --group do not go together/, 2);
  assertFailed(await osprey(broker, ['consume', 'positions', '--from', '-1']), /--from needs its value attached when it starts with '-': write --from=-N/, 2);
});

test('produce reads --file; reports unknown topics, bad flags and unreadable files', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'from-file', '-p', '1']));
  const file = join(temporaryDirectory(), 'lines.txt');
  writeFileSync(file, 'one\r\ntwo\n\nthree');
  const produced = await osprey(broker, ['produce', 'from-file', '--file', file]);
  assertSucceeded(produced);
  assert.equal(produced.stdout, '3 of 3 records acknowledged by from-file (p0: 3)\n');
  const consumed = await osprey(broker, ['consume', 'from-file', '-e']);
  assert.equal(consumed.stdout, 'one\ntwo\nthree\n');

  assertFailed(await osprey(broker, ['produce', 'no-such-topic'], { input: 'x\n' }), /^osprey produce: topic 'no-such-topic': UNKNOWN_TOPIC_OR_PARTITION/m);
  assertFailed(await osprey(broker, ['consume', 'no-such-topic']), /UNKNOWN_TOPIC_OR_PARTITION/);
  assertFailed(await osprey(broker, ['produce', 'from-file', '--acks', 'some'], { input: 'x\n' }), /--acks: expected all, -1, 0 or 1, got 'some'/, 2);
  assertFailed(await osprey(broker, ['produce', 'from-file', '--compression', 'brotli'], { input: 'x\n' }), /--compression: expected none, gzip, snappy, lz4 or zstd/, 2);
  assertFailed(await osprey(broker, ['produce', 'from-file', '--file', '/nonexistent/file']), /cannot read --file \/nonexistent\/file: ENOENT/);
  assertFailed(await osprey(broker, ['produce', 'from-file', '--partition', '3'], { input: 'x\n' }), /--partition 3: topic 'from-file' has partitions 0-0/, 2);
});

test('consume --group commits what it printed and continues from there; Ctrl-C commits and exits 0', async () => {
  assertSucceeded(await osprey(broker, ['topic', 'create', 'grouped', '-p', '2']));
  const input = Array.from({ length: 10 }, (_, index) => `m${index}`).join('\n');
  assertSucceeded(await osprey(broker, ['produce', 'grouped', '-p', '0'], { input }));

  const first = await osprey(broker, ['consume', 'grouped', '--group', 'readers', '--num', '4']);
  assertSucceeded(first);
  assert.equal(first.stdout, 'm0\nm1\nm2\nm3\n');
  const second = await osprey(broker, ['consume', 'grouped', '--group', 'readers', '--num', '2']);
  assertSucceeded(second);
  assert.equal(second.stdout, 'm4\nm5\n');

  const running = startOsprey(broker, ['consume', 'grouped', '--group', 'readers']);
  await running.waitForStdout(/m9\n/);
  running.child.kill('SIGINT');
  const stopped = await running.result;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stdout, 'm6\nm7\nm8\nm9\n');
  const described = await ospreyJson<{ partitions: { partition: number; committedOffset: number | null; lag: number | null }[]; totalLag: number; members: unknown[] }>(broker, ['group', 'describe', 'readers']);
  assert.equal(described.members.length, 0, 'left the group on exit');
  assert.deepEqual(described.partitions.find((row) => row.partition === 0), { topic: 'grouped', partition: 0, committedOffset: 10, memberId: null, clientId: null, logEndOffset: 10, lag: 0 });
  assert.equal(described.totalLag, 0);
});
