#!/usr/bin/env -S node --initial-heap-size=64
// The `osprey` command. Runs the compiled CLI; `npm run build` writes dist/. The node flag is the
// one every broker starts with (src/cli/node-flags.ts says why).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('osprey: dist/src/cli/main.js is missing; run `npm run build` in the osprey folder first\n');
  process.exit(1);
}
await import(entry.href);
