/**
 * Cluster metadata of a single broker without etcd: the cluster id, the topics (id, partition
 * count, config overrides) and the dynamic configs of other resources (the broker's, groups'),
 * kept in `<dataDir>/meta/` as a snapshot and a journal of the changes made since
 * (metadata-journal.ts):
 *
 *   cluster-metadata.json      the snapshot, replaced atomically (temporary file, fsync, rename,
 *                              fsync of the folder):
 *       { "formatVersion": 2,
 *         "clusterId": "base64url, 22 chars",
 *         "journalSequence": 41,       ← the last journal record this snapshot holds
 *         "topics": { "<name>": { "id": "<32 hex>", "partitionCount": 3, "configs": { "retention.ms": "1000" } } },
 *         "configs": { "broker:0": { "log.retention.ms": "1000" }, "broker:": {…}, "group:<id>": {…} } }
 *                                      ↑ absent when there are none (brokers before it ignore the key)
 *
 *   cluster-metadata.journal   one record per change after it, each payload one of:
 *       { "change": "putTopic", "name": "<name>", "topic": { "id": …, "partitionCount": …, "configs": {…} } }
 *       { "change": "removeTopic", "name": "<name>" }
 *       { "change": "putConfigs", "resource": "broker:0", "configs": { "log.retention.ms": "1000" } }
 *                                 ↑ broker:<node id>, broker: (cluster-wide default) or group:<group id>;
 *                                   the resource's whole set of dynamic configs; {} removes it
 *
 * A change is applied here only once its record is durable, so memory never runs ahead of the disk.
 * When the journal holds more bytes than the last snapshot (and at least `compactionMinBytes`), the
 * state is written as a new snapshot and the journal cleared: a change costs O(1) amortised, not a
 * rewrite of every topic. Format version 1 (the snapshot alone, no journalSequence, rewritten on every
 * change) is migrated on open by writing a version 2 snapshot, which older brokers refuse to read
 * rather than miss the journal.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { MetadataJournal } from './metadata-journal.js';
import { readSnapshotText, removeTemporaryFiles, writeSnapshotText } from './snapshot-file.js';

export interface StoredTopic {
  id: string;
  partitionCount: number;
  configs: Record<string, string>;
}

interface SnapshotV2 {
  formatVersion: 2;
  clusterId: string;
  journalSequence: number;
  topics: Record<string, StoredTopic>;
  /** Dynamic configs by resource (`broker:<id>`, `broker:`, `group:<id>`); absent when empty. */
  configs?: Record<string, Record<string, string>>;
}

type Change =
  | { change: 'putTopic'; name: string; topic: StoredTopic }
  | { change: 'removeTopic'; name: string }
  | { change: 'putConfigs'; resource: string; configs: Record<string, string> };

/** What the store holds besides the cluster id; changes apply to it. */
interface State {
  readonly topics: Map<string, StoredTopic>;
  readonly configs: Map<string, Record<string, string>>;
}

export interface MetadataStoreSettings {
  /** Zeros kept ahead of the journal's records, so topics can be deleted on a full disk. */
  readonly journalReserveBytes: number;
  /** The journal is compacted into a snapshot once larger than this and than the last snapshot. */
  readonly compactionMinBytes: number;
}

export const snapshotFileName = 'cluster-metadata.json';
export const journalFileName = 'cluster-metadata.journal';
const currentFormatVersion = 2;

export class LocalMetadataStore {
  private readonly topicMap: Map<string, StoredTopic>;
  private readonly configMap: Map<string, Record<string, string>>;
  private snapshotBytes: number;
  private compacting: Promise<void> | null = null;

  private constructor(
    private readonly directory: string,
    readonly clusterId: string,
    state: State,
    snapshotBytes: number,
    private readonly journal: MetadataJournal,
    private readonly settings: MetadataStoreSettings,
    private readonly logger: Logger,
  ) {
    this.topicMap = state.topics;
    this.configMap = state.configs;
    this.snapshotBytes = snapshotBytes;
  }

  static async open(dataDir: string, configuredClusterId: string, settings: MetadataStoreSettings, logger: Logger): Promise<LocalMetadataStore> {
    const directory = join(dataDir, 'meta');
    await fs.mkdir(directory, { recursive: true });
    await removeTemporaryFiles(directory, [snapshotFileName, journalFileName]);
    const loaded = await readSnapshot(directory);
    const snapshot = loaded ?? { formatVersion: 2, clusterId: configuredClusterId || randomBytes(16).toString('base64url'), journalSequence: 0, topics: {}, configs: {} };
    if (configuredClusterId !== '' && configuredClusterId !== snapshot.clusterId) {
      throw new Error(`data directory belongs to cluster ${snapshot.clusterId}, but clusterId is configured as ${configuredClusterId}`);
    }
    const { journal, payloads } = await MetadataJournal.open(join(directory, journalFileName), settings.journalReserveBytes, snapshot.journalSequence);
    const state: State = { topics: new Map(Object.entries(snapshot.topics)), configs: new Map(Object.entries(snapshot.configs ?? {})) };
    const topics = state.topics;
    for (const payload of payloads) applyChange(state, parseChange(payload, journal.path));
    let snapshotBytes = loaded?.bytes ?? 0;
    if (loaded === null || loaded.formatVersion !== currentFormatVersion) {
      snapshotBytes = await writeSnapshot(directory, snapshotOf(snapshot.clusterId, journal.lastSequence, state));
      if (loaded !== null) logger.info('cluster metadata migrated', { fromFormatVersion: loaded.formatVersion, toFormatVersion: currentFormatVersion, topics: topics.size });
    }
    if (payloads.length > 0) logger.info('cluster metadata journal replayed', { changes: payloads.length, topics: topics.size });
    return new LocalMetadataStore(directory, snapshot.clusterId, state, snapshotBytes, journal, settings, logger);
  }

  /** Every topic, as a new object (read once, at start-up). */
  get topics(): Readonly<Record<string, StoredTopic>> {
    return Object.fromEntries(this.topicMap);
  }

  /** The dynamic configs of a resource (`broker:<id>`, `broker:`, `group:<id>`), as a new map. */
  configs(resource: string): Map<string, string> {
    return new Map(Object.entries(this.configMap.get(resource) ?? {}));
  }

  /** Every resource holding dynamic configs whose key starts with `prefix` (e.g. `group:`). */
  configResources(prefix: string): string[] {
    return [...this.configMap.keys()].filter((resource) => resource.startsWith(prefix));
  }

  /** Records a resource's whole set of dynamic configs (empty removes it); needs the journal's full reserve. */
  putConfigs(resource: string, configs: ReadonlyMap<string, string>): Promise<void> {
    return this.record({ change: 'putConfigs', resource, configs: Object.fromEntries(configs) }, 'refill-first');
  }

  /** Bytes of changes in the journal since the last compaction. */
  get journalBytes(): number {
    return this.journal.recordBytes;
  }

  /** Records a new or changed topic; needs the journal's full reserve (refused on a full disk). */
  putTopic(name: string, topic: StoredTopic): Promise<void> {
    return this.record({ change: 'putTopic', name, topic }, 'refill-first');
  }

  /** Records a topic's removal; may use the journal's reserve, so it works on a full disk. */
  removeTopic(name: string): Promise<void> {
    return this.record({ change: 'removeTopic', name }, 'may-use-reserve');
  }

  /** Waits for a compaction in progress, then closes the journal. */
  async close(): Promise<void> {
    await this.compacting;
    await this.journal.close();
  }

  private async record(change: Change, reserveUse: 'refill-first' | 'may-use-reserve'): Promise<void> {
    await this.journal.append(Buffer.from(JSON.stringify(change)), reserveUse, () => applyChange({ topics: this.topicMap, configs: this.configMap }, change));
    this.maybeCompact();
  }

  private maybeCompact(): void {
    const journalBytes = this.journal.recordBytes;
    if (this.compacting !== null || journalBytes < this.settings.compactionMinBytes || journalBytes < this.snapshotBytes) return;
    this.compacting = this.journal
      .compact(async (lastSequence) => {
        this.snapshotBytes = await writeSnapshot(this.directory, snapshotOf(this.clusterId, lastSequence, { topics: this.topicMap, configs: this.configMap }));
      })
      .then(
        () => this.logger.debug('cluster metadata journal compacted', { journalBytes, snapshotBytes: this.snapshotBytes, topics: this.topicMap.size }),
        // The journal still holds every change; compaction is tried again once it has grown as much again.
        (error: unknown) => {
          this.snapshotBytes = journalBytes + this.settings.compactionMinBytes;
          this.logger.warn('cluster metadata compaction failed; the journal keeps growing until it succeeds', { error: String(error) });
        },
      )
      .finally(() => {
        this.compacting = null;
      });
  }
}

function snapshotOf(clusterId: string, journalSequence: number, state: State): SnapshotV2 {
  const snapshot: SnapshotV2 = { formatVersion: 2, clusterId, journalSequence, topics: Object.fromEntries(state.topics) };
  if (state.configs.size > 0) snapshot.configs = Object.fromEntries(state.configs);
  return snapshot;
}

function applyChange(state: State, change: Change): void {
  if (change.change === 'putTopic') state.topics.set(change.name, change.topic);
  else if (change.change === 'removeTopic') state.topics.delete(change.name);
  else if (Object.keys(change.configs).length === 0) state.configs.delete(change.resource);
  else state.configs.set(change.resource, change.configs);
}

function parseChange(payload: Buffer, path: string): Change {
  const parsed = JSON.parse(payload.toString('utf8')) as { change?: unknown; name?: unknown; topic?: Partial<StoredTopic>; resource?: unknown; configs?: unknown };
  if (typeof parsed.name === 'string' && parsed.change === 'removeTopic') return { change: 'removeTopic', name: parsed.name };
  if (typeof parsed.name === 'string' && parsed.change === 'putTopic' && isStoredTopic(parsed.topic)) return { change: 'putTopic', name: parsed.name, topic: parsed.topic };
  if (typeof parsed.resource === 'string' && parsed.change === 'putConfigs' && isStringRecord(parsed.configs)) return { change: 'putConfigs', resource: parsed.resource, configs: parsed.configs };
  throw new Error(`${path}: unreadable change ${payload.toString('utf8').slice(0, 200)}`);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'string');
}

function isStoredTopic(topic: Partial<StoredTopic> | undefined): topic is StoredTopic {
  return topic !== undefined && typeof topic.id === 'string' && Number.isSafeInteger(topic.partitionCount) && typeof topic.configs === 'object' && topic.configs !== null;
}

/** The snapshot, in either format version; null when there is none yet. */
/** A snapshot as read: format 1 has no journal sequence (0). */
type LoadedSnapshot = Omit<SnapshotV2, 'formatVersion'> & { formatVersion: 1 | 2; bytes: number };

async function readSnapshot(directory: string): Promise<LoadedSnapshot | null> {
  const path = join(directory, snapshotFileName);
  const text = await readSnapshotText(path);
  if (text === null) return null;
  const parsed = JSON.parse(text) as { formatVersion?: unknown; clusterId?: unknown; journalSequence?: unknown; topics?: unknown; configs?: unknown };
  const formatVersion = parsed.formatVersion;
  const journalSequence = formatVersion === 1 ? 0 : parsed.journalSequence;
  if ((formatVersion !== 1 && formatVersion !== 2) || typeof parsed.clusterId !== 'string' || typeof parsed.topics !== 'object' || parsed.topics === null || !Number.isSafeInteger(journalSequence)) {
    throw new Error(`${path}: not a cluster metadata snapshot of format version 1 or 2`);
  }
  const configs = parsed.configs === undefined ? {} : (parsed.configs as Record<string, Record<string, string>>);
  return { formatVersion, clusterId: parsed.clusterId, journalSequence: journalSequence as number, topics: parsed.topics as Record<string, StoredTopic>, configs, bytes: Buffer.byteLength(text) };
}

/** Writes the snapshot atomically; returns its size. */
function writeSnapshot(directory: string, snapshot: SnapshotV2): Promise<number> {
  return writeSnapshotText(directory, snapshotFileName, JSON.stringify(snapshot));
}
