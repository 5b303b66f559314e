/**
 * Sets of API versions, for comparing two declarations over the versions both define. A set is a
 * sorted array of version numbers, always bounded by a message's validVersions (never open-ended).
 */
import { parseRange } from '../schema.js';
import type { VersionRange } from '../schema.js';

export type VersionSet = readonly number[];

/** The versions of `universe` that `range` ("3+", "0-7", "4", "none") includes. */
export function versionsIn(range: string, universe: VersionSet): VersionSet {
  const { lowest, highest } = parseRange(range as VersionRange);
  return universe.filter((version) => version >= lowest && version <= highest);
}

/** Every version of a closed range such as a validVersions ("0-17", "4"). */
export function closedRange(range: string): VersionSet {
  const { lowest, highest } = parseRange(range as VersionRange);
  if (!Number.isFinite(highest) || !Number.isInteger(lowest) || !Number.isInteger(highest)) return [];
  const versions: number[] = [];
  for (let version = lowest; version <= highest; version++) versions.push(version);
  return versions;
}

export function intersection(left: VersionSet, right: VersionSet): VersionSet {
  return left.filter((version) => right.includes(version));
}

export function difference(left: VersionSet, right: VersionSet): VersionSet {
  return left.filter((version) => !right.includes(version));
}

export function symmetricDifference(left: VersionSet, right: VersionSet): VersionSet {
  return [...difference(left, right), ...difference(right, left)].sort((a, b) => a - b);
}

export function sameVersions(left: VersionSet, right: VersionSet): boolean {
  return left.length === right.length && left.every((version, index) => version === right[index]);
}

/**
 * Kafka's notation for a set: runs joined by commas, "none" when empty; a run that reaches `top`
 * (the highest version compared) is written open, "12+", as the declarations themselves write it.
 */
export function formatVersions(set: VersionSet, top: number): string {
  if (set.length === 0) return 'none';
  const runs: string[] = [];
  let start = set[0] as number;
  let previous = start;
  const close = (end: number): void => {
    if (end === top) runs.push(`${start}+`);
    else runs.push(start === end ? `${start}` : `${start}-${end}`);
  };
  for (const version of set.slice(1)) {
    if (version !== previous + 1) {
      close(previous);
      start = version;
    }
    previous = version;
  }
  close(previous);
  return runs.join(', ');
}
