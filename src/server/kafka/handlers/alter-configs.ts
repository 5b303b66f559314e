/**
 * AlterConfigs (33), v0-2.
 *
 * Behaviour: for a topic (resource type 2), the configs given replace the whole set of overrides
 * (a key left out returns to the broker default), persisted before the answer and applied to the
 * topic's partitions at once. Keys and values are checked first (INVALID_CONFIG for an unknown key
 * or a bad value, INVALID_REQUEST for a null value or a key given twice); validateOnly checks and
 * changes nothing. Broker configs (resource type 4) are read-only at run time: INVALID_REQUEST.
 * An unknown topic is UNKNOWN_TOPIC_OR_PARTITION; another resource type, or a resource named twice,
 * INVALID_REQUEST.
 *
 * Not implemented: dynamic broker configs, alter-config policies (POLICY_VIOLATION).
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
      replaceAll: true,
      validateOnly: request.validateOnly,
      changes(resource) {
        const configs = configListToMap(resource.configs);
        if (isProblem(configs)) return configs;
        for (const [key, value] of configs) {
          if (value === null) return problem(ErrorCode.invalidRequest, `null value not supported for config '${key}': leave the key out to return to the default`);
        }
        return configs;
      },
    });
    return { throttleTimeMs: 0, responses };
  },
});
