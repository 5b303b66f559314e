/**
 * Producer ids and epochs for InitProducerId (non-transactional producers).
 *
 * Ids are unique across restarts, crashes included: they are handed out from blocks, and a block is
 * reserved (ProducerIdBlockSource) before its first id is given out. In a cluster the blocks come
 * from etcd (cluster/producer-id-blocks.ts, KIP-730's scheme), so no two brokers hand out the same
 * id; until the broker has joined, InitProducerId is refused (retriable). The next block is reserved
 * ahead once 90 % of the current one is used. A single broker reserves them in a file, which holds
 * the first id not yet reserved:
 *
 *   <dataDir>/meta/producer-id-block     text, two lines, each ending in '\n':
 *     ┌──────────────────────┐
 *     │ 1                    │  format version
 *     │ 5000                 │  next unreserved producer id (decimal; ids below it may have been used)
 *     └──────────────────────┘
 *
 * written as .tmp, fsynced, renamed, folder fsynced. After a restart the broker starts at the next
 * block, so ids of a block that was only partly used are skipped, never reused. A file that exists
 * but cannot be read stops the broker from starting: guessing could reuse ids.
 *
 * Epochs (KIP-360, InitProducerId v3+ carrying the producer's current id and epoch). Kafka gives a
 * non-transactional producer a brand-new id every time; we follow its transactional rules instead
 * while we remember the id, so that a producer recovering from an error keeps its id, gets the next
 * epoch, and its older in-flight batches are fenced (INVALID_PRODUCER_EPOCH) by the partitions:
 *
 *   request (-1, -1)                         → a new id, epoch 0
 *   only one of the two is -1                → INVALID_REQUEST
 *   id we remember, epoch = its current one  → same id, epoch + 1 (a new id, epoch 0, once the epoch
 *                                              reaches 32766: the epoch is exhausted)
 *   id we remember, epoch = its previous one → same id, current epoch (a retried bump)
 *   id we remember, other epoch              → PRODUCER_FENCED (v4+), INVALID_PRODUCER_EPOCH (v3)
 *   id rotated away, epoch exhausted         → the id it was rotated to (a retried rotation)
 *   id we do not remember                    → a new id, epoch 0 (Kafka's answer; safe: nothing to fence)
 *
 * Id 0 is never handed out: some clients (@platformatic/kafka) send (0, 0) for "none yet" instead of
 * (-1, -1), and Kafka, which gives every non-transactional request a new id, answers them a new id.
 * Were 0 a producer we remember, each such client would bump its epoch and fence it.
 *
 * What we remember is kept in memory only (a restart forgets it, which is safe by the last rule),
 * for at most `maxRemembered` ids, the least recently used forgotten first.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';
import { readSnapshotText, writeSnapshotText } from '../snapshot-file.js';

export const producerIdBlockFileName = 'producer-id-block';
const fileFormatVersion = 1;
/** Ids reserved per write of the block file (Kafka's PRODUCER_ID_BLOCK_SIZE). */
export const producerIdBlockSize = 1000n;
/** From this epoch on a producer id gets no further epoch (Kafka: Short.MaxValue − 1). */
export const exhaustedEpoch = 0x7fff - 1;
/** InitProducerId v4 is the first that may answer PRODUCER_FENCED. */
const firstProducerFencedVersion = 4;

export interface InitProducerIdResult {
  readonly errorCode: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** Why, when errorCode is not 0 (for the broker's log). */
  readonly reason?: string;
}

interface RememberedProducer {
  epoch: number;
  /** The epoch before the last bump (-1 if none), so a retried bump gets the same answer. */
  previousEpoch: number;
  /** Set once the epoch was exhausted and the producer moved to a new id. */
  rotatedTo: bigint | null;
}

export interface ProducerIdStorage {
  read(): Promise<string | null>;
  write(text: string): Promise<void>;
}

/** Where blocks of producer ids are reserved: the block file of a single broker, etcd in a cluster. */
export interface ProducerIdBlockSource {
  /**
   * Reserves the next `size` ids durably and returns the first; no id of it is ever returned again
   * (by this source, or by any other broker's source of the same cluster). Rejects when it cannot.
   */
  reserveBlock(size: bigint): Promise<bigint>;
}

/** A cluster broker's source until it has joined: every reservation is refused (InitProducerId answers a retriable code). */
export const notJoinedBlockSource: ProducerIdBlockSource = {
  reserveBlock: () => Promise.reject(new Error('this broker has not joined the cluster yet: producer ids come from etcd')),
};

/** Blocks from the block file read at open: the file is rewritten, atomically, before a block is used. */
class FileBlockSource implements ProducerIdBlockSource {
  constructor(
    private readonly storage: ProducerIdStorage,
    private firstUnreserved: bigint,
  ) {}

  /** Writes one at a time, in order, so the file never goes back to an earlier value. */
  private writing: Promise<void> = Promise.resolve();

  async reserveBlock(size: bigint): Promise<bigint> {
    // Moved on before the write, so that two reservations never share a block; a block whose
    // write failed is skipped (its ids were never handed out).
    const first = this.firstUnreserved;
    this.firstUnreserved = first + size;
    const written = this.writing.then(() => this.storage.write(`${fileFormatVersion}\n${first + size}\n`));
    this.writing = written.catch(() => undefined);
    await written;
    return first;
  }
}

/** The block file in `metaDirectory`, written atomically. */
export function fileProducerIdStorage(metaDirectory: string): ProducerIdStorage {
  const path = join(metaDirectory, producerIdBlockFileName);
  return {
    read: () => readSnapshotText(path),
    async write(text) {
      await fs.mkdir(metaDirectory, { recursive: true });
      await writeSnapshotText(metaDirectory, producerIdBlockFileName, text);
    },
  };
}

/**
 * Once this few ids are left in the current block, the next block is reserved in the background
 * (KIP-730 prefetches at 90 %), so that InitProducerId rarely waits for a reservation, and a broker
 * of a cluster goes on handing out ids through a short etcd outage.
 */
const prefetchWhenRemaining = producerIdBlockSize / 10n;

interface PrefetchedBlock {
  readonly source: ProducerIdBlockSource;
  /** The first id of the block; rejects when it could not be reserved. */
  readonly first: Promise<bigint>;
}

export class ProducerIdManager {
  private nextId = 0n;
  private reservedEnd = 0n;
  private reserving: Promise<void> | null = null;
  /** The next block, reserved ahead (null: none asked for yet, or the last attempt failed). */
  private prefetched: PrefetchedBlock | null = null;
  /** In least-recently-used order. */
  private readonly remembered = new Map<bigint, RememberedProducer>();

  private readonly maxRemembered: number;

  constructor(
    private source: ProducerIdBlockSource,
    maxRemembered: number,
    private readonly logger: Logger,
  ) {
    this.maxRemembered = Math.max(1, maxRemembered);
  }

  /** A single broker's manager: blocks from the block file in `storage`. */
  static async open(storage: ProducerIdStorage, maxRemembered: number, logger: Logger): Promise<ProducerIdManager> {
    const text = await storage.read();
    let firstUnreserved = 0n;
    if (text !== null) {
      const match = /^(\d+)\n(\d+)\n$/.exec(text);
      if (match === null || Number(match[1]) !== fileFormatVersion) {
        throw new Error(`${producerIdBlockFileName}: not a producer id block file of format version ${fileFormatVersion}; refusing to guess, since that could reuse producer ids`);
      }
      firstUnreserved = BigInt(match[2]!);
    }
    return new ProducerIdManager(new FileBlockSource(storage, firstUnreserved), maxRemembered, logger);
  }

  /**
   * Takes blocks from `source` from now on (the cluster's, once joined); what is left of the
   * current block is dropped, so every id handed out afterwards comes from the new source.
   */
  useBlockSource(source: ProducerIdBlockSource): void {
    this.source = source;
    this.nextId = this.reservedEnd;
    this.prefetched = null;
  }

  /**
   * The next unused producer id; takes the next block first when the current one is used up (the
   * one reserved ahead, else a new reservation), and reserves the block after it ahead once few ids
   * are left.
   */
  async allocate(): Promise<bigint> {
    while (this.nextId >= this.reservedEnd) {
      this.reserving ??= this.takeNextBlock().finally(() => {
        this.reserving = null;
      });
      await this.reserving;
    }
    if (this.nextId === 0n) this.nextId = 1n; // never 0: see the header
    const id = this.nextId++;
    if (this.reservedEnd - this.nextId <= prefetchWhenRemaining && this.prefetched === null) this.prefetchNextBlock();
    return id;
  }

  private prefetchNextBlock(): void {
    const source = this.source;
    const first = source.reserveBlock(producerIdBlockSize);
    const prefetched: PrefetchedBlock = { source, first };
    this.prefetched = prefetched;
    first.catch((error: unknown) => {
      // Tried again at the next allocation; the block is reserved when needed at the latest.
      if (this.prefetched === prefetched) this.prefetched = null;
      this.logger.warn('could not reserve the next producer id block ahead', { error: String(error) });
    });
  }

  private async takeNextBlock(): Promise<void> {
    const source = this.source;
    const prefetched = this.prefetched?.source === source ? this.prefetched : null;
    this.prefetched = null;
    const first = prefetched === null ? await source.reserveBlock(producerIdBlockSize) : await prefetched.first.catch(() => source.reserveBlock(producerIdBlockSize));
    if (source !== this.source) return; // replaced meanwhile: the next loop reserves from the new one
    this.nextId = first;
    this.reservedEnd = first + producerIdBlockSize;
    this.logger.debug('producer id block reserved', { from: first, to: this.reservedEnd - 1n });
  }

  /** InitProducerId without a transactional id; `producerId`/`producerEpoch` are -1 before v3. */
  async initProducerId(producerId: bigint, producerEpoch: number, apiVersion: number): Promise<InitProducerIdResult> {
    if (producerId === -1n && producerEpoch === -1) return this.newProducer();
    if (producerId < 0n || producerEpoch < 0) {
      return refused(ErrorCode.invalidRequest, `producer id ${producerId} and epoch ${producerEpoch}: give both or neither`);
    }
    const known = this.remembered.get(producerId);
    if (known === undefined) return this.newProducer();
    this.touch(producerId, known);
    if (known.rotatedTo !== null) {
      const current = this.remembered.get(known.rotatedTo);
      if (producerEpoch >= exhaustedEpoch && current !== undefined) return accepted(known.rotatedTo, current.epoch);
      return this.fenced(producerId, producerEpoch, known, apiVersion);
    }
    if (producerEpoch === known.epoch) {
      if (known.epoch >= exhaustedEpoch) {
        const next = await this.newProducer();
        known.rotatedTo = next.producerId;
        return next;
      }
      known.previousEpoch = known.epoch;
      known.epoch++;
      return accepted(producerId, known.epoch);
    }
    if (producerEpoch === known.previousEpoch) return accepted(producerId, known.epoch);
    return this.fenced(producerId, producerEpoch, known, apiVersion);
  }

  private async newProducer(): Promise<InitProducerIdResult> {
    const producerId = await this.allocate();
    this.touch(producerId, { epoch: 0, previousEpoch: -1, rotatedTo: null });
    return accepted(producerId, 0);
  }

  private fenced(producerId: bigint, producerEpoch: number, known: RememberedProducer, apiVersion: number): InitProducerIdResult {
    // Clients before v4 do not know PRODUCER_FENCED; Kafka answers them INVALID_PRODUCER_EPOCH.
    const errorCode = apiVersion >= firstProducerFencedVersion ? ErrorCode.producerFenced : ErrorCode.invalidProducerEpoch;
    return refused(errorCode, `producer ${producerId} epoch ${producerEpoch} is fenced: its current epoch is ${known.epoch}`);
  }

  private touch(producerId: bigint, entry: RememberedProducer): void {
    this.remembered.delete(producerId);
    this.remembered.set(producerId, entry);
    while (this.remembered.size > this.maxRemembered) {
      const oldest = this.remembered.keys().next();
      if (oldest.done === true) break;
      this.remembered.delete(oldest.value);
    }
  }
}

function accepted(producerId: bigint, producerEpoch: number): InitProducerIdResult {
  return { errorCode: ErrorCode.none, producerId, producerEpoch };
}

function refused(errorCode: number, reason: string): InitProducerIdResult {
  return { errorCode, producerId: -1n, producerEpoch: -1, reason };
}
