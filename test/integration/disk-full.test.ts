/**
 * A full disk, on a real broker process whose data directory sits on a small tmpfs of its own
 * (../helpers/small-filesystem.ts; mounting needs root). A filler file beside the data directory, on
 * the same tmpfs, takes space away and gives it back.
 *
 *  - Produce into a full disk is answered KAFKA_STORAGE_ERROR (56, retriable) on a connection that
 *    stays open; every acknowledged record stays readable, nothing unacknowledged or half-written
 *    is left in the segment; once space returns the same partition takes writes again, without a
 *    restart, at the next offset (no hole, no duplicate); a restart finds the same records.
 *  - Several producers sharing group commits into a full disk, then kill -9 and restart: every
 *    acknowledged record is there and nothing else.
 *  - The free-space reserve (minFreeDiskBytes): produce is refused early with a retriable code while
 *    free space is under it (WARN when raised, INFO when cleared, osprey_disk_alarm gauge), and a
 *    real client (KafkaJS) retrying through the alarm gets its messages in once space returns.
 *  - An idempotent producer's batch refused on a full disk is written when retried (the partition's
 *    producer state forgot the batches that were cut away).
 *  - OffsetCommit, DeleteRecords and Produce to a topic to be auto-created, on a full disk, are
 *    answered with retriable error codes on an open connection, and work again once space returns;
 *    a commit refused on a full disk is not written by a later cleanup of the group log.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { initProducerIdRequest, initProducerIdResponse } from '../../src/protocol/kafka/messages/init-producer-id.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../src/protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { decodeRecordBatches, encodeRecordBatch, openFileDescriptors, processIsAlive, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { waitUntil } from '../helpers/waiting.js';
import type { SmallFilesystem } from '../helpers/small-filesystem.js';

const { Kafka, logLevel } = kafkajs;

const produceApi = rawApi(produceRequest, produceResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const offsetCommitApi = rawApi(offsetCommitRequest, offsetCommitResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const initProducerIdApi = rawApi(initProducerIdRequest, initProducerIdResponse);
const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);

const kafkaStorageError = 56;
/** What a commit into a full disk may be answered with: both make clients retry. */
const retriableCommitErrors = new Set([14, 15, 16]); // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;
const filesystemBytes = 8 * mebibyte;
const recordValueBytes = 16 * kibibyte;
const zeroUuid = Buffer.alloc(16);
/** Upper bound on produce attempts before the disk must be full (8 MiB / 32 KiB batches is about 256). */
const maxProduceAttempts = 2_000;

const brokers = new Set<BrokerProcess>();
const filesystems = new Set<SmallFilesystem>();

after(async () => {
  for (const broker of brokers) if (broker.exitCode === null && broker.exitSignal === null) await broker.kill9();
  for (const filesystem of filesystems) filesystem.unmount();
});

function smallFilesystem(): SmallFilesystem {
  const filesystem = mountSmallFilesystem(filesystemBytes);
  filesystems.add(filesystem);
  return filesystem;
}

async function start(filesystem: SmallFilesystem, args: readonly string[]): Promise<BrokerProcess> {
  const broker = await startBrokerProcess({ dataDir: filesystem.path('data'), args });
  brokers.add(broker);
  return broker;
}

async function restart(broker: BrokerProcess): Promise<BrokerProcess> {
  const again = await broker.restart();
  brokers.add(again);
  return again;
}

async function stopAndUnmount(broker: BrokerProcess, filesystem: SmallFilesystem): Promise<void> {
  await broker.stop();
  brokers.delete(broker);
  filesystem.unmount();
  filesystems.delete(filesystem);
}

/** A record value that says which producer and which record it is, padded to recordValueBytes. */
function recordValue(label: string): string {
  return label.padEnd(recordValueBytes, '.');
}

interface Outcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly baseOffset: bigint;
}

async function produce(connection: RawKafkaConnection, topic: string, batch: Buffer): Promise<Outcome> {
  const response = await connection.call(
    produceApi,
    9,
    { acks: -1, timeoutMs: 30_000, transactionalId: null, topicData: [{ name: topic, topicId: zeroUuid, partitionData: [{ index: 0, records: Buffer.from(batch) }] }] },
    30_000,
  );
  const partition = response.responses[0]?.partitionResponses[0];
  assert.ok(partition, 'a partition response');
  return { errorCode: partition.errorCode, errorMessage: partition.errorMessage, baseOffset: partition.baseOffset };
}

function batchOf(values: readonly string[]): Buffer {
  return encodeRecordBatch(values.map((value) => ({ key: null, value: Buffer.from(value) })));
}

interface PartitionContents {
  readonly values: string[];
  readonly highWatermark: bigint;
}

/** Every record of partition 0 from offset 0 to the high watermark, by Fetch. */
async function readPartition(broker: BrokerProcess, topic: string): Promise<PartitionContents> {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  try {
    const values: string[] = [];
    let highWatermark = -1n;
    for (let fetches = 0; fetches < 1_000; fetches++) {
      const response = await connection.call(fetchApi, 11, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 4 * mebibyte,
        forgottenTopicsData: [],
        topics: [{ topic, topicId: zeroUuid, partitions: [{ partition: 0, fetchOffset: BigInt(values.length), partitionMaxBytes: 4 * mebibyte }] }],
      });
      const answer = response.responses[0]?.partitions[0];
      assert.ok(answer, 'a partition in the Fetch response');
      assert.equal(answer.errorCode, 0, `Fetch at ${values.length}`);
      highWatermark = answer.highWatermark;
      if (BigInt(values.length) >= highWatermark) return { values, highWatermark };
      const before = values.length;
      for (const batch of decodeRecordBatches(answer.records ?? Buffer.alloc(0))) {
        assert.ok(batch.crcValid, `batch at ${batch.baseOffset} has a valid CRC`);
        batch.records.forEach((record, index) => {
          const offset = batch.baseOffset + BigInt(index);
          if (offset === BigInt(values.length)) values.push(record.value?.toString() ?? '');
        });
      }
      assert.ok(values.length > before, `Fetch at ${before} returned no records below the high watermark ${highWatermark}`);
    }
    throw new Error('too many fetches');
  } finally {
    connection.destroy();
  }
}

function segmentBytes(broker: BrokerProcess, topic: string): number {
  return statSync(join(broker.dataDir, `${topic}-0`, '00000000000000000000.log')).size;
}

function assertNoInternalErrors(broker: BrokerProcess): void {
  assert.doesNotMatch(broker.logs(), /request handler failed|internal error/, 'no request failed inside the broker');
  assert.doesNotMatch(broker.logs(), /Closing file descriptor/, 'no file handle was left for the garbage collector');
}

test('a full disk answers KAFKA_STORAGE_ERROR on an open connection, keeps every acknowledged record, and takes writes again once space returns', async () => {
  const filesystem = smallFilesystem();
  filesystem.writeFiller('filler', 2 * mebibyte);
  let broker = await start(filesystem, ['--min-free-disk-bytes', '0']);
  const topic = 'full';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  const acknowledged: string[] = [];
  let acknowledgedBytes = 0;
  let refusal: Outcome | undefined;
  for (let attempt = 0; attempt < maxProduceAttempts && refusal === undefined; attempt++) {
    const values = [recordValue(`first-${attempt}-a`), recordValue(`first-${attempt}-b`)];
    const batch = batchOf(values);
    const outcome = await produce(connection, topic, batch);
    if (outcome.errorCode !== 0) {
      refusal = outcome;
      break;
    }
    assert.equal(outcome.baseOffset, BigInt(acknowledged.length), 'offsets follow each other');
    acknowledged.push(...values);
    acknowledgedBytes += batch.length;
  }
  assert.ok(refusal !== undefined, 'the disk filled up');
  assert.equal(refusal.errorCode, kafkaStorageError, `refused with KAFKA_STORAGE_ERROR (${refusal.errorMessage ?? 'no message'})`);
  assert.ok(acknowledged.length > 100, `most of the disk was filled first (${acknowledged.length} records)`);

  // The partition is not latched into failure: every attempt is answered, on the same connection,
  // and failing writes leave no file handle behind.
  const descriptorsBefore = openFileDescriptors(broker.pid);
  for (let attempt = 0; attempt < 20; attempt++) {
    const outcome = await produce(connection, topic, batchOf([recordValue(`refused-${attempt}`), recordValue(`refused-${attempt}-b`)]));
    assert.equal(outcome.errorCode, kafkaStorageError, `attempt ${attempt} on a full disk`);
  }
  assert.equal(connection.closed, false, 'the connection stays open');
  const descriptorsAfter = openFileDescriptors(broker.pid);
  assert.ok(descriptorsBefore !== null && descriptorsAfter !== null && descriptorsAfter <= descriptorsBefore + 2, `file descriptors ${String(descriptorsBefore)} → ${String(descriptorsAfter)}`);

  const whileFull = await readPartition(broker, topic);
  assert.equal(whileFull.highWatermark, BigInt(acknowledged.length));
  assert.deepEqual(whileFull.values, acknowledged, 'every acknowledged record, nothing else');
  // Acknowledged batches may still wait in memory (and the journal) for their segment write: never more.
  assert.ok(segmentBytes(broker, topic) <= acknowledgedBytes, 'the segment holds no bytes of refused batches');

  filesystem.remove('filler');
  for (let attempt = 0; attempt < 5; attempt++) {
    const values = [recordValue(`after-${attempt}`)];
    const batch = batchOf(values);
    const outcome = await produce(connection, topic, batch);
    assert.equal(outcome.errorCode, 0, `produce once space is back (${outcome.errorMessage ?? ''})`);
    assert.equal(outcome.baseOffset, BigInt(acknowledged.length), 'the next offset: no hole, no duplicate');
    acknowledged.push(...values);
    acknowledgedBytes += batch.length;
  }
  connection.destroy();
  assert.deepEqual((await readPartition(broker, topic)).values, acknowledged);
  assertNoInternalErrors(broker);
  assert.match(broker.logs(), /ENOSPC/, 'the failure was logged with its cause');

  broker = await restart(broker);
  // The clean stop wrote everything out.
  assert.equal(segmentBytes(broker, topic), acknowledgedBytes, 'the segment holds exactly the acknowledged batches: failed bytes were truncated away');
  const afterRestart = await readPartition(broker, topic);
  assert.equal(afterRestart.highWatermark, BigInt(acknowledged.length));
  assert.deepEqual(afterRestart.values, acknowledged, 'after a restart: the same records');
  await stopAndUnmount(broker, filesystem);
});

test('an idempotent batch refused on a full disk is written when retried: it is not taken for a duplicate of offsets that were cut away', async () => {
  const filesystem = smallFilesystem();
  filesystem.writeFiller('filler', 2 * mebibyte);
  const broker = await start(filesystem, ['--min-free-disk-bytes', '0']);
  const topic = 'idempotent-full';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  const { producerId, producerEpoch } = await connection.call(initProducerIdApi, 4, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  const idempotentBatch = (sequence: number) =>
    encodeRecordBatch([{ key: null, value: Buffer.from(recordValue(`idempotent-${sequence}`)) }, { key: null, value: Buffer.from(recordValue(`idempotent-${sequence}-b`)) }], { producerId, producerEpoch, baseSequence: sequence * 2 });
  let sequence = 0;
  let refused: Buffer | undefined;
  for (; sequence < maxProduceAttempts; sequence++) {
    const batch = idempotentBatch(sequence);
    const outcome = await produce(connection, topic, batch);
    if (outcome.errorCode !== 0) {
      assert.equal(outcome.errorCode, kafkaStorageError);
      refused = batch;
      break;
    }
  }
  assert.ok(refused !== undefined, 'the disk filled up');
  filesystem.remove('filler');
  // The producer retries the very same batch (same sequence numbers), as clients do.
  const retried = await produce(connection, topic, refused);
  assert.equal(retried.errorCode, 0, `the retry is accepted (${retried.errorMessage ?? ''})`);
  assert.equal(retried.baseOffset, BigInt(sequence * 2), 'at the offset the refused batch was given, now holding it');
  const next = await produce(connection, topic, idempotentBatch(sequence + 1));
  assert.equal(next.errorCode, 0, 'the sequence continues after the retried batch');
  const again = await produce(connection, topic, refused);
  assert.equal(again.baseOffset, retried.baseOffset, 'a second retry is now a duplicate, answered with the stored offset');
  connection.destroy();
  const contents = await readPartition(broker, topic);
  assert.equal(contents.values.length, (sequence + 2) * 2);
  assert.deepEqual(contents.values.slice(-4), [recordValue(`idempotent-${sequence}`), recordValue(`idempotent-${sequence}-b`), recordValue(`idempotent-${sequence + 1}`), recordValue(`idempotent-${sequence + 1}-b`)]);
  assertNoInternalErrors(broker);
  await stopAndUnmount(broker, filesystem);
});

test('several producers sharing group commits into a full disk, then kill -9: every acknowledged record is there after the restart, and nothing else', async () => {
  const filesystem = smallFilesystem();
  filesystem.writeFiller('filler', 2 * mebibyte);
  let broker = await start(filesystem, ['--min-free-disk-bytes', '0']);
  const topic = 'shared-commits';
  const producerCount = 4;
  /** Offset → value of every acknowledged record. */
  const acknowledged = new Map<bigint, string>();
  const connections = await Promise.all(Array.from({ length: producerCount }, () => RawKafkaConnection.open(broker.host, broker.port)));
  await produce(connections[0]!, topic, batchOf(['create the topic first']));
  acknowledged.set(0n, 'create the topic first');
  await Promise.all(
    connections.map(async (connection, producer) => {
      let refusals = 0;
      for (let attempt = 0; attempt < maxProduceAttempts && refusals < 3; attempt++) {
        const values = [recordValue(`producer-${producer}-${attempt}-a`), recordValue(`producer-${producer}-${attempt}-b`)];
        const outcome = await produce(connection, topic, batchOf(values));
        if (outcome.errorCode === 0) {
          values.forEach((value, index) => acknowledged.set(outcome.baseOffset + BigInt(index), value));
        } else {
          assert.equal(outcome.errorCode, kafkaStorageError, `producer ${producer}: ${outcome.errorMessage ?? ''}`);
          refusals++;
        }
      }
      assert.equal(connection.closed, false, `producer ${producer}'s connection stays open`);
    }),
  );
  for (const connection of connections) connection.destroy();
  const expected = [...acknowledged.keys()].sort((left, right) => (left < right ? -1 : 1)).map((offset) => acknowledged.get(offset)!);
  assert.equal(expected.length, acknowledged.size);
  assert.ok(expected.length > 100, `the disk was filled (${expected.length} records)`);
  const before = await readPartition(broker, topic);
  assert.equal(before.highWatermark, BigInt(expected.length), 'acknowledged offsets are contiguous from 0: no hole');
  assert.deepEqual(before.values, expected);
  assertNoInternalErrors(broker);

  await broker.kill9();
  // A broker does not start on a full disk (it writes files while opening), so space is freed first.
  filesystem.remove('filler');
  broker = await restart(broker);
  const afterCrash = await readPartition(broker, topic);
  assert.equal(afterCrash.highWatermark, BigInt(expected.length));
  assert.deepEqual(afterCrash.values, expected, 'after kill -9 and a restart');
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  const outcome = await produce(connection, topic, batchOf(['once space is back']));
  connection.destroy();
  assert.equal(outcome.errorCode, 0);
  assert.equal(outcome.baseOffset, BigInt(expected.length));
  await stopAndUnmount(broker, filesystem);
});

function alarmGauge(metrics: string): number {
  const match = /^osprey_disk_alarm (\d+)$/m.exec(metrics);
  assert.ok(match, 'the osprey_disk_alarm gauge is served');
  return Number(match[1]);
}

test('under the free-space reserve, produce is refused early with KAFKA_STORAGE_ERROR and taken again once space returns; KafkaJS retries through it', async () => {
  const filesystem = smallFilesystem();
  const reserveBytes = 4 * mebibyte;
  const broker = await start(filesystem, ['--min-free-disk-bytes', String(reserveBytes), '--disk-check-interval-ms', '100']);
  const topic = 'reserved';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  assert.equal((await produce(connection, topic, batchOf(['before']))).errorCode, 0);
  assert.equal(alarmGauge(await broker.metricsText()), 0);

  filesystem.writeFiller('filler', 5 * mebibyte); // about 3 MiB left: under the reserve
  await broker.waitForLog(/WARN disk alarm raised.*minFreeDiskBytes=4194304/, 10_000);
  assert.equal(alarmGauge(await broker.metricsText()), 1);
  const refused = await produce(connection, topic, batchOf(['refused']));
  assert.equal(refused.errorCode, kafkaStorageError, 'refused early, with a retriable code');
  assert.match(refused.errorMessage ?? '', /minFreeDiskBytes/);
  assert.equal(connection.closed, false);
  assert.equal((await readPartition(broker, topic)).highWatermark, 1n, 'nothing was written while refused');

  // A real client keeps retrying (KAFKA_STORAGE_ERROR is retriable) and gets through once space returns.
  const kafka = new Kafka({ clientId: 'disk-alarm-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 500 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  let produceRequests = 0;
  producer.on(producer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Produce') produceRequests++;
  });
  await producer.connect();
  try {
    const sending = producer.send({ topic, acks: -1, messages: [{ value: 'through the alarm' }] });
    // Space comes back only once the client has been refused and has tried again.
    await waitUntil(() => produceRequests >= 2, 'a refused Produce and a retry', 10_000);
    filesystem.remove('filler');
    await broker.waitForLog(/INFO disk alarm cleared/, 10_000);
    const [sent] = await sending;
    assert.equal(sent?.errorCode, 0);
    assert.equal(sent?.baseOffset, '1');
  } finally {
    await producer.disconnect();
  }
  assert.equal(alarmGauge(await broker.metricsText()), 0);
  const accepted = await produce(connection, topic, batchOf(['after']));
  assert.equal(accepted.errorCode, 0);
  assert.equal(accepted.baseOffset, 2n);
  connection.destroy();
  assert.deepEqual((await readPartition(broker, topic)).values, ['before', 'through the alarm', 'after']);
  assert.equal(broker.logs().match(/disk alarm raised/g)?.length, 1, 'one WARN line for the alarm');
  await stopAndUnmount(broker, filesystem);
});

test('OffsetCommit, DeleteRecords and Produce to a new topic on a full disk are answered with retriable error codes, the broker keeps running, and all work again once space returns', async () => {
  const filesystem = smallFilesystem();
  const broker = await start(filesystem, ['--min-free-disk-bytes', '0']);
  const topic = 'committed';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  assert.equal((await produce(connection, topic, batchOf(['one', 'two']))).errorCode, 0);
  const commit = (offset: bigint) =>
    connection.call(offsetCommitApi, 8, {
      groupId: 'full-disk-group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
  filesystem.fillUp('filler');
  for (let attempt = 0; attempt < 3; attempt++) {
    const refused = (await commit(1n)).topics[0]?.partitions[0]?.errorCode;
    assert.ok(refused !== undefined && retriableCommitErrors.has(refused), `commit on a full disk answered ${refused}`);
  }
  // Other writers on the full disk: auto-creating a topic for Produce, DeleteRecords' checkpoint.
  // Its record is refused with KAFKA_STORAGE_ERROR, unless the journal's last page still had room
  // for it: then it is durable there and acknowledged (its segment write waits for space), and
  // must be read back once space returns.
  const newTopic = await produce(connection, 'born-on-a-full-disk', batchOf(['journaled']));
  assert.ok([kafkaStorageError, 0].includes(newTopic.errorCode), `produce to a new topic on a full disk answered ${newTopic.errorCode} (${newTopic.errorMessage ?? ''})`);
  const deleteRecords = (offset: bigint) => connection.call(deleteRecordsApi, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset }] }], timeoutMs: 5_000 });
  assert.equal((await deleteRecords(1n)).topics[0]?.partitions[0]?.errorCode, kafkaStorageError, 'DeleteRecords whose checkpoint cannot be written');
  assert.equal(connection.closed, false, 'the connection stays open');
  assert.ok(processIsAlive(broker.pid), 'the broker keeps running');
  filesystem.remove('filler');
  assert.equal((await commit(2n)).topics[0]?.partitions[0]?.errorCode, 0, 'commits work again once space returns');
  const deleted = (await deleteRecords(1n)).topics[0]?.partitions[0];
  assert.deepEqual([deleted?.errorCode, deleted?.lowWatermark], [0, 1n], 'DeleteRecords works again once space returns');
  if (newTopic.errorCode === 0) assert.deepEqual((await readPartition(broker, 'born-on-a-full-disk')).values, ['journaled'], 'the record acknowledged on the full disk');
  const fetched = await connection.call(offsetFetchApi, 8, { groupId: '', topics: [], groups: [{ groupId: 'full-disk-group', topics: null }], requireStable: false });
  assert.deepEqual(fetched.groups[0]?.topics.flatMap((entry) => entry.partitions.map((partition) => partition.committedOffset)), [2n]);
  connection.destroy();
  assertNoInternalErrors(broker);
  await stopAndUnmount(broker, filesystem);
});

test('a commit refused on a full disk is not resurrected by a later cleanup of the group log', async () => {
  const filesystem = smallFilesystem();
  let broker = await start(filesystem, ['--min-free-disk-bytes', '0', '--groups.offsets-log-cleanup-bytes', '1024']);
  const topic = 'cleaned';
  let connection = await RawKafkaConnection.open(broker.host, broker.port);
  assert.equal((await produce(connection, topic, batchOf(['one', 'two']))).errorCode, 0);
  const commit = (groupId: string, offset: bigint) =>
    connection.call(offsetCommitApi, 8, {
      groupId,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(100) }] }],
    });
  filesystem.fillUp('filler');
  const refused = (await commit('refused-group', 2n)).topics[0]?.partitions[0]?.errorCode;
  assert.ok(refused !== undefined && retriableCommitErrors.has(refused), `commit on a full disk answered ${refused}`);
  filesystem.remove('filler');
  // Commits of another group grow the group log past 1 KiB: a cleanup writes the live state anew.
  for (let round = 0; round < 20; round++) assert.equal((await commit('busy-group', BigInt(round % 3))).topics[0]?.partitions[0]?.errorCode, 0);
  await broker.waitForLog(/group log cleaned up/, 10_000);
  connection.destroy();
  broker = await restart(broker);
  connection = await RawKafkaConnection.open(broker.host, broker.port);
  const fetched = await connection.call(offsetFetchApi, 8, { groupId: '', topics: [], groups: [{ groupId: 'refused-group', topics: null }, { groupId: 'busy-group', topics: null }], requireStable: false });
  connection.destroy();
  const committed = (index: number) => fetched.groups[index]?.topics.flatMap((entry) => entry.partitions.map((partition) => partition.committedOffset));
  assert.deepEqual(committed(0), [], 'the refused commit was never stored');
  assert.deepEqual(committed(1), [1n]);
  await stopAndUnmount(broker, filesystem);
});

test('a producer faster than the free-space check is refused by the disk alarm before the disk fills: appended bytes count against the last measurement', async () => {
  const filesystem = smallFilesystem();
  const reserveBytes = 2 * mebibyte;
  // No timed check after the first: only the bytes appended can raise the alarm before the disk is full.
  const broker = await start(filesystem, ['--min-free-disk-bytes', String(reserveBytes), '--disk-check-interval-ms', '600000']);
  const topic = 'outrun';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  const acknowledged: string[] = [];
  let refused: Outcome | null = null;
  for (let attempt = 0; attempt < maxProduceAttempts && refused === null; attempt++) {
    const values = [recordValue(`fast-${attempt}-a`), recordValue(`fast-${attempt}-b`)];
    const outcome = await produce(connection, topic, batchOf(values));
    if (outcome.errorCode === 0) acknowledged.push(...values);
    else refused = outcome;
  }
  assert.ok(refused !== null, 'produce was refused before the attempts ran out');
  assert.equal(refused.errorCode, kafkaStorageError);
  assert.match(refused.errorMessage ?? '', /minFreeDiskBytes/, 'refused by the alarm, not by a failed write');
  assert.ok(filesystem.freeBytes() > reserveBytes / 2, `the disk did not fill (${filesystem.freeBytes()} bytes free)`);
  assert.doesNotMatch(broker.logs(), /log write failed/, 'no write ran into a full disk');
  assert.match(broker.logs(), /WARN disk alarm raised.*how=estimated/);
  assert.ok(acknowledged.length > 100, `most of the space was used first (${acknowledged.length} records)`);
  connection.destroy();
  assert.deepEqual((await readPartition(broker, topic)).values, acknowledged);
  assertNoInternalErrors(broker);
  await stopAndUnmount(broker, filesystem);
});

test('after kill -9 on a completely full disk the broker starts and serves every acknowledged record; writes resume once space returns', async () => {
  const filesystem = smallFilesystem();
  let broker = await start(filesystem, ['--min-free-disk-bytes', '0']);
  const topic = 'crashed-full';
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  const acknowledged: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const values = [recordValue(`before-${attempt}`)];
    const outcome = await produce(connection, topic, batchOf(values));
    assert.equal(outcome.errorCode, 0);
    acknowledged.push(...values);
  }
  connection.destroy();
  await broker.kill9();
  // After a crash, opening a log rewrites its indexes and recovery point: that must not stop it on a full disk.
  filesystem.fillUp('filler');
  broker = await restart(broker);
  assert.match(broker.logs(), /partitions recovered partitions=1 opened=1 failed=0/);
  assert.match(broker.logs(), /WARN log opened on a full disk/);
  assert.deepEqual((await readPartition(broker, topic)).values, acknowledged, 'every acknowledged record, on the full disk');
  filesystem.remove('filler');
  const full = await RawKafkaConnection.open(broker.host, broker.port);
  const accepted = await produce(full, topic, batchOf(['space is back']));
  assert.equal(accepted.errorCode, 0, accepted.errorMessage ?? '');
  assert.equal(accepted.baseOffset, BigInt(acknowledged.length), 'the next offset after every acknowledged record');
  full.destroy();
  assert.deepEqual((await readPartition(broker, topic)).values, [...acknowledged, 'space is back']);
  broker = await restart(broker);
  assert.deepEqual((await readPartition(broker, topic)).values, [...acknowledged, 'space is back'], 'after a clean restart');
  assertNoInternalErrors(broker);
  await stopAndUnmount(broker, filesystem);
});
