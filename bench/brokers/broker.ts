/** A broker process the benchmark started: where it listens, what it is, how to stop it. */
export interface RunningBroker {
  /** e.g. "osprey", "rabbitmq", "nats", "redis" */
  readonly kind: string;
  readonly version: string;
  /** How durable an acknowledged write is, in the broker's own terms. */
  readonly fsyncPolicy: string;
  /** How it was started: command line and configuration, for the results file. */
  readonly launch: string;
  readonly host: string;
  readonly port: number;
  /** Where its AMQP listener is, when that is not `port` (the cluster: broker 1's Kafka port is `port`). */
  readonly amqpPort?: number;
  /** The cluster: the AMQP listeners of brokers 2, 3, … (clients using queues through brokers that do not serve them). */
  readonly otherAmqpPorts?: readonly number[];
  /** Root of the broker's process tree, for CPU and memory readings. */
  readonly pid: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface BrokerStartOptions {
  /** Parent of the broker's own temporary data directory (same disk for every broker). */
  readonly dataParent: string;
}
