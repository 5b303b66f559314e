/**
 * Which partition a record goes to, as the Java client's default partitioner decides it, so that
 * records with the same key land in the same partition whichever of the two clients wrote them:
 *
 *   key present:  (murmur2(key) & 0x7fffffff) % partitionCount
 *   key null:     "sticky": one partition until its batch is sent, then another (KIP-480)
 */

/** Kafka's murmur2 (Utils.murmur2): seed 0x9747b28c, m 0x5bd1e995, r 24; a signed 32-bit result. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const whole = length & ~3;
  for (let index = 0; index < whole; index += 4) {
    let k = (data[index]! & 0xff) | ((data[index + 1]! & 0xff) << 8) | ((data[index + 2]! & 0xff) << 16) | ((data[index + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length % 4;
  if (tail === 3) h ^= (data[whole + 2]! & 0xff) << 16;
  if (tail >= 2) h ^= (data[whole + 1]! & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[whole]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}

/** Sticky choice for null keys, per topic; `next` moves on when the current batch has been sent. */
export class StickyPartitioner {
  private readonly current = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  partition(topic: string, partitionCount: number): number {
    const chosen = this.current.get(topic);
    if (chosen !== undefined && chosen < partitionCount) return chosen;
    const fresh = Math.floor(this.random() * partitionCount);
    this.current.set(topic, fresh);
    return fresh;
  }

  /** The batch of `partition` was closed: pick another partition for the next null-key records. */
  batchClosed(topic: string, partition: number, partitionCount: number): void {
    if (this.current.get(topic) !== partition) return;
    if (partitionCount <= 1) return;
    let fresh = Math.floor(this.random() * (partitionCount - 1));
    if (fresh >= partition) fresh += 1;
    this.current.set(topic, fresh);
  }
}
