/**
 * The broker configs a client may read (DescribeConfigs on the broker resource) under Kafka's
 * names, and which of them may change at run time (IncrementalAlterConfigs and AlterConfigs on the
 * broker resource), as Kafka's DynamicLogConfig allows: the broker-level default of every topic
 * config (log.retention.ms, log.segment.bytes, log.cleanup.policy, message.max.bytes,
 * compression.type, log.message.timestamp.*, log.cleaner.delete.retention.ms, …), and the log
 * cleaner's own (log.cleaner.threads, …: accepted, no effect here). The rest (num.partitions,
 * auto.create.topics.enable, replica.lag.time.max.ms, group.consumer.*) is set in the config file only.
 *
 * Dynamic values live in the cluster metadata (metadata-store.ts) at two levels, as in Kafka:
 *
 *   resource name '<node id>'  per broker          ConfigSource DYNAMIC_BROKER_CONFIG (2)
 *   resource name ''           cluster-wide        ConfigSource DYNAMIC_DEFAULT_BROKER_CONFIG (3)
 *
 * and a per-broker value wins over a cluster-wide one, which wins over the config file. In a
 * cluster the cluster-wide level lives in etcd instead (/osprey/configs/broker:, cluster/keys.ts),
 * where every broker follows it; a broker's own level stays with that broker.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import { ConfigType, decimalIn, integerIn, longMaxValue, noEffect, topicConfigKeys } from './topic-config.js';
import type { ConfigTypeValue } from './topic-config.js';

export interface BrokerSetting {
  /** Kafka's broker config name. */
  readonly name: string;
  readonly type: ConfigTypeValue;
  readonly documentation: string;
  /** The topic config this setting is the default of, if any. */
  readonly topicConfig: string | null;
  /** Whether it may change at run time (Kafka's dynamic broker configs). */
  readonly dynamic: boolean;
  /** Its value from the config file (or the built-in default). */
  value(config: BrokerConfig): string;
  /** An error message when a dynamic value is not acceptable. */
  validate(value: string): string | null;
}

/** The validator of settings that are not dynamic: never asked, dynamicBrokerConfigProblem refuses them first. */
const notDynamic = (): string => 'set in the config file only';

/** Settings that are not topic defaults; read-only at run time, as in Kafka. */
const staticSettings: readonly BrokerSetting[] = [
  {
    name: 'num.partitions',
    type: ConfigType.int,
    documentation: 'partitions of an auto-created topic, or of CreateTopics asking for -1',
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.topicDefaults.numPartitions),
    validate: notDynamic,
  },
  {
    name: 'auto.create.topics.enable',
    type: ConfigType.boolean,
    documentation: 'create a topic with the defaults when a client produces to or asks for one that does not exist',
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.autoCreateTopics),
    validate: notDynamic,
  },
  {
    name: 'replica.lag.time.max.ms',
    type: ConfigType.long,
    documentation: 'in a cluster, an in-sync follower that has not caught up with its leader for this long leaves the ISR',
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.replicaLagTimeMaxMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.session.timeout.ms',
    type: ConfigType.int,
    documentation: "default consumer.session.timeout.ms of KIP-848 consumer groups (groups.consumerSessionTimeoutMs)",
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerSessionTimeoutMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.heartbeat.interval.ms',
    type: ConfigType.int,
    documentation: 'default consumer.heartbeat.interval.ms of KIP-848 consumer groups (groups.consumerHeartbeatIntervalMs)',
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerHeartbeatIntervalMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.min.session.timeout.ms',
    type: ConfigType.int,
    documentation: "shortest consumer.session.timeout.ms a group's own config may set",
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerMinSessionTimeoutMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.max.session.timeout.ms',
    type: ConfigType.int,
    documentation: "longest consumer.session.timeout.ms a group's own config may set",
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerMaxSessionTimeoutMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.min.heartbeat.interval.ms',
    type: ConfigType.int,
    documentation: "shortest consumer.heartbeat.interval.ms a group's own config may set",
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerMinHeartbeatIntervalMs),
    validate: notDynamic,
  },
  {
    name: 'group.consumer.max.heartbeat.interval.ms',
    type: ConfigType.int,
    documentation: "longest consumer.heartbeat.interval.ms a group's own config may set",
    topicConfig: null,
    dynamic: false,
    value: (config) => String(config.groups.consumerMaxHeartbeatIntervalMs),
    validate: notDynamic,
  },
];

/** The broker-level default of each topic config that has one: dynamic, as Kafka's DynamicLogConfig. */
const topicDefaultSettings: readonly BrokerSetting[] = topicConfigKeys().flatMap((key) =>
  key.brokerName === null
    ? []
    : [
        {
          name: key.brokerName,
          type: key.type,
          documentation: `default ${key.name} of topics: ${key.documentation}`,
          topicConfig: key.name,
          dynamic: true,
          value: (config: BrokerConfig) => key.defaultValue(config.topicDefaults),
          validate: (value: string) => key.validate(value),
        },
      ],
);

/** A dynamic broker config this broker accepts without acting on it. */
function accepted(name: string, type: BrokerSetting['type'], builtIn: string, validate: (value: string) => string | null, documentation: string): BrokerSetting {
  return { name, type, documentation: `${documentation}. ${noEffect}`, topicConfig: null, dynamic: true, value: () => builtIn, validate };
}

/**
 * The log cleaner's own dynamic configs in Kafka (LogCleaner's reconfigurable set), accepted with
 * Kafka's defaults and validation so that tools that set them work.
 */
const cleanerSettings: readonly BrokerSetting[] = [
  accepted('log.cleaner.threads', ConfigType.int, '1', integerIn(0, 2 ** 31 - 1), 'background threads of the log cleaner'),
  accepted('log.cleaner.io.max.bytes.per.second', ConfigType.double, '1.7976931348623157E308', decimalIn(-Number.MAX_VALUE, Number.MAX_VALUE), 'throttle of the log cleaner\'s reads and writes'),
  accepted('log.cleaner.dedupe.buffer.size', ConfigType.long, String(128 * 1024 * 1024), integerIn(BigInt('-' + longMaxValue) - 1n), 'memory for deduplication, all cleaner threads together'),
  accepted('log.cleaner.io.buffer.size', ConfigType.int, String(512 * 1024), integerIn(0, 2 ** 31 - 1), 'memory for the log cleaner\'s I/O buffers'),
  accepted('log.cleaner.io.buffer.load.factor', ConfigType.double, '0.9', decimalIn(-Number.MAX_VALUE, Number.MAX_VALUE), 'how full the deduplication buffer may become'),
  accepted('log.cleaner.backoff.ms', ConfigType.long, '15000', integerIn(0), 'sleep of the log cleaner when no log needs cleaning'),
];

const settings: readonly BrokerSetting[] = [...staticSettings, ...topicDefaultSettings, ...cleanerSettings];
const settingsByName = new Map(settings.map((setting) => [setting.name, setting]));

export function brokerSettings(): readonly BrokerSetting[] {
  return settings;
}

export function brokerSetting(name: string): BrokerSetting | undefined {
  return settingsByName.get(name);
}

/**
 * Why a dynamic broker config change is refused, or null. Kafka answers every such refusal
 * INVALID_REQUEST (its "Cannot update these configs dynamically" among them).
 */
export function dynamicBrokerConfigProblem(name: string, value: string | null): string | null {
  const setting = settingsByName.get(name);
  if (setting === undefined) return `unknown broker config '${name}' (the configs that may change at run time are the log.* topic defaults; see docs/configuration.md)`;
  if (!setting.dynamic) return `Cannot update these configs dynamically: [${name}] (set it in the config file)`;
  if (value === null) return null;
  const problem = setting.validate(value);
  return problem === null ? null : `${name}: ${problem}`;
}

/** Which dynamic level a broker resource name means: this broker's own configs, or the cluster-wide defaults. */
export type BrokerConfigLevel = 'broker' | 'clusterDefault';

/** The dynamic broker configs in force, at both levels. */
export class DynamicBrokerConfigs {
  /** topicValues(), kept until the next replace(): every topic's effective config asks for it. */
  private topicValuesCache: ReadonlyMap<string, string> | null = null;

  constructor(
    private perBroker: ReadonlyMap<string, string>,
    private clusterDefault: ReadonlyMap<string, string>,
  ) {}

  values(level: BrokerConfigLevel): ReadonlyMap<string, string> {
    return level === 'broker' ? this.perBroker : this.clusterDefault;
  }

  replace(level: BrokerConfigLevel, values: ReadonlyMap<string, string>): void {
    if (level === 'broker') this.perBroker = values;
    else this.clusterDefault = values;
    this.topicValuesCache = null;
  }

  /** Dynamic values by the topic config they default: per-broker over cluster-wide. */
  topicValues(): ReadonlyMap<string, string> {
    if (this.topicValuesCache !== null) return this.topicValuesCache;
    const values = new Map<string, string>();
    for (const level of [this.clusterDefault, this.perBroker]) {
      for (const [name, value] of level) {
        const topicConfig = settingsByName.get(name)?.topicConfig;
        if (topicConfig !== undefined && topicConfig !== null) values.set(topicConfig, value);
      }
    }
    this.topicValuesCache = values;
    return values;
  }
}
