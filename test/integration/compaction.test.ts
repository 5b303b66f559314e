/**
 * Compacted topics against a real broker process: KafkaJS creates topics with cleanup.policy
 * compact (small segment.bytes, so segments roll) and produces keyed records; the broker's log
 * cleaner runs every 200 ms (--log-cleaner-backoff-ms); kcat (librdkafka, CRCs checked) reads the
 * partition from the beginning. What must hold:
 *
 *  - in the cleaned part (below the cleanedEndOffset the broker logs) only the latest record of
 *    each key is left, every record at the offset it was acknowledged at; after it, everything;
 *    log start and end offsets do not move;
 *  - tombstones stay until delete.retention.ms after the pass that first cleaned them, then go;
 *  - min.compaction.lag.ms keeps recent records; compact,delete also deletes by retention.ms,
 *    compact alone does not;
 *  - a record without a key is refused: INVALID_RECORD (87) for KafkaJS and kcat, with one record
 *    error per keyless record for Produce v8+, and nothing of the batch is stored;
 *  - a kill -9 with the cleaned files written but not swapped in, and a clean restart after a pass,
 *    keep every latest value.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, Producer } from 'kafkajs';
import { startBrokerProcess, temporaryDirectory, type BrokerProcess } from '../helpers/broker-process.js';
import { consumeJson, runKcat, type ConsumedRecord } from '../helpers/kcat.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { metricValue, waitUntil } from '../helpers/waiting.js';

const { Kafka, CompressionTypes, logLevel } = kafkajs;
const produceApi = rawApi(produceRequest, produceResponse);
const invalidRecord = 87;
const cleanerArgs = ['--log-cleaner-backoff-ms', '200', '--retention-check-interval-ms', '200'];

let broker: BrokerProcess;
let kafka: KafkaClient;
let admin: Admin;
let producer: Producer;

function client(target: BrokerProcess): KafkaClient {
  return new Kafka({ clientId: 'compaction-test', brokers: [target.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 } });
}

before(async () => {
  broker = await startBrokerProcess({ args: cleanerArgs });
  kafka = client(broker);
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.stop();
});

async function createTopic(topic: string, configs: Record<string, string>, target: Admin = admin): Promise<void> {
  const configEntries = Object.entries({ 'segment.bytes': '1024', 'min.cleanable.dirty.ratio': '0.01', ...configs }).map(([name, value]) => ({ name, value }));
  assert.equal(await target.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries }], waitForLeaders: true }), true);
}

interface Written {
  offset: number;
  key: string;
  value: string | null;
}

/** Sends `rounds` rounds of one record per key (value `<key>@<round>`), `perSend` records per request, alternating gzip and none. */
async function produceRounds(topic: string, keys: readonly string[], rounds: number, options: { perSend?: number; timestamp?: number; target?: Producer } = {}): Promise<Written[]> {
  const written: Written[] = [];
  const messages = [];
  for (let round = 0; round < rounds; round++) for (const key of keys) messages.push({ key, value: `${key}@${round}` });
  const perSend = options.perSend ?? 10;
  for (let first = 0; first < messages.length; first += perSend) {
    const slice = messages.slice(first, first + perSend);
    const [metadata] = await (options.target ?? producer).send({
      topic,
      acks: -1,
      compression: (first / perSend) % 2 === 0 ? CompressionTypes.None : CompressionTypes.GZIP,
      messages: slice.map((message) => ({ ...message, ...(options.timestamp === undefined ? {} : { timestamp: String(options.timestamp) }) })),
    });
    const baseOffset = Number(metadata!.baseOffset);
    slice.forEach((message, index) => written.push({ offset: baseOffset + index, key: message.key, value: message.value }));
  }
  return written;
}

function cleanedLines(target: BrokerProcess, topic: string): string[] {
  return target.logs().split('\n').filter((line) => line.includes('log cleaned') && line.includes(`topic=${topic} `));
}

/**
 * Waits for a cleaner pass over `topic` beyond the first `seen`, then until no further pass comes
 * for `quietMs` (the cleaner runs every 200 ms: it has caught up with what was produced), and
 * returns the last pass's cleanedEndOffset.
 */
async function waitForPass(target: BrokerProcess, topic: string, seen = 0, timeoutMs = 15_000, quietMs = 1000): Promise<number> {
  await waitUntil(() => cleanedLines(target, topic).length > seen, `a cleaner pass over ${topic}`, timeoutMs, () => target.logs().slice(-3000));
  let count = cleanedLines(target, topic).length;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    const now = cleanedLines(target, topic).length;
    if (now === count) break;
    count = now;
  }
  const lines = cleanedLines(target, topic);
  return Number(/cleanedEndOffset=(\d+)/.exec(lines[lines.length - 1]!)![1]);
}

function asWritten(record: ConsumedRecord): Written {
  return { offset: record.offset, key: record.key?.toString('latin1') ?? '', value: record.value?.toString('latin1') ?? null };
}

/** What a compacted partition must hold: below `cleanedEnd` the latest of each key among the records below it; from it, everything. */
function expectedAfter(written: readonly Written[], cleanedEnd: number): Written[] {
  const latest = new Map<string, number>();
  for (const record of written) if (record.offset < cleanedEnd) latest.set(record.key, record.offset);
  return written.filter((record) => record.offset >= cleanedEnd || latest.get(record.key) === record.offset);
}

async function offsetsOf(topic: string, target: Admin = admin): Promise<{ start: number; end: number }> {
  const [partition] = await target.fetchTopicOffsets(topic);
  return { start: Number(partition!.low), end: Number(partition!.high) };
}

test('a consumer from the beginning sees the latest value of each key in the cleaned part, at unchanged offsets', async () => {
  const topic = 'compacted-latest';
  await createTopic(topic, { 'cleanup.policy': 'compact' });
  const keys = Array.from({ length: 12 }, (_, index) => `key-${index}`);
  const written = await produceRounds(topic, keys, 15);
  const before = await offsetsOf(topic);
  const cleanedEnd = await waitForPass(broker, topic);
  assert.ok(cleanedEnd > written.length / 2, `cleaned up to ${cleanedEnd} of ${written.length}`);
  const consumed = (await consumeJson(broker.bootstrap, topic)).map(asWritten);
  assert.deepEqual(consumed, expectedAfter(written, cleanedEnd));
  assert.ok(consumed.length < written.length * 0.6, `${consumed.length} of ${written.length} records left`);
  for (const key of keys) assert.ok(consumed.some((record) => record.key === key && record.value === `${key}@14`), `${key} keeps its latest value`);
  assert.deepEqual(await offsetsOf(topic), before, 'log start and end offsets unchanged');
  // KafkaJS's consumer reads the same across the gaps and the emptied batches.
  assert.deepEqual(await consumeWithKafkaJs(topic, consumed.length), consumed);
  assert.ok((await metricValue(broker, 'osprey_log_cleaner_passes_total')) >= 1);
  assert.ok((await metricValue(broker, 'osprey_log_cleaner_removed_bytes_total')) > 0);
});

/** Reads `count` records of `topic` from the beginning with a KafkaJS consumer group. */
async function consumeWithKafkaJs(topic: string, count: number): Promise<Written[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}`, maxWaitTimeInMs: 100 });
  const received: Written[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ offset: Number(message.offset), key: message.key?.toString('latin1') ?? '', value: message.value?.toString('latin1') ?? null });
      },
    });
    await waitUntil(() => received.length >= count, `KafkaJS reading ${count} records of ${topic}`, 20_000, () => JSON.stringify(received.slice(-3)));
    await new Promise((resolve) => setTimeout(resolve, 300)); // nothing more should come
  } finally {
    await consumer.disconnect();
  }
  return received;
}

test('tombstones stay for delete.retention.ms after their first pass, then disappear', async () => {
  const topic = 'compacted-tombstones';
  await createTopic(topic, { 'cleanup.policy': 'compact', 'delete.retention.ms': '5000' });
  const first = await produceRounds(topic, ['doomed', 'kept'], 1);
  const [tombstone] = await producer.send({ topic, acks: -1, messages: [{ key: 'doomed', value: null }] });
  await produceRounds(topic, Array.from({ length: 8 }, (_, index) => `filler-${index}`), 30);
  const cleanedEnd = await waitForPass(broker, topic);
  assert.ok(cleanedEnd > Number(tombstone!.baseOffset));
  let consumed = (await consumeJson(broker.bootstrap, topic)).map(asWritten);
  assert.deepEqual(
    consumed.filter((record) => record.key === 'doomed' || record.key === 'kept'),
    [first[1]!, { offset: Number(tombstone!.baseOffset), key: 'doomed', value: null }],
    'the value under the tombstone is gone, the tombstone is kept',
  );
  // Once delete.retention.ms has passed, the cleaner removes the tombstone by itself.
  await waitForPass(broker, topic, cleanedLines(broker, topic).length);
  consumed = (await consumeJson(broker.bootstrap, topic)).map(asWritten);
  assert.deepEqual(consumed.filter((record) => record.key === 'doomed' || record.key === 'kept'), [first[1]!]);
  assert.ok(consumed.filter((record) => record.key.startsWith('filler-')).length >= 8);
});

test('min.compaction.lag.ms keeps records younger than it', async () => {
  const lagged = 'compacted-lagged';
  const control = 'compacted-control';
  await createTopic(lagged, { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '600000' });
  await createTopic(control, { 'cleanup.policy': 'compact' });
  const keys = ['a', 'b', 'c'];
  const writtenLagged = await produceRounds(lagged, keys, 150);
  await produceRounds(control, keys, 150);
  await waitForPass(broker, control); // the cleaner has looked at both since
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(cleanedLines(broker, lagged).length, 0);
  assert.deepEqual((await consumeJson(broker.bootstrap, lagged)).map(asWritten), writtenLagged);
});

test('compact,delete also deletes old segments by retention.ms; compact alone keeps them', async () => {
  const both = 'compacted-and-deleted';
  const compactOnly = 'compacted-only-old';
  const oldTimestamp = Date.now() - 3_600_000;
  await createTopic(both, { 'cleanup.policy': 'compact,delete', 'retention.ms': '60000' });
  await createTopic(compactOnly, { 'cleanup.policy': 'compact', 'retention.ms': '60000' });
  const keys = Array.from({ length: 30 }, (_, index) => `k${index}`);
  await produceRounds(both, keys, 4, { timestamp: oldTimestamp });
  const writtenOnly = await produceRounds(compactOnly, keys, 4, { timestamp: oldTimestamp });
  await waitUntil(async () => (await offsetsOf(both)).start > 0, 'retention moving the log start of the compact,delete topic', 15_000);
  const cleanedEnd = await waitForPass(broker, compactOnly);
  assert.equal((await offsetsOf(compactOnly)).start, 0, 'compact alone: no retention');
  const consumed = (await consumeJson(broker.bootstrap, compactOnly)).map(asWritten);
  assert.deepEqual(consumed, expectedAfter(writtenOnly, cleanedEnd));
  for (const key of keys) assert.ok(consumed.some((record) => record.key === key && record.value === `${key}@3`));
});

test('keyless records are refused: INVALID_RECORD for KafkaJS and kcat, record errors from Produce v8, nothing stored', async () => {
  const topic = 'compacted-keyless';
  await createTopic(topic, { 'cleanup.policy': 'compact' });
  await produceRounds(topic, ['a'], 1);
  const before = await offsetsOf(topic);
  // KafkaJS (Produce v7): the partition error, not retried.
  const error = await producer.send({ topic, acks: -1, messages: [{ key: 'b', value: 'with key' }, { value: 'without key' }] }).then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof Error, 'KafkaJS reports a failure');
  assert.equal((error as Error & { type?: string }).type, 'INVALID_RECORD', error.message);
  assert.equal((error as Error & { retriable?: boolean }).retriable, false);
  // kcat (librdkafka): a delivery failure naming the error.
  const kcat = await runKcat(['-P', '-b', broker.bootstrap, '-t', topic, '-X', 'message.send.max.retries=0'], { input: 'no key here\n' });
  // librdkafka's text for INVALID_RECORD (87).
  assert.match(kcat.stderr, /Broker failed to validate record/, kcat.stderr);
  // Produce v9 with our raw client: the partition error, its message and one record error per keyless record.
  const batch = encodeRecordBatch([
    { key: null, value: Buffer.from('x') },
    { key: Buffer.from('k'), value: Buffer.from('y') },
    { key: null, value: Buffer.from('z') },
  ]);
  const response = await withConnection(broker, (connection) =>
    connection.call(produceApi, 9, { acks: -1, timeoutMs: 5000, transactionalId: null, topicData: [{ name: topic, topicId: Buffer.alloc(16), partitionData: [{ index: 0, records: batch }] }] }),
  );
  const partition = response.responses[0]!.partitionResponses[0]!;
  assert.equal(partition.errorCode, invalidRecord);
  assert.equal(partition.baseOffset, -1n);
  assert.deepEqual(
    partition.recordErrors.map((recordError) => recordError.batchIndex),
    [0, 2],
  );
  assert.match(partition.recordErrors[0]!.batchIndexErrorMessage ?? '', /without key/);
  assert.match(partition.errorMessage ?? '', /no key/);
  assert.deepEqual(await offsetsOf(topic), before, 'nothing of the refused batches was stored');
  // A topic that is not compacted takes keyless records as before.
  await createTopic('not-compacted', {});
  await producer.send({ topic: 'not-compacted', acks: -1, messages: [{ value: 'fine' }] });
});

test('kill -9 with cleaned segments written but not swapped in, then a clean restart: every latest value kept', async () => {
  const holdFile = join(temporaryDirectory('osprey-cleaner-hold-'), 'hold');
  writeFileSync(holdFile, '');
  const crashing = await startBrokerProcess({ args: cleanerArgs, env: { OSPREY_TEST_HOLD_CLEANER_SWAP: holdFile } });
  const crashingKafka = client(crashing);
  const crashingAdmin = crashingKafka.admin();
  const crashingProducer = crashingKafka.producer({ allowAutoTopicCreation: false });
  await crashingAdmin.connect();
  await crashingProducer.connect();
  const topic = 'compacted-crash';
  await createTopic(topic, { 'cleanup.policy': 'compact' }, crashingAdmin);
  const keys = Array.from({ length: 20 }, (_, index) => `key-${index}`);
  const written = await produceRounds(topic, keys, 20, { target: crashingProducer });
  await crashing.waitForLog(/cleaned segments written; their swap is held/, 15_000);
  const partitionDirectory = join(crashing.dataDir, `${topic}-0`);
  assert.ok(readdirSync(partitionDirectory).some((name) => name.endsWith('.cleaned')), 'cleaned files are on disk');
  await crashingProducer.disconnect().catch(() => {});
  await crashingAdmin.disconnect().catch(() => {});
  await crashing.kill9();
  rmSync(holdFile);
  // Recovery with the cleaner off, so that nothing it writes is taken for a leftover.
  const inspecting = await startBrokerProcess({ dataDir: crashing.dataDir, args: [...cleanerArgs, '--log-cleaner-enable=false'] });
  try {
    assert.ok(!readdirSync(partitionDirectory).some((name) => name.endsWith('.cleaned')), 'recovery removed the uncommitted files');
    // The pass never committed: the log is as written.
    assert.deepEqual((await consumeJson(inspecting.bootstrap, topic)).map(asWritten), written);
  } finally {
    await inspecting.stop();
  }
  let again = await startBrokerProcess({ dataDir: crashing.dataDir, args: cleanerArgs });
  try {
    const cleanedEnd = await waitForPass(again, topic);
    const compacted = expectedAfter(written, cleanedEnd);
    assert.deepEqual((await consumeJson(again.bootstrap, topic)).map(asWritten), compacted);
    again = await again.restart();
    assert.deepEqual((await consumeJson(again.bootstrap, topic)).map(asWritten), compacted, 'the same after a clean restart');
    assert.ok(!existsSync(join(partitionDirectory, 'cleaner-swap')));
  } finally {
    await again.stop();
  }
});

/** Every consumed record is one that was acknowledged, at its offset, in order; every key's latest acknowledged record is there. */
function assertLatestKept(consumed: readonly Written[], written: readonly Written[], context: string): void {
  const byOffset = new Map(written.map((record) => [record.offset, record]));
  consumed.forEach((record, index) => {
    assert.deepEqual(record, byOffset.get(record.offset), `${context}: offset ${record.offset} holds what was acknowledged there`);
    if (index > 0) assert.ok(record.offset > consumed[index - 1]!.offset, `${context}: offsets ascend`);
  });
  const latest = new Map<string, Written>();
  for (const record of written) latest.set(record.key, record);
  const consumedOffsets = new Set(consumed.map((record) => record.offset));
  for (const record of latest.values()) assert.ok(consumedOffsets.has(record.offset), `${context}: ${record.key}'s latest value ${record.value} at ${record.offset} is kept`);
}

test('kill -9 at random moments while a larger log is being cleaned: every latest value survives each restart', async (context) => {
  let target = await startBrokerProcess({ args: ['--log-cleaner-backoff-ms', '50'] });
  const topic = 'compacted-kill';
  const keys = Array.from({ length: 150 }, (_, index) => `key-${index}`);
  const written: Written[] = [];
  let random = 12345;
  const nextRandom = () => (random = (random * 1103515245 + 12345) % 2147483648) / 2147483648;
  try {
    for (let round = 0; round < 4; round++) {
      const roundKafka = client(target);
      const roundAdmin = roundKafka.admin();
      const roundProducer = roundKafka.producer({ allowAutoTopicCreation: false });
      await roundAdmin.connect();
      await roundProducer.connect();
      if (round === 0) await createTopic(topic, { 'cleanup.policy': 'compact', 'segment.bytes': '8192' }, roundAdmin);
      written.push(...(await produceRounds(topic, keys, 12, { perSend: 50, target: roundProducer })));
      await roundProducer.disconnect();
      await roundAdmin.disconnect();
      // The cleaner is at work on what was just produced: crash it somewhere in the middle.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(nextRandom() * 250)));
      await target.kill9();
      const leftovers = readdirSync(join(target.dataDir, `${topic}-0`)).filter((name) => name.endsWith('.cleaned') || name === 'cleaner-swap');
      context.diagnostic(`crash ${round + 1}: ${leftovers.length === 0 ? 'no pass under way' : `a pass under way (${leftovers.join(' ')})`}`);
      // Recovery with the cleaner off first, so that nothing it writes is taken for a leftover.
      const inspecting = await startBrokerProcess({ dataDir: target.dataDir, args: ['--log-cleaner-enable=false'] });
      try {
        const files = readdirSync(join(target.dataDir, `${topic}-0`));
        assert.ok(!files.some((name) => name.endsWith('.cleaned') || name === 'cleaner-swap'), `recovery leaves no swap behind: ${files.join(' ')}`);
        assertLatestKept((await consumeJson(inspecting.bootstrap, topic)).map(asWritten), written, `after crash ${round + 1}`);
      } finally {
        await inspecting.stop();
      }
      target = await target.restart();
      assertLatestKept((await consumeJson(target.bootstrap, topic)).map(asWritten), written, `after crash ${round + 1} and a restart with the cleaner`);
    }
    assert.ok(cleanedLines(target, topic).length > 0 || (await consumeJson(target.bootstrap, topic)).length < written.length, 'the log was cleaned at some point');
  } finally {
    await target.stop();
  }
});

test('a compacted topic deleted while a cleaner pass over it is under way goes, files and all', async () => {
  const holdFile = join(temporaryDirectory('osprey-cleaner-hold-'), 'hold');
  writeFileSync(holdFile, '');
  const target = await startBrokerProcess({ args: cleanerArgs, env: { OSPREY_TEST_HOLD_CLEANER_SWAP: holdFile } });
  const targetAdmin = client(target).admin();
  const targetProducer = client(target).producer({ allowAutoTopicCreation: false });
  try {
    await targetAdmin.connect();
    await targetProducer.connect();
    const topic = 'compacted-deleted';
    await createTopic(topic, { 'cleanup.policy': 'compact' }, targetAdmin);
    await produceRounds(topic, ['a', 'b', 'c'], 100, { target: targetProducer });
    await target.waitForLog(/cleaned segments written; their swap is held/, 15_000);
    await targetAdmin.deleteTopics({ topics: [topic], timeout: 10_000 });
    assert.ok(!existsSync(join(target.dataDir, `${topic}-0`)), 'the partition folder is gone');
    assert.ok(!(await targetAdmin.listTopics()).includes(topic));
    assert.doesNotMatch(target.logs(), /partition folder not removed|log cleaning failed/);
  } finally {
    rmSync(holdFile, { force: true });
    await targetProducer.disconnect();
    await targetAdmin.disconnect();
    await target.stop();
  }
});
