/**
 * The codecs a producer may compress with, by name (the CLI's --compression). The compression
 * itself is src/protocol/kafka/compression.ts's compressRecords, shared with the broker, which
 * recompresses batches for topics with a compression.type.
 */
import { compressionCodecs } from '../protocol/kafka/compression.js';
import type { CompressionName } from '../protocol/kafka/compression.js';

export { compressRecords } from '../protocol/kafka/compression.js';
export type { CompressionName };

export function isCompressionName(name: string): name is CompressionName {
  return Object.hasOwn(compressionCodecs, name);
}
