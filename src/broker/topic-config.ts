/**
 * Topic-level configuration: every config key Kafka 4.1 lets a topic override, how each is parsed
 * and validated, which broker config it defaults to, and how the effective value is resolved:
 *
 *   topic override  →  dynamic broker config (per broker, then cluster-wide)  →  broker setting  →  Kafka's default
 *
 * Keys this broker cannot act on (replication throttles, tiered storage, fsync cadence, codec
 * levels…) are accepted and validated as Kafka validates them so that tools and clients written
 * for Kafka work, and each says so in its documentation ("no effect on this broker").
 */
import type { TopicDefaults } from '../config/broker-config.js';

/** DescribeConfigs ConfigType values (v3+). */
export const ConfigType = { boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7 } as const;
/** DescribeConfigs ConfigSource values. */
export const ConfigSource = { topic: 1, dynamicBroker: 2, dynamicDefaultBroker: 3, staticBroker: 4, default: 5, group: 8 } as const;

export type ConfigTypeValue = (typeof ConfigType)[keyof typeof ConfigType];

export interface TopicConfigKey {
  readonly name: string;
  readonly type: ConfigTypeValue;
  readonly documentation: string;
  /** Kafka's broker config this topic config defaults to (its first synonym), or null when it has none. */
  readonly brokerName: string | null;
  /** The broker's own default as a string: from the config file where Osprey has a setting for it, else Kafka's. */
  defaultValue(defaults: TopicDefaults): string;
  /** Returns an error message when the value is not acceptable. */
  validate(value: string): string | null;
}

/** Long.MAX_VALUE, Kafka's "no limit" for many long configs: kept as text, it does not fit a double exactly. */
export const longMaxValue = '9223372036854775807';
const intMaxValue = 2 ** 31 - 1;

/** An integer in [minimum, maximum], checked exactly (longs may exceed Number.MAX_SAFE_INTEGER). */
export function integerIn(minimum: number | bigint, maximum: number | bigint = BigInt(longMaxValue)): (value: string) => string | null {
  return (value) => {
    const trimmed = value.trim();
    if (!/^[-+]?\d+$/.test(trimmed)) return `expected an integer, got '${value}'`;
    const parsed = BigInt(trimmed);
    if (parsed < BigInt(minimum) || parsed > BigInt(maximum)) return `expected a value between ${minimum} and ${maximum}, got ${value}`;
    return null;
  };
}

export function decimalIn(minimum: number, maximum: number): (value: string) => string | null {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed)) return `expected a number, got '${value}'`;
    if (parsed < minimum || parsed > maximum) return `expected a value between ${minimum} and ${maximum}, got ${value}`;
    return null;
  };
}

function oneOf(...allowed: string[]): (value: string) => string | null {
  return (value) => (allowed.includes(value) ? null : `expected one of ${allowed.join(', ')}, got '${value}'`);
}

/** Kafka parses booleans without regard to case. */
function booleanValue(value: string): string | null {
  return /^(true|false)$/i.test(value.trim()) ? null : `expected true or false, got '${value}'`;
}

/** leader/follower.replication.throttled.replicas: empty, '*', or partition:broker pairs. */
function throttledReplicaList(value: string): string | null {
  const items = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0 || (items.length === 1 && items[0] === '*')) return null;
  return items.every((item) => /^\d+:\d+$/.test(item)) ? null : `expected '*' or a list of partition:broker pairs such as 0:1,1:1, got '${value}'`;
}

/** gzip levels: -1 (the codec's default) or 1 to 9. */
function gzipLevel(value: string): string | null {
  return integerIn(-1, 9)(value) ?? (value.trim() === '0' ? `expected -1 or a value between 1 and 9, got ${value}` : null);
}

/** compression.type's values: the codec batches are stored in, null for "as the producer sent them". */
export const topicCompressionCodecs: Readonly<Record<string, number | null>> = { producer: null, uncompressed: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** What cleanup.policy asks for; null when the value is not a policy Kafka accepts. */
export interface CleanupPolicy {
  /** Segments beyond retention.ms / retention.bytes are deleted. */
  delete: boolean;
  /** Only the latest record of each key is kept (and keyless records are refused). */
  compact: boolean;
}

export function parseCleanupPolicy(value: string): CleanupPolicy | null {
  const items = value.split(',').map((item) => item.trim());
  if (items.length === 0 || items.length > 2 || items.some((item) => item !== 'delete' && item !== 'compact')) return null;
  return { delete: items.includes('delete'), compact: items.includes('compact') };
}

/** Kafka's defaults for the compaction settings (log.cleaner.* at the broker). */
export const compactionDefaults = {
  deleteRetentionMs: 86_400_000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  /** Long.MAX_VALUE in Kafka: kept as a string, it does not fit a double exactly. */
  maxCompactionLagMs: longMaxValue,
} as const;

/** Said of every key this broker accepts without acting on it. */
export const noEffect = 'Accepted and validated as Kafka does; no effect on this broker';

/** Shorthand for a key whose default is a constant. */
function fixed(value: string): () => string {
  return () => value;
}

/**
 * Every topic config, in the order DescribeConfigs lists them. The compaction keys come first (the
 * log cleaner reads them), then the rest. `brokerName` is Kafka's broker config the key defaults
 * to (the first of its synonyms); null for the keys Kafka gives no broker default.
 */
const keys: readonly TopicConfigKey[] = [
  {
    name: 'cleanup.policy',
    type: ConfigType.list,
    documentation: 'delete: old segments are removed by retention; compact: only the latest record of each key is kept; compact,delete: both',
    brokerName: 'log.cleanup.policy',
    defaultValue: fixed('delete'),
    validate: (value) => (parseCleanupPolicy(value) === null ? `expected delete, compact or compact,delete, got '${value}'` : null),
  },
  {
    name: 'delete.retention.ms',
    type: ConfigType.long,
    documentation: 'how long a tombstone (a record with a key and a null value) of a compacted topic is kept after the cleaner has reached it',
    brokerName: 'log.cleaner.delete.retention.ms',
    defaultValue: fixed(String(compactionDefaults.deleteRetentionMs)),
    validate: integerIn(0),
  },
  {
    name: 'min.cleanable.dirty.ratio',
    type: ConfigType.double,
    documentation: 'the cleaner compacts a partition once the part of its log not yet compacted is at least this fraction of it',
    brokerName: 'log.cleaner.min.cleanable.ratio',
    defaultValue: fixed(String(compactionDefaults.minCleanableDirtyRatio)),
    validate: decimalIn(0, 1),
  },
  {
    name: 'min.compaction.lag.ms',
    type: ConfigType.long,
    documentation: 'a record stays uncompacted at least this long after it was written',
    brokerName: 'log.cleaner.min.compaction.lag.ms',
    defaultValue: fixed(String(compactionDefaults.minCompactionLagMs)),
    validate: integerIn(0),
  },
  {
    name: 'max.compaction.lag.ms',
    type: ConfigType.long,
    documentation: 'a record becomes eligible for compaction at the latest this long after it was written, whatever the dirty ratio',
    brokerName: 'log.cleaner.max.compaction.lag.ms',
    defaultValue: fixed(compactionDefaults.maxCompactionLagMs),
    validate: integerIn(1),
  },
  {
    name: 'compression.type',
    type: ConfigType.string,
    documentation: 'producer: batches are stored as the producer compressed them; uncompressed, gzip, snappy, lz4, zstd: a batch in another codec is recompressed into this one on the way in',
    brokerName: 'compression.type',
    defaultValue: fixed('producer'),
    validate: oneOf(...Object.keys(topicCompressionCodecs)),
  },
  {
    name: 'retention.ms',
    type: ConfigType.long,
    documentation: 'segments whose newest record is older than this are deleted; -1 keeps them forever',
    brokerName: 'log.retention.ms',
    defaultValue: (defaults) => String(defaults.retentionMs),
    validate: integerIn(-1),
  },
  {
    name: 'retention.bytes',
    type: ConfigType.long,
    documentation: 'oldest segments are deleted while a partition is larger than this; -1 is unlimited',
    brokerName: 'log.retention.bytes',
    defaultValue: (defaults) => String(defaults.retentionBytes),
    validate: integerIn(-1),
  },
  {
    name: 'segment.bytes',
    type: ConfigType.int,
    documentation: 'the active segment is rolled when it reaches this size (Kafka 4 asks for at least 1 MiB; this broker accepts 14 bytes and up)',
    brokerName: 'log.segment.bytes',
    defaultValue: (defaults) => String(defaults.segmentBytes),
    validate: integerIn(14, intMaxValue),
  },
  {
    name: 'segment.ms',
    type: ConfigType.long,
    documentation: 'the active segment is rolled when its first record is this old',
    brokerName: 'log.roll.ms',
    defaultValue: (defaults) => String(defaults.segmentMs),
    validate: integerIn(1),
  },
  {
    name: 'max.message.bytes',
    type: ConfigType.int,
    documentation: 'largest record batch accepted',
    brokerName: 'message.max.bytes',
    defaultValue: (defaults) => String(defaults.maxMessageBytes),
    validate: integerIn(0, intMaxValue),
  },
  {
    name: 'message.timestamp.type',
    type: ConfigType.string,
    documentation: 'CreateTime keeps the producer timestamp; LogAppendTime stamps batches with the broker clock',
    brokerName: 'log.message.timestamp.type',
    defaultValue: (defaults) => defaults.messageTimestampType,
    validate: oneOf('CreateTime', 'LogAppendTime'),
  },
  {
    name: 'index.interval.bytes',
    type: ConfigType.int,
    documentation: 'bytes of log between two offset-index entries',
    brokerName: 'log.index.interval.bytes',
    defaultValue: (defaults) => String(defaults.indexIntervalBytes),
    validate: integerIn(0, intMaxValue),
  },
  {
    name: 'min.insync.replicas',
    type: ConfigType.int,
    documentation: 'in-sync replicas a partition needs for acks=all: with fewer, a produce is refused with NOT_ENOUGH_REPLICAS (capped at the replica count, as in Kafka: one replica needs one)',
    brokerName: 'min.insync.replicas',
    defaultValue: (defaults) => String(defaults.minInsyncReplicas),
    validate: integerIn(1, intMaxValue),
  },
  {
    name: 'message.timestamp.before.max.ms',
    type: ConfigType.long,
    documentation: 'under CreateTime, a batch whose first timestamp is more than this far behind the broker clock is refused with INVALID_TIMESTAMP',
    brokerName: 'log.message.timestamp.before.max.ms',
    defaultValue: fixed(longMaxValue),
    validate: integerIn(0),
  },
  {
    name: 'message.timestamp.after.max.ms',
    type: ConfigType.long,
    documentation: 'under CreateTime, a batch whose largest timestamp is more than this far ahead of the broker clock is refused with INVALID_TIMESTAMP',
    brokerName: 'log.message.timestamp.after.max.ms',
    defaultValue: fixed('3600000'),
    validate: integerIn(0),
  },
  {
    name: 'remote.storage.enable',
    type: ConfigType.boolean,
    documentation: 'tiered storage: this broker has none, so only false is accepted (true is INVALID_CONFIG)',
    brokerName: null,
    defaultValue: fixed('false'),
    validate: (value) => booleanValue(value) ?? (value.trim().toLowerCase() === 'true' ? 'this broker has no tiered storage: remote.storage.enable can only be false' : null),
  },
  {
    name: 'local.retention.ms',
    type: ConfigType.long,
    documentation: `how long segments stay on local disk before tiered storage takes them; -2 follows retention.ms. ${noEffect} (no tiered storage)`,
    brokerName: 'log.local.retention.ms',
    defaultValue: fixed('-2'),
    validate: integerIn(-2),
  },
  {
    name: 'local.retention.bytes',
    type: ConfigType.long,
    documentation: `how many bytes of a partition stay on local disk before tiered storage takes them; -2 follows retention.bytes. ${noEffect} (no tiered storage)`,
    brokerName: 'log.local.retention.bytes',
    defaultValue: fixed('-2'),
    validate: integerIn(-2),
  },
  {
    name: 'remote.log.copy.disable',
    type: ConfigType.boolean,
    documentation: `stops copying segments to tiered storage. ${noEffect} (no tiered storage)`,
    brokerName: null,
    defaultValue: fixed('false'),
    validate: booleanValue,
  },
  {
    name: 'remote.log.delete.on.disable',
    type: ConfigType.boolean,
    documentation: `deletes the tiered copy of the log when tiered storage is turned off. ${noEffect} (no tiered storage)`,
    brokerName: null,
    defaultValue: fixed('false'),
    validate: booleanValue,
  },
  {
    name: 'flush.messages',
    type: ConfigType.long,
    documentation: `fsync after this many records. ${noEffect}: the broker's flush setting decides when data is fsynced (by default before acks=1/all are answered, at least as often as any value here asks)`,
    brokerName: 'log.flush.interval.messages',
    defaultValue: fixed(longMaxValue),
    validate: integerIn(1),
  },
  {
    name: 'flush.ms',
    type: ConfigType.long,
    documentation: `fsync at least this often. ${noEffect}: the broker's flush setting decides when data is fsynced (by default before acks=1/all are answered, at least as often as any value here asks)`,
    brokerName: 'log.flush.interval.ms',
    defaultValue: fixed(longMaxValue),
    validate: integerIn(0),
  },
  {
    name: 'segment.index.bytes',
    type: ConfigType.int,
    documentation: `largest offset or time index of a segment. ${noEffect} (its indexes grow as the segment needs)`,
    brokerName: 'log.index.size.max.bytes',
    defaultValue: fixed(String(10 * 1024 * 1024)),
    validate: integerIn(4, intMaxValue),
  },
  {
    name: 'segment.jitter.ms',
    type: ConfigType.long,
    documentation: `random time subtracted from segment.ms so that segments do not all roll at once. ${noEffect}`,
    brokerName: 'log.roll.jitter.ms',
    defaultValue: fixed('0'),
    validate: integerIn(0),
  },
  {
    name: 'file.delete.delay.ms',
    type: ConfigType.long,
    documentation: `how long a deleted segment's files are kept before removal. ${noEffect} (they are removed at once)`,
    brokerName: 'log.segment.delete.delay.ms',
    defaultValue: fixed('60000'),
    validate: integerIn(0),
  },
  {
    name: 'preallocate',
    type: ConfigType.boolean,
    documentation: `preallocate a new segment file on disk. ${noEffect}`,
    brokerName: 'log.preallocate',
    defaultValue: fixed('false'),
    validate: booleanValue,
  },
  {
    name: 'compression.gzip.level',
    type: ConfigType.int,
    documentation: `gzip level when compression.type is gzip (-1: the codec's default). ${noEffect}: batches are recompressed at the codec's default level`,
    brokerName: 'compression.gzip.level',
    defaultValue: fixed('-1'),
    validate: gzipLevel,
  },
  {
    name: 'compression.lz4.level',
    type: ConfigType.int,
    documentation: `lz4 level when compression.type is lz4. ${noEffect}: batches are recompressed at the codec's default level`,
    brokerName: 'compression.lz4.level',
    defaultValue: fixed('9'),
    validate: integerIn(1, 17),
  },
  {
    name: 'compression.zstd.level',
    type: ConfigType.int,
    documentation: `zstd level when compression.type is zstd. ${noEffect}: batches are recompressed at the codec's default level`,
    brokerName: 'compression.zstd.level',
    defaultValue: fixed('3'),
    validate: integerIn(-131_072, 22),
  },
  {
    name: 'unclean.leader.election.enable',
    type: ConfigType.boolean,
    documentation: 'whether a replica out of sync may become leader when no in-sync replica is live: in a cluster the controller then elects one (logged as a warning), trading acknowledged records for availability; a single broker leads every partition, so it has no effect there',
    brokerName: 'unclean.leader.election.enable',
    defaultValue: fixed('false'),
    validate: booleanValue,
  },
  {
    name: 'leader.replication.throttled.replicas',
    type: ConfigType.list,
    documentation: `replicas whose replication is throttled on the leader side ('*' or partition:broker pairs). ${noEffect} (replication is not throttled yet)`,
    brokerName: null,
    defaultValue: fixed(''),
    validate: throttledReplicaList,
  },
  {
    name: 'follower.replication.throttled.replicas',
    type: ConfigType.list,
    documentation: `replicas whose replication is throttled on the follower side ('*' or partition:broker pairs). ${noEffect} (replication is not throttled yet)`,
    brokerName: null,
    defaultValue: fixed(''),
    validate: throttledReplicaList,
  },
];

const keysByName = new Map(keys.map((key) => [key.name, key]));

export function topicConfigKey(name: string): TopicConfigKey | undefined {
  return keysByName.get(name);
}

/** Validates one override; returns an error message or null. */
export function validateTopicConfig(name: string, value: string | null): string | null {
  const key = keysByName.get(name);
  if (key === undefined) return `unknown topic config '${name}'`;
  if (value === null) return null; // null removes an override
  return key.validate(value);
}

/**
 * Why a topic's whole set of settings is refused (INVALID_CONFIG), or null: what Kafka checks
 * across keys, on the effective values (override, else broker value, else default).
 */
export function topicConfigsProblem(overrides: ReadonlyMap<string, string>, defaults: TopicDefaults, brokerValues: ReadonlyMap<string, string> = new Map()): string | null {
  const text = (name: string): string => (overrides.get(name) ?? brokerValues.get(name) ?? keysByName.get(name)?.defaultValue(defaults) ?? '0').trim();
  const minimumLagMs = BigInt(text('min.compaction.lag.ms'));
  const maximumLagMs = BigInt(text('max.compaction.lag.ms'));
  if (minimumLagMs > maximumLagMs) return `conflict topic config setting min.compaction.lag.ms (${minimumLagMs}) > max.compaction.lag.ms (${maximumLagMs})`;
  return null;
}

/** Every topic config key, in DescribeConfigs order. */
export function topicConfigKeys(): readonly TopicConfigKey[] {
  return keys;
}

/** Effective settings of a topic, typed. */
export interface EffectiveTopicConfig {
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  segmentMs: number;
  maxMessageBytes: number;
  messageTimestampType: 'CreateTime' | 'LogAppendTime';
  indexIntervalBytes: number;
  /** compression.type: the codec every stored batch must have; null = as produced. */
  compressionCodec: number | null;
  /** cleanup.policy. */
  cleanupPolicy: CleanupPolicy;
  deleteRetentionMs: number;
  minCleanableDirtyRatio: number;
  minCompactionLagMs: number;
  /** max.compaction.lag.ms; Kafka's default (Long.MAX_VALUE) becomes Number.MAX_SAFE_INTEGER. */
  maxCompactionLagMs: number;
  /** message.timestamp.before.max.ms (CreateTime only); Long.MAX_VALUE becomes Number.MAX_SAFE_INTEGER. */
  messageTimestampBeforeMaxMs: number;
  /** message.timestamp.after.max.ms (CreateTime only). */
  messageTimestampAfterMaxMs: number;
  /** min.insync.replicas: in-sync replicas acks=all needs (capped at the partition's replica count where used). */
  minInsyncReplicas: number;
}

/**
 * The effective settings of a topic with these overrides. `brokerValues` holds the dynamic broker
 * configs in force, keyed by the topic config they default (per-broker values over cluster-wide
 * ones, see dynamic-broker-configs.ts); keys absent from both take the broker's default.
 */
export function effectiveTopicConfig(overrides: ReadonlyMap<string, string>, defaults: TopicDefaults, brokerValues: ReadonlyMap<string, string> = new Map()): EffectiveTopicConfig {
  const text = (name: string): string => overrides.get(name) ?? brokerValues.get(name) ?? keysByName.get(name)?.defaultValue(defaults) ?? '';
  const number = (name: string) => Math.min(Number(text(name).trim()), Number.MAX_SAFE_INTEGER);
  return {
    retentionMs: number('retention.ms'),
    retentionBytes: number('retention.bytes'),
    segmentBytes: number('segment.bytes'),
    segmentMs: number('segment.ms'),
    maxMessageBytes: number('max.message.bytes'),
    messageTimestampType: text('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
    indexIntervalBytes: number('index.interval.bytes'),
    compressionCodec: topicCompressionCodecs[text('compression.type')] ?? null,
    cleanupPolicy: parseCleanupPolicy(text('cleanup.policy')) ?? { delete: true, compact: false },
    deleteRetentionMs: number('delete.retention.ms'),
    minCleanableDirtyRatio: number('min.cleanable.dirty.ratio'),
    minCompactionLagMs: number('min.compaction.lag.ms'),
    maxCompactionLagMs: number('max.compaction.lag.ms'),
    messageTimestampBeforeMaxMs: number('message.timestamp.before.max.ms'),
    messageTimestampAfterMaxMs: number('message.timestamp.after.max.ms'),
    minInsyncReplicas: number('min.insync.replicas'),
  };
}
