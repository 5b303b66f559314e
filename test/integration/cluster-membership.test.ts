/**
 * Brokers joining a cluster through a real etcd (test/helpers/etcd-process.ts), as real processes
 * (test/helpers/broker-process.ts): registration, one controller at a time, a crashed controller
 * replaced once its lease lapses, a clean stop leaving at once, a crashed broker rejoining under its
 * node id, and a second broker with a node id already in use refused. Leases are 2 s (the shortest
 * etcd grants by default), and every wait is on etcd's state or a log line, with a deadline.
 *
 * Oracles: etcd's keys read directly (docs/cluster.md: /osprey/brokers/<id>, /osprey/controller and
 * its createRevision as the epoch), the brokers' own log lines, and Metadata answered by each broker
 * (the whole cluster, from each broker's copy of the registrations; cluster-metadata.test.ts covers topics).
 */
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValue } from '../../src/cluster/cluster-store.js';
import { brokersPrefix, controllerKey, decodeRegistration, encodeRegistration } from '../../src/cluster/keys.js';
import type { BrokerRegistration } from '../../src/cluster/keys.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { cliEntry, isolatedEnvironment, startBrokerProcess, temporaryDirectory } from '../helpers/broker-process.js';
import { startTestCluster } from '../helpers/cluster.js';
import type { TestCluster } from '../helpers/cluster.js';
import { rawApi, withConnection } from '../helpers/raw-kafka-client.js';
import { waitUntil } from '../helpers/waiting.js';

const metadataApi = rawApi(metadataRequest, metadataResponse);
const leaseTtlSeconds = 2;

async function registrations(store: TestCluster['store']): Promise<Map<number, BrokerRegistration & { entry: KeyValue }>> {
  const range = await store.rangeByPrefix(brokersPrefix);
  const found = new Map<number, BrokerRegistration & { entry: KeyValue }>();
  for (const entry of range.entries) {
    const registration = decodeRegistration(entry.value);
    assert.ok(!(registration instanceof Error), `unreadable registration ${entry.key}: ${String(registration)}`);
    found.set(registration.nodeId, { ...registration, entry });
  }
  return found;
}

function occurrences(text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line)).length;
}

async function waitForController(cluster: TestCluster, accept: (current: { nodeId: number; epoch: bigint }) => boolean, what: string): Promise<{ nodeId: number; epoch: bigint }> {
  let found: { nodeId: number; epoch: bigint } | null = null;
  await waitUntil(async () => {
    found = await cluster.controller();
    return found !== null && accept(found);
  }, what, 30_000, () => `controller key: ${JSON.stringify(found, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}`);
  assert.ok(found !== null);
  return found;
}

test('three brokers register with what they advertise, exactly one is controller, and it sees all three join', async () => {
  const cluster = await startTestCluster({ nodeIds: [1, 2, 3], racks: true });
  try {
    const registered = await registrations(cluster.store);
    assert.deepEqual([...registered.keys()].sort(), [1, 2, 3]);
    for (const [nodeId, registration] of registered) {
      const broker = cluster.broker(nodeId);
      assert.deepEqual({ host: registration.host, kafkaPort: registration.kafkaPort, rack: registration.rack, leaseTtlSeconds: registration.leaseTtlSeconds }, { host: broker.host, kafkaPort: broker.port, rack: `rack-${nodeId}`, leaseTtlSeconds });
      assert.notEqual(registration.entry.leaseId, null, 'a registration lives under a lease');
    }
    const leases = new Set([...registered.values()].map((registration) => registration.entry.leaseId));
    assert.equal(leases.size, 3, 'one lease per broker');

    const elected = await waitForController(cluster, () => true, 'a controller');
    assert.ok(registered.has(elected.nodeId));
    assert.equal((await cluster.store.get(controllerKey))?.leaseId, registered.get(elected.nodeId)?.entry.leaseId, "the controller key hangs on the controller's own lease");

    const controllerBroker = cluster.broker(elected.nodeId);
    for (const nodeId of [1, 2, 3]) await controllerBroker.waitForLog(new RegExp(`INFO broker joined component=cluster nodeId=${nodeId} host=127\\.0\\.0\\.1 port=${cluster.broker(nodeId).port} rack=rack-${nodeId}`), 20_000);
    for (const [nodeId, broker] of cluster.brokers) {
      if (nodeId === elected.nodeId) continue;
      await broker.waitForLog(new RegExp(`controller is another broker component=cluster controllerId=${elected.nodeId} epoch=${elected.epoch}`), 20_000);
    }
    const electedLines = [...cluster.brokers.values()].map((broker) => occurrences(broker.logs(), /INFO elected controller /));
    assert.deepEqual(electedLines.sort(), [0, 0, 1], 'exactly one broker was ever elected');

    // Every broker answers Metadata for the whole cluster: every registration, and the controller.
    const everyBroker = JSON.stringify([1, 2, 3].map((nodeId) => [nodeId, cluster.broker(nodeId).host, cluster.broker(nodeId).port, `rack-${nodeId}`]));
    for (const broker of cluster.brokers.values()) {
      let seen = '';
      await waitUntil(
        async () => {
          const metadata = await withConnection(broker, (connection) => connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
          seen = JSON.stringify([metadata.brokers.map((entry) => [entry.nodeId, entry.host, entry.port, entry.rack]), metadata.controllerId]);
          return seen === `[${everyBroker},${elected.nodeId}]`;
        },
        'every broker to list the cluster and its controller',
        10_000,
        () => seen,
      );
    }
  } finally {
    await cluster.stop();
  }
});

test('kill -9 of the controller: another broker takes over once its lease lapses, with a larger epoch', async () => {
  const cluster = await startTestCluster({ nodeIds: [1, 2, 3], racks: true });
  try {
    const first = await waitForController(cluster, () => true, 'a controller');
    const crashed = cluster.broker(first.nodeId);
    await crashed.kill9();
    // Right after the crash the lease is still alive: the key and the registration outlive the process.
    const second = await waitForController(cluster, (current) => current.nodeId !== first.nodeId, `a controller other than ${first.nodeId}`);
    assert.ok(second.epoch > first.epoch, `epoch ${second.epoch} after ${first.epoch}`);
    assert.equal((await registrations(cluster.store)).has(first.nodeId), false, "the crashed broker's registration went with its lease");

    const successor = cluster.broker(second.nodeId);
    await successor.waitForLog(new RegExp(`INFO elected controller component=cluster nodeId=${second.nodeId} epoch=${second.epoch}`), 20_000);
    const bystanderId = [1, 2, 3].find((nodeId) => nodeId !== first.nodeId && nodeId !== second.nodeId) ?? -1;
    await cluster.broker(bystanderId).waitForLog(new RegExp(`controller is another broker component=cluster controllerId=${second.nodeId} epoch=${second.epoch}`), 20_000);
    for (const broker of cluster.brokers.values()) {
      if (broker !== successor) assert.equal(occurrences(broker.logs(), new RegExp(`elected controller component=cluster nodeId=\\d+ epoch=${second.epoch}`)), 0);
    }
  } finally {
    await cluster.stop();
  }
});

test('a broker stopped cleanly leaves at once: its registration is gone when it exits, and the controller says so', async () => {
  const cluster = await startTestCluster({ nodeIds: [1, 2, 3], racks: true });
  try {
    const elected = await waitForController(cluster, () => true, 'a controller');
    const leavingId = [1, 2, 3].find((nodeId) => nodeId !== elected.nodeId) ?? -1;
    await cluster.broker(elected.nodeId).waitForLog(new RegExp(`broker joined component=cluster nodeId=${leavingId} `), 20_000);
    await cluster.broker(leavingId).stop();
    // No wait: the lease was revoked before the process exited.
    assert.equal((await registrations(cluster.store)).has(leavingId), false);
    assert.match(cluster.broker(leavingId).logs(), new RegExp(`INFO left the cluster component=cluster nodeId=${leavingId}`));
    await cluster.broker(elected.nodeId).waitForLog(new RegExp(`INFO broker left component=cluster nodeId=${leavingId}$`), 20_000);

    // The controller stopped cleanly: its key is gone at once too, and another broker is elected.
    await cluster.broker(elected.nodeId).stop();
    const after = await cluster.controller();
    assert.ok(after === null || after.nodeId !== elected.nodeId, `controller key still names ${elected.nodeId}`);
    const remainingId = [1, 2, 3].find((nodeId) => nodeId !== elected.nodeId && nodeId !== leavingId) ?? -1;
    const successor = await waitForController(cluster, (current) => current.nodeId === remainingId, `broker ${remainingId} as controller`);
    assert.ok(successor.epoch > elected.epoch);
  } finally {
    await cluster.stop();
  }
});

test('a broker restarted after kill -9 registers again under its node id, once its old lease is gone', async () => {
  const cluster = await startTestCluster({ nodeIds: [1, 2], racks: true });
  try {
    const elected = await waitForController(cluster, () => true, 'a controller');
    const crashedId = elected.nodeId === 1 ? 2 : 1;
    const crashed = cluster.broker(crashedId);
    const controllerBroker = cluster.broker(elected.nodeId);
    await controllerBroker.waitForLog(new RegExp(`broker joined component=cluster nodeId=${crashedId} `), 20_000);
    const before = (await registrations(cluster.store)).get(crashedId);
    assert.ok(before !== undefined);
    await crashed.kill9();
    // Restarted at once: whether the old lease has lapsed by the time it looks depends on how fast it
    // starts; either way it must end up registered anew (the waiting path has its own test below).
    await cluster.restart(crashedId);
    const after = (await registrations(cluster.store)).get(crashedId);
    assert.ok(after !== undefined && after.entry.createRevision > before.entry.createRevision && after.entry.leaseId !== before.entry.leaseId, 'a new registration under a new lease');
    assert.equal(after.kafkaPort, crashed.port);
    await controllerBroker.waitForLog(new RegExp(`INFO broker left component=cluster nodeId=${crashedId}$`), 20_000);
    await waitUntil(() => occurrences(controllerBroker.logs(), new RegExp(`INFO broker joined component=cluster nodeId=${crashedId} `)) === 2, `the controller to see broker ${crashedId} join again`, 20_000, () => controllerBroker.logs());
  } finally {
    await cluster.stop();
  }
});

test('a node id held under a lease nobody renews any more (a crashed earlier run): the broker waits for it to lapse, then registers', async () => {
  const cluster = await startTestCluster({ nodeIds: [] });
  const { store } = cluster;
  try {
    // What a run killed a moment ago leaves behind: its key under a lease that is still alive. The
    // value claims a longer TTL than the lease has, so the broker's wait (claimed TTL + 2 s) outlasts
    // the real lapse by a wide margin.
    const lease = await store.grantLease(leaseTtlSeconds);
    const stale = { nodeId: 5, host: '127.0.0.1', kafkaPort: 1, rack: null, leaseTtlSeconds: 10 };
    const held = await store.transaction([{ key: `${brokersPrefix}5`, modRevision: 0n }], [{ type: 'put', key: `${brokersPrefix}5`, value: encodeRegistration(stale), lease }]);
    assert.equal(held.succeeded, true);
    // Started by hand rather than through startBrokerProcess, to see its output before it is ready.
    const child = spawn(process.execPath, [cliEntry, 'broker', '--data-dir', temporaryDirectory(), '--host', '127.0.0.1', '--kafka-port', '0', ...cluster.args(5)], { env: isolatedEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await waitUntil(() => /WARN node id already registered; waiting for that lease to lapse/.test(output), 'the broker to find its node id held', 30_000, () => output);
      assert.match(output, /WARN node id already registered; waiting for that lease to lapse \(an earlier run of this broker\?\) component=cluster nodeId=5 holder=127\.0\.0\.1:1 waitMs=\d+/);
      assert.equal((await store.get(`${brokersPrefix}5`))?.modRevision, held.revision, 'the held key is left alone while its lease lives');
      assert.doesNotMatch(output, /kafka listener ready/, 'not ready while its node id is held');
      lease.release();
      await waitUntil(() => /kafka listener ready host=\S+ port=\d+/.test(output), 'the broker to register once the lease lapsed', 30_000, () => output);
      const port = Number(/kafka listener ready host=\S+ port=(\d+)/.exec(output)?.[1]);
      const registered = (await registrations(store)).get(5);
      assert.ok(registered !== undefined && registered.entry.createRevision > held.revision);
      assert.equal(registered.kafkaPort, port);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
    }
  } finally {
    await cluster.stop();
  }
});

test('a second broker with a node id in use is refused with a clear error, and the first keeps its registration', async () => {
  const cluster = await startTestCluster({ nodeIds: [1], racks: true });
  try {
    const before = (await registrations(cluster.store)).get(1);
    assert.ok(before !== undefined);
    const first = cluster.broker(1);
    await assert.rejects(startBrokerProcess({ args: cluster.args(1) }), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /broker exited before it was ready \(code 1,/);
      assert.match(error.message, new RegExp(`osprey: node id 1 is already registered in etcd by 127\\.0\\.0\\.1:${first.port}, whose lease is still renewed: another broker runs with --node-id 1; give each broker a node id of its own`));
      return true;
    });
    const after = (await registrations(cluster.store)).get(1);
    assert.equal(after?.entry.createRevision, before.entry.createRevision);
    assert.equal(after?.entry.modRevision, before.entry.modRevision);
    assert.equal(first.exitCode, null, 'the first broker runs on');
  } finally {
    await cluster.stop();
  }
});

test('joining needs a node id and a reachable etcd; the advertised Kafka port is what etcd and Metadata get', async () => {
  const cluster = await startTestCluster({ nodeIds: [] });
  const { etcd, store } = cluster;
  try {
    await assert.rejects(startBrokerProcess({ args: ['--etcd-endpoints', etcd.endpoint] }), /osprey: etcdEndpoints \(from --etcd-endpoints\) joins a cluster, where every broker needs a node id of its own: set --node-id/);
    await assert.rejects(
      startBrokerProcess({ args: ['--node-id', '4', '--etcd-endpoints', 'http://127.0.0.1:1', '--etcd-request-timeout-ms', '1000'] }),
      /osprey: cannot join the cluster through etcd at http:\/\/127\.0\.0\.1:1 \(--etcd-endpoints\): /,
    );
    const broker = await startBrokerProcess({ args: cluster.args(7, ['--advertised-host', 'broker-7.example', '--advertised-kafka-port', '19099']) });
    try {
      const registration = (await registrations(store)).get(7);
      assert.deepEqual([registration?.host, registration?.kafkaPort, registration?.rack], ['broker-7.example', 19099, null]);
      const metadata = await withConnection(broker, (connection) => connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
      assert.deepEqual(metadata.brokers.map((entry) => [entry.nodeId, entry.host, entry.port]), [[7, 'broker-7.example', 19099]]);
    } finally {
      await broker.stop();
    }
    assert.equal((await registrations(store)).size, 0);
  } finally {
    await cluster.stop();
  }
});

test('etcd paused for longer than the lease: brokers keep answering, drop their registration and controllership, and register again when etcd is back', async () => {
  const cluster = await startTestCluster({ nodeIds: [1, 2], racks: true });
  try {
    const first = await waitForController(cluster, () => true, 'a controller');
    const before = await registrations(cluster.store);
    process.kill(cluster.etcd.pid, 'SIGSTOP');
    try {
      for (const [nodeId, broker] of cluster.brokers) {
        await broker.waitForLog(new RegExp(`ERROR cluster lease lost: this broker is no longer registered, nor controller; registering again component=cluster nodeId=${nodeId} `), 20_000);
      }
      await cluster.broker(first.nodeId).waitForLog(new RegExp(`INFO no longer controller component=cluster nodeId=${first.nodeId} epoch=${first.epoch}`), 20_000);
      // The Kafka side does not wait on etcd: it answers from the last state it saw.
      for (const broker of cluster.brokers.values()) {
        const metadata = await withConnection(broker, (connection) => connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
        assert.deepEqual(metadata.brokers.map((entry) => entry.nodeId), [1, 2]);
      }
    } finally {
      process.kill(cluster.etcd.pid, 'SIGCONT');
    }
    let after = new Map<number, BrokerRegistration & { entry: KeyValue }>();
    await waitUntil(async () => {
      after = await registrations(cluster.store);
      return [1, 2].every((nodeId) => (after.get(nodeId)?.entry.createRevision ?? 0n) > (before.get(nodeId)?.entry.createRevision ?? 0n));
    }, 'both brokers to register again', 30_000, () => [...after.values()].map((registration) => `${registration.nodeId}@${registration.entry.createRevision}`).join(' ') + [...cluster.brokers.values()].map((broker) => `\n--- broker ---\n${broker.logs()}`).join(''));
    for (const nodeId of [1, 2]) assert.notEqual(after.get(nodeId)?.entry.leaseId, before.get(nodeId)?.entry.leaseId, `broker ${nodeId} under a new lease`);
    const second = await waitForController(cluster, (current) => current.epoch > first.epoch, 'a controller elected anew');
    assert.equal((await cluster.store.get(controllerKey))?.leaseId, after.get(second.nodeId)?.entry.leaseId);
    await cluster.broker(second.nodeId).waitForLog(new RegExp(`INFO elected controller component=cluster nodeId=${second.nodeId} epoch=${second.epoch}`), 20_000);
  } finally {
    await cluster.stop();
  }
});

test('a broker stopped while etcd is out of reach still exits cleanly; its registration lapses with its lease', async () => {
  const cluster = await startTestCluster({ nodeIds: [1], racks: true });
  try {
    await waitForController(cluster, () => true, 'a controller');
    process.kill(cluster.etcd.pid, 'SIGSTOP');
    try {
      await cluster.broker(1).stop(); // exit code 0, within the harness's 20 s
    } finally {
      process.kill(cluster.etcd.pid, 'SIGCONT');
    }
    assert.match(cluster.broker(1).logs(), /WARN could not revoke the cluster lease; the registration lapses with its TTL component=cluster /);
    await waitUntil(async () => (await registrations(cluster.store)).size === 0 && (await cluster.controller()) === null, 'the registration and the controller key to lapse', 30_000);
  } finally {
    await cluster.stop();
  }
});
