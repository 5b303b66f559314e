/**
 * The AMQP definitions store across what happens to its files: compaction into a new snapshot (and
 * changes after it) read back on reopen; a last journal record torn by a crash is ignored; a
 * leftover temporary snapshot is removed; field tables (nested tables and arrays, every value type)
 * come back byte for byte, checked against bytes encoded by amqplib.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanRecords } from '../../../../src/broker/metadata-journal.js';
import { readFieldTable, writeFieldTable, type FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import { Reader } from '../../../../src/protocol/wire/reader.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';
import { journalFileName, snapshotFileName } from '../../../../src/queues/definitions/definitions-store.js';
import type { Definitions } from '../../../../src/queues/definitions/definitions.js';
import { amqplibEncodeTable } from '../../protocol/amqp/amqplib-oracle.js';
import { fieldTable, seededRandom } from '../../protocol/amqp/random-values.js';
import { binding, exchange, queue, settings, table, withDataDirectory, withStore } from './store-helpers.js';

const compactingSettings = { ...settings, compactionMinBytes: 300 };

function encode(fieldTableToEncode: FieldTable): Buffer {
  const writer = new Writer();
  writeFieldTable(writer, fieldTableToEncode);
  return writer.toBuffer();
}

async function readSnapshot(dataDir: string): Promise<{ journalSequence: number; exchanges: unknown[] }> {
  return JSON.parse(await readFile(join(dataDir, 'amqp', snapshotFileName), 'utf8')) as { journalSequence: number; exchanges: unknown[] };
}

test('compaction writes the state as a snapshot and clears the journal; a reopen reads the snapshot and the changes after it', async () => {
  await withDataDirectory(async (dataDir) => {
    let before: Definitions | undefined;
    await withStore(
      dataDir,
      async (store) => {
        for (let index = 0; index < 40; index++) {
          await store.putExchange(exchange(`exchange-${index}`));
          await store.putQueue(queue(`queue-${index}`));
          await store.putBinding(binding(`exchange-${index}`, `queue-${index}`, { routingKey: `key-${index}` }));
          if (index % 3 === 0) await store.removeQueue('/', `queue-${index}`);
        }
        before = store.definitions;
      },
      compactingSettings,
    );
    const snapshot = await readSnapshot(dataDir);
    assert.ok(snapshot.journalSequence > 100, `the snapshot covers the journal up to ${snapshot.journalSequence}`);
    assert.ok(snapshot.exchanges.length > 30);
    const journal = await readFile(join(dataDir, 'amqp', journalFileName));
    const records = scanRecords(journal, journalFileName).records;
    assert.ok(records.length < 40, `${records.length} records left after compactions`);
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions, before), compactingSettings);
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions, before, 'read the same without compaction'));
  });
});

test('a crash between writing the snapshot and clearing the journal replays nothing twice', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putExchange(exchange('kept'));
      await store.removeExchange('/', 'kept');
      await store.putExchange(exchange('kept', { type: 'fanout' }));
    });
    // Copy the journal aside, compact (snapshot written, journal cleared), then put the old journal back.
    const journalPath = join(dataDir, 'amqp', journalFileName);
    const uncompacted = await readFile(journalPath);
    await withStore(dataDir, async (store) => store.putQueue(queue('q')), { ...settings, compactionMinBytes: 1 });
    assert.equal((await readSnapshot(dataDir)).journalSequence, 4);
    await writeFile(journalPath, uncompacted);
    await withStore(dataDir, async (store) => {
      assert.deepEqual(store.definitions.exchanges.map((each) => each.type), ['fanout']);
      assert.deepEqual(store.definitions.queues.map((each) => each.name), ['q']);
    });
  });
});

test('a last journal record torn by a crash is ignored; the store goes on from the record before it', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => {
      await store.putExchange(exchange('first'));
      await store.putExchange(exchange('second'));
      await store.putExchange(exchange('torn'));
    });
    const journalPath = join(dataDir, 'amqp', journalFileName);
    const { records, endPosition } = scanRecords(await readFile(journalPath), journalFileName);
    assert.equal(records.length, 3);
    const lastRecordBytes = 16 + records[2]!.payload.length;
    await truncate(journalPath, endPosition - Math.floor(lastRecordBytes / 2)); // mid-payload, the reserve gone too
    await withStore(dataDir, async (store) => {
      assert.deepEqual(store.definitions.exchanges.map((each) => each.name), ['first', 'second']);
      await store.putExchange(exchange('after'));
    });
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions.exchanges.map((each) => each.name), ['first', 'second', 'after']));
  });
});

test('a temporary snapshot left by a crash is removed and the real one read', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async (store) => store.putQueue(queue('q')), { ...settings, compactionMinBytes: 1 });
    const temporaryPath = join(dataDir, 'amqp', `${snapshotFileName}.tmp`);
    await writeFile(temporaryPath, '{"formatVersion": 1, "journ');
    await withStore(dataDir, async (store) => assert.deepEqual(store.definitions.queues.map((each) => each.name), ['q']));
    await assert.rejects(readFile(temporaryPath), { code: 'ENOENT' });
  });
});

test('a snapshot in a format this broker does not know is refused, not silently replaced', async () => {
  await withDataDirectory(async (dataDir) => {
    await withStore(dataDir, async () => undefined);
    const path = join(dataDir, 'amqp', snapshotFileName);
    await writeFile(path, JSON.stringify({ ...(await readSnapshot(dataDir)), formatVersion: 2 }));
    await assert.rejects(withStore(dataDir, async () => undefined), /not an AMQP definitions snapshot of format version 1/);
  });
});

test('arguments with nested tables and arrays come back byte for byte, from the journal and from a snapshot', async () => {
  const declared = table({
    'x-match': { type: 'longString', value: Buffer.from('any') },
    'x-message-ttl': { type: 'int32', value: 60_000 },
    nested: {
      type: 'table',
      value: table({
        deeper: { type: 'table', value: table({ flag: { type: 'boolean', value: true }, when: { type: 'timestamp', value: 1_700_000_000n } }) },
        list: { type: 'array', value: [{ type: 'int64', value: -5n }, { type: 'decimal', scale: 2, unscaledValue: 314 }, { type: 'array', value: [{ type: 'void' }] }] },
        raw: { type: 'bytes', value: Buffer.from([0, 255, 1, 254]) },
      }),
    },
  });
  const golden = amqplibEncodeTable(declared); // bytes as another codec writes them
  const reader = new Reader(golden);
  const fromWire = readFieldTable(reader);
  assert.equal(reader.remaining, 0);
  const random = seededRandom(11);
  const randomTables = Array.from({ length: 20 }, () => fieldTable(random));

  for (const compactionMinBytes of [1 << 30, 1]) {
    await withDataDirectory(async (dataDir) => {
      const storeSettings = { ...settings, compactionMinBytes };
      await withStore(
        dataDir,
        async (store) => {
          await store.putExchange(exchange('headers', { type: 'headers', arguments: fromWire }));
          await store.putQueue(queue('q', { arguments: fromWire }));
          await store.putBinding(binding('headers', 'q', { arguments: fromWire }));
          for (const [index, randomTable] of randomTables.entries()) await store.putQueue(queue(`random-${index}`, { arguments: randomTable }));
        },
        storeSettings,
      );
      await withStore(dataDir, async (store) => {
        const { exchanges, queues, bindings } = store.definitions;
        for (const stored of [exchanges[0]!.arguments, queues[0]!.arguments, bindings[0]!.arguments]) {
          assert.deepEqual(encode(stored), golden, `compactionMinBytes ${compactionMinBytes}: the declared bytes`);
          assert.deepEqual(stored, declared);
        }
        for (const [index, randomTable] of randomTables.entries()) {
          const stored = queues.find((each) => each.name === `random-${index}`)!.arguments;
          assert.deepEqual(encode(stored), encode(randomTable), `random table ${index}`);
          assert.deepEqual(stored, randomTable);
        }
      });
    });
  }
});
