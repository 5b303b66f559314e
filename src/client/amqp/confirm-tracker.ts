/**
 * Publisher confirms on one channel (RabbitMQ's confirm extension). After confirm.select the broker
 * numbers the channel's publishes 1, 2, 3 … and answers each with basic.ack or basic.nack carrying
 * that number as delivery tag; `multiple` settles every number up to and including it. Sequence
 * numbers are issued in order, so the outstanding ones are kept in a FIFO and a settlement always
 * removes from its front.
 */
import { AmqpNackError } from './errors.js';

/** null when the broker confirmed the message, an Error when it nacked it or the channel closed. */
export type ConfirmCallback = (error: Error | null) => void;

export class ConfirmTracker {
  private nextSequence = 1;
  private readonly sequences: number[] = [];
  private readonly callbacks: ConfirmCallback[] = [];
  private head = 0;
  private idleWaiters: Array<(error: Error | null) => void> = [];

  /** Messages published and not yet confirmed or nacked. */
  get outstanding(): number {
    return this.sequences.length - this.head;
  }

  /** Registers the next publish; returns its sequence number. */
  track(callback: ConfirmCallback): number {
    const sequence = this.nextSequence++;
    this.sequences.push(sequence);
    this.callbacks.push(callback);
    return sequence;
  }

  /** basic.ack (ok) or basic.nack from the broker. */
  settle(deliveryTag: bigint, multiple: boolean, ok: boolean): void {
    const tag = Number(deliveryTag);
    while (this.head < this.sequences.length) {
      const sequence = this.sequences[this.head]!;
      if (sequence > tag || (!multiple && sequence !== tag)) break;
      const callback = this.callbacks[this.head]!;
      this.head++;
      callback(ok ? null : new AmqpNackError(sequence));
    }
    this.compact();
    if (this.outstanding === 0) this.wakeIdleWaiters(null);
  }

  /** Resolves when every message published so far is settled; rejects if the channel fails first. */
  waitForIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push((error) => (error === null ? resolve() : reject(error))));
  }

  /** The channel closed: every outstanding message fails with `error`. */
  failAll(error: Error): void {
    while (this.head < this.sequences.length) this.callbacks[this.head++]!(error);
    this.compact();
    this.wakeIdleWaiters(error);
  }

  private wakeIdleWaiters(error: Error | null): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter(error);
  }

  /** Drops settled entries once they are most of the arrays, so the FIFO does not grow without end. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.sequences.length) {
      this.sequences.splice(0, this.head);
      this.callbacks.splice(0, this.head);
      this.head = 0;
    }
  }
}
