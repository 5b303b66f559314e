#!/usr/bin/env node
// The `osprey` command. Runs the compiled CLI; `npm run build` writes dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('osprey: dist/src/cli/main.js is missing; run `npm run build` in the osprey folder first\n');
  process.exit(1);
}
await import(entry.href);
