/**
 * One cleaning pass over one partition's log (Kafka's log compaction), deciding what stays;
 * storage (PartitionLog) reads the sealed segments, writes their cleaned versions and swaps them in.
 *
 *   segments:  [ clean ……………… ][ dirty ………………………… ][ too new ][ active ]
 *              ▲ log start       ▲ cleanedEndOffset    ▲ min.compaction.lag.ms
 *                                (firstDirty)            or the key map's room
 *
 *  1. Whether to clean: the dirty bytes are at least min.cleanable.dirty.ratio of the sealed log
 *     (clean + dirty), or the oldest dirty record is older than max.compaction.lag.ms, or tombstones
 *     cleaned earlier have outlived delete.retention.ms. Segments with a record newer than
 *     min.compaction.lag.ms, and everything after them, are not cleaned yet; nor is the active one.
 *  2. The key map (key-offset-map.ts): the latest offset of each key in the dirty segments, segment by
 *     segment while the next one surely fits (its offset count), so the pass ends on a segment boundary.
 *  3. Every sealed segment up to there is rewritten (batch-filter.ts) keeping a record when it has a
 *     key, no later record of its key is in the map, and it is not a tombstone whose
 *     delete.retention.ms has run out since the pass that first cleaned it. A batch whose records all
 *     go disappears, except a producer's latest batch (idempotence needs its sequence) and the last
 *     batch of a segment (so segments still meet each other), which stay as empty batches.
 *  4. The new versions are swapped in with the new cleaner state (PartitionLog.swapInCleanedSegments).
 *
 * Control batches are kept as they are. The work is done in chunks of asynchronous reads
 * (`ioChunkBytes`) with a turn of the event loop between chunks, so produce and fetch are served
 * meanwhile; `shouldStop` is asked between chunks (shutdown, topic deletion).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isControl, noTimestamp, readLastOffset, readProducerId } from '../../protocol/kafka/batch-header.js';
import { SegmentGoneError, type CleanedSegmentWriter, type CleanerState, type CleaningPass, type CompactionView, type SealedSegmentSummary } from '../../storage/partition-log.js';
import type { EffectiveTopicConfig } from '../topic-config.js';
import { emptyBatchOf, filterBatch, forEachRecordOf } from './batch-filter.js';
import { KeyOffsetMap, keyDigest } from './key-offset-map.js';

/** What the cleaner needs of a partition's log (PartitionHandle gives its PartitionLog). */
export interface CompactableLog {
  compactionView(): CompactionView;
  sealedSegmentBatches(baseOffset: number, chunkBytes: number): AsyncGenerator<Buffer>;
  cleanedSegmentWriter(baseOffset: number): CleanedSegmentWriter;
  swapInCleanedSegments(writers: readonly CleanedSegmentWriter[], state: CleanerState): Promise<boolean>;
}

export type CompactionConfig = Pick<EffectiveTopicConfig, 'deleteRetentionMs' | 'minCleanableDirtyRatio' | 'minCompactionLagMs' | 'maxCompactionLagMs'>;

export interface CleanerLimits {
  /** log.cleaner.dedupe.buffer.size: bytes of the key map. */
  readonly dedupeBufferBytes: number;
  /** Bytes read from a segment at a time. */
  readonly ioChunkBytes: number;
  readonly maxDecompressedBytes: number;
}

export interface CleaningInput {
  readonly log: CompactableLog;
  readonly config: CompactionConfig;
  readonly limits: CleanerLimits;
  readonly nowMs: number;
  /** Last offsets of the latest batch of each producer the partition remembers. */
  readonly producerLastOffsets: ReadonlySet<number>;
  readonly shouldStop: () => boolean;
  /** Test hook: called with the cleaned files written, before the swap; told when to give up waiting. */
  readonly beforeSwap?: (shouldStop: () => boolean) => Promise<void>;
}

/** Why a pass would run, or null when the log needs none; with the dirty ratio for choosing the filthiest log first. */
export interface CleaningNeed {
  readonly dirtyRatio: number;
  readonly reason: 'dirty ratio' | 'max compaction lag' | 'tombstones expired';
}

export interface CleaningOutcome {
  readonly cleanedSegments: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsRemoved: number;
  readonly cleanedEndOffset: number;
}

/** Most tombstone passes remembered; beyond it the two oldest merge (their tombstones are kept a little longer). */
const maxRememberedPasses = 1000;

interface Sections {
  readonly clean: SealedSegmentSummary[];
  readonly dirty: SealedSegmentSummary[];
  readonly firstDirty: number;
}

function sectionsOf(view: CompactionView, config: CompactionConfig, nowMs: number): Sections {
  const live = view.sealedSegments.filter((segment) => segment.nextOffset > view.logStartOffset);
  const firstDirty = Math.max(view.cleanerState.cleanedEndOffset, view.logStartOffset);
  const clean = live.filter((segment) => segment.nextOffset <= firstDirty);
  const dirty: SealedSegmentSummary[] = [];
  for (const segment of live) {
    if (segment.nextOffset <= firstDirty) continue;
    // A segment holding a record newer than min.compaction.lag.ms, and all after it, wait.
    if (config.minCompactionLagMs > 0 && segment.maxTimestamp !== noTimestamp && segment.maxTimestamp > nowMs - config.minCompactionLagMs) break;
    dirty.push(segment);
  }
  return { clean, dirty, firstDirty };
}

function bytesOf(segments: readonly SealedSegmentSummary[]): number {
  return segments.reduce((total, segment) => total + segment.sizeBytes, 0);
}

export function cleaningNeed(view: CompactionView, config: CompactionConfig, nowMs: number): CleaningNeed | null {
  if (view.damaged) return null; // never rewrite around damage an operator has to look at
  const { clean, dirty } = sectionsOf(view, config, nowMs);
  const dirtyBytes = bytesOf(dirty);
  const dirtyRatio = dirtyBytes === 0 ? 0 : dirtyBytes / (dirtyBytes + bytesOf(clean));
  if (dirty.length > 0 && dirtyRatio >= config.minCleanableDirtyRatio) return { dirtyRatio, reason: 'dirty ratio' };
  const oldest = dirty[0];
  if (oldest !== undefined) {
    const firstTimestamp = oldest.firstBatchTimestamp === noTimestamp ? oldest.maxTimestamp : oldest.firstBatchTimestamp;
    if (firstTimestamp !== noTimestamp && nowMs - firstTimestamp > config.maxCompactionLagMs) return { dirtyRatio, reason: 'max compaction lag' };
  }
  const firstPass = view.cleanerState.passes[0];
  if (firstPass !== undefined && clean.length > 0 && firstPass.cleanedAtMs + config.deleteRetentionMs <= nowMs) return { dirtyRatio, reason: 'tombstones expired' };
  return null;
}

/** Whether a tombstone at `offset`, below cleanedEndOffset, has outlived delete.retention.ms since it was first cleaned. */
function tombstoneExpired(passes: readonly CleaningPass[], offset: number, nowMs: number, deleteRetentionMs: number): boolean {
  for (const pass of passes) {
    if (offset >= pass.firstOffset && offset < pass.endOffset) return pass.cleanedAtMs + deleteRetentionMs <= nowMs;
  }
  return true; // no remembered pass holds it: its pass expired and was forgotten
}

/**
 * Runs one pass if the log needs one; null when it did not, or was stopped, or retention removed a
 * segment it was reading (the next look starts over).
 */
export async function cleanPartition(input: CleaningInput): Promise<CleaningOutcome | null> {
  try {
    return await cleanOnce(input);
  } catch (error) {
    if (error instanceof SegmentGoneError) return null;
    throw error;
  }
}

async function cleanOnce(input: CleaningInput): Promise<CleaningOutcome | null> {
  const { log, config, nowMs } = input;
  const view = log.compactionView();
  if (cleaningNeed(view, config, nowMs) === null) return null;
  const { clean, dirty, firstDirty } = sectionsOf(view, config, nowMs);
  const map = await buildKeyMap(input, dirty, firstDirty);
  if (map === null) return null;
  const state = view.cleanerState;
  const mappedEnd = Math.max(map.endOffset, state.cleanedEndOffset);
  const segments = [...clean, ...dirty].filter((segment) => segment.nextOffset <= mappedEnd);
  if (segments.length === 0) return null;
  const writers: CleanedSegmentWriter[] = [];
  let recordsRemoved = 0;
  let tombstonesPassedFirst = 0;
  try {
    for (const segment of segments) {
      const writer = log.cleanedSegmentWriter(segment.baseOffset);
      writers.push(writer);
      const keep = (record: { offset: number; key: Buffer | null; valueIsNull: boolean }): boolean => {
        if (record.key === null) return false; // cannot be looked up by key: Kafka drops these too
        const latest = map.offsets.get(keyDigest(record.key));
        if (latest > record.offset) return false;
        if (!record.valueIsNull) return true;
        if (record.offset >= state.cleanedEndOffset) {
          tombstonesPassedFirst++;
          return true;
        }
        return !tombstoneExpired(state.passes, record.offset, nowMs, config.deleteRetentionMs);
      };
      const removed = await rewriteSegment(input, segment, writer, keep);
      if (removed === null) throw new StoppedError();
      recordsRemoved += removed;
      await writer.finish();
    }
    await input.beforeSwap?.(input.shouldStop);
    if (input.shouldStop()) throw new StoppedError();
  } catch (error) {
    for (const writer of writers) await writer.discard();
    if (error instanceof StoppedError) return null;
    throw error;
  }
  const nextState = stateAfterPass(state, mappedEnd, tombstonesPassedFirst > 0, nowMs, config.deleteRetentionMs);
  const bytesBefore = bytesOf(segments);
  if (!(await log.swapInCleanedSegments(writers, nextState))) return null;
  const bytesAfter = writers.reduce((total, writer) => total + writer.segment.sizeBytes, 0);
  return { cleanedSegments: writers.length, bytesBefore, bytesAfter, recordsRemoved, cleanedEndOffset: mappedEnd };
}

class StoppedError extends Error {}

/** The passes that may still hold tombstones: expired ones went in this pass; this pass's own if it kept any. */
export function stateAfterPass(state: CleanerState, cleanedEndOffset: number, keptNewTombstones: boolean, nowMs: number, deleteRetentionMs: number): CleanerState {
  const passes = state.passes.filter((pass) => pass.cleanedAtMs + deleteRetentionMs > nowMs);
  if (keptNewTombstones && cleanedEndOffset > state.cleanedEndOffset) passes.push({ firstOffset: state.cleanedEndOffset, endOffset: cleanedEndOffset, cleanedAtMs: nowMs });
  while (passes.length > maxRememberedPasses) {
    const [first, second] = passes.splice(0, 2) as [CleaningPass, CleaningPass];
    passes.unshift({ firstOffset: first.firstOffset, endOffset: second.endOffset, cleanedAtMs: second.cleanedAtMs });
  }
  return { cleanedEndOffset, passes };
}

/**
 * Step 2: the latest offset of each key in the dirty segments, segment by segment while the next
 * one surely fits. Null when not even the first fits (the map is too small: logged by the caller
 * as nothing done) or the pass was stopped.
 */
async function buildKeyMap(input: CleaningInput, dirty: readonly SealedSegmentSummary[], firstDirty: number): Promise<{ offsets: KeyOffsetMap; endOffset: number } | null> {
  const neededKeys = dirty.reduce((total, segment) => total + segment.nextOffset - Math.max(segment.baseOffset, firstDirty), 0);
  const offsets = new KeyOffsetMap(input.limits.dedupeBufferBytes, neededKeys);
  let endOffset = firstDirty;
  for (const segment of dirty) {
    const offsetCount = segment.nextOffset - Math.max(segment.baseOffset, firstDirty);
    if (offsets.size + offsetCount > offsets.capacity) {
      if (endOffset === firstDirty) throw new KeyMapTooSmallError(segment.baseOffset, offsetCount, offsets.capacity);
      break;
    }
    for await (const chunk of input.log.sealedSegmentBatches(segment.baseOffset, input.limits.ioChunkBytes)) {
      for (const batch of batchesIn(chunk)) {
        if (isControl(batch, 0)) continue;
        await forEachRecordOf(batch, input.limits.maxDecompressedBytes, (record) => {
          if (record.key !== null && record.offset >= firstDirty) offsets.put(keyDigest(record.key), record.offset);
        });
      }
      if (input.shouldStop()) return null;
      await nextTurn();
    }
    endOffset = segment.nextOffset;
  }
  return { offsets, endOffset };
}

/** Not even the first dirty segment fits the key map: log.cleaner.dedupe.buffer.size is too small for this log. */
export class KeyMapTooSmallError extends Error {
  constructor(segmentBaseOffset: number, offsetCount: number, capacity: number) {
    super(`segment ${segmentBaseOffset} holds up to ${offsetCount} keys, the key map takes ${capacity}: raise log.cleaner.dedupe.buffer.size`);
    this.name = 'KeyMapTooSmallError';
  }
}

function* batchesIn(chunk: Buffer): Generator<Buffer> {
  let at = 0;
  while (at < chunk.length) {
    const totalBytes = chunk.readInt32BE(at + 8) + 12;
    yield chunk.subarray(at, at + totalBytes);
    at += totalBytes;
  }
}

/**
 * Step 3 for one segment: writes what stays to `writer`. A batch that loses every record is
 * dropped unless it is a producer's latest or the segment's last (then it stays empty). Returns
 * the records removed, or null when stopped.
 */
async function rewriteSegment(
  input: CleaningInput,
  segment: SealedSegmentSummary,
  writer: CleanedSegmentWriter,
  keep: (record: { offset: number; key: Buffer | null; valueIsNull: boolean }) => boolean,
): Promise<number | null> {
  let removed = 0;
  let pendingEmpty: Buffer | null = null;
  for await (const chunk of input.log.sealedSegmentBatches(segment.baseOffset, input.limits.ioChunkBytes)) {
    for (const batch of batchesIn(chunk)) {
      const outcome = isControl(batch, 0) ? ({ kind: 'unchanged' } as const) : await filterBatch(batch, input.limits.maxDecompressedBytes, keep);
      if (outcome.kind === 'emptied') {
        removed += batch.readInt32BE(57);
        const producersLatest = readProducerId(batch, 0) >= 0n && input.producerLastOffsets.has(readLastOffset(batch, 0));
        if (producersLatest) {
          await writer.append(emptyBatchOf(batch));
          pendingEmpty = null;
        } else {
          pendingEmpty = emptyBatchOf(batch); // written only if it turns out to be the segment's last
        }
        continue;
      }
      pendingEmpty = null;
      if (outcome.kind === 'filtered') {
        removed += batch.readInt32BE(57) - outcome.batch.readInt32BE(57);
        await writer.append(outcome.batch);
      } else {
        await writer.append(batch);
      }
    }
    if (input.shouldStop()) return null;
    await nextTurn();
  }
  if (pendingEmpty !== null) await writer.append(pendingEmpty);
  return removed;
}
