/**
 * The publish path's step for an x-delayed-message exchange: a message whose `x-delay` asks for a
 * delay goes to the exchange's store instead of being routed; any other is routed now, like the
 * routing type would. `mandatory` does not apply to a held message (no basic.return, now or when
 * it falls due): whether it will reach a queue is not known until then.
 */
import { AmqpChannelError } from '../../protocol/amqp/errors.js';
import type { BasicProperties } from '../../protocol/amqp/content-header.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { messageExpirationMs } from '../queue-options.js';
import { delayOf, propertiesWithDelayServed } from './delayed-exchange-type.js';
import type { DelayedMessageStore } from './delayed-store.js';

export const notDelayed: unique symbol = Symbol('not delayed');

/** What the publish path knows of the message (server/amqp's IncomingPublish has these). */
export interface DelayablePublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly header: { readonly properties: BasicProperties };
  readonly body: Buffer;
}

/**
 * Holds the message when it asks for a delay: returns what resolves once it is stored as durably as
 * its delivery mode asks (null: nothing to wait for; a refusal past amqp.maxDelayedMessages rejects,
 * so a confirming publisher gets a nack), or `notDelayed` when it is to be routed now.
 */
export function holdDelayed(store: DelayedMessageStore, publish: DelayablePublish): Promise<unknown> | null | typeof notDelayed {
  const properties = publish.header.properties;
  const delayMs = delayOf(properties.headers);
  if (delayMs === 0) return notDelayed;
  const held = store.hold({
    exchange: publish.exchange,
    routingKey: publish.routingKey,
    properties: propertiesWithDelayServed(properties, delayMs),
    body: publish.body,
    persistent: properties.deliveryMode === 2,
    delayMs,
    // Checked by the publish path already (406 for a bad one).
    expirationMs: properties.expiration === undefined ? null : messageExpirationMs(properties.expiration),
  });
  if (held.held) return held.durable;
  const refused = Promise.reject(new AmqpChannelError(replyCodes.preconditionFailed, `PRECONDITION_FAILED - message not held for delayed delivery by exchange '${publish.exchange}': ${held.reason}`));
  refused.catch(() => {}); // a publisher without confirms does not look: the message is dropped
  return refused;
}
