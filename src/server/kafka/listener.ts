/**
 * The Kafka listener: accepts connections, enforces the connection limit, and tracks connections so
 * shutdown can close them.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Broker } from '../../broker/broker.js';
import type { BrokerConfig } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import { ApiRegistry } from './api-registry.js';
import { KafkaConnection } from './connection.js';
import { allHandlers } from './handlers/index.js';
import { RequestMemoryPool } from './request-memory.js';

export interface KafkaListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startKafkaListener(config: BrokerConfig, broker: Broker, logger: Logger): Promise<KafkaListener> {
  const registry = new ApiRegistry(allHandlers);
  const sockets = new Set<Socket>();
  const requestMemory = new RequestMemoryPool(config.limits.maxQueuedRequestBytes);
  const server: Server = createServer((socket) => {
    if (sockets.size >= config.limits.maxConnections) {
      logger.warn('connection refused: too many connections', { limit: config.limits.maxConnections, peer: socket.remoteAddress });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new KafkaConnection(socket, registry, broker, config.limits, requestMemory, logger);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.kafkaPort, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => logger.error('kafka listener error', { error: error.message }));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('kafka listener has no TCP address');
  return {
    host: config.host,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
