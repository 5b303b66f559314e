/**
 * `osprey consume TOPIC`: prints records, from a chosen position or as a member of a group
 * (committing what it printed), until --num records, the end (--exit-at-end), or Ctrl-C.
 */
import { earliestTimestamp, latestTimestamp } from '../client/admin.js';
import type { Admin } from '../client/admin.js';
import { Consumer } from '../client/consumer.js';
import type { ConsumedRecord, TopicPartitionOffset } from '../client/consumer.js';
import { GroupMember } from '../client/group.js';
import { UsageError, parseInteger } from './command-kit.js';
import type { RunContext, Subcommand } from './command-kit.js';
import { parseTimestamp, selectedPartitions } from './topic-command.js';

/** Where to start: an earliest/latest marker, an offset, N before the end, or a time. */
export type StartPosition = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: number } | { kind: 'fromEnd'; count: number } | { kind: 'timestamp'; timestampMs: number };

export function parseStartPosition(what: string, text: string): StartPosition {
  const lower = text.toLowerCase();
  if (lower === 'beginning' || lower === 'earliest' || lower === 'start' || lower === 'oldest') return { kind: 'earliest' };
  if (lower === 'end' || lower === 'latest' || lower === 'newest') return { kind: 'latest' };
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: parseInteger(what, text, { min: 0 }) };
  if (/^-\d+$/.test(text)) return { kind: 'fromEnd', count: parseInteger(what, text.slice(1), { min: 1 }) };
  if (text.startsWith('@')) return { kind: 'timestamp', timestampMs: parseTimestamp(what, text.slice(1)) };
  if (/^\d{4}-\d\d-\d\d/.test(text)) return { kind: 'timestamp', timestampMs: parseTimestamp(what, text) };
  throw new UsageError(`${what}: expected beginning, end, an offset, -N (N before the end), @MS or an ISO date, got '${text}'`);
}

/** The offset each partition starts from under `position`. */
export async function resolveStart(admin: Admin, topic: string, partitions: readonly number[], position: StartPosition): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  if (partitions.length === 0) return result;
  if (position.kind === 'offset') {
    for (const partition of partitions) result.set(partition, position.offset);
    return result;
  }
  const [earliest, latest] = await Promise.all([admin.listOffsets(topic, partitions, earliestTimestamp), admin.listOffsets(topic, partitions, latestTimestamp)]);
  const at = position.kind === 'timestamp' ? await admin.listOffsets(topic, partitions, position.timestampMs) : null;
  for (const partition of partitions) {
    const start = earliest.get(partition)?.offset ?? 0;
    const end = latest.get(partition)?.offset ?? 0;
    switch (position.kind) {
      case 'earliest':
        result.set(partition, start);
        break;
      case 'latest':
        result.set(partition, end);
        break;
      case 'fromEnd':
        result.set(partition, Math.max(start, end - position.count));
        break;
      case 'timestamp': {
        const found = at?.get(partition)?.offset ?? -1;
        result.set(partition, found >= 0 ? found : end);
        break;
      }
    }
  }
  return result;
}

/** Renders a --format template: {topic} {partition} {offset} {timestamp} {key} {value} {headers}; \n \t escapes. */
export function compileFormat(template: string): (record: ConsumedRecord) => string {
  const unescaped = template.replace(/\\(n|t|\\)/g, (_, letter: string) => (letter === 'n' ? '\n' : letter === 't' ? '\t' : '\\'));
  const parts = unescaped.split(/(\{(?:topic|partition|offset|timestamp|key|value|headers)\})/);
  const renderers = parts.map((part): ((record: ConsumedRecord) => string) => {
    switch (part) {
      case '{topic}':
        return (record) => record.topic;
      case '{partition}':
        return (record) => String(record.partition);
      case '{offset}':
        return (record) => String(record.offset);
      case '{timestamp}':
        return (record) => String(record.timestampMs);
      case '{key}':
        return (record) => (record.key === null ? '' : record.key.toString('utf8'));
      case '{value}':
        return (record) => (record.value === null ? '' : record.value.toString('utf8'));
      case '{headers}':
        return (record) => record.headers.map((header) => `${header.key}=${header.value === null ? '' : header.value.toString('utf8')}`).join(',');
      default:
        return () => part;
    }
  });
  return (record) => {
    let text = '';
    for (const render of renderers) text += render(record);
    return text;
  };
}

function recordAsJson(record: ConsumedRecord): string {
  return JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestampMs,
    key: record.key === null ? null : record.key.toString('utf8'),
    value: record.value === null ? null : record.value.toString('utf8'),
    headers: record.headers.map((header) => ({ key: header.key, value: header.value === null ? null : header.value.toString('utf8') })),
  });
}

/** Stops on the first SIGINT/SIGTERM (after cleaning up); a second one exits at once. */
class StopSignal {
  stopped = false;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.stopped) process.exit(signal === 'SIGINT' ? 130 : 143);
    this.stopped = true;
  };
  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }
  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

const autoCommitIntervalMs = 5_000;

/** Waits for stdout to take more, or to fail (a reader such as `head` went away). */
function drainedOrClosed(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.stdout.off('drain', done);
      process.stdout.off('error', done);
      process.stdout.off('close', done);
      resolve();
    };
    process.stdout.once('drain', done);
    process.stdout.once('error', done);
    process.stdout.once('close', done);
  });
}

const consume: Subcommand = {
  name: 'consume',
  summary: 'print the records of a topic',
  args: 'TOPIC',
  positionals: { min: 1, max: 1 },
  description: [
    'Without --group, reads the chosen partitions from --from. With --group, joins the consumer group',
    '(classic protocol, range assignor), starts where the group committed (or --from where it has not),',
    'commits what it has printed every 5 s and on exit. Ctrl-C stops cleanly after committing.',
    '',
    '--from: beginning (default), end, OFFSET, -N (the last N records of each partition), @MS or an',
    'ISO date such as 2024-05-01T12:00:00Z (the first record at or after that time).',
    '--format placeholders: {topic} {partition} {offset} {timestamp} {key} {value} {headers}, with \\n and \\t.',
  ].join('\n'),
  options: {
    from: { type: 'string', short: 'o', value: 'POSITION', description: 'where to start (see above)' },
    group: { type: 'string', short: 'g', value: 'GROUP', description: 'consume as a member of this group, committing offsets' },
    num: { type: 'string', short: 'n', value: 'N', description: 'stop after N records' },
    partition: { type: 'string', short: 'p', value: 'N', multiple: true, description: 'only these partitions (not with --group)' },
    format: { type: 'string', short: 'f', value: 'TEMPLATE', description: 'how to print each record (default "{value}\\n")' },
    'exit-at-end': { type: 'boolean', short: 'e', description: 'stop once every partition has been read to its end' },
  },
  examples: [
    'osprey consume orders --from beginning --num 10',
    "osprey consume orders -f '{partition}/{offset} {key}={value}\\n' --exit-at-end",
    'osprey consume orders --group billing',
    'osprey consume orders --from 2024-05-01T00:00:00Z --json | jq .value',
  ],
  async run(run) {
    const topic = run.arg(0);
    const groupId = run.string('group');
    if (groupId !== undefined && run.strings('partition').length > 0) throw new UsageError('--partition and --group do not go together: the group assigns partitions');
    if (groupId === '') throw new UsageError('--group: must not be empty');
    const from = parseStartPosition('--from', run.string('from') ?? 'beginning');
    const limit = run.integer('num', { min: 1 });
    const render = run.json ? (record: ConsumedRecord) => recordAsJson(record) + '\n' : compileFormat(run.string('format') ?? '{value}\\n');
    const admin = run.admin();
    await run.client().topicMetadata(topic, { refresh: true });
    const consumer = new Consumer(run.client());
    const stop = new StopSignal();
    let outputClosed = false;
    const onOutputError = () => {
      outputClosed = true;
    };
    process.stdout.on('error', onOutputError);
    const member = groupId === undefined ? null : new GroupMember(run.client(), { groupId, topics: [topic] });
    /** Next offset per partition after what has been printed: what the group commits. */
    const printedUpTo = new Map<number, number>();
    const assign = (offsets: readonly TopicPartitionOffset[]) => {
      printedUpTo.clear();
      for (const entry of offsets) printedUpTo.set(entry.partition, entry.offset);
      consumer.assign(offsets);
    };
    const commit = async () => {
      if (member === null || member.memberId === '') return;
      await member.commit([...printedUpTo].map(([partition, offset]) => ({ topic, partition, offset })));
    };
    try {
      if (member === null) {
        const partitions = await selectedPartitions(run, admin, topic);
        const starts = await resolveStart(admin, topic, partitions, from);
        assign(partitions.map((partition) => ({ topic, partition, offset: starts.get(partition)! })));
      } else {
        assign(await groupAssignment(member, admin, topic, from));
      }
      let printed = 0;
      let lastCommitMs = Date.now();
      while (!stop.stopped && !outputClosed && (limit === undefined || printed < limit)) {
        if (member !== null && member.rebalanceNeeded) {
          await commit();
          assign(await groupAssignment(member, admin, topic, from));
        }
        if (run.flag('exit-at-end') && consumer.caughtUp) break;
        const records = await consumer.poll();
        let text = '';
        for (const record of records) {
          if (limit !== undefined && printed >= limit) break;
          text += render(record);
          printedUpTo.set(record.partition, record.offset + 1);
          printed++;
        }
        if (text.length > 0 && !process.stdout.write(text)) await drainedOrClosed();
        if (member !== null && Date.now() - lastCommitMs >= autoCommitIntervalMs) {
          await commit();
          lastCommitMs = Date.now();
        }
      }
      if (member !== null) {
        await commit();
        await member.leave();
      }
      if (!run.json && process.stderr.isTTY) run.err(`${printed} record${printed === 1 ? '' : 's'} consumed\n`);
      return 0;
    } finally {
      member?.stopHeartbeats();
      stop.dispose();
      process.stdout.off('error', onOutputError);
    }
  },
};

/** Joins, then: committed offsets where the group has them, --from elsewhere. */
async function groupAssignment(member: GroupMember, admin: Admin, topic: string, from: StartPosition): Promise<TopicPartitionOffset[]> {
  const assigned = await member.join();
  const partitions = assigned.filter((entry) => entry.topic === topic).flatMap((entry) => entry.partitions);
  if (partitions.length === 0) return [];
  const committed = await admin.fetchCommittedOffsets(member.groupId, [{ topic, partitions }]);
  const missing = partitions.filter((partition) => !committed.some((entry) => entry.partition === partition));
  const starts = await resolveStart(admin, topic, missing, from);
  return partitions.map((partition) => ({ topic, partition, offset: committed.find((entry) => entry.partition === partition)?.offset ?? starts.get(partition)! }));
}

export const consumeCommand = consume;
export type { RunContext };
