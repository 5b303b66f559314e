/**
 * The Kafka listener: accepts connections, enforces the connection limits (all together and per
 * client address), and tracks connections so shutdown can drain and close them.
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import type { BrokerConfig } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import { ApiRegistry } from './api-registry.js';
import { ConnectionAdmission } from './connection-admission.js';
import { KafkaConnection } from './connection.js';
import type { ConnectionServices } from './connection.js';
import { faultHookVariable, faultInjectedApi } from './fault-hook.js';
import { allHandlers } from './handlers/index.js';
import { RequestMemoryPool } from './request-memory.js';

export interface KafkaListener {
  readonly host: string;
  readonly port: number;
  /**
   * Stops accepting, lets every connection's requests already read be answered (within
   * limits.shutdownDrainTimeoutMs), then closes every connection.
   */
  close(): Promise<void>;
}

export async function startKafkaListener(config: BrokerConfig, broker: Broker, logger: Logger): Promise<KafkaListener> {
  const services = connectionServices(config, broker, logger);
  const connections = new Set<KafkaConnection>();
  const admission = new ConnectionAdmission(config.limits.maxConnections, config.limits.maxConnectionsPerAddress);
  const refused = broker.metrics.counter('osprey_connections_refused_total', 'Connections closed at once because a connection limit was reached, by limit.');
  broker.metrics.gauge('osprey_connections', 'Open Kafka connections.', () => connections.size);
  broker.metrics.gauge('osprey_response_queue_bytes', 'Bytes of responses all connections hold, encoded and not yet taken by the kernel (limits.maxQueuedResponseBytes per connection).', () => {
    let bytes = 0;
    for (const connection of connections) bytes += connection.queuedResponseBytes;
    return bytes;
  });
  const server: Server = createServer((socket) => {
    const address = socket.remoteAddress ?? '';
    const refusal = admission.admit(address);
    if (refusal !== null) {
      refused.inc({ limit: refusal.limitName });
      logger.warn('connection refused: too many connections', { limit: refusal.limitName, maximum: refusal.limit, peer: address });
      socket.destroy();
      return;
    }
    const connection = new KafkaConnection(socket, services);
    connections.add(connection);
    connection.onClosed = () => {
      connections.delete(connection);
      admission.release(address);
    };
  });
  await listen(server, config);
  server.on('error', (error) => logger.error('kafka listener error', { error: error.message }));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kafka listener has no TCP address');
  return {
    host: config.host,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await drainAll(connections, config.limits.shutdownDrainTimeoutMs);
      await closed;
    },
  };
}

function connectionServices(config: BrokerConfig, broker: Broker, logger: Logger): ConnectionServices {
  const memory = new RequestMemoryPool(config.limits.maxQueuedRequestBytes, config.limits.smallRequestReserveBytes);
  broker.metrics.gauge('osprey_request_memory_bytes', 'Bytes of requests all connections hold: received, not yet answered (limits.maxQueuedRequestBytes).', () => memory.reserved);
  const faultApi = faultInjectedApi();
  if (faultApi !== null) logger.warn(`test fault hook ${faultHookVariable} is set: every ${faultApi} request fails; never set it in production`, { api: faultApi });
  return {
    registry: new ApiRegistry(allHandlers),
    broker,
    limits: config.limits,
    memory,
    logger,
    unexpectedErrors: broker.metrics.counter('osprey_connection_errors_total', 'Connections closed because handling a request threw unexpectedly, by API.'),
    closes: broker.metrics.counter('osprey_connections_closed_total', 'Connections the broker closed, by reason (frame_too_large, frame_timeout, malformed, unsupported, internal_error, idle_timeout).'),
    faultInjectedApi: faultApi,
  };
}

function listen(server: Server, config: BrokerConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node's default backlog (511) overflows in a burst of connections; each dropped SYN then
    // waits a second or more for the client's retry.
    server.listen({ port: config.kafkaPort, host: config.host, backlog: config.limits.listenBacklog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Drains every connection at once; those not done within timeoutMs are closed as they are. */
async function drainAll(connections: ReadonlySet<KafkaConnection>, timeoutMs: number): Promise<void> {
  const all = [...connections];
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(all.map((connection) => connection.drain())), timedOut]);
  clearTimeout(timer);
  for (const connection of all) connection.destroy();
}
