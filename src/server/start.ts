/**
 * Starts a broker process's parts in order (storage and metadata, the queue side's definitions and
 * queue stores, then listeners: HTTP, Kafka, AMQP; then, with etcd configured, the cluster
 * membership) and stops them in reverse: the broker leaves the cluster, AMQP connections are
 * closed (320 CONNECTION_FORCED), waiting fetches are told to answer, the Kafka listener stops
 * reading and lets every request already read be answered (limits.shutdownDrainTimeoutMs), then
 * every queue store and log is flushed and closed. So no request is still running against a closed
 * log, and acknowledged writes and confirmed publishes are answered.
 */
import { Broker } from '../broker/broker.js';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { startHttpListener } from './http/listener.js';
import type { HttpListener } from './http/listener.js';
import { startKafkaListener, type KafkaListener } from './kafka/listener.js';
import { startAmqpListener } from './amqp/listener.js';
import type { AmqpListener } from './amqp/listener.js';
import { createAmqpSessions } from './amqp/session/index.js';
import type { InterBrokerLogin } from './amqp/handshake.js';
import { openQueueBroker, queueStoreSettings } from '../queues/open-queue-broker.js';
import type { ReplicatedQueues } from '../cluster/replicated-queues.js';
import type { QueueBroker } from '../queues/queue-broker.js';
import { KafkaTopicAccess } from './topic-access.js';
import type { ClusterMembership } from '../cluster/join.js';

export interface RunningBroker {
  readonly kafkaHost: string;
  readonly kafkaPort: number;
  /** The HTTP listener's port; null when it is turned off (httpPort -1). */
  readonly httpPort: number | null;
  /** The AMQP listener's port; null when it is turned off (amqpPort -1 or amqp.enabled false). */
  readonly amqpPort: number | null;
  close(): Promise<void>;
}

export async function startBroker(config: BrokerConfig, logger: Logger): Promise<RunningBroker> {
  const broker = await Broker.open(config, logger);
  const amqpEnabled = config.amqp.enabled && config.amqpPort >= 0;
  let queues: QueueBroker | null = null;
  let http: HttpListener | null = null;
  let listener: KafkaListener | null = null;
  let amqp: AmqpListener | null = null;
  let cluster: ClusterMembership | null = null;
  // Other brokers of the cluster log in to the AMQP listener with this once the broker joined.
  const interBrokerLogin: InterBrokerLogin = { secret: null };
  let replicated: ReplicatedQueues | undefined;
  try {
    // Stream queues and exchange-to-topic bindings keep their messages in the Kafka broker's topics.
    if (amqpEnabled) {
      // In a cluster, durable queues are kept in replicated internal topics (cluster/queue-partitions.ts).
      if (config.etcdEndpoints !== '') {
        const { ReplicatedQueues } = await import('../cluster/replicated-queues.js');
        replicated = new ReplicatedQueues(broker, queueStoreSettings(config, logger), config.amqp.queueSegmentBytes, logger.with({ component: 'replicated-queues' }));
        broker.queueTerms = replicated;
      }
      queues = await openQueueBroker(config, logger, new KafkaTopicAccess(broker), replicated);
    }
    if (config.httpPort >= 0) {
      http = await startHttpListener(config.host, config.httpPort, broker.metrics, { queueBroker: queues, logger });
      logger.info('http listener ready', { host: http.host, port: http.port });
    }
    listener = await startKafkaListener(config, broker, logger);
    broker.advertisedPort = config.advertisedKafkaPort || listener.port;
    if (queues !== null) {
      const sessions = createAmqpSessions(queues, { maxUnackedMessagesPerConnection: config.amqp.maxUnackedMessagesPerConnection }, broker.diskAlarm);
      amqp = await startAmqpListener(config, sessions, logger, interBrokerLogin);
      logger.info('amqp listener ready', { host: amqp.host, port: amqp.port });
    }
    // With etcd configured, register (and campaign for controller) once the advertised port is known
    // and before the ready line, so a broker that cannot join never reports itself ready.
    if (config.etcdEndpoints !== '') {
      const { joinCluster } = await import('../cluster/join.js');
      cluster = await joinCluster(config, { host: broker.advertisedHost, port: broker.advertisedPort, amqpPort: amqp?.port ?? null }, broker, logger);
      interBrokerLogin.secret = cluster.interBrokerSecret;
      replicated?.links.useSecret(cluster.interBrokerSecret);
    }
  } catch (error) {
    await replicated?.links.close();
    await amqp?.close();
    await listener?.close();
    await http?.close();
    await queues?.close();
    await broker.close();
    throw error;
  }
  const kafka = listener;
  // Last: tools (and the test harness) take this line to mean every listener is up.
  logger.info('kafka listener ready', { host: kafka.host, port: kafka.port });
  let closing: Promise<void> | undefined;
  return {
    kafkaHost: kafka.host,
    kafkaPort: kafka.port,
    httpPort: http?.port ?? null,
    amqpPort: amqp?.port ?? null,
    close() {
      closing ??= (async () => {
        // Leave first: the others see this broker gone at once rather than after its lease's TTL.
        await cluster?.leave();
        await replicated?.links.close();
        await amqp?.close();
        broker.stopWaitingFetches();
        await kafka.close();
        await http?.close();
        await queues?.close();
        await broker.close();
        logger.info('broker stopped');
      })();
      return closing;
    },
  };
}
