/**
 * The controller's work on partitions: whenever the set of live brokers changes (and once when it
 * becomes controller), it reads every partition's state and, for each whose leader is gone (or
 * which is offline and may be led again), writes the state partition-state.ts decides.
 *
 * Each write is one transaction conditioned on two revisions:
 *
 *   if   /osprey/controller               modRevision == epoch        (still this controller)
 *   and  /osprey/partitions/<topic>/<i>   modRevision == as read      (nobody changed it since)
 *   then put the new state
 *
 * so a controller that was replaced (its key deleted, another's created with a larger revision)
 * cannot write, whatever it believes, and no change made since the read is overwritten. A failed
 * write is followed by a fresh pass (or by stopping, when the controller key is no longer ours).
 * Passes run one at a time; changes arriving during a pass ask for one more.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore } from './cluster-store.js';
import { controllerKey, decodePartition, decodeTopic, encodePartition, noLeader, partitionOfKey, partitionsPrefix, topicOfKey, topicsPrefix } from './keys.js';
import { electLeader } from './partition-state.js';

export interface PartitionLeadershipOptions {
  readonly store: ClusterStore;
  /** The controller epoch: the controller key's createRevision (also its modRevision: it is written once). */
  readonly epoch: bigint;
  /** The brokers live now, as the controller's broker directory sees them. */
  readonly liveBrokers: () => ReadonlySet<number>;
  readonly logger: Logger;
  /** Pause before another pass after a failed write or request. */
  readonly retryDelayMs: number;
}

/** A failed pass is tried again this many times in a row at most, then waits for the next broker change. */
const maxPassesInARow = 10;

export class PartitionLeadership {
  private running: Promise<void> | null = null;
  private passWanted = false;
  private stopped = false;

  constructor(private readonly options: PartitionLeadershipOptions) {}

  /** Live brokers changed (or the controller just started): a pass runs soon. */
  brokersChanged(): void {
    if (this.stopped) return;
    this.passWanted = true;
    this.running ??= this.passWhileWanted();
  }

  /** No pass starts after this; the one under way finishes its current write. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async passWhileWanted(): Promise<void> {
    const { logger, retryDelayMs } = this.options;
    let passesInARow = 0;
    try {
      while (this.passWanted && !this.stopped) {
        this.passWanted = false;
        let outcome: 'done' | 'again' | 'not controller';
        try {
          outcome = await this.pass();
        } catch (error) {
          logger.warn('partition leadership pass failed; trying again', { error: error instanceof Error ? error.message : String(error), retryMs: retryDelayMs });
          outcome = 'again';
        }
        if (outcome === 'not controller') {
          logger.warn('partition leadership: the controller key is no longer ours; writing no more', { epoch: this.options.epoch });
          this.stopped = true;
        } else if (outcome === 'again') {
          if (++passesInARow >= maxPassesInARow) {
            logger.error('partition leadership: passes keep failing; waiting for the next broker change', { passes: passesInARow });
            continue;
          }
          this.passWanted = true;
          await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
        } else {
          passesInARow = 0;
        }
      }
    } finally {
      this.running = null;
    }
  }

  /** One pass over every partition; 'again' when a write lost a race (another pass will read anew). */
  private async pass(): Promise<'done' | 'again' | 'not controller'> {
    const { store, epoch, logger } = this.options;
    const topics = await store.rangeByPrefix(topicsPrefix);
    const partitions = await store.rangeByPrefix(partitionsPrefix);
    const uncleanTopics = new Set<string>();
    for (const entry of topics.entries) {
      const name = topicOfKey(entry.key);
      const record = decodeTopic(entry.value);
      if (name !== null && !(record instanceof Error) && record.configs.get('unclean.leader.election.enable') === 'true') uncleanTopics.add(name);
    }
    // Read after the ranges: the set the decisions are made against is at least as new as they are.
    const live = this.options.liveBrokers();
    let outcome: 'done' | 'again' = 'done';
    for (const entry of partitions.entries) {
      if (this.stopped) break;
      const partition = partitionOfKey(entry.key);
      const state = decodePartition(entry.value);
      if (partition === null || state instanceof Error) continue; // the metadata cache warns of these
      const next = electLeader(state, live, uncleanTopics.has(partition.topic));
      if (next === null) continue;
      const written = await store.transaction(
        [
          { key: controllerKey, modRevision: epoch },
          { key: entry.key, modRevision: entry.modRevision },
        ],
        [{ type: 'put', key: entry.key, value: encodePartition(next) }],
      );
      if (!written.succeeded) {
        if ((await store.get(controllerKey))?.modRevision !== epoch) return 'not controller';
        outcome = 'again';
        continue;
      }
      const fields = { topic: partition.topic, partition: partition.index, leaderEpoch: next.leaderEpoch, isr: next.isr.join(','), previousLeader: state.leader };
      if (next.leader === state.leader) logger.info('followers whose broker is gone left the ISR', { ...fields, leader: next.leader });
      else if (next.leader === noLeader) logger.warn('partition offline: no in-sync replica is live', fields);
      else if (!state.isr.includes(next.leader)) logger.warn('unclean leader election: a replica out of sync leads the partition; records may be lost', { ...fields, leader: next.leader });
      else logger.info('partition leader elected', { ...fields, leader: next.leader });
    }
    return outcome;
  }
}
