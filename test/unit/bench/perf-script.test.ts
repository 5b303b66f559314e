/**
 * `npm run profile -- --perf`: Linux perf's samples (the text `perf script -F tid,time,ip,sym,dso`
 * prints) turned into the profile the flame-graph renderer draws (bench/profiles/perf-script.ts).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { costliestFunctions, renderFlameGraph, type CpuProfile } from '../../../bench/profiles/flame-graph.js';
import { parsePerfScript } from '../../../bench/profiles/perf-script.js';

const mainTid = 100;

/** Four samples: two of the main thread in our JavaScript, one of a thread-pool write in the kernel, one of a GC worker. */
const script = [
  '     100 50.000100: ',
  '\t         155f96b Builtins_LoadIC (/usr/bin/node)',
  '\t    7f686c11391c JS:*appendBatch file:///w/dist/src/broker/produce.js:185:34 (/tmp/perf-100.map)',
  '\t    7f686c117a2c JS:^onFrame file:///w/dist/src/server/kafka/connection.js:234:12 (/tmp/perf-100.map)',
  '\t          14ac8a7 uv_run (/usr/bin/node)',
  '',
  '     100 50.000200: ',
  '\t    7f686c11391c JS:*appendBatch file:///w/dist/src/broker/produce.js:185:34 (/tmp/perf-100.map)',
  '\t    7f686c117a2c JS:^onFrame file:///w/dist/src/server/kafka/connection.js:234:12 (/tmp/perf-100.map)',
  '\t          14ac8a7 uv_run (/usr/bin/node)',
  '',
  '     105 50.000300: ',
  '\tffffffff81ba4f70 copy_folio_from_iter_atomic ([kernel.kallsyms])',
  '\tffffffff816dd9c3 __x64_sys_pwrite64 ([kernel.kallsyms])',
  '\t           f64c7 __libc_pwrite (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  '\t         14a7b40 worker (/usr/bin/node)',
  '\t           891f5 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  '',
  '     107 50.000400: ',
  '\t          d9b687 v8::internal::ScavengerCollector::JobTask::ConcurrentScavengePages (/usr/bin/node)',
  '\t          d9d465 v8::internal::Scavenger::ScavengePage (/usr/bin/node)',
  '\t         195b578 v8::platform::DefaultJobWorker::Run (/usr/bin/node)',
  '\t           891f5 start_thread (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  '',
].join('\n');

function names(profile: CpuProfile, id: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const path: string[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) path.unshift(byId.get(at)!.callFrame.functionName);
  return path;
}

test('each sample becomes a stack under its kind of thread, outermost first; JS frames keep file and line', () => {
  const profile = parsePerfScript(script, mainTid, 1000);
  assert.equal(profile.samples.length, 4);
  assert.deepEqual(names(profile, profile.samples[0]!), ['(root)', 'main thread (event loop)', 'uv_run', 'onFrame', 'appendBatch', 'Builtins_LoadIC']);
  assert.deepEqual(names(profile, profile.samples[1]!), ['(root)', 'main thread (event loop)', 'uv_run', 'onFrame', 'appendBatch']);
  assert.deepEqual(names(profile, profile.samples[2]!), ['(root)', 'libuv thread pool (fs, dns, zlib)', 'start_thread', 'worker', '__libc_pwrite', '__x64_sys_pwrite64', 'copy_folio_from_iter_atomic']);
  // The collector's nested frames are one "(garbage collector)" frame, which the renderer colours as such.
  assert.deepEqual(names(profile, profile.samples[3]!), ['(root)', 'V8 workers (garbage collector, compiler)', 'start_thread', 'v8::platform::DefaultJobWorker::Run', '(garbage collector)']);
  const appendBatch = profile.nodes.find((node) => node.callFrame.functionName === 'appendBatch')!;
  assert.equal(appendBatch.callFrame.url, 'file:///w/dist/src/broker/produce.js');
  assert.equal(appendBatch.callFrame.lineNumber, 184);
  assert.equal(profile.nodes.filter((node) => node.callFrame.functionName === 'appendBatch').length, 1, 'the same path is one node');
  const kernel = profile.nodes.find((node) => node.callFrame.functionName === 'copy_folio_from_iter_atomic')!;
  assert.equal(kernel.callFrame.url, '[kernel]');
  // Time is CPU time: one sample interval each, whichever thread.
  assert.equal(profile.endTime - profile.startTime, 4000);
});

test('shares are of all threads\' CPU samples, and the graph renders them', () => {
  const profile = parsePerfScript(script, mainTid, 1000);
  const costly = costliestFunctions(profile, 10);
  assert.equal(costly.busyShare, 1);
  assert.equal(costly.busyMs, 4);
  assert.deepEqual(costly.total.find((entry) => entry.name === 'appendBatch'), { name: 'appendBatch', location: 'dist/src/broker/produce.js:185', share: 0.5 });
  assert.deepEqual(costly.self.find((entry) => entry.name === 'copy_folio_from_iter_atomic'), { name: 'copy_folio_from_iter_atomic', location: '[kernel]', share: 0.25 });
  const svg = renderFlameGraph(profile, 'perf');
  assert.ok(svg.includes('libuv thread pool'));
});

test('a window keeps only the samples taken in it', () => {
  const profile = parsePerfScript(script, mainTid, 1000, { fromMicroseconds: 50_000_150, toMicroseconds: 50_000_350 });
  assert.equal(profile.samples.length, 2);
  assert.deepEqual(names(profile, profile.samples[0]!).slice(0, 2), ['(root)', 'main thread (event loop)']);
  assert.deepEqual(names(profile, profile.samples[1]!).slice(0, 2), ['(root)', 'libuv thread pool (fs, dns, zlib)']);
});
