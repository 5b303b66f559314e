/**
 * DescribeCluster (60), v0-2.
 *
 * Behaviour: the cluster is this one broker, at its advertised host and port; it is also its own
 * controller (controllerId = our node id). endpointType 1 (brokers) and 2 (controllers) therefore
 * both list it, and the answer echoes the type asked for; other types are INVALID_REQUEST. The
 * broker is never fenced (v2 isFenced false, whatever includeFencedBrokers says).
 *
 * In a cluster: every live broker with its rack, and the elected controller (-1 while there is
 * none); endpoint type 2 lists the controller only.
 *
 * Cluster authorized operations, when asked: every cluster operation (no ACLs yet, as Kafka
 * without an authorizer). A single broker has no rack to tell.
 */
import { ErrorCode } from '../../../protocol/kafka/error-codes.js';
import { describeClusterRequest, describeClusterResponse } from '../../../protocol/kafka/messages/describe-cluster.js';
import { authorizedOperations } from '../authorized-operations.js';
import { defineHandler } from '../handler.js';

const EndpointType = { brokers: 1, controllers: 2 } as const;

export const describeClusterHandler = defineHandler({
  request: describeClusterRequest,
  response: describeClusterResponse,
  handle(request, context) {
    const { broker } = context;
    const known = request.endpointType === EndpointType.brokers || request.endpointType === EndpointType.controllers;
    const errorMessage = known ? null : `endpoint type ${request.endpointType} is unknown: 1 lists brokers, 2 controllers`;
    if (errorMessage !== null) context.logger.debug('invalid request', { api: 'DescribeCluster', field: 'EndpointType', reason: errorMessage });
    const cluster = broker.cluster;
    const controllerId = cluster === null ? broker.nodeId : cluster.controllerId();
    const live = cluster?.liveBrokers().map(({ nodeId, host, port, rack }) => ({ brokerId: nodeId, host, port, rack, isFenced: false })) ?? [];
    const listed = request.endpointType === EndpointType.controllers ? live.filter((entry) => entry.brokerId === controllerId) : live;
    return {
      throttleTimeMs: 0,
      errorCode: known ? ErrorCode.none : ErrorCode.invalidRequest,
      errorMessage,
      endpointType: request.endpointType,
      clusterId: broker.clusterId,
      controllerId: known ? controllerId : -1,
      brokers: !known ? [] : cluster !== null && live.length > 0 ? listed : [{ brokerId: broker.nodeId, host: broker.advertisedHost, port: broker.advertisedPort, rack: null, isFenced: false }],
      clusterAuthorizedOperations: authorizedOperations('cluster', request.includeClusterAuthorizedOperations),
    };
  },
});
