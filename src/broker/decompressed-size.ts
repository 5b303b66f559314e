/**
 * The produce path's check of how large a compressed batch says it will grow: the limit
 * limits.maxDecompressedBytes applies to what consumers (and our own timestamp lookups) would have
 * to inflate. Only headers are read (protocol/kafka/compression.ts, declaredDecompressedBytes); the
 * records are still stored as they came (DESIGN.md, decision 4).
 *
 * Answers: MESSAGE_TOO_LARGE past the limit (the Java producer then splits the batch and retries);
 * CORRUPT_MESSAGE when the compressed headers cannot be read.
 */
import { compressionCodecMask, readAttributes, recordsAt } from '../protocol/kafka/batch-header.js';
import { DecompressionError, declaredDecompressedBytes } from '../protocol/kafka/compression.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import type { PartitionProduceResult } from './produce.js';

function refused(errorCode: number, errorMessage: string): PartitionProduceResult {
  return { errorCode, errorMessage, baseOffset: null, logAppendTimeMs: -1n, logStartOffset: null };
}

/** Null when the batch (already checked by checkBatch) is uncompressed or within the limit. */
export function checkDecompressedSize(batch: Buffer, maxDecompressedBytes: number): PartitionProduceResult | null {
  const codec = readAttributes(batch, 0) & compressionCodecMask;
  if (codec === 0) return null;
  let declaredBytes: number;
  try {
    declaredBytes = declaredDecompressedBytes(codec, batch.subarray(recordsAt));
  } catch (error) {
    if (!(error instanceof DecompressionError)) throw error;
    return refused(ErrorCode.corruptMessage, `compressed records cannot be read: ${error.message}`);
  }
  if (declaredBytes <= maxDecompressedBytes) return null;
  return refused(ErrorCode.messageTooLarge, `batch would decompress to ${declaredBytes} bytes, more than limits.maxDecompressedBytes ${maxDecompressedBytes}`);
}
