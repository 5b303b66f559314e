/**
 * Opens the queue side of a broker from its configuration: the definitions store and every
 * durable queue's store under `<dataDir>/amqp/`.
 *
 *   <dataDir>/amqp/definitions.*        virtual hosts, exchanges, queues, bindings (definitions/);
 *                                       in a cluster (etcdEndpoints) they are kept in etcd instead,
 *                                       shared by the brokers (cluster/etcd-definitions-store.ts)
 *   <dataDir>/amqp/queues/<storageId>/  one durable queue: its log segments and state (queue-store/)
 *   <dataDir>/amqp/delayed/<storageId>/ one x-delayed-message exchange: its held messages (delayed/)
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrokerConfig } from '../config/broker-config.js';
import type { Logger } from '../logging/logger.js';
import { systemClock } from '../storage/partition-log.js';
import { JournaledDefinitionsStore } from './definitions/definitions-store.js';
import type { DefinitionsStore } from './definitions/definitions.js';
import { DelayedMessageStore, type DelayedMessageCount } from './delayed/delayed-store.js';
import { delayedExchangeType } from './delayed/delayed-exchange-type.js';
import { QueueBroker, delayedStorageId, removeUnknownQueueFolders, type ReplicatedQueueStorage } from './queue-broker.js';
import { LogQueueStore } from './queue-store/queue-store.js';
import type { QueueStoreSettings } from './queue-store/queue-store-api.js';
import type { TopicAccess } from './streams/topic-access.js';

/** `topics`: the Kafka side, for stream queues and exchange-to-topic bindings (streams/). */
/**
 * `replicated`: in a cluster, where durable queues are kept (cluster/replicated-queues.ts), made
 * with queueStoreSettings below.
 */
export async function openQueueBroker(config: BrokerConfig, logger: Logger, topics?: TopicAccess, replicated?: ReplicatedQueueStorage): Promise<QueueBroker> {
  const amqpDirectory = join(config.dataDir, 'amqp');
  const queuesDirectory = join(amqpDirectory, 'queues');
  await mkdir(queuesDirectory, { recursive: true });
  const definitions = await openDefinitionsStore(config, logger);
  const known = new Set(definitions.definitions.queues.map((queue) => queue.storageId));
  const present = await readdir(queuesDirectory);
  if (config.etcdEndpoints === '') await removeUnknownQueueFolders(queuesDirectory, known, present, logger);
  else warnOfUnknownQueueFolders(known, present, logger);
  const delayedDirectory = join(amqpDirectory, 'delayed');
  await mkdir(delayedDirectory, { recursive: true });
  const knownDelayed = new Set(definitions.definitions.exchanges.filter((exchange) => exchange.type === delayedExchangeType).map((exchange) => delayedStorageId(exchange.virtualHost, exchange.name)));
  // Non-durable delayed exchanges (transient-…) end with the broker; so do folders of exchanges deleted in a crash.
  await removeUnknownQueueFolders(delayedDirectory, knownDelayed, await readdir(delayedDirectory), logger);
  const storeSettings = queueStoreSettings(config, logger);
  const delayedCount: DelayedMessageCount = { held: 0, max: config.amqp.maxDelayedMessages };
  const delayed = {
    directory: delayedDirectory,
    open: (directory: string, options: { readonly recover: boolean; readonly durable: boolean }) =>
      DelayedMessageStore.open(
        directory,
        // A delayed exchange keeps held messages in memory as a queue keeps ready ones, to the same bound.
        { logOptions: storeSettings.logOptions, logEnvironment: { logger, tailCacheBytes: 0 }, clock: systemClock, logger, count: delayedCount, maxBytesInMemory: config.amqp.maxReadyBytesInMemoryPerQueue },
        options,
      ),
  };
  return QueueBroker.open({ definitions, queuesDirectory, delayed, openConcurrency: config.partitionOpenConcurrency, ...(topics === undefined ? {} : { topics, streamsDirectory: amqpDirectory }), openDurableStore: (directory) => LogQueueStore.open(directory, { ...storeSettings, logger: logger.with({ queueStore: directory }) }), ...(replicated === undefined ? {} : { replicated }) }, logger, {
    maxQueues: config.amqp.maxQueues,
    maxExchanges: config.amqp.maxExchanges,
    maxBindings: config.amqp.maxBindings,
  });
}

/** How a durable queue's store keeps and reads its log (the log's own settings, flush policy, memory bound). */
export function queueStoreSettings(config: BrokerConfig, logger: Logger): QueueStoreSettings {
  return {
    logOptions: {
      segmentBytes: config.amqp.queueSegmentBytes,
      segmentMs: 7 * 24 * 60 * 60 * 1000,
      retentionMs: -1,
      retentionBytes: -1,
      indexIntervalBytes: 4096,
      flush: config.flush,
      flushIntervalMs: config.flushIntervalMs,
    },
    logEnvironment: { logger, tailCacheBytes: 0 },
    clock: systemClock,
    logger,
    maxReadyBytesInMemory: config.amqp.maxReadyBytesInMemoryPerQueue,
  };
}

/** The broker's own journal; in a cluster, the definitions the brokers share in etcd. */
async function openDefinitionsStore(config: BrokerConfig, logger: Logger): Promise<DefinitionsStore> {
  if (config.etcdEndpoints === '') {
    return JournaledDefinitionsStore.open(config.dataDir, { journalReserveBytes: config.metadataJournalReserveBytes, compactionMinBytes: config.metadataCompactionMinBytes }, logger);
  }
  // Loaded only in a cluster, as server/start.ts loads the cluster's join: a single broker never loads the etcd client.
  const { EtcdClusterStore } = await import('../cluster/etcd-cluster-store.js');
  const { EtcdDefinitionsStore } = await import('../cluster/etcd-definitions-store.js');
  const endpoints = config.etcdEndpoints.split(',').map((endpoint) => endpoint.trim());
  const store = new EtcdClusterStore({ endpoints, requestTimeoutMs: config.etcdRequestTimeoutMs });
  try {
    return await EtcdDefinitionsStore.open(store, logger, { waitMs: config.etcdRequestTimeoutMs, retryMs: 1000 });
  } catch (error) {
    store.close();
    // Worded as the cluster's join words it (cluster/join.ts): the first line, without gRPC's "Resolution note".
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/\s*Resolution note:\s*$/, '');
    throw new Error(`cannot join the cluster through etcd at ${endpoints.join(',')} (--etcd-endpoints): the shared AMQP definitions could not be read: ${reason}`, { cause: error });
  }
}

/**
 * In a cluster a queue folder no shared definition names is kept: it may hold the messages of a
 * queue this broker kept in its own definitions before they were shared (or of one deleted while it
 * was down, which an operator may then remove).
 */
function warnOfUnknownQueueFolders(known: ReadonlySet<string>, present: readonly string[], logger: Logger): void {
  const unknown = present.filter((folder) => !known.has(folder));
  if (unknown.length > 0) logger.warn('amqp queue folders that no shared definition names are kept', { folders: unknown.slice(0, 20).join(' '), count: unknown.length });
}
