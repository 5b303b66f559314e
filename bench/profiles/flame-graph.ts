/**
 * Renders a V8 CPU profile (the `.cpuprofile` JSON that `node --cpu-prof` writes) as a flame graph
 * in one self-contained SVG (no script, no external file: it opens in any browser and on GitHub), and
 * lists the functions that cost most.
 *
 * A .cpuprofile is a call tree plus samples:
 *
 *   { nodes: [{ id, callFrame: { functionName, url, lineNumber, columnNumber }, children: [ids] }, …],
 *     startTime, endTime (µs), samples: [node id per sample], timeDeltas: [µs between samples] }
 *
 * Each sample names the node (a call path) that was on the CPU. A node's width in the graph is the
 * samples taken in it or in anything it called; the root is at the bottom, callees stack on top.
 * Idle samples (the event loop waiting) are left out, so the widths are shares of the busy time.
 */

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A node of the tree the graph draws: a call path with its samples. */
interface Frame {
  readonly name: string;
  readonly location: string;
  readonly kind: FrameKind;
  selfSamples: number;
  totalSamples: number;
  readonly children: Frame[];
}

type FrameKind = 'ours' | 'dependency' | 'node' | 'native' | 'gc';

const idleName = '(idle)';

/** `functionName file:line` with the path shortened to the part that says where it is. */
function locationOf(frame: CallFrame): string {
  if (frame.url === '') return '';
  const path = frame.url.replace(/^file:\/\//, '');
  const inProject = /\/(dist\/(?:src|bench|test)\/.*)$/.exec(path)?.[1];
  const inDependency = /\/node_modules\/(.*)$/.exec(path)?.[1];
  const short = inProject ?? (inDependency === undefined ? path : `node_modules/${inDependency}`);
  // A native frame from perf (perf-script.ts) has a place but no line.
  return frame.lineNumber < 0 ? short : `${short}:${frame.lineNumber + 1}`;
}

function kindOf(frame: CallFrame): FrameKind {
  if (frame.functionName === '(garbage collector)') return 'gc';
  if (frame.url.includes('/node_modules/')) return 'dependency';
  if (frame.url.includes('/dist/')) return 'ours';
  if (frame.url.startsWith('node:')) return 'node';
  return 'native';
}

/** The call tree with sample counts; idle samples dropped. Children sorted by name, so runs compare. */
function buildTree(profile: CpuProfile): { root: Frame; busySamples: number; allSamples: number } {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfById = new Map<number, number>();
  for (const id of profile.samples) selfById.set(id, (selfById.get(id) ?? 0) + 1);
  const rootNode = profile.nodes[0];
  if (rootNode === undefined) throw new Error('the profile has no nodes');
  const convert = (node: ProfileNode): Frame => {
    const frame: Frame = {
      name: node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName,
      location: locationOf(node.callFrame),
      kind: kindOf(node.callFrame),
      selfSamples: node.callFrame.functionName === idleName ? 0 : (selfById.get(node.id) ?? 0),
      totalSamples: 0,
      children: [],
    };
    for (const childId of node.children ?? []) {
      const child = byId.get(childId);
      if (child !== undefined) frame.children.push(convert(child));
    }
    frame.totalSamples = frame.selfSamples + frame.children.reduce((sum, child) => sum + child.totalSamples, 0);
    frame.children.sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0));
    return frame;
  };
  const root = convert(rootNode);
  return { root, busySamples: root.totalSamples, allSamples: profile.samples.length };
}

const keySeparator = '\u0000';

/**
 * The samples taken between `fromMicroseconds` and `toMicroseconds` (the profile's clock: on Linux
 * the monotonic clock that process.hrtime reads too, so another process can say when a workload
 * ran). The whole profile if the window holds no sample (another clock after all).
 */
export function windowOf(profile: CpuProfile, fromMicroseconds: number, toMicroseconds: number): CpuProfile {
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let time = profile.startTime;
  let previousKept = fromMicroseconds;
  for (let index = 0; index < profile.samples.length; index++) {
    time += profile.timeDeltas[index] ?? 0;
    if (time < fromMicroseconds || time > toMicroseconds) continue;
    samples.push(profile.samples[index]!);
    timeDeltas.push(time - previousKept);
    previousKept = time;
  }
  if (samples.length === 0) return profile;
  return { nodes: profile.nodes, startTime: fromMicroseconds, endTime: Math.min(toMicroseconds, profile.endTime), samples, timeDeltas };
}

export interface CostlyFunction {
  readonly name: string;
  readonly location: string;
  /** Share of the busy samples, 0..1. */
  readonly share: number;
}

/** The functions with the most samples of their own (self) and with everything they called (total). */
export function costliestFunctions(profile: CpuProfile, count: number): { self: CostlyFunction[]; total: CostlyFunction[]; busyShare: number; busyMs: number } {
  const { root, busySamples, allSamples } = buildTree(profile);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const walk = (frame: Frame, onPath: Set<string>): void => {
    const key = `${frame.name}${keySeparator}${frame.location}`;
    self.set(key, (self.get(key) ?? 0) + frame.selfSamples);
    // Recursion counts a function once per path.
    const first = !onPath.has(key);
    if (first) {
      total.set(key, (total.get(key) ?? 0) + frame.totalSamples);
      onPath.add(key);
    }
    for (const child of frame.children) walk(child, onPath);
    if (first) onPath.delete(key);
  };
  for (const child of root.children) walk(child, new Set());
  const ranked = (counts: Map<string, number>): CostlyFunction[] =>
    [...counts]
      .filter(([, samples]) => samples > 0)
      .sort((left, right) => right[1] - left[1] || (left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : 0))
      .slice(0, count)
      .map(([key, samples]) => {
        const [name = key, location = ''] = key.split(keySeparator);
        return { name, location, share: samples / Math.max(1, busySamples) };
      });
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  return { self: ranked(self), total: ranked(total), busyShare: busySamples / Math.max(1, allSamples), busyMs: (durationMs * busySamples) / Math.max(1, allSamples) };
}

const widthPixels = 1600;
const frameHeightPixels = 17;
const titleHeightPixels = 44;
const charWidthPixels = 6.6;

const colours: Record<FrameKind, readonly [number, number]> = {
  // hue ranges: warm for our code, green for dependencies, blue for Node's own JS, grey for V8/native, red for GC
  ours: [20, 45],
  dependency: [90, 130],
  node: [195, 225],
  native: [0, 0],
  gc: [355, 360],
};

/** A stable colour per function name within its kind's hue range. */
function colourOf(frame: Frame): string {
  let hash = 0;
  for (let index = 0; index < frame.name.length; index++) hash = (hash * 31 + frame.name.charCodeAt(index)) >>> 0;
  if (frame.kind === 'native') return `hsl(0, 0%, ${70 + (hash % 15)}%)`;
  const [low, high] = colours[frame.kind];
  return `hsl(${low + (hash % (high - low + 1))}, ${frame.kind === 'gc' ? 80 : 70}%, ${60 + (hash % 12)}%)`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The flame graph of `profile` as an SVG document. */
export function renderFlameGraph(profile: CpuProfile, title: string): string {
  const { root, busySamples, allSamples } = buildTree(profile);
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const busyMs = (durationMs * busySamples) / Math.max(1, allSamples);
  let depthMax = 0;
  const rectangles: string[] = [];
  const scale = widthPixels / Math.max(1, busySamples);
  const place = (frame: Frame, x: number, depth: number): void => {
    const width = frame.totalSamples * scale;
    if (width < 0.3) return;
    depthMax = Math.max(depthMax, depth);
    const share = frame.totalSamples / Math.max(1, busySamples);
    const label = `${frame.name}${frame.location === '' ? '' : ` ${frame.location}`}`;
    const tooltip = `${label}\n${(share * 100).toFixed(2)}% of busy time (${((busyMs * share) | 0).toString()} ms), self ${((frame.selfSamples / Math.max(1, busySamples)) * 100).toFixed(2)}%`;
    const fitting = Math.floor((width - 4) / charWidthPixels);
    const text = fitting >= 3 ? (label.length <= fitting ? label : `${label.slice(0, fitting - 1)}…`) : '';
    rectangles.push(
      `<g><title>${escapeXml(tooltip)}</title><rect x="${x.toFixed(2)}" y="DEPTH${depth}" width="${width.toFixed(2)}" height="${frameHeightPixels - 1}" fill="${colourOf(frame)}" rx="2"/>` +
        (text === '' ? '' : `<text x="${(x + 3).toFixed(2)}" y="TEXT${depth}">${escapeXml(text)}</text>`) +
        '</g>',
    );
    let childX = x;
    for (const child of frame.children) {
      place(child, childX, depth + 1);
      childX += child.totalSamples * scale;
    }
  };
  // The root ("(root)") is depth 0; its children (program, GC, event loop entries) stand on it.
  place(root, 0, 0);
  const heightPixels = titleHeightPixels + (depthMax + 1) * frameHeightPixels + 8;
  const yOf = (depth: number): number => heightPixels - 8 - (depth + 1) * frameHeightPixels;
  const body = rectangles
    .join('\n')
    .replace(/y="DEPTH(\d+)"/g, (_, depth: string) => `y="${yOf(Number(depth))}"`)
    .replace(/y="TEXT(\d+)"/g, (_, depth: string) => `y="${yOf(Number(depth)) + 12}"`);
  const subtitle = `${busySamples} busy samples of ${allSamples} (${((100 * busySamples) / Math.max(1, allSamples)).toFixed(1)}% of ${(durationMs / 1000).toFixed(1)} s; idle left out). Width: share of busy time. Hover for figures. Colours: orange our code, green dependencies, blue Node's JS, grey V8/native, red GC.`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPixels}" height="${heightPixels}" viewBox="0 0 ${widthPixels} ${heightPixels}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="8" y="18" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="8" y="36" fill="#555">${escapeXml(subtitle)}</text>`,
    body,
    `</svg>`,
    '',
  ].join('\n');
}
