/** JoinGroup, SyncGroup, OffsetCommit and OffsetFetch against kafkajs's encoders and decoders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor } from '../../../../src/protocol/kafka/codec.js';
import { joinGroupRequest, joinGroupResponse } from '../../../../src/protocol/kafka/messages/join-group.js';
import { offsetCommitRequest, offsetCommitResponse } from '../../../../src/protocol/kafka/messages/offset-commit.js';
import { offsetFetchRequest, offsetFetchResponse } from '../../../../src/protocol/kafka/messages/offset-fetch.js';
import { syncGroupRequest, syncGroupResponse } from '../../../../src/protocol/kafka/messages/sync-group.js';
import { decodeAll, decodeResponseWithKafkajs, encodeRequestWithKafkajs, encodeToBuffer } from './kafkajs-oracle.js';

const joinGroup = { request: codecFor(joinGroupRequest), response: codecFor(joinGroupResponse) };
const syncGroup = { request: codecFor(syncGroupRequest), response: codecFor(syncGroupResponse) };
const offsetCommit = { request: codecFor(offsetCommitRequest), response: codecFor(offsetCommitResponse) };
const offsetFetch = { request: codecFor(offsetFetchRequest), response: codecFor(offsetFetchResponse) };

const subscription = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0xff, 0xff, 0xff, 0xff]);
const assignment = Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);

for (const version of [0, 1, 2, 3, 4, 5]) {
  test(`JoinGroup v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('joinGroup', version, {
      groupId: 'billing',
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      memberId: version >= 4 ? 'member-1' : '',
      groupInstanceId: version >= 5 ? 'instance-a' : null,
      protocolType: 'consumer',
      groupProtocols: [
        { name: 'RoundRobinAssigner', metadata: subscription },
        { name: 'range', metadata: Buffer.alloc(0) },
      ],
    });
    assert.deepEqual(decodeAll(joinGroup.request, version, bytes), {
      groupId: 'billing',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: version >= 1 ? 60_000 : -1,
      memberId: version >= 4 ? 'member-1' : '',
      groupInstanceId: version >= 5 ? 'instance-a' : null,
      protocolType: 'consumer',
      protocols: [
        { name: 'RoundRobinAssigner', metadata: subscription },
        { name: 'range', metadata: Buffer.alloc(0) },
      ],
      reason: null,
    });

    const payload = encodeToBuffer(joinGroup.response, version, {
      throttleTimeMs: version >= 2 ? 6 : 0,
      errorCode: 0,
      generationId: 3,
      protocolName: 'RoundRobinAssigner',
      leader: 'member-1',
      memberId: 'member-2',
      members: [
        { memberId: 'member-1', groupInstanceId: version >= 5 ? 'instance-a' : null, metadata: subscription },
        { memberId: 'member-2', metadata: subscription },
      ],
    });
    const decoded = (await decodeResponseWithKafkajs('joinGroup', version, payload)) as Record<string, unknown> & { members: Array<Record<string, unknown>> };
    assert.equal(decoded['errorCode'], 0);
    assert.equal(decoded['generationId'], 3);
    assert.equal(decoded['groupProtocol'], 'RoundRobinAssigner');
    assert.equal(decoded['leaderId'], 'member-1');
    assert.equal(decoded['memberId'], 'member-2');
    assert.deepEqual(
      decoded.members.map((member) => [member['memberId'], member['groupInstanceId'], member['memberMetadata']]),
      [
        ['member-1', version >= 5 ? 'instance-a' : undefined, subscription],
        ['member-2', version >= 5 ? null : undefined, subscription],
      ],
    );
    if (version >= 2) assert.equal(decoded['clientSideThrottleTime'] ?? decoded['throttleTime'], 6);
  });
}

for (const version of [0, 1, 2, 3]) {
  test(`SyncGroup v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('syncGroup', version, {
      groupId: 'billing',
      generationId: 3,
      memberId: 'member-1',
      groupInstanceId: version >= 3 ? 'instance-a' : null,
      groupAssignment: [
        { memberId: 'member-1', memberAssignment: assignment },
        { memberId: 'member-2', memberAssignment: Buffer.alloc(0) },
      ],
    });
    assert.deepEqual(decodeAll(syncGroup.request, version, bytes), {
      groupId: 'billing',
      generationId: 3,
      memberId: 'member-1',
      groupInstanceId: version >= 3 ? 'instance-a' : null,
      protocolType: null,
      protocolName: null,
      assignments: [
        { memberId: 'member-1', assignment },
        { memberId: 'member-2', assignment: Buffer.alloc(0) },
      ],
    });

    const payload = encodeToBuffer(syncGroup.response, version, { throttleTimeMs: version >= 1 ? 8 : 0, errorCode: 0, assignment });
    const decoded = (await decodeResponseWithKafkajs('syncGroup', version, payload)) as Record<string, unknown>;
    assert.equal(decoded['errorCode'], 0);
    assert.deepEqual(decoded['memberAssignment'], assignment);
    if (version >= 1) assert.equal(decoded['clientSideThrottleTime'] ?? decoded['throttleTime'], 8);
  });
}

for (const version of [0, 1, 2, 3, 4, 5]) {
  test(`OffsetCommit v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('offsetCommit', version, {
      groupId: 'billing',
      groupGenerationId: 3,
      memberId: 'member-1',
      retentionTime: 86_400_000,
      topics: [
        {
          topic: 'orders',
          partitions: [
            { partition: 0, offset: '42', timestamp: 1_700_000_000_000, metadata: 'm' },
            { partition: 1, offset: '9007199254740993', timestamp: 1_700_000_000_000 },
          ],
        },
      ],
    });
    const decoded = decodeAll(offsetCommit.request, version, bytes);
    assert.equal(decoded.groupId, 'billing');
    assert.equal(decoded.generationIdOrMemberEpoch, version >= 1 ? 3 : -1);
    assert.equal(decoded.memberId, version >= 1 ? 'member-1' : '');
    assert.equal(decoded.retentionTimeMs, version >= 2 && version <= 4 ? 86_400_000n : -1n);
    assert.deepEqual(decoded.topics, [
      {
        name: 'orders',
        partitions: [
          // kafkajs v1 sends the per-partition commit timestamp that only v1 has
          { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, commitTimestamp: version === 1 ? 1_700_000_000_000n : -1n, committedMetadata: 'm' },
          { partitionIndex: 1, committedOffset: 9_007_199_254_740_993n, committedLeaderEpoch: -1, commitTimestamp: version === 1 ? 1_700_000_000_000n : -1n, committedMetadata: null },
        ],
      },
    ]);

    const payload = encodeToBuffer(offsetCommit.response, version, {
      throttleTimeMs: version >= 3 ? 5 : 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }],
    });
    const response = (await decodeResponseWithKafkajs('offsetCommit', version, payload)) as { responses: unknown; throttleTime?: number; clientSideThrottleTime?: number };
    assert.deepEqual(response.responses, [
      {
        topic: 'orders',
        partitions: [
          { partition: 0, errorCode: 0 },
          { partition: 1, errorCode: 0 },
        ],
      },
    ]);
    if (version >= 3) assert.equal(response.clientSideThrottleTime ?? response.throttleTime, 5);
  });
}

for (const version of [1, 2, 3, 4]) {
  test(`OffsetFetch v${version} request and response agree with kafkajs`, async () => {
    const bytes = await encodeRequestWithKafkajs('offsetFetch', version, {
      groupId: 'billing',
      topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 3 }] }],
    });
    assert.deepEqual(decodeAll(offsetFetch.request, version, bytes), {
      groupId: 'billing',
      topics: [{ name: 'orders', partitionIndexes: [0, 3] }],
      groups: [],
      requireStable: false,
    });

    const payload = encodeToBuffer(offsetFetch.response, version, {
      throttleTimeMs: version >= 3 ? 2 : 0,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, metadata: 'm', errorCode: 0 },
            { partitionIndex: 3, committedOffset: -1n, metadata: '', errorCode: 0 },
          ],
        },
      ],
      errorCode: 0,
      groups: [],
    });
    const decoded = (await decodeResponseWithKafkajs('offsetFetch', version, payload)) as { responses: unknown; errorCode?: number };
    assert.deepEqual(decoded.responses, [
      {
        topic: 'orders',
        partitions: [
          { partition: 0, offset: '42', metadata: 'm', errorCode: 0 },
          { partition: 3, offset: '-1', metadata: '', errorCode: 0 },
        ],
      },
    ]);
    if (version >= 2) assert.equal(decoded.errorCode, 0);
  });
}

test('kafkajs OffsetFetch v3 asks for all topics with an empty array, which it writes as null', async () => {
  const bytes = await encodeRequestWithKafkajs('offsetFetch', 3, { groupId: 'billing', topics: [] });
  assert.equal(decodeAll(offsetFetch.request, 3, bytes).topics, null);
});
