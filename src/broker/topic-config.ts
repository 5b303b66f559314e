/**
 * Topic-level configuration: the Kafka config keys a topic may override, how each is parsed and
 * validated, and how the effective value is resolved (topic override, else broker default).
 */
import type { TopicDefaults } from '../config/broker-config.js';

/** DescribeConfigs ConfigType values (v3+). */
export const ConfigType = { boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7 } as const;
/** DescribeConfigs ConfigSource values. */
export const ConfigSource = { topic: 1, staticBroker: 4, default: 5 } as const;

interface TopicConfigKey {
  readonly name: string;
  readonly type: (typeof ConfigType)[keyof typeof ConfigType];
  readonly documentation: string;
  /** The broker-wide default as a string. */
  defaultValue(defaults: TopicDefaults): string;
  /** Returns an error message when the value is not acceptable. */
  validate(value: string): string | null;
}

function integerIn(minimum: number, maximum = Number.MAX_SAFE_INTEGER): (value: string) => string | null {
  return (value) => {
    if (!/^-?\d+$/.test(value)) return `expected an integer, got '${value}'`;
    const parsed = Number(value);
    if (parsed < minimum || parsed > maximum) return `expected a value between ${minimum} and ${maximum}, got ${value}`;
    return null;
  };
}

function decimalIn(minimum: number, maximum: number): (value: string) => string | null {
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
  maxCompactionLagMs: '9223372036854775807',
} as const;

const keys: readonly TopicConfigKey[] = [
  {
    name: 'cleanup.policy',
    type: ConfigType.list,
    documentation: 'delete: old segments are removed by retention; compact: only the latest record of each key is kept; compact,delete: both',
    defaultValue: () => 'delete',
    validate: (value) => parseCleanupPolicy(value) === null ? `expected delete, compact or compact,delete, got '${value}'` : null,
  },
  {
    name: 'delete.retention.ms',
    type: ConfigType.long,
    documentation: 'how long a tombstone (a record with a key and a null value) of a compacted topic is kept after the cleaner has reached it',
    defaultValue: () => String(compactionDefaults.deleteRetentionMs),
    validate: integerIn(0),
  },
  {
    name: 'min.cleanable.dirty.ratio',
    type: ConfigType.double,
    documentation: 'the cleaner compacts a partition once the part of its log not yet compacted is at least this fraction of it',
    defaultValue: () => String(compactionDefaults.minCleanableDirtyRatio),
    validate: decimalIn(0, 1),
  },
  {
    name: 'min.compaction.lag.ms',
    type: ConfigType.long,
    documentation: 'a record stays uncompacted at least this long after it was written',
    defaultValue: () => String(compactionDefaults.minCompactionLagMs),
    validate: integerIn(0),
  },
  {
    name: 'max.compaction.lag.ms',
    type: ConfigType.long,
    documentation: 'a record becomes eligible for compaction at the latest this long after it was written, whatever the dirty ratio',
    defaultValue: () => compactionDefaults.maxCompactionLagMs,
    validate: integerIn(1),
  },
  {
    name: 'compression.type',
    type: ConfigType.string,
    documentation: 'producer: batches are stored as the producer compressed them; uncompressed, gzip, snappy, lz4, zstd: a batch in another codec is recompressed into this one on the way in',
    defaultValue: () => 'producer',
    validate: oneOf(...Object.keys(topicCompressionCodecs)),
  },
  {
    name: 'retention.ms',
    type: ConfigType.long,
    documentation: 'segments whose newest record is older than this are deleted; -1 keeps them forever',
    defaultValue: (defaults) => String(defaults.retentionMs),
    validate: integerIn(-1),
  },
  {
    name: 'retention.bytes',
    type: ConfigType.long,
    documentation: 'oldest segments are deleted while a partition is larger than this; -1 is unlimited',
    defaultValue: (defaults) => String(defaults.retentionBytes),
    validate: integerIn(-1),
  },
  {
    name: 'segment.bytes',
    type: ConfigType.int,
    documentation: 'the active segment is rolled when it reaches this size',
    defaultValue: (defaults) => String(defaults.segmentBytes),
    validate: integerIn(14, 2 ** 31 - 1),
  },
  {
    name: 'segment.ms',
    type: ConfigType.long,
    documentation: 'the active segment is rolled when its first record is this old',
    defaultValue: (defaults) => String(defaults.segmentMs),
    validate: integerIn(1),
  },
  {
    name: 'max.message.bytes',
    type: ConfigType.int,
    documentation: 'largest record batch accepted',
    defaultValue: (defaults) => String(defaults.maxMessageBytes),
    validate: integerIn(0, 2 ** 31 - 1),
  },
  {
    name: 'message.timestamp.type',
    type: ConfigType.string,
    documentation: 'CreateTime keeps the producer timestamp; LogAppendTime stamps batches with the broker clock',
    defaultValue: (defaults) => defaults.messageTimestampType,
    validate: oneOf('CreateTime', 'LogAppendTime'),
  },
  {
    name: 'index.interval.bytes',
    type: ConfigType.int,
    documentation: 'bytes of log between two offset-index entries',
    defaultValue: (defaults) => String(defaults.indexIntervalBytes),
    validate: integerIn(0, 2 ** 31 - 1),
  },
  {
    name: 'min.insync.replicas',
    type: ConfigType.int,
    documentation: 'replicas that must have a batch before acks=all is answered (one broker: 1)',
    defaultValue: () => '1',
    validate: integerIn(1),
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
}

export function effectiveTopicConfig(overrides: ReadonlyMap<string, string>, defaults: TopicDefaults): EffectiveTopicConfig {
  const number = (name: string, fallback: number) => {
    const value = overrides.get(name);
    return value === undefined ? fallback : Number(value);
  };
  const timestampType = overrides.get('message.timestamp.type') ?? defaults.messageTimestampType;
  return {
    retentionMs: number('retention.ms', defaults.retentionMs),
    retentionBytes: number('retention.bytes', defaults.retentionBytes),
    segmentBytes: number('segment.bytes', defaults.segmentBytes),
    segmentMs: number('segment.ms', defaults.segmentMs),
    maxMessageBytes: number('max.message.bytes', defaults.maxMessageBytes),
    messageTimestampType: timestampType === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
    indexIntervalBytes: number('index.interval.bytes', defaults.indexIntervalBytes),
    compressionCodec: topicCompressionCodecs[overrides.get('compression.type') ?? 'producer'] ?? null,
    cleanupPolicy: parseCleanupPolicy(overrides.get('cleanup.policy') ?? 'delete') ?? { delete: true, compact: false },
    deleteRetentionMs: number('delete.retention.ms', compactionDefaults.deleteRetentionMs),
    minCleanableDirtyRatio: number('min.cleanable.dirty.ratio', compactionDefaults.minCleanableDirtyRatio),
    minCompactionLagMs: number('min.compaction.lag.ms', compactionDefaults.minCompactionLagMs),
    maxCompactionLagMs: Math.min(number('max.compaction.lag.ms', Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER),
  };
}

export interface DescribedConfig {
  name: string;
  value: string;
  source: number;
  isDefault: boolean;
  type: number;
  documentation: string;
}

/** Every topic config with its effective value and where it came from. */
export function describeTopicConfigs(overrides: ReadonlyMap<string, string>, defaults: TopicDefaults): DescribedConfig[] {
  return keys.map((key) => {
    const override = overrides.get(key.name);
    return {
      name: key.name,
      value: override ?? key.defaultValue(defaults),
      source: override === undefined ? ConfigSource.default : ConfigSource.topic,
      isDefault: override === undefined,
      type: key.type,
      documentation: key.documentation,
    };
  });
}
