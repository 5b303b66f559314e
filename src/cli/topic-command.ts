/**
 * `osprey topic create|list|describe|alter-config|add-partitions|delete|trim`.
 */
import { earliestTimestamp, latestTimestamp } from '../client/admin.js';
import type { Admin } from '../client/admin.js';
import { UsageError, keyValuePairs, parseInteger } from './command-kit.js';
import type { RunContext, Subcommand } from './command-kit.js';
import { formatBytes, formatCount, keyValues, orDash, table } from './output.js';
import { topicReassignCommands } from './reassign-command.js';

export const topicSummary = 'create, list, describe, configure, grow, trim and delete topics';

const create: Subcommand = {
  name: 'topic create',
  summary: 'create a topic',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    partitions: { type: 'string', short: 'p', value: 'N', description: "number of partitions (default: the broker's num.partitions)" },
    'replication-factor': { type: 'string', short: 'r', value: 'N', description: "replicas per partition (default: the broker's default)" },
    config: { type: 'string', short: 'c', value: 'KEY=VALUE', multiple: true, description: 'topic config, e.g. retention.ms=86400000' },
  },
  examples: ['osprey topic create orders --partitions 6', 'osprey topic create audit -p 1 --config retention.ms=604800000 --config cleanup.policy=delete'],
  async run(run) {
    const name = run.arg(0);
    const partitions = run.integer('partitions', { min: 1, max: 100_000 });
    const replicationFactor = run.integer('replication-factor', { min: 1, max: 32_767 });
    const configs = keyValuePairs('--config', run.strings('config'));
    const created = await run.admin().createTopic(name, {
      ...(partitions === undefined ? {} : { partitions }),
      ...(replicationFactor === undefined ? {} : { replicationFactor }),
      configs,
    });
    const metadata = await run.client().topicMetadata(name, { refresh: true });
    const partitionCount = metadata.partitions.length || created.partitions;
    if (run.json) run.outJson({ topic: name, partitions: partitionCount, replicationFactor: created.replicationFactor, configs });
    else run.out(`created topic ${run.style.bold(name)} with ${partitionCount} partition${partitionCount === 1 ? '' : 's'}\n`);
    return 0;
  },
};

const list: Subcommand = {
  name: 'topic list',
  summary: 'list topics with their partition counts',
  options: { internal: { type: 'boolean', short: 'i', description: 'include internal topics' } },
  examples: ['osprey topic list', 'osprey topic list --json | jq -r ".[].topic"'],
  async run(run) {
    const metadata = await run.client().refreshMetadata(null);
    const topics = metadata.topics
      .filter((topic) => run.flag('internal') || !topic.isInternal)
      .sort((left, right) => (left.name < right.name ? -1 : 1))
      .map((topic) => ({ topic: topic.name, partitions: topic.partitions.length, replicas: topic.partitions[0]?.replicas.length ?? 0, internal: topic.isInternal }));
    if (run.json) run.outJson(topics);
    else if (topics.length === 0) run.out('no topics\n');
    else {
      run.out(
        table(
          [{ header: 'TOPIC' }, { header: 'PARTITIONS', align: 'right' }, { header: 'REPLICAS', align: 'right' }],
          topics.map((topic) => [topic.topic + (topic.internal ? ' (internal)' : ''), String(topic.partitions), String(topic.replicas)]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

const describe: Subcommand = {
  name: 'topic describe',
  summary: 'show partitions (leaders, replicas, offsets, bytes on disk) and configs of a topic',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: { 'all-configs': { type: 'boolean', short: 'a', description: 'list every config, not only those set on the topic' } },
  examples: ['osprey topic describe orders', 'osprey topic describe orders --all-configs --json'],
  async run(run) {
    const name = run.arg(0);
    const admin = run.admin();
    const metadata = await run.client().topicMetadata(name, { refresh: true });
    // An offline partition (leader -1, in a cluster) has nobody to ask for offsets or sizes: shown as '-'.
    const indexes = metadata.partitions.filter((partition) => partition.leaderId >= 0).map((partition) => partition.partition);
    const [starts, ends, configs, sizes] = await Promise.all([
      admin.listOffsets(name, indexes, earliestTimestamp),
      admin.listOffsets(name, indexes, latestTimestamp),
      admin.describeTopicConfig(name),
      admin.partitionSizes(name, indexes),
    ]);
    const partitions = metadata.partitions.map((partition) => {
      const start = starts.get(partition.partition)?.offset ?? -1;
      const end = ends.get(partition.partition)?.offset ?? -1;
      return {
        partition: partition.partition,
        leader: partition.leaderId,
        replicas: partition.replicas,
        isr: partition.isr,
        offlineReplicas: partition.offlineReplicas,
        startOffset: start,
        endOffset: end,
        records: start >= 0 && end >= 0 ? end - start : null,
        /** Bytes of the leader's log (DescribeLogDirs); null when the broker does not say. */
        sizeBytes: sizes.get(partition.partition) ?? null,
      };
    });
    const shownConfigs = configs.filter((entry) => run.flag('all-configs') || !entry.isDefault);
    if (run.json) {
      run.outJson({
        topic: name,
        topicId: metadata.topicId.toString('hex'),
        internal: metadata.isInternal,
        partitions,
        configs: shownConfigs.map((entry) => ({ name: entry.name, value: entry.isSensitive ? null : entry.value, source: entry.source, readOnly: entry.readOnly })),
      });
      return 0;
    }
    const totalRecords = partitions.reduce((sum, partition) => sum + (partition.records ?? 0), 0);
    run.out(
      keyValues(
        [
          ['topic', name],
          ['partitions', String(partitions.length)],
          ['replication', String(partitions[0]?.replicas.length ?? 0)],
          ['records', formatCount(totalRecords)],
          ['size', sizes.size === 0 ? '-' : formatBytes([...sizes.values()].reduce((sum, bytes) => sum + bytes, 0))],
        ],
        run.style,
      ),
    );
    run.out('\n');
    run.out(
      table(
        [
          { header: 'PARTITION', align: 'right' },
          { header: 'LEADER', align: 'right' },
          { header: 'REPLICAS' },
          { header: 'ISR' },
          { header: 'OFFLINE' },
          { header: 'START', align: 'right' },
          { header: 'END', align: 'right' },
          { header: 'RECORDS', align: 'right' },
          { header: 'SIZE', align: 'right' },
        ],
        partitions.map((partition) => [
          String(partition.partition),
          partition.leader < 0 ? 'none' : String(partition.leader),
          partition.replicas.join(','),
          partition.isr.join(','),
          partition.offlineReplicas.length === 0 ? '-' : partition.offlineReplicas.join(','),
          String(partition.startOffset),
          String(partition.endOffset),
          partition.records === null ? '-' : formatCount(partition.records),
          partition.sizeBytes === null ? '-' : formatBytes(partition.sizeBytes),
        ]),
        run.style,
      ),
    );
    run.out('\n');
    const marked = partitions.filter((partition) => partition.offlineReplicas.length > 0).map((partition) => partition.partition);
    if (marked.length > 0) {
      // Osprey names itself offline for a partition whose stored data is damaged (still served around the damage).
      run.out(`partition${marked.length === 1 ? '' : 's'} ${marked.join(', ')}: replica offline or stored data damaged; see the broker's error log and osprey broker check\n\n`);
    }
    if (shownConfigs.length === 0) run.out(`configs: all defaults (--all-configs lists them)\n`);
    else run.out(table([{ header: 'CONFIG' }, { header: 'VALUE' }, { header: 'SOURCE' }], shownConfigs.map((entry) => [entry.name, entry.isSensitive ? '(sensitive)' : orDash(entry.value), entry.source]), run.style));
    return 0;
  },
};

const alterConfig: Subcommand = {
  name: 'topic alter-config',
  summary: "set or remove a topic's configs",
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    set: { type: 'string', short: 's', value: 'KEY=VALUE', multiple: true, description: 'set a config' },
    delete: { type: 'string', short: 'd', value: 'KEY', multiple: true, description: 'remove a config (back to the default)' },
  },
  examples: ['osprey topic alter-config orders --set retention.ms=3600000', 'osprey topic alter-config orders --delete retention.ms'],
  async run(run) {
    const name = run.arg(0);
    const changes: Record<string, string | null> = keyValuePairs('--set', run.strings('set'));
    for (const key of run.strings('delete')) changes[key] = null;
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give --set KEY=VALUE or --delete KEY');
    await run.admin().alterTopicConfig(name, changes);
    if (run.json) run.outJson({ topic: name, changes });
    else for (const [key, value] of Object.entries(changes)) run.out(value === null ? `${name}: removed ${key}\n` : `${name}: set ${key}=${value}\n`);
    return 0;
  },
};

const addPartitions: Subcommand = {
  name: 'topic add-partitions',
  summary: 'add partitions to a topic',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    num: { type: 'string', short: 'n', value: 'N', description: 'how many partitions to add' },
    total: { type: 'string', short: 't', value: 'N', description: 'the partition count to grow to' },
  },
  examples: ['osprey topic add-partitions orders --num 2', 'osprey topic add-partitions orders --total 12'],
  async run(run) {
    const name = run.arg(0);
    const add = run.integer('num', { min: 1, max: 100_000 });
    const total = run.integer('total', { min: 1, max: 100_000 });
    if ((add === undefined) === (total === undefined)) throw new UsageError('give exactly one of --num N (partitions to add) or --total N (count to grow to)');
    const current = (await run.client().topicMetadata(name, { refresh: true })).partitions.length;
    const target = total ?? current + add!;
    await run.admin().addPartitions(name, target);
    if (run.json) run.outJson({ topic: name, before: current, partitions: target });
    else run.out(`${name}: ${current} → ${target} partitions\n`);
    return 0;
  },
};

const remove: Subcommand = {
  name: 'topic delete',
  summary: 'delete topics and all their records',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  examples: ['osprey topic delete orders', 'osprey topic delete scratch-1 scratch-2'],
  async run(run) {
    const admin = run.admin();
    for (const name of run.positionals) await admin.deleteTopic(name);
    if (run.json) run.outJson({ deleted: run.positionals });
    else for (const name of run.positionals) run.out(`deleted topic ${name}\n`);
    return 0;
  },
};

/** Milliseconds since the epoch, or an ISO 8601 date. */
export function parseTimestamp(what: string, text: string): number {
  if (/^\d+$/.test(text)) return parseInteger(what, text, { min: 0 });
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw new UsageError(`${what}: expected milliseconds since the epoch or an ISO date (2024-05-01T12:00:00Z), got '${text}'`);
  return parsed;
}

const trim: Subcommand = {
  name: 'topic trim',
  summary: 'delete the records before an offset or a time (DeleteRecords)',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  description: 'The log start moves forward; readers can no longer fetch what lies before it. An offset past the end trims everything.',
  options: {
    'before-offset': { type: 'string', value: 'OFFSET', description: 'delete records with a lower offset' },
    'before-timestamp': { type: 'string', value: 'MS|ISO-DATE', description: 'delete records older than this (per partition: up to the first record at or after it)' },
    partition: { type: 'string', short: 'p', value: 'N', multiple: true, description: 'only these partitions (default: all)' },
  },
  examples: ['osprey topic trim orders --before-offset 1000 --partition 0', 'osprey topic trim logs --before-timestamp 2024-05-01T00:00:00Z'],
  async run(run) {
    const name = run.arg(0);
    const offsetText = run.string('before-offset');
    const timestampText = run.string('before-timestamp');
    if ((offsetText === undefined) === (timestampText === undefined)) throw new UsageError('give exactly one of --before-offset or --before-timestamp');
    const admin = run.admin();
    const partitions = await selectedPartitions(run, admin, name);
    const ends = await admin.listOffsets(name, partitions, latestTimestamp);
    const targets = new Map<number, number>();
    if (offsetText !== undefined) {
      const offset = parseInteger('--before-offset', offsetText, { min: 0 });
      for (const partition of partitions) targets.set(partition, Math.min(offset, ends.get(partition)?.offset ?? offset));
    } else {
      const found = await admin.listOffsets(name, partitions, parseTimestamp('--before-timestamp', timestampText!));
      for (const partition of partitions) {
        const offset = found.get(partition)?.offset ?? -1;
        targets.set(partition, offset >= 0 ? offset : (ends.get(partition)?.offset ?? 0));
      }
    }
    const lowWatermarks = await admin.deleteRecords(name, targets);
    const rows = partitions.map((partition) => ({ partition, startOffset: lowWatermarks.get(partition) ?? -1, endOffset: ends.get(partition)?.offset ?? -1 }));
    if (run.json) run.outJson({ topic: name, partitions: rows });
    else run.out(table([{ header: 'PARTITION', align: 'right' }, { header: 'NEW START', align: 'right' }, { header: 'END', align: 'right' }], rows.map((row) => [String(row.partition), String(row.startOffset), String(row.endOffset)]), run.style));
    return 0;
  },
};

/** The --partition values, checked against the topic; all partitions when none is given. */
export async function selectedPartitions(run: RunContext, _admin: Admin | null, topic: string): Promise<number[]> {
  const metadata = await run.client().topicMetadata(topic, { refresh: true });
  const all = metadata.partitions.map((partition) => partition.partition);
  const chosen = run.strings('partition').map((text) => parseInteger('--partition', text, { min: 0 }));
  for (const partition of chosen) if (!all.includes(partition)) throw new UsageError(`--partition ${partition}: topic '${topic}' has partitions 0-${all.length - 1}`);
  return chosen.length > 0 ? [...new Set(chosen)].sort((left, right) => left - right) : all;
}

export const topicCommands: readonly Subcommand[] = [create, list, describe, alterConfig, addPartitions, remove, trim, ...topicReassignCommands];
