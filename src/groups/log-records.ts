/**
 * The records of the group log (Osprey's `__consumer_offsets`), format version 1.
 *
 * A single broker's group log is a PartitionLog in `<dataDir>/__internal/group-offsets/` (a folder
 * name that no topic partition folder `<topic>-<n>` can take); in a cluster each partition of the
 * replicated topic `__consumer_offsets` holds the same records for its groups (Osprey's format,
 * not Kafka's: tools decoding Kafka's offsets records cannot read them). Each batch is an uncompressed v2 record batch
 * (protocol/kafka/records.ts); each record is a key and a value, the value null for a tombstone.
 * Replaying the log from its start, later records of a key replacing earlier ones, rebuilds every
 * committed offset and every group's last stored metadata.
 *
 *   key (never null)
 *   ┌────────────────┬───────────────────────────────────────────────────────────────┐
 *   │ keyType  int16 │                                                               │
 *   ├────────────────┼───────────────────────────────────────────────────────────────┤
 *   │ 1  offset      │ groupId string │ topic string │ partition int32                 │
 *   │ 2  group       │ groupId string                                                 │
 *   │ 3  consumer    │ groupId string   (a KIP-848 consumer group's metadata)         │
 *   │    group       │                                                               │
 *   │ 4+ reserved    │ (unknown types are skipped on replay)                          │
 *   └────────────────┴───────────────────────────────────────────────────────────────┘
 *
 *   value of an offset key (null: the committed offset was deleted or expired)
 *   ┌─────────────────────────────────────────────────────────────────────────────────┐
 *   │ version int16 = 1 │ offset int64 │ leaderEpoch int32 │ metadata string │         │
 *   │ commitTimestampMs int64                                                         │
 *   └─────────────────────────────────────────────────────────────────────────────────┘
 *
 *   value of a group key (null: the group was deleted)
 *   ┌─────────────────────────────────────────────────────────────────────────────────┐
 *   │ version int16 = 1 │ groupType string ("classic") │ protocolType nullable string │ │
 *   │ generationId int32 │ protocolName nullable string │ leaderId nullable string │    │
 *   │ stateTimestampMs int64 │ memberCount int32 │ members…                           │
 *   │   member: memberId string │ groupInstanceId nullable string │ clientId string │   │
 *   │           clientHost string │ rebalanceTimeoutMs int32 │ sessionTimeoutMs int32 │ │
 *   │           subscription bytes │ assignment bytes                                 │
 *   └─────────────────────────────────────────────────────────────────────────────────┘
 *
 *   value of a consumer group key (null: the group's metadata was deleted; its offsets stay)
 *   ┌─────────────────────────────────────────────────────────────────────────────────┐
 *   │ version int16 = 1 │ groupEpoch int32 │ emptySinceMs int64 (−1: had members) │     │
 *   │ assignorName string                                                             │
 *   └─────────────────────────────────────────────────────────────────────────────────┘
 *   Members, their epochs and assignments are not stored: after a restart a consumer group
 *   comes back Empty with its epoch, and its members rejoin (UNKNOWN_MEMBER_ID, then epoch 0).
 *
 * Strings are an int16 byte length and UTF-8 (−1 for null); bytes an int32 length. The value's
 * version lets fields be added: a reader takes the fields of the versions it knows, in order, and
 * ignores the bytes after them; a value of a version below 1 is malformed.
 */
import { committedPositionFromWire, committedPositionToWire, type CommittedPosition } from '../broker/offset.js';
import { MalformedInputError } from '../protocol/wire/errors.js';
import { Reader } from '../protocol/wire/reader.js';
import { Writer } from '../protocol/wire/writer.js';

const keyType = { offset: 1, group: 2, consumerGroup: 3 } as const;
const offsetValueVersion = 1;
const groupValueVersion = 1;
const consumerGroupValueVersion = 1;

export interface OffsetValue {
  /** Converted from and to the stored int64 by this codec, as the wire's by the handlers (broker/offset.ts). */
  readonly offset: CommittedPosition;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

export interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** The member's metadata for the group's protocol (for consumers: its subscription). */
  readonly subscription: Buffer;
  readonly assignment: Buffer;
}

export interface GroupValue {
  readonly groupType: string;
  readonly protocolType: string | null;
  readonly generationId: number;
  readonly protocolName: string | null;
  readonly leaderId: string | null;
  /** When the group entered the state it was stored in (for an empty group: since when it is empty). */
  readonly stateTimestampMs: number;
  readonly members: readonly StoredMember[];
}

/** What is kept of a KIP-848 consumer group across restarts. */
export interface ConsumerGroupValue {
  readonly groupEpoch: number;
  /** Since when the group has had no members; −1 when it had members when stored. */
  readonly emptySinceMs: number;
  readonly assignorName: string;
}

export type GroupLogRecord =
  | { readonly kind: 'offset'; readonly groupId: string; readonly topic: string; readonly partition: number; readonly value: OffsetValue | null }
  | { readonly kind: 'group'; readonly groupId: string; readonly value: GroupValue | null }
  | { readonly kind: 'consumerGroup'; readonly groupId: string; readonly value: ConsumerGroupValue | null };

/** A record of a key type this version does not know (written by a newer Osprey). */
export interface UnknownRecord {
  readonly kind: 'unknown';
  readonly keyType: number;
}

export function encodeKey(record: GroupLogRecord): Buffer {
  const writer = new Writer(64);
  if (record.kind === 'offset') {
    writer.int16(keyType.offset);
    writer.string(record.groupId);
    writer.string(record.topic);
    writer.int32(record.partition);
  } else {
    writer.int16(record.kind === 'group' ? keyType.group : keyType.consumerGroup);
    writer.string(record.groupId);
  }
  return writer.toBuffer();
}

export function encodeValue(record: GroupLogRecord): Buffer | null {
  if (record.value === null) return null;
  switch (record.kind) {
    case 'offset':
      return encodeOffsetValue(record.value);
    case 'group':
      return encodeGroupValue(record.value);
    case 'consumerGroup':
      return encodeConsumerGroupValue(record.value);
  }
}

function encodeConsumerGroupValue(value: ConsumerGroupValue): Buffer {
  const writer = new Writer(64);
  writer.int16(consumerGroupValueVersion);
  writer.int32(value.groupEpoch);
  writer.int64(BigInt(value.emptySinceMs));
  writer.string(value.assignorName);
  return writer.toBuffer();
}

function encodeOffsetValue(value: OffsetValue): Buffer {
  const writer = new Writer(64);
  writer.int16(offsetValueVersion);
  writer.int64(committedPositionToWire(value.offset));
  writer.int32(value.leaderEpoch);
  writer.string(value.metadata);
  writer.int64(BigInt(value.commitTimestampMs));
  return writer.toBuffer();
}

function encodeGroupValue(value: GroupValue): Buffer {
  const writer = new Writer(256);
  writer.int16(groupValueVersion);
  writer.string(value.groupType);
  writer.nullableString(value.protocolType);
  writer.int32(value.generationId);
  writer.nullableString(value.protocolName);
  writer.nullableString(value.leaderId);
  writer.int64(BigInt(value.stateTimestampMs));
  writer.int32(value.members.length);
  for (const member of value.members) {
    writer.string(member.memberId);
    writer.nullableString(member.groupInstanceId);
    writer.string(member.clientId);
    writer.string(member.clientHost);
    writer.int32(member.rebalanceTimeoutMs);
    writer.int32(member.sessionTimeoutMs);
    writer.bytes(member.subscription);
    writer.bytes(member.assignment);
  }
  return writer.toBuffer();
}

/** Throws MalformedInputError when the bytes do not hold what their key type says. */
export function decodeRecord(key: Buffer | null, value: Buffer | null): GroupLogRecord | UnknownRecord {
  if (key === null) throw new MalformedInputError('group log record without a key');
  const reader = new Reader(key);
  const type = reader.int16();
  if (type === keyType.offset) {
    const groupId = reader.string();
    const topic = reader.string();
    const partition = reader.int32();
    return { kind: 'offset', groupId, topic, partition, value: value === null ? null : decodeOffsetValue(value) };
  }
  if (type === keyType.group) {
    const groupId = reader.string();
    return { kind: 'group', groupId, value: value === null ? null : decodeGroupValue(value) };
  }
  if (type === keyType.consumerGroup) {
    const groupId = reader.string();
    return { kind: 'consumerGroup', groupId, value: value === null ? null : decodeConsumerGroupValue(value) };
  }
  return { kind: 'unknown', keyType: type };
}

function decodeConsumerGroupValue(bytes: Buffer): ConsumerGroupValue {
  const reader = new Reader(bytes);
  readVersion(reader, 'consumer group');
  return { groupEpoch: reader.int32(), emptySinceMs: Number(reader.int64()), assignorName: reader.string() };
}

function readVersion(reader: Reader, what: string): number {
  const version = reader.int16();
  if (version < 1) throw new MalformedInputError(`${what} value version ${version}`);
  return version;
}

function decodeOffsetValue(bytes: Buffer): OffsetValue {
  const reader = new Reader(bytes);
  readVersion(reader, 'offset');
  const offset = committedPositionFromWire(reader.int64());
  if (offset === null) throw new MalformedInputError('offset value: committed offset beyond 2^53');
  return {
    offset,
    leaderEpoch: reader.int32(),
    metadata: reader.string(),
    commitTimestampMs: Number(reader.int64()),
  };
}

function decodeGroupValue(bytes: Buffer): GroupValue {
  const reader = new Reader(bytes);
  readVersion(reader, 'group');
  const groupType = reader.string();
  const protocolType = reader.nullableString();
  const generationId = reader.int32();
  const protocolName = reader.nullableString();
  const leaderId = reader.nullableString();
  const stateTimestampMs = Number(reader.int64());
  const count = reader.arrayLength();
  if (count < 0) throw new MalformedInputError('group value: null member list');
  const members: StoredMember[] = [];
  for (let index = 0; index < count; index++) {
    members.push({
      memberId: reader.string(),
      groupInstanceId: reader.nullableString(),
      clientId: reader.string(),
      clientHost: reader.string(),
      rebalanceTimeoutMs: reader.int32(),
      sessionTimeoutMs: reader.int32(),
      subscription: Buffer.from(reader.bytes()),
      assignment: Buffer.from(reader.bytes()),
    });
  }
  return { groupType, protocolType, generationId, protocolName, leaderId, stateTimestampMs, members };
}
