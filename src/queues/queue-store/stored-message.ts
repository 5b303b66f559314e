/**
 * A message as a queue keeps it: what the publisher sent (exchange, routing key, content header
 * properties, body), stored in the queue's log. `properties` are the raw bytes of the content
 * header after its body size (property flags and property list, content-header.ts), so a delivery
 * re-sends them without encoding them again.
 */
export interface StoredMessage {
  readonly exchange: string;
  readonly routingKey: string;
  /** Property flags + property list, exactly as in the publisher's content header frame. */
  readonly properties: Buffer;
  readonly body: Buffer;
  /** delivery-mode 2: kept across a restart; transient messages are dropped when the queue is recovered. */
  readonly persistent: boolean;
  /** Broker time when published, ms since the epoch (the record timestamp). */
  readonly publishedAtMs: number;
  /**
   * When the message's own `expiration` property makes it expire (publishedAtMs + expiration), ms
   * since the epoch; null when it has none. A queue's x-message-ttl comes on top (queue.ts).
   */
  readonly expiresAtMs: number | null;
}

/** A message taken from a queue for delivery (or returned to it). */
export interface QueuedMessage {
  /** The message's offset in the queue's log: its identity within the queue. */
  readonly offset: number;
  readonly message: StoredMessage;
  /** Set when the message may have been delivered before (requeued, or unacked at a restart). */
  readonly redelivered: boolean;
  /** Times it was given back (requeued) so far: x-delivery-limit and x-delivery-count count these. */
  readonly deliveryCount: number;
}
