/**
 * The cluster metadata journal (src/broker/metadata-journal.ts) and the store over it
 * (metadata-store.ts), on real files: records survive a reopen, a torn tail is dropped and zeroed,
 * sequences skip what the snapshot holds, compaction keeps every change, a format 1 snapshot is
 * migrated, dynamic configs (putConfigs) come back from the journal and from the snapshot beside
 * topics, and on a full file system (a small tmpfs; needs root) removals still go through the
 * reserve while additions are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalHeaderBytes, MetadataJournal, scanRecords } from '../../../src/broker/metadata-journal.js';
import { journalFileName, LocalMetadataStore, snapshotFileName } from '../../../src/broker/metadata-store.js';
import { createLogger } from '../../../src/logging/logger.js';
import { mountSmallFilesystem } from '../../helpers/small-filesystem.js';

const logger = createLogger('error', () => undefined);
const reserveBytes = 4096;

async function scratchDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'osprey-journal-'));
}

const payload = (text: string): Buffer => Buffer.from(text);
const texts = (payloads: Buffer[]): string[] => payloads.map((bytes) => bytes.toString());

test('records are durable in order across a reopen, and the file keeps its reserve of zeros', async () => {
  const directory = await scratchDirectory();
  try {
    const path = join(directory, 'journal');
    const { journal, payloads } = await MetadataJournal.open(path, reserveBytes, 0);
    assert.deepEqual(payloads, []);
    const applied: string[] = [];
    await Promise.all(['one', 'two', 'three'].map((text) => journal.append(payload(text), 'refill-first', () => applied.push(text))));
    assert.deepEqual(applied, ['one', 'two', 'three']);
    assert.equal(journal.lastSequence, 3);
    await journal.close();
    const size = (await stat(path)).size;
    assert.ok(size >= journalHeaderBytes + journal.recordBytes + reserveBytes, `file of ${size} bytes keeps the reserve`);

    const again = await MetadataJournal.open(path, reserveBytes, 0);
    assert.deepEqual(texts(again.payloads), ['one', 'two', 'three']);
    assert.equal(again.journal.lastSequence, 3);
    await again.journal.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('a torn last record is dropped and zeroed; later appends continue the sequence', async () => {
  const directory = await scratchDirectory();
  try {
    const path = join(directory, 'journal');
    const { journal } = await MetadataJournal.open(path, reserveBytes, 0);
    await journal.append(payload('kept'), 'refill-first', () => undefined);
    await journal.append(payload('torn by a crash'), 'refill-first', () => undefined);
    const tornAt = journalHeaderBytes + 16 + 'kept'.length;
    await journal.close();
    // Damage the second record's payload, as a write cut short would.
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from('XXXX'), 0, 4, tornAt + 16 + 3);
    await handle.close();

    const reopened = await MetadataJournal.open(path, reserveBytes, 0);
    assert.deepEqual(texts(reopened.payloads), ['kept']);
    const contents = await readFile(path);
    assert.ok(contents.subarray(tornAt).every((byte) => byte === 0), 'everything after the last good record is zeros');
    await reopened.journal.append(payload('after the crash'), 'refill-first', () => undefined);
    await reopened.journal.close();
    const scanned = scanRecords(await readFile(path), path);
    assert.deepEqual(scanned.records.map((record) => [record.sequence, record.payload.toString()]), [[1, 'kept'], [2, 'after the crash']]);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('records the snapshot already holds are skipped; a gap after it refuses to open', async () => {
  const directory = await scratchDirectory();
  try {
    const path = join(directory, 'journal');
    const { journal } = await MetadataJournal.open(path, reserveBytes, 0);
    for (const text of ['a', 'b', 'c']) await journal.append(payload(text), 'refill-first', () => undefined);
    await journal.close();
    const afterTwo = await MetadataJournal.open(path, reserveBytes, 2);
    assert.deepEqual(texts(afterTwo.payloads), ['c']);
    await afterTwo.journal.close();
    const everything = await MetadataJournal.open(path, reserveBytes, 3);
    assert.deepEqual(everything.payloads, []);
    assert.equal(everything.journal.lastSequence, 3);
    await everything.journal.close();
    // Records 1-3 cannot follow a snapshot that ends at 0 if the journal starts later: simulate by compaction.
    const compacting = await MetadataJournal.open(path, reserveBytes, 3);
    await compacting.journal.append(payload('d'), 'refill-first', () => undefined);
    await compacting.journal.compact(async () => undefined);
    await compacting.journal.append(payload('e'), 'refill-first', () => undefined);
    await compacting.journal.close();
    await assert.rejects(MetadataJournal.open(path, reserveBytes, 0), /records start at sequence 5, but the snapshot ends at 0/);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('the store applies changes only once durable, compacts into the snapshot, and reads it all back', async () => {
  const dataDir = await scratchDirectory();
  try {
    const settings = { journalReserveBytes: reserveBytes, compactionMinBytes: 1024 };
    const store = await LocalMetadataStore.open(dataDir, 'test-cluster', settings, logger);
    const topic = (index: number) => ({ id: index.toString(16).padStart(32, '0'), partitionCount: 1 + (index % 3), configs: { 'retention.ms': String(index) } });
    for (let index = 0; index < 200; index++) await store.putTopic(`topic-${index}`, topic(index));
    for (let index = 0; index < 200; index += 2) await store.removeTopic(`topic-${index}`);
    await store.close();
    const snapshot = JSON.parse(await readFile(join(dataDir, 'meta', snapshotFileName), 'utf8')) as { formatVersion: number; journalSequence: number };
    assert.equal(snapshot.formatVersion, 2);
    assert.ok(snapshot.journalSequence > 0, 'the journal was compacted at least once');

    const reopened = await LocalMetadataStore.open(dataDir, '', settings, logger);
    assert.equal(reopened.clusterId, 'test-cluster');
    const expected = Object.fromEntries(Array.from({ length: 100 }, (_, half) => 2 * half + 1).map((index) => [`topic-${index}`, topic(index)]));
    assert.deepEqual(reopened.topics, expected);
    await reopened.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('dynamic configs of resources come back from the journal and, after compaction, from the snapshot; {} removes them', async () => {
  const dataDir = await scratchDirectory();
  try {
    const settings = { journalReserveBytes: reserveBytes, compactionMinBytes: 1024 * 1024 };
    const store = await LocalMetadataStore.open(dataDir, 'test-cluster', settings, logger);
    await store.putTopic('orders', { id: 'cd'.repeat(16), partitionCount: 1, configs: {} });
    await store.putConfigs('broker:0', new Map([['log.retention.ms', '1000']]));
    await store.putConfigs('broker:', new Map([['log.cleanup.policy', 'compact']]));
    await store.putConfigs('group:payments', new Map([['consumer.heartbeat.interval.ms', '7000']]));
    await store.putConfigs('group:gone', new Map([['consumer.session.timeout.ms', '50000']]));
    await store.putConfigs('group:gone', new Map());
    await store.close();
    const before = JSON.parse(await readFile(join(dataDir, 'meta', snapshotFileName), 'utf8')) as Record<string, unknown>;
    assert.equal(before['configs'], undefined, 'nothing compacted yet: the journal holds them, the snapshot has no configs key');

    const reopened = await LocalMetadataStore.open(dataDir, '', { ...settings, compactionMinBytes: 1 }, logger);
    assert.deepEqual([...reopened.configs('broker:0')], [['log.retention.ms', '1000']]);
    assert.deepEqual([...reopened.configs('broker:')], [['log.cleanup.policy', 'compact']]);
    assert.deepEqual(reopened.configResources('group:'), ['group:payments']);
    await reopened.putTopic('audit', { id: 'ef'.repeat(16), partitionCount: 1, configs: {} }); // compacts (minimum 1 byte)
    await reopened.close();
    const after = JSON.parse(await readFile(join(dataDir, 'meta', snapshotFileName), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(after['configs'], { 'broker:0': { 'log.retention.ms': '1000' }, 'broker:': { 'log.cleanup.policy': 'compact' }, 'group:payments': { 'consumer.heartbeat.interval.ms': '7000' } });

    const third = await LocalMetadataStore.open(dataDir, '', settings, logger);
    assert.deepEqual([...third.configs('group:payments')], [['consumer.heartbeat.interval.ms', '7000']]);
    assert.deepEqual(Object.keys(third.topics).sort(), ['audit', 'orders']);
    await third.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a format 1 snapshot (the file alone) is migrated to format 2 with its topics', async () => {
  const dataDir = await scratchDirectory();
  try {
    const legacy = { formatVersion: 1, clusterId: 'legacy-cluster', topics: { orders: { id: 'ab'.repeat(16), partitionCount: 3, configs: { 'retention.ms': '1000' } } } };
    await mkdir(join(dataDir, 'meta'));
    await writeFile(join(dataDir, 'meta', snapshotFileName), JSON.stringify(legacy, null, 2));
    const store = await LocalMetadataStore.open(dataDir, '', { journalReserveBytes: reserveBytes, compactionMinBytes: 1024 }, logger);
    assert.equal(store.clusterId, 'legacy-cluster');
    assert.deepEqual(store.topics, legacy.topics);
    await store.close();
    const migrated = JSON.parse(await readFile(join(dataDir, 'meta', snapshotFileName), 'utf8')) as Record<string, unknown>;
    assert.equal(migrated['formatVersion'], 2);
    assert.equal(migrated['journalSequence'], 0);
    assert.deepEqual(migrated['topics'], legacy.topics);
    assert.ok((await stat(join(dataDir, 'meta', journalFileName))).size >= journalHeaderBytes);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('on a full file system removals go through the reserve and additions are refused (tmpfs, needs root)', async () => {
  const filesystem = mountSmallFilesystem(1024 * 1024);
  try {
    const path = filesystem.path('journal');
    const { journal } = await MetadataJournal.open(path, reserveBytes, 0);
    await journal.append(payload('{"topic":"before the disk filled"}'), 'refill-first', () => undefined);
    filesystem.fillUp('filler');
    // Additions go on while the space already allocated keeps a whole reserve behind them.
    const added: string[] = [];
    let refusal: unknown = null;
    for (let index = 0; index < 1000 && refusal === null; index++) {
      const text = `{"add":"topic-${index}"}`;
      await journal.append(payload(text), 'refill-first', () => added.push(text)).catch((error: unknown) => (refusal = error));
    }
    assert.match(String(refusal), /ENOSPC/);
    const removals = Array.from({ length: 20 }, (_, index) => `{"remove":"topic-${index}"}`);
    for (const text of removals) await journal.append(payload(text), 'may-use-reserve', () => undefined);
    await journal.close();
    const reopened = await MetadataJournal.open(path, reserveBytes, 0);
    assert.deepEqual(texts(reopened.payloads), ['{"topic":"before the disk filled"}', ...added, ...removals]);
    await reopened.journal.close();
  } finally {
    filesystem.unmount();
  }
});
