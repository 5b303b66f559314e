/**
 * A produced batch appended after an await (recompressed for the topic's compression.type:
 * broker/produce.ts, produceInOrder) is appended only while its broker still leads the partition in
 * the leader epoch the batch was accepted in. Two real brokers and etcd; the test hook
 * OSPREY_TEST_HOLD_DEFERRED_APPEND (broker/test-hooks.ts) holds broker 1's recompressed batch while
 * the test names broker 2 leader in etcd:
 *
 *   broker 1 (leader, epoch 0):  accepts "deposed", recompresses it, held ── etcd: broker 2 leads (epoch 1)
 *                                released: NOT_LEADER_OR_FOLLOWER, nothing appended
 *   broker 1 (leader, epoch 2):  "after" at offset 0, its log holds nothing else
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePartition, encodePartition, partitionKey } from '../../src/cluster/keys.js';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import { holdDeferredAppendVariable } from '../../src/broker/test-hooks.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { PartitionReader } from '../helpers/partition-reader.js';
import { encodeRecordBatch, rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const produceApi = rawApi(produceRequest, produceResponse);
const zeroTopicId = Buffer.alloc(16);

describe('a two-broker cluster: a deferred append after leadership moved', () => {
  let cluster: TestCluster;
  const holdDirectory = mkdtempSync(join(tmpdir(), 'osprey-hold-'));
  const holdFile = join(holdDirectory, 'hold-deferred-append');

  before(async () => {
    cluster = await startTestCluster({ nodeIds: [] });
    await cluster.startBroker(1, { env: { [holdDeferredAppendVariable]: holdFile } });
    await cluster.startBroker(2);
    await cluster.waitForMembers([1, 2]);
  });
  after(async () => {
    rmSync(holdDirectory, { recursive: true, force: true });
    await cluster.stop();
  });

  /** Uncompressed, so that the gzip topic recompresses it: the deferred path. */
  async function produce(topic: string, nodeId: number, acks: number, value: string): Promise<{ errorCode: number; baseOffset: bigint }> {
    const answer = await withConnection(cluster.broker(nodeId), (connection) =>
      connection.call(produceApi, 9, { acks, timeoutMs: 5000, transactionalId: null, topicData: [{ name: topic, topicId: zeroTopicId, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: null, value: Buffer.from(value) }]) }] }] }),
    );
    const partition = answer.responses[0]?.partitionResponses[0];
    assert.ok(partition !== undefined);
    return { errorCode: partition.errorCode, baseOffset: partition.baseOffset };
  }

  /** Writes the partition's state in etcd as the controller would: `leader` leads in the next epoch. */
  async function nameLeader(topic: string, leader: number): Promise<PartitionRecord> {
    const key = partitionKey(topic, 0);
    const current = await cluster.store.get(key);
    assert.ok(current !== null);
    const state = decodePartition(current.value);
    assert.ok(!(state instanceof Error));
    const next: PartitionRecord = { ...state, leader, leaderEpoch: state.leaderEpoch + 1, partitionEpoch: state.partitionEpoch + 1 };
    const written = await cluster.store.transaction([{ key, modRevision: current.modRevision }], [{ type: 'put', key, value: encodePartition(next) }]);
    assert.ok(written.succeeded, 'the partition state was not written meanwhile');
    return next;
  }

  /** Creates a gzip topic on brokers 1 (leader) and 2 and holds a produced uncompressed batch on broker 1 until `meanwhile` returns. */
  async function holdWhile(topic: string, meanwhile: () => Promise<void>): Promise<{ errorCode: number; baseOffset: bigint }> {
    await cluster.createTopic(topic, [[1, 2]], 1, { 'compression.type': 'gzip' });
    await cluster.waitForPartition(topic, 0, (state) => state.leader === 1 && state.isr.length === 2, 'broker 2 to join the ISR');
    writeFileSync(holdFile, '');
    const answered = produce(topic, 1, 1, 'deposed');
    try {
      await cluster.broker(1).waitForLog(new RegExp(`test hook: a deferred produce append is held .*topic=${topic} partition=0`));
      await meanwhile();
    } finally {
      rmSync(holdFile, { force: true });
    }
    return answered;
  }

  /** Produces "after" to broker 1 once it takes writes again and reads its log: that record alone, at offset 0. */
  async function assertOnlyLaterRecord(topic: string): Promise<void> {
    let last = { errorCode: -1, baseOffset: -1n };
    await waitUntil(async () => (last = await produce(topic, 1, -1, 'after')).errorCode === ErrorCode.none, 'broker 1 to take writes as leader again', 20_000, () => JSON.stringify(last, (_, value: unknown) => (typeof value === 'bigint' ? String(value) : value)));
    assert.equal(last.baseOffset, 0n, 'nothing was appended before it');
    const reader = new PartitionReader(cluster.broker(1).bootstrap, 'osprey-deferred-append-reader');
    try {
      const contents = await reader.readPartition(topic, 0);
      assert.deepEqual(contents.records.map((record) => record.value?.toString('utf8')), ['after']);
    } finally {
      await reader.close();
    }
  }

  test('a recompressed batch held until another broker leads is answered NOT_LEADER_OR_FOLLOWER and never appended', async () => {
    const topic = 'recompressed';
    const answer = await holdWhile(topic, async () => {
      assert.equal((await nameLeader(topic, 2)).leaderEpoch, 1);
      await cluster.broker(1).waitForLog(new RegExp(`no longer leading partition .*topic=${topic} partition=0`));
    });
    assert.equal(answer.errorCode, ErrorCode.notLeaderOrFollower, 'the batch accepted in epoch 0 is not appended once broker 2 leads');
    assert.equal(answer.baseOffset, -1n);
    // Broker 1 leads again (epoch 2): its log holds what it appends now, and nothing from before.
    assert.equal((await nameLeader(topic, 1)).leaderEpoch, 2);
    await assertOnlyLaterRecord(topic);
  });

  test('a recompressed batch held while leadership went to another broker and came back is not appended in the later epoch', async () => {
    const topic = 'recompressed-again';
    const answer = await holdWhile(topic, async () => {
      assert.equal((await nameLeader(topic, 2)).leaderEpoch, 1);
      await cluster.broker(1).waitForLog(new RegExp(`no longer leading partition .*topic=${topic} partition=0`));
      assert.equal((await nameLeader(topic, 1)).leaderEpoch, 2);
      await cluster.broker(1).waitForLog(new RegExp(`INFO leading partition .*topic=${topic} partition=0 leaderEpoch=2`));
    });
    assert.equal(answer.errorCode, ErrorCode.notLeaderOrFollower, 'the batch accepted in epoch 0 is not appended in epoch 2');
    assert.equal(answer.baseOffset, -1n);
    await assertOnlyLaterRecord(topic);
  });
});
