/**
 * DescribeConfigs (32), v1-4.
 *
 * Behaviour:
 * - topic (resource type 2): every topic config Kafka 4.1 lists (broker/topic-config.ts), with its
 *   effective value, configSource (1 topic override, 2 dynamic config of this broker, 3 cluster-wide
 *   dynamic config, 4 broker setting from the config file, 5 default), readOnly false. Keys this
 *   broker accepts without acting on say so in their documentation.
 * - broker (4), named by our node id: the broker settings under Kafka's names
 *   (broker/broker-settings.ts): num.partitions, auto.create.topics.enable and group.consumer.*
 *   read-only, the log.* topic defaults dynamic (readOnly false); named '' (the cluster-wide
 *   default resource), only the cluster-wide dynamic configs, as in Kafka.
 * - group (32), named by a group id (need not exist): consumer.session.timeout.ms and
 *   consumer.heartbeat.interval.ms, configSource 8 (GROUP_CONFIG) when the group has its own.
 * configurationKeys, when given, keeps only those keys (unknown ones are left out). Synonyms, in
 * Kafka's order (the most specific first), are listed only when includeSynonyms is set;
 * configType is answered from v3, documentation from v3 when includeDocumentation is set. Nothing
 * is sensitive. An unknown topic is UNKNOWN_TOPIC_OR_PARTITION, an impossible topic name
 * INVALID_TOPIC_EXCEPTION, another broker id, an empty group name or another resource type
 * INVALID_REQUEST.
 *
 * Not implemented: broker loggers (8) and client metrics (16) resources; Kafka's other broker
 * settings (listeners, threads, quotas…).
 */
import type { Broker } from '../../../broker/broker.js';
import type { ConfigDescription } from '../../../broker/config-description.js';
import { describeBrokerSettings, describeGroupConfigEntries, describeTopicConfigEntries } from '../../../broker/config-description.js';
import { InvalidRequestNotes } from '../invalid-request.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeConfigsRequest, describeConfigsResponse } from '../../../protocol/kafka/messages/describe-configs.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../../../protocol/kafka/messages/describe-configs.js';
import { brokerResourceLevel, ConfigResourceType, groupResourceProblem, isProblem, noteInvalidRequest, topicResource, unsupportedResourceType } from '../config-resources.js';
import type { RequestProblem } from '../config-resources.js';
import { defineHandler } from '../handler.js';

type RequestedResource = DescribeConfigsRequest['resources'][number];
type ResourceResult = DescribeConfigsResponse['results'][number];

interface DescribeOptions {
  readonly includeSynonyms: boolean;
  readonly includeDocumentation: boolean;
}

function configsOf(resource: RequestedResource, broker: Broker): ConfigDescription[] | RequestProblem {
  switch (resource.resourceType) {
    case ConfigResourceType.topic: {
      const topic = topicResource(broker, resource.resourceName);
      return isProblem(topic) ? topic : describeTopicConfigEntries(topic.configOverrides, broker.config, broker.dynamicConfigs);
    }
    case ConfigResourceType.broker: {
      const level = brokerResourceLevel(broker, resource.resourceName);
      return typeof level === 'string' ? describeBrokerSettings(broker.config, broker.dynamicConfigs, level) : level;
    }
    case ConfigResourceType.group:
      return groupResourceProblem(resource.resourceName) ?? describeGroupConfigEntries(broker.groupConfig(resource.resourceName), broker.config, broker.dynamicConfigs);
    default:
      return unsupportedResourceType(resource.resourceType);
  }
}

function describeResource(resource: RequestedResource, broker: Broker, options: DescribeOptions, notes: InvalidRequestNotes): ResourceResult {
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
  const configs = configsOf(resource, broker);
  if (!Array.isArray(configs)) {
    noteInvalidRequest(notes, configs);
    return { ...base, errorCode: configs.errorCode, errorMessage: configs.errorMessage, configs: [] };
  }
  const wanted = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
  return {
    ...base,
    errorCode: ErrorCode.none,
    errorMessage: null,
    configs: configs
      .filter((config) => wanted === null || wanted.has(config.name))
      .map((config) => ({
        name: config.name,
        value: config.value,
        readOnly: config.readOnly,
        configSource: config.source,
        isSensitive: false,
        synonyms: options.includeSynonyms ? [...config.synonyms] : [],
        configType: config.type,
        documentation: options.includeDocumentation ? config.documentation : null,
      })),
  };
}

export const describeConfigsHandler = defineHandler({
  request: describeConfigsRequest,
  response: describeConfigsResponse,
  handle(request, context) {
    const options = { includeSynonyms: request.includeSynonyms, includeDocumentation: request.includeDocumentation };
    const notes = new InvalidRequestNotes('DescribeConfigs');
    const results = request.resources.map((resource) => describeResource(resource, context.broker, options, notes));
    notes.write(context.logger);
    return { throttleTimeMs: 0, results };
  },
});
