/**
 * InitProducerId (22), v0-5.
 *
 * Without a transactional id: a producer id unique across restarts and epoch 0; from v3 a producer
 * may send its current id and epoch to get the next epoch (KIP-360). The rules and the id blocks
 * kept on disk are in broker/idempotence/producer-ids.ts.
 *
 * Not implemented: transactions. A transactional id is answered INVALID_REQUEST (42) and logged:
 * every client treats it as fatal at once (no retry loop, unlike COORDINATOR_NOT_AVAILABLE) and
 * shows Kafka's text for it, "…the message was sent to an incompatible broker. See the broker logs
 * for more details", where the log line says transactions are not supported yet. The alternatives
 * mislead: TRANSACTIONAL_ID_AUTHORIZATION_FAILED sends users to their ACLs, UNSUPPORTED_VERSION to
 * their client's protocol version.
 * If no block of ids can be reserved on disk: COORDINATOR_LOAD_IN_PROGRESS (retriable), as Kafka.
 * Not declared: v6 (two-phase commit, KIP-939).
 */
import type { InitProducerIdResult } from '../../../broker/idempotence/producer-ids.js';
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { initProducerIdRequest, initProducerIdResponse } from '../../../protocol/kafka/messages/init-producer-id.js';
import { defineHandler } from '../handler.js';

export const initProducerIdHandler = defineHandler({
  request: initProducerIdRequest,
  response: initProducerIdResponse,
  async handle(request, context) {
    const { broker, apiVersion, logger } = context;
    if (request.transactionalId !== null) {
      logger.warn('InitProducerId refused: transactions are not supported yet', {
        transactionalId: request.transactionalId,
        clientId: context.clientId,
        error: ErrorCode.invalidRequest,
      });
      logger.debug('invalid request', { api: 'InitProducerId', field: 'TransactionalId', reason: 'transactions are not supported yet' });
      return { throttleTimeMs: 0, errorCode: ErrorCode.invalidRequest, producerId: -1n, producerEpoch: -1 };
    }
    let result: InitProducerIdResult;
    try {
      result = await broker.producerIds.initProducerId(request.producerId, request.producerEpoch, apiVersion);
    } catch (error) {
      // No block of ids could be reserved on disk. Kafka answers a missing block with this retriable
      // code; clients back off and ask again.
      logger.error('producer id block could not be reserved', { error: String(error) });
      return { throttleTimeMs: 0, errorCode: ErrorCode.coordinatorLoadInProgress, producerId: -1n, producerEpoch: -1 };
    }
    if (result.errorCode !== ErrorCode.none) {
      logger.info('InitProducerId refused', { clientId: context.clientId, error: result.errorCode, reason: result.reason ?? '' });
      if (result.errorCode === ErrorCode.invalidRequest) logger.debug('invalid request', { api: 'InitProducerId', field: 'ProducerId', reason: result.reason ?? '' });
    }
    return { throttleTimeMs: 0, errorCode: result.errorCode, producerId: result.producerId, producerEpoch: result.producerEpoch };
  },
});
