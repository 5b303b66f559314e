/**
 * AMQP 0-9-1 reply codes, as the specification numbers them: carried by connection.close and
 * channel.close (and basic.return). Hard errors close the connection, soft errors only the channel.
 */
export const replyCodes = {
  replySuccess: 200,
  // Soft errors (channel.close):
  contentTooLarge: 311,
  noRoute: 312,
  noConsumers: 313,
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  preconditionFailed: 406,
  // Hard errors (connection.close):
  connectionForced: 320,
  invalidPath: 402,
  frameError: 501,
  syntaxError: 502,
  commandInvalid: 503,
  channelError: 504,
  unexpectedFrame: 505,
  resourceError: 506,
  notAllowed: 530,
  notImplemented: 540,
  internalError: 541,
} as const;

export type ReplyCode = (typeof replyCodes)[keyof typeof replyCodes];
