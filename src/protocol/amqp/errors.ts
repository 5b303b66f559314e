/**
 * The two kinds of AMQP error (AMQP 0-9-1 §1.2 and RabbitMQ's reply texts). Whoever finds the
 * error throws one (the session, the queues layer); the connection answers with channel.close or
 * connection.close carrying the code, the text and the class and method ids of the method that
 * failed.
 */
import type { ReplyCode } from './reply-codes.js';

/** A soft error: only the channel is closed (404, 405, 406, 403, 311). */
export class AmqpChannelError extends Error {
  constructor(
    readonly replyCode: ReplyCode,
    /** What clients print, RabbitMQ's wording: "NOT_FOUND - no queue 'q' in vhost '/'". */
    readonly replyText: string,
  ) {
    super(replyText);
    this.name = 'AmqpChannelError';
  }
}

/** A hard error: the whole connection is closed (501–506, 530, 540, 541, 320, 402). */
export class AmqpConnectionError extends Error {
  constructor(
    readonly replyCode: ReplyCode,
    readonly replyText: string,
  ) {
    super(replyText);
    this.name = 'AmqpConnectionError';
  }
}
