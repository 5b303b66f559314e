#!/usr/bin/env node
// Rewrites the generated settings table in docs/configuration.md from the compiled help-text module.
// Usage: npm run docs:config   (or: node scripts/generate-configuration-doc.mjs <build dir>)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDirectory = resolve(process.argv[2] ?? join(root, 'dist'));
const { configurationReferenceMarkdown } = await import(pathToFileURL(join(buildDirectory, 'src/config/help-text.js')).href);
const path = join(root, 'docs/configuration.md');
const document = readFileSync(path, 'utf8');
const start = '<!-- generated: configuration table -->\n';
const end = '<!-- end of generated table -->';
if (!document.includes(start) || !document.includes(end)) throw new Error(`${path} lacks the table markers`);
const before = document.slice(0, document.indexOf(start) + start.length);
const after = document.slice(document.indexOf(end));
writeFileSync(path, before + configurationReferenceMarkdown() + '\n' + after);
