/**
 * Cluster metadata of a single broker without etcd: the cluster id and the topics (id, partition
 * count, config overrides), kept in `<dataDir>/meta/cluster-metadata.json`.
 *
 *     { "formatVersion": 1,
 *       "clusterId": "base64url, 22 chars",
 *       "topics": { "<name>": { "id": "<32 hex>", "partitionCount": 3, "configs": { "retention.ms": "1000" } } } }
 *
 * Every change rewrites the file atomically (temporary file, fsync, rename, fsync of the folder), so
 * a crash leaves either the old or the new state, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export interface StoredTopic {
  id: string;
  partitionCount: number;
  configs: Record<string, string>;
}

export interface StoredMetadata {
  formatVersion: 1;
  clusterId: string;
  topics: Record<string, StoredTopic>;
}

const fileName = 'cluster-metadata.json';

export class LocalMetadataStore {
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly directory: string,
    private state: StoredMetadata,
  ) {}

  static async open(dataDir: string, configuredClusterId: string): Promise<LocalMetadataStore> {
    const directory = join(dataDir, 'meta');
    await fs.mkdir(directory, { recursive: true });
    const path = join(directory, fileName);
    let state: StoredMetadata;
    try {
      state = parseMetadata(await fs.readFile(path, 'utf8'), path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      state = { formatVersion: 1, clusterId: configuredClusterId || randomBytes(16).toString('base64url'), topics: {} };
    }
    if (configuredClusterId !== '' && configuredClusterId !== state.clusterId) {
      throw new Error(`data directory belongs to cluster ${state.clusterId}, but clusterId is configured as ${configuredClusterId}`);
    }
    const store = new LocalMetadataStore(directory, state);
    await store.save();
    return store;
  }

  get clusterId(): string {
    return this.state.clusterId;
  }

  get topics(): Readonly<Record<string, StoredTopic>> {
    return this.state.topics;
  }

  async putTopic(name: string, topic: StoredTopic): Promise<void> {
    this.state.topics[name] = topic;
    await this.save();
  }

  async removeTopic(name: string): Promise<void> {
    delete this.state.topics[name];
    await this.save();
  }

  /** Saves are chained so two changes never write the temporary file at once. */
  private save(): Promise<void> {
    const next = this.saving.then(() => this.writeFile());
    this.saving = next.catch(() => undefined);
    return next;
  }

  private async writeFile(): Promise<void> {
    const path = join(this.directory, fileName);
    const temporary = `${path}.tmp`;
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(this.state, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, path);
    const folder = await fs.open(this.directory, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}

function parseMetadata(text: string, path: string): StoredMetadata {
  const parsed = JSON.parse(text) as Partial<StoredMetadata>;
  if (parsed.formatVersion !== 1 || typeof parsed.clusterId !== 'string' || typeof parsed.topics !== 'object' || parsed.topics === null) {
    throw new Error(`${path}: not a cluster metadata file of format version 1`);
  }
  return parsed as StoredMetadata;
}
