/**
 * Producer ids for the whole cluster (KIP-730's scheme, on etcd): `/osprey/producer-id-block` holds
 * the first id no broker has reserved. A broker that needs ids reserves a block of them in one
 * transaction,
 *
 *   read /osprey/producer-id-block                         → next (0 when absent), modRevision r
 *   if   /osprey/producer-id-block  modRevision == r       (nobody reserved since the read)
 *   then put {"nextProducerId": next + size}
 *
 * and hands out next … next + size − 1 itself (broker/idempotence/producer-ids.ts). etcd serialises
 * the transactions, so of two brokers reading the same value only one moves it on; the other reads
 * again. The key only grows, and a block is reserved in etcd before its first id is used, so no id
 * is handed out twice across brokers, restarts and crashes (ids of a block a broker did not use up
 * are skipped, never reused). An unreadable value is not guessed past: the reservation fails and
 * InitProducerId answers a retriable error until an operator repairs the key.
 */
import type { ProducerIdBlockSource } from '../broker/idempotence/producer-ids.js';
import type { ClusterStore } from './cluster-store.js';
import { decodeProducerIdBlock, encodeProducerIdBlock, producerIdBlockKey } from './keys.js';

/** Lost races in a row before a reservation gives up (the caller answers a retriable error). */
const maxAttempts = 20;

export class EtcdProducerIdBlocks implements ProducerIdBlockSource {
  constructor(private readonly store: ClusterStore) {}

  async reserveBlock(size: bigint): Promise<bigint> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const current = await this.store.get(producerIdBlockKey);
      let first = 0;
      if (current !== null) {
        const record = decodeProducerIdBlock(current.value);
        if (record instanceof Error) throw new Error(`${producerIdBlockKey} cannot be read (${record.message}); refusing to guess, since that could reuse producer ids`);
        first = record.nextProducerId;
      }
      const end = first + Number(size);
      if (!Number.isSafeInteger(end)) throw new Error(`${producerIdBlockKey}: producer ids are exhausted (next ${first})`);
      const written = await this.store.transaction(
        [{ key: producerIdBlockKey, modRevision: current?.modRevision ?? 0n }],
        [{ type: 'put', key: producerIdBlockKey, value: encodeProducerIdBlock({ nextProducerId: end }) }],
      );
      if (written.succeeded) return BigInt(first);
    }
    throw new Error(`${producerIdBlockKey} changed ${maxAttempts} times while this broker tried to reserve a block; retry`);
  }
}
