/**
 * Builds the BrokerConfig from four layers; later layers win:
 *
 *     defaults (broker-config.ts)  <  YAML file (--config / OSPREY_CONFIG)  <  environment  <  flags
 *
 * Every name is derived from the config key by one rule, so nobody has to remember a list:
 *
 *   key                          YAML                                  flag                              environment
 *   kafkaPort                    kafkaPort: 9092                       --kafka-port                      OSPREY_KAFKA_PORT
 *   topicDefaults.numPartitions  topicDefaults:                        --topic-defaults.num-partitions   OSPREY_TOPIC_DEFAULTS_NUM_PARTITIONS
 *                                  numPartitions: 3
 *
 * A few flags have a short alias where users expect one (`--num-partitions`). YAML keys are camelCase
 * only; Kafka's dotted names (`num.partitions`) are not accepted, but an unknown key that matches one
 * is answered with the key to use instead. Unknown YAML keys and bad values are errors naming the
 * source (`--kafka-port: expected an integer 0-65535, got 'abc'`); unknown OSPREY_* variables are
 * only warnings, since environments collect stray variables. Empty environment variables are unset.
 *
 * `configOptions` is the single table of settings: the help text and docs/configuration.md are
 * generated from it (a test checks the document matches).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { faultHookVariable } from '../server/kafka/fault-hook.js';
import { defaultBrokerConfig } from './broker-config.js';
import type { BrokerConfig, ConnectionLimits, GroupSettings, TopicDefaults } from './broker-config.js';

/** A configuration that cannot be used; one problem per line, each naming where the value came from. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------
// Value types: how a setting is read from text (flags, environment) and from YAML.

interface ValueType<T> {
  /** Shown after the flag in help: PORT, BYTES, MS, true|false … */
  readonly placeholder: string;
  /** Completes "expected …" in error messages. */
  readonly expected: string;
  readonly kind: 'integer' | 'boolean' | 'choice' | 'text';
  parseText(text: string): T | undefined;
  parseYaml(value: unknown): T | undefined;
}

const maxInt32 = 2 ** 31 - 1;
/** setTimeout fires at once for delays beyond 2^31-1 ms, so every timer setting stops there. */
const maxTimerMs = maxInt32;
const unbounded = Number.MAX_SAFE_INTEGER;

function integer(min: number, max: number, placeholder: string): ValueType<number> {
  const bounds = max === unbounded ? `>= ${min}` : min < 0 ? `from ${min} to ${max}` : `${min}-${max}`;
  const accept = (candidate: number): number | undefined =>
    Number.isSafeInteger(candidate) && candidate >= min && candidate <= max ? candidate + 0 : undefined;
  return {
    placeholder,
    expected: `an integer ${bounds}`,
    kind: 'integer',
    parseText: (text) => (/^-?[0-9]+$/.test(text) ? accept(Number(text)) : undefined),
    parseYaml: (value) => (typeof value === 'number' ? accept(value) : undefined),
  };
}

const booleanWords = new Map<string, boolean>([
  ['true', true], ['false', false], ['1', true], ['0', false],
  ['yes', true], ['no', false], ['on', true], ['off', false],
]);

const boolean: ValueType<boolean> = {
  placeholder: 'true|false',
  expected: 'true or false',
  kind: 'boolean',
  parseText: (text) => booleanWords.get(text.toLowerCase()),
  parseYaml: (value) => (typeof value === 'boolean' ? value : undefined),
};

function oneOf<const Choice extends string>(choices: readonly Choice[]): ValueType<Choice> {
  const accept = (value: unknown): Choice | undefined => choices.find((choice) => choice === value);
  return {
    placeholder: choices.join('|'),
    expected: `one of ${choices.join(', ')}`,
    kind: 'choice',
    parseText: accept,
    parseYaml: accept,
  };
}

function text(placeholder: string, expected: string, accept: (value: string) => boolean): ValueType<string> {
  const check = (value: unknown): string | undefined => (typeof value === 'string' && accept(value) ? value : undefined);
  return { placeholder, expected, kind: 'text', parseText: check, parseYaml: check };
}

const hostName = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const isHost = (value: string): boolean => isIP(value) !== 0 || hostName.test(value);
const host = text('HOST', 'an IP address or host name', isHost);
const optionalHost = text('HOST', 'an IP address or host name, or empty', (value) => value === '' || isHost(value));
const path = text('DIR', 'a non-empty path', (value) => value.length > 0);
const identifier = text('ID', 'letters, digits, - and _ only (or empty)', (value) => /^[A-Za-z0-9_-]*$/.test(value));

const milliseconds = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'MS');
const bytes = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'BYTES');
const count = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'N');

// ---------------------------------------------------------------------------------------------
// The table of settings. Mapped types make the compiler insist on an entry for every key of
// BrokerConfig, so a new setting cannot be added without a flag, an env var and a description.

interface Setting<T> {
  readonly type: ValueType<T>;
  readonly description: string;
  /** Extra flag names, for settings users reach for often. */
  readonly aliases?: readonly string[];
  /** Kafka's name for the same setting (topic config, or broker config for top-level keys). */
  readonly kafkaName?: string;
}

type Settings<Shape> = { readonly [Key in keyof Shape]-?: Setting<Shape[Key]> };

/** Keys of BrokerConfig that are YAML mappings of their own. */
const sectionNames = ['topicDefaults', 'limits', 'groups'] as const;
type SectionName = (typeof sectionNames)[number];

const topLevelSettings: Settings<Omit<BrokerConfig, SectionName>> = {
  host: { type: host, description: 'Address the Kafka listener binds to. There is no authentication yet: bind wider than loopback only on a trusted network.' },
  kafkaPort: { type: integer(0, 65535, 'PORT'), description: 'Port of the Kafka listener; 0 picks a free port (the one chosen is logged).' },
  httpPort: { type: integer(-1, 65535, 'PORT'), description: 'Port of the HTTP listener on host (Prometheus metrics at /metrics); 0 picks a free port (the one chosen is logged), -1 turns it off.' },
  advertisedHost: { type: optionalHost, description: 'Host given to clients in Metadata responses; empty means the same as host.' },
  dataDir: { type: path, description: 'Directory of the partition logs; created if missing. A relative path is resolved against the working directory.', kafkaName: 'log.dirs' },
  nodeId: { type: integer(0, maxInt32, 'ID'), description: "This broker's node id.", kafkaName: 'node.id' },
  clusterId: { type: identifier, description: 'Cluster id reported to clients; empty lets the broker choose.' },
  flush: { type: oneOf(['always', 'interval', 'never']), description: 'When appends are fsynced: always = before acks=1/all are answered (one fsync per event-loop turn); interval = every flushIntervalMs; never = left to the OS.' },
  flushIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'Time between fsyncs when flush is interval.', kafkaName: 'log.flush.interval.ms' },
  autoCreateTopics: { type: boolean, description: 'Create a topic, with the topic defaults, when a client produces to or asks for one that does not exist.', kafkaName: 'auto.create.topics.enable' },
  retentionCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often retention and segment age are checked.', kafkaName: 'log.retention.check.interval.ms' },
  producerIdExpirationMs: { type: milliseconds(1), description: 'A partition forgets an idempotent producer after this long without an append from it; a retry after that may be written twice.', kafkaName: 'producer.id.expiration.ms' },
  producerIdExpirationCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often expired producer ids are removed.', kafkaName: 'producer.id.expiration.check.interval.ms' },
  producerStateSnapshotIntervalMs: { type: milliseconds(1, maxTimerMs), description: "How often partitions whose producer state or log changed write a producer state snapshot; after a crash, the log written since a partition's last snapshot is read again on start." },
  logLevel: { type: oneOf(['debug', 'info', 'warn', 'error']), description: 'Lowest level of the log lines written to stderr.' },
  minFreeDiskBytes: {
    type: bytes(0),
    description:
      "Free-space reserve of the data directory's file system, like RabbitMQ's disk alarm: while less is free, Produce is refused with KAFKA_STORAGE_ERROR (retriable; clients retry) so that offset commits, indexes and checkpoints still have room. A WARN line when the alarm is raised, an INFO line when it clears; gauge osprey_disk_alarm. 0 turns the check off.",
  },
  diskCheckIntervalMs: { type: milliseconds(10, maxTimerMs), description: 'How often free disk space is measured for minFreeDiskBytes (one statfs call), besides right after a failed write.' },
  logLinesPerMessage: { type: count(1), description: 'Lines one log message (the same text, whatever its fields) may write per logSuppressionWindowMs; further ones are counted and reported in one "similar lines suppressed" line.' },
  logSuppressionWindowMs: { type: milliseconds(1, maxTimerMs), description: 'The window of logLinesPerMessage.' },
  metadataJournalReserveBytes: {
    type: bytes(4096, 1024 * 1024 * 1024),
    description: 'Zeros kept allocated ahead of the records of the cluster metadata journal (<dataDir>/meta), so that topics can still be deleted, freeing space, when the disk is full; creating a topic needs the whole reserve free. About 100 bytes per deletion.',
  },
  metadataCompactionMinBytes: { type: bytes(1024), description: 'The cluster metadata journal is compacted into a new snapshot once it holds more than this many bytes of changes and more than the last snapshot.' },
  partitionOpenConcurrency: {
    type: count(1, 100_000),
    description: 'Partition logs opened (recovered) at once at start-up. The Kafka listener answers meanwhile; a partition still being recovered answers NOT_LEADER_OR_FOLLOWER, which clients retry.',
  },
  partitionCloseConcurrency: { type: count(1, 100_000), description: 'Partition logs flushed and closed at once at shutdown.' },
};

const topicDefaultSettings: Settings<TopicDefaults> = {
  numPartitions: { type: count(1, maxInt32), description: 'Partitions of an auto-created topic, or of CreateTopics asking for -1.', aliases: ['--num-partitions'], kafkaName: 'num.partitions' },
  segmentBytes: { type: bytes(14, maxInt32), description: 'Roll the active segment when it reaches this size.', kafkaName: 'segment.bytes' },
  segmentMs: { type: milliseconds(1), description: 'Roll the active segment when its first batch is this old.', kafkaName: 'segment.ms' },
  retentionMs: { type: milliseconds(-1), description: 'Delete segments whose newest record is older than this; -1 keeps them forever.', kafkaName: 'retention.ms' },
  retentionBytes: { type: bytes(-1), description: 'Delete the oldest segments while a partition is larger than this; -1 is unlimited.', kafkaName: 'retention.bytes' },
  maxMessageBytes: { type: bytes(0, maxInt32), description: 'Largest record batch accepted.', kafkaName: 'max.message.bytes' },
  messageTimestampType: { type: oneOf(['CreateTime', 'LogAppendTime']), description: "Which timestamp records keep: the producer's (CreateTime) or the broker's at append (LogAppendTime).", kafkaName: 'message.timestamp.type' },
  indexIntervalBytes: { type: bytes(0, maxInt32), description: 'Bytes of log between two offset-index entries.', kafkaName: 'index.interval.bytes' },
};

const limitSettings: Settings<ConnectionLimits> = {
  maxFrameBytes: { type: bytes(8, maxInt32), description: 'Largest request frame accepted once a connection is past authentication.', kafkaName: 'socket.request.max.bytes' },
  maxUnauthenticatedFrameBytes: {
    type: bytes(8, maxInt32),
    description: 'Largest request frame accepted from a connection until it has sent one well-formed request, as Kafka\'s sasl.server.max.receive.size before authentication. There is no SASL yet, so it applies to every new connection; a larger frame closes it.',
  },
  maxInFlightRequests: { type: count(1), description: 'Requests read but not yet answered, per connection; beyond it no further frame is handled or read until one is answered.' },
  maxInFlightBytes: { type: bytes(1), description: 'A connection\'s share of the request memory: bytes received and not yet answered, the frame being read included; reading pauses beyond it.' },
  maxQueuedRequestBytes: {
    type: bytes(1),
    description: 'Bytes of requests all connections together may hold, counted as they arrive (not when a size prefix announces them) and released when answered; a connection waits to read while they are spent. A single frame larger than this is read only when no other request is held.',
    kafkaName: 'queued.max.request.bytes',
  },
  maxConnections: { type: count(1), description: 'Open connections per broker; further ones are closed at once.', kafkaName: 'max.connections' },
  idleTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'A connection that sends nothing for this long is closed.', kafkaName: 'connections.max.idle.ms' },
  maxFetchWaitMs: { type: milliseconds(0, maxTimerMs), description: 'Longest a Fetch may wait for data, whatever the client asks.' },
  maxFetchResponseBytes: { type: bytes(1, maxInt32), description: 'Largest Fetch response, whatever the client asks.' },
  maxRequestArrayElements: { type: count(1), description: 'Array elements (topics, partitions, members...) one request may hold; a request with more closes its connection.' },
  maxPartitionsPerTopic: { type: count(1, maxInt32), description: 'Largest partition count of one topic.' },
  maxProducerIdsPerPartition: { type: count(1, maxInt32), description: 'Idempotent producer ids tracked per partition (about 0.5 KB each); beyond it the least recently active producer is forgotten, and its retries are no longer recognised.' },
  maxProducerIdsRemembered: { type: count(1, maxInt32), description: 'Producer ids whose current epoch InitProducerId remembers, so that a producer can bump its epoch (KIP-360); a forgotten one gets a new id instead.' },
  smallRequestBytes: { type: bytes(1, maxInt32), description: 'A frame up to this size counts as a small request (Metadata, heartbeats, ApiVersions, offset commits) and may use the small-request reserve of the request memory.' },
  smallRequestReserveBytes: { type: bytes(0), description: 'The top of limits.maxQueuedRequestBytes that only small requests may use: connections reading larger frames pause below it, so large requests never starve small ones.' },
  frameReceiveTimeoutMs: {
    type: milliseconds(1, maxTimerMs),
    description: 'A request frame must arrive whole within this long of its first byte, or the connection is closed and its memory freed (a client trickling a frame cannot hold memory). Time the broker itself holds off reading does not count.',
  },
  maxConnectionsPerAddress: { type: count(1), description: 'Open connections from one client IP address; further ones are closed at once.', kafkaName: 'max.connections.per.ip' },
  listenBacklog: { type: count(1, maxInt32), description: 'Connections the kernel queues for the Kafka listener before they are accepted (the kernel caps it at net.core.somaxconn). Too small a backlog makes a burst of connections wait for SYN retries.' },
  shutdownDrainTimeoutMs: { type: milliseconds(0, maxTimerMs), description: 'On shutdown, how long connections get for the requests they already sent to be answered (waiting fetches answer at once) before they are closed.' },
  maxTopics: { type: count(1, maxInt32), description: 'Topics this broker holds; CreateTopics and auto-creation beyond it are refused with POLICY_VIOLATION.' },
  maxPartitions: { type: count(1, maxInt32), description: 'Partitions this broker holds, all topics together; CreateTopics, CreatePartitions and auto-creation beyond it are refused with POLICY_VIOLATION.' },
  maxOpenSegmentFiles: {
    type: count(1, maxInt32),
    description: 'Segment files open at once, all partitions together; beyond it the least recently used idle files are closed and reopened when next read or written. Files in use or holding writes not yet fsynced stay open, so the count can pass it briefly.',
  },
  maxTailCacheBytes: { type: bytes(0), description: 'Bytes of recently appended batches all partitions keep in memory together for tail readers; beyond it the partitions written least recently drop their oldest cached batches (reads then go to the segment files).' },
  maxTailCacheBytesPerPartition: { type: bytes(0, maxInt32), description: 'Bytes of recently appended batches one partition keeps in memory for tail readers.' },
  maxDecompressedBytes: {
    type: bytes(1, maxInt32),
    description: 'Largest size a compressed batch may declare it decompresses to: Produce refuses a larger one with MESSAGE_TOO_LARGE (from its headers; records are not inflated). Timestamp lookups (ListOffsets) inflate no more than this.',
  },
  maxQueuedResponseBytes: {
    type: bytes(1),
    description:
      "A connection's queued output: responses encoded but not yet written to its socket, plus the socket's write buffer. A request starts only while it is under this, and a Fetch only while no other Fetch of the connection runs; later requests wait in arrival order, unread, until output is written. So a client that does not read holds at most this plus the responses of requests already started (one Fetch among them); gauge osprey_response_queue_bytes.",
  },
};

const groupSettings: Settings<GroupSettings> = {
  minSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'Shortest session timeout a group member may ask for; shorter joins get INVALID_SESSION_TIMEOUT.', kafkaName: 'group.min.session.timeout.ms' },
  maxSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'Longest session timeout a group member may ask for; longer joins get INVALID_SESSION_TIMEOUT.', kafkaName: 'group.max.session.timeout.ms' },
  initialRebalanceDelayMs: { type: milliseconds(0, maxTimerMs), description: 'How long the first rebalance of an empty group waits for more members to join (extended while members keep joining, up to the rebalance timeout).', kafkaName: 'group.initial.rebalance.delay.ms' },
  maxGroupSize: { type: count(1, maxInt32), description: 'Members (joined, or told to rejoin with their new member id) one classic group may have; more get GROUP_MAX_SIZE_REACHED.', kafkaName: 'group.max.size' },
  maxGroups: { type: count(1, maxInt32), description: 'Consumer groups this broker keeps; a new group beyond it is refused with COORDINATOR_NOT_AVAILABLE.' },
  maxGroupIdBytes: { type: bytes(1, 32_767), description: 'Longest group id, in UTF-8 bytes; longer ones get INVALID_GROUP_ID.' },
  maxProtocolsPerMember: { type: count(1, 10_000), description: 'Protocols (assignors) one JoinGroup may list; more get INCONSISTENT_GROUP_PROTOCOL.' },
  maxMemberMetadataBytes: { type: bytes(0, maxInt32), description: 'Bytes of protocol metadata (subscriptions) one JoinGroup may carry, all its protocols together; more get INCONSISTENT_GROUP_PROTOCOL.' },
  maxMetadataBytes: { type: bytes(0, 32_767), description: 'Longest metadata string of a committed offset; longer ones get OFFSET_METADATA_TOO_LARGE.', kafkaName: 'offset.metadata.max.bytes' },
  offsetsRetentionMs: { type: milliseconds(1), description: "Committed offsets of an empty group are deleted once the group has been empty this long and the offset is this old (Kafka's offsets.retention.minutes, in ms)." },
  offsetsRetentionCheckIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often expired committed offsets are looked for.', kafkaName: 'offsets.retention.check.interval.ms' },
  offsetsLogSegmentBytes: { type: bytes(1024, maxInt32), description: 'Segment size of the group offsets log (<dataDir>/__internal/group-offsets).', kafkaName: 'offsets.topic.segment.bytes' },
  offsetsLogCleanupBytes: { type: bytes(1024), description: 'When the group offsets log grows past this size, the live state (offsets and groups) is written anew and the segments before it are deleted.' },
  consumerSessionTimeoutMs: { type: milliseconds(1, maxTimerMs), description: 'A member of a KIP-848 consumer group (ConsumerGroupHeartbeat) not heard from for this long is removed and its partitions reassigned.', kafkaName: 'group.consumer.session.timeout.ms' },
  consumerHeartbeatIntervalMs: { type: milliseconds(1, maxTimerMs), description: 'How often members of KIP-848 consumer groups are told to heartbeat; they learn of new assignments at this pace. Keep it well below consumerSessionTimeoutMs.', kafkaName: 'group.consumer.heartbeat.interval.ms' },
  consumerMaxGroupSize: { type: count(1, maxInt32), description: 'Members one KIP-848 consumer group may have; more get GROUP_MAX_SIZE_REACHED.', kafkaName: 'group.consumer.max.size' },
  consumerMaxSubscribedTopics: { type: count(1, 1_000_000), description: 'Topic names one KIP-848 consumer group member may subscribe to; a longer list gets INVALID_REQUEST.' },
};

const sectionSettings: { readonly [Section in SectionName]: Settings<BrokerConfig[Section]> } = {
  topicDefaults: topicDefaultSettings,
  limits: limitSettings,
  groups: groupSettings,
};

/** One setting with all its names, as listed in help and docs. */
export interface ConfigOption {
  /** Dotted path in BrokerConfig: `kafkaPort`, `topicDefaults.numPartitions`. */
  readonly key: string;
  /** The YAML mapping holding it, or null at the top level. */
  readonly section: SectionName | null;
  /** Its YAML key inside that mapping. */
  readonly name: string;
  readonly flag: string;
  readonly aliases: readonly string[];
  readonly env: string;
  readonly kafkaName: string | null;
  readonly placeholder: string;
  readonly expected: string;
  readonly isBoolean: boolean;
  /** A text setting, so a YAML number or boolean given for it wants quotes. */
  readonly isText: boolean;
  readonly description: string;
  readonly defaultValue: string | number | boolean;
  parseText(text: string): unknown;
  parseYaml(value: unknown): unknown;
}

const kebab = (camel: string): string => camel.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
const envWord = (camel: string): string => kebab(camel).replace(/-/g, '_').toUpperCase();

function makeOption(section: SectionName | null, name: string, setting: Setting<unknown>): ConfigOption {
  const names = section === null ? [name] : [section, name];
  const defaults: Record<string, unknown> = section === null ? { ...defaultBrokerConfig } : { ...defaultBrokerConfig[section] };
  const defaultValue = defaults[name];
  if (typeof defaultValue !== 'string' && typeof defaultValue !== 'number' && typeof defaultValue !== 'boolean') {
    throw new Error(`config table: ${names.join('.')} has no scalar default`);
  }
  return {
    key: names.join('.'),
    section,
    name,
    flag: `--${names.map(kebab).join('.')}`,
    aliases: setting.aliases ?? [],
    env: `OSPREY_${names.map(envWord).join('_')}`,
    kafkaName: setting.kafkaName ?? null,
    placeholder: setting.type.placeholder,
    expected: setting.type.expected,
    isBoolean: setting.type.kind === 'boolean',
    isText: setting.type.kind === 'text',
    description: setting.description,
    defaultValue,
    parseText: (value) => setting.type.parseText(value),
    parseYaml: (value) => setting.type.parseYaml(value),
  };
}

function buildOptions(): readonly ConfigOption[] {
  const options: ConfigOption[] = [];
  for (const [name, setting] of Object.entries<Setting<unknown>>(topLevelSettings)) options.push(makeOption(null, name, setting));
  for (const section of sectionNames) {
    for (const [name, setting] of Object.entries<Setting<unknown>>(sectionSettings[section])) options.push(makeOption(section, name, setting));
  }
  return options;
}

/** Every setting, in help order: top-level keys, then topicDefaults, limits and groups. */
export const configOptions: readonly ConfigOption[] = buildOptions();

/** The flag and variable naming the YAML file; not settings themselves. */
export const configFileFlag = '--config';
export const configFileEnv = 'OSPREY_CONFIG';

/**
 * OSPREY_ variables that belong to other parts of Osprey, not to the broker: the broker neither
 * reads them nor warns about them. OSPREY_BROKERS is the client commands' bootstrap list
 * (src/cli/command-kit.ts); users export it in the same shell that starts a broker. The test fault
 * hook (src/server/kafka/fault-hook.ts) is read where it acts.
 */
const variablesOfOtherCommands: ReadonlySet<string> = new Set([
  'OSPREY_BROKERS',
  faultHookVariable,
  // A test hook read by src/broker/test-hooks.ts, not a setting.
  'OSPREY_TEST_HOLD_RECOVERY',
]);

const optionByFlag = new Map<string, ConfigOption>();
const optionByEnv = new Map<string, ConfigOption>();
/** Lowercase letters and digits only, `log.` dropped: matches kafka_port, kafka-port, num.partitions … */
const looseName = (name: string): string => name.toLowerCase().replace(/^(--|osprey_)/, '').replace(/^(log\.|topic_defaults_|limits_|groups_)/, '').replace(/[^a-z0-9]/g, '');
const optionByLooseName = new Map<string, ConfigOption>();

for (const option of configOptions) {
  for (const flag of [option.flag, ...option.aliases]) {
    if (optionByFlag.has(flag) || flag === configFileFlag) throw new Error(`config table: flag ${flag} is used twice`);
    optionByFlag.set(flag, option);
  }
  if (optionByEnv.has(option.env) || option.env === configFileEnv) throw new Error(`config table: ${option.env} is used twice`);
  optionByEnv.set(option.env, option);
  for (const name of [option.name, option.kafkaName]) {
    if (name === null) continue;
    const loose = looseName(name);
    const holder = optionByLooseName.get(loose);
    if (holder !== undefined && holder !== option) throw new Error(`config table: ${option.key} and ${holder.key} look alike`);
    optionByLooseName.set(loose, option);
  }
}

// ---------------------------------------------------------------------------------------------
// Layers. Each yields values already checked, with a label saying where each came from.

interface Assignment {
  readonly option: ConfigOption;
  readonly value: unknown;
  /** Where it came from: `--kafka-port`, `OSPREY_KAFKA_PORT`, `osprey.yaml:3`. */
  readonly source: string;
}

interface Layer {
  readonly assignments: Assignment[];
  readonly problems: string[];
}

function describeText(value: string): string {
  return `'${value}'`;
}

function describeYaml(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  return `${String(value)} (a ${typeof value})`;
}

function assignText(layer: Layer, option: ConfigOption, value: string, source: string): void {
  const parsed = option.parseText(value);
  if (parsed === undefined) layer.problems.push(`${source}: expected ${option.expected}, got ${describeText(value)}`);
  else layer.assignments.push({ option, value: parsed, source });
}

/** What a command line said, besides the settings. */
export interface ParsedFlags extends Layer {
  readonly help: boolean;
  /** The --config value and the flag as typed, when given. */
  readonly configFile: { readonly path: string; readonly source: string } | undefined;
}

/** Edits (insert, delete, replace) turning one word into the other. */
function editDistance(from: string, to: string): number {
  let previousRow = Array.from({ length: to.length + 1 }, (_, index) => index);
  for (let i = 1; i <= from.length; i++) {
    const row = [i];
    for (let j = 1; j <= to.length; j++) {
      const replace = (previousRow[j - 1] ?? 0) + (from[i - 1] === to[j - 1] ? 0 : 1);
      row.push(Math.min(replace, (previousRow[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1));
    }
    previousRow = row;
  }
  return previousRow[to.length] ?? 0;
}

function suggestFlag(typed: string): string {
  const loose = optionByLooseName.get(looseName(typed));
  if (loose !== undefined) return ` (did you mean ${loose.flag}?)`;
  const bare = typed.replace(/^-+/, '');
  const tail = configOptions.find((option) => bare.length > 2 && (option.flag.endsWith(`-${bare}`) || option.flag.endsWith(`.${bare}`)));
  if (tail !== undefined) return ` (did you mean ${tail.flag}?)`;
  const flags = [...optionByFlag.keys(), configFileFlag, '--help'];
  const typo = flags.find((flag) => editDistance(typed, flag) <= Math.min(2, Math.floor(typed.length / 4)));
  return typo === undefined ? '' : ` (did you mean ${typo}?)`;
}

/**
 * Reads `osprey broker` flags with node's parseArgs in its lenient mode, so every mistake gets our
 * own message: unknown flags (with a suggestion), missing values, stray arguments.
 */
export function parseBrokerFlags(argv: readonly string[]): ParsedFlags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [flag, option] of optionByFlag) options[flag.slice(2)] = { type: option.isBoolean ? 'boolean' : 'string' };
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });

  const layer: Layer = { assignments: [], problems: [] };
  let help = false;
  let configFile: ParsedFlags['configFile'];
  let previous: (typeof tokens)[number] | undefined;
  let previousWasUnknown = false;
  for (const token of tokens) {
    const before = previous;
    const afterUnknown = previousWasUnknown;
    previous = token;
    previousWasUnknown = false;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (afterUnknown) continue; // most likely the value of the unknown flag reported just before
      const flagBefore = before?.kind === 'option' ? optionByFlag.get(before.rawName) : undefined;
      const hint = flagBefore?.isBoolean === true && before?.kind === 'option' ? ` (write ${before.rawName}=${token.value})` : '';
      layer.problems.push(`unexpected argument '${token.value}'${hint}`);
      continue;
    }
    if (afterUnknown && /^-[0-9]/.test(token.rawName)) continue; // a negative number given to the unknown flag
    if (token.rawName === '--help' || token.rawName === '-h') {
      help = true;
      continue;
    }
    const value = token.value;
    const looksLikeFlag = value !== undefined && token.inlineValue === false && value.startsWith('--');
    if (token.rawName === configFileFlag) {
      if (value === undefined || value === '' || looksLikeFlag) layer.problems.push(`${configFileFlag}: expected a file name`);
      else configFile = { path: value, source: configFileFlag };
      continue;
    }
    const negated = token.rawName.startsWith('--no-') ? optionByFlag.get(`--${token.rawName.slice(5)}`) : undefined;
    if (negated?.isBoolean === true && value === undefined) {
      layer.assignments.push({ option: negated, value: false, source: token.rawName });
      continue;
    }
    const option = optionByFlag.get(token.rawName);
    if (option === undefined) {
      previousWasUnknown = value === undefined;
      layer.problems.push(`unknown flag ${token.rawName}${suggestFlag(token.rawName)}; see osprey broker --help`);
      continue;
    }
    if (option.isBoolean && value === undefined) {
      layer.assignments.push({ option, value: true, source: token.rawName });
      continue;
    }
    if (value === undefined || looksLikeFlag) {
      layer.problems.push(`${token.rawName}: expected a value (${option.expected})${looksLikeFlag ? `, got the flag ${value}` : ''}`);
      continue;
    }
    assignText(layer, option, value, token.rawName);
  }
  return { ...layer, help, configFile };
}

function environmentLayer(env: Readonly<Record<string, string | undefined>>, warnings: string[]): Layer {
  const layer: Layer = { assignments: [], problems: [] };
  for (const option of configOptions) {
    const value = env[option.env];
    if (value === undefined || value === '') continue;
    assignText(layer, option, value, option.env);
  }
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('OSPREY_') || optionByEnv.has(name) || name === configFileEnv || variablesOfOtherCommands.has(name)) continue;
    const near = optionByLooseName.get(looseName(name));
    warnings.push(`${name} is not an Osprey setting and is ignored${near === undefined ? '' : ` (did you mean ${near.env}?)`}`);
  }
  return layer;
}

/** Where a YAML key that is not ours probably belongs. */
function suggestYamlKey(key: string, section: SectionName | null): string {
  const near = optionByLooseName.get(looseName(key));
  if (near === undefined) return '';
  const kafka = near.kafkaName !== null && looseName(near.kafkaName) === looseName(key) && key.includes('.') ? ` (Kafka's ${near.kafkaName}; keys here are camelCase)` : '';
  if (near.section === section) return `; did you mean '${near.name}'${kafka}?`;
  const place = near.section === null ? 'at the top level' : `under '${near.section}:'`;
  return `; did you mean '${near.name}' ${place}${kafka}?`;
}

function yamlFileLayer(file: string, source: string, cwd: string): Layer {
  const layer: Layer = { assignments: [], problems: [] };
  let contents: string;
  try {
    contents = readFileSync(resolvePath(cwd, file), 'utf8');
  } catch (error) {
    layer.problems.push(`${source} ${file}: cannot read the config file: ${describeReadError(error)}`);
    return layer;
  }
  const lines = new LineCounter();
  const document = parseDocument(contents, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined): string => (offset === undefined ? file : `${file}:${lines.linePos(offset).line}`);
  if (document.errors.length > 0) {
    for (const error of document.errors) layer.problems.push(`${where(error.pos[0])}: invalid YAML: ${error.message}`);
    return layer;
  }
  const walker = new YamlWalker(document, where, layer);
  walker.readMapping(document.contents, null);
  return layer;
}

class YamlWalker {
  constructor(
    private readonly document: Document,
    private readonly where: (offset: number | undefined) => string,
    private readonly layer: Layer,
  ) {}

  readMapping(node: unknown, section: SectionName | null): void {
    const resolved = this.resolve(node);
    if (resolved === null || (isScalar(resolved) && resolved.value === null)) return; // empty file or empty section
    if (!isMap(resolved)) {
      const what = section === null ? 'the top level' : `'${section}'`;
      this.layer.problems.push(`${this.where(resolved.range?.[0])}: expected a mapping of settings at ${what}, got ${this.kindOf(resolved)}`);
      return;
    }
    for (const pair of resolved.items) {
      const keyNode = this.resolve(pair.key);
      const at = this.where(keyNode?.range?.[0]);
      if (!isScalar(keyNode)) {
        this.layer.problems.push(`${at}: keys must be plain names`);
        continue;
      }
      this.readEntry(String(keyNode.value), pair.value, section, at);
    }
  }

  private readEntry(key: string, valueNode: unknown, section: SectionName | null, at: string): void {
    const path = section === null ? key : `${section}.${key}`;
    if (section === null && (sectionNames as readonly string[]).includes(key)) {
      this.readMapping(valueNode, key as SectionName);
      return;
    }
    const option = configOptions.find((candidate) => candidate.section === section && candidate.name === key);
    if (option === undefined) {
      this.layer.problems.push(`${at}: unknown key '${path}'${suggestYamlKey(key, section)}`);
      return;
    }
    const resolved = this.resolve(valueNode);
    const value = resolved === null ? null : isScalar(resolved) ? resolved.value : resolved.toJSON();
    const parsed = option.parseYaml(value);
    if (parsed === undefined) {
      const quoteHint = option.isText && (typeof value === 'number' || typeof value === 'boolean') ? '; put it in quotes' : '';
      this.layer.problems.push(`${at}: ${path}: expected ${option.expected}, got ${describeYaml(value)}${quoteHint}`);
      return;
    }
    this.layer.assignments.push({ option, value: parsed, source: at });
  }

  private resolve(node: unknown): YamlNode | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return this.resolve(node.resolve(this.document));
    if (isScalar(node) || isMap(node) || isSeq(node)) return node;
    return null;
  }

  private kindOf(node: YamlNode): string {
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) return describeYaml(node.value);
    return 'something else';
  }
}

function describeReadError(error: unknown): string {
  const code = error instanceof Error && 'code' in error ? String(error.code) : undefined;
  const reasons: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };
  if (code === undefined) return error instanceof Error ? error.message : String(error);
  return reasons[code] === undefined ? code : `${reasons[code]} (${code})`;
}

// ---------------------------------------------------------------------------------------------
// Putting the layers together.

export interface ConfigInputs {
  /** Flags after `osprey broker`. */
  readonly argv: readonly string[];
  /** Usually process.env. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative dataDir and config file paths resolve against this; process.cwd() by default. */
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: BrokerConfig;
  /** For each key set by something other than the defaults: where it came from. */
  readonly sources: ReadonlyMap<string, string>;
  readonly configFile: string | null;
  /** Things worth a log line that do not stop the broker. */
  readonly warnings: readonly string[];
  /** --help was given: show help, ignore everything else. */
  readonly help: boolean;
}

function cloneDefaults(): BrokerConfig {
  return { ...defaultBrokerConfig, topicDefaults: { ...defaultBrokerConfig.topicDefaults }, limits: { ...defaultBrokerConfig.limits }, groups: { ...defaultBrokerConfig.groups } };
}

function apply(config: BrokerConfig, assignment: Assignment): void {
  const { option, value } = assignment;
  const target: Record<string, unknown> = option.section === null ? (config as unknown as Record<string, unknown>) : (config[option.section] as unknown as Record<string, unknown>);
  target[option.name] = value;
}

function crossChecks(config: BrokerConfig, sourceOf: (key: string) => string, problems: string[], warnings: string[]): void {
  const { numPartitions } = config.topicDefaults;
  const { maxPartitionsPerTopic } = config.limits;
  if (numPartitions > maxPartitionsPerTopic) {
    problems.push(
      `topicDefaults.numPartitions ${numPartitions} (from ${sourceOf('topicDefaults.numPartitions')}) exceeds ` +
        `limits.maxPartitionsPerTopic ${maxPartitionsPerTopic} (from ${sourceOf('limits.maxPartitionsPerTopic')})`,
    );
  }
  const { minSessionTimeoutMs, maxSessionTimeoutMs, consumerSessionTimeoutMs, consumerHeartbeatIntervalMs } = config.groups;
  if (consumerHeartbeatIntervalMs >= consumerSessionTimeoutMs) {
    problems.push(
      `groups.consumerHeartbeatIntervalMs ${consumerHeartbeatIntervalMs} (from ${sourceOf('groups.consumerHeartbeatIntervalMs')}) must be below ` +
        `groups.consumerSessionTimeoutMs ${consumerSessionTimeoutMs} (from ${sourceOf('groups.consumerSessionTimeoutMs')})`,
    );
  }
  if (minSessionTimeoutMs > maxSessionTimeoutMs) {
    problems.push(
      `groups.minSessionTimeoutMs ${minSessionTimeoutMs} (from ${sourceOf('groups.minSessionTimeoutMs')}) exceeds ` +
        `groups.maxSessionTimeoutMs ${maxSessionTimeoutMs} (from ${sourceOf('groups.maxSessionTimeoutMs')})`,
    );
  }
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  if (wildcard && config.advertisedHost === '') {
    warnings.push(`host ${config.host} listens on every interface, but clients would be told to connect to ${config.host}; set --advertised-host`);
  }
}

/**
 * The broker configuration from defaults, the YAML file, the environment and flags, in that order.
 * Throws ConfigError listing every problem found, each naming its source.
 */
export function loadBrokerConfig(inputs: ConfigInputs): LoadedConfig {
  const cwd = inputs.cwd ?? process.cwd();
  const warnings: string[] = [];
  const flags = parseBrokerFlags(inputs.argv);
  if (flags.help) return { config: cloneDefaults(), sources: new Map(), configFile: null, warnings, help: true };

  const fileFromEnv = inputs.env[configFileEnv];
  const fileSetting = flags.configFile ?? (fileFromEnv === undefined || fileFromEnv === '' ? undefined : { path: fileFromEnv, source: configFileEnv });
  const layers: Layer[] = [];
  if (fileSetting !== undefined) layers.push(yamlFileLayer(fileSetting.path, fileSetting.source, cwd));
  layers.push(environmentLayer(inputs.env, warnings), flags);

  const config = cloneDefaults();
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const layer of layers) {
    problems.push(...layer.problems);
    for (const assignment of layer.assignments) {
      apply(config, assignment);
      sources.set(assignment.option.key, assignment.source);
    }
  }
  crossChecks(config, (key) => sources.get(key) ?? 'default', problems, warnings);
  if (problems.length > 0) throw new ConfigError(problems);

  config.dataDir = resolvePath(cwd, config.dataDir);
  return { config, sources, configFile: fileSetting === undefined ? null : resolvePath(cwd, fileSetting.path), warnings, help: false };
}

// ---------------------------------------------------------------------------------------------
// Presenting the table: help text and the configuration reference.

const units: ReadonlyArray<readonly [number, string]> = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
const durations: ReadonlyArray<readonly [number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']];

/** A default as shown to people: `1073741824 (1 GiB)`, `604800000 (7 d)`, `''`. */
export function formatDefault(option: ConfigOption): string {
  const value = option.defaultValue;
  if (value === '') return "''";
  if (typeof value !== 'number' || value <= 0) return String(value);
  const scale = option.placeholder === 'BYTES' ? units : option.placeholder === 'MS' ? durations : [];
  const unit = scale.find(([size]) => value % size === 0 && value >= size);
  return unit === undefined ? String(value) : `${value} (${value / unit[0]} ${unit[1]})`;
}

/** The flag as written in help: `--kafka-port PORT`, `--auto-create-topics[=true|false]`. */
export function flagUsage(option: ConfigOption): string {
  return option.isBoolean ? `${option.flag}[=true|false]` : `${option.flag} ${option.placeholder}`;
}

const sectionTitles: Record<SectionName | 'broker', string> = {
  broker: 'Broker',
  topicDefaults: 'Topic defaults (YAML mapping `topicDefaults`)',
  limits: 'Limits (YAML mapping `limits`)',
  groups: 'Consumer groups and committed offsets (YAML mapping `groups`)',
};

/** The settings table of docs/configuration.md; a test checks the document holds exactly this. */
export function configurationReferenceMarkdown(): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines: string[] = [];
  for (const section of ['broker', ...sectionNames] as const) {
    lines.push(`### ${sectionTitles[section]}`, '', '| YAML key | Flag | Environment variable | Default | Meaning |', '|---|---|---|---|---|');
    for (const option of configOptions.filter((candidate) => (candidate.section ?? 'broker') === section)) {
      const flags = [option.flag, ...option.aliases].map((flag) => `\`${flag}\``).join(', ');
      const kafka = option.kafkaName === null ? '' : ` Kafka: \`${option.kafkaName}\`.`;
      const meaning = `${option.description}${kafka} Accepts ${option.expected}.`;
      lines.push(`| \`${option.key}\` | ${flags} | \`${option.env}\` | \`${formatDefault(option)}\` | ${escape(meaning)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The flag section of `osprey broker --help`. */
export function flagsHelpText(): string {
  const lines: string[] = [
    'Config file:',
    `  ${configFileFlag} FILE`,
    '      YAML file of settings (camelCase keys, sections topicDefaults:, limits: and groups:).',
    `      env ${configFileEnv} · default none`,
  ];
  for (const section of ['broker', ...sectionNames] as const) {
    const note = section === 'broker' ? '' : section === 'topicDefaults' ? '; Kafka topic config names in brackets' : '';
    lines.push('', `${sectionTitles[section].replace(/`/g, '').replace(/\)$/, `${note})`)}:`);
    for (const option of configOptions.filter((candidate) => (candidate.section ?? 'broker') === section)) {
      const aliases = option.aliases.length === 0 ? '' : `  (alias ${option.aliases.join(', ')})`;
      const negation = option.isBoolean ? `, --no-${option.flag.slice(2)}` : '';
      const kafka = option.kafkaName === null ? '' : ` [${option.kafkaName}]`;
      lines.push(
        `  ${flagUsage(option)}${negation}${aliases}`,
        ...wrap(`${option.description}${kafka}`, 94).map((line) => `      ${line}`),
        `      env ${option.env} · default ${formatDefault(option)}`,
      );
    }
  }
  return lines.join('\n');
}

function wrap(paragraph: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
