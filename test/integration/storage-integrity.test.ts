/**
 * Storage integrity on a real broker process: acknowledged records, then a byte flipped in an old
 * batch of the segment file (after kill -9, and after a clean stop), then a restart.
 *
 * Every intact record stays readable before and after the damaged batch; a fetch of the damaged
 * batch's offsets gets CORRUPT_MESSAGE on a connection that stays open; the broker logs one ERROR
 * naming file, position and offsets; the partition shows in /metrics, in `osprey topic describe`
 * and in `osprey broker check`, which reports nothing on a clean data directory. And a segment
 * whose first batch is old rolls and is deleted by time retention after a restart (segment.ms
 * counts from the first batch, not from the broker's start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rename, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { listOffsetsRequest, listOffsetsResponse } from '../../src/protocol/kafka/messages/list-offsets.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { osprey, ospreyJson, assertSucceeded } from '../helpers/osprey-cli.js';
import { waitUntilWrittenOut } from '../helpers/waiting.js';
import { decodeRecordBatches, encodeRecordBatch, rawApi, RawKafkaConnection, withConnection } from '../helpers/raw-kafka-client.js';

const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const listOffsetsApi = rawApi(listOffsetsRequest, listOffsetsResponse);

const errorCode = { none: 0, corruptMessage: 2, kafkaStorageError: 56 } as const;
const zeroUuid = Buffer.alloc(16);
const megabyte = 1024 * 1024;
const batchCount = 100;
const recordsPerBatch = 10;
const damagedBaseOffset = 300;
const recordCount = batchCount * recordsPerBatch;

function valueOf(offset: number): string {
  return `record-${offset}-`.padEnd(60, 'x');
}

async function produce(connection: RawKafkaConnection, topic: string, values: readonly string[], baseTimestamp = Date.now(), partition = 0): Promise<bigint> {
  const records = encodeRecordBatch(
    values.map((value) => ({ key: null, value: Buffer.from(value) })),
    { baseTimestamp },
  );
  const response = await connection.call(produceApi, 9, {
    acks: -1,
    timeoutMs: 10_000,
    transactionalId: null,
    topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: partition, records }] }],
  });
  const answer = response.responses[0]?.partitionResponses[0];
  assert.ok(answer);
  assert.equal(answer.errorCode, errorCode.none, `produce: ${answer.errorMessage ?? ''}`);
  return answer.baseOffset;
}

interface FetchAnswer {
  errorCode: number;
  highWatermark: bigint;
  records: Array<{ offset: number; value: string }>;
}

async function fetchAt(connection: RawKafkaConnection, topic: string, offset: number): Promise<FetchAnswer> {
  const response = await connection.call(fetchApi, 11, {
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10 * megabyte,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    forgottenTopicsData: [],
    rackId: '',
    topics: [{ topic, topicId: zeroUuid, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: BigInt(offset), logStartOffset: -1n, partitionMaxBytes: 10 * megabyte }] }],
  });
  const answer = response.responses[0]?.partitions[0];
  assert.ok(answer);
  const records = decodeRecordBatches(answer.records ?? Buffer.alloc(0)).flatMap((batch) =>
    batch.records.map((record) => ({ offset: Number(record.offset), value: record.value?.toString() ?? '' })),
  );
  return { errorCode: answer.errorCode, highWatermark: answer.highWatermark, records: records.filter((record) => record.offset >= offset) };
}

/** Reads [from, until) with plain fetches; stops at the first error code and returns it. */
async function readRange(connection: RawKafkaConnection, topic: string, from: number, until: number): Promise<{ records: FetchAnswer['records']; errorCode: number; stoppedAt: number }> {
  const records: FetchAnswer['records'] = [];
  let offset = from;
  while (offset < until) {
    const answer = await fetchAt(connection, topic, offset);
    if (answer.errorCode !== errorCode.none) return { records, errorCode: answer.errorCode, stoppedAt: offset };
    assert.ok(answer.records.length > 0, `fetch at ${offset} returned nothing below ${until}`);
    records.push(...answer.records.filter((record) => record.offset < until));
    offset = answer.records[answer.records.length - 1]!.offset + 1;
  }
  return { records, errorCode: errorCode.none, stoppedAt: offset };
}

async function listOffset(connection: RawKafkaConnection, topic: string, timestamp: bigint): Promise<{ errorCode: number; offset: bigint }> {
  const response = await connection.call(listOffsetsApi, 7, { replicaId: -1, isolationLevel: 0, timeoutMs: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
  const answer = response.topics[0]?.partitions[0];
  assert.ok(answer);
  return { errorCode: answer.errorCode, offset: answer.offset };
}

function assertValues(records: FetchAnswer['records'], from: number, until: number, label: string): void {
  assert.equal(records.length, until - from, `${label}: record count`);
  for (const [index, record] of records.entries()) {
    assert.equal(record.offset, from + index, `${label}: offset`);
    assert.equal(record.value, valueOf(from + index), `${label}: value at ${record.offset}`);
  }
}

/** Flips one byte inside the records of the batch with `baseOffset` (covered by its CRC-32C only). */
async function flipByteInBatch(segmentPath: string, baseOffset: number): Promise<number> {
  const bytes = await readFile(segmentPath);
  let position = 0;
  while (position + 12 <= bytes.length) {
    if (Number(bytes.readBigInt64BE(position)) === baseOffset) {
      bytes[position + 61 + 10] = bytes[position + 61 + 10]! ^ 0xff;
      await writeFile(segmentPath, bytes);
      return position;
    }
    position += bytes.readInt32BE(position + 8) + 12;
  }
  throw new Error(`no batch with base offset ${baseOffset} in ${segmentPath}`);
}

async function producedTopic(broker: BrokerProcess, topic: string): Promise<void> {
  await withConnection(broker, async (connection) => {
    for (let batch = 0; batch < batchCount; batch++) {
      const first = batch * recordsPerBatch;
      const values = Array.from({ length: recordsPerBatch }, (_, index) => valueOf(first + index));
      assert.equal(await produce(connection, topic, values), BigInt(first));
    }
  });
}

async function damagedPartitionIsHandled(stop: 'kill -9' | 'clean stop', args: readonly string[] = []): Promise<void> {
  const topic = 'integrity';
  const broker = await startBrokerProcess({ args });
  await producedTopic(broker, topic);
  if (stop === 'kill -9') await broker.kill9();
  else await broker.stop();
  const segmentPath = join(broker.dataDir, `${topic}-0`, '00000000000000000000.log');
  const position = await flipByteInBatch(segmentPath, damagedBaseOffset);

  const restarted = await broker.restart();
  try {
    await withConnection(restarted, async (connection) => {
      const before = await readRange(connection, topic, 0, recordCount);
      assert.equal(before.errorCode, errorCode.corruptMessage, `${stop}: reading from 0 stops at the damaged batch with CORRUPT_MESSAGE`);
      assert.equal(before.stoppedAt, damagedBaseOffset);
      assertValues(before.records, 0, damagedBaseOffset, `${stop}: before the damage`);
      for (const offset of [damagedBaseOffset, damagedBaseOffset + recordsPerBatch - 1]) {
        const answer = await fetchAt(connection, topic, offset);
        assert.equal(answer.errorCode, errorCode.corruptMessage, `${stop}: fetch at ${offset}`);
        assert.equal(answer.records.length, 0);
      }
      const after = await readRange(connection, topic, damagedBaseOffset + recordsPerBatch, recordCount);
      assert.equal(after.errorCode, errorCode.none, `${stop}: after the damage`);
      assertValues(after.records, damagedBaseOffset + recordsPerBatch, recordCount, `${stop}: after the damage`);
      assert.equal(connection.closed, false, 'the connection stays open');
      assert.deepEqual(await listOffset(connection, topic, -1n), { errorCode: errorCode.none, offset: BigInt(recordCount) });
      assert.deepEqual(await listOffset(connection, topic, -2n), { errorCode: errorCode.none, offset: 0n });
      // The partition still takes writes, and serves them.
      assert.equal(await produce(connection, topic, [valueOf(recordCount)]), BigInt(recordCount));
      assertValues((await readRange(connection, topic, recordCount, recordCount + 1)).records, recordCount, recordCount + 1, `${stop}: appended after`);
    });

    const errorLine = await restarted.waitForLog(/corrupt data in a partition log/, 20_000);
    assert.match(errorLine, /error/i);
    assert.ok(errorLine.includes(segmentPath), `the log line names the file: ${errorLine}`);
    assert.match(errorLine, new RegExp(`position=${position}\\b`));
    assert.match(errorLine, new RegExp(`firstOffset=${damagedBaseOffset}\\b`));
    assert.match(errorLine, new RegExp(`lastOffset=${damagedBaseOffset + recordsPerBatch - 1}\\b`));
    assert.equal(restarted.logs().split('\n').filter((line) => /corrupt data in a partition log/.test(line)).length, 1, 'logged once, however often it is fetched');

    const metrics = await restarted.metricsText();
    assert.match(metrics, new RegExp(`^osprey_partition_damaged_ranges\\{topic="${topic}",partition="0"\\} 1$`, 'm'));
    assert.match(metrics, /^osprey_damaged_partitions 1$/m);

    const described = await ospreyJson<{ partitions: Array<{ partition: number; offlineReplicas: number[] }> }>(restarted, ['topic', 'describe', topic]);
    assert.deepEqual(described.partitions[0]?.offlineReplicas, [0], 'topic describe marks the partition');
    const human = await osprey(restarted, ['topic', 'describe', topic]);
    assertSucceeded(human);
    assert.match(human.stdout, /partition 0: replica offline or stored data damaged/);
  } finally {
    await restarted.stop();
  }

  const check = await osprey(restarted, ['broker', 'check', '--data-dir', restarted.dataDir], { noBrokersFlag: true });
  assert.equal(check.code, 1, `broker check exits 1 on damage: ${check.stdout}${check.stderr}`);
  assert.match(check.stdout, new RegExp(`DAMAGE\\s+${topic}-0/00000000000000000000\\.log: position ${position}\\.\\.\\d+: offsets ${damagedBaseOffset}\\.\\.${damagedBaseOffset + recordsPerBatch - 1} unreadable \\(CRC-32C mismatch\\)`));
  assert.match(check.stdout, /damage found in 1 partition log: integrity-0/);
}

test('without the journal, kill -9, then a flipped byte in an old batch: every other record is served, the batch is refused and reported', async () => {
  // Each cycle fsyncs the segment and the data is below nothing the broker could repair it from.
  await damagedPartitionIsHandled('kill -9', ['--no-journal']);
});

test('with the journal, kill -9, then a flipped byte in a batch written since the last segment fsync: the batch is cut and restored from the journal', async () => {
  const topic = 'integrity';
  const broker = await startBrokerProcess();
  await producedTopic(broker, topic);
  // The batches are in the segment file (written behind the journal), not fsynced there.
  await waitUntilWrittenOut(broker);
  await broker.kill9();
  const segmentPath = join(broker.dataDir, `${topic}-0`, '00000000000000000000.log');
  await flipByteInBatch(segmentPath, damagedBaseOffset);
  const restarted = await broker.restart();
  try {
    await restarted.waitForLog(/truncating unsynced log data at the first batch that fails/, 20_000);
    await restarted.waitForLog(/log brought up to date from the journal/, 20_000);
    await withConnection(restarted, async (connection) => {
      const all = await readRange(connection, topic, 0, recordCount);
      assert.equal(all.errorCode, errorCode.none);
      assertValues(all.records, 0, recordCount, 'restored');
      assert.equal(await produce(connection, topic, [valueOf(recordCount)]), BigInt(recordCount));
    });
    assert.doesNotMatch(restarted.logs(), /corrupt data in a partition log/);
    assert.match(await restarted.metricsText(), /^osprey_damaged_partitions 0$/m);
  } finally {
    await restarted.stop();
  }
  const check = await osprey(restarted, ['broker', 'check', '--data-dir', restarted.dataDir], { noBrokersFlag: true });
  assert.equal(check.code, 0, `broker check finds the restored log whole: ${check.stdout}${check.stderr}`);
});

test('clean stop, then a flipped byte in an old batch (damage at rest): found by the read, refused and reported', async () => {
  await damagedPartitionIsHandled('clean stop');
});

test('osprey broker check reports nothing on a clean data directory, and changes nothing', async () => {
  const broker = await startBrokerProcess();
  await producedTopic(broker, 'healthy');
  await broker.stop();
  const directory = join(broker.dataDir, 'healthy-0');
  const before = await Promise.all((await readdir(directory)).sort().map(async (name) => [name, await readFile(join(directory, name))] as const));
  const check = await osprey(broker, ['broker', 'check', '--data-dir', broker.dataDir], { noBrokersFlag: true });
  assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /checked \d+ partition logs/);
  assert.match(check.stdout, /no damage found/);
  assert.doesNotMatch(check.stdout, /DAMAGE/);
  const after = await Promise.all((await readdir(directory)).sort().map(async (name) => [name, await readFile(join(directory, name))] as const));
  assert.deepEqual(after, before, 'the check changed no file');
});

test('a segment whose first batch is old rolls and is deleted by time retention after a restart', async () => {
  const topic = 'aging';
  const hourMs = 60 * 60 * 1000;
  const broker = await startBrokerProcess();
  assertSucceeded(await osprey(broker, ['topic', 'create', topic, '-p', '1', '--config', `segment.ms=${hourMs}`, '--config', `retention.ms=${hourMs}`]));
  await withConnection(broker, async (connection) => {
    assert.equal(await produce(connection, topic, ['two hours old'], Date.now() - 2 * hourMs), 0n);
  });
  await broker.kill9();
  // The broker's clock has just started; only the batch knows how old the segment is.
  const restarted = await startBrokerProcess({ dataDir: broker.dataDir, args: ['--retention-check-interval-ms', '200'] });
  try {
    await restarted.waitForLog(/retention deleted segments.*topic=aging/, 20_000);
    await withConnection(restarted, async (connection) => {
      assert.deepEqual(await listOffset(connection, topic, -2n), { errorCode: errorCode.none, offset: 1n }, 'the old record is gone');
      assert.deepEqual(await listOffset(connection, topic, -1n), { errorCode: errorCode.none, offset: 1n });
    });
  } finally {
    await restarted.stop();
  }
});

test('a segment file the broker cannot read answers KAFKA_STORAGE_ERROR for that partition only, on an open connection', async () => {
  const topic = 'unreadable';
  const broker = await startBrokerProcess();
  assertSucceeded(await osprey(broker, ['topic', 'create', topic, '-p', '2', '--config', 'segment.bytes=2000']));
  await withConnection(broker, async (connection) => {
    for (let batch = 0; batch < 20; batch++) {
      await produce(connection, topic, Array.from({ length: recordsPerBatch }, (_, index) => valueOf(batch * recordsPerBatch + index)));
    }
    await produce(connection, topic, [valueOf(0)], Date.now(), 1);
  });
  // A restart empties the tail cache, so reads of partition 0 go to its (sealed, not yet opened) first segment.
  const restarted = await broker.restart();
  const segmentPath = join(restarted.dataDir, `${topic}-0`, '00000000000000000000.log');
  try {
    await rename(segmentPath, `${segmentPath}.aside`);
    await mkdir(segmentPath); // opening it now fails with EISDIR
    await withConnection(restarted, async (connection) => {
      const response = await connection.call(fetchApi, 11, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 10 * megabyte,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        forgottenTopicsData: [],
        rackId: '',
        topics: [
          {
            topic,
            topicId: zeroUuid,
            partitions: [0, 1].map((partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: megabyte })),
          },
        ],
      });
      const [first, second] = response.responses[0]?.partitions ?? [];
      assert.equal(first?.errorCode, errorCode.kafkaStorageError, 'the unreadable partition');
      assert.equal(second?.errorCode, errorCode.none, 'the other partition is served');
      assert.equal(decodeRecordBatches(second.records ?? Buffer.alloc(0))[0]?.records[0]?.value?.toString(), valueOf(0));
      assert.equal(connection.closed, false, 'the connection stays open');
      await restarted.waitForLog(/ERROR read of a partition failed.*topic=unreadable partition=0/, 10_000);
      const again = await fetchAt(connection, topic, 0);
      assert.equal(again.errorCode, errorCode.kafkaStorageError, 'a retry gets the same answer');
      assert.equal(restarted.logs().split('\n').filter((line) => /read of a partition failed/.test(line)).length, 1, 'logged once, not per fetch');

      await rmdir(segmentPath);
      await rename(`${segmentPath}.aside`, segmentPath);
      const healed = await readRange(connection, topic, 0, 200);
      assertValues(healed.records, 0, 200, 'readable again once the file is back');
    });
  } finally {
    await restarted.stop();
  }
});

test('a partition whose log fails to open at start-up answers KAFKA_STORAGE_ERROR, is tried again, and is served once the cause is removed, without a restart', async () => {
  const topic = 'reopens';
  const broker = await startBrokerProcess();
  const values = Array.from({ length: 30 }, (_, offset) => valueOf(offset));
  await withConnection(broker, async (connection) => {
    await produce(connection, topic, values.slice(0, 10));
    await produce(connection, topic, values.slice(10));
  });
  // kill -9: the next start scans the active segment past its recovery point, so it must read the file.
  await broker.kill9();
  const segmentPath = join(broker.dataDir, `${topic}-0`, '00000000000000000000.log');
  await rename(segmentPath, `${segmentPath}.aside`);
  await mkdir(segmentPath); // reading it now fails with EISDIR
  const restarted = await broker.restart();
  try {
    await restarted.waitForLog(/partition log could not be opened; trying again later topic=reopens partition=0 attempt=1/, 30_000);
    await withConnection(restarted, async (connection) => {
      assert.equal((await fetchAt(connection, topic, 0)).errorCode, errorCode.kafkaStorageError);
    });
    assert.match(await restarted.metricsText(), /^osprey_partitions_not_open 1$/m);
    await rmdir(segmentPath);
    await rename(`${segmentPath}.aside`, segmentPath);
    await restarted.waitForLog(/partition log opened after failing to topic=reopens partition=0/, 60_000);
    assert.match(await restarted.metricsText(), /^osprey_partitions_not_open 0$/m);
    await withConnection(restarted, async (connection) => {
      const read = await readRange(connection, topic, 0, values.length);
      assert.equal(read.errorCode, errorCode.none);
      assert.deepEqual(read.records.map((record) => record.value), values);
      assert.equal(await produce(connection, topic, ['after']), BigInt(values.length));
    });
  } finally {
    await restarted.stop();
  }
});
