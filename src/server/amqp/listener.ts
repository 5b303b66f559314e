/**
 * The AMQP 0-9-1 listener: accepts connections on host:amqpPort (up to amqp.connectionMax), forwards the sessions' blocked
 * changes to every connection, and on shutdown stops accepting, closes every connection with 320
 * CONNECTION_FORCED ("broker shutdown") and waits for their sockets to close (each bounded by
 * amqp.handshakeTimeoutMs for its close-ok).
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import type { BrokerConfig } from '../../config/broker-config.js';
import type { Logger } from '../../logging/logger.js';
import type { AmqpSessions } from './channel-handler.js';
import { AmqpConnection } from './connection.js';
import type { InterBrokerLogin } from './handshake.js';

export interface AmqpListener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAmqpListener(config: BrokerConfig, sessions: AmqpSessions, logger: Logger, interBrokerLogin?: InterBrokerLogin): Promise<AmqpListener> {
  const connections = new Set<AmqpConnection>();
  const services = { settings: config.amqp, sessions, logger, ...(interBrokerLogin === undefined ? {} : { interBrokerLogin }) };
  let nextConnectionId = 1;
  sessions.onBlockedChange((blocked, reason) => {
    for (const connection of connections) connection.blockedChanged(blocked, reason);
  });
  const server: Server = createServer((socket) => {
    if (connections.size >= config.amqp.connectionMax) {
      logger.warn('amqp connection refused: too many connections', { maximum: config.amqp.connectionMax, peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` });
      socket.destroy();
      return;
    }
    const connection = new AmqpConnection(socket, nextConnectionId++, services);
    connections.add(connection);
    connection.onClosed = () => connections.delete(connection);
  });
  await listen(server, config);
  server.on('error', (error) => logger.error('amqp listener error', { error: error.message }));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('amqp listener has no TCP address');
  return {
    host: config.host,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...connections].map((connection) => connection.shutdown()));
      await closed;
    },
  };
}

function listen(server: Server, config: BrokerConfig): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.amqpPort, host: config.host, backlog: config.limits.listenBacklog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
