/**
 * Configs as DescribeConfigs and CreateTopics describe them: the broker settings a client may read,
 * under Kafka's broker config names, and each topic config with where its value comes from and its
 * synonyms (Kafka's order: the most specific first).
 *
 *   topic config       broker setting it defaults to     synonyms of an overridden topic config
 *   retention.ms   ←   log.retention.ms                  [retention.ms (topic), log.retention.ms
 *   segment.ms     ←   log.roll.ms                        (static broker, when set in the config),
 *   …                                                     log.retention.ms (default)]
 *
 * A broker setting counts as set by the operator (STATIC_BROKER_CONFIG) when it differs from the
 * built-in default, and is DEFAULT_CONFIG otherwise: the loaded config does not say which file or
 * flag a value came from. Broker settings are read-only at run time.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import { defaultBrokerConfig } from '../config/broker-config.js';
import { ConfigSource, ConfigType, describeTopicConfigs, topicConfigKey } from './topic-config.js';

type ConfigTypeValue = (typeof ConfigType)[keyof typeof ConfigType];

export interface ConfigSynonym {
  readonly name: string;
  readonly value: string;
  readonly source: number;
}

export interface ConfigDescription {
  readonly name: string;
  readonly value: string;
  readonly source: number;
  readonly type: ConfigTypeValue;
  readonly readOnly: boolean;
  readonly documentation: string;
  /** Where the value could come from, most specific first (the entry itself included). */
  readonly synonyms: readonly ConfigSynonym[];
}

interface BrokerSetting {
  /** Kafka's broker config name. */
  readonly name: string;
  readonly type: ConfigTypeValue;
  readonly documentation: string;
  /** The topic config this setting is the default of, if any. */
  readonly topicConfig: string | null;
  value(config: BrokerConfig): string;
}

const brokerSettings: readonly BrokerSetting[] = [
  {
    name: 'num.partitions',
    type: ConfigType.int,
    documentation: 'partitions of an auto-created topic, or of CreateTopics asking for -1',
    topicConfig: null,
    value: (config) => String(config.topicDefaults.numPartitions),
  },
  {
    name: 'auto.create.topics.enable',
    type: ConfigType.boolean,
    documentation: 'create a topic with the defaults when a client produces to or asks for one that does not exist',
    topicConfig: null,
    value: (config) => String(config.autoCreateTopics),
  },
  {
    name: 'log.retention.ms',
    type: ConfigType.long,
    documentation: 'default retention.ms of topics',
    topicConfig: 'retention.ms',
    value: (config) => String(config.topicDefaults.retentionMs),
  },
  {
    name: 'log.retention.bytes',
    type: ConfigType.long,
    documentation: 'default retention.bytes of topics',
    topicConfig: 'retention.bytes',
    value: (config) => String(config.topicDefaults.retentionBytes),
  },
  {
    name: 'log.segment.bytes',
    type: ConfigType.int,
    documentation: 'default segment.bytes of topics',
    topicConfig: 'segment.bytes',
    value: (config) => String(config.topicDefaults.segmentBytes),
  },
  {
    name: 'log.roll.ms',
    type: ConfigType.long,
    documentation: 'default segment.ms of topics',
    topicConfig: 'segment.ms',
    value: (config) => String(config.topicDefaults.segmentMs),
  },
  {
    name: 'message.max.bytes',
    type: ConfigType.int,
    documentation: 'default max.message.bytes of topics',
    topicConfig: 'max.message.bytes',
    value: (config) => String(config.topicDefaults.maxMessageBytes),
  },
  {
    name: 'log.message.timestamp.type',
    type: ConfigType.string,
    documentation: 'default message.timestamp.type of topics',
    topicConfig: 'message.timestamp.type',
    value: (config) => config.topicDefaults.messageTimestampType,
  },
  {
    name: 'log.index.interval.bytes',
    type: ConfigType.int,
    documentation: 'default index.interval.bytes of topics',
    topicConfig: 'index.interval.bytes',
    value: (config) => String(config.topicDefaults.indexIntervalBytes),
  },
];

const settingByTopicConfig = new Map(brokerSettings.flatMap((setting) => (setting.topicConfig === null ? [] : [[setting.topicConfig, setting] as const])));

function brokerSettingSource(setting: BrokerSetting, config: BrokerConfig): number {
  return setting.value(config) === setting.value(defaultBrokerConfig) ? ConfigSource.default : ConfigSource.staticBroker;
}

/** The broker setting's own synonyms: as configured, then the built-in default when they differ. */
function brokerSettingSynonyms(setting: BrokerSetting, config: BrokerConfig): ConfigSynonym[] {
  const value = setting.value(config);
  const builtIn = setting.value(defaultBrokerConfig);
  const synonyms: ConfigSynonym[] = [];
  if (value !== builtIn) synonyms.push({ name: setting.name, value, source: ConfigSource.staticBroker });
  synonyms.push({ name: setting.name, value: builtIn, source: ConfigSource.default });
  return synonyms;
}

/** The broker settings clients may read (DescribeConfigs on the broker resource). */
export function describeBrokerSettings(config: BrokerConfig): ConfigDescription[] {
  return brokerSettings.map((setting) => ({
    name: setting.name,
    value: setting.value(config),
    source: brokerSettingSource(setting, config),
    type: setting.type,
    readOnly: true,
    documentation: setting.documentation,
    synonyms: brokerSettingSynonyms(setting, config),
  }));
}

/** Every topic config with its effective value, for a topic with these overrides. */
export function describeTopicConfigEntries(overrides: ReadonlyMap<string, string>, config: BrokerConfig): ConfigDescription[] {
  return describeTopicConfigs(overrides, config.topicDefaults).map((described) => {
    const setting = settingByTopicConfig.get(described.name);
    const topicSynonyms: ConfigSynonym[] = described.source === ConfigSource.topic ? [{ name: described.name, value: described.value, source: ConfigSource.topic }] : [];
    const builtIn = topicConfigKey(described.name)?.defaultValue(config.topicDefaults) ?? described.value;
    const brokerSynonyms = setting === undefined ? [{ name: described.name, value: builtIn, source: ConfigSource.default }] : brokerSettingSynonyms(setting, config);
    const inheritedSource = setting === undefined ? described.source : brokerSettingSource(setting, config);
    return {
      name: described.name,
      value: described.value,
      source: described.source === ConfigSource.topic ? ConfigSource.topic : inheritedSource,
      type: described.type as ConfigTypeValue,
      readOnly: false,
      documentation: described.documentation,
      synonyms: [...topicSynonyms, ...brokerSynonyms],
    };
  });
}
