/**
 * Moving replicas between brokers (KIP-455 reassignment, carried out by the cluster's controller):
 *
 *   osprey topic reassign TOPIC --partition P --replicas 2,3 [--wait]   start (or --cancel) one
 *   osprey topic reassignments [TOPIC]                                    list those under way
 *   osprey broker drain N [--no-wait]                                     move every replica off N
 *
 * A reassignment is accepted at once and goes on in the cluster (the new replicas copy the log and
 * join the ISR, then the old ones are dropped); --wait, and drain by default, poll
 * ListPartitionReassignments until the partitions moved are no longer listed.
 */
import type { Admin, PartitionOutcome, Reassignment } from '../client/admin.js';
import { errorName } from '../client/errors.js';
import { planDrain } from './drain-plan.js';
import type { DrainMove } from './drain-plan.js';
import { UsageError } from './command-kit.js';
import type { RunContext, Subcommand } from './command-kit.js';
import { table } from './output.js';

const pollIntervalMs = 500;
const defaultMaxWaitMs = 10 * 60_000;

/** "1,2,3" as node ids. */
function parseReplicas(text: string): number[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part))) throw new UsageError(`--replicas: expected node ids like 1,2,3, got '${text}'`);
  const replicas = parts.map(Number);
  if (new Set(replicas).size !== replicas.length) throw new UsageError(`--replicas: a broker is named twice in '${text}'`);
  return replicas;
}

/** Waits until none of `moved` is listed as under way; the reassignments still listed when maxWaitMs ran out. */
async function waitForReassignments(admin: Admin, moved: readonly { topic: string; partition: number }[], maxWaitMs: number): Promise<Reassignment[]> {
  const wanted = new Set(moved.map(({ topic, partition }) => `${topic}\u0000${partition}`));
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const ongoing = (await admin.listReassignments()).filter(({ topic, partition }) => wanted.has(`${topic}\u0000${partition}`));
    if (ongoing.length === 0 || Date.now() >= deadline) return ongoing;
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

function describeOutcome(outcome: PartitionOutcome): string {
  return outcome.errorCode === 0 ? 'accepted' : `${errorName(outcome.errorCode)}${outcome.errorMessage === null ? '' : `: ${outcome.errorMessage}`}`;
}

function reassignmentRows(reassignments: readonly Reassignment[]): string[][] {
  return reassignments.map((entry) => [entry.topic, String(entry.partition), entry.replicas.join(','), entry.addingReplicas.join(',') || '-', entry.removingReplicas.join(',') || '-']);
}

const reassignmentColumns = [{ header: 'TOPIC' }, { header: 'PARTITION', align: 'right' as const }, { header: 'REPLICAS' }, { header: 'ADDING' }, { header: 'REMOVING' }];

const reassign: Subcommand = {
  name: 'topic reassign',
  summary: "move a partition's replicas to other brokers (or cancel a move under way)",
  args: 'TOPIC',
  positionals: { min: 1, max: 1 },
  description:
    'The first broker of --replicas becomes the preferred leader. The new replicas copy the log and join the ISR; then the old ones leave and delete their copy (leadership moves first when the leader leaves). Nothing acknowledged is lost.',
  options: {
    partition: { type: 'string', short: 'p', value: 'P', description: 'the partition to move (required)' },
    replicas: { type: 'string', short: 'r', value: 'ID[,ID…]', description: 'the brokers to place it on, preferred leader first' },
    cancel: { type: 'boolean', description: 'cancel the reassignment under way instead (back to the replicas before it)' },
    wait: { type: 'boolean', short: 'w', description: 'wait until the reassignment is done' },
    'max-wait': { type: 'string', value: 'DURATION', description: 'with --wait: give up waiting after this long (default 10m)' },
  },
  examples: ['osprey topic reassign orders --partition 0 --replicas 2,3 --wait', 'osprey topic reassign orders -p 0 --cancel'],
  async run(run) {
    const topic = run.arg(0);
    const partition = run.integer('partition', { min: 0, max: 2 ** 31 - 1 });
    if (partition === undefined) throw new UsageError('--partition is required');
    const text = run.string('replicas');
    if ((text === undefined) === !run.flag('cancel')) throw new UsageError('give either --replicas or --cancel');
    const replicas = text === undefined ? null : parseReplicas(text);
    const admin = run.admin();
    const [outcome] = await admin.reassignPartitions([{ topic, partition, replicas }]);
    if (outcome === undefined) throw new UsageError('the broker answered nothing for the partition');
    const remaining = outcome.errorCode === 0 && run.flag('wait') ? await waitForReassignments(admin, [{ topic, partition }], run.duration('max-wait') ?? defaultMaxWaitMs) : null;
    if (run.json) {
      run.outJson({ topic, partition, replicas, errorCode: outcome.errorCode, error: outcome.errorCode === 0 ? null : errorName(outcome.errorCode), errorMessage: outcome.errorMessage, done: remaining === null ? null : remaining.length === 0 });
    } else {
      run.out(`${topic} partition ${partition}: ${replicas === null ? 'cancel' : `reassign to ${replicas.join(',')}`}: ${describeOutcome(outcome)}\n`);
      if (remaining !== null) run.out(remaining.length === 0 ? 'done\n' : `still under way: ${reassignmentRows(remaining).map((row) => row.join(' ')).join('; ')}\n`);
    }
    return outcome.errorCode === 0 && (remaining === null || remaining.length === 0) ? 0 : 1;
  },
};

const reassignments: Subcommand = {
  name: 'topic reassignments',
  summary: 'list the reassignments under way (of one topic, or all)',
  args: '[TOPIC]',
  positionals: { min: 0, max: 1 },
  examples: ['osprey topic reassignments', 'osprey topic reassignments orders --json'],
  async run(run) {
    const topic = run.positionals[0];
    const listed = (await run.admin().listReassignments()).filter((entry) => topic === undefined || entry.topic === topic);
    if (run.json) {
      run.outJson(listed);
      return 0;
    }
    if (listed.length === 0) run.out('no reassignment under way\n');
    else run.out(table(reassignmentColumns, reassignmentRows(listed), run.style));
    return 0;
  },
};

async function drainMoves(run: RunContext, drained: number): Promise<DrainMove[]> {
  const metadata = await run.client().refreshMetadata(null);
  const live = metadata.brokers.map((broker) => broker.nodeId);
  const partitions = metadata.topics.filter((topic) => !topic.isInternal).flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition: partition.partition, replicas: partition.replicas })));
  return planDrain(partitions, drained, live);
}

const drain: Subcommand = {
  name: 'broker drain',
  summary: 'move every replica off a broker, keeping replication factors',
  args: 'NODE_ID',
  positionals: { min: 1, max: 1 },
  description:
    'Each replica on the broker moves to the live broker holding the fewest replicas that does not hold that partition yet, in the same place in the replica list. Waits until every move is done (the broker then holds nothing and leads nothing) and reports each partition.',
  options: {
    'no-wait': { type: 'boolean', description: 'start the moves and report without waiting for them' },
    'max-wait': { type: 'string', value: 'DURATION', description: 'give up waiting after this long (default 10m)' },
  },
  examples: ['osprey broker drain 3', 'osprey broker drain 3 --no-wait --json'],
  async run(run) {
    const text = run.arg(0);
    if (!/^\d+$/.test(text)) throw new UsageError(`NODE_ID: expected a node id, got '${text}'`);
    const drained = Number(text);
    const admin = run.admin();
    const moves = await drainMoves(run, drained);
    const planned = moves.filter((move): move is DrainMove & { target: readonly number[] } => 'target' in move);
    const outcomes = planned.length === 0 ? [] : await admin.reassignPartitions(planned.map(({ topic, partition, target }) => ({ topic, partition, replicas: target })));
    const accepted = outcomes.filter((outcome) => outcome.errorCode === 0);
    const remaining = run.flag('no-wait') || accepted.length === 0 ? null : await waitForReassignments(admin, accepted, run.duration('max-wait') ?? defaultMaxWaitMs);
    const stillMoving = new Set((remaining ?? []).map(({ topic, partition }) => `${topic}\u0000${partition}`));
    const report = moves.map((move) => {
      const outcome = outcomes.find((candidate) => candidate.topic === move.topic && candidate.partition === move.partition);
      const status =
        'problem' in move ? `not moved: ${move.problem}`
        : outcome === undefined ? 'not moved: no answer'
        : outcome.errorCode !== 0 ? `refused: ${describeOutcome(outcome)}`
        : remaining === null ? 'started'
        : stillMoving.has(`${move.topic}\u0000${move.partition}`) ? 'still moving'
        : 'moved';
      return { topic: move.topic, partition: move.partition, from: move.replicas, to: 'target' in move ? move.target : null, status };
    });
    const failed = report.filter((entry) => !['moved', 'started'].includes(entry.status));
    if (run.json) {
      run.outJson({ broker: drained, partitions: report, done: failed.length === 0 && remaining !== null });
    } else if (report.length === 0) {
      run.out(`broker ${drained} holds no replica\n`);
    } else {
      run.out(table([{ header: 'TOPIC' }, { header: 'PARTITION', align: 'right' }, { header: 'FROM' }, { header: 'TO' }, { header: 'STATUS' }], report.map((entry) => [entry.topic, String(entry.partition), entry.from.join(','), entry.to?.join(',') ?? '-', entry.status]), run.style));
      run.out(failed.length === 0 ? (remaining === null ? `${report.length} moves started off broker ${drained}\n` : `broker ${drained} drained: ${report.length} replicas moved\n`) : `${failed.length} of ${report.length} replicas not moved off broker ${drained}\n`);
    }
    return failed.length === 0 ? 0 : 1;
  },
};

export const topicReassignCommands: readonly Subcommand[] = [reassign, reassignments];
export const brokerDrainCommand: Subcommand = drain;
