/**
 * Sets of message versions, and the `version` tests the generated code makes between them.
 *
 * The emitter knows at each point of a generated function which versions can reach it (its
 * context: the versions a message declares, narrowed by each enclosing `if (version >= N)` or by
 * the versions a struct exists in). A field's versions are intersected with that context, and the
 * test written is the shortest that separates them from the rest of the context: nothing when they
 * are all of it, no code at all when they are none of it, otherwise `version >= 12`,
 * `version <= 14`, `version >= 7 && version <= 12`, `version === 3`, or a disjunction of those.
 */
import { inRange } from '../schema.js';
import type { VersionRange } from '../schema.js';

/** Versions in increasing order. */
export type VersionSet = readonly number[];

/** The versions of `context` that `range` contains. */
export function within(context: VersionSet, range: VersionRange | undefined): VersionSet {
  return context.filter((version) => inRange(range, version));
}

export function intersect(left: VersionSet, right: VersionSet): VersionSet {
  return left.filter((version) => right.includes(version));
}

export function subtract(left: VersionSet, right: VersionSet): VersionSet {
  return left.filter((version) => !right.includes(version));
}

export function union(left: VersionSet, right: VersionSet): VersionSet {
  return [...new Set([...left, ...right])].sort((a, b) => a - b);
}

/** `true` when `target` covers the context, `false` when it misses it, else the test as source text. */
export function versionTest(target: VersionSet, context: VersionSet, variable = 'version'): string | boolean {
  const selected = intersect(target, context);
  if (selected.length === context.length) return true;
  if (selected.length === 0) return false;
  const tests: string[] = [];
  // Runs of consecutive context versions that are selected.
  let start = 0;
  while (start < context.length) {
    if (!selected.includes(context[start]!)) {
      start += 1;
      continue;
    }
    let end = start;
    while (end + 1 < context.length && selected.includes(context[end + 1]!)) end += 1;
    const lowest = context[start]!;
    const highest = context[end]!;
    const needsLower = start > 0;
    const needsUpper = end < context.length - 1;
    if (needsLower && needsUpper) {
      tests.push(lowest === highest ? `${variable} === ${lowest}` : `${variable} >= ${lowest} && ${variable} <= ${highest}`);
    } else if (needsLower) {
      tests.push(`${variable} >= ${lowest}`);
    } else {
      tests.push(lowest === highest ? `${variable} === ${lowest}` : `${variable} <= ${highest}`);
    }
    start = end + 1;
  }
  return tests.length === 1 ? tests[0]! : tests.map((test) => (test.includes('&&') ? `(${test})` : test)).join(' || ');
}
