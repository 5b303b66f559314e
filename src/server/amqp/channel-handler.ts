/**
 * The boundary between an AMQP connection (server/amqp/connection.ts: socket, frames, handshake,
 * heartbeats, channel numbers, content assembly, error closes) and what a channel does
 * (server/amqp/session/: exchanges, queues, publishing, consuming, confirms, transactions).
 *
 * The connection handles connection.* and channel.open/close/flow itself; every other method of an
 * open channel goes to that channel's ChannelHandler, in the order received. A handler that returns
 * a promise holds the channel's later methods until it settles (a durable declare waits for disk);
 * other channels go on. Throwing AmqpChannelError closes the channel, AmqpConnectionError the
 * connection (errors.ts); anything else is a 541 INTERNAL_ERROR and is logged.
 */
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import type { ContentHeader } from '../../protocol/amqp/content-header.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import type { AmqpChannelError } from './errors.js';

export interface ConnectionInfo {
  /** Unique within this broker process. */
  readonly id: number;
  readonly virtualHost: string;
  readonly user: string;
  /** "address:port" of the client. */
  readonly peer: string;
  readonly clientProperties: FieldTable;
  /** Another broker of the cluster, linking to a queue served here (cluster/queue-links.ts). */
  readonly interBroker?: boolean;
}

/** A basic.publish with its content header and body, assembled from its frames by the connection. */
export interface IncomingPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly immediate: boolean;
  readonly header: ContentHeader;
  /** The header's property flags and property list, raw (stored and re-sent as they came). */
  readonly properties: Buffer;
  readonly body: Buffer;
}

/** What a channel handler sends through its connection. */
export interface ChannelOutput {
  readonly channelNumber: number;
  /** Sends a method without content. */
  sendMethod(method: AmqpMethod): void;
  /** Sends basic.deliver, basic.get-ok or basic.return with its header (raw properties) and body, split per frame_max. */
  sendContent(method: AmqpMethod, properties: Buffer, body: Buffer): void;
  /**
   * Sends basic.deliver as sendContent would, without a method object (the delivery hot path);
   * `consumerTag` is the tag encoded as a shortstr (frame-writer.ts encodeConsumerTag).
   */
  sendDelivery(consumerTag: Buffer, deliveryTag: number, redelivered: boolean, exchange: string, routingKey: string, properties: Buffer, body: Buffer): void;
  /** False while the socket holds more unsent bytes than the connection allows; deliveries should wait for onWritable. */
  readonly writable: boolean;
  /** Called each time the socket drains below the limit again. */
  onWritable(listener: () => void): void;
  /** Closes the channel from the broker's side (channel.close with this error), e.g. an exclusive consumer's queue gone. */
  closeWithError(error: AmqpChannelError): void;
}

export interface ChannelHandler {
  /** Any method of an open channel except channel.* and basic.publish. */
  handleMethod(method: AmqpMethod): void | Promise<void>;
  handlePublish(publish: IncomingPublish): void | Promise<void>;
  /** channel.flow from the client: false stops deliveries to this channel until true. */
  setFlow(active: boolean): void;
  /** The channel is gone (closed by either side, or its connection is): cancel its consumers, requeue its unacked messages. */
  close(): void;
}

/** What the AMQP listener needs from the broker's queue side. */
export interface AmqpSessions {
  /** connection.open: whether the virtual host exists. */
  hasVirtualHost(name: string): boolean;
  openChannel(connection: ConnectionInfo, output: ChannelOutput): ChannelHandler;
  /** After every channel of the connection is closed: exclusive queues it declared are deleted. */
  connectionClosed(connection: ConnectionInfo): void;
  /** Calls back with true while the broker must push publishers back (disk alarm), false when it no longer must. */
  onBlockedChange(listener: (blocked: boolean, reason: string) => void): void;
  readonly blocked: boolean;
}
