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
  /** Sequence number of callbacks[0]: numbers are consecutive, so an entry's index is computed. */
  private firstSequence = 1;
  /** One entry per publish from firstSequence on; null once settled (a single ack may come out of order). */
  private callbacks: (ConfirmCallback | null)[] = [];
  /** Index of the first entry not yet settled. */
  private head = 0;
  private unsettled = 0;
  private idleWaiters: Array<(error: Error | null) => void> = [];

  /** Messages published and not yet confirmed or nacked. */
  get outstanding(): number {
    return this.unsettled;
  }

  /** Registers the next publish; returns its sequence number. */
  track(callback: ConfirmCallback): number {
    this.callbacks.push(callback);
    this.unsettled++;
    return this.nextSequence++;
  }

  /**
   * basic.ack (ok) or basic.nack from the broker. With `multiple` it settles every number up to the
   * tag; without, only the tag, which may be ahead of older outstanding numbers (RabbitMQ confirms
   * an unroutable or transient publish at once while an earlier persistent one waits for its fsync).
   */
  settle(deliveryTag: bigint, multiple: boolean, ok: boolean): void {
    const lastIndex = Number(deliveryTag) - this.firstSequence;
    if (multiple) {
      for (let index = this.head; index <= lastIndex && index < this.callbacks.length; index++) this.settleAt(index, ok);
    } else if (lastIndex >= this.head && lastIndex < this.callbacks.length) {
      this.settleAt(lastIndex, ok);
    }
    while (this.head < this.callbacks.length && this.callbacks[this.head] === null) this.head++;
    this.compact();
    if (this.unsettled === 0) this.wakeIdleWaiters(null);
  }

  /** Resolves when every message published so far is settled; rejects if the channel fails first. */
  waitForIdle(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push((error) => (error === null ? resolve() : reject(error))));
  }

  /** The channel closed: every outstanding message fails with `error`. */
  failAll(error: Error): void {
    for (let index = this.head; index < this.callbacks.length; index++) {
      const callback = this.callbacks[index];
      if (callback === null || callback === undefined) continue;
      this.callbacks[index] = null;
      this.unsettled--;
      callback(error);
    }
    this.head = this.callbacks.length;
    this.compact();
    this.wakeIdleWaiters(error);
  }

  private settleAt(index: number, ok: boolean): void {
    const callback = this.callbacks[index];
    if (callback === null || callback === undefined) return;
    this.callbacks[index] = null;
    this.unsettled--;
    callback(ok ? null : new AmqpNackError(this.firstSequence + index));
  }

  private wakeIdleWaiters(error: Error | null): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter(error);
  }

  /** Drops settled entries once they are most of the array, so it does not grow without end. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.callbacks.length) {
      this.callbacks = this.callbacks.slice(this.head);
      this.firstSequence += this.head;
      this.head = 0;
    }
  }
}
