/**
 * Three Osprey brokers and one etcd on loopback, as `npm run cluster -- --brokers 3` starts them
 * (src/cluster/local/run-local-cluster.ts, the build's own copy): every broker with flush=always
 * (group-commit fdatasync before acks=all is answered), each in a data folder of its own under one
 * temporary directory on the bench's data disk.
 *
 * The running broker's `port` is broker 1's; clients learn the others from Metadata. Its `pid` is the
 * launcher's, whose process tree holds etcd and the three brokers, so the CPU and memory readings
 * cover the whole cluster (all on this one machine, sharing its cores and its disk).
 */
import { fileURLToPath } from 'node:url';
import { removeDirectory, Service, temporaryDirectory } from '../lib/processes.js';
import type { BrokerStartOptions, RunningBroker } from './broker.js';
import { ospreyVersion } from './osprey.js';

/** <build>/bench/brokers → <build>/src/cluster/local/run-local-cluster.js */
const launcherEntry = fileURLToPath(new URL('../../src/cluster/local/run-local-cluster.js', import.meta.url));

export const clusterBrokerCount = 3;

export async function startOspreyCluster(options: BrokerStartOptions): Promise<RunningBroker> {
  const dataDir = temporaryDirectory(options.dataParent, 'osprey-cluster-');
  const args = [launcherEntry, '--brokers', String(clusterBrokerCount), '--data-dir', dataDir];
  const env: Record<string, string> = {};
  for (const name of Object.keys(process.env)) if (name.startsWith('OSPREY_')) env[name] = '';
  const service = new Service('osprey-cluster', process.execPath, args, { env });
  const ready = /\n\s*bootstrap\s+127\.0\.0\.1:(\d+)/;
  await service.waitForOutput(ready, 90_000);
  const port = Number(ready.exec(service.logs())?.[1]);
  // The launcher's summary line of broker 1: "  broker 1   127.0.0.1:<kafka>   amqp://guest:guest@127.0.0.1:<amqp>/ …"
  const amqpPortOf = (nodeId: number) => Number(new RegExp(`\\n\\s*broker ${nodeId}\\s+\\S+\\s+amqp://[^@\\s]*@127\\.0\\.0\\.1:(\\d+)/`).exec(service.logs())?.[1]);
  const amqpPort = amqpPortOf(1);
  const otherAmqpPorts = Array.from({ length: clusterBrokerCount - 1 }, (_, index) => amqpPortOf(index + 2)).filter((other) => Number.isInteger(other) && other > 0);
  return {
    kind: 'osprey-cluster',
    version: ospreyVersion(),
    fsyncPolicy: `${clusterBrokerCount} brokers, replication factor ${clusterBrokerCount}, flush=always on each: acks=all is answered once every in-sync replica holds the batch, each having fsynced it; an AMQP publish to a durable queue (its own replicated topic, led by broker 1, which declared it) is confirmed the same way`,
    launch: `node ${launcherEntry} --brokers ${clusterBrokerCount} --data-dir <data-dir>`,
    host: '127.0.0.1',
    port,
    ...(Number.isInteger(amqpPort) && amqpPort > 0 ? { amqpPort } : {}),
    otherAmqpPorts,
    pid: service.pid,
    dataDir,
    async stop() {
      // SIGTERM to the launcher: it stops each broker (which leaves the cluster), then etcd.
      await service.stop(30_000);
      removeDirectory(dataDir);
    },
  };
}
