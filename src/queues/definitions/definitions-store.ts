/**
 * The AMQP definitions kept durably in `<dataDir>/amqp/`, as a snapshot and a journal of the changes
 * made since (the journal of the cluster metadata, broker/metadata-journal.ts, reused as is):
 *
 *   definitions.json       the snapshot, replaced atomically (broker/snapshot-file.ts):
 *       { "formatVersion": 1,
 *         "journalSequence": 17,             ← the last journal record this snapshot holds
 *         "virtualHosts": ["/"],
 *         "exchanges": [ { "virtualHost": "/", "name": "logs", "type": "topic", "autoDelete": false,
 *                          "internal": false, "arguments": "<base64 field table>" } ],
 *         "queues":    [ { "virtualHost": "/", "name": "q", "storageId": "…", "autoDelete": false,
 *                          "arguments": "…" } ],
 *         "bindings":  [ { "virtualHost": "/", "source": "logs", "destinationKind": "queue",
 *                          "destination": "q", "routingKey": "a.#", "arguments": "…" } ],
 *         "policies":  [ { "virtualHost": "/", "name": "limits", "pattern": "^orders\\.",
 *                          "applyTo": "queues", "priority": 0, "definition": { "max-length": 1000 } } ] }
 *       ("policies" is absent from snapshots written before policies existed: read as none)
 *
 *   definitions.journal    one record per change after it, each payload one of:
 *       { "change": "putVirtualHost" | "removeVirtualHost", "name": … }
 *       { "change": "putExchange", "exchange": { …as in the snapshot } }
 *       { "change": "removeExchange" | "removeQueue", "virtualHost": …, "name": … }
 *       { "change": "putQueue", "queue": { … } }
 *       { "change": "putBinding" | "removeBinding", "binding": { … } }
 *       { "change": "putPolicy", "policy": { …as in the snapshot } }
 *       { "change": "removePolicy", "virtualHost": …, "name": … }
 *
 * "arguments" is base64 of the field table's AMQP wire encoding, size included
 * (protocol/amqp/field-table.ts). The rules of the state (keys, cascades) are in
 * definitions-state.ts.
 *
 * A change is applied in memory only once its record is durable. Removals may write into the
 * journal's reserve (they are how space is freed); additions first make sure the reserve is whole.
 * When the journal holds more bytes than the last snapshot (and at least `compactionMinBytes`), the
 * state is written as a new snapshot and the journal cleared. A new store is written at once with
 * the virtual host "/" (RabbitMQ's default), so removing "/" is remembered like any change.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { MetadataJournal, type ReserveUse } from '../../broker/metadata-journal.js';
import { readSnapshotText, removeTemporaryFiles, writeSnapshotText } from '../../broker/snapshot-file.js';
import type { Logger } from '../../logging/logger.js';
import type { BindingDefinition, Definitions, DefinitionsStore, ExchangeDefinition, PolicyRecord, QueueDefinition } from './definitions.js';
import {
  checkBindingNames,
  checkName,
  checkNames,
  DefinitionsState,
  isPolicyRecord,
  isStoredBinding,
  isStoredExchange,
  isStoredQueue,
  parseChange,
  storedBinding,
  storedExchange,
  storedPolicy,
  storedQueue,
  type DefinitionChange,
  type StoredDefinitions,
} from './definitions-state.js';

export interface DefinitionsStoreSettings {
  /** Zeros kept ahead of the journal's records, so definitions can be removed on a full disk. */
  readonly journalReserveBytes: number;
  /** The journal is compacted into a snapshot once larger than this and than the last snapshot. */
  readonly compactionMinBytes: number;
}

export const definitionsDirectoryName = 'amqp';
export const snapshotFileName = 'definitions.json';
export const journalFileName = 'definitions.journal';
export const defaultVirtualHost = '/';
const currentFormatVersion = 1;

interface Snapshot extends StoredDefinitions {
  readonly formatVersion: 1;
  readonly journalSequence: number;
}

export class JournaledDefinitionsStore implements DefinitionsStore {
  private snapshotBytes: number;
  private compacting: Promise<void> | null = null;

  private constructor(
    private readonly directory: string,
    private readonly state: DefinitionsState,
    snapshotBytes: number,
    private readonly journal: MetadataJournal,
    private readonly settings: DefinitionsStoreSettings,
    private readonly logger: Logger,
  ) {
    this.snapshotBytes = snapshotBytes;
  }

  static async open(dataDir: string, settings: DefinitionsStoreSettings, logger: Logger): Promise<JournaledDefinitionsStore> {
    const directory = join(dataDir, definitionsDirectoryName);
    await fs.mkdir(directory, { recursive: true });
    await removeTemporaryFiles(directory, [snapshotFileName, journalFileName]);
    const loaded = await readSnapshot(directory);
    const snapshot: Snapshot = loaded ?? { formatVersion: 1, journalSequence: 0, virtualHosts: [defaultVirtualHost], exchanges: [], queues: [], bindings: [], policies: [] };
    const { journal, payloads } = await MetadataJournal.open(join(directory, journalFileName), settings.journalReserveBytes, snapshot.journalSequence);
    try {
      const state = new DefinitionsState(snapshot);
      for (const payload of payloads) state.apply(parseChange(payload, journal.path));
      let snapshotBytes = loaded?.bytes ?? 0;
      if (loaded === null) snapshotBytes = await writeSnapshot(directory, journal.lastSequence, state);
      if (payloads.length > 0) logger.info('AMQP definitions journal replayed', { changes: payloads.length });
      return new JournaledDefinitionsStore(directory, state, snapshotBytes, journal, settings, logger);
    } catch (error) {
      await journal.close();
      throw error;
    }
  }

  /** Everything stored, as new arrays; every change whose promise resolved is in it. */
  get definitions(): Definitions {
    return this.state.definitions;
  }

  /** Bytes of changes in the journal since the last compaction. */
  get journalBytes(): number {
    return this.journal.recordBytes;
  }

  async putVirtualHost(name: string): Promise<void> {
    checkName('virtual host name', name);
    await this.record({ change: 'putVirtualHost', name }, 'refill-first');
  }

  async removeVirtualHost(name: string): Promise<void> {
    checkName('virtual host name', name);
    await this.record({ change: 'removeVirtualHost', name }, 'may-use-reserve');
  }

  async putExchange(definition: ExchangeDefinition): Promise<void> {
    checkNames(definition.virtualHost, ['exchange name', definition.name], ['exchange type', definition.type]);
    await this.record({ change: 'putExchange', exchange: storedExchange(definition) }, 'refill-first');
  }

  async removeExchange(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['exchange name', name]);
    await this.record({ change: 'removeExchange', virtualHost, name }, 'may-use-reserve');
  }

  async putQueue(definition: QueueDefinition): Promise<void> {
    checkNames(definition.virtualHost, ['queue name', definition.name], ['queue storage id', definition.storageId]);
    await this.record({ change: 'putQueue', queue: storedQueue(definition) }, 'refill-first');
  }

  async removeQueue(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['queue name', name]);
    await this.record({ change: 'removeQueue', virtualHost, name }, 'may-use-reserve');
  }

  async putBinding(definition: BindingDefinition): Promise<void> {
    checkBindingNames(definition);
    await this.record({ change: 'putBinding', binding: storedBinding(definition) }, 'refill-first');
  }

  async removeBinding(definition: BindingDefinition): Promise<void> {
    checkBindingNames(definition);
    await this.record({ change: 'removeBinding', binding: storedBinding(definition) }, 'may-use-reserve');
  }

  async putPolicy(record: PolicyRecord): Promise<void> {
    checkNames(record.virtualHost, ['policy name', record.name]);
    await this.record({ change: 'putPolicy', policy: storedPolicy(record) }, 'refill-first');
  }

  async removePolicy(virtualHost: string, name: string): Promise<void> {
    checkNames(virtualHost, ['policy name', name]);
    await this.record({ change: 'removePolicy', virtualHost, name }, 'may-use-reserve');
  }

  /** Waits for a compaction in progress, then closes the journal. */
  async close(): Promise<void> {
    await this.compacting;
    await this.journal.close();
  }

  /**
   * Writes the change, then applies it. A put into a virtual host that does not exist is refused
   * before it is written; one whose host is removed by a change written just before it stays in the
   * journal, is refused here and is refused the same way when the journal is replayed.
   */
  private async record(change: DefinitionChange, reserveUse: ReserveUse): Promise<void> {
    const virtualHost = virtualHostPutInto(change);
    if (virtualHost !== null && !this.state.hasVirtualHost(virtualHost)) throw new Error(`virtual host ${JSON.stringify(virtualHost)} does not exist`);
    let applied = true;
    await this.journal.append(Buffer.from(JSON.stringify(change)), reserveUse, () => {
      applied = this.state.apply(change);
    });
    this.maybeCompact();
    if (!applied) throw new Error(`virtual host ${JSON.stringify(virtualHost)} was removed before the change was applied`);
  }

  private maybeCompact(): void {
    const journalBytes = this.journal.recordBytes;
    if (this.compacting !== null || journalBytes < this.settings.compactionMinBytes || journalBytes < this.snapshotBytes) return;
    this.compacting = this.journal
      .compact(async (lastSequence) => {
        this.snapshotBytes = await writeSnapshot(this.directory, lastSequence, this.state);
      })
      .then(
        () => this.logger.debug('AMQP definitions journal compacted', { journalBytes, snapshotBytes: this.snapshotBytes }),
        // The journal still holds every change; compaction is tried again once it has grown as much again.
        (error: unknown) => {
          this.snapshotBytes = journalBytes + this.settings.compactionMinBytes;
          this.logger.warn('AMQP definitions compaction failed; the journal keeps growing until it succeeds', { error: String(error) });
        },
      )
      .finally(() => {
        this.compacting = null;
      });
  }
}

function virtualHostPutInto(change: DefinitionChange): string | null {
  if (change.change === 'putExchange') return change.exchange.virtualHost;
  if (change.change === 'putQueue') return change.queue.virtualHost;
  if (change.change === 'putBinding') return change.binding.virtualHost;
  if (change.change === 'putPolicy') return change.policy.virtualHost;
  return null;
}

async function readSnapshot(directory: string): Promise<(Snapshot & { bytes: number }) | null> {
  const path = join(directory, snapshotFileName);
  const text = await readSnapshotText(path);
  if (text === null) return null;
  const parsed = JSON.parse(text) as Partial<Record<keyof Snapshot, unknown>>;
  const { virtualHosts, exchanges, queues, bindings, journalSequence } = parsed;
  const policies = parsed.policies ?? [];
  if (
    parsed.formatVersion !== currentFormatVersion ||
    typeof journalSequence !== 'number' ||
    !Number.isSafeInteger(journalSequence) ||
    !isArrayOf(virtualHosts, (name): name is string => typeof name === 'string') ||
    !isArrayOf(exchanges, isStoredExchange) ||
    !isArrayOf(queues, isStoredQueue) ||
    !isArrayOf(bindings, isStoredBinding) ||
    !isArrayOf(policies, isPolicyRecord)
  ) {
    throw new Error(`${path}: not an AMQP definitions snapshot of format version ${currentFormatVersion}`);
  }
  return { formatVersion: currentFormatVersion, journalSequence, virtualHosts, exchanges, queues, bindings, policies: policies.map(storedPolicy), bytes: Buffer.byteLength(text) };
}

function isArrayOf<Element>(value: unknown, isElement: (element: unknown) => element is Element): value is Element[] {
  return Array.isArray(value) && value.every((element) => isElement(element));
}

/** Writes the state as the snapshot up to `journalSequence`; returns its size. */
function writeSnapshot(directory: string, journalSequence: number, state: DefinitionsState): Promise<number> {
  const snapshot: Snapshot = { formatVersion: currentFormatVersion, journalSequence, ...state.stored };
  return writeSnapshotText(directory, snapshotFileName, JSON.stringify(snapshot));
}
