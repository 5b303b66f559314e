/**
 * AlterConfigs (33), v0-2.
 *
 * Behaviour: the configs given replace the whole set the resource has (a key left out returns to
 * its default), persisted before the answer and applied at once:
 * - topic (resource type 2): the topic's overrides. Keys and values are checked first
 *   (INVALID_CONFIG for an unknown key or a bad value, remote.storage.enable=true among them).
 * - broker (4), named by our node id (this broker's own) or '' (the cluster-wide defaults): the
 *   dynamic broker configs of that level, the log.* topic defaults Kafka lets change at run time
 *   (broker/broker-settings.ts); every topic without an override takes the new default. A config
 *   that is not dynamic, unknown or badly valued is INVALID_REQUEST, as in Kafka.
 * - group (32), named by a group id: the group's consumer.session.timeout.ms and
 *   consumer.heartbeat.interval.ms (INVALID_CONFIG outside the broker's group.consumer.min/max.*).
 * A null value or a key given twice is INVALID_REQUEST; validateOnly checks and changes nothing.
 * An unknown topic is UNKNOWN_TOPIC_OR_PARTITION; another broker id, another resource type, or a
 * resource named twice, INVALID_REQUEST.
 *
 * Not implemented: alter-config policies (POLICY_VIOLATION).
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { alterConfigsRequest, alterConfigsResponse } from '../../../protocol/kafka/messages/alter-configs.js';
import { alterConfigResources, configListToMap, isProblem, problem } from '../config-resources.js';
import { defineHandler } from '../handler.js';

export const alterConfigsHandler = defineHandler({
  request: alterConfigsRequest,
  response: alterConfigsResponse,
  async handle(request, context) {
    const responses = await alterConfigResources(context.broker, request.resources, {
      api: 'AlterConfigs',
      logger: context.logger,
      replaceAll: true,
      validateOnly: request.validateOnly,
      changes(resource) {
        const configs = configListToMap(resource.configs);
        if (isProblem(configs)) return configs;
        for (const [key, value] of configs) {
          if (value === null) return problem(ErrorCode.invalidRequest, `null value not supported for config '${key}': leave the key out to return to the default`, 'configs.value');
        }
        return configs;
      },
    });
    return { throttleTimeMs: 0, responses };
  },
});
