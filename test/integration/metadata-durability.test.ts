/**
 * Cluster metadata changes against real broker processes (issue 9: defects 4 and 7).
 *
 *  - On a full disk (a small tmpfs as the data directory; needs root), DeleteTopics succeeds and
 *    frees the topic's space, CreateTopics is answered KAFKA_STORAGE_ERROR leaving no trace, and so
 *    is DeleteRecords; none closes the connection, and a restart shows exactly what was acknowledged.
 *  - maxTopics and maxPartitions: a Metadata request naming many more topics than maxTopics creates
 *    maxTopics of them and answers the rest POLICY_VIOLATION, while another client keeps being
 *    answered; CreateTopics, CreatePartitions and auto-creation on Produce are refused beyond them.
 *  - kill -9 in the middle of a burst of creations, productions and deletions (with a compaction
 *    of the metadata journal every few changes): after a restart every acknowledged topic is there
 *    with its records, every acknowledged deletion stays deleted, and nothing is half there.
 *  - A data directory whose metadata is in format 1 (one JSON file) opens with its topics and data.
 *
 * Requests are encoded with our codecs over raw sockets, so each answer's error code is checked
 * exactly; records are encoded by the spec-written encoder in ../helpers/raw-kafka-client.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { createPartitionsRequest, createPartitionsResponse } from '../../src/protocol/kafka/messages/create-partitions.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { deleteRecordsRequest, deleteRecordsResponse } from '../../src/protocol/kafka/messages/delete-records.js';
import { deleteTopicsRequest, deleteTopicsResponse } from '../../src/protocol/kafka/messages/delete-topics.js';
import { fetchRequest, fetchResponse } from '../../src/protocol/kafka/messages/fetch.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { decodeRecordBatches, encodeRecordBatch, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const createPartitionsApi = rawApi(createPartitionsRequest, createPartitionsResponse);
const deleteRecordsApi = rawApi(deleteRecordsRequest, deleteRecordsResponse);
const deleteTopicsApi = rawApi(deleteTopicsRequest, deleteTopicsResponse);
const fetchApi = rawApi(fetchRequest, fetchResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);

const ErrorCode = { none: 0, unknownTopicOrPartition: 3, topicAlreadyExists: 36, policyViolation: 44, kafkaStorageError: 56 } as const;
const zeroTopicId = Buffer.alloc(16);
const megabyte = 1024 * 1024;
/** Generous: a busy machine runs five brokers' test suites at once. */
const requestTimeoutMs = 120_000;

function open(broker: BrokerProcess): Promise<RawKafkaConnection> {
  return RawKafkaConnection.open(broker.host, broker.port);
}

async function createTopics(connection: RawKafkaConnection, names: readonly string[], partitions = 1) {
  const response = await connection.call(
    createTopicsApi,
    7,
    { topics: names.map((name) => ({ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] })), timeoutMs: 60_000, validateOnly: false },
    requestTimeoutMs,
  );
  return response.topics;
}

async function createTopic(connection: RawKafkaConnection, name: string, partitions = 1): Promise<{ errorCode: number; errorMessage: string | null }> {
  const [result] = await createTopics(connection, [name], partitions);
  assert.ok(result);
  return result;
}

async function deleteTopic(connection: RawKafkaConnection, name: string): Promise<{ errorCode: number; errorMessage: string | null }> {
  const response = await connection.call(deleteTopicsApi, 5, { topics: [], topicNames: [name], timeoutMs: 60_000 }, requestTimeoutMs);
  const [result] = response.responses;
  assert.ok(result);
  return result;
}

/** Each named topic's error code and partition count, without creating any. */
async function describeTopics(connection: RawKafkaConnection, names: readonly string[] | null): Promise<Map<string, { errorCode: number; partitions: number }>> {
  const response = await connection.call(
    metadataApi,
    12,
    { topics: names === null ? null : names.map((name) => ({ name, topicId: zeroTopicId })), allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false },
    requestTimeoutMs,
  );
  return new Map(response.topics.map((topic) => [topic.name ?? '', { errorCode: topic.errorCode, partitions: topic.partitions.length }]));
}

async function produceOne(connection: RawKafkaConnection, topic: string, partition: number, value: Buffer): Promise<{ errorCode: number; errorMessage: string | null }> {
  const response = await connection.call(
    produceApi,
    9,
    { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: partition, records: encodeRecordBatch([{ key: null, value }]) }] }] },
    requestTimeoutMs,
  );
  const answer = response.responses[0]?.partitionResponses[0];
  assert.ok(answer);
  return answer;
}

async function fetchValues(connection: RawKafkaConnection, topic: string, partition: number): Promise<string[]> {
  const response = await connection.call(
    fetchApi,
    12,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 10 * megabyte,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [{ topic, topicId: zeroTopicId, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 10 * megabyte }] }],
      forgottenTopicsData: [],
      rackId: '',
    },
    requestTimeoutMs,
  );
  const answer = response.responses[0]?.partitions[0];
  assert.ok(answer);
  assert.equal(answer.errorCode, ErrorCode.none, `fetch ${topic}-${partition}: error ${answer.errorCode}`);
  return decodeRecordBatches(answer.records ?? Buffer.alloc(0)).flatMap((batch) => batch.records.map((record) => record.value?.toString() ?? ''));
}

/** Partition folders in the data directory, by topic name. */
function partitionFolders(dataDir: string, topicPattern: RegExp): Map<string, number[]> {
  const folders = new Map<string, number[]>();
  for (const entry of readdirSync(dataDir)) {
    const match = /^(.+)-(\d+)$/.exec(entry);
    if (match === null || !topicPattern.test(match[1]!)) continue;
    folders.set(match[1]!, [...(folders.get(match[1]!) ?? []), Number(match[2])].sort((left, right) => left - right));
  }
  return folders;
}

function tail(broker: BrokerProcess, lines = 30): string {
  return broker.logs().split('\n').slice(-lines).join('\n');
}

describe('metadata changes on a full disk', () => {
  test('DeleteTopics frees the space; CreateTopics answers KAFKA_STORAGE_ERROR and leaves no trace; a restart agrees', async () => {
    const filesystem = mountSmallFilesystem(16 * megabyte);
    const dataDir = filesystem.path('data');
    let broker: BrokerProcess | null = null;
    try {
      // The smallest journal reserve, so the full disk refuses a creation after a few.
      broker = await startBrokerProcess({ dataDir, args: ['--topic-defaults.segment-bytes', String(megabyte), '--metadata-journal-reserve-bytes', '4096', '--min-free-disk-bytes', '0'] });
      const connection = await open(broker);
      assert.equal((await createTopic(connection, 'doomed')).errorCode, ErrorCode.none);
      for (let index = 0; index < 6; index++) {
        const outcome = await produceOne(connection, 'doomed', 0, Buffer.alloc(512 * 1024, 0x41 + index));
        assert.equal(outcome.errorCode, ErrorCode.none, outcome.errorMessage ?? '');
      }
      filesystem.fillUp('filler');
      assert.ok(filesystem.freeBytes() < 64 * 1024, `the disk is full (${filesystem.freeBytes()} bytes free)`);

      // A creation needs room for its metadata record with the journal's whole reserve behind it.
      // Space the journal already holds beyond that is used first; then creations are refused, cleanly.
      const created: string[] = [];
      let refused: { name: string; errorCode: number; errorMessage: string | null } | null = null;
      for (let round = 0; round < 20 && refused === null; round++) {
        const names = Array.from({ length: 25 }, (_, index) => `newcomer-${round}-${index}`);
        for (const result of await createTopics(connection, names)) {
          if (result.errorCode === ErrorCode.none) created.push(result.name);
          else refused ??= result;
        }
      }
      assert.ok(refused !== null, `a creation was refused on the full disk\n${tail(broker)}`);
      assert.equal(refused.errorCode, ErrorCode.kafkaStorageError, `${refused.errorCode}: ${refused.errorMessage ?? ''}\n${tail(broker)}`);
      assert.match(refused.errorMessage ?? '', new RegExp(refused.name));
      assert.equal((await describeTopics(connection, [refused.name])).get(refused.name)?.errorCode, ErrorCode.unknownTopicOrPartition);
      assert.equal(existsSync(join(dataDir, `${refused.name}-0`)), false, 'no folder is left behind');
      const refusedName = refused.name;
      assert.match(await broker.metricsText(), /^osprey_metadata_change_failures_total\{operation="create topic"\} [1-9]/m);

      // DeleteRecords must write the new log start offset: refused with an error code, not a closed connection.
      const records = await connection.call(deleteRecordsApi, 2, { topics: [{ name: 'doomed', partitions: [{ partitionIndex: 0, offset: 2n }] }], timeoutMs: 30_000 }, requestTimeoutMs);
      assert.equal(records.topics[0]?.partitions[0]?.errorCode, ErrorCode.kafkaStorageError);

      // Deleting is how space is freed: it works on the full disk, and the space comes back.
      const freeBefore = filesystem.freeBytes();
      const deleted = await deleteTopic(connection, 'doomed');
      assert.equal(deleted.errorCode, ErrorCode.none, `${deleted.errorCode}: ${deleted.errorMessage ?? ''}\n${tail(broker)}`);
      assert.ok(filesystem.freeBytes() >= freeBefore + 3 * megabyte, `deleting 3 MiB of records freed ${filesystem.freeBytes() - freeBefore} bytes`);
      assert.equal(existsSync(join(dataDir, 'doomed-0')), false);
      assert.equal((await describeTopics(connection, ['doomed'])).get('doomed')?.errorCode, ErrorCode.unknownTopicOrPartition);
      assert.equal((await deleteTopic(connection, 'doomed')).errorCode, ErrorCode.unknownTopicOrPartition, 'a second deletion finds nothing');
      // The same connection answered every one of these: nothing was closed.
      assert.equal(connection.closed, false);
      connection.destroy();

      filesystem.remove('filler');
      broker = await broker.restart();
      const again = await open(broker);
      const after = await describeTopics(again, ['doomed', refusedName, ...created]);
      assert.equal(after.get('doomed')?.errorCode, ErrorCode.unknownTopicOrPartition);
      assert.equal(after.get(refusedName)?.errorCode, ErrorCode.unknownTopicOrPartition);
      for (const name of created) assert.equal(after.get(name)?.errorCode, ErrorCode.none, `${name}, created on the full disk, is still there`);
      assert.deepEqual([...partitionFolders(dataDir, /^(doomed|newcomer-.*)$/).keys()].sort(), [...created].sort());
      assert.equal((await createTopic(again, refusedName)).errorCode, ErrorCode.none);
      assert.equal((await produceOne(again, refusedName, 0, Buffer.from('space again'))).errorCode, ErrorCode.none);
      again.destroy();
      await broker.stop();
      broker = null;
    } finally {
      if (broker !== null) await broker.kill9();
      filesystem.unmount();
    }
  });
});

describe('maxTopics and maxPartitions', () => {
  const maxTopics = 1500;
  const maxPartitions = 1600;
  let broker: BrokerProcess;

  before(async () => {
    broker = await startBrokerProcess({ args: ['--limits.max-topics', String(maxTopics), '--limits.max-partitions', String(maxPartitions)], readyTimeoutMs: 60_000 });
  });
  after(async () => {
    await broker.stop();
  });

  test('a Metadata request naming ten times maxTopics creates maxTopics of them, answers the rest POLICY_VIOLATION, and others are answered meanwhile', async () => {
    const greedy = await open(broker);
    const bystander = await open(broker);
    const names = Array.from({ length: 10 * maxTopics }, (_, index) => `auto-${index}`);
    let greedyAnswered = false;
    const answer = greedy
      .call(metadataApi, 12, { topics: names.map((name) => ({ name, topicId: zeroTopicId })), allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }, 10 * requestTimeoutMs)
      .finally(() => (greedyAnswered = true));

    // While the creations run, another client is answered: ApiVersions and a Metadata of its own.
    let bystanderAnswersDuringCreation = 0;
    while (!greedyAnswered) {
      await bystander.call(apiVersionsApi, 3, { clientSoftwareName: 'bystander', clientSoftwareVersion: '1' }, requestTimeoutMs);
      const seen = await describeTopics(bystander, ['auto-0']);
      assert.ok(seen.has('auto-0'));
      if (!greedyAnswered) bystanderAnswersDuringCreation++;
    }
    const response = await answer;
    assert.ok(bystanderAnswersDuringCreation > 0, 'another client was answered while the topics were being created');

    const created = response.topics.filter((topic) => topic.errorCode === ErrorCode.none);
    const refused = response.topics.filter((topic) => topic.errorCode !== ErrorCode.none);
    assert.equal(created.length, maxTopics);
    assert.equal(refused.length, names.length - maxTopics);
    assert.ok(refused.every((topic) => topic.errorCode === ErrorCode.policyViolation), `refusals are POLICY_VIOLATION: ${[...new Set(refused.map((topic) => topic.errorCode))].join(', ')}`);
    assert.equal((await describeTopics(bystander, null)).size, maxTopics);
    assert.match(await broker.metricsText(), new RegExp(`^osprey_topic_limit_refusals_total\\{limit="maxTopics"\\} ${names.length - maxTopics}$`, 'm'));
    assert.equal(partitionFolders(broker.dataDir, /^auto-\d+$/).size, maxTopics);
    greedy.destroy();
    bystander.destroy();
  });

  test('CreateTopics, CreatePartitions and auto-creation on Produce beyond the limits get POLICY_VIOLATION; room made by a deletion can be used', async () => {
    const connection = await open(broker);
    const extra = await createTopic(connection, 'one-too-many');
    assert.equal(extra.errorCode, ErrorCode.policyViolation);
    assert.match(extra.errorMessage ?? '', /maxTopics/);
    const produced = await produceOne(connection, 'auto-created-by-produce', 0, Buffer.from('no room'));
    assert.equal(produced.errorCode, ErrorCode.policyViolation);

    // 1500 partitions are held; 100 more fit under maxPartitions, 101 do not.
    const grow = async (count: number) => {
      const response = await connection.call(createPartitionsApi, 3, { topics: [{ name: 'auto-0', count, assignments: null }], timeoutMs: 60_000, validateOnly: false }, requestTimeoutMs);
      return response.results[0]!;
    };
    const tooMany = await grow(102);
    assert.equal(tooMany.errorCode, ErrorCode.policyViolation);
    assert.match(tooMany.errorMessage ?? '', /maxPartitions/);
    assert.equal((await grow(101)).errorCode, ErrorCode.none);
    assert.equal((await describeTopics(connection, ['auto-0'])).get('auto-0')?.partitions, 101);
    assert.equal((await createTopics(connection, ['still-none'], 1))[0]?.errorCode, ErrorCode.policyViolation);

    assert.equal((await deleteTopic(connection, 'auto-1')).errorCode, ErrorCode.none);
    assert.equal((await createTopic(connection, 'in-its-place')).errorCode, ErrorCode.none);
    connection.destroy();
  });
});

describe('kill -9 during a burst of creations and deletions', () => {
  test('after a restart, acknowledged topics are there with their records, acknowledged deletions stay deleted, nothing is half there', async () => {
    // A compaction of the metadata journal every few changes, so the crash may land in one.
    let broker = await startBrokerProcess({ args: ['--metadata-compaction-min-bytes', '1024'] });
    const acknowledged = new Map<string, { partitions: number; value: string }>();
    const deletedAcknowledged = new Set<string>();
    const workers = 4;
    let crashed = false;

    const work = async (worker: number): Promise<void> => {
      const connection = await open(broker);
      try {
        for (let round = 0; !crashed; round++) {
          const name = `burst-${worker}-${round}`;
          const partitions = 1 + (round % 3);
          if ((await createTopic(connection, name, partitions)).errorCode !== ErrorCode.none) continue;
          const value = `${name} says hello`;
          if ((await produceOne(connection, name, partitions - 1, Buffer.from(value))).errorCode !== ErrorCode.none) continue;
          acknowledged.set(name, { partitions, value });
          if (round % 3 === 2) {
            const victim = `burst-${worker}-${round - 2}`;
            if (acknowledged.has(victim)) {
              acknowledged.delete(victim); // its deletion is in flight: either outcome is right
              if ((await deleteTopic(connection, victim)).errorCode === ErrorCode.none) deletedAcknowledged.add(victim);
            }
          }
        }
      } catch {
        // The broker was killed under this request.
      } finally {
        connection.destroy();
      }
    };
    let finishedWorkers = 0;
    const running = Array.from({ length: workers }, (_, worker) => work(worker).finally(() => finishedWorkers++));
    while (acknowledged.size + deletedAcknowledged.size < 150 && finishedWorkers === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(finishedWorkers, 0, `every worker was still running before the crash\n${tail(broker)}`);
    crashed = true;
    const acknowledgedAtCrash = new Map(acknowledged);
    const deletedAtCrash = new Set(deletedAcknowledged);
    await broker.kill9();
    await Promise.all(running);

    broker = await broker.restart();
    try {
      const connection = await open(broker);
      const described = await describeTopics(connection, null);
      for (const [name, { partitions, value }] of acknowledgedAtCrash) {
        assert.equal(described.get(name)?.partitions, partitions, `acknowledged topic ${name} is there with its ${partitions} partitions`);
        assert.deepEqual(await fetchValues(connection, name, partitions - 1), [value], `${name} keeps its acknowledged record`);
      }
      for (const name of deletedAtCrash) assert.equal(described.has(name), false, `deleted topic ${name} stays deleted`);

      // Nothing half there: every topic has exactly its folders, no folder outlives its topic, and
      // every topic (acknowledged or caught mid-creation) takes a new record.
      const folders = partitionFolders(broker.dataDir, /^burst-\d+-\d+$/);
      for (const [name, { partitions }] of described) {
        assert.deepEqual(folders.get(name), Array.from({ length: partitions }, (_, index) => index), `${name} has a folder per partition`);
        assert.equal((await produceOne(connection, name, 0, Buffer.from('after the crash'))).errorCode, ErrorCode.none, `${name} takes records`);
      }
      for (const name of folders.keys()) assert.ok(described.has(name), `folder of ${name} belongs to a topic`);
      assert.doesNotMatch(broker.logs(), /partition folder missing/);
      connection.destroy();
    } finally {
      await broker.stop();
    }
  });
});

describe('a folder left by a deletion cut short', () => {
  test('a partition folder of no topic holding only its leader-epoch checkpoint (rm -r stopped by a crash) is removed at start', async () => {
    let broker = await startBrokerProcess();
    try {
      const connection = await open(broker);
      assert.equal((await createTopic(connection, 'kept', 1)).errorCode, ErrorCode.none);
      assert.equal((await produceOne(connection, 'kept', 0, Buffer.from('one'))).errorCode, ErrorCode.none);
      connection.destroy();
      await broker.stop();
      // What `rm -r` of a deleted topic's folder can leave when the broker is killed under it: the
      // segment files gone, the leader-epoch checkpoint (written at the partition's first append) not yet.
      const checkpoint = await readFile(join(broker.dataDir, 'kept-0', 'leader-epoch-checkpoint'));
      await mkdir(join(broker.dataDir, 'gone-0'));
      await writeFile(join(broker.dataDir, 'gone-0', 'leader-epoch-checkpoint'), checkpoint);
      broker = await broker.restart();
      assert.equal(existsSync(join(broker.dataDir, 'gone-0')), false, `the folder of no topic is removed\n${tail(broker)}`);
      assert.match(broker.logs(), /removing partition folder of a deleted topic[^\n]*gone-0/);
      assert.equal(existsSync(join(broker.dataDir, 'kept-0')), true);
    } finally {
      await broker.stop();
    }
  });
});

describe('a data directory from metadata format 1', () => {
  test('opens with its topics, partitions, configs and records, and is migrated to format 2', async () => {
    let broker = await startBrokerProcess();
    const connection = await open(broker);
    assert.equal((await createTopic(connection, 'legacy', 2)).errorCode, ErrorCode.none);
    assert.equal((await produceOne(connection, 'legacy', 1, Buffer.from('from before'))).errorCode, ErrorCode.none);
    connection.destroy();
    await broker.stop();

    // Put the metadata back as the previous format kept it: one JSON file, rewritten on each change.
    const meta = join(broker.dataDir, 'meta');
    const current = JSON.parse(await readFile(join(meta, 'cluster-metadata.json'), 'utf8')) as { clusterId: string; topics: Record<string, unknown> };
    assert.deepEqual(current.topics, {}, 'the new topic is in the journal, not yet in the snapshot');
    const id = 'c0ffee'.padEnd(32, '0');
    const formatOne = { formatVersion: 1, clusterId: current.clusterId, topics: { legacy: { id, partitionCount: 2, configs: { 'retention.ms': '86400000' } } } };
    await writeFile(join(meta, 'cluster-metadata.json'), JSON.stringify(formatOne, null, 2));
    await rm(join(meta, 'cluster-metadata.journal'));

    broker = await startBrokerProcess({ dataDir: broker.dataDir });
    try {
      await broker.waitForLog(/cluster metadata migrated/);
      const again = await open(broker);
      assert.equal((await describeTopics(again, ['legacy'])).get('legacy')?.partitions, 2);
      assert.deepEqual(await fetchValues(again, 'legacy', 1), ['from before']);
      const migrated = JSON.parse(await readFile(join(meta, 'cluster-metadata.json'), 'utf8')) as { formatVersion: number; topics: Record<string, { id: string; configs: Record<string, string> }> };
      assert.equal(migrated.formatVersion, 2);
      assert.equal(migrated.topics['legacy']?.id, id);
      assert.deepEqual(migrated.topics['legacy']?.configs, { 'retention.ms': '86400000' });
      again.destroy();
    } finally {
      await broker.stop();
    }
  });
});
