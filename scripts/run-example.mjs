#!/usr/bin/env node
/**
 * Runs one of the examples in examples/ (`npm run example -- NAME [ARGUMENTS…]`):
 *
 *   npm run example                                   # lists them
 *   npm run example -- flash-sale                     # runs examples/flash-sale.ts
 *   npm run example -- chat -- --user alice --room lobby
 *
 * The examples are TypeScript; this compiles them (only them, with the project's tsc, incrementally)
 * into .build/examples/ and runs the one named there. It does not use dist/: `npm run build` empties
 * dist/ first, which would pull the files from under a broker started from it with `npm start`.
 * The example's exit code becomes this script's; 2 means it was called wrongly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

/** Every example, with what it shows: the names are the files in examples/. */
const examples = new Map([
  ['signup', 'a web handler stores a user and publishes once (fanout); a mail and an SMS worker each get the event'],
  ['orders', 'orders published while the inventory service is down are all processed once it is back'],
  ['flash-sale', '10,000 purchase requests against a queue of 100: 100 accepted, the rest refused at once'],
  ['log-pipeline', 'log lines on a Kafka topic, read by two consumer groups at their own pace'],
  ['chat', 'chat rooms over a topic exchange and private messages to a queue per user'],
]);

function listExamples(stream) {
  stream.write('examples (npm run example -- NAME):\n');
  const width = Math.max(...[...examples.keys()].map((name) => name.length));
  for (const [name, description] of examples) stream.write(`  ${name.padEnd(width)}  ${description}\n`);
  stream.write('They talk to a broker on 127.0.0.1 (start one with npm start); OSPREY_BROKERS and OSPREY_AMQP_URL point elsewhere.\n');
}

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'list') {
  listExamples(process.stdout);
  process.exit(0);
}
if (!examples.has(name)) {
  process.stderr.write(`unknown example '${name}'\n`);
  listExamples(process.stderr);
  process.exit(2);
}
// `npm run example -- chat -- --user alice`: npm keeps the second `--`; the example does not want it.
const exampleArguments = rest[0] === '--' ? rest.slice(1) : rest;

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const outputDirectory = join(repositoryRoot, '.build', 'examples');
const entry = join(outputDirectory, `${name}.js`);

function compile() {
  const compiled = spawnSync(process.execPath, [tsc, '-p', join(repositoryRoot, 'tsconfig.examples.json')], { stdio: 'inherit' });
  if (compiled.status !== 0) {
    process.stderr.write('run-example: the examples did not compile (see above)\n');
    process.exit(1);
  }
}

compile();
// An incremental tsc does not notice outputs deleted behind its back: start it afresh then.
if (!existsSync(entry)) {
  rmSync(outputDirectory, { recursive: true, force: true });
  compile();
}

const child = spawn(process.execPath, [entry, ...exampleArguments], { stdio: 'inherit' });
// Ctrl-C reaches the example through the terminal already; a SIGTERM sent to this script is passed on.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal === null) process.exit(code ?? 1);
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
