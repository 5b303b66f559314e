/**
 * Errors the AMQP client surfaces. A close the peer sends (channel.close or connection.close)
 * becomes an `AmqpClosedError` carrying its reply code and text, and the class and method ids of
 * the method that caused it (0 when none did), so a caller can tell 404 NOT_FOUND from 406
 * PRECONDITION_FAILED without reading the text.
 */

export type AmqpCloseScope = 'channel' | 'connection';

export class AmqpClosedError extends Error {
  constructor(
    readonly scope: AmqpCloseScope,
    readonly replyCode: number,
    readonly replyText: string,
    readonly classId: number,
    readonly methodId: number,
  ) {
    super(`${scope} closed by the broker: ${replyCode} ${replyText}`);
    this.name = 'AmqpClosedError';
  }
}

/** The socket ended or failed while the connection was open (no connection.close was exchanged). */
export class AmqpConnectionLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmqpConnectionLostError';
  }
}

/** A message the broker refused on a confirm channel (basic.nack). */
export class AmqpNackError extends Error {
  constructor(readonly sequence: number) {
    super(`message ${sequence} was nacked by the broker`);
    this.name = 'AmqpNackError';
  }
}

/** Something the client itself refuses: use of a closed channel, an unexpected frame. */
export class AmqpClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmqpClientError';
  }
}
