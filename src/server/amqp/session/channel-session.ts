/**
 * What one AMQP channel does (everything but channel.* and the framing, which the connection
 * handles): declares and deletes through the queue broker, publishes (routing, publisher confirms,
 * transactions), consumers with their prefetch windows, basic.get, and the acknowledgements of
 * what it delivered. RabbitMQ's behaviour and reply texts throughout.
 */
import { randomBytes } from 'node:crypto';
import { AmqpChannelError, AmqpConnectionError } from '../../../protocol/amqp/errors.js';
import type { AmqpMethod } from '../../../protocol/amqp/method-payload.js';
import { replyCodes } from '../../../protocol/amqp/reply-codes.js';
import { appendToQueues, type AppendRefusals } from '../../../queues/append-to-queues.js';
import { messageExpirationMs } from '../../../queues/queue-options.js';
import { forwardedTarget, propertiesAsPublished } from '../../../queues/forwarded-publish.js';
import { decodeRawProperties } from '../../../protocol/amqp/content-header.js';
import { holdDelayed, notDelayed } from '../../../queues/delayed/hold-delayed.js';
import type { Exchange } from '../../../queues/exchange.js';
import type { Queue, QueueConsumer } from '../../../queues/queue.js';
import type { QueueBroker } from '../../../queues/queue-broker.js';
import type { QueuedMessage, StoredMessage } from '../../../queues/queue-store/stored-message.js';
import type { VirtualHost } from '../../../queues/virtual-host.js';
import { StreamQueue } from '../../../queues/streams/stream-queue.js';
import { streamConsumerStart } from '../../../queues/streams/stream-rules.js';
import type { FieldTable } from '../../../protocol/amqp/field-table.js';
import type { ChannelHandler, ChannelOutput, ConnectionInfo, IncomingPublish } from '../channel-handler.js';
import { PublisherConfirms } from './confirms.js';
import type { PublishGate } from './index.js';
import { UnackedDeliveries, type UnackedDelivery } from './unacked-deliveries.js';
import { encodeConsumerTag } from '../frame-writer.js';
import { DirectReplies, isReplyAddress, propertiesWithReplyTo, replyToPseudoQueue, type ReplyReceiver } from './direct-reply-to.js';

/** What the channels of one connection share. */
export interface ConnectionState {
  readonly info: ConnectionInfo;
  /** Unacknowledged deliveries on all its channels (amqp.maxUnackedMessagesPerConnection). */
  unackedCount: number;
  readonly maxUnackedMessages: number;
  /** The client asked to be told when the broker cancels its consumers (capability consumer_cancel_notify). */
  readonly consumerCancelNotify: boolean;
  readonly channels: Set<ChannelSession>;
}

type Mode = 'plain' | 'confirm' | 'transaction';

/** basic.consume's arguments, as the channel uses them. */
type ConsumeRequest = { readonly queue: string; readonly consumerTag: string; readonly noAck: boolean; readonly exclusive: boolean; readonly noWait: boolean; readonly arguments: FieldTable };

/** What a transaction holds until tx.commit. */
type TransactionStep = { readonly kind: 'publish'; readonly publish: IncomingPublish } | { readonly kind: 'settle'; readonly tag: number; readonly multiple: boolean; readonly outcome: 'ack' | 'requeue' | 'drop' };

class ChannelConsumer implements QueueConsumer {
  unackedCount = 0;
  /** The tag as basic.deliver carries it, encoded once. */
  readonly encodedTag: Buffer;

  constructor(
    private readonly channel: ChannelSession,
    readonly tag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** basic.qos prefetch-count with global=false at the time of basic.consume; 0 = unlimited. */
    readonly prefetchCount: number,
  ) {
    this.encodedTag = encodeConsumerTag(tag);
  }

  get deliveryWindow(): number {
    return deliveryWindowOf(this.noAck, this.prefetchCount, this.channel.channelPrefetchCount);
  }

  canTake(): boolean {
    if (!this.channel.mayDeliver()) return false;
    if (this.noAck) return true;
    return (this.prefetchCount === 0 || this.unackedCount < this.prefetchCount) && this.channel.hasWindow();
  }

  deliver(queue: Queue, message: QueuedMessage): void {
    this.channel.deliver(this, queue, message);
  }

  cancelledByBroker(): void {
    this.channel.consumerCancelledByBroker(this);
  }
}

export class ChannelSession implements ChannelHandler, ReplyReceiver {
  private mode: Mode = 'plain';
  private flowActive = true;
  private closed = false;
  private readonly consumers = new Map<string, ChannelConsumer>();
  private readonly unacked = new UnackedDeliveries();
  private readonly confirms: PublisherConfirms;
  private transaction: TransactionStep[] = [];
  /** basic.qos global=false: the prefetch of consumers started after it. */
  private consumerPrefetch = 0;
  /** basic.qos global=true: unacked deliveries on the whole channel; 0 = unlimited. */
  private channelPrefetch = 0;
  /** The publishes waiting for the same durable promise as the last one (confirmWhenDurable). */
  private confirmGroup: { readonly durable: Promise<unknown>; readonly firstSequence: number; lastSequence: number } | null = null;
  /** The consumer of direct replies (direct-reply-to.ts) and this channel's reply address, when it has one. */
  private replyConsumer: { readonly tag: string; readonly encodedTag: Buffer; readonly address: string } | null = null;
  /** Reused by every publish: route() fills it synchronously. */
  private readonly routed = new Set<Queue>();
  private readonly refusals: AppendRefusals = { refused: false };

  constructor(
    private readonly broker: QueueBroker,
    private readonly connection: ConnectionState,
    private readonly output: ChannelOutput,
    private readonly gate: PublishGate,
    private readonly replies: DirectReplies,
  ) {
    this.confirms = new PublisherConfirms((method) => this.output.sendMethod(method));
    output.onWritable(() => this.wakeConsumers());
  }

  private get host(): VirtualHost {
    return this.broker.virtualHost(this.connection.info.virtualHost);
  }

  private get connectionId(): number {
    return this.connection.info.id;
  }

  // ── methods ───────────────────────────────────────────────────────────────────────────────

  handleMethod(method: AmqpMethod): void | Promise<void> {
    switch (method.name) {
      case 'exchange.declare': {
        const { exchange, type, passive, durable, autoDelete, internal, noWait } = method.arguments;
        return this.broker.declareExchange(this.host, { name: exchange, type, passive, durable, autoDelete, internal, arguments: method.arguments.arguments }).then(() => {
          if (!noWait) this.output.sendMethod({ name: 'exchange.declare-ok', arguments: {} });
        });
      }
      case 'exchange.delete': {
        const { exchange, ifUnused, noWait } = method.arguments;
        return this.broker.deleteExchange(this.host, exchange, ifUnused).then(() => {
          if (!noWait) this.output.sendMethod({ name: 'exchange.delete-ok', arguments: {} });
        });
      }
      case 'exchange.bind':
      case 'exchange.unbind': {
        const { destination, source, routingKey, noWait } = method.arguments;
        const request = { source, destination, routingKey, arguments: method.arguments.arguments };
        const binding = method.name === 'exchange.bind' ? this.broker.bindExchange(this.host, request) : this.broker.unbindExchange(this.host, request);
        return binding.then(() => {
          if (noWait) return;
          if (method.name === 'exchange.bind') this.output.sendMethod({ name: 'exchange.bind-ok', arguments: {} });
          else this.output.sendMethod({ name: 'exchange.unbind-ok', arguments: {} });
        });
      }
      case 'queue.declare': {
        const { queue, passive, durable, exclusive, autoDelete, noWait } = method.arguments;
        if (queue === replyToPseudoQueue || isReplyAddress(queue)) return this.declareReplyQueue(queue, noWait);
        return this.broker.declareQueue(this.host, { name: queue, passive, durable, exclusive, autoDelete, arguments: method.arguments.arguments }, this.connectionId).then(async (declared) => {
          if (noWait) return;
          const { messageCount, consumerCount } = await declared.servedCounts();
          this.output.sendMethod({ name: 'queue.declare-ok', arguments: { queue: declared.name, messageCount, consumerCount } });
        });
      }
      case 'queue.bind': {
        const { queue, exchange, routingKey, noWait } = method.arguments;
        return this.broker.bindQueue(this.host, { source: exchange, destination: queue, routingKey, arguments: method.arguments.arguments }, this.connectionId).then(() => {
          if (!noWait) this.output.sendMethod({ name: 'queue.bind-ok', arguments: {} });
        });
      }
      case 'queue.unbind': {
        const { queue, exchange, routingKey } = method.arguments;
        return this.broker.unbindQueue(this.host, { source: exchange, destination: queue, routingKey, arguments: method.arguments.arguments }, this.connectionId).then(() => {
          this.output.sendMethod({ name: 'queue.unbind-ok', arguments: {} });
        });
      }
      case 'queue.purge': {
        const answer = (count: number): void => {
          if (!method.arguments.noWait) this.output.sendMethod({ name: 'queue.purge-ok', arguments: { messageCount: count } });
        };
        return this.broker.purgeQueue(this.host, method.arguments.queue, this.connectionId).then(answer);
      }
      case 'queue.delete': {
        const { queue, ifUnused, ifEmpty, noWait } = method.arguments;
        return this.broker.deleteQueue(this.host, queue, { ifUnused, ifEmpty }, this.connectionId).then((count) => {
          if (!noWait) this.output.sendMethod({ name: 'queue.delete-ok', arguments: { messageCount: count } });
        });
      }
      case 'basic.qos':
        return this.qos(method.arguments.prefetchSize, method.arguments.prefetchCount, method.arguments.global);
      case 'basic.consume':
        return this.consume(method.arguments);
      case 'basic.cancel':
        return this.cancel(method.arguments.consumerTag, method.arguments.noWait);
      case 'basic.get':
        return this.get(method.arguments.queue, method.arguments.noAck);
      case 'basic.ack':
        return this.settle(Number(method.arguments.deliveryTag), method.arguments.multiple, 'ack');
      case 'basic.nack':
        return this.settle(Number(method.arguments.deliveryTag), method.arguments.multiple, method.arguments.requeue ? 'requeue' : 'drop');
      case 'basic.reject':
        return this.settle(Number(method.arguments.deliveryTag), false, method.arguments.requeue ? 'requeue' : 'drop');
      case 'basic.recover':
      case 'basic.recover-async':
        if (!method.arguments.requeue) throw new AmqpConnectionError(replyCodes.notImplemented, 'NOT_IMPLEMENTED - requeue=false');
        this.requeueAll();
        if (method.name === 'basic.recover') this.output.sendMethod({ name: 'basic.recover-ok', arguments: {} });
        return;
      case 'confirm.select':
        if (this.mode === 'transaction') throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode');
        this.mode = 'confirm';
        if (!method.arguments.noWait) this.output.sendMethod({ name: 'confirm.select-ok', arguments: {} });
        return;
      case 'tx.select':
        if (this.mode === 'confirm') throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - cannot switch from confirm to tx mode');
        this.mode = 'transaction';
        this.output.sendMethod({ name: 'tx.select-ok', arguments: {} });
        return;
      case 'tx.commit':
        return this.commit();
      case 'tx.rollback':
        if (this.mode !== 'transaction') throw notTransactional();
        this.transaction = [];
        this.output.sendMethod({ name: 'tx.rollback-ok', arguments: {} });
        return;
      default:
        throw new AmqpConnectionError(replyCodes.commandInvalid, `COMMAND_INVALID - unexpected method ${method.name} on a channel`);
    }
  }

  // ── publishing ────────────────────────────────────────────────────────────────────────────

  handlePublish(publish: IncomingPublish): void | Promise<void> {
    if (this.gate.closed) return this.gate.whenOpen().then(() => this.handlePublish(publish));
    if (publish.immediate) throw new AmqpConnectionError(replyCodes.notImplemented, 'NOT_IMPLEMENTED - immediate=true');
    const host = this.host;
    if (this.connection.info.interBroker === true) {
      const target = forwardedTarget(publish.header.properties);
      if (target !== null) return this.handleForwarded(host, target, publish);
    }
    const exchange = this.broker.exchange(host, publish.exchange);
    if (exchange.settings.internal) throw new AmqpChannelError(replyCodes.accessRefused, `ACCESS_REFUSED - cannot publish to internal exchange '${publish.exchange}' in vhost '${host.name}'`);
    if (publish.header.properties.expiration !== undefined) messageExpirationMs(publish.header.properties.expiration); // refused here, before anything is done
    if (publish.header.properties.replyTo === replyToPseudoQueue) publish = this.withReplyAddress(publish);
    if (this.mode === 'transaction') {
      this.transaction.push({ kind: 'publish', publish });
      return;
    }
    const sequence = this.mode === 'confirm' ? this.confirms.next() : 0;
    const durable = this.publish(host, exchange, publish);
    if (sequence === 0) return;
    if (durable === null) this.confirms.confirmed(sequence);
    else if (durable === refused) this.confirms.failedToStore(sequence);
    else this.confirmWhenDurable(durable, sequence);
  }

  /**
   * A publish another broker routed to a queue served here (queues/forwarded-publish.ts): stored in
   * that queue only, with the exchange and routing key it was published with. Refused (nack) when
   * the queue is gone, full (reject-publish), or not served here either: a forwarded publish is
   * never forwarded again, so leadership moving meanwhile cannot send it round in circles.
   */
  private handleForwarded(host: VirtualHost, target: string, publish: IncomingPublish): void {
    const sequence = this.mode === 'confirm' ? this.confirms.next() : 0;
    const queue = host.queues.get(target);
    const published = propertiesAsPublished(publish.header.properties);
    let durable: Promise<unknown> | null | typeof refused = refused;
    if (queue !== undefined && !queue.deleted && queue.store.servedHere !== false && published !== null) {
      // Checked by the broker the client published to; read again here only for what the queue needs.
      const { deliveryMode, expiration } = decodeRawProperties(published);
      const publishedAtMs = Date.now();
      const message: StoredMessage = {
        exchange: publish.exchange,
        routingKey: publish.routingKey,
        properties: published,
        body: publish.body,
        persistent: deliveryMode === 2,
        publishedAtMs,
        expiresAtMs: expiration === undefined ? null : publishedAtMs + messageExpirationMs(expiration),
      };
      const appended = queue.enqueue(message);
      if (appended !== null) durable = queue.holdsDurably(message) ? appended.durable : null;
    }
    if (sequence === 0) return;
    if (durable === null) this.confirms.confirmed(sequence);
    else if (durable === refused) this.confirms.failedToStore(sequence);
    else this.confirmWhenDurable(durable, sequence);
  }

  /**
   * Confirms `sequence` once `durable` resolves. A log's appends of one event-loop turn share one
   * durable promise (one group commit), so consecutive publishes waiting on the same promise share
   * one callback, as a range of sequences: those in it that were answered otherwise (not routed,
   * refused) are no longer pending, and confirming them again does nothing.
   */
  private confirmWhenDurable(durable: Promise<unknown>, sequence: number): void {
    const group = this.confirmGroup;
    if (group !== null && group.durable === durable) {
      group.lastSequence = sequence;
      return;
    }
    const next = { durable, firstSequence: sequence, lastSequence: sequence };
    this.confirmGroup = next;
    durable.then(
      () => {
        for (let waiting = next.firstSequence; waiting <= next.lastSequence; waiting++) this.confirms.confirmed(waiting);
      },
      () => {
        for (let waiting = next.firstSequence; waiting <= next.lastSequence; waiting++) this.confirms.failedToStore(waiting);
      },
    );
  }

  /**
   * Routes and enqueues; returns what resolves once every queue holds it durably, null when nothing
   * is to wait for, or `refused` when a queue refused it (full, with overflow reject-publish): the
   * publisher's confirm is then a nack, as RabbitMQ sends when any of the queues refuses.
   */
  private publish(host: VirtualHost, exchange: Exchange, publish: IncomingPublish): Promise<unknown> | null | typeof refused {
    if (exchange.delayedMessages !== null) {
      const held = holdDelayed(exchange.delayedMessages, publish);
      if (held !== notDelayed) return held;
    }
    if (publish.exchange === '' && isReplyAddress(publish.routingKey)) {
      // A reply: handed to the requester's channel if it is there, dropped otherwise; routed either way.
      this.replies.receiver(publish.routingKey)?.receiveReply(publish.routingKey, publish.properties, publish.body);
      return null;
    }
    const routed = this.routed;
    routed.clear();
    host.route(exchange, publish.routingKey, publish.header.properties.headers, routed);
    if (routed.size === 0) {
      if (publish.mandatory) {
        this.output.sendContent(
          { name: 'basic.return', arguments: { replyCode: replyCodes.noRoute, replyText: 'NO_ROUTE', exchange: publish.exchange, routingKey: publish.routingKey } },
          publish.properties,
          publish.body,
        );
      }
      return null;
    }
    const publishedAtMs = Date.now();
    const expiration = publish.header.properties.expiration;
    const message: StoredMessage = {
      exchange: publish.exchange,
      routingKey: publish.routingKey,
      properties: publish.properties,
      body: publish.body,
      persistent: publish.header.properties.deliveryMode === 2,
      publishedAtMs,
      expiresAtMs: expiration === undefined ? null : publishedAtMs + messageExpirationMs(expiration),
    };
    const refusals = this.refusals;
    refusals.refused = false;
    const durable = appendToQueues(routed, message, refusals);
    routed.clear();
    return refusals.refused ? refused : durable;
  }

  private async commit(): Promise<void> {
    if (this.mode !== 'transaction') throw notTransactional();
    const steps = this.transaction;
    this.transaction = [];
    const host = this.host;
    const waits: Promise<unknown>[] = [];
    for (const step of steps) {
      if (step.kind === 'publish') {
        // The exchange may have gone since the publish was taken into the transaction.
        const durable = this.publish(host, this.broker.exchange(host, step.publish.exchange), step.publish);
        if (durable !== null && durable !== refused) waits.push(durable);
      } else {
        this.settleNow(step.tag, step.multiple, step.outcome);
      }
    }
    await Promise.all(waits);
    this.output.sendMethod({ name: 'tx.commit-ok', arguments: {} });
  }

  // ── consuming ─────────────────────────────────────────────────────────────────────────────

  private qos(prefetchSize: number, prefetchCount: number, global: boolean): void {
    if (prefetchSize !== 0) throw new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - prefetch_size!=0 (${prefetchSize})`);
    if (global) this.channelPrefetch = prefetchCount;
    else this.consumerPrefetch = prefetchCount;
    this.output.sendMethod({ name: 'basic.qos-ok', arguments: {} });
    this.wakeConsumers();
  }

  private consume(request: ConsumeRequest): void | Promise<void> {
    if (request.queue === replyToPseudoQueue) return this.consumeReplies(request.consumerTag, request.noAck, request.noWait);
    const queue = this.broker.queue(this.host, request.queue, this.connectionId);
    const tag = request.consumerTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url')}` : request.consumerTag;
    if (this.consumers.has(tag)) throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - attempt to reuse consumer tag '${tag}'`);
    if (queue.hasExclusiveConsumer || (request.exclusive && queue.consumerCount > 0)) throw queue.inExclusiveUse();
    // A queue another broker serves: that broker's word first (exclusive use is judged there).
    const admitted = queue.admitConsumer(request.exclusive, deliveryWindowOf(request.noAck, this.consumerPrefetch, this.channelPrefetch));
    if (admitted === null) return this.startConsumer(queue, tag, request);
    return admitted.then(() => {
      // Other channels ran meanwhile: this one may be closed, the queue gone, or taken exclusively here.
      if (this.closed) return queue.noteConsumers();
      if (queue.deleted) throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no queue '${queue.name}' in vhost '${queue.virtualHost}'`);
      if (queue.hasExclusiveConsumer || (request.exclusive && queue.consumerCount > 0)) {
        queue.noteConsumers();
        throw queue.inExclusiveUse();
      }
      this.startConsumer(queue, tag, request);
    });
  }

  private startConsumer(queue: Queue, tag: string, request: ConsumeRequest): void {
    const host = this.host;
    // A stream consumer reads from its own position (x-stream-offset), under RabbitMQ's conditions.
    const streamStart = queue instanceof StreamQueue ? streamConsumerStart({ ...request, consumerPrefetch: this.consumerPrefetch, channelPrefetch: this.channelPrefetch }, queue.name, host.name) : null;
    const consumer = new ChannelConsumer(this, tag, queue, request.noAck, request.exclusive, this.consumerPrefetch);
    this.consumers.set(tag, consumer);
    if (!request.noWait) this.output.sendMethod({ name: 'basic.consume-ok', arguments: { consumerTag: tag } });
    // Deliveries start on a later turn (Queue.scheduleDispatch), after consume-ok.
    if (streamStart !== null) (queue as StreamQueue).addStreamConsumer(consumer, streamStart);
    else queue.addConsumer(consumer);
  }

  private cancel(tag: string, noWait: boolean): void {
    if (this.replyConsumer !== null && this.replyConsumer.tag === tag) this.stopReplies();
    const consumer = this.consumers.get(tag);
    if (consumer !== undefined) this.removeConsumer(consumer);
    if (!noWait) this.output.sendMethod({ name: 'basic.cancel-ok', arguments: { consumerTag: tag } });
  }

  private removeConsumer(consumer: ChannelConsumer): void {
    this.consumers.delete(consumer.tag);
    if (consumer.queue.removeConsumer(consumer)) this.broker.autoDeleteQueue(consumer.queue);
  }

  consumerCancelledByBroker(consumer: ChannelConsumer): void {
    this.consumers.delete(consumer.tag);
    if (this.connection.consumerCancelNotify && !this.closed) {
      this.output.sendMethod({ name: 'basic.cancel', arguments: { consumerTag: consumer.tag, noWait: true } });
    }
  }

  private get(queueName: string, noAck: boolean): void | Promise<void> {
    const queue = this.broker.queue(this.host, queueName, this.connectionId);
    const fromServer = queue.takeFromServer();
    if (fromServer !== null) return fromServer.then((got) => this.answerGet(queue, got?.message ?? null, noAck, got?.messageCount));
    this.answerGet(queue, queue.take(), noAck);
  }

  /** `messageCount`: ready messages left, where the queue is served (this broker's count by default). */
  private answerGet(queue: Queue, message: QueuedMessage | null, noAck: boolean, messageCount = queue.messageCount): void {
    if (message === null) {
      this.output.sendMethod({ name: 'basic.get-empty', arguments: { reserved1: '' } });
      return;
    }
    const tag = this.unacked.nextTag();
    if (noAck) queue.settle(message);
    else this.trackUnacked(tag, { queue, message, consumerTag: null });
    const { exchange, routingKey, body } = message.message;
    const properties = queue.deliveryProperties(message);
    this.output.sendContent(
      { name: 'basic.get-ok', arguments: { deliveryTag: BigInt(tag), redelivered: message.redelivered, exchange, routingKey, messageCount } },
      properties,
      body,
    );
  }

  // ── direct reply-to ───────────────────────────────────────────────────────────────────────

  /** basic.consume on amq.rabbitmq.reply-to: no-ack only, one per channel (RabbitMQ's 406 texts). */
  private consumeReplies(requestedTag: string, noAck: boolean, noWait: boolean): void {
    if (!noAck) throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - reply consumer cannot acknowledge');
    if (this.replyConsumer !== null) throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - reply consumer already set');
    const tag = requestedTag === '' ? `amq.ctag-${randomBytes(16).toString('base64url')}` : requestedTag;
    if (this.consumers.has(tag)) throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - attempt to reuse consumer tag '${tag}'`);
    this.replyConsumer = { tag, encodedTag: encodeConsumerTag(tag), address: this.replies.register(this) };
    if (!noWait) this.output.sendMethod({ name: 'basic.consume-ok', arguments: { consumerTag: tag } });
  }

  private stopReplies(): void {
    if (this.replyConsumer === null) return;
    this.replies.unregister(this.replyConsumer.address);
    this.replyConsumer = null;
  }

  /** A publish whose reply-to is the pseudo-queue carries this channel's reply address instead. */
  private withReplyAddress(publish: IncomingPublish): IncomingPublish {
    const consumer = this.replyConsumer;
    if (consumer === null) throw new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - fast reply consumer does not exist');
    return {
      ...publish,
      header: { ...publish.header, properties: { ...publish.header.properties, replyTo: consumer.address } },
      properties: propertiesWithReplyTo(publish.properties, consumer.address),
    };
  }

  /**
   * queue.declare of the pseudo-queue (always there: no messages, one consumer, as RabbitMQ answers)
   * or of a reply address: the same while its channel consumes; 404 otherwise, passive or not (it
   * cannot be created).
   */
  private declareReplyQueue(name: string, noWait: boolean): void {
    if (name !== replyToPseudoQueue && this.replies.receiver(name) === undefined) {
      throw new AmqpChannelError(replyCodes.notFound, `NOT_FOUND - no queue '${name}' in vhost '${this.host.name}'`);
    }
    if (!noWait) this.output.sendMethod({ name: 'queue.declare-ok', arguments: { queue: name, messageCount: 0, consumerCount: 1 } });
  }

  /** A direct reply for this channel: delivered now, or dropped when the channel cannot take it. */
  receiveReply(routingKey: string, properties: Buffer, body: Buffer): boolean {
    const consumer = this.replyConsumer;
    if (consumer === null || !this.mayDeliver()) return false;
    this.output.sendDelivery(consumer.encodedTag, this.unacked.nextTag(), false, '', routingKey, properties, body);
    return true;
  }

  /** Whether deliveries may go out on this channel now (open, flow on, socket not backed up). */
  mayDeliver(): boolean {
    return !this.closed && this.flowActive && this.output.writable;
  }

  /** Whether the channel's and the connection's unacked windows have room. */
  /** basic.qos global=true: unacknowledged deliveries of the whole channel at most; 0 = unlimited. */
  get channelPrefetchCount(): number {
    return this.channelPrefetch;
  }

  hasWindow(): boolean {
    return (this.channelPrefetch === 0 || this.unacked.size < this.channelPrefetch) && this.connection.unackedCount < this.connection.maxUnackedMessages;
  }

  deliver(consumer: ChannelConsumer, queue: Queue, message: QueuedMessage): void {
    const tag = this.unacked.nextTag();
    if (consumer.noAck) queue.settle(message);
    else {
      consumer.unackedCount++;
      this.trackUnacked(tag, { queue, message, consumerTag: consumer.tag });
    }
    const stored = message.message;
    this.output.sendDelivery(consumer.encodedTag, tag, message.redelivered, stored.exchange, stored.routingKey, queue.deliveryProperties(message), stored.body);
  }

  private trackUnacked(tag: number, delivery: UnackedDelivery): void {
    this.unacked.track(tag, delivery);
    this.connection.unackedCount++;
  }

  // ── acknowledgements ──────────────────────────────────────────────────────────────────────

  private settle(tag: number, multiple: boolean, outcome: 'ack' | 'requeue' | 'drop'): void {
    if (this.mode === 'transaction') {
      this.transaction.push({ kind: 'settle', tag, multiple, outcome });
      return;
    }
    this.settleNow(tag, multiple, outcome);
  }

  private settleNow(tag: number, multiple: boolean, outcome: 'ack' | 'requeue' | 'drop'): void {
    const deliveries = this.unacked.take(tag, multiple);
    if (deliveries === null) throw new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - unknown delivery tag ${tag}`);
    this.release(deliveries, outcome);
  }

  private requeueAll(): void {
    this.release(this.unacked.takeAll(), 'requeue');
  }

  private release(deliveries: readonly UnackedDelivery[], outcome: 'ack' | 'requeue' | 'give back' | 'drop'): void {
    if (deliveries.length === 0) return;
    const wasAtLimit = this.connection.unackedCount >= this.connection.maxUnackedMessages;
    this.connection.unackedCount -= deliveries.length;
    for (const delivery of deliveries) {
      if (delivery.consumerTag !== null) {
        const consumer = this.consumers.get(delivery.consumerTag);
        if (consumer !== undefined) consumer.unackedCount--;
      }
      if (delivery.queue.deleted) continue;
      if (outcome === 'requeue') delivery.queue.requeue(delivery.message);
      else if (outcome === 'give back') delivery.queue.giveBack(delivery.message);
      else if (outcome === 'drop') delivery.queue.reject(delivery.message);
      else delivery.queue.settle(delivery.message);
    }
    if (wasAtLimit) for (const channel of this.connection.channels) channel.wakeConsumers();
    else this.wakeConsumers();
  }

  // ── flow and lifecycle ────────────────────────────────────────────────────────────────────

  setFlow(active: boolean): void {
    this.flowActive = active;
    if (active) this.wakeConsumers();
  }

  /** Nudges the queues of this channel's consumers: they may deliver again. */
  wakeConsumers(): void {
    for (const consumer of this.consumers.values()) consumer.queue.scheduleDispatch();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.confirms.close();
    this.transaction = [];
    this.stopReplies();
    for (const consumer of [...this.consumers.values()]) this.removeConsumer(consumer);
    // Another broker's link closing gives back what it held unseen or lost with it: not counted as returns.
    if (this.connection.info.interBroker === true) this.release(this.unacked.takeAll(), 'give back');
    else this.requeueAll();
    this.connection.channels.delete(this);
  }
}

/**
 * How many unacknowledged deliveries a consumer may hold: its own prefetch limit, or its channel's,
 * whichever is lower; 0 (no limit) for a no-ack consumer or when neither is set.
 */
function deliveryWindowOf(noAck: boolean, consumerPrefetch: number, channelPrefetch: number): number {
  if (noAck) return 0;
  if (consumerPrefetch === 0) return channelPrefetch;
  return channelPrefetch === 0 ? consumerPrefetch : Math.min(consumerPrefetch, channelPrefetch);
}

/** What publish() returns when a queue refused the message. */
const refused = Symbol('refused');

function notTransactional(): AmqpChannelError {
  return new AmqpChannelError(replyCodes.preconditionFailed, 'PRECONDITION_FAILED - channel is not transactional');
}
