/**
 * A real cluster for integration tests: one etcd (test/helpers/etcd-process.ts) and broker
 * processes joined to it, with the etcd keys the tests read as their oracle (docs/cluster.md).
 *
 *   const cluster = await startTestCluster({ nodeIds: [1, 2, 3], racks: true });
 *   cluster.broker(1).bootstrap                         // dial a broker
 *   await cluster.waitForPartition('orders', 0, (state) => state.isr.length === 3, 'the ISR to grow');
 *   await cluster.restart(2)                            // after kill9() or stop(), same data dir
 *   await cluster.stop();
 *
 *   const cut = await startTestCluster({ etcdProxies: true });   // each broker reaches etcd through its own proxy
 *   cut.etcdProxy(1).cut();                             // broker 1 runs on, cut off from etcd only
 *   cut.etcdProxy(1).heal();
 *
 *   const peers = await startTestCluster({ kafkaProxies: true });  // each broker advertises a proxy to its Kafka listener
 *   peers.kafkaProxy(1).cut();                          // broker 1 runs on, registered, cut off from the other brokers
 *   peers.kafkaProxy(1).heal();                         // (the test's own connections to broker(1).port stay)
 *
 * Brokers get a short lease (2 s by default) so that a killed broker counts as gone quickly, and no
 * AMQP or HTTP listener unless a test asks for one through `extraArgs`.
 */
import assert from 'node:assert/strict';
import { EtcdClusterStore } from '../../src/cluster/etcd-cluster-store.js';
import { controllerKey, decodeController, decodePartition, partitionKey, topicPartitionsPrefix } from '../../src/cluster/keys.js';
import type { PartitionRecord } from '../../src/cluster/keys.js';
import type { EtcdProcess } from '../../src/cluster/local/etcd-process.js';
import { ErrorCode } from '../../src/protocol/kafka/error-codes.js';
import { createTopicsRequest, createTopicsResponse } from '../../src/protocol/kafka/messages/create-topics.js';
import { metadataRequest, metadataResponse } from '../../src/protocol/kafka/messages/metadata.js';
import { freeKafkaPort, startBrokerProcess } from './broker-process.js';
import type { BrokerProcess, BrokerProcessOptions } from './broker-process.js';
import { startTestEtcd } from './etcd-process.js';
import { startTcpProxy } from './tcp-proxy.js';
import type { TcpProxy } from './tcp-proxy.js';
import { rawApi, withConnection } from './raw-kafka-client.js';
import { waitUntil } from './waiting.js';

const createTopicsApi = rawApi(createTopicsRequest, createTopicsResponse);
const metadataApi = rawApi(metadataRequest, metadataResponse);

export interface TestClusterOptions {
  /** The brokers started at once (none: only etcd). */
  readonly nodeIds?: readonly number[];
  readonly leaseTtlSeconds?: number;
  /** Gives broker N `--rack rack-N`. */
  readonly racks?: boolean;
  /** More flags for broker N, after the cluster's own. */
  readonly extraArgs?: (nodeId: number) => readonly string[];
  /**
   * Broker N dials etcd only through a TCP proxy of its own (test/helpers/tcp-proxy.ts, kept across
   * restarts of N), so a test can cut it off from etcd while it keeps running and talking to
   * clients and the other brokers. The cluster's own etcd client (`store`) dials etcd directly.
   */
  readonly etcdProxies?: boolean;
  /**
   * Broker N listens on a port chosen up front and advertises (`--advertised-kafka-port`, so in its
   * registration and in Metadata) a TCP proxy of its own in front of it, kept across restarts of N:
   * the other brokers' replica fetches, and clients that follow Metadata, reach it only through the
   * proxy, so a test can cut it off from the other brokers while it stays registered in etcd. A
   * connection the test opens to `broker(N).port` (the listener itself) does not go through it.
   */
  readonly kafkaProxies?: boolean;
}

export interface ControllerState {
  readonly nodeId: number;
  /** The controller key's createRevision (docs/cluster.md, "Controller election"). */
  readonly epoch: bigint;
}

export class TestCluster {
  /** The running (or stopped, or killed) broker process of each node id started. */
  readonly brokers = new Map<number, BrokerProcess>();
  /** Broker N's proxy to etcd, with the option etcdProxies. */
  private readonly proxies = new Map<number, TcpProxy>();
  /** The proxy broker N advertises in front of its Kafka listener, with the option kafkaProxies. */
  private readonly kafkaProxiesByNode = new Map<number, TcpProxy>();

  constructor(
    readonly etcd: EtcdProcess,
    /** A client of the cluster's etcd, for reading (and, in tests that need it, writing) keys. */
    readonly store: EtcdClusterStore,
    private readonly options: TestClusterOptions,
  ) {}

  /**
   * The flags that join broker `nodeId` to this cluster, `extra` after them. With the option
   * etcdProxies, its proxy must exist (startBroker makes it); with kafkaProxies, the Kafka port and
   * the advertised one are its proxy's target and port.
   */
  args(nodeId: number, extra: readonly string[] = []): string[] {
    const leaseTtlSeconds = this.options.leaseTtlSeconds ?? 2;
    const proxy = this.proxies.get(nodeId);
    assert.ok(proxy !== undefined || this.options.etcdProxies !== true, `no etcd proxy for broker ${nodeId} yet`);
    const kafkaProxy = this.kafkaProxiesByNode.get(nodeId);
    assert.ok(kafkaProxy !== undefined || this.options.kafkaProxies !== true, `no Kafka proxy for broker ${nodeId} yet`);
    return [
      '--node-id', String(nodeId),
      '--etcd-endpoints', proxy === undefined ? this.etcd.endpoint : `http://${proxy.host}:${proxy.port}`,
      '--etcd-lease-ttl-seconds', String(leaseTtlSeconds),
      '--amqp-port', '-1',
      '--http-port', '-1',
      ...(kafkaProxy === undefined ? [] : ['--kafka-port', String(kafkaProxy.target.port), '--advertised-kafka-port', String(kafkaProxy.port)]),
      ...(this.options.racks === true ? ['--rack', `rack-${nodeId}`] : []),
      ...(this.options.extraArgs?.(nodeId) ?? []),
      ...extra,
    ];
  }

  /** Starts broker `nodeId` (a fresh data dir unless `options.dataDir`) and records it. */
  async startBroker(nodeId: number, options: BrokerProcessOptions & { readonly extra?: readonly string[] } = {}): Promise<BrokerProcess> {
    if (this.options.etcdProxies === true && !this.proxies.has(nodeId)) {
      this.proxies.set(nodeId, await startTcpProxy({ host: '127.0.0.1', port: this.etcd.clientPort }));
    }
    if (this.options.kafkaProxies === true && !this.kafkaProxiesByNode.has(nodeId)) {
      this.kafkaProxiesByNode.set(nodeId, await startTcpProxy({ host: '127.0.0.1', port: await freeKafkaPort() }));
    }
    const started = await startBrokerProcess({ ...options, args: this.args(nodeId, [...(options.extra ?? []), ...(options.args ?? [])]) });
    this.brokers.set(nodeId, started);
    return started;
  }

  broker(nodeId: number): BrokerProcess {
    const found = this.brokers.get(nodeId);
    assert.ok(found !== undefined, `no broker ${nodeId} in this cluster`);
    return found;
  }

  /** Broker `nodeId`'s proxy to etcd (option etcdProxies): cut() it to cut the broker off from etcd. */
  etcdProxy(nodeId: number): TcpProxy {
    const found = this.proxies.get(nodeId);
    assert.ok(found !== undefined, `no etcd proxy for broker ${nodeId} (startTestCluster({ etcdProxies: true }))`);
    return found;
  }

  /**
   * The proxy broker `nodeId` advertises in front of its Kafka listener (option kafkaProxies): cut()
   * it to cut the broker off from the other brokers (and from clients that follow Metadata).
   */
  kafkaProxy(nodeId: number): TcpProxy {
    const found = this.kafkaProxiesByNode.get(nodeId);
    assert.ok(found !== undefined, `no Kafka proxy for broker ${nodeId} (startTestCluster({ kafkaProxies: true }))`);
    return found;
  }

  /** Starts broker `nodeId` again on its data dir (after kill9() or stop()) and records the new process. */
  async restart(nodeId: number): Promise<BrokerProcess> {
    const restarted = await this.broker(nodeId).restart();
    this.brokers.set(nodeId, restarted);
    return restarted;
  }

  /**
   * CreateTopics through broker `throughNodeId` with these replicas per partition (first: the
   * preferred leader). Asked again while that broker has not yet seen every named broker register
   * (INVALID_REPLICA_ASSIGNMENT: a broker started, or registered again, a moment ago); any other
   * error fails. `configs`: the topic's settings (compression.type…), none by default.
   */
  async createTopic(topic: string, assignments: readonly (readonly number[])[], throughNodeId = assignments[0]![0]!, configs: Readonly<Record<string, string>> = {}): Promise<void> {
    let result: { errorCode: number; errorMessage: string | null } | undefined;
    const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
    const request = {
      topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds: [...brokerIds] })), configs: configEntries }],
      timeoutMs: 10_000,
      validateOnly: false,
    };
    await waitUntil(
      async () => {
        const answer = await withConnection(this.broker(throughNodeId), (connection) => connection.call(createTopicsApi, 7, request));
        result = answer.topics[0];
        return result?.errorCode !== ErrorCode.invalidReplicaAssignment;
      },
      `broker ${throughNodeId} to see every replica of ${topic} registered`,
      10_000,
      () => result?.errorMessage ?? '',
    );
    assert.equal(result?.errorCode, ErrorCode.none, `CreateTopics ${topic}: ${result?.errorMessage ?? ''}`);
  }

  /** The partition's state as etcd holds it, null when the key is absent. */
  async partition(topic: string, index: number): Promise<PartitionRecord | null> {
    const entry = await this.store.get(partitionKey(topic, index));
    if (entry === null) return null;
    const state = decodePartition(entry.value);
    assert.ok(!(state instanceof Error), `unreadable partition key ${topic}/${index}: ${String(state)}`);
    return state;
  }

  /** Every partition state of the topic in etcd, by index. */
  async partitions(topic: string): Promise<PartitionRecord[]> {
    const prefix = topicPartitionsPrefix(topic);
    const range = await this.store.rangeByPrefix(prefix);
    return range.entries
      .map((entry) => ({ index: Number(entry.key.slice(prefix.length)), state: decodePartition(entry.value) }))
      .sort((left, right) => left.index - right.index)
      .map(({ index, state }) => {
        assert.ok(!(state instanceof Error), `unreadable partition key ${topic}/${index}: ${String(state)}`);
        return state;
      });
  }

  /** Waits until etcd holds a state of the partition that `accept` takes, and returns it. */
  async waitForPartition(topic: string, index: number, accept: (state: PartitionRecord) => boolean, what: string, timeoutMs = 20_000): Promise<PartitionRecord> {
    let last: PartitionRecord | null = null;
    let accepted: PartitionRecord | null = null;
    await waitUntil(
      async () => {
        last = await this.partition(topic, index);
        if (last === null || !accept(last)) return false;
        accepted = last;
        return true;
      },
      what,
      timeoutMs,
      () => `last state of ${topic}/${index}: ${JSON.stringify(last)}`,
    );
    // Set in the condition above (which control flow analysis does not follow).
    const result = accepted as PartitionRecord | null;
    assert.ok(result !== null);
    return result;
  }

  /** The controller as etcd names it, null when there is none. */
  async controller(): Promise<ControllerState | null> {
    const entry = await this.store.get(controllerKey);
    if (entry === null) return null;
    const record = decodeController(entry.value);
    assert.ok(!(record instanceof Error), String(record));
    return { nodeId: record.nodeId, epoch: entry.createRevision };
  }

  /**
   * Waits until every running broker lists all of `nodeIds` in its Metadata answer: each has seen
   * the others register, so a request naming them (an explicit replica assignment) is not refused
   * as naming a broker it does not know yet.
   */
  async waitForMembers(nodeIds: readonly number[]): Promise<void> {
    const expected = [...nodeIds].sort((left, right) => left - right).join(',');
    let seen = '';
    await waitUntil(
      async () => {
        const answers = await Promise.all(
          nodeIds.map(async (nodeId) => {
            const metadata = await withConnection(this.broker(nodeId), (connection) => connection.call(metadataApi, 1, { topics: [], includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
            return metadata.brokers.map((entry) => entry.nodeId).sort((left, right) => left - right).join(',');
          }),
        );
        seen = answers.join(' | ');
        return answers.every((answer) => answer === expected);
      },
      `brokers ${expected} to see each other`,
      20_000,
      () => `brokers listed by each: ${seen}`,
    );
  }

  /**
   * Stops every broker still running (SIGTERM; proxies healed first, so each can leave etcd and its
   * peers cleanly), then etcd; throws the first broker's failure to stop (say, not exiting in time)
   * once etcd is stopped too, so that a failing test leaves nothing holding the test process open.
   */
  async stop(): Promise<void> {
    const allProxies = [...this.proxies.values(), ...this.kafkaProxiesByNode.values()];
    for (const proxy of allProxies) proxy.heal();
    const stopped = await Promise.allSettled([...this.brokers.values()].map((broker) => (broker.exitCode === null && broker.exitSignal === null ? broker.stop() : undefined)));
    await Promise.all(allProxies.map((proxy) => proxy.close()));
    this.store.close();
    await this.etcd.stop();
    const failed = stopped.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/** Starts etcd, then the brokers of `options.nodeIds` (1, 2, 3 by default) side by side, and waits until they all see each other. */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const etcd = await startTestEtcd();
  const store = new EtcdClusterStore({ endpoints: [etcd.endpoint], requestTimeoutMs: 5000 });
  const cluster = new TestCluster(etcd, store, options);
  try {
    const nodeIds = options.nodeIds ?? [1, 2, 3];
    await Promise.all(nodeIds.map((nodeId) => cluster.startBroker(nodeId)));
    if (nodeIds.length > 1) await cluster.waitForMembers(nodeIds);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
