/**
 * The producer's batches: records written in place by the protocol's RecordBatchBuilder
 * (src/protocol/kafka/record-batch-builder.ts, the one writer of the v2 layout), then, when the
 * batch closes, the records section compressed (./compression.ts) and the header filled in with
 * the codec and the producer's identity.
 */
import { compressionCodecMask } from '../protocol/kafka/batch-header.js';
import { compressionCodecs } from '../protocol/kafka/compression.js';
import { RecordBatchBuilder } from '../protocol/kafka/record-batch-builder.js';
import type { HeaderToWrite, RecordBytes } from '../protocol/kafka/record-batch-builder.js';
import { compressRecords } from './compression.js';

export type Bytes = RecordBytes;
export type HeaderToSend = HeaderToWrite;

/** Producer id, epoch and first sequence of an idempotent batch; -1s when not idempotent. */
export interface BatchIdentity {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

const noIdentity: BatchIdentity = { producerId: -1n, producerEpoch: -1, baseSequence: -1 };

export class BatchBuilder extends RecordBatchBuilder {
  /**
   * The whole batch, records compressed with `codec`, CRC filled in. The builder is spent.
   * `identity` makes it an idempotent batch (producer id, epoch, first sequence).
   */
  async finish(codec: number, identity: BatchIdentity = noIdentity): Promise<Buffer> {
    const compressed = codec === compressionCodecs.none ? null : await compressRecords(codec, this.records);
    return this.build(
      {
        attributes: codec & compressionCodecMask, // codec; create time; not transactional
        producerId: identity.producerId,
        producerEpoch: identity.producerEpoch,
        baseSequence: identity.producerId < 0n ? -1 : identity.baseSequence,
      },
      compressed,
    );
  }
}
