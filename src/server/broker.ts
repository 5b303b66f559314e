/**
 * Starts a broker process's parts in order (storage and metadata, then listeners) and stops them in
 * reverse: listeners first so no new request arrives, then every log is flushed and closed.
 */
import { Broker } from '../broker/broker.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { startKafkaListener } from './kafka/listener.js';

export interface RunningBroker {
  readonly kafkaHost: string;
  readonly kafkaPort: number;
  close(): Promise<void>;
}

export async function startBroker(config: BrokerConfig, logger: Logger): Promise<RunningBroker> {
  const broker = await Broker.open(config, logger);
  let listener;
  try {
    listener = await startKafkaListener(config, broker, logger);
  } catch (error) {
    await broker.close();
    throw error;
  }
  broker.advertisedPort = listener.port;
  logger.info('kafka listener ready', { host: listener.host, port: listener.port });
  let closing: Promise<void> | undefined;
  return {
    kafkaHost: listener.host,
    kafkaPort: listener.port,
    close() {
      closing ??= (async () => {
        await listener.close();
        await broker.close();
        logger.info('broker stopped');
      })();
      return closing;
    },
  };
}
