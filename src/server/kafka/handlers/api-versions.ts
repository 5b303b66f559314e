/**
 * ApiVersions (18), v0-4. Lists every API we handle with the versions we answer. A version we do not
 * know is answered by the connection itself (KIP-511 fallback, see connection.ts).
 */
import { apiVersionsRequest, apiVersionsResponse } from '../../../protocol/kafka/messages/api-versions.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { defineHandler } from '../handler.js';

export const apiVersionsHandler = defineHandler({
  request: apiVersionsRequest,
  response: apiVersionsResponse,
  handle(_request, context) {
    return {
      errorCode: ErrorCode.none,
      apiKeys: context.supportedApis.map((api) => ({ apiKey: api.apiKey, minVersion: api.minVersion, maxVersion: api.maxVersion })),
      throttleTimeMs: 0,
    };
  },
});
