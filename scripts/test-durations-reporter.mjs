/**
 * A `node --test` reporter that writes, once every file has run, the slowest test files: the sum
 * of each file's top-level test durations (what its tests took, without starting its process).
 * scripts/run-tests.mjs adds it beside the usual reporter, with stderr as its destination, so the
 * TAP on stdout stays as it was.
 */
import { relative } from 'node:path';

const shownFiles = 10;

export default async function* slowestFiles(source) {
  const secondsByFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file !== undefined) {
      secondsByFile.set(event.data.file, (secondsByFile.get(event.data.file) ?? 0) + event.data.details.duration_ms / 1000);
    }
  }
  if (secondsByFile.size < 2) return;
  const slowest = [...secondsByFile].sort(([, a], [, b]) => b - a).slice(0, shownFiles);
  yield `slowest test files (seconds their tests took):\n${slowest.map(([file, seconds]) => `${seconds.toFixed(1).padStart(7)}  ${relative(process.cwd(), file)}`).join('\n')}\n`;
}
