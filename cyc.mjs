import { PartitionLog } from './dist/src/storage/partition-log.js';
import { Journal } from './dist/src/storage/journal.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
const fixture = await import('./dist/test/unit/storage/batch-fixtures.js');
const batch = () => fixture.simpleBatch(100, { valueBytes: 100 });
const n = Number(process.argv[2] ?? 2000);
async function run(label, useJournal) {
  const dir = mkdtempSync('/work/wt-journal/.build/cyc-');
  const journal = useJournal ? await Journal.open(dir, { acceptsWrites: true, fileBytes: 64 << 20, maxBytes: 1 << 30 }) : undefined;
  const log = await PartitionLog.create(join(dir, 't-0'), fixture.logOptions({ segmentBytes: 1 << 30 }), undefined, journal ? { journal } : {});
  for (let i = 0; i < 200; i++) await log.append(batch()).durable;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await log.append(batch()).durable;
  const us = Number(process.hrtime.bigint() - t) / n / 1000;
  await log.close(); await journal?.close(); rmSync(dir, { recursive: true, force: true });
  return us;
}
async function raw() {
  const dir = mkdtempSync('/work/wt-journal/.build/cyc-');
  const h = await open(join(dir, 'f'), 'w+'); const b = batch(); let pos = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) { await h.writev([b], pos); pos += b.length; await h.datasync(); }
  const us = Number(process.hrtime.bigint() - t) / n / 1000;
  await h.close(); rmSync(dir, { recursive: true, force: true }); return us;
}
for (let r = 0; r < 2; r++) console.log(`raw writev+fdatasync ${(await raw()).toFixed(0)} us | log no journal ${(await run('seg', false)).toFixed(0)} us | log + journal ${(await run('j', true)).toFixed(0)} us`);
