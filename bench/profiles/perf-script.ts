/**
 * Linux `perf` samples of a broker as a CPU profile the flame-graph renderer draws (flame-graph.ts),
 * for `npm run profile -- --perf`.
 *
 * Why a second kind of profile: V8's own (`--cpu-prof`) samples only the main thread and counts wall
 * time: a sample taken while the thread is off the CPU (preempted on a busy machine, say right after
 * it woke a thread-pool thread) is charged to the function it was in. On 2026-12-06 a produce
 * profile at 64 partitions put 14.6 % of the busy time in `writeBuffers` (handing a writev to the
 * thread pool), where perf measured 2.4 % of the process's CPU there. perf counts only time on the
 * CPU, for every thread of the process (the libuv thread pool doing the writes and fsyncs, V8's
 * garbage-collector and compiler threads) and inside the kernel (system calls, TCP).
 *
 * Input: `perf script -F tid,time,ip,sym,dso` over `perf record -g -k CLOCK_MONOTONIC`, of a node
 * started with `--perf-basic-prof-only-functions` (so JavaScript frames have names):
 *
 *   node 27557 33096.609513:                    ← header: tid, time in seconds (monotonic clock)
 *           155f96b Builtins_GetProperty (/usr/bin/node)                          ← innermost frame
 *      7f686c11391c JS:*handle file:///…/dist/src/server/kafka/handlers/produce.js:64:17 (/tmp/perf-27557.map)
 *           …
 *           2724a __libc_start_call_main (/usr/lib/x86_64-linux-gnu/libc.so.6)    ← outermost frame
 *                                               ← a blank line ends the sample
 *
 * Output: one tree whose root has a child per kind of thread (main thread, libuv thread pool, V8
 * workers, other), so the graph shows how the process's CPU is split between them, then the
 * stacks outermost first. JavaScript frames keep their file and line (the renderer colours ours,
 * dependencies and Node's own by it); native frames get the library as their location, kernel
 * frames `[kernel]`; V8's collector frames are named as the renderer's garbage-collector kind.
 */
import type { CallFrame, CpuProfile, ProfileNode } from './flame-graph.js';

/** The thread kinds the root is split into; `mainTid` is the process id (its first thread). */
function threadKind(tid: number, mainTid: number, frames: readonly string[]): string {
  if (tid === mainTid) return 'main thread (event loop)';
  if (frames.some((line) => /\bworker \(/.test(line) || line.includes('uv__work'))) return 'libuv thread pool (fs, dns, zlib)';
  if (frames.some((line) => line.includes('v8::platform') || line.includes('PlatformWorkerThread'))) return 'V8 workers (garbage collector, compiler)';
  return 'other threads';
}

const garbageCollectorFrame = /^v8::internal::(Heap|Scavenger|ScavengerCollector|MarkCompactCollector|MinorMarkCompactCollector|ConcurrentMarking|IncrementalMarking|Sweeper|MarkingVisitorBase|MainMarkingVisitor|ConcurrentMarkingVisitor|MarkingWorklists|Evacuat|PointersUpdating|RememberedSet|GlobalHandles|MemoryAllocator)/;

/** One line of a stack: `ip symbol (dso)` → the call frame it stands for. */
function callFrameOf(line: string): CallFrame {
  const match = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/.exec(line);
  const symbol = match?.[1] ?? line.trim();
  const dso = match?.[2] ?? '';
  // JS:*name url:line:column (optimized *, baseline ^, interpreted ~), as --perf-basic-prof names them.
  const script = /^JS:[*^~]?(\S*) (\S+):(\d+):(\d+)$/.exec(symbol);
  if (script !== null) {
    return { functionName: script[1] ?? '', url: script[2]!, lineNumber: Number(script[3]) - 1, columnNumber: Number(script[4]) - 1 };
  }
  const name = symbol === '[unknown]' ? `[unknown in ${dso.split('/').at(-1) ?? '?'}]` : symbol.replace(/\+0x[0-9a-f]+$/, '');
  if (garbageCollectorFrame.test(name)) return { functionName: '(garbage collector)', url: '', lineNumber: -1, columnNumber: -1 };
  return { functionName: name, url: dso.includes('kernel') ? '[kernel]' : '', lineNumber: -1, columnNumber: -1 };
}

/** Which samples to keep: those taken from `fromMicroseconds` to `toMicroseconds` (perf's clock). */
export interface PerfWindow {
  readonly fromMicroseconds: number;
  readonly toMicroseconds: number;
}

/**
 * Parses `perf script` output (see above) into a profile. Its time is CPU time: each sample stands
 * for `sampleMicroseconds` (1 / perf's frequency) one after the other, whatever thread took it, so
 * the renderer's "ms" are milliseconds on the CPU (several threads' samples fall in the same
 * millisecond of wall time).
 */
export function parsePerfScript(text: string, mainTid: number, sampleMicroseconds: number, window?: PerfWindow): CpuProfile {
  const nodes: Array<{ id: number; callFrame: CallFrame; children: number[] }> = [];
  const childByKey = new Map<string, number>();
  const node = (parentId: number | null, callFrame: CallFrame): number => {
    const key = `${parentId ?? ''}\u0000${callFrame.functionName}\u0000${callFrame.url}\u0000${callFrame.lineNumber}`;
    const existing = childByKey.get(key);
    if (existing !== undefined) return existing;
    const id = nodes.length + 1;
    nodes.push({ id, callFrame, children: [] });
    if (parentId !== null) nodes[parentId - 1]!.children.push(id);
    childByKey.set(key, id);
    return id;
  };
  const rootId = node(null, { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 });
  const samples: number[] = [];
  let header: { tid: number; timeMicroseconds: number } | null = null;
  // Samples are kept in the order perf wrote them (by thread and time; the order matters to no one).
  let frames: string[] = [];
  const finishSample = () => {
    if (header === null) return;
    const stack = frames.map(callFrameOf);
    // Within one sample, a collector frame that calls collector frames is one frame: the graph shows "(garbage collector)" once.
    let id = node(rootId, { functionName: threadKind(header.tid, mainTid, frames), url: '', lineNumber: -1, columnNumber: -1 });
    let previous: CallFrame | null = null;
    for (let index = stack.length - 1; index >= 0; index--) {
      const callFrame = stack[index]!;
      if (previous !== null && previous.functionName === '(garbage collector)' && callFrame.functionName === '(garbage collector)') continue;
      id = node(id, callFrame);
      previous = callFrame;
    }
    const inWindow = window === undefined || (header.timeMicroseconds >= window.fromMicroseconds && header.timeMicroseconds <= window.toMicroseconds);
    if (inWindow) samples.push(id);
    header = null;
    frames = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      finishSample();
      continue;
    }
    // Frames are indented with a tab; a header is not.
    const start = line.startsWith('\t') ? null : /(\d+)\s+(\d+\.\d+):/.exec(line);
    if (start !== null) {
      finishSample();
      header = { tid: Number(start[1]), timeMicroseconds: Math.round(Number(start[2]) * 1e6) };
      continue;
    }
    if (header !== null) frames.push(line);
  }
  finishSample();
  const profileNodes: ProfileNode[] = nodes.map((entry) => ({ id: entry.id, callFrame: entry.callFrame, children: entry.children }));
  return { nodes: profileNodes, startTime: 0, endTime: samples.length * sampleMicroseconds, samples, timeDeltas: samples.map(() => sampleMicroseconds) };
}
