/**
 * LeaderEpochCache (storage/leader-epoch-cache.ts): epochs and their start offsets follow appends,
 * truncation at either end, OffsetForLeaderEpoch's answers (KIP-101, KIP-279), and the file format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEntries, encodeEntries, LeaderEpochCache, leaderEpochFileName, readLeaderEpochFile } from '../../../src/storage/leader-epoch-cache.js';
import { withTempDirectory } from './batch-fixtures.js';

test('assign adds an entry only for a larger epoch; truncation from the end drops epochs starting at or past the new end', () => {
  const cache = new LeaderEpochCache('/nowhere');
  assert.equal(cache.latestEpoch, -1);
  assert.equal(cache.assign(0, 0), true);
  assert.equal(cache.assign(0, 5), false, 'the same epoch goes on');
  assert.equal(cache.assign(2, 10), true);
  assert.equal(cache.assign(1, 12), false, 'an older epoch after a newer one changes nothing');
  assert.equal(cache.assign(5, 20), true);
  assert.equal(cache.assign(-1, 30), false, 'no epoch (a batch from before epochs) changes nothing');
  assert.deepEqual(cache.all, [{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }, { epoch: 5, startOffset: 20 }]);
  assert.equal(cache.latestEpoch, 5);

  assert.equal(cache.truncateFromEnd(25), false, 'a cut inside the latest epoch keeps it');
  assert.equal(cache.truncateFromEnd(20), true, 'a cut at an epoch\'s start drops it');
  assert.deepEqual(cache.all, [{ epoch: 0, startOffset: 0 }, { epoch: 2, startOffset: 10 }]);
  assert.equal(cache.truncateFromEnd(3), true);
  assert.deepEqual(cache.all, [{ epoch: 0, startOffset: 0 }]);
  assert.equal(cache.truncateFromEnd(0), true);
  assert.deepEqual(cache.all, []);
  cache.invariants();
});

test('truncation from the start drops epochs wholly below the new start and moves the one holding it', () => {
  const cache = new LeaderEpochCache('/nowhere', [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 10 },
    { epoch: 5, startOffset: 20 },
  ]);
  assert.equal(cache.truncateFromStart(0), false);
  assert.equal(cache.truncateFromStart(4), true);
  assert.deepEqual(cache.all, [{ epoch: 0, startOffset: 4 }, { epoch: 2, startOffset: 10 }, { epoch: 5, startOffset: 20 }]);
  assert.equal(cache.truncateFromStart(10), true, 'epoch 0 ended before offset 10');
  assert.deepEqual(cache.all, [{ epoch: 2, startOffset: 10 }, { epoch: 5, startOffset: 20 }]);
  assert.equal(cache.truncateFromStart(25), true);
  assert.deepEqual(cache.all, [{ epoch: 5, startOffset: 25 }]);
  assert.equal(cache.truncateFromStart(25), false);
  cache.invariants();
});

test('endOffsetFor answers as OffsetForLeaderEpoch does: the latest epoch ends at the log end, older ones where the next starts', () => {
  const cache = new LeaderEpochCache('/nowhere', [
    { epoch: 1, startOffset: 3 },
    { epoch: 3, startOffset: 10 },
    { epoch: 6, startOffset: 20 },
  ]);
  const logEndOffset = 27;
  assert.deepEqual(cache.endOffsetFor(6, logEndOffset), { epoch: 6, endOffset: 27 });
  assert.deepEqual(cache.endOffsetFor(3, logEndOffset), { epoch: 3, endOffset: 20 });
  assert.deepEqual(cache.endOffsetFor(4, logEndOffset), { epoch: 3, endOffset: 20 }, 'an epoch the log lacks: the largest smaller one');
  assert.deepEqual(cache.endOffsetFor(1, logEndOffset), { epoch: 1, endOffset: 10 });
  assert.deepEqual(cache.endOffsetFor(0, logEndOffset), { epoch: 0, endOffset: 3 }, 'older than every known epoch: it ends where the first known one starts');
  assert.deepEqual(cache.endOffsetFor(7, logEndOffset), { epoch: -1, endOffset: -1 }, 'newer than every known epoch: undefined');
  assert.deepEqual(cache.endOffsetFor(-1, logEndOffset), { epoch: -1, endOffset: -1 });
  // A leader in epoch 9 with no batch of it yet: epoch 9 starts at the log end.
  assert.deepEqual(cache.endOffsetFor(9, logEndOffset, 9), { epoch: 9, endOffset: 27 });
  assert.deepEqual(cache.endOffsetFor(7, logEndOffset, 9), { epoch: 6, endOffset: 27 }, 'epoch 6 ends where the leader\'s epoch 9 begins');
  assert.deepEqual(cache.endOffsetFor(6, logEndOffset, 9), { epoch: 6, endOffset: 27 });
  assert.deepEqual(cache.endOffsetFor(10, logEndOffset, 9), { epoch: -1, endOffset: -1 });
  const empty = new LeaderEpochCache('/nowhere');
  assert.deepEqual(empty.endOffsetFor(0, 0), { epoch: -1, endOffset: -1 }, 'nothing known');
  assert.deepEqual(empty.endOffsetFor(0, 0, 0), { epoch: 0, endOffset: 0 }, 'a single broker\'s epoch 0 on an empty log');
});

test('the checkpoint file: version, count, one "epoch offset" line each; written atomically; bad files are refused', async () => {
  await withTempDirectory(async (directory) => {
    await mkdir(directory, { recursive: true });
    const cache = new LeaderEpochCache(directory, [{ epoch: 0, startOffset: 0 }]);
    cache.assign(4, 17);
    await Promise.all([cache.persist(), cache.persist()]); // overlapping writes are serialised
    assert.equal(await readFile(join(directory, leaderEpochFileName), 'utf8'), '1\n2\n0 0\n4 17\n');
    assert.deepEqual(await readLeaderEpochFile(directory), [{ epoch: 0, startOffset: 0 }, { epoch: 4, startOffset: 17 }]);
    assert.equal(encodeEntries([]), '1\n0\n');
    assert.deepEqual(decodeEntries('1\n0\n'), []);
    for (const bad of ['2\n0\n', '1\n1\n', '1\n2\n0 0\n', '1\n1\n0 0', '1\n1\n0 x\n', '1\n2\n3 0\n2 5\n', '1\n2\n1 9\n2 5\n', '1\n1\n-1 0\n']) {
      assert.equal(typeof decodeEntries(bad), 'string', `refused: ${JSON.stringify(bad)}`);
    }
    await writeFile(join(directory, leaderEpochFileName), 'garbage');
    assert.equal(typeof (await readLeaderEpochFile(directory)), 'string');
    assert.equal(await readLeaderEpochFile(join(directory, 'missing')), null);
  });
});
