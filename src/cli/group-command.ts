/**
 * `osprey group list|describe|delete|reset-offsets`: consumer groups, their members, committed
 * offsets and lag (computed by src/groups/lag.ts from OffsetFetch, ListOffsets and DescribeGroups).
 */
import { latestTimestamp } from '../client/admin.js';
import type { Admin } from '../client/admin.js';
import { KafkaProtocolError } from '../client/errors.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { computeGroupLag } from '../groups/lag.js';
import type { GroupLag } from '../groups/lag.js';
import { UsageError } from './command-kit.js';
import type { Subcommand } from './command-kit.js';
import { parseStartPosition, resolveStart } from './consume-command.js';
import { selectedPartitions } from './topic-command.js';
import { formatCount, keyValues, orDash, table } from './output.js';

export const groupSummary = 'list, describe (members, offsets, lag), delete consumer groups and reset their offsets';

const list: Subcommand = {
  name: 'group list',
  summary: 'list consumer groups and their states',
  examples: ['osprey group list', 'osprey group list --json'],
  async run(run) {
    const groups = await run.admin().listGroups();
    if (run.json) run.outJson(groups);
    else if (groups.length === 0) run.out('no groups\n');
    else run.out(table([{ header: 'GROUP' }, { header: 'STATE' }, { header: 'PROTOCOL' }, { header: 'TYPE' }], groups.map((group) => [group.groupId, orDash(group.state), orDash(group.protocolType), orDash(group.type)]), run.style));
    return 0;
  },
};

/** Lag of a group from wire facts; throws GROUP_ID_NOT_FOUND for a group with no members and no offsets. */
async function describeGroupLag(admin: Admin, groupId: string): Promise<{ lag: GroupLag; description: Awaited<ReturnType<Admin['describeGroup']>> }> {
  const [description, committed] = await Promise.all([admin.describeGroup(groupId), admin.fetchCommittedOffsets(groupId)]);
  if ((description.state === 'Dead' || description.state === '') && description.members.length === 0 && committed.length === 0) {
    throw new KafkaProtocolError(ErrorCode.groupIdNotFound, `group '${groupId}'`);
  }
  const assigned = description.members.flatMap((member) => member.assignment.flatMap((entry) => entry.partitions.map((partition) => ({ topic: entry.topic, partition, memberId: member.memberId, clientId: member.clientId }))));
  const partitionsByTopic = new Map<string, Set<number>>();
  for (const entry of [...committed, ...assigned]) {
    const set = partitionsByTopic.get(entry.topic) ?? new Set<number>();
    set.add(entry.partition);
    partitionsByTopic.set(entry.topic, set);
  }
  const ends = new Map<string, number>();
  for (const [topic, partitions] of partitionsByTopic) {
    try {
      const metadata = await admin.client.topicMetadata(topic, { refresh: true });
      const existing = [...partitions].filter((partition) => partition < metadata.partitions.length);
      const offsets = await admin.listOffsets(topic, existing, latestTimestamp);
      for (const [partition, { offset }] of offsets) ends.set(`${topic}\u0000${partition}`, offset);
    } catch (error) {
      if (!(error instanceof KafkaProtocolError)) throw error; // a deleted topic: its lag is unknown
    }
  }
  const lag = computeGroupLag({
    groupId,
    state: description.state,
    committed,
    assigned,
    logEndOffset: (topic, partition) => ends.get(`${topic}\u0000${partition}`) ?? null,
  });
  return { lag, description };
}

const describe: Subcommand = {
  name: 'group describe',
  summary: 'show members, assignments, committed and end offsets, and lag per partition and in total',
  args: 'GROUP',
  positionals: { min: 1, max: 1 },
  examples: ['osprey group describe billing', 'osprey group describe billing --json | jq .totalLag'],
  async run(run) {
    const groupId = run.arg(0);
    const { lag, description } = await describeGroupLag(run.admin(), groupId);
    if (run.json) {
      run.outJson({
        group: groupId,
        state: description.state,
        protocolType: description.protocolType,
        protocol: description.protocol,
        members: description.members,
        partitions: lag.partitions,
        totalLag: lag.totalLag,
        partitionsWithUnknownLag: lag.partitionsWithUnknownLag,
      });
      return 0;
    }
    run.out(
      keyValues(
        [
          ['group', groupId],
          ['state', description.state],
          ['protocol', `${orDash(description.protocolType)}${description.protocol ? ` / ${description.protocol}` : ''}`],
          ['members', String(description.members.length)],
          ['total lag', formatCount(lag.totalLag) + (lag.partitionsWithUnknownLag > 0 ? ` (+ ${lag.partitionsWithUnknownLag} partition${lag.partitionsWithUnknownLag === 1 ? '' : 's'} with nothing committed)` : '')],
        ],
        run.style,
      ),
    );
    if (description.members.length > 0) {
      run.out('\n');
      run.out(
        table(
          [{ header: 'MEMBER' }, { header: 'CLIENT' }, { header: 'HOST' }, { header: 'ASSIGNED' }],
          description.members.map((member) => [member.memberId, member.clientId, orDash(member.clientHost), member.assignment.map((entry) => `${entry.topic}:${entry.partitions.join(',')}`).join(' ') || '-']),
          run.style,
        ),
      );
    }
    if (lag.partitions.length > 0) {
      run.out('\n');
      run.out(
        table(
          [{ header: 'TOPIC' }, { header: 'PARTITION', align: 'right' }, { header: 'COMMITTED', align: 'right' }, { header: 'END', align: 'right' }, { header: 'LAG', align: 'right' }, { header: 'MEMBER' }],
          lag.partitions.map((row) => [row.topic, String(row.partition), orDash(row.committedOffset), orDash(row.logEndOffset), orDash(row.lag), orDash(row.memberId)]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

const remove: Subcommand = {
  name: 'group delete',
  summary: 'delete an empty consumer group and its committed offsets',
  args: 'GROUP',
  positionals: { min: 1, max: 1 },
  examples: ['osprey group delete billing'],
  async run(run) {
    const groupId = run.arg(0);
    await run.admin().deleteGroup(groupId);
    if (run.json) run.outJson({ deleted: groupId });
    else run.out(`deleted group ${groupId}\n`);
    return 0;
  },
};

const resetOffsets: Subcommand = {
  name: 'group reset-offsets',
  summary: "move an inactive group's committed offsets on a topic",
  args: 'GROUP',
  positionals: { min: 1, max: 1 },
  description: '--to: earliest, latest, OFFSET, -N (N before the end), @MS or an ISO date. The group must have no active members.',
  options: {
    topic: { type: 'string', short: 't', value: 'TOPIC', description: 'the topic whose offsets move (required)' },
    to: { type: 'string', value: 'POSITION', description: 'where to (required)' },
    partition: { type: 'string', short: 'p', value: 'N', multiple: true, description: 'only these partitions (default: all)' },
    'dry-run': { type: 'boolean', description: 'show the new offsets without committing them' },
  },
  examples: ['osprey group reset-offsets billing --topic orders --to earliest', 'osprey group reset-offsets billing -t orders --to 2024-05-01T00:00:00Z --dry-run', 'osprey group reset-offsets billing -t orders -p 0 --to 1200'],
  async run(run) {
    const groupId = run.arg(0);
    const topic = run.string('topic');
    const toText = run.string('to');
    if (topic === undefined) throw new UsageError('--topic is required');
    if (toText === undefined) throw new UsageError('--to is required (earliest, latest, OFFSET, -N, @MS or an ISO date)');
    const position = parseStartPosition('--to', toText);
    const admin = run.admin();
    // A group that does not exist yet has no members: committing creates it, as Kafka's tool does.
    const description = await admin.describeGroup(groupId).catch((error: unknown) => {
      if (error instanceof KafkaProtocolError && error.code === ErrorCode.groupIdNotFound) return { state: 'Dead', members: [] };
      throw error;
    });
    if (description.members.length > 0) {
      throw new KafkaProtocolError(ErrorCode.nonEmptyGroup, `group '${groupId}' has ${description.members.length} active member${description.members.length === 1 ? '' : 's'} (state ${description.state})`);
    }
    const partitions = await selectedPartitions(run, admin, topic);
    const targets = await resolveStart(admin, topic, partitions, position);
    const before = await admin.fetchCommittedOffsets(groupId, [{ topic, partitions }]);
    const rows = partitions.map((partition) => ({ topic, partition, previous: before.find((entry) => entry.partition === partition)?.offset ?? null, offset: targets.get(partition)! }));
    const dryRun = run.flag('dry-run');
    if (!dryRun) await admin.commitOffsets(groupId, rows.map((row) => ({ topic, partition: row.partition, offset: row.offset })));
    if (run.json) run.outJson({ group: groupId, topic, dryRun, partitions: rows });
    else {
      run.out(table([{ header: 'TOPIC' }, { header: 'PARTITION', align: 'right' }, { header: 'BEFORE', align: 'right' }, { header: 'AFTER', align: 'right' }], rows.map((row) => [row.topic, String(row.partition), orDash(row.previous), String(row.offset)]), run.style));
      run.out(dryRun ? '(dry run: nothing committed)\n' : `committed new offsets for group ${groupId}\n`);
    }
    return 0;
  },
};

export const groupCommands: readonly Subcommand[] = [list, describe, remove, resetOffsets];
