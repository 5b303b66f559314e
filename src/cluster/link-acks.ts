/**
 * The acks a broker sends, over a queue link (queue-links.ts), for messages its consumers settled:
 * gathered over an event-loop turn and sent as one `multiple` ack for the longest run of settled
 * delivery tags from the oldest outstanding one, plus a single ack for each settled tag beyond a
 * gap. The serving broker then handles one ack where the consumers here sent hundreds.
 *
 *   outstanding (delivery order)   3  4  5  6  7  8  9  10
 *   given back earlier (nack)         4
 *   acked this turn                3     5  6  7     9
 *   → ack 7 multiple (4 is not outstanding there any more); 8 is still taken here: ack 9 single;
 *     8 and 10 stay outstanding
 *
 * A multiple ack covers only tags still outstanding on the serving broker's channel; tags acked
 * singly or given back before are not, so the run may pass over them.
 */
export class LinkAcks {
  /** Delivery tags in the order they came, from `head` on; those before it are settled. */
  private outstanding: bigint[] = [];
  private head = 0;
  private readonly acked = new Set<bigint>();
  /** Settled on the serving broker already (acked singly, or given back) while older tags were not. */
  private readonly done = new Set<bigint>();

  constructor(private readonly send: (deliveryTag: bigint, multiple: boolean) => void) {}

  delivered(deliveryTag: bigint): void {
    this.outstanding.push(deliveryTag);
  }

  /** To be sent at the next flush. */
  ack(deliveryTag: bigint): void {
    this.acked.add(deliveryTag);
  }

  /** Given back (nack with requeue, sent at once by the caller): no longer outstanding there. */
  givenBack(deliveryTag: bigint): void {
    this.done.add(deliveryTag);
  }

  get pending(): boolean {
    return this.acked.size > 0;
  }

  flush(): void {
    let upTo: bigint | null = null;
    while (this.head < this.outstanding.length) {
      const tag = this.outstanding[this.head]!;
      if (this.acked.delete(tag)) upTo = tag;
      else if (!this.done.delete(tag)) break;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head);
      this.head = 0;
    }
    if (upTo !== null) this.send(upTo, true);
    for (const tag of this.acked) {
      this.send(tag, false);
      this.done.add(tag);
    }
    this.acked.clear();
  }
}
