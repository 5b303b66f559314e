/**
 * `npm run cluster` (src/cluster/local/run-local-cluster.ts, run here from the build): it starts a
 * local etcd and N brokers, prints how to reach them, and SIGTERM stops them all.
 *
 * Oracles: etcd's registrations (read directly), Metadata answered on every printed port, and after
 * the stop: the script's exit code, the ports and etcd no longer answering, the temporary data gone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { EtcdClusterStore } from '../../src/cluster/etcd-cluster-store.js';
import { brokersPrefix, controllerKey, decodeRegistration } from '../../src/cluster/keys.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { isolatedEnvironment } from '../helpers/broker-process.js';
import { rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { requireTool } from '../helpers/tools.js';
import { waitUntil } from '../helpers/waiting.js';

const script = fileURLToPath(new URL('../../src/cluster/local/run-local-cluster.js', import.meta.url));
const metadataApi = rawApi(metadataRequest, metadataResponse);

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('npm run cluster -- --brokers 3: etcd and three registered brokers, printed; SIGTERM stops them all', async () => {
  requireTool('etcd');
  const child = spawn(process.execPath, [script, '--brokers', '3', '--lease-ttl-seconds', '2'], { env: isolatedEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let store: EtcdClusterStore | null = null;
  try {
    await waitUntil(() => output.includes('Ctrl-C (or SIGTERM) stops them all.') || child.exitCode !== null, 'the cluster to be up', 90_000, () => output);
    const summary = output.split('\n').filter((line) => !line.startsWith('[broker-'));
    const endpoint = /^ {2}etcd +(http:\/\/127\.0\.0\.1:\d+) +\(data (\S+)\/etcd,/m.exec(summary.join('\n'));
    assert.ok(endpoint?.[1] !== undefined && endpoint[2] !== undefined, output);
    const dataRoot = endpoint[2];
    const ports = new Map<number, number>();
    for (const line of summary) {
      const match = /^ {2}broker (\d) +127\.0\.0\.1:(\d+) /.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) ports.set(Number(match[1]), Number(match[2]));
    }
    assert.deepEqual([...ports.keys()], [1, 2, 3], output);
    // Each broker's admin API, printed beside it, answers (osprey queue|exchange|vhost use it).
    const adminPorts = summary.map((line) => /^ {2}broker \d .* admin http:\/\/127\.0\.0\.1:(\d+) /.exec(line)?.[1]).filter((port) => port !== undefined);
    assert.equal(adminPorts.length, 3, output);
    for (const port of adminPorts) assert.equal((await fetch(`http://127.0.0.1:${port}/api/queues`)).status, 200, `admin API on port ${port}`);
    assert.match(output, new RegExp(`^ {2}bootstrap +${[...ports.values()].map((port) => `127\\.0\\.0\\.1:${port}`).join(',')}$`, 'm'));

    store = new EtcdClusterStore({ endpoints: [endpoint[1]], requestTimeoutMs: 5000 });
    const registered = (await store.rangeByPrefix(brokersPrefix)).entries.map((entry) => decodeRegistration(entry.value));
    assert.deepEqual(
      registered.map((registration) => (registration instanceof Error ? registration.message : [registration.nodeId, registration.kafkaPort])),
      [...ports].map(([nodeId, port]) => [nodeId, port]),
    );
    await waitUntil(async () => (await store?.get(controllerKey)) !== null, 'a controller');
    // Every broker answers for the whole cluster (it follows the registrations through its watch).
    const everyBroker = JSON.stringify([...ports].map(([nodeId, port]) => [nodeId, port]));
    for (const port of ports.values()) {
      let seen = '';
      await waitUntil(
        async () => {
          const metadata = await withConnection({ host: '127.0.0.1', port }, (connection) => connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
          seen = JSON.stringify(metadata.brokers.map((broker) => [broker.nodeId, broker.port]));
          return seen === everyBroker;
        },
        `the broker on port ${port} to list every broker`,
        10_000,
        () => seen,
      );
    }
    store.close();
    store = null;

    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    assert.match(output, /cluster: stopped\n/);
    for (const nodeId of ports.keys()) assert.match(output, new RegExp(`\\[broker-${nodeId}\\] .*INFO left the cluster component=cluster nodeId=${nodeId}`));
    for (const port of ports.values()) assert.equal(await accepts(port), false, `port ${port} still accepts connections`);
    assert.equal(await accepts(Number(new URL(endpoint[1]).port)), false, 'etcd still answers');
    assert.equal(existsSync(dataRoot), false, `${dataRoot} was not removed`);
  } finally {
    store?.close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }
});
