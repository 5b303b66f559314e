/**
 * DescribeConfigs (32), v1-4.
 *
 * Behaviour: resource type 2 (topic) lists every topic config (topic-config.ts) with its effective
 * value, configSource (1 topic override, 4 broker setting from the config file, 5 default),
 * readOnly false; resource type 4 (broker, named by our node id or '') lists a small read-only set
 * of broker settings under Kafka's names (num.partitions, auto.create.topics.enable,
 * log.retention.ms, log.retention.bytes, log.segment.bytes, log.roll.ms, message.max.bytes,
 * log.message.timestamp.type, log.index.interval.bytes; see broker/config-description.ts).
 * configurationKeys, when given, keeps only those keys (unknown ones are left out). Synonyms are
 * listed only when includeSynonyms is set; configType is answered from v3, documentation from v3
 * when includeDocumentation is set. Nothing is sensitive. An unknown topic is
 * UNKNOWN_TOPIC_OR_PARTITION, an impossible topic name INVALID_TOPIC_EXCEPTION, another broker id
 * or another resource type INVALID_REQUEST.
 *
 * Not implemented: broker loggers (8), client metrics (16) and group (32) resources; the rest of
 * Kafka's broker settings.
 */
import type { Broker, OperationResult } from '../../../broker/broker.js';
import type { ConfigDescription } from '../../../broker/config-description.js';
import { describeBrokerSettings, describeTopicConfigEntries } from '../../../broker/config-description.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeConfigsRequest, describeConfigsResponse } from '../../../protocol/kafka/messages/describe-configs.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../../../protocol/kafka/messages/describe-configs.js';
import { brokerResourceProblem, ConfigResourceType, isProblem, topicResource, unsupportedResourceType } from '../config-resources.js';
import { defineHandler } from '../handler.js';

type RequestedResource = DescribeConfigsRequest['resources'][number];
type ResourceResult = DescribeConfigsResponse['results'][number];

interface DescribeOptions {
  readonly includeSynonyms: boolean;
  readonly includeDocumentation: boolean;
}

function configsOf(resource: RequestedResource, broker: Broker): ConfigDescription[] | OperationResult {
  switch (resource.resourceType) {
    case ConfigResourceType.topic: {
      const topic = topicResource(broker, resource.resourceName);
      return isProblem(topic) ? topic : describeTopicConfigEntries(topic.configOverrides, broker.config);
    }
    case ConfigResourceType.broker:
      return brokerResourceProblem(broker, resource.resourceName) ?? describeBrokerSettings(broker.config);
    default:
      return unsupportedResourceType(resource.resourceType);
  }
}

function describeResource(resource: RequestedResource, broker: Broker, options: DescribeOptions): ResourceResult {
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
  const configs = configsOf(resource, broker);
  if (!Array.isArray(configs)) return { ...base, errorCode: configs.errorCode, errorMessage: configs.errorMessage, configs: [] };
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
    return { throttleTimeMs: 0, results: request.resources.map((resource) => describeResource(resource, context.broker, options)) };
  },
});
