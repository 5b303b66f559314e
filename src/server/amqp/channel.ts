/**
 * One open channel of a connection: its frames handled strictly in the order received, channel.*
 * answered here, content assembled, everything else handed to the channel's ChannelHandler.
 *
 *   state   open ──channel.close from client──▶ gone (handler closed, close-ok sent)
 *             │
 *             └──error / closeWithError──▶ closing ──channel.close-ok (or close)──▶ gone
 *   In closing every frame but close-ok and close is dropped, as the specification asks.
 *
 * While a handler's promise is pending the channel is busy: its later frames wait here, in order,
 * and count towards the connection's held bytes (the connection stops reading past
 * amqp.maxBufferedBytesPerConnection). Other channels go on.
 */
import type { AmqpFrame } from '../../protocol/amqp/frame-reader.js';
import { frameTypes } from '../../protocol/amqp/frame-reader.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { MalformedInputError } from '../../protocol/wire/errors.js';
import type { ChannelHandler, ChannelOutput, IncomingPublish } from './channel-handler.js';
import { ContentAssembly, publishMethodIds } from './content-assembly.js';
import { AmqpChannelError, AmqpConnectionError } from './errors.js';
import type { FrameWriter } from './frame-writer.js';
import { decodeMethodFrame, idsOf, noMethod, senderOf } from './method-frames.js';
import type { MethodIds } from './method-frames.js';

/** What a channel needs from its connection. */
export interface ChannelHost {
  readonly writer: FrameWriter;
  readonly writable: boolean;
  readonly maxContentBytes: number;
  /** Frames held behind a busy handler grew (positive) or shrank (negative) by this many bytes. */
  heldBytesChanged(deltaBytes: number): void;
  /** A hard error: the whole connection closes. */
  connectionError(error: AmqpConnectionError, blame: MethodIds): void;
  /** A handler threw something that is not an AMQP error: logged, then 541. */
  internalError(error: unknown, blame: MethodIds): void;
  /** The channel is gone; frames it still held (sent after its close) are the connection's to route again. */
  channelGone(channelNumber: number, laterFrames: readonly AmqpFrame[]): void;
}

type ChannelState = 'open' | 'closing' | 'gone';

export class AmqpChannel {
  private state: ChannelState = 'open';
  private busy = false;
  private readonly waiting: AmqpFrame[] = [];
  private assembly: ContentAssembly | null = null;
  private handler: ChannelHandler | null = null;
  private readonly writableListeners: Array<() => void> = [];

  /** What the handler sends through. */
  readonly output: ChannelOutput;

  constructor(
    readonly channelNumber: number,
    private readonly host: ChannelHost,
  ) {
    const writable = (): boolean => host.writable;
    this.output = {
      channelNumber,
      sendMethod: (method) => {
        if (this.state === 'open') host.writer.sendMethod(channelNumber, method);
      },
      sendContent: (method, properties, body) => {
        if (this.state === 'open') host.writer.sendContent(channelNumber, method, properties, body);
      },
      sendDelivery: (consumerTag, deliveryTag, redelivered, exchange, routingKey, properties, body) => {
        if (this.state === 'open') host.writer.sendDelivery(channelNumber, consumerTag, deliveryTag, redelivered, exchange, routingKey, properties, body);
      },
      get writable(): boolean {
        return writable();
      },
      onWritable: (listener) => {
        this.writableListeners.push(listener);
      },
      closeWithError: (error) => this.closeWithError(error, noMethod),
    };
  }

  /** Set once, right after construction (the handler is made with this channel's output). */
  attach(handler: ChannelHandler): void {
    this.handler = handler;
  }

  /** The socket drained below the limit. */
  notifyWritable(): void {
    if (this.state !== 'open') return;
    for (const listener of this.writableListeners) listener();
  }

  receive(frame: AmqpFrame): void {
    if (this.state === 'closing') {
      this.receiveWhileClosing(frame);
    } else if (this.busy || this.waiting.length > 0) {
      this.waiting.push(frame);
      this.host.heldBytesChanged(frame.payload.length);
    } else {
      this.process(frame);
    }
  }

  /** The connection is going away: the handler is told, nothing more is sent or handled. */
  shutdown(): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.dropWaiting();
    this.closeHandler();
  }

  /** Closes the channel from the broker's side: channel.close, then the handler is closed; frames until close-ok are dropped. */
  closeWithError(error: AmqpChannelError, blame: MethodIds): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.assembly = null;
    this.host.writer.sendMethod(this.channelNumber, {
      name: 'channel.close',
      arguments: { replyCode: error.replyCode, replyText: error.replyText, classId: blame.classId, methodId: blame.methodId },
    });
    this.closeHandler();
    const held = this.waiting.splice(0);
    for (const frame of held) this.host.heldBytesChanged(-frame.payload.length);
    while (held.length > 0 && this.state === 'closing') this.receiveWhileClosing(held.shift() as AmqpFrame);
    // A close among them ended the channel: what followed it belongs to whatever opens the number next.
    if (held.length > 0) this.host.channelGone(this.channelNumber, held);
  }

  private process(frame: AmqpFrame): void {
    let blame = noMethod;
    try {
      if (this.assembly !== null) {
        blame = publishMethodIds;
        const publish = this.assembly.add(frame);
        if (publish !== null) {
          this.assembly = null;
          this.invoke(publishMethodIds, handlePublish, publish);
        }
        return;
      }
      if (frame.type !== frameTypes.method) {
        throw new AmqpConnectionError(replyCodes.unexpectedFrame, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead');
      }
      const decoded = decodeMethodFrame(frame.payload);
      if ('error' in decoded) {
        this.host.connectionError(decoded.error, decoded.ids);
        return;
      }
      blame = idsOf(decoded.method);
      this.dispatch(decoded.method, blame);
    } catch (error) {
      this.fail(error instanceof MalformedInputError ? new AmqpConnectionError(replyCodes.frameError, `FRAME_ERROR - ${error.message}`) : error, blame);
    }
  }

  private dispatch(method: AmqpMethod, blame: MethodIds): void {
    switch (method.name) {
      case 'channel.open':
        throw new AmqpConnectionError(replyCodes.channelError, "CHANNEL_ERROR - second 'channel.open' seen");
      case 'channel.close':
        this.closeFromClient();
        return;
      case 'channel.close-ok':
      case 'channel.flow-ok':
        return; // answers to what the broker never asked on an open channel: nothing to do
      case 'channel.flow': {
        const { active } = method.arguments;
        this.invoke(blame, setFlow, active);
        this.host.writer.sendMethod(this.channelNumber, { name: 'channel.flow-ok', arguments: { active } });
        return;
      }
      case 'basic.publish':
        this.assembly = new ContentAssembly(method, this.host.maxContentBytes);
        return;
      default:
        break;
    }
    if (blame.classId === 10 || senderOf(method) === 'server') {
      throw new AmqpConnectionError(replyCodes.commandInvalid, `COMMAND_INVALID - ${method.name} is not a method a client sends on a channel`);
    }
    this.invoke(blame, handleMethod, method);
  }

  /**
   * Calls the handler; a promise makes the channel busy until it settles. The call and its argument
   * come separately (module-level functions below) so a publish does not allocate a closure.
   */
  private invoke<Argument>(blame: MethodIds, call: (handler: ChannelHandler, argument: Argument) => void | Promise<void>, argument: Argument): void {
    const handler = this.handler;
    if (handler === null) throw new Error('channel used before its handler was attached');
    let result: void | Promise<void>;
    try {
      result = call(handler, argument);
    } catch (error) {
      this.fail(error, blame);
      return;
    }
    // Only a promise holds the channel (a handler typed to return void may still return a value).
    if (!(result instanceof Promise)) return;
    this.busy = true;
    result.then(
      () => this.settled(),
      (error: unknown) => {
        this.fail(error, blame);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.busy = false;
    while (!this.busy && this.waiting.length > 0 && this.state === 'open') {
      const frame = this.waiting.shift() as AmqpFrame;
      this.host.heldBytesChanged(-frame.payload.length);
      this.process(frame);
    }
  }

  private fail(error: unknown, blame: MethodIds): void {
    if (this.state !== 'open') return; // closed meanwhile: the failure has no one to go to
    if (error instanceof AmqpChannelError) this.closeWithError(error, blame);
    else if (error instanceof AmqpConnectionError) this.host.connectionError(error, blame);
    else this.host.internalError(error, blame);
  }

  private closeFromClient(): void {
    this.closeHandler();
    this.host.writer.sendMethod(this.channelNumber, { name: 'channel.close-ok', arguments: {} });
    this.leave();
  }

  private receiveWhileClosing(frame: AmqpFrame): void {
    if (frame.type !== frameTypes.method) return;
    const decoded = decodeMethodFrame(frame.payload);
    if (!('method' in decoded)) return;
    if (decoded.method.name === 'channel.close-ok') {
      this.leave();
    } else if (decoded.method.name === 'channel.close') {
      // Both sides closed at once: each answers the other's close.
      this.host.writer.sendMethod(this.channelNumber, { name: 'channel.close-ok', arguments: {} });
      this.leave();
    }
  }

  private leave(): void {
    this.state = 'gone';
    this.assembly = null;
    const later = this.waiting.splice(0);
    for (const frame of later) this.host.heldBytesChanged(-frame.payload.length);
    this.host.channelGone(this.channelNumber, later);
  }

  private closeHandler(): void {
    const handler = this.handler;
    this.handler = null;
    this.writableListeners.length = 0;
    try {
      handler?.close();
    } catch (error) {
      this.host.internalError(error, noMethod);
    }
  }

  private dropWaiting(): void {
    for (const frame of this.waiting.splice(0)) this.host.heldBytesChanged(-frame.payload.length);
  }
}

function handlePublish(handler: ChannelHandler, publish: IncomingPublish): void | Promise<void> {
  return handler.handlePublish(publish);
}

function handleMethod(handler: ChannelHandler, method: AmqpMethod): void | Promise<void> {
  return handler.handleMethod(method);
}

function setFlow(handler: ChannelHandler, active: boolean): void {
  handler.setFlow(active);
}
