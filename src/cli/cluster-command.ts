/**
 * `osprey cluster info`: brokers, controller, cluster id, the APIs and versions the broker we
 * talk to offers, and its features (ApiVersions v3+).
 */
import { apis } from '../client/apis.js';
import { kafkaApiName } from '../protocol/kafka/api-keys.js';
import { errorName } from '../client/errors.js';
import { ErrorCode } from '../protocol/kafka/error-codes.js';
import { UsageError } from './command-kit.js';
import type { Subcommand } from './command-kit.js';
import { keyValues, orDash, table } from './output.js';

export const clusterSummary = 'show brokers, the controller, protocol versions and features; elect preferred leaders';

const info: Subcommand = {
  name: 'cluster info',
  summary: 'show brokers, the controller, the cluster id, API versions and features',
  options: { apis: { type: 'boolean', description: 'list every API the broker offers, with its version range' } },
  examples: ['osprey cluster info', 'osprey cluster info --brokers kafka-1:9092 --apis', 'osprey cluster info --json'],
  async run(run) {
    const client = run.client();
    const cluster = await run.admin().describeCluster();
    const connection = await client.anyConnection();
    const apiList = [...connection.apiVersions].sort(([left], [right]) => left - right).map(([key, range]) => ({ key, name: kafkaApiName(key), minVersion: range.min, maxVersion: range.max }));
    const features = connection.features;
    if (run.json) {
      run.outJson({ clusterId: cluster.clusterId, controllerId: cluster.controllerId, brokers: cluster.brokers, bootstrap: connection.address, apis: apiList, features });
      return 0;
    }
    const produce = connection.apiVersions.get(apis.produce.key);
    const fetch = connection.apiVersions.get(apis.fetch.key);
    run.out(
      keyValues(
        [
          ['cluster id', orDash(cluster.clusterId)],
          ['controller', cluster.controllerId >= 0 ? String(cluster.controllerId) : 'none'],
          ['brokers', String(cluster.brokers.length)],
          ['answered by', connection.address],
          ['protocol', `${apiList.length} APIs; Produce v${produce?.min ?? '-'}-${produce?.max ?? '-'}, Fetch v${fetch?.min ?? '-'}-${fetch?.max ?? '-'}`],
          ['features', features.length === 0 ? 'none reported' : features.map((feature) => `${feature.name} ${feature.finalizedLevel ?? `${feature.minVersion}-${feature.maxVersion}`}`).join(', ')],
        ],
        run.style,
      ),
    );
    run.out('\n');
    run.out(
      table(
        [{ header: 'ID', align: 'right' }, { header: 'HOST' }, { header: 'PORT', align: 'right' }, { header: 'RACK' }, { header: 'ROLE' }],
        cluster.brokers.map((broker) => [String(broker.nodeId), broker.host, String(broker.port), orDash(broker.rack), broker.nodeId === cluster.controllerId ? 'controller' : '']),
        run.style,
      ),
    );
    if (run.flag('apis')) {
      run.out('\n');
      run.out(table([{ header: 'KEY', align: 'right' }, { header: 'API' }, { header: 'VERSIONS' }], apiList.map((api) => [String(api.key), api.name, `${api.minVersion}-${api.maxVersion}`]), run.style));
    }
    return 0;
  },
};

const electLeaders: Subcommand = {
  name: 'cluster elect-leaders',
  summary: 'give partitions back to their preferred leader (first replica), or elect unclean leaders',
  description:
    'Preferred election moves leadership to the first replica when it is live and in sync (after a restart, leadership stays where it moved). --unclean instead gives partitions without a live leader to a live replica out of sync: records may be lost.',
  options: {
    topic: { type: 'string', short: 't', value: 'TOPIC', description: 'only the partitions of this topic (default: every partition)' },
    partition: { type: 'string', short: 'p', value: 'P', description: 'with --topic: only this partition' },
    unclean: { type: 'boolean', description: 'unclean election instead of preferred' },
  },
  examples: ['osprey cluster elect-leaders', 'osprey cluster elect-leaders --topic orders --partition 0', 'osprey cluster elect-leaders --topic orders --unclean'],
  async run(run) {
    const topic = run.string('topic');
    const partition = run.integer('partition', { min: 0, max: 2 ** 31 - 1 });
    if (partition !== undefined && topic === undefined) throw new UsageError('--partition needs --topic');
    let partitions: { topic: string; partition: number }[] | null = null;
    if (topic !== undefined) {
      const metadata = await run.client().topicMetadata(topic, { refresh: true });
      partitions = metadata.partitions.map((entry) => ({ topic, partition: entry.partition })).filter((entry) => partition === undefined || entry.partition === partition);
      if (partitions.length === 0) throw new UsageError(`topic '${topic}' has no partition ${String(partition)}`);
    }
    const results = await run.admin().electLeaders(partitions, run.flag('unclean') ? 'unclean' : 'preferred');
    // Not needed (already led as asked) counts as success, as in Kafka's tool.
    const failed = results.filter((result) => result.errorCode !== 0 && result.errorCode !== ErrorCode.electionNotNeeded);
    if (run.json) {
      run.outJson(results.map((result) => ({ ...result, error: result.errorCode === 0 ? null : errorName(result.errorCode) })));
      return failed.length === 0 ? 0 : 1;
    }
    const elected = results.filter((result) => result.errorCode === 0);
    run.out(`${elected.length} elected, ${results.filter((result) => result.errorCode === ErrorCode.electionNotNeeded).length} already led by the replica the election would choose, ${failed.length} failed\n`);
    if (elected.length + failed.length > 0) {
      run.out(table([{ header: 'TOPIC' }, { header: 'PARTITION', align: 'right' }, { header: 'RESULT' }], [...elected, ...failed].map((result) => [result.topic, String(result.partition), result.errorCode === 0 ? 'elected' : `${errorName(result.errorCode)}${result.errorMessage === null ? '' : `: ${result.errorMessage}`}`]), run.style));
    }
    return failed.length === 0 ? 0 : 1;
  },
};

export const clusterCommands: readonly Subcommand[] = [info, electLeaders];
