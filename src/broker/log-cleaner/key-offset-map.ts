/**
 * The log cleaner's bounded map from key to the offset of its latest record (Kafka's offset map,
 * sized by log.cleaner.dedupe.buffer.size). Keys are not stored, only a 16-byte digest of each:
 *
 *   slot i:  hashes[16·i, 16·i + 16)   first 16 bytes of SHA-256(key)
 *            offsets[i]                latest offset of that key; −1 = empty slot
 *
 * 24 bytes per slot, open addressing with linear probing, filled to at most `loadFactor` of its
 * slots (Kafka's log.cleaner.io.buffer.load.factor, 0.9) so probes stay short.
 *
 * Why SHA-256 truncated to 128 bits: two keys with the same digest are one key to the cleaner, and
 * the older one's latest value would be removed. With 128 bits, a chance collision among n keys is
 * about n²/2¹²⁹ (10⁻²¹ for a billion keys); a fast non-cryptographic hash of that width (xxHash,
 * MurmurHash) lets anyone who may produce craft colliding keys, and MD5 (Kafka's choice) has
 * practical crafted collisions too. A truncated SHA-256 digest has neither problem, and through
 * node:crypto's one-shot hash it costs about 1.2 µs per key here, less than MD5 through the same
 * call (the call dominates, not the algorithm).
 */
import { hash } from 'node:crypto';
import { strict as assert } from 'node:assert';

export const keyDigestBytes = 16;
const bytesPerSlot = keyDigestBytes + 8;
export const offsetMapLoadFactor = 0.9;

export function keyDigest(key: Buffer): Buffer {
  return hash('sha256', key, 'buffer').subarray(0, keyDigestBytes);
}

export class KeyOffsetMap {
  private readonly slots: number;
  private readonly hashes: Buffer;
  private readonly offsets: Float64Array;
  private entries = 0;

  /** A map of at most `memoryBytes` (24 bytes per slot), smaller when `neededKeys` fit in less. */
  constructor(memoryBytes: number, neededKeys: number = Number.MAX_SAFE_INTEGER) {
    const wanted = Math.ceil(Math.max(1, neededKeys) / offsetMapLoadFactor) + 1;
    this.slots = Math.max(2, Math.min(Math.floor(memoryBytes / bytesPerSlot), wanted));
    this.hashes = Buffer.alloc(this.slots * keyDigestBytes);
    this.offsets = new Float64Array(this.slots).fill(-1);
  }

  /** Keys the map takes before it is full. */
  get capacity(): number {
    return Math.floor(this.slots * offsetMapLoadFactor);
  }

  get size(): number {
    return this.entries;
  }

  get isFull(): boolean {
    return this.entries >= this.capacity;
  }

  private slotOf(digest: Buffer): number {
    // The digest is uniformly distributed: its first 6 bytes are as good an index as any.
    return digest.readUIntBE(0, 6) % this.slots;
  }

  private matches(slot: number, digest: Buffer): boolean {
    return this.hashes.compare(digest, 0, keyDigestBytes, slot * keyDigestBytes, (slot + 1) * keyDigestBytes) === 0;
  }

  /** Records `offset` as the latest of the key with this digest. False (nothing changed) when a new key does not fit. */
  put(digest: Buffer, offset: number): boolean {
    assert(digest.length === keyDigestBytes && offset >= 0);
    let slot = this.slotOf(digest);
    for (;;) {
      const stored = this.offsets[slot]!;
      if (stored < 0) break;
      if (this.matches(slot, digest)) {
        if (offset > stored) this.offsets[slot] = offset;
        return true;
      }
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
    if (this.isFull) return false;
    digest.copy(this.hashes, slot * keyDigestBytes);
    this.offsets[slot] = offset;
    this.entries++;
    return true;
  }

  /** The latest offset recorded for the key with this digest; −1 when none. */
  get(digest: Buffer): number {
    let slot = this.slotOf(digest);
    for (;;) {
      const stored = this.offsets[slot]!;
      if (stored < 0) return -1;
      if (this.matches(slot, digest)) return stored;
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
  }
}
