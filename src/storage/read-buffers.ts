/**
 * Buffers that segment reads fill, used again once the bytes read into them have left the
 * process, so a consumer reading a backlog does not make the broker allocate (and the garbage
 * collector reclaim) a fresh buffer of a fetch's size for every fetch.
 *
 *   read ──take(n)──► [ pooled buffer ] ──► fetch response chunks ──► socket ──written──► give(chunks)
 *                              ▲                                                             │
 *                              └──────────────────── free lists, by size class ◄─────────────┘
 *
 * Only the one who knows that nothing refers to a buffer any more may give it back: the fetch path
 * does, once the socket has taken the response. A buffer never given back is simply collected as
 * any other (results dropped on the way, a connection closed before its answer was written), so
 * forgetting is safe and giving back too early is the one mistake to avoid.
 *
 * Size classes are powers of two from minPooledBytes; a read larger than the largest class the
 * free bytes allow gets a buffer of its own, as without a pool.
 */

/** What a read calls for the buffer it fills: exactly `length` bytes. */
export type ReadAllocator = (length: number) => Buffer;

/** The allocation of reads that are not pooled. */
export const allocateUnpooled: ReadAllocator = (length) => Buffer.allocUnsafe(length);

const minPooledBytes = 64 * 1024;

export class ReadBufferPool {
  /** Free buffers by size class (their length). */
  private readonly free = new Map<number, Buffer[]>();
  /** Memory handed out by take() and not given back; weak, so a buffer never given back is still collected. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  /** Reads served from a pooled buffer, and those that needed a new one (observability). */
  reused = 0;
  allocated = 0;

  /** `maxFreeBytes`: the free buffers kept at most (0: no pool, every read allocates). */
  constructor(readonly maxFreeBytes: number) {}

  get freeByteCount(): number {
    return this.freeBytes;
  }

  /** A read allocator drawing from this pool. */
  readonly allocate: ReadAllocator = (length) => this.take(length);

  /** A buffer of exactly `length` bytes, a view of a pooled one when the size is poolable. */
  take(length: number): Buffer {
    const classBytes = sizeClassOf(length);
    if (classBytes > this.maxFreeBytes) return Buffer.allocUnsafe(length);
    const list = this.free.get(classBytes);
    let whole = list?.pop();
    if (whole === undefined) {
      // allocUnsafeSlow: a memory of its own (allocUnsafe may cut small ones from a shared slab).
      whole = Buffer.allocUnsafeSlow(classBytes);
      this.allocated++;
    } else {
      this.freeBytes -= classBytes;
      this.reused++;
    }
    this.lent.add(whole.buffer as ArrayBuffer); // allocUnsafeSlow's memory is an ArrayBuffer
    return whole.subarray(0, length);
  }

  /**
   * Gives back the pooled memory under `chunks` (views of buffers from take(), or of anything else,
   * which is left alone). The caller promises that nothing refers to these bytes any more.
   */
  give(chunks: readonly Buffer[]): void {
    for (const chunk of chunks) {
      const memory = chunk.buffer;
      // Several chunks may be views of one buffer: the first gives it back, the others find it returned.
      if (!(memory instanceof ArrayBuffer) || !this.lent.delete(memory)) continue;
      const classBytes = memory.byteLength;
      if (this.freeBytes + classBytes > this.maxFreeBytes) continue;
      let list = this.free.get(classBytes);
      if (list === undefined) {
        list = [];
        this.free.set(classBytes, list);
      }
      list.push(Buffer.from(memory, 0, classBytes));
      this.freeBytes += classBytes;
    }
  }
}

/** The power of two at or above `length`, at least minPooledBytes. */
function sizeClassOf(length: number): number {
  let classBytes = minPooledBytes;
  while (classBytes < length) classBytes *= 2;
  return classBytes;
}
