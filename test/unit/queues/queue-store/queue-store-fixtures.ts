import { cpSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, LogFields } from '../../../../src/logging/logger.js';
import type { LogOptions } from '../../../../src/storage/partition-log.js';
import type { SyncFile } from '../../../../src/storage/segment.js';
import type { QueueStore, QueueStoreSettings } from '../../../../src/queues/queue-store/queue-store-api.js';
import { LogQueueStore, type LogQueueStoreTuning } from '../../../../src/queues/queue-store/queue-store.js';
import type { QueuedMessage, StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { ManualClock, logOptions, seededRandom } from '../../storage/batch-fixtures.js';

export { seededRandom };

/** A logger that keeps its lines, so tests stay quiet and can look at warnings. */
export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; message: string; fields: LogFields | undefined }> = [];
  debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, fields });
  }
  with(): Logger {
    return this;
  }
}

export function storeSettings(overrides: { log?: Partial<LogOptions>; maxReadyBytesInMemory?: number; logger?: Logger; syncFile?: SyncFile } = {}): QueueStoreSettings {
  return {
    logOptions: logOptions({ segmentBytes: 64 * 1024, ...overrides.log }),
    logEnvironment: overrides.syncFile === undefined ? {} : { syncFile: overrides.syncFile },
    clock: new ManualClock(),
    logger: overrides.logger ?? new RecordingLogger(),
    maxReadyBytesInMemory: overrides.maxReadyBytesInMemory ?? 1024 * 1024,
  };
}

export async function openStore(directory: string, overrides: Parameters<typeof storeSettings>[0] = {}, tuning: LogQueueStoreTuning = {}): Promise<LogQueueStore> {
  return LogQueueStore.open(directory, storeSettings(overrides), tuning);
}

export async function withTempQueue<T>(work: (directory: string, root: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'osprey-queue-'));
  try {
    return await work(join(root, 'queue'), root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The folder as it is on disk now, copied (a crash image: what a power cut would leave, given what was fsynced). */
export async function copyFolder(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true });
}

/** The same, synchronously: nothing the store has scheduled runs before the copy is complete. */
export function copyFolderNow(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

export function testMessage(index: number, overrides: Partial<StoredMessage> = {}): StoredMessage {
  return {
    exchange: 'amq.direct',
    routingKey: `key-${index}`,
    properties: Buffer.from([0x10, 0x00, 0x02]),
    body: Buffer.from(`body-${index}`),
    persistent: true,
    publishedAtMs: 1_765_000_000_000 + index,
    expiresAtMs: null,
    ...overrides,
  };
}

/** The index a testMessage body carries. */
export function indexOf(message: QueuedMessage): number {
  return Number(message.message.body.toString().slice('body-'.length));
}

/** Takes every message takeNext gives now (without waiting for reads). */
export function takeAvailable(store: LogQueueStore): QueuedMessage[] {
  const taken: QueuedMessage[] = [];
  for (let next = store.takeNext(); next !== null; next = store.takeNext()) taken.push(next);
  return taken;
}

/** Takes `count` messages, waiting for the onReady call whenever takeNext has to read from disk. */
export async function takeMessages(store: QueueStore, count: number, onReadyCalls: { count: number } = { count: 0 }): Promise<QueuedMessage[]> {
  const taken: QueuedMessage[] = [];
  let wake: (() => void) | null = null;
  store.onReady(() => {
    onReadyCalls.count++;
    const waiting = wake;
    wake = null;
    waiting?.();
  });
  while (taken.length < count) {
    const next = store.takeNext();
    if (next !== null) {
      taken.push(next);
      continue;
    }
    // takeNext returned null: the store is reading, and says so through onReady when done.
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  return taken;
}

/** One open store at a time (replaced at each reopen) and the wait for its onReady: the random model tests' driver. */
export class StoreHarness<Store extends QueueStore> {
  private wake: (() => void) | null = null;
  /** How often takeNext returned null while messages were ready (reading from disk, a level opening). */
  static waits = 0;
  readonly taken = new Map<number, QueuedMessage>();

  constructor(public store: Store) {
    this.listen();
  }

  replace(store: Store): void {
    this.store = store;
    this.taken.clear();
    this.listen();
  }

  /** takeNext, waiting for onReady while the store reads. */
  async take(expectSomething: boolean): Promise<QueuedMessage | null> {
    for (;;) {
      const next = this.store.takeNext();
      if (next !== null || !expectSomething) return next;
      StoreHarness.waits++;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private listen(): void {
    const store = this.store;
    store.onReady(() => {
      if (this.store !== store) return;
      const wake = this.wake;
      this.wake = null;
      wake?.();
    });
  }
}
