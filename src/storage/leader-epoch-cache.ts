import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { strict as assert } from 'node:assert';
import { replaceFileAtomically } from './checkpoint.js';
import { defaultSyncFile, type SyncFile } from './segment.js';

/**
 * One partition's leader epochs (KIP-101): for each leader epoch whose batches the log holds, the
 * offset of its first batch. A leader stamps every batch it appends with its leader epoch (the
 * batch header's partitionLeaderEpoch), and followers keep the leader's batches as they are, so the
 * epochs in the log only grow with the offsets:
 *
 *   log:      [ e0 e0 e0 | e2 e2 | e5 e5 e5 e5 ]
 *   offsets:    0        3       5             9 = log end
 *   entries:  (0, 0)  (2, 3)  (5, 5)
 *
 * The end of an epoch is the start of the next larger one, or the log end for the latest: what
 * OffsetForLeaderEpoch answers, and what a follower compares with its own log to find where the
 * two diverge (cluster/replica-fetcher.ts).
 *
 * The entries follow the log: an appended batch with a larger epoch adds one (assign); cutting the
 * log's tail removes those at or past the new end (truncateFromEnd); moving the log start (retention,
 * DeleteRecords) drops the epochs wholly below it and moves the first kept one's start up to it
 * (truncateFromStart).
 *
 * Kept in the partition's folder as `leader-epoch-checkpoint`, text, one line per field:
 *
 *   ┌──────────────┐
 *   │ 1            │  format version
 *   │ 3            │  number of entries
 *   │ 0 0          │  leader epoch, start offset (decimal, both ≥ 0; epochs and offsets ascending)
 *   │ 2 3          │
 *   │ 5 5          │
 *   └──────────────┘
 *
 * replaced atomically (checkpoint.ts: .tmp, fsync, rename, fsync the folder) after every change.
 * A missing or unreadable file is rebuilt from the batch headers of the log; entries a crash left
 * past the log end or before its start are trimmed when the log opens.
 */

export const leaderEpochFileName = 'leader-epoch-checkpoint';
export const leaderEpochFormatVersion = 1;

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
export const undefinedEpoch = -1;
export const undefinedEpochOffset = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** The end of an epoch as OffsetForLeaderEpoch answers it (both undefined when not known). */
export interface EpochEnd {
  readonly epoch: number;
  readonly endOffset: number;
}

export const undefinedEpochEnd: EpochEnd = { epoch: undefinedEpoch, endOffset: undefinedEpochOffset };

export class LeaderEpochCache {
  private entries: EpochEntry[];
  /** The last write of the file, so writes never overlap (each writes the entries as they are then). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly directory: string,
    entries: readonly EpochEntry[] = [],
    private readonly syncFile: SyncFile = defaultSyncFile,
  ) {
    this.entries = [...entries];
    this.invariants();
  }

  /** The entries, oldest first. */
  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  /** The largest epoch the log holds batches of; undefinedEpoch when none. */
  get latestEpoch(): number {
    return this.entries[this.entries.length - 1]?.epoch ?? undefinedEpoch;
  }

  /**
   * A batch of `epoch` was appended at `startOffset`: a larger epoch than any so far starts there.
   * Returns whether an entry was added. A smaller epoch (a batch stamped by an older leader after a
   * newer one's, which leaders never write) changes nothing.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0) return false;
    const latest = this.entries[this.entries.length - 1];
    if (latest !== undefined && (epoch <= latest.epoch || startOffset < latest.startOffset)) return false;
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** The log was cut back to end at `endOffset`: epochs starting at or past it go. Returns whether any went. */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    while (this.entries.length > 0 && this.entries[this.entries.length - 1]!.startOffset >= endOffset) this.entries.pop();
    return this.entries.length !== before;
  }

  /** The log holds no batch any more: every epoch goes. */
  clear(): void {
    this.entries = [];
  }

  /**
   * The log now starts at `startOffset`: epochs that ended before it go, and the one holding it
   * starts there. Returns whether anything changed.
   */
  truncateFromStart(startOffset: number): boolean {
    let holding = -1;
    for (let index = 0; index < this.entries.length && this.entries[index]!.startOffset <= startOffset; index++) holding = index;
    if (holding < 0 || (holding === 0 && this.entries[0]!.startOffset === startOffset)) return false;
    const kept = this.entries.slice(holding);
    kept[0] = { epoch: kept[0]!.epoch, startOffset };
    this.entries = kept;
    return true;
  }

  /**
   * OffsetForLeaderEpoch's answer for `requestedEpoch`, on a log ending at `logEndOffset`
   * (KIP-101, KIP-279):
   *  - the latest epoch (or, on a leader, its current `leaderEpoch` that has no batch yet): that
   *    epoch and the log end;
   *  - an epoch larger than every one known: undefined;
   *  - otherwise the largest known epoch ≤ the requested one (the requested epoch itself when it is
   *    older than every known one), ending where the next larger known epoch starts.
   * A leader's current epoch counts as starting at the log end when no batch of it is stored yet,
   * as if it had been assigned there when the broker became leader.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number, leaderEpoch: number = undefinedEpoch): EpochEnd {
    if (requestedEpoch < 0) return undefinedEpochEnd;
    const entries = leaderEpoch > this.latestEpoch ? [...this.entries, { epoch: leaderEpoch, startOffset: logEndOffset }] : this.entries;
    const latest = entries[entries.length - 1];
    if (latest === undefined) return undefinedEpochEnd;
    if (requestedEpoch === latest.epoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = entries.findIndex((entry) => entry.epoch > requestedEpoch);
    if (higher < 0) return undefinedEpochEnd;
    const floor = higher === 0 ? requestedEpoch : entries[higher - 1]!.epoch;
    return { epoch: floor, endOffset: entries[higher]!.startOffset };
  }

  /** Writes the entries as they are now; resolves once the file holds them (or a later state). */
  persist(): Promise<void> {
    const write = this.writing.catch(() => {}).then(() => replaceFileAtomically(this.directory, leaderEpochFileName, encodeEntries(this.entries), this.syncFile));
    this.writing = write;
    return write;
  }

  /** Epochs ascend and so do their start offsets. */
  invariants(): void {
    for (let index = 1; index < this.entries.length; index++) {
      assert(this.entries[index]!.epoch > this.entries[index - 1]!.epoch, 'leader epochs ascend');
      assert(this.entries[index]!.startOffset >= this.entries[index - 1]!.startOffset, 'epoch start offsets ascend');
    }
  }
}

export function encodeEntries(entries: readonly EpochEntry[]): string {
  return `${leaderEpochFormatVersion}\n${entries.length}\n${entries.map((entry) => `${entry.epoch} ${entry.startOffset}\n`).join('')}`;
}

/** The entries of a checkpoint's text; a string saying what is wrong when it is not in our format. */
export function decodeEntries(text: string): EpochEntry[] | string {
  const lines = text.split('\n');
  if (lines.pop() !== '') return 'does not end with a newline';
  if (lines[0] !== String(leaderEpochFormatVersion)) return `format version ${JSON.stringify(lines[0])} is not ${leaderEpochFormatVersion}`;
  const count = Number(lines[1]);
  if (!/^\d+$/.test(lines[1] ?? '') || lines.length !== count + 2) return 'entry count does not match the lines';
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const match = /^(\d+) (\d+)$/.exec(line);
    if (match === null) return `entry ${JSON.stringify(line)} is not "epoch offset"`;
    const entry = { epoch: Number(match[1]), startOffset: Number(match[2]) };
    if (!Number.isSafeInteger(entry.startOffset) || entry.epoch > 0x7fffffff) return `entry ${JSON.stringify(line)} is out of range`;
    const previous = entries[entries.length - 1];
    if (previous !== undefined && (entry.epoch <= previous.epoch || entry.startOffset < previous.startOffset)) return 'entries do not ascend';
    entries.push(entry);
  }
  return entries;
}

/** The entries in the partition folder's checkpoint; null when absent, a string when unreadable. */
export async function readLeaderEpochFile(directory: string): Promise<EpochEntry[] | string | null> {
  let text: string;
  try {
    text = await readFile(join(directory, leaderEpochFileName), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return decodeEntries(text);
}
