/**
 * The deliveries of one channel that wait for the client's basic.ack / nack / reject, by delivery
 * tag (1, 2, … per channel). Tags are consecutive, so the deliveries sit in an array at
 * `tag - firstTag`; settled slots are emptied and `head` skips past them, so a `multiple`
 * acknowledgement walks only what it settles, and a single one is found at once.
 *
 *   tags:     firstTag … head …………………………… lastTag
 *   entries:  [ settled ][ x ][ ][ x ][ x ][ ] …      (x: waiting; empty: settled or no-ack)
 */
import type { Queue } from '../../../queues/queue.js';
import type { QueuedMessage } from '../../../queues/queue-store/stored-message.js';

export interface UnackedDelivery {
  readonly queue: Queue;
  readonly message: QueuedMessage;
  /** The consumer it was delivered to; null for basic.get. */
  readonly consumerTag: string | null;
}

export class UnackedDeliveries {
  private entries: (UnackedDelivery | undefined)[] = [];
  /** The tag of entries[0]. */
  private firstTag = 1;
  /** Index of the first slot that may still hold a delivery. */
  private head = 0;
  private lastTag = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The tag of the next delivery (tracked or not: no-ack deliveries are numbered too). */
  nextTag(): number {
    return ++this.lastTag;
  }

  track(tag: number, delivery: UnackedDelivery): void {
    const index = tag - this.firstTag;
    while (this.entries.length < index) this.entries.push(undefined);
    this.entries[index] = delivery;
    this.count++;
  }

  /**
   * Removes and returns the deliveries an ack/nack/reject names: one tag, or with `multiple` every
   * tag up to it (0 meaning all); null when the tag is unknown (406 for the caller).
   */
  take(tag: number, multiple: boolean): UnackedDelivery[] | null {
    if (!multiple) {
      const index = tag - this.firstTag;
      const delivery = index >= this.head ? this.entries[index] : undefined;
      if (delivery === undefined) return null;
      this.entries[index] = undefined;
      this.count--;
      this.advance();
      return [delivery];
    }
    if (tag > this.lastTag) return null;
    const end = tag === 0 ? this.entries.length : Math.min(tag - this.firstTag + 1, this.entries.length);
    const taken: UnackedDelivery[] = [];
    for (let index = this.head; index < end; index++) {
      const delivery = this.entries[index];
      if (delivery === undefined) continue;
      taken.push(delivery);
      this.entries[index] = undefined;
    }
    this.count -= taken.length;
    this.advance();
    if (taken.length === 0 && tag !== 0) return null;
    return taken;
  }

  /** Removes and returns every delivery, oldest first (channel closed, basic.recover). */
  takeAll(): UnackedDelivery[] {
    const all: UnackedDelivery[] = [];
    for (let index = this.head; index < this.entries.length; index++) {
      const delivery = this.entries[index];
      if (delivery !== undefined) all.push(delivery);
    }
    this.firstTag += this.entries.length;
    this.entries = [];
    this.head = 0;
    this.count = 0;
    return all;
  }

  /** Moves head past settled slots; drops them once they are most of the array. */
  private advance(): void {
    while (this.head < this.entries.length && this.entries[this.head] === undefined) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.firstTag += this.head;
      this.head = 0;
    }
  }
}
