/**
 * One AMQP channel: the methods a client calls on it, and what the broker sends back on it.
 *
 * Synchronous methods (declare, bind, qos, consume, get, close …) are answered in order on a
 * channel, so they are sent one at a time and each waits for its reply; the next leaves when the
 * reply is in. basic.publish, basic.ack and basic.nack are asynchronous: they are queued on the
 * connection's frame writer at once, and every frame of one event-loop turn leaves in one write.
 *
 * From the broker: replies, deliveries (basic.deliver + header + body, assembled by
 * ContentAssembler), confirms (basic.ack / basic.nack on a confirm channel, tracked by
 * ConfirmTracker), basic.return, basic.cancel (the consumer's queue went away), channel.flow and
 * channel.close — which fails every pending call and confirm with an AmqpClosedError carrying the
 * reply code and text, and is answered with channel.close-ok.
 */
import type { AmqpFrame } from '../../protocol/amqp/frame-reader.js';
import { frameTypes } from '../../protocol/amqp/frame-reader.js';
import { decodeMethodPayload } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { ContentAssembler } from './content-assembler.js';
import type { AssembledContent } from './content-assembler.js';
import { ConfirmTracker } from './confirm-tracker.js';
import type { ConfirmCallback } from './confirm-tracker.js';
import { AmqpClientError, AmqpClosedError } from './errors.js';
import { toFieldTable } from './field-values.js';
import type { PlainFieldValue } from './field-values.js';
import type { FrameWriter } from './frame-writer.js';

type MethodNamed<Name extends AmqpMethod['name']> = Extract<AmqpMethod, { name: Name }>;
type ContentMethod = MethodNamed<'basic.deliver' | 'basic.get-ok' | 'basic.return'>;
export type FieldArguments = Readonly<Record<string, PlainFieldValue>> | FieldTable;

/** A message the broker pushed to a consumer. */
export interface AmqpDelivery {
  readonly consumerTag: string;
  readonly deliveryTag: bigint;
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: BasicProperties;
  /** The properties as the broker sent them (property flags + property list). */
  readonly rawProperties: Buffer;
  readonly body: Buffer;
}

/** A message basic.get took; messageCount is what was left in the queue. */
export interface AmqpGetMessage extends Omit<AmqpDelivery, 'consumerTag'> {
  readonly messageCount: number;
}

/** A mandatory message the broker could not route, sent back (basic.return). */
export interface AmqpReturnedMessage {
  readonly replyCode: number;
  readonly replyText: string;
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: BasicProperties;
  readonly body: Buffer;
}

/** What the channel needs from its connection. */
export interface ChannelHost {
  readonly writer: FrameWriter;
  /** The channel is closed: its number may be reused. */
  release(channelId: number): void;
}

interface PendingCall {
  readonly method: AmqpMethod;
  /** Reply names that answer the call. */
  readonly replies: readonly string[];
  /** Runs synchronously when the reply arrives (a consumer must be registered before its first delivery is read). */
  readonly complete: (reply: AmqpMethod | AssembledContent<ContentMethod>) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export interface ConsumeOptions {
  readonly consumerTag?: string;
  /** Messages count as acknowledged when sent (default false: ack them with ack()). */
  readonly noAck?: boolean;
  readonly exclusive?: boolean;
  readonly arguments?: FieldArguments;
}

export interface PublishOptions {
  readonly mandatory?: boolean;
  /** On a confirm channel: called when the broker confirms (null) or nacks the message. */
  readonly onConfirm?: ConfirmCallback;
}

type State = 'opening' | 'open' | 'closing' | 'closed';

export class AmqpChannel {
  private state: State = 'opening';
  private readonly calls: PendingCall[] = [];
  private readonly assembler = new ContentAssembler<ContentMethod>();
  private readonly consumers = new Map<string, (delivery: AmqpDelivery) => void>();
  private confirms: ConfirmTracker | null = null;
  private closeError: Error | null = null;
  private readonly closedPromise: Promise<Error | null>;
  private resolveClosed!: (error: Error | null) => void;
  /** Called with each unroutable mandatory message the broker returns. */
  onReturn: ((message: AmqpReturnedMessage) => void) | null = null;
  /** Called when the broker cancels a consumer (its queue was deleted). */
  onCancel: ((consumerTag: string) => void) | null = null;

  constructor(
    readonly id: number,
    private readonly host: ChannelHost,
  ) {
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Resolves once the channel is closed: null when closed by us, the error otherwise. */
  get closed(): Promise<Error | null> {
    return this.closedPromise;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Publishes waiting for the broker's confirm (0 outside confirm mode). */
  get unconfirmed(): number {
    return this.confirms?.outstanding ?? 0;
  }

  /** channel.open; the connection calls it once. */
  async open(): Promise<void> {
    await this.call({ name: 'channel.open', arguments: { reserved1: '' } }, ['channel.open-ok'], () => undefined, true);
    this.state = 'open';
  }

  // --- exchanges -------------------------------------------------------------------------------

  async exchangeDeclare(exchange: string, type: string, options: { durable?: boolean; autoDelete?: boolean; internal?: boolean; passive?: boolean; arguments?: FieldArguments } = {}): Promise<void> {
    await this.simple({
      name: 'exchange.declare',
      arguments: { reserved1: 0, exchange, type, passive: options.passive ?? false, durable: options.durable ?? false, autoDelete: options.autoDelete ?? false, internal: options.internal ?? false, noWait: false, arguments: toFieldTable(options.arguments) },
    }, 'exchange.declare-ok');
  }

  async exchangeDelete(exchange: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    await this.simple({ name: 'exchange.delete', arguments: { reserved1: 0, exchange, ifUnused: options.ifUnused ?? false, noWait: false } }, 'exchange.delete-ok');
  }

  async exchangeBind(destination: string, source: string, routingKey: string, bindArguments?: FieldArguments): Promise<void> {
    await this.simple({ name: 'exchange.bind', arguments: { reserved1: 0, destination, source, routingKey, noWait: false, arguments: toFieldTable(bindArguments) } }, 'exchange.bind-ok');
  }

  async exchangeUnbind(destination: string, source: string, routingKey: string, bindArguments?: FieldArguments): Promise<void> {
    await this.simple({ name: 'exchange.unbind', arguments: { reserved1: 0, destination, source, routingKey, noWait: false, arguments: toFieldTable(bindArguments) } }, 'exchange.unbind-ok');
  }

  // --- queues ----------------------------------------------------------------------------------

  /** queue.declare; an empty name asks the broker to make one up (returned as `queue`). */
  async queueDeclare(queue: string, options: { durable?: boolean; exclusive?: boolean; autoDelete?: boolean; passive?: boolean; arguments?: FieldArguments } = {}): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    const reply = await this.simple({
      name: 'queue.declare',
      arguments: { reserved1: 0, queue, passive: options.passive ?? false, durable: options.durable ?? false, exclusive: options.exclusive ?? false, autoDelete: options.autoDelete ?? false, noWait: false, arguments: toFieldTable(options.arguments) },
    }, 'queue.declare-ok');
    return { ...reply.arguments };
  }

  /** Returns how many messages the queue held. */
  async queueDelete(queue: string, options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<number> {
    const reply = await this.simple({ name: 'queue.delete', arguments: { reserved1: 0, queue, ifUnused: options.ifUnused ?? false, ifEmpty: options.ifEmpty ?? false, noWait: false } }, 'queue.delete-ok');
    return reply.arguments.messageCount;
  }

  /** Returns how many messages were removed. */
  async queuePurge(queue: string): Promise<number> {
    const reply = await this.simple({ name: 'queue.purge', arguments: { reserved1: 0, queue, noWait: false } }, 'queue.purge-ok');
    return reply.arguments.messageCount;
  }

  async queueBind(queue: string, exchange: string, routingKey: string, bindArguments?: FieldArguments): Promise<void> {
    await this.simple({ name: 'queue.bind', arguments: { reserved1: 0, queue, exchange, routingKey, noWait: false, arguments: toFieldTable(bindArguments) } }, 'queue.bind-ok');
  }

  async queueUnbind(queue: string, exchange: string, routingKey: string, bindArguments?: FieldArguments): Promise<void> {
    await this.simple({ name: 'queue.unbind', arguments: { reserved1: 0, queue, exchange, routingKey, arguments: toFieldTable(bindArguments) } }, 'queue.unbind-ok');
  }

  // --- publishing ------------------------------------------------------------------------------

  /** Puts the channel in publisher-confirm mode: every later publish is confirmed or nacked. */
  async confirmSelect(): Promise<void> {
    await this.simple({ name: 'confirm.select', arguments: { noWait: false } }, 'confirm.select-ok');
    this.confirms ??= new ConfirmTracker();
  }

  /**
   * basic.publish, its header and body frames, queued for this turn's write. Returns false when the
   * socket is congested: the caller should await `connection.drained()` before publishing more.
   */
  publish(exchange: string, routingKey: string, body: Buffer, properties: BasicProperties = {}, options: PublishOptions = {}): boolean {
    this.assertOpen();
    if (this.confirms !== null) {
      const onConfirm = options.onConfirm;
      this.confirms.track(onConfirm === undefined ? ignoreConfirm : (error) => callSafely(onConfirm, error));
    }
    else if (options.onConfirm !== undefined) throw new AmqpClientError('onConfirm given on a channel without confirm.select');
    const writer = this.host.writer;
    writer.method(this.id, { name: 'basic.publish', arguments: { reserved1: 0, exchange, routingKey, mandatory: options.mandatory ?? false, immediate: false } });
    writer.content(this.id, properties, body);
    return !writer.congested;
  }

  /** Resolves when every message published so far is confirmed; rejects on the first failure of the channel. */
  async waitForConfirms(): Promise<void> {
    if (this.confirms === null) throw new AmqpClientError('waitForConfirms on a channel without confirm.select');
    if (this.closeError !== null) throw this.closeError;
    await this.confirms.waitForIdle();
  }

  // --- consuming -------------------------------------------------------------------------------

  async qos(prefetchCount: number, options: { prefetchSize?: number; global?: boolean } = {}): Promise<void> {
    await this.simple({ name: 'basic.qos', arguments: { prefetchSize: options.prefetchSize ?? 0, prefetchCount, global: options.global ?? false } }, 'basic.qos-ok');
  }

  /** basic.consume; returns the consumer tag. `onMessage` sees every delivery, in order. */
  async consume(queue: string, onMessage: (delivery: AmqpDelivery) => void, options: ConsumeOptions = {}): Promise<string> {
    const method: AmqpMethod = {
      name: 'basic.consume',
      arguments: { reserved1: 0, queue, consumerTag: options.consumerTag ?? '', noLocal: false, noAck: options.noAck ?? false, exclusive: options.exclusive ?? false, noWait: false, arguments: toFieldTable(options.arguments) },
    };
    return this.call(method, ['basic.consume-ok'], (reply) => {
      const tag = (reply as MethodNamed<'basic.consume-ok'>).arguments.consumerTag;
      this.consumers.set(tag, onMessage);
      return tag;
    });
  }

  async cancel(consumerTag: string): Promise<void> {
    await this.call({ name: 'basic.cancel', arguments: { consumerTag, noWait: false } }, ['basic.cancel-ok'], () => this.consumers.delete(consumerTag));
  }

  ack(deliveryTag: bigint, multiple = false): void {
    this.assertOpen();
    this.host.writer.method(this.id, { name: 'basic.ack', arguments: { deliveryTag, multiple } });
  }

  nack(deliveryTag: bigint, options: { multiple?: boolean; requeue?: boolean } = {}): void {
    this.assertOpen();
    this.host.writer.method(this.id, { name: 'basic.nack', arguments: { deliveryTag, multiple: options.multiple ?? false, requeue: options.requeue ?? true } });
  }

  /** basic.get: one message, or null when the queue is empty. */
  async get(queue: string, options: { noAck?: boolean } = {}): Promise<AmqpGetMessage | null> {
    return this.call({ name: 'basic.get', arguments: { reserved1: 0, queue, noAck: options.noAck ?? false } }, ['basic.get-ok', 'basic.get-empty'], (reply) => {
      if ('name' in reply) return null; // get-empty
      const method = reply.method as MethodNamed<'basic.get-ok'>;
      return { ...method.arguments, properties: reply.properties, rawProperties: reply.rawProperties, body: reply.body };
    });
  }

  // --- closing ---------------------------------------------------------------------------------

  /** channel.close with 200; resolves on close-ok. Unconfirmed publishes fail. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') {
      await this.closedPromise;
      return;
    }
    this.state = 'closing';
    this.host.writer.method(this.id, { name: 'channel.close', arguments: { replyCode: replyCodes.replySuccess, replyText: 'closed by the client', classId: 0, methodId: 0 } });
    await this.closedPromise;
  }

  /** The connection went away (or closed): fail what is pending, without a word to the broker. */
  connectionEnded(error: Error | null): void {
    this.finish(error ?? new AmqpClientError('the connection was closed'), error);
  }

  // --- from the broker -------------------------------------------------------------------------

  /** A frame for this channel; throws AmqpClientError or MalformedInputError on a protocol violation (the connection closes). */
  handleFrame(frame: AmqpFrame): void {
    if (this.state === 'closed') return;
    if (frame.type === frameTypes.header) return this.completeContent(this.assembler.header(frame.payload));
    if (frame.type === frameTypes.body) return this.completeContent(this.assembler.body(frame.payload));
    if (frame.type !== frameTypes.method) throw new AmqpClientError(`frame type ${frame.type} on channel ${this.id}`);
    if (this.assembler.busy) throw new AmqpClientError(`a method frame on channel ${this.id} in the middle of a message`);
    const method = decodeMethodPayload(frame.payload);
    if (method.name === 'unknown') throw new AmqpClientError(`unknown method ${method.classId}.${method.methodId} on channel ${this.id}`);
    this.handleMethod(method);
  }

  private handleMethod(method: AmqpMethod): void {
    switch (method.name) {
      case 'basic.deliver':
      case 'basic.get-ok':
      case 'basic.return':
        this.assembler.start(method);
        return;
      case 'basic.ack':
      case 'basic.nack':
        if (this.confirms === null) throw new AmqpClientError(`${method.name} from the broker on a channel without confirm.select`);
        this.confirms.settle(method.arguments.deliveryTag, method.arguments.multiple, method.name === 'basic.ack');
        return;
      case 'basic.cancel':
        this.consumers.delete(method.arguments.consumerTag);
        if (!method.arguments.noWait) this.host.writer.method(this.id, { name: 'basic.cancel-ok', arguments: { consumerTag: method.arguments.consumerTag } });
        if (this.onCancel !== null) callSafely(this.onCancel, method.arguments.consumerTag);
        return;
      case 'channel.flow':
        // We never stop publishing on request, but the broker expects an answer.
        this.host.writer.method(this.id, { name: 'channel.flow-ok', arguments: { active: method.arguments.active } });
        return;
      case 'channel.close': {
        const { replyCode, replyText, classId, methodId } = method.arguments;
        this.host.writer.method(this.id, { name: 'channel.close-ok', arguments: {} });
        this.finish(new AmqpClosedError('channel', replyCode, replyText, classId, methodId), null);
        return;
      }
      case 'channel.close-ok':
        if (this.state !== 'closing') throw new AmqpClientError(`channel.close-ok on channel ${this.id}, which was not closing`);
        this.finish(new AmqpClientError(`channel ${this.id} is closed`), null);
        return;
      default:
        this.answerCall(method);
    }
  }

  private completeContent(message: AssembledContent<ContentMethod> | null): void {
    if (message === null) return;
    const method = message.method;
    if (method.name === 'basic.deliver') {
      const consumer = this.consumers.get(method.arguments.consumerTag);
      // After basic.cancel, deliveries already on the wire may still come: they are dropped
      // unacknowledged, and the broker requeues them when the channel closes.
      if (consumer === undefined) return;
      const { consumerTag, deliveryTag, redelivered, exchange, routingKey } = method.arguments;
      callSafely(consumer, { consumerTag, deliveryTag, redelivered, exchange, routingKey, properties: message.properties, rawProperties: message.rawProperties, body: message.body });
    } else if (method.name === 'basic.return') {
      if (this.onReturn !== null) callSafely(this.onReturn, { ...method.arguments, properties: message.properties, body: message.body });
    } else {
      this.answerCall(message);
    }
  }

  private answerCall(reply: AmqpMethod | AssembledContent<ContentMethod>): void {
    const name = 'name' in reply ? reply.name : reply.method.name;
    const call = this.calls[0];
    if (call === undefined || !call.replies.includes(name)) throw new AmqpClientError(`unexpected ${name} on channel ${this.id}`);
    this.calls.shift();
    try {
      call.resolve(call.complete(reply));
    } catch (error) {
      call.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const next = this.calls[0];
    if (next !== undefined) this.host.writer.method(this.id, next.method);
  }

  // --- plumbing --------------------------------------------------------------------------------

  private async simple<Name extends AmqpMethod['name']>(method: AmqpMethod, reply: Name): Promise<MethodNamed<Name>> {
    return this.call(method, [reply], (answer) => answer as MethodNamed<Name>);
  }

  private call<Result>(method: AmqpMethod, replies: readonly string[], complete: (reply: AmqpMethod | AssembledContent<ContentMethod>) => Result, opening = false): Promise<Result> {
    if (!opening) this.assertOpen();
    return new Promise<Result>((resolve, reject) => {
      this.calls.push({ method, replies, complete, resolve: resolve as (value: unknown) => void, reject });
      if (this.calls.length === 1) this.host.writer.method(this.id, method);
    });
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    throw this.closeError ?? new AmqpClientError(`channel ${this.id} is ${this.state}`);
  }

  /** Closed for good: `error` fails what is pending; `reported` is what `closed` resolves with. */
  private finish(error: Error, reported: Error | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error;
    for (const call of this.calls.splice(0)) call.reject(error);
    this.confirms?.failAll(error);
    this.consumers.clear();
    this.host.release(this.id);
    this.resolveClosed(error instanceof AmqpClosedError ? error : reported);
  }
}

function ignoreConfirm(): void {}

/**
 * Runs a caller's callback (consumer, confirm, return, cancel). What it throws is the caller's
 * bug, not the broker's: it must not pass for a protocol error and close the connection, so it is
 * rethrown on its own tick, where it surfaces as an uncaught exception like a throwing listener's.
 */
function callSafely<Argument>(callback: (argument: Argument) => void, argument: Argument): void {
  try {
    callback(argument);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
