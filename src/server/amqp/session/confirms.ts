/**
 * Publisher confirms on one channel (RabbitMQ's extension: confirm.select, then basic.ack /
 * basic.nack from the broker with the publish sequence numbers, `multiple` covering everything up
 * to a number). Each publish is numbered 1, 2, …; it is confirmed once every queue it was routed to
 * holds it as its durability requires (fsynced for a persistent message in a durable queue).
 *
 * Confirmations are sent at most once per event-loop turn, as one basic.ack with multiple=true
 * for the longest confirmed prefix; a publish that failed (the write did not reach disk) is nacked
 * on its own, between the acks of its neighbours.
 *
 * Sequences are consecutive, so what is still outstanding is a window of flags, not a set:
 *
 *   sequence:  windowStart ……… firstOutstanding ……………………… lastSequence
 *   pending:   [ 0  0  0  0  0  1  0  1  1  0  1 … ]     1 = not yet confirmed or failed
 *
 * firstOutstanding only moves forward (a flush walks it past answered flags), and the window is
 * shifted down when its answered front grows past half of it: O(1) per publish, no allocation.
 */
import type { AmqpMethod } from '../../../protocol/amqp/method-payload.js';

export class PublisherConfirms {
  private lastSequence = 0;
  /** Everything up to it has been acked or nacked to the client. */
  private answeredUpTo = 0;
  /** pending[sequence - windowStart] is 1 while that sequence is neither confirmed nor failed. */
  private pending = new Uint8Array(1024);
  private windowStart = 1;
  /** No sequence below it is pending. */
  private firstOutstanding = 1;
  /** Failed sequences not yet answered, in increasing order of failure (sorted before use). */
  private failed: number[] = [];
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly send: (method: AmqpMethod) => void) {}

  /** Numbers the next publish; it stays outstanding until confirmed() or failed(). */
  next(): number {
    const sequence = ++this.lastSequence;
    if (sequence - this.windowStart >= this.pending.length) this.makeRoom();
    this.pending[sequence - this.windowStart] = 1;
    return sequence;
  }

  confirmed(sequence: number): void {
    if (this.take(sequence)) this.scheduleFlush();
  }

  failedToStore(sequence: number): void {
    if (this.take(sequence)) {
      this.failed.push(sequence);
      this.scheduleFlush();
    }
  }

  /** Clears the sequence's pending flag; false when it was not pending. */
  private take(sequence: number): boolean {
    const index = sequence - this.windowStart;
    if (index < 0 || index >= this.pending.length || this.pending[index] === 0) return false;
    this.pending[index] = 0;
    return true;
  }

  /** Drops the answered front of the window, or doubles it when most of it is still pending. */
  private makeRoom(): void {
    const answered = this.firstOutstanding - this.windowStart;
    if (answered * 2 >= this.pending.length) {
      this.pending.copyWithin(0, answered);
      this.pending.fill(0, this.pending.length - answered);
      this.windowStart = this.firstOutstanding;
    } else {
      const grown = new Uint8Array(this.pending.length * 2);
      grown.set(this.pending);
      this.pending = grown;
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
    while (this.firstOutstanding <= this.lastSequence && this.pending[this.firstOutstanding - this.windowStart] === 0) this.firstOutstanding++;
    const upTo = this.firstOutstanding - 1;
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
