/**
 * The deliveries of one channel that wait for the client's basic.ack / nack / reject, by delivery
 * tag (1, 2, … per channel). A Map keeps insertion order, which is tag order, so `multiple`
 * acknowledgements walk from the oldest entry and stop at the first tag above the one given.
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
  private readonly byTag = new Map<number, UnackedDelivery>();
  private lastTag = 0;

  get size(): number {
    return this.byTag.size;
  }

  /** The tag of the next delivery (tracked or not: no-ack deliveries are numbered too). */
  nextTag(): number {
    return ++this.lastTag;
  }

  track(tag: number, delivery: UnackedDelivery): void {
    this.byTag.set(tag, delivery);
  }

  /**
   * Removes and returns the deliveries an ack/nack/reject names: one tag, or with `multiple` every
   * tag up to it (0 meaning all); null when the tag is unknown (406 for the caller).
   */
  take(tag: number, multiple: boolean): UnackedDelivery[] | null {
    if (!multiple) {
      const delivery = this.byTag.get(tag);
      if (delivery === undefined) return null;
      this.byTag.delete(tag);
      return [delivery];
    }
    if (tag > this.lastTag) return null;
    const taken: UnackedDelivery[] = [];
    for (const [entryTag, delivery] of this.byTag) {
      if (tag !== 0 && entryTag > tag) break;
      taken.push(delivery);
      this.byTag.delete(entryTag);
    }
    if (taken.length === 0 && tag !== 0) return null;
    return taken;
  }

  /** Removes and returns every delivery, oldest first (channel closed, basic.recover). */
  takeAll(): UnackedDelivery[] {
    const all = [...this.byTag.values()];
    this.byTag.clear();
    return all;
  }
}
