/** Shared by the definitions store tests: a scratch data directory and definitions to store. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyFieldTable, type FieldTable, type FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { JournaledDefinitionsStore, type DefinitionsStoreSettings } from '../../../../src/queues/definitions/definitions-store.js';
import type { BindingDefinition, ExchangeDefinition, QueueDefinition } from '../../../../src/queues/definitions/definitions.js';
import { createLogger } from '../../../../src/logging/logger.js';

export const logger = createLogger('error', () => undefined);
/** Compaction off (a journal never grows this large in a test) unless a test asks for it. */
export const settings: DefinitionsStoreSettings = { journalReserveBytes: 4096, compactionMinBytes: 1 << 30 };

/** Runs `body` with a fresh data directory, removed afterwards. */
export async function withDataDirectory(body: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'osprey-definitions-'));
  try {
    await body(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Opens the store, runs `body`, closes it whatever happens. */
export async function withStore<Result>(dataDir: string, body: (store: JournaledDefinitionsStore) => Promise<Result>, storeSettings = settings): Promise<Result> {
  const store = await JournaledDefinitionsStore.open(dataDir, storeSettings, logger);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

export function exchange(name: string, fields: Partial<ExchangeDefinition> = {}): ExchangeDefinition {
  return { virtualHost: '/', name, type: 'direct', autoDelete: false, internal: false, arguments: emptyFieldTable(), ...fields };
}

export function queue(name: string, fields: Partial<QueueDefinition> = {}): QueueDefinition {
  return { virtualHost: '/', name, storageId: `storage-${name}`, autoDelete: false, arguments: emptyFieldTable(), ...fields };
}

export function binding(source: string, destination: string, fields: Partial<BindingDefinition> = {}): BindingDefinition {
  return { virtualHost: '/', source, destinationKind: 'queue', destination, routingKey: '', arguments: emptyFieldTable(), ...fields };
}

export function table(entries: Record<string, FieldValue>): FieldTable {
  return new Map(Object.entries(entries));
}
