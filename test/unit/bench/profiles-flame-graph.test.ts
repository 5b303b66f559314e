/**
 * The flame-graph renderer of `npm run profile` (bench/profiles/flame-graph.ts) on a small profile
 * built by hand: widths are shares of the busy samples (idle left out), callees stand on their
 * callers, the costliest-function lists count self and total samples, and a time window keeps only
 * the samples taken in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costliestFunctions, renderFlameGraph, windowOf, type CpuProfile } from '../../../bench/profiles/flame-graph.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

/**
 *   (root) ─┬─ (idle)                 4 samples
 *           ├─ read  (ours)           2 samples ── crc (ours) 4 samples
 *           └─ (garbage collector)    2 samples
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('read', 'file:///work/x/dist/src/storage/partition-log.js', 9), children: [4] },
    { id: 4, callFrame: frame('crc', 'file:///work/x/dist/src/protocol/kafka/batch-header.js', 129) },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  startTime: 1000,
  endTime: 13_000,
  samples: [2, 3, 4, 4, 2, 3, 4, 4, 5, 5, 2, 2],
  timeDeltas: Array.from({ length: 12 }, () => 1000),
};

test('costliest functions: shares of the busy samples, by self and by total time', () => {
  const costly = costliestFunctions(profile, 10);
  assert.equal(costly.busyShare, 8 / 12);
  assert.deepEqual(
    costly.self.map((entry) => [entry.name, entry.location, entry.share]),
    [
      ['crc', 'dist/src/protocol/kafka/batch-header.js:130', 0.5],
      ['(garbage collector)', '', 0.25],
      ['read', 'dist/src/storage/partition-log.js:10', 0.25],
    ],
  );
  assert.deepEqual(costly.total[0], { name: 'read', location: 'dist/src/storage/partition-log.js:10', share: 0.75 });
});

test('the SVG draws each frame as wide as its share, callees on top of their callers, idle left out', () => {
  const svg = renderFlameGraph(profile, 'a <test>');
  assert.match(svg, /^<\?xml/);
  assert.ok(svg.includes('a &lt;test&gt;'), 'the title is escaped');
  assert.ok(!svg.includes('(idle)'), 'idle is not drawn');
  const box = (name: string) => {
    const match = new RegExp(`<title>${name.replace(/[()]/g, '\\$&')}[^<]*</title><rect x="([\\d.]+)" y="(\\d+)" width="([\\d.]+)"`).exec(svg);
    assert.ok(match !== null, `${name} is drawn`);
    return { x: Number(match[1]), y: Number(match[2]), width: Number(match[3]) };
  };
  const root = box('(root)');
  const read = box('read');
  const crc = box('crc');
  const collector = box('(garbage collector)');
  assert.equal(root.width, 1600);
  assert.equal(read.width, 1200);
  assert.equal(crc.width, 800);
  assert.equal(collector.width, 400);
  assert.ok(crc.y < read.y && read.y < root.y, 'the root at the bottom, callees above');
  assert.equal(collector.y, read.y);
});

test('a window keeps the samples taken in it', () => {
  // Samples are at 2000, 3000, … 13000: [4500, 8500] holds those at 5000 … 8000 (nodes 4, 2, 3, 4).
  const part = windowOf(profile, 4500, 8500);
  assert.deepEqual(part.samples, [4, 2, 3, 4]);
  assert.equal(costliestFunctions(part, 5).busyShare, 3 / 4);
  assert.equal(windowOf(profile, 50_000, 60_000), profile, 'no sample in the window: the whole profile');
});
