/**
 * Starts a broker process's parts in order (storage and metadata, then listeners) and stops them in
 * reverse: waiting fetches are told to answer, the Kafka listener stops reading and lets every
 * request already read be answered (limits.shutdownDrainTimeoutMs), then every log is flushed and
 * closed. So no request is still running against a closed log, and acknowledged writes are answered.
 */
import { Broker } from '../broker/broker.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { startHttpListener } from './http/listener.js';
import type { HttpListener } from './http/listener.js';
import { startKafkaListener } from './kafka/listener.js';

export interface RunningBroker {
  readonly kafkaHost: string;
  readonly kafkaPort: number;
  /** The HTTP listener's port; null when it is turned off (httpPort -1). */
  readonly httpPort: number | null;
  close(): Promise<void>;
}

export async function startBroker(config: BrokerConfig, logger: Logger): Promise<RunningBroker> {
  const broker = await Broker.open(config, logger);
  let listener;
  let http: HttpListener | null = null;
  try {
    if (config.httpPort >= 0) {
      http = await startHttpListener(config.host, config.httpPort, broker.metrics);
      logger.info('http listener ready', { host: http.host, port: http.port });
    }
    listener = await startKafkaListener(config, broker, logger);
  } catch (error) {
    await http?.close();
    await broker.close();
    throw error;
  }
  broker.advertisedPort = listener.port;
  logger.info('kafka listener ready', { host: listener.host, port: listener.port });
  let closing: Promise<void> | undefined;
  return {
    kafkaHost: listener.host,
    kafkaPort: listener.port,
    httpPort: http?.port ?? null,
    close() {
      closing ??= (async () => {
        broker.stopWaitingFetches();
        await listener.close();
        await http?.close();
        await broker.close();
        logger.info('broker stopped');
      })();
      return closing;
    },
  };
}
