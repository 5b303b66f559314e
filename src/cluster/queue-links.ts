/**
 * Links from this broker to the brokers serving durable queues it does not serve, so that a client
 * may use any queue through any broker of the cluster, as with RabbitMQ: a publish routed here to a
 * queue served elsewhere is forwarded there, and consumers here get that queue's messages from there
 * (queue-store/led-queue-store.ts decides when; queue-store/remote-queue-source.ts keeps the state).
 *
 * A link is an AMQP 0-9-1 connection from this broker to the serving broker's AMQP listener (its
 * registration's amqpPort), logged in as `osprey-inter-broker` with the cluster's secret
 * (inter-broker-secret.ts), one per (broker, virtual host), through the project's own AMQP client:
 *
 *   forward     one confirm channel per link: basic.publish with the exchange and routing key the
 *               client used and the target queue in a header (queues/forwarded-publish.ts); the
 *               serving broker's ack or nack is the publisher's
 *   subscribe   one channel per queue consumed here: basic.qos(window, global; sent again when the
 *               consumers here change), basic.consume (exclusive when the consumer here is) with
 *               manual acks; acks gathered per turn into multiple acks (link-acks.ts), nack(requeue) at
 *               once, by the serving broker's delivery tags
 *   operations  one channel per link for basic.get (acked or given back on it), queue.purge and
 *               passive queue.declare (the counts in declare-ok)
 *
 * Which broker serves a queue is its partition's leader (queue-partitions.ts) as this broker's
 * metadata has it. Every `leaderCheckIntervalMs` a subscription whose queue is led by another broker
 * now is closed (its messages go back there) and made again by its owner; a link to a broker no
 * longer registered is dropped, failing what waits on it (publishers get nacks).
 */
import { connectAmqp, type AmqpConnection } from '../client/amqp/connection.js';
import type { AmqpChannel, AmqpDelivery } from '../client/amqp/channel.js';
import { AmqpClosedError } from '../client/amqp/errors.js';
import type { Logger } from '../logging/logger.js';
import { deliveryModeOfProperties } from '../protocol/amqp/content-header.js';
import { replyCodes } from '../protocol/amqp/reply-codes.js';
import { forwardedProperties } from '../queues/forwarded-publish.js';
import { InExclusiveUseError, type LinkedGet, type LinkReceiver, type LinkSubscription, type QueueLeaderLink } from '../queues/queue-store/remote-queue-source.js';
import type { StoredMessage } from '../queues/queue-store/stored-message.js';
import { interBrokerUser } from '../server/amqp/handshake.js';
import type { ClusterView } from './cluster-view.js';
import { LinkAcks } from './link-acks.js';
import { queueTopicName } from './queue-partitions.js';

/** The queue a store links for: where it is named in AMQP and where it is kept. */
export interface LinkedQueue {
  readonly virtualHost: string;
  readonly name: string;
  readonly storageId: string;
}

const leaderCheckIntervalMs = 500;
/** Heartbeats on links, so a serving broker that stops answering (paused, cut off) is noticed. */
const linkHeartbeatSeconds = 5;
const linkConnectTimeoutMs = 5_000;
/**
 * A broker that could not be reached is dialled again this long after the failed attempt at the
 * earliest; meanwhile what needs the link fails at once, as it would, without a connection attempt
 * (and a log line) of its own: a publisher streaming through this broker to a dead one's queue
 * would otherwise make one per publish until the dead broker's lease lapses.
 */
export const linkRedialDelayMs = 1_000;
const linkFrameMaxBytes = 131_072;
/** Forwarded publishes waiting for the serving broker's confirms, per link: what a publisher faster than that broker can make this one hold. */
const maxForwardedBytesInFlight = 64 * 1024 * 1024;

/** One link: a connection to a broker for one virtual host, with its confirm channel for forwards. */
interface Link {
  readonly nodeId: number;
  readonly connection: Promise<AmqpConnection>;
  publisher: Promise<AmqpChannel> | null;
  operations: Promise<AmqpChannel> | null;
  /** Bytes of forwarded publishes not yet confirmed (maxForwardedBytesInFlight). */
  forwardedBytesInFlight: number;
}

/** A subscription under way: the broker it consumes from (-1 until known), and how to end it. */
interface ActiveSubscription {
  readonly queue: LinkedQueue;
  nodeId: number;
  end(reason: string): void;
}

export class QueueLinks {
  private readonly links = new Map<string, Link>();
  private readonly subscriptions = new Set<ActiveSubscription>();
  private readonly timer: NodeJS.Timeout;
  private secret: string | null = null;
  private closed = false;

  constructor(
    private readonly cluster: () => ClusterView | null,
    private readonly selfNodeId: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.checkLeaders(), leaderCheckIntervalMs);
    this.timer.unref();
  }

  /** The cluster's inter-broker secret, known once this broker joined. */
  useSecret(secret: string): void {
    this.secret = secret;
  }

  /** The link a store uses for `queue` while another broker serves it. */
  forQueue(queue: LinkedQueue): QueueLeaderLink {
    return {
      forward: (message) => this.forward(queue, message),
      subscribe: (window, receiver, exclusive) => this.subscribe(queue, window, receiver, exclusive),
      get: () => this.get(queue),
      purge: async () => (await this.operations(queue)).queuePurge(queue.name),
      counts: async () => (await this.operations(queue)).queueDeclare(queue.name, { passive: true }),
      servingNodeId: () => this.cluster()?.partitionState(queueTopicName(queue.storageId), 0)?.leader ?? -1,
    };
  }

  private async get(queue: LinkedQueue): Promise<LinkedGet | null> {
    const channel = await this.operations(queue);
    const got = await channel.get(queue.name);
    if (got === null) return null;
    return {
      linked: { deliveryTag: got.deliveryTag, message: storedMessageOf(got), redelivered: got.redelivered, deliveryCount: deliveryCountHere },
      messageCount: got.messageCount,
      ack: () => {
        if (channel.isOpen) channel.ack(got.deliveryTag);
      },
      requeue: () => {
        if (channel.isOpen) channel.nack(got.deliveryTag, { requeue: true });
      },
    };
  }

  /**
   * The link's channel for basic.get, queue.purge and passive declares, made again when a refusal
   * (a queue deleted meanwhile: 404) closed it.
   */
  private async operations(queue: LinkedQueue): Promise<AmqpChannel> {
    const link = this.linkTo(this.servingBroker(queue), queue.virtualHost);
    const current = link.operations === null ? null : await link.operations.catch(() => null);
    if (current !== null && current.isOpen) return current;
    link.operations = link.connection.then((connection) => connection.createChannel());
    return link.operations;
  }

  private async forward(queue: LinkedQueue, message: StoredMessage): Promise<void> {
    const link = this.linkTo(this.servingBroker(queue), queue.virtualHost);
    // Bounded: past the limit a forward is refused (the publisher's nack) rather than held in memory.
    const bytes = message.body.length + message.properties.length;
    if (link.forwardedBytesInFlight + bytes > maxForwardedBytesInFlight) throw new Error(`more than ${maxForwardedBytesInFlight} bytes of forwarded publishes wait for broker ${link.nodeId}'s confirms`);
    link.forwardedBytesInFlight += bytes;
    try {
      const channel = await this.publisherChannel(link);
      await new Promise<void>((resolve, reject) => {
        channel.publish(message.exchange, message.routingKey, message.body, forwardedProperties(message.properties, queue.name), {
          onConfirm: (error) => (error === null ? resolve() : reject(error)),
        });
      });
    } finally {
      link.forwardedBytesInFlight -= bytes;
    }
  }

  /**
   * The link's confirm channel for forwards, made again when it closed or could not be opened
   * (the connection staying up): otherwise every later forward through the link would be nacked.
   * Forwards awaiting it in turn keep their order.
   */
  private async publisherChannel(link: Link): Promise<AmqpChannel> {
    const current = link.publisher;
    const channel = current === null ? null : await current.catch(() => null);
    if (channel !== null && channel.isOpen) return channel;
    // Only the first forward to find it closed opens the next one; the others wait for that.
    if (link.publisher === current) {
      link.publisher = link.connection.then(async (connection) => {
        const opened = await connection.createChannel();
        await opened.confirmSelect();
        return opened;
      });
    }
    return link.publisher!;
  }

  private subscribe(queue: LinkedQueue, initialWindow: number, receiver: LinkReceiver, exclusive: boolean): LinkSubscription {
    let channel: AmqpChannel | null = null;
    let window = initialWindow;
    let ended = false;
    const acks = new LinkAcks((deliveryTag, multiple) => {
      if (!ended && channel?.isOpen === true) channel.ack(deliveryTag, multiple);
    });
    let flushScheduled = false;
    const flushAcks = (): void => {
      flushScheduled = false;
      acks.flush();
    };
    const entry: ActiveSubscription = {
      queue,
      nodeId: -1,
      end: (reason) => {
        if (ended) return;
        // Acks gathered this turn go out before the channel closes (which gives back the rest).
        acks.flush();
        ended = true;
        this.subscriptions.delete(entry);
        if (channel !== null && channel.isOpen) void channel.close().catch(() => undefined);
        receiver.ended(reason);
      },
    };
    const start = async (): Promise<void> => {
      const nodeId = this.servingBroker(queue);
      entry.nodeId = nodeId;
      const connection = await this.linkTo(nodeId, queue.virtualHost).connection;
      const opened = await connection.createChannel();
      channel = opened;
      if (ended) {
        await opened.close();
        return;
      }
      void opened.closed.then((error) => entry.end(error === null ? 'link channel closed' : error.message));
      // A limit for the channel (global), so that it can change while the consumer runs.
      await opened.qos(window, { global: true });
      try {
        await opened.consume(
          queue.name,
          (delivery) => {
            acks.delivered(delivery.deliveryTag);
            if (!ended) receiver.delivered({ deliveryTag: delivery.deliveryTag, message: storedMessageOf(delivery), redelivered: delivery.redelivered, deliveryCount: deliveryCountHere });
          },
          { exclusive },
        );
      } catch (error) {
        if (error instanceof AmqpClosedError && error.replyCode === replyCodes.accessRefused) throw new InExclusiveUseError(error.replyText);
        throw error;
      }
      this.logger.debug('consuming a queue served by another broker', { queue: queue.name, virtualHost: queue.virtualHost, nodeId });
    };
    this.subscriptions.add(entry);
    const started = start().catch((error: unknown) => {
      entry.end(error instanceof Error ? error.message : String(error));
      throw error;
    });
    // Awaited by whoever asked for the subscription, if anyone (RemoteQueueSource.admit).
    started.catch(() => undefined);
    return {
      started,
      setWindow: (next) => {
        if (next === window) return;
        window = next;
        if (!ended && channel?.isOpen === true) channel.qos(next, { global: true }).catch(() => undefined);
      },
      ack: (deliveryTag) => {
        acks.ack(deliveryTag);
        if (flushScheduled) return;
        flushScheduled = true;
        setImmediate(flushAcks);
      },
      requeue: (deliveryTag) => {
        acks.givenBack(deliveryTag);
        if (!ended && channel?.isOpen === true) channel.nack(deliveryTag, { requeue: true });
      },
      close: () => entry.end('no consumers here any more'),
    };
  }

  /** The node id of the broker serving the queue now; throws when none does, or when it is this one. */
  private servingBroker(queue: LinkedQueue): number {
    if (this.closed) throw new Error('the broker is shutting down');
    const cluster = this.cluster();
    if (cluster === null) throw new Error('this broker has not joined its cluster yet');
    const leader = cluster.partitionState(queueTopicName(queue.storageId), 0)?.leader ?? -1;
    if (leader < 0) throw new Error(`no broker serves queue '${queue.name}' in vhost '${queue.virtualHost}' just now`);
    if (leader === this.selfNodeId) throw new Error(`queue '${queue.name}' in vhost '${queue.virtualHost}' is about to be served here`);
    return leader;
  }

  private linkTo(nodeId: number, virtualHost: string): Link {
    const key = `${nodeId}/${virtualHost}`;
    const existing = this.links.get(key);
    if (existing !== undefined) return existing;
    const broker = this.cluster()?.liveBrokers().find((live) => live.nodeId === nodeId);
    if (broker === undefined) throw new Error(`broker ${nodeId} is not registered in the cluster`);
    if (broker.amqpPort === undefined) throw new Error(`broker ${nodeId} has no AMQP listener`);
    if (this.secret === null) throw new Error('the inter-broker secret is not known yet');
    const connection = connectAmqp(
      { host: broker.host, port: broker.amqpPort, user: interBrokerUser, password: this.secret, vhost: virtualHost, heartbeatSeconds: linkHeartbeatSeconds, frameMaxBytes: linkFrameMaxBytes },
      { connectTimeoutMs: linkConnectTimeoutMs, connectionName: `osprey broker ${this.selfNodeId} queue link` },
    );
    const link: Link = { nodeId, connection, publisher: null, operations: null, forwardedBytesInFlight: 0 };
    this.links.set(key, link);
    const forget = (): void => {
      if (this.links.get(key) === link) this.links.delete(key);
    };
    connection.then(
      (opened) =>
        void opened.closed.then((error) => {
          forget();
          this.logger.info('queue link closed', { nodeId, virtualHost, reason: error?.message ?? 'closed' });
        }),
      (error: unknown) => {
        this.logger.info('queue link could not connect', { nodeId, virtualHost, reason: error instanceof Error ? error.message : String(error), redialAfterMs: linkRedialDelayMs });
        setTimeout(forget, linkRedialDelayMs).unref();
      },
    );
    return link;
  }

  /** Subscriptions to a broker that no longer serves their queue end; links to brokers gone are dropped. */
  private checkLeaders(): void {
    const cluster = this.cluster();
    if (cluster === null) return;
    for (const subscription of [...this.subscriptions]) {
      const leader = cluster.partitionState(queueTopicName(subscription.queue.storageId), 0)?.leader ?? -1;
      if (subscription.nodeId >= 0 && leader !== subscription.nodeId) subscription.end(`broker ${subscription.nodeId} no longer serves the queue (leader ${leader})`);
    }
    const live = new Set(cluster.liveBrokers().map((broker) => broker.nodeId));
    for (const [key, link] of [...this.links]) {
      if (live.has(link.nodeId)) continue;
      this.links.delete(key);
      void link.connection.then((connection) => connection.destroy(new Error(`broker ${link.nodeId} left the cluster`)), () => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (const subscription of [...this.subscriptions]) subscription.end('the broker is shutting down');
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((link) => link.connection.then((connection) => connection.close(), () => undefined)));
  }
}

/**
 * A delivery over a link as the queue here keeps it while it is taken: its properties as they came
 * (never decoded here: deliveryMode is read from the bytes).
 */
function storedMessageOf(delivery: Omit<AmqpDelivery, 'consumerTag'>): StoredMessage {
  return {
    exchange: delivery.exchange,
    routingKey: delivery.routingKey,
    properties: delivery.rawProperties,
    body: delivery.body,
    persistent: deliveryModeOfProperties(delivery.rawProperties) === 2,
    publishedAtMs: Date.now(),
    // Its expiry was the serving broker's to apply; here it is only held until a consumer takes it.
    expiresAtMs: null,
  };
}

/**
 * Returns are counted, and x-delivery-limit applied, where the queue is served (a requeue here is a
 * nack there); the x-delivery-count header it set travels in the properties as they came. So the
 * message here counts none of its own.
 */
const deliveryCountHere = 0;
