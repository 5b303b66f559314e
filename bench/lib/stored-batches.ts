/**
 * How many record batches and records an Osprey topic holds on disk, read straight from its
 * segment files (<data dir>/<topic>-<partition>/*.log, record batches back to back as on the wire;
 * see src/storage/segment.ts). A produce request carries one batch per partition and the broker
 * stores it as it came, so records per stored batch is records per partition per produce request:
 * what the scaling rows need to show whether a client's window fills its requests.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { partitionDirectoryName } from '../../src/broker/broker.js';
import { batchHeaderBytes, batchTotalBytes, readRecordsCount } from '../../src/protocol/kafka/batch-header.js';

export interface StoredBatches {
  readonly batches: number;
  readonly records: number;
}

/** Batches and records in the segment files of `partitions` partitions of `topic` (0 when a folder is missing). */
export async function countStoredBatches(dataDir: string, topic: string, partitions: number): Promise<StoredBatches> {
  let batches = 0;
  let records = 0;
  for (let partition = 0; partition < partitions; partition += 1) {
    const directory = join(dataDir, partitionDirectoryName(topic, partition));
    const names = await readdir(directory).catch(() => [] as string[]);
    for (const name of names.filter((entry) => entry.endsWith('.log'))) {
      const bytes = await readFile(join(directory, name));
      // A batch still being written at the end of the file (or zeros past the end) is left out.
      for (let at = 0; at + batchHeaderBytes <= bytes.length;) {
        const total = batchTotalBytes(bytes, at);
        if (total < batchHeaderBytes || at + total > bytes.length) break;
        batches += 1;
        records += readRecordsCount(bytes, at);
        at += total;
      }
    }
  }
  return { batches, records };
}
