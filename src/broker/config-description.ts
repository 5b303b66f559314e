/**
 * Configs as DescribeConfigs and CreateTopics describe them: the broker settings a client may read,
 * under Kafka's broker config names (broker-settings.ts), each topic config with where its value
 * comes from, each group config, and their synonyms in Kafka's order (the most specific first):
 *
 *   topic config       broker setting it defaults to     synonyms of retention.ms, all levels set:
 *   retention.ms   ←   log.retention.ms                  [retention.ms             1 DYNAMIC_TOPIC_CONFIG,
 *   segment.ms     ←   log.roll.ms                        log.retention.ms         2 DYNAMIC_BROKER_CONFIG,
 *   …                                                     log.retention.ms         3 DYNAMIC_DEFAULT_BROKER_CONFIG,
 *                                                         log.retention.ms         4 STATIC_BROKER_CONFIG,
 *                                                         log.retention.ms         5 DEFAULT_CONFIG]
 *
 * A level that is not set is left out; the value and source are the first synonym's. A broker
 * setting counts as set by the operator (STATIC_BROKER_CONFIG) when it differs from the built-in
 * default, and is DEFAULT_CONFIG otherwise: the loaded config does not say which file or flag a
 * value came from.
 */
import type { BrokerConfig } from '../config/broker-config.js';
import { defaultBrokerConfig } from '../config/broker-config.js';
import { brokerSetting, brokerSettings } from './broker-settings.js';
import type { BrokerSetting, DynamicBrokerConfigs } from './broker-settings.js';
import { groupConfigKeys } from './group-config.js';
import { ConfigSource, topicConfigKeys } from './topic-config.js';
import type { ConfigTypeValue } from './topic-config.js';

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

/**
 * A broker setting's synonyms: the dynamic values (per broker only when `perBroker`), then the
 * config file's value when it differs from the built-in default, then the built-in default.
 */
function brokerSettingSynonyms(setting: BrokerSetting, config: BrokerConfig, dynamic: DynamicBrokerConfigs, perBroker = true): ConfigSynonym[] {
  const synonyms: ConfigSynonym[] = [];
  const own = perBroker ? dynamic.values('broker').get(setting.name) : undefined;
  if (own !== undefined) synonyms.push({ name: setting.name, value: own, source: ConfigSource.dynamicBroker });
  const clusterWide = dynamic.values('clusterDefault').get(setting.name);
  if (clusterWide !== undefined) synonyms.push({ name: setting.name, value: clusterWide, source: ConfigSource.dynamicDefaultBroker });
  const value = setting.value(config);
  const builtIn = setting.value(defaultBrokerConfig);
  if (value !== builtIn) synonyms.push({ name: setting.name, value, source: ConfigSource.staticBroker });
  synonyms.push({ name: setting.name, value: builtIn, source: ConfigSource.default });
  return synonyms;
}

function fromSynonyms(name: string, type: ConfigTypeValue, readOnly: boolean, documentation: string, synonyms: ConfigSynonym[]): ConfigDescription {
  const first = synonyms[0]!;
  return { name, value: first.value, source: first.source, type, readOnly, documentation, synonyms };
}

/**
 * The broker settings clients may read (DescribeConfigs on the broker resource): named by our node
 * id, every setting with its value in force; named '' (the cluster-wide default resource), as in
 * Kafka, only the cluster-wide dynamic values.
 */
export function describeBrokerSettings(config: BrokerConfig, dynamic: DynamicBrokerConfigs, level: 'broker' | 'clusterDefault' = 'broker'): ConfigDescription[] {
  const described: ConfigDescription[] = [];
  for (const setting of brokerSettings()) {
    if (level === 'clusterDefault' && !dynamic.values('clusterDefault').has(setting.name)) continue;
    const synonyms = brokerSettingSynonyms(setting, config, dynamic, level === 'broker');
    described.push(fromSynonyms(setting.name, setting.type, !setting.dynamic, setting.documentation, synonyms));
  }
  return described;
}

/** Every topic config with its effective value, for a topic with these overrides. */
export function describeTopicConfigEntries(overrides: ReadonlyMap<string, string>, config: BrokerConfig, dynamic: DynamicBrokerConfigs): ConfigDescription[] {
  return topicConfigKeys().map((key) => {
    const override = overrides.get(key.name);
    const topicSynonyms: ConfigSynonym[] = override === undefined ? [] : [{ name: key.name, value: override, source: ConfigSource.topic }];
    const setting = key.brokerName === null ? undefined : brokerSetting(key.brokerName);
    const inherited =
      setting === undefined ? [{ name: key.name, value: key.defaultValue(config.topicDefaults), source: ConfigSource.default }] : brokerSettingSynonyms(setting, config, dynamic);
    return fromSynonyms(key.name, key.type, false, key.documentation, [...topicSynonyms, ...inherited]);
  });
}

/**
 * Every group config of a group with these configs of its own: GROUP_CONFIG (8) when set, else the
 * broker's setting. Kafka names that fallback after the group config itself; here it is named by
 * the broker setting it comes from (group.consumer.session.timeout.ms…).
 */
export function describeGroupConfigEntries(own: ReadonlyMap<string, string>, config: BrokerConfig, dynamic: DynamicBrokerConfigs): ConfigDescription[] {
  return groupConfigKeys().map((key) => {
    const value = own.get(key.name);
    const groupSynonyms: ConfigSynonym[] = value === undefined ? [] : [{ name: key.name, value, source: ConfigSource.group }];
    const setting = brokerSetting(key.brokerName)!;
    return fromSynonyms(key.name, key.type, false, key.documentation, [...groupSynonyms, ...brokerSettingSynonyms(setting, config, dynamic)]);
  });
}
