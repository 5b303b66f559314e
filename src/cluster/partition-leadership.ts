/**
 * The controller's work on partitions: whenever the set of live brokers changes (and once when it
 * becomes controller), it reads every partition's state and, for each whose leader is gone (or
 * which is offline and may be led again), writes the state partition-state.ts decides.
 *
 * Each write is conditioned on two revisions:
 *
 *   if   /osprey/controller               modRevision == epoch        (still this controller)
 *   and  /osprey/partitions/<topic>/<i>   modRevision == as read      (nobody changed it since)
 *   then put the new state
 *
 * so a controller that was replaced (its key deleted, another's created with a larger revision)
 * cannot write, whatever it believes, and no change made since the read is overwritten. A pass
 * writes up to maxPartitionsPerTransaction partitions in one transaction (all conditions, all
 * puts); when it fails and the controller key is still ours, those partitions are written one by
 * one, so only the ones changed since the read wait for a fresh pass (or the pass stops, when the
 * controller key is no longer ours).
 * Passes run one at a time; changes arriving during a pass ask for one more.
 *
 * A broker that registered again (a known node id with a new registration: it restarted, perhaps on
 * an empty disk, or lost its lease) is handled as if it had left and joined: it leaves every ISR it
 * is in and leadership moves off it, on the same conditions, until its leader adds it back once it
 * caught up (leader-replicas.ts). Two signs tell that an ISR member registered again since it was
 * counted in sync, so a re-registration between two passes is not missed:
 *
 *   its registration's createRevision  >  the partition key's modRevision   (the ISR is older than it)
 *   its registration's createRevision  !=  the one the last completed pass acted on   (it came back
 *                                          since, whatever was written meanwhile)
 *
 * The first holds across controllers (etcd keeps both revisions); the second is kept in memory, for
 * the life of this controller. A leader that registered again and stays leader (no other ISR
 * member is live, or every one registered again too) gets the same state in a new leader epoch
 * (inNewTerm): its broker leads no state written before its registration (replica-sync.ts).
 *
 * Reassignments (partition-state.ts): the controller watches the partition keys from its first
 * pass on, and a change of a partition with a reassignment under way (its new replicas joining the
 * ISR) asks for a pass, which ends the reassignment once every target replica is in sync, with the
 * same two conditions.
 */
import type { Logger } from '../logging/logger.js';
import type { ClusterStore, KeyValue, Watch } from './cluster-store.js';
import { controllerKey, decodePartition, decodeTopic, encodePartition, noLeader, partitionKey, partitionOfKey, partitionsPrefix, reassigning, topicOfKey, topicsPrefix } from './keys.js';
import type { PartitionRecord } from './keys.js';
import { completeReassignment, electForRequest, electLeader, inNewTerm } from './partition-state.js';

/** One partition's answer to an election asked for (ElectLeaders). */
export interface ElectionResult {
  readonly topic: string;
  readonly partition: number;
  readonly outcome: 'elected' | 'not needed' | 'preferred not available' | 'none eligible' | 'unknown partition' | 'lost a race';
}

export interface PartitionLeadershipOptions {
  readonly store: ClusterStore;
  /** The controller epoch: the controller key's createRevision (also its modRevision: it is written once). */
  readonly epoch: bigint;
  /** The brokers live now, as the controller's broker directory sees them: each one's registration createRevision, by node id. */
  readonly liveBrokers: () => ReadonlyMap<number, bigint>;
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
  /** The watch of the partition keys (null before the first pass, or after it failed: the next pass starts one). */
  private partitionWatch: Promise<Watch> | null = null;
  /** Each broker's registration (createRevision) as the last completed pass saw it, by node id. */
  private readonly registrationsActedOn = new Map<number, bigint>();

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
    const watch = this.partitionWatch;
    this.partitionWatch = null;
    // Not awaited for long: with etcd out of reach the cancel waits a request's deadline.
    void watch?.then((started) => started.cancel(), () => undefined);
    await this.running;
  }

  /**
   * ElectLeaders on the controller: for each partition (every partition when null), a preferred
   * or unclean election, written as the passes write (conditioned on the controller epoch and the
   * partition's revision as read just before). Throws when the controller key is no longer ours.
   */
  async elect(partitions: readonly { topic: string; partition: number }[] | null, type: 'preferred' | 'unclean'): Promise<ElectionResult[]> {
    const { store, logger } = this.options;
    const entries = new Map<string, KeyValue>();
    if (partitions === null) {
      for (const entry of (await store.rangeByPrefix(partitionsPrefix)).entries) entries.set(entry.key, entry);
    } else {
      for (const { topic, partition } of partitions) {
        const entry = await store.get(partitionKey(topic, partition));
        if (entry !== null) entries.set(entry.key, entry);
      }
    }
    const asked = partitions ?? [...entries.keys()].map((key) => partitionOfKey(key)).filter((named) => named !== null).map(({ topic, index }) => ({ topic, partition: index }));
    const registrations = this.options.liveBrokers();
    const registeredAgain = this.registeredAgain(registrations);
    const results: ElectionResult[] = [];
    for (const { topic, partition } of asked) {
      const key = partitionKey(topic, partition);
      let entry = entries.get(key) ?? null;
      let outcome: ElectionResult['outcome'] = 'lost a race';
      // A write that lost a race (the leader changed the ISR meanwhile) is decided again on a fresh read.
      for (let attempt = 0; attempt < 3 && outcome === 'lost a race'; attempt++) {
        if (attempt > 0) entry = await store.get(key);
        const state = entry === null ? null : decodePartition(entry.value);
        if (entry === null || state === null || state instanceof Error) {
          outcome = 'unknown partition';
          break;
        }
        const decision = electForRequest(state, eligibleBrokers(registrations, staleMembers(state, entry.modRevision, registrations, registeredAgain)), type);
        if ('refused' in decision) {
          outcome = decision.refused;
          break;
        }
        const written = await this.write(entry, decision.next);
        if (written === 'not controller') throw new Error('this broker is no longer the controller');
        if (written === 'written') {
          outcome = 'elected';
          const fields = { topic, partition, leader: decision.next.leader, previousLeader: state.leader, leaderEpoch: decision.next.leaderEpoch };
          if (state.isr.includes(decision.next.leader)) logger.info(`${type} leader election on request: leader elected from the ISR`, fields);
          else logger.warn('unclean leader election on request: a replica out of sync leads the partition; records may be lost', fields);
        }
      }
      results.push({ topic, partition, outcome });
    }
    return results;
  }

  /** Writes next over entry, on the controller's two conditions. */
  private write(entry: KeyValue, next: PartitionRecord): Promise<'written' | 'lost' | 'not controller'> {
    return this.writeAll([{ entry, next }]);
  }

  /**
   * Writes every state in one transaction, on the controller's condition and each partition's
   * (all or none): a pass moving many partitions, as when a broker leading a hundred goes, costs
   * one etcd commit per maxPartitionsPerTransaction of them rather than one each.
   */
  private async writeAll(writes: readonly { readonly entry: KeyValue; readonly next: PartitionRecord }[]): Promise<'written' | 'lost' | 'not controller'> {
    const { store, epoch } = this.options;
    const written = await store.transaction(
      [{ key: controllerKey, modRevision: epoch }, ...writes.map(({ entry }) => ({ key: entry.key, modRevision: entry.modRevision }))],
      writes.map(({ entry, next }) => ({ type: 'put' as const, key: entry.key, value: encodePartition(next) })),
    );
    if (written.succeeded) return 'written';
    return (await store.get(controllerKey))?.modRevision === epoch ? 'lost' : 'not controller';
  }

  /** Watches the partition keys from revision on: a change of one being reassigned asks for a pass. */
  private watchPartitions(fromRevision: bigint): void {
    const { store, logger } = this.options;
    const watch = store.watchPrefix(partitionsPrefix, {
      fromRevision,
      onEvent: (event) => {
        if (event.type !== 'put') return;
        const state = decodePartition(event.entry.value);
        if (!(state instanceof Error) && reassigning(state)) this.brokersChanged();
      },
      onError: (reason) => {
        logger.warn('partition watch failed; the next pass watches again', { reason });
        if (this.partitionWatch === watch) this.partitionWatch = null;
        this.brokersChanged();
      },
    });
    this.partitionWatch = watch;
    watch.then(
      (started) => {
        if (this.stopped) void started.cancel();
      },
      (error: unknown) => {
        if (this.partitionWatch === watch) this.partitionWatch = null;
        logger.warn('cannot watch the partition keys; a pass tries again soon', { error: error instanceof Error ? error.message : String(error), retryMs: this.options.retryDelayMs });
        setTimeout(() => this.brokersChanged(), this.options.retryDelayMs).unref();
      },
    );
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
    const { store, logger } = this.options;
    const topics = await store.rangeByPrefix(topicsPrefix);
    const partitions = await store.rangeByPrefix(partitionsPrefix);
    // From the revision after this read, so that no change of a reassigned partition is missed.
    if (this.partitionWatch === null && !this.stopped) this.watchPartitions(partitions.revision + 1n);
    const uncleanTopics = new Set<string>();
    for (const entry of topics.entries) {
      const name = topicOfKey(entry.key);
      const record = decodeTopic(entry.value);
      if (name !== null && !(record instanceof Error) && record.configs.get('unclean.leader.election.enable') === 'true') uncleanTopics.add(name);
    }
    // Read after the ranges: the set the decisions are made against is at least as new as they are.
    const registrations = this.options.liveBrokers();
    const registeredAgain = this.registeredAgain(registrations);
    let outcome: 'done' | 'again' = 'done';
    const decisions: PassDecision[] = [];
    for (const entry of partitions.entries) {
      if (this.stopped) break;
      const partition = partitionOfKey(entry.key);
      const state = decodePartition(entry.value);
      if (partition === null || state instanceof Error) continue; // the metadata cache warns of these
      const stale = staleMembers(state, entry.modRevision, registrations, registeredAgain);
      const live = eligibleBrokers(registrations, stale);
      // Leadership first; a reassignment ends in a later pass, once the partition is led.
      const decided = withoutStale(electLeader(state, live, uncleanTopics.has(partition.topic)), stale);
      // A leader that registered again and stays leader leads in a new term (partition-state.ts, inNewTerm).
      const renewed = leaderRegisteredAgain(state, entry.modRevision, registrations, registeredAgain) && (decided === null || decided.leader === state.leader);
      const elected = renewed ? inNewTerm(state, decided) : decided;
      const next = elected ?? completeReassignment(state, live);
      if (next !== null) decisions.push({ entry, topic: partition.topic, index: partition.index, state, next, kind: elected === null ? 'reassignment' : renewed ? 'renewed' : 'elected' });
    }
    for (let start = 0; start < decisions.length && !this.stopped; start += maxPartitionsPerTransaction) {
      const chunk = decisions.slice(start, start + maxPartitionsPerTransaction);
      const written = await this.writeAll(chunk);
      if (written === 'not controller') return 'not controller';
      if (written === 'written') {
        for (const decision of chunk) logDecision(logger, decision);
        continue;
      }
      // One of them changed since the read: each is written on its own, so the others still go.
      for (const decision of chunk) {
        const alone = await this.write(decision.entry, decision.next);
        if (alone === 'not controller') return 'not controller';
        if (alone === 'lost') outcome = 'again';
        else logDecision(logger, decision);
      }
    }
    // Only a pass that wrote every change settles a re-registration: after a failed one, the next
    // pass takes the broker out of the ISRs again (at worst out of one its leader re-added meanwhile).
    if (outcome === 'done' && !this.stopped) {
      for (const [nodeId, revision] of registrations) this.registrationsActedOn.set(nodeId, revision);
    }
    return outcome;
  }

  /** Live brokers whose registration differs from the one the last completed pass acted on. */
  private registeredAgain(registrations: ReadonlyMap<number, bigint>): ReadonlySet<number> {
    const again = new Set<number>();
    for (const [nodeId, revision] of registrations) {
      const actedOn = this.registrationsActedOn.get(nodeId);
      if (actedOn !== undefined && actedOn !== revision) again.add(nodeId);
    }
    return again;
  }
}

/**
 * The ISR members of a led partition that registered again since they were counted in sync (see the
 * file header): the decisions treat them as gone. None when every member did: nothing known holds
 * more, as when an offline partition is led again by its last ISR. None either for an offline
 * partition, whose kept ISR is the only set of candidates.
 */
function staleMembers(state: PartitionRecord, partitionRevision: bigint, registrations: ReadonlyMap<number, bigint>, registeredAgain: ReadonlySet<number>): number[] {
  if (state.leader === noLeader) return [];
  const stale = state.isr.filter((nodeId) => {
    const revision = registrations.get(nodeId);
    return revision !== undefined && (revision > partitionRevision || registeredAgain.has(nodeId));
  });
  return stale.length === state.isr.length ? [] : stale;
}

/** One partition's change decided by a pass, waiting to be written. */
interface PassDecision {
  readonly entry: KeyValue;
  readonly topic: string;
  readonly index: number;
  readonly state: PartitionRecord;
  readonly next: PartitionRecord;
  /** elected: electLeader decided; renewed: the same leader in a new term; reassignment: a reassignment ends. */
  readonly kind: 'elected' | 'renewed' | 'reassignment';
}

/**
 * Partition states one pass writes per etcd transaction: each takes a condition and a put, beside
 * the controller's condition, within etcd's default --max-txn-ops of 128 per list.
 */
const maxPartitionsPerTransaction = 100;

function logDecision(logger: Logger, decision: PassDecision): void {
  const { topic, index: partition, state, next } = decision;
  if (decision.kind === 'reassignment') {
    logger.info('reassignment completed', { topic, partition, replicas: next.replicas.join(','), isr: next.isr.join(','), leader: next.leader, previousLeader: state.leader, leaderEpoch: next.leaderEpoch });
    return;
  }
  const fields = { topic, partition, leaderEpoch: next.leaderEpoch, isr: next.isr.join(','), previousLeader: state.leader };
  if (decision.kind === 'renewed') logger.info('leader registered again: it leads in a new leader epoch', { ...fields, leader: next.leader });
  else if (next.leader === state.leader) logger.info('followers whose broker is gone or registered again left the ISR', { ...fields, leader: next.leader });
  else if (next.leader === noLeader) logger.warn('partition offline: no in-sync replica is live', fields);
  else if (!state.isr.includes(next.leader)) logger.warn('unclean leader election: a replica out of sync leads the partition; records may be lost', { ...fields, leader: next.leader });
  else logger.info('partition leader elected', { ...fields, leader: next.leader });
}

/** True when the partition's live leader registered again since the state was written (the two signs of the file header). */
function leaderRegisteredAgain(state: PartitionRecord, partitionRevision: bigint, registrations: ReadonlyMap<number, bigint>, registeredAgain: ReadonlySet<number>): boolean {
  if (state.leader === noLeader) return false;
  const revision = registrations.get(state.leader);
  return revision !== undefined && (revision > partitionRevision || registeredAgain.has(state.leader));
}

/** The brokers counted live for one partition: the live ones but its stale ISR members. */
function eligibleBrokers(registrations: ReadonlyMap<number, bigint>, stale: readonly number[]): ReadonlySet<number> {
  return new Set([...registrations.keys()].filter((nodeId) => !stale.includes(nodeId)));
}

/**
 * The state to write when a partition's stale members are treated as gone: as electLeader decided,
 * except that a partition going offline keeps its ISR without them (the others hold more).
 */
function withoutStale(next: PartitionRecord | null, stale: readonly number[]): PartitionRecord | null {
  if (next === null || next.leader !== noLeader || stale.length === 0) return next;
  return { ...next, isr: next.isr.filter((nodeId) => !stale.includes(nodeId)) };
}
