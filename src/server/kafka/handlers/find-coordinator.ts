/**
 * FindCoordinator (10), v0-6.
 *
 * This single broker coordinates every group: key type 0 (group) is answered with this broker, for
 * one key (v0-3) or a batch of them (v4+, KIP-699). v0 is advertised because librdkafka < 2.11
 * needs it (KAFKA-19444).
 *
 * In a cluster a group's coordinator is a live broker chosen by a stable hash of the group id
 * (cluster/cluster-topics.ts), so the members of a group meet at one broker whichever they asked;
 * that broker keeps the group and its committed offsets locally (not replicated yet). With no
 * broker known yet: COORDINATOR_NOT_AVAILABLE (retriable).
 *
 * Not implemented: transactions (key type 1) and share groups (key type 2). Both are answered
 * INVALID_REQUEST with a message saying so, as InitProducerId refuses transactional ids: clients
 * fail at once with that text instead of retrying COORDINATOR_NOT_AVAILABLE until their timeout.
 * Unknown key types are INVALID_REQUEST too, as in Kafka.
 */
import type { Broker } from '../../../broker/broker.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { findCoordinatorRequest, findCoordinatorResponse } from '../../../protocol/kafka/messages/find-coordinator.js';
import { defineHandler } from '../handler.js';

const groupKeyType = 0;
const transactionKeyType = 1;
const shareKeyType = 2;

interface Coordinator {
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

function coordinatorFor(broker: Broker, keyType: number, key: string): Coordinator {
  if (keyType === groupKeyType && broker.inCluster) {
    const chosen = broker.cluster?.groupCoordinator(key) ?? null;
    if (chosen === null) return { nodeId: -1, host: '', port: -1, errorCode: ErrorCode.coordinatorNotAvailable, errorMessage: 'no broker of the cluster is known yet; retry' };
    return { nodeId: chosen.nodeId, host: chosen.host, port: chosen.port, errorCode: ErrorCode.none, errorMessage: null };
  }
  if (keyType === groupKeyType) return { nodeId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, errorCode: ErrorCode.none, errorMessage: null };
  const errorMessage =
    keyType === transactionKeyType ? 'transactions are not supported by this broker yet'
    : keyType === shareKeyType ? 'share groups are not supported by this broker yet'
    : `unknown coordinator key type ${keyType}`;
  return { nodeId: -1, host: '', port: -1, errorCode: ErrorCode.invalidRequest, errorMessage };
}

export const findCoordinatorHandler = defineHandler({
  request: findCoordinatorRequest,
  response: findCoordinatorResponse,
  handle(request, context) {
    const { broker, apiVersion } = context;
    const keyType = apiVersion === 0 ? groupKeyType : request.keyType;
    // Every key of one request has the same type: a refused type is logged once.
    const sample = coordinatorFor(broker, keyType, '');
    if (sample.errorCode === ErrorCode.invalidRequest) context.logger.debug('invalid request', { api: 'FindCoordinator', field: 'KeyType', reason: sample.errorMessage });
    if (apiVersion >= 4) {
      const coordinators = request.coordinatorKeys.map((key) => ({ key, ...coordinatorFor(broker, keyType, key) }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.none, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators };
    }
    const coordinator = coordinatorFor(broker, keyType, request.key);
    return { throttleTimeMs: 0, ...coordinator, coordinators: [] };
  },
});
