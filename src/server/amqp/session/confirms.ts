/**
 * Publisher confirms on one channel (RabbitMQ's extension: confirm.select, then basic.ack /
 * basic.nack from the broker with the publish sequence numbers, `multiple` covering everything up
 * to a number). Each publish is numbered 1, 2, …; it is confirmed once every queue it was routed to
 * holds it as its durability requires (fsynced for a persistent message in a durable queue).
 *
 * Confirmations are sent at most once per event-loop turn, as one basic.ack with multiple=true
 * for the longest confirmed prefix; a publish that failed (the write did not reach disk) is nacked
 * on its own, between the acks of its neighbours.
 */
import type { AmqpMethod } from '../../../protocol/amqp/method-payload.js';

export class PublisherConfirms {
  private lastSequence = 0;
  /** Everything up to it has been acked or nacked to the client. */
  private answeredUpTo = 0;
  /** Sequences not yet confirmed, in increasing order (a Set keeps insertion order). */
  private readonly outstanding = new Set<number>();
  /** Failed sequences not yet answered, in increasing order of failure (sorted before use). */
  private failed: number[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly send: (method: AmqpMethod) => void) {}

  /** Numbers the next publish; it stays outstanding until confirmed() or failed(). */
  next(): number {
    const sequence = ++this.lastSequence;
    this.outstanding.add(sequence);
    return sequence;
  }

  confirmed(sequence: number): void {
    if (this.outstanding.delete(sequence)) this.scheduleFlush();
  }

  failedToStore(sequence: number): void {
    if (this.outstanding.delete(sequence)) {
      this.failed.push(sequence);
      this.scheduleFlush();
    }
  }

  /** The channel closed: nothing more is sent. */
  close(): void {
    this.closed = true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.closed) this.flush();
    });
  }

  private flush(): void {
    let upTo = this.lastSequence;
    for (const first of this.outstanding) {
      upTo = first - 1;
      break;
    }
    if (upTo <= this.answeredUpTo) return;
    if (this.failed.length > 0) this.failed.sort((left, right) => left - right);
    while (this.failed.length > 0 && this.failed[0]! <= upTo) {
      const failure = this.failed.shift()!;
      if (failure - 1 > this.answeredUpTo) this.ack(failure - 1);
      this.send({ name: 'basic.nack', arguments: { deliveryTag: BigInt(failure), multiple: false, requeue: false } });
      this.answeredUpTo = failure;
    }
    if (upTo > this.answeredUpTo) this.ack(upTo);
  }

  private ack(upTo: number): void {
    this.send({ name: 'basic.ack', arguments: { deliveryTag: BigInt(upTo), multiple: upTo - this.answeredUpTo > 1 } });
    this.answeredUpTo = upTo;
  }
}
