/**
 * FindCoordinator (10), v0-6.
 *
 * A single broker coordinates every group: key type 0 (group) is answered with this broker, for
 * one key (v0-3) or a batch of them (v4+, KIP-699). v0 is advertised because librdkafka < 2.11
 * needs it (KAFKA-19444).
 *
 * In a cluster a group's coordinator is the leader of its partition of `__consumer_offsets`
 * (cluster/cluster-topics.ts, docs/cluster.md "Consumer groups"), which the first FindCoordinator
 * creates. While that partition has no live leader, or the topic is not there yet:
 * COORDINATOR_NOT_AVAILABLE (retriable).
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

async function coordinatorFor(broker: Broker, keyType: number, key: string): Promise<Coordinator> {
  if (keyType === groupKeyType && broker.inCluster) {
    if (broker.cluster === null) return { nodeId: -1, host: '', port: -1, errorCode: ErrorCode.coordinatorNotAvailable, errorMessage: 'this broker has not joined the cluster yet; retry' };
    const chosen = await broker.cluster.groupCoordinator(key);
    if ('errorCode' in chosen) return { nodeId: -1, host: '', port: -1, errorCode: chosen.errorCode, errorMessage: chosen.errorMessage };
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
  async handle(request, context) {
    const { broker, apiVersion } = context;
    const keyType = apiVersion === 0 ? groupKeyType : request.keyType;
    // Every key of one request has the same type: a refused type is logged once.
    if (keyType !== groupKeyType) {
      const sample = await coordinatorFor(broker, keyType, '');
      if (sample.errorCode === ErrorCode.invalidRequest) context.logger.debug('invalid request', { api: 'FindCoordinator', field: 'KeyType', reason: sample.errorMessage });
    }
    if (apiVersion >= 4) {
      const coordinators = await Promise.all(request.coordinatorKeys.map(async (key) => ({ key, ...(await coordinatorFor(broker, keyType, key)) })));
      return { throttleTimeMs: 0, errorCode: ErrorCode.none, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators };
    }
    const coordinator = await coordinatorFor(broker, keyType, request.key);
    return { throttleTimeMs: 0, ...coordinator, coordinators: [] };
  },
});
