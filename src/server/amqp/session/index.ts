/**
 * TEMPORARY stub (replaced by the real sessions while issue 11 is built): one virtual host "/",
 * and every channel method answered 540 NOT_IMPLEMENTED.
 */
import type { AmqpSessions, ChannelHandler } from '../channel-handler.js';
import { AmqpConnectionError } from '../errors.js';
import { replyCodes } from '../../../protocol/amqp/reply-codes.js';

export function createStubSessions(): AmqpSessions {
  const notImplemented = (what: string): never => {
    throw new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - ${what}`);
  };
  return {
    hasVirtualHost: (name) => name === '/',
    openChannel(): ChannelHandler {
      return {
        handleMethod: (method) => notImplemented(method.name),
        handlePublish: () => notImplemented('basic.publish'),
        setFlow: () => undefined,
        close: () => undefined,
      };
    },
    connectionClosed: () => undefined,
    onBlockedChange: () => undefined,
    blocked: false,
  };
}
