/**
 * The group APIs over the wire, byte for byte through our codecs, against a real broker process:
 * what ApiVersions advertises, FindCoordinator, a whole classic group lifecycle at the versions
 * librdkafka (v0) and recent clients (v9) use, offsets at every request shape, the error codes of bad
 * requests, and committed offsets surviving kill -9.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAssignment, encodeSubscription } from '../../src/protocol/kafka/consumer-protocol.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { apiVersionsRequest, apiVersionsResponse } from '../../src/protocol/kafka/messages/api-versions.js';
import { deleteGroupsRequest, deleteGroupsResponse } from '../../src/protocol/kafka/messages/delete-groups.js';
import { describeGroupsRequest, describeGroupsResponse } from '../../src/protocol/kafka/messages/describe-groups.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../../src/protocol/kafka/messages/find-coordinator.js';
import { heartbeatRequest, heartbeatResponse } from '../../src/protocol/kafka/messages/heartbeat.js';
import { joinGroupRequest, joinGroupResponse } from '../../src/protocol/kafka/messages/join-group.js';
import { leaveGroupRequest, leaveGroupResponse } from '../../src/protocol/kafka/messages/leave-group.js';
import { listGroupsRequest, listGroupsResponse } from '../../src/protocol/kafka/messages/list-groups.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../src/protocol/kafka/messages/offset-commit.js';
import { offsetDeleteRequest, offsetDeleteResponse } from '../../src/protocol/kafka/messages/offset-delete.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../src/protocol/kafka/messages/offset-fetch.js';
import { produceRequest, produceResponse } from '../../src/protocol/kafka/messages/produce.js';
import { syncGroupRequest, syncGroupResponse } from '../../src/protocol/kafka/messages/sync-group.js';
import type { BrokerProcess } from '../helpers/broker-process.js';
import { startBrokerProcess } from '../helpers/broker-process.js';
import { encodeRecordBatch, rawApi, RawKafkaConnection } from '../helpers/raw-kafka-client.js';

const apiVersionsApi = rawApi(apiVersionsRequest, apiVersionsResponse);
const findCoordinatorApi = rawApi(findCoordinatorRequest, findCoordinatorResponse);
const joinGroupApi = rawApi(joinGroupRequest, joinGroupResponse);
const syncGroupApi = rawApi(syncGroupRequest, syncGroupResponse);
const heartbeatApi = rawApi(heartbeatRequest, heartbeatResponse);
const leaveGroupApi = rawApi(leaveGroupRequest, leaveGroupResponse);
const offsetCommitApi = rawApi(offsetCommitRequest, offsetCommitResponse);
const offsetFetchApi = rawApi(offsetFetchRequest, offsetFetchResponse);
const offsetDeleteApi = rawApi(offsetDeleteRequest, offsetDeleteResponse);
const listGroupsApi = rawApi(listGroupsRequest, listGroupsResponse);
const describeGroupsApi = rawApi(describeGroupsRequest, describeGroupsResponse);
const deleteGroupsApi = rawApi(deleteGroupsRequest, deleteGroupsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);
const produceApi = rawApi(produceRequest, produceResponse);

const topic = 'group-protocol';
let broker: BrokerProcess;
const connections: RawKafkaConnection[] = [];

async function open(): Promise<RawKafkaConnection> {
  const connection = await RawKafkaConnection.open(broker.host, broker.port);
  connections.push(connection);
  return connection;
}

before(async () => {
  broker = await startBrokerProcess({ args: ['--num-partitions', '4', '--groups.initial-rebalance-delay-ms', '100'] });
  const connection = await open();
  await connection.call(metadataApi, 1, { topics: [{ name: topic, topicId: Buffer.alloc(16) }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  // 10 records in partition 0, so offsets up to 10 can be committed there.
  const records = Array.from({ length: 10 }, (_, index) => ({ key: null, value: Buffer.from(`r${index}`) }));
  const produced = await connection.call(produceApi, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, topicId: Buffer.alloc(16), partitionData: [{ index: 0, records: encodeRecordBatch(records) }] }] });
  assert.equal(produced.responses[0]!.partitionResponses[0]!.errorCode, 0);
});

after(async () => {
  for (const connection of connections) connection.destroy();
  await broker.stop();
});

test('ApiVersions advertises the group APIs, from v0 where librdkafka needs it', async () => {
  const connection = await open();
  const versions = await connection.call(apiVersionsApi, 3, { clientSoftwareName: 'osprey-test', clientSoftwareVersion: '1' });
  const range = (apiKey: number) => {
    const found = versions.apiKeys.find((api) => api.apiKey === apiKey);
    return found === undefined ? null : [found.minVersion, found.maxVersion];
  };
  assert.deepEqual(range(10), [0, 6], 'FindCoordinator');
  assert.deepEqual(range(11), [0, 9], 'JoinGroup');
  assert.deepEqual(range(12), [0, 4], 'Heartbeat');
  assert.deepEqual(range(13), [0, 5], 'LeaveGroup');
  assert.deepEqual(range(14), [0, 5], 'SyncGroup');
  assert.deepEqual(range(8), [0, 9], 'OffsetCommit');
  assert.deepEqual(range(9), [0, 9], 'OffsetFetch');
  assert.deepEqual(range(15), [0, 6], 'DescribeGroups');
  assert.deepEqual(range(16), [0, 5], 'ListGroups');
  assert.deepEqual(range(42), [0, 2], 'DeleteGroups');
  assert.deepEqual(range(47), [0, 0], 'OffsetDelete');
});

test('FindCoordinator: this broker for groups, one key (v0-3) or many (v4+); transactions refused with a message', async () => {
  const connection = await open();
  const v0 = await connection.call(findCoordinatorApi, 0, { key: 'g', coordinatorKeys: [] });
  assert.deepEqual([v0.errorCode, v0.nodeId, v0.host, v0.port], [0, 0, broker.host, broker.port]);
  const transaction = await connection.call(findCoordinatorApi, 3, { key: 'txn', keyType: 1, coordinatorKeys: [] });
  assert.equal(transaction.errorCode, ErrorCode.invalidRequest);
  assert.match(transaction.errorMessage ?? '', /transactions are not supported/);
  const batch = await connection.call(findCoordinatorApi, 6, { key: '', keyType: 0, coordinatorKeys: ['a', 'b'] });
  assert.deepEqual(batch.coordinators.map((coordinator) => [coordinator.key, coordinator.nodeId, coordinator.port, coordinator.errorCode]), [
    ['a', 0, broker.port, 0],
    ['b', 0, broker.port, 0],
  ]);
});

test('a classic group at v0 (librdkafka): join, sync, heartbeat, commit, fetch, leave', async () => {
  const connection = await open();
  const subscription = encodeSubscription([topic]);
  const joined = await connection.call(joinGroupApi, 0, { groupId: 'v0-group', sessionTimeoutMs: 10_000, memberId: '', protocolType: 'consumer', protocols: [{ name: 'range', metadata: subscription }] });
  assert.equal(joined.errorCode, 0);
  assert.equal(joined.generationId, 1);
  assert.equal(joined.leader, joined.memberId);
  assert.equal(joined.protocolName, 'range');
  assert.deepEqual(joined.members.map((member) => [member.memberId, member.metadata]), [[joined.memberId, subscription]]);
  const mine = encodeAssignment([{ topic, partitions: [0, 1, 2, 3] }]);
  const synced = await connection.call(syncGroupApi, 0, { groupId: 'v0-group', generationId: 1, memberId: joined.memberId, assignments: [{ memberId: joined.memberId, assignment: mine }] });
  assert.deepEqual([synced.errorCode, synced.assignment], [0, mine]);
  assert.equal((await connection.call(heartbeatApi, 0, { groupId: 'v0-group', generationId: 1, memberId: joined.memberId })).errorCode, 0);
  assert.equal((await connection.call(heartbeatApi, 0, { groupId: 'v0-group', generationId: 2, memberId: joined.memberId })).errorCode, ErrorCode.illegalGeneration);
  const committed = await connection.call(offsetCommitApi, 2, {
    groupId: 'v0-group',
    generationIdOrMemberEpoch: 1,
    memberId: joined.memberId,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 7n, committedMetadata: 'seven' }, { partitionIndex: 1, committedOffset: 1n, committedMetadata: null }] }],
  });
  // Partition 1 holds nothing yet: an offset ahead of its log end is kept, as Kafka keeps it.
  assert.deepEqual(committed.topics[0]!.partitions.map((partition) => partition.errorCode), [0, 0]);
  const fetched = await connection.call(offsetFetchApi, 1, { groupId: 'v0-group', topics: [{ name: topic, partitionIndexes: [0, 1] }], groups: [] });
  assert.deepEqual(fetched.topics[0]!.partitions.map((partition) => [partition.partitionIndex, partition.committedOffset, partition.metadata]), [
    [0, 7n, 'seven'],
    [1, 1n, ''],
  ]);
  const left = await connection.call(leaveGroupApi, 0, { groupId: 'v0-group', memberId: joined.memberId, members: [] });
  assert.equal(left.errorCode, 0);
  const described = await connection.call(describeGroupsApi, 0, { groups: ['v0-group'], includeAuthorizedOperations: false });
  assert.deepEqual([described.groups[0]!.groupState, described.groups[0]!.protocolType, described.groups[0]!.members.length], ['Empty', 'consumer', 0]);
});

test('JoinGroup v9: MEMBER_ID_REQUIRED, then two members in one generation; v5 SyncGroup checks the protocol', async () => {
  const first = await open();
  const second = await open();
  const request = { groupId: 'v9-group', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: encodeSubscription([topic]) }], reason: null };
  const idFirst = await first.call(joinGroupApi, 9, request);
  const idSecond = await second.call(joinGroupApi, 9, request);
  assert.equal(idFirst.errorCode, ErrorCode.memberIdRequired);
  assert.notEqual(idFirst.memberId, '');
  const [a, b] = await Promise.all([first.call(joinGroupApi, 9, { ...request, memberId: idFirst.memberId }), second.call(joinGroupApi, 9, { ...request, memberId: idSecond.memberId })]);
  assert.equal(a.generationId, b.generationId);
  assert.equal(a.protocolType, 'consumer');
  const leader = a.memberId === a.leader ? a : b;
  const follower = leader === a ? b : a;
  const leaderConnection = leader === a ? first : second;
  const followerConnection = leader === a ? second : first;
  assert.equal(leader.members.length, 2);
  const wrong = await followerConnection.call(syncGroupApi, 5, { groupId: 'v9-group', generationId: follower.generationId, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [] });
  assert.equal(wrong.errorCode, ErrorCode.inconsistentGroupProtocol);
  const followerSync = followerConnection.call(syncGroupApi, 5, { groupId: 'v9-group', generationId: follower.generationId, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
  const assignments = [leader, follower].map((member, index) => ({ memberId: member.memberId, assignment: encodeAssignment([{ topic, partitions: [index * 2, index * 2 + 1] }]) }));
  const leaderSync = await leaderConnection.call(syncGroupApi, 5, { groupId: 'v9-group', generationId: leader.generationId, memberId: leader.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments });
  assert.deepEqual([leaderSync.errorCode, leaderSync.protocolName, leaderSync.assignment], [0, 'range', assignments[0]!.assignment]);
  assert.deepEqual((await followerSync).assignment, assignments[1]!.assignment);
  // LeaveGroup v5: a batch, answered per member.
  const left = await first.call(leaveGroupApi, 5, { groupId: 'v9-group', memberId: '', members: [{ memberId: follower.memberId, groupInstanceId: null, reason: 'test' }, { memberId: 'ghost', groupInstanceId: null, reason: null }] });
  assert.deepEqual(left.members.map((member) => member.errorCode), [0, ErrorCode.unknownMemberId]);
  assert.equal((await leaderConnection.call(heartbeatApi, 4, { groupId: 'v9-group', generationId: leader.generationId, memberId: leader.memberId, groupInstanceId: null })).errorCode, ErrorCode.rebalanceInProgress);
});

test('bad joins get Kafka codes: session timeout out of bounds, empty group id, unknown member, no protocols', async () => {
  const connection = await open();
  const request = { groupId: 'bad', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null };
  assert.equal((await connection.call(joinGroupApi, 5, { ...request, sessionTimeoutMs: 1000 })).errorCode, ErrorCode.invalidSessionTimeout);
  assert.equal((await connection.call(joinGroupApi, 5, { ...request, sessionTimeoutMs: 3_600_000 })).errorCode, ErrorCode.invalidSessionTimeout);
  assert.equal((await connection.call(joinGroupApi, 5, { ...request, groupId: '' })).errorCode, ErrorCode.invalidGroupId);
  assert.equal((await connection.call(joinGroupApi, 5, { ...request, memberId: 'made-up' })).errorCode, ErrorCode.unknownMemberId);
  assert.equal((await connection.call(joinGroupApi, 5, { ...request, protocols: [] })).errorCode, ErrorCode.inconsistentGroupProtocol);
  assert.equal((await connection.call(heartbeatApi, 3, { groupId: 'bad', generationId: 1, memberId: 'made-up', groupInstanceId: null })).errorCode, ErrorCode.unknownMemberId);
});

test('offsets at every shape: v8 several groups, null topics for all, unknown partitions, OffsetDelete, ListGroups filters, DescribeGroups v6, DeleteGroups', async () => {
  const connection = await open();
  const commit = (groupId: string, partitionIndex: number, offset: bigint) =>
    connection.call(offsetCommitApi, 8, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex, committedOffset: offset, committedLeaderEpoch: 0, committedMetadata: null }] }] });
  assert.equal((await commit('admin-a', 0, 3n)).topics[0]!.partitions[0]!.errorCode, 0);
  assert.equal((await commit('admin-b', 0, 4n)).topics[0]!.partitions[0]!.errorCode, 0);
  assert.equal((await commit('admin-b', 9, 4n)).topics[0]!.partitions[0]!.errorCode, ErrorCode.unknownTopicOrPartition);
  const fetched = await connection.call(offsetFetchApi, 8, {
    groupId: '',
    topics: [],
    groups: [
      { groupId: 'admin-a', topics: null },
      { groupId: 'admin-b', topics: [{ name: topic, partitionIndexes: [0, 3] }] },
      { groupId: 'nobody', topics: null },
    ],
    requireStable: false,
  });
  assert.deepEqual(
    fetched.groups.map((group) => [group.groupId, group.errorCode, group.topics.flatMap((entry) => entry.partitions.map((partition) => [partition.partitionIndex, partition.committedOffset]))]),
    [
      ['admin-a', 0, [[0, 3n]]],
      ['admin-b', 0, [[0, 4n], [3, -1n]]],
      ['nobody', 0, []],
    ],
  );
  const listed = await connection.call(listGroupsApi, 5, { statesFilter: ['empty'], typesFilter: ['Classic'] });
  const names = listed.groups.map((group) => group.groupId);
  assert.ok(names.includes('admin-a') && names.includes('admin-b'));
  assert.ok(listed.groups.every((group) => group.groupState === 'Empty' && group.groupType === 'classic'));
  assert.deepEqual((await connection.call(listGroupsApi, 4, { statesFilter: ['Stable'], typesFilter: [] })).groups.filter((group) => group.groupId.startsWith('admin-')), []);
  const unknown = await connection.call(describeGroupsApi, 6, { groups: ['nobody'], includeAuthorizedOperations: false });
  assert.equal(unknown.groups[0]!.errorCode, ErrorCode.groupIdNotFound);
  const deletedOffset = await connection.call(offsetDeleteApi, 0, { groupId: 'admin-b', topics: [{ name: topic, partitions: [{ partitionIndex: 0 }] }] });
  assert.deepEqual([deletedOffset.errorCode, deletedOffset.topics[0]!.partitions[0]!.errorCode], [0, 0]);
  const deleted = await connection.call(deleteGroupsApi, 2, { groupsNames: ['admin-a', 'nobody'] });
  assert.deepEqual(deleted.results.map((result) => [result.groupId, result.errorCode]), [
    ['admin-a', 0],
    ['nobody', ErrorCode.groupIdNotFound],
  ]);
  const after = await connection.call(offsetFetchApi, 8, { groupId: '', topics: [], groups: [{ groupId: 'admin-a', topics: null }, { groupId: 'admin-b', topics: null }], requireStable: false });
  assert.deepEqual(after.groups.map((group) => group.topics.length), [0, 0]);
});

test('committed offsets survive kill -9: answered only once durable, replayed on start', async () => {
  const connection = await open();
  const commits = Array.from({ length: 20 }, (_, index) =>
    connection.call(offsetCommitApi, 7, { groupId: `durable-${index % 4}`, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: BigInt(index % 10), committedLeaderEpoch: 0, committedMetadata: `m${index}` }] }] }),
  );
  for (const response of await Promise.all(commits)) assert.equal(response.topics[0]!.partitions[0]!.errorCode, 0);
  await broker.kill9();
  broker = await broker.restart();
  const reconnected = await open();
  for (let group = 0; group < 4; group++) {
    const fetched = await reconnected.call(offsetFetchApi, 6, { groupId: `durable-${group}`, topics: [{ name: topic, partitionIndexes: [0] }], groups: [], requireStable: false });
    const last = 16 + group;
    assert.deepEqual([fetched.topics[0]!.partitions[0]!.committedOffset, fetched.topics[0]!.partitions[0]!.metadata], [BigInt(last % 10), `m${last}`]);
  }
  const described = await reconnected.call(describeGroupsApi, 0, { groups: ['v0-group'], includeAuthorizedOperations: false });
  assert.deepEqual([described.groups[0]!.groupState, described.groups[0]!.protocolType], ['Empty', 'consumer'], 'groups come back Empty');
});
