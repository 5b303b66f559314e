/**
 * `osprey cluster info`: brokers, controller, cluster id, the APIs and versions the broker we
 * talk to offers, and its features (ApiVersions v3+).
 */
import { apis } from '../client/apis.js';
import { kafkaApiName } from '../protocol/kafka/api-keys.js';
import type { Subcommand } from './command-kit.js';
import { keyValues, orDash, table } from './output.js';

export const clusterSummary = 'show brokers, the controller, protocol versions and features';

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

export const clusterCommands: readonly Subcommand[] = [info];
