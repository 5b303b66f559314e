#!/usr/bin/env node
/**
 * Runs the built tests (`npm test` builds first, then calls this):
 *
 *   node scripts/run-tests.mjs [folder or file …] [node --test flag …]
 *
 * Finds every `*.test.js` under dist/test/ (or under the folders and files given), and hands them to
 * one `node --test` with `--test-concurrency` = os.availableParallelism(), or
 * OSPREY_TEST_CONCURRENCY when set, and `--test-timeout` = 5 minutes per test unless given. Node 20's `node --test` does not expand globs and, given a
 * folder, would also run the helpers beside the tests as if they were tests; hence this script.
 *
 *   npm test                                                  # everything
 *   npm test -- dist/test/unit                                # one folder
 *   npm test -- test/integration/kcat.test.ts                 # one file (a source path is mapped to dist/)
 *   npm test -- dist/test/unit --test-name-pattern='frame'    # tests whose name matches
 *   OSPREY_TEST_CONCURRENCY=1 npm test                        # one file at a time
 *
 * Every file runs beside the others, in one phase: brokers take free ports and temporary
 * directories; the disk-full tests mount a small tmpfs each (filling one fills no other); the memory
 * tests measure the RSS of their own broker process, which another file's broker does not change;
 * and time bounds are on CPU time, which other processes do not stretch, or far above what they
 * measure (a bystander's Metadata answered within a second).
 *
 * Arguments that are not paths go to `node --test` as they are (`--test-reporter=spec`, …). The
 * output is Node's own: TAP when stdout is not a terminal, ending with the "# tests / # pass /
 * # fail / # skipped" summary that .ci/run reads; the ten slowest files follow on stderr.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));
const buildRoot = join(repositoryRoot, 'dist');
const testFileSuffix = '.test.js';
/** `node --test` flags that take their value as the next argument when written without `=`. */
const flagsWithValue = new Set(['--test-name-pattern', '--test-reporter', '--test-reporter-destination', '--test-timeout', '--test-concurrency', '--test-shard']);

function fail(message) {
  process.stderr.write(`run-tests: ${message}\n`);
  process.exit(2);
}

/** The concurrency: OSPREY_TEST_CONCURRENCY if set (a positive integer), else the machine's cores. */
function concurrency() {
  const configured = process.env['OSPREY_TEST_CONCURRENCY'];
  if (configured === undefined || configured === '') return availableParallelism();
  if (!/^[1-9]\d*$/.test(configured)) fail(`OSPREY_TEST_CONCURRENCY must be a positive integer, got '${configured}'`);
  return Number(configured);
}

/** A path as given, or, for a source path under test/ (`test/unit/x.test.ts`), its build under dist/. */
function builtPath(given) {
  const absolute = resolve(given);
  const fromRoot = relative(repositoryRoot, absolute);
  if (fromRoot === 'test' || fromRoot.startsWith(`test/`)) {
    const built = join(buildRoot, fromRoot.replace(/\.ts$/, '.js'));
    if (existsSync(built)) return built;
    fail(`${given} has no build at ${relative(process.cwd(), built)}: run npm run build first`);
  }
  return absolute;
}

/** Every *.test.js at or under `path`, depth first, in name order. */
function testFilesUnder(path) {
  const status = statSync(path);
  if (status.isFile()) return path.endsWith(testFileSuffix) ? [path] : fail(`${path} is not a test file (*${testFileSuffix})`);
  const files = [];
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...testFilesUnder(child));
    else if (entry.isFile() && entry.name.endsWith(testFileSuffix)) files.push(child);
  }
  return files;
}

/** Splits the arguments into paths to select tests by and flags for `node --test`. */
function parseArguments(argv) {
  const paths = [];
  const flags = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument.startsWith('-')) {
      flags.push(argument);
      if (flagsWithValue.has(argument) && index + 1 < argv.length) flags.push(argv[++index]);
    } else if (existsSync(builtPath(argument))) {
      paths.push(builtPath(argument));
    } else {
      fail(`no such test file or folder: ${argument}`);
    }
  }
  return { paths, flags };
}

/**
 * Integration files first: they take seconds to a minute each, unit files mostly less than one, so
 * starting the long ones first keeps both cores busy until the end instead of leaving one long file
 * running alone.
 */
function slowFirst(files) {
  const integration = (file) => (file.includes(`${join('test', 'integration')}/`) ? 0 : 1);
  return [...files].sort((a, b) => integration(a) - integration(b));
}

const { paths, flags } = parseArguments(process.argv.slice(2));
if (!existsSync(join(buildRoot, 'test'))) fail(`${relative(process.cwd(), join(buildRoot, 'test'))} is missing: run npm run build first`);
const files = slowFirst([...new Set((paths.length > 0 ? paths : [join(buildRoot, 'test')]).flatMap(testFilesUnder))]);
if (files.length === 0) fail(`no *${testFileSuffix} files under ${paths.join(', ')}`);

const concurrencyFlags = flags.some((flag) => flag.startsWith('--test-concurrency')) ? [] : [`--test-concurrency=${concurrency()}`];
// A test that hangs (a lost reply it waits for) fails after this instead of stalling the run; no
// test here needs more than a minute or two even on a loaded machine.
const defaultTestTimeoutMs = 300_000;
const timeoutFlags = flags.some((flag) => flag.startsWith('--test-timeout')) ? [] : [`--test-timeout=${defaultTestTimeoutMs}`];
// Node's own choice of reporter (spec on a terminal, TAP otherwise) on stdout, and the slowest files
// on stderr; reporters given after -- replace both (node pairs reporters and destinations in order).
const durationsReporter = join(repositoryRoot, 'scripts', 'test-durations-reporter.mjs');
const reporterFlags = flags.some((flag) => flag.startsWith('--test-reporter'))
  ? []
  : [`--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`, '--test-reporter-destination=stdout', `--test-reporter=${durationsReporter}`, '--test-reporter-destination=stderr'];
const child = spawn(process.execPath, ['--test', ...concurrencyFlags, ...timeoutFlags, ...reporterFlags, ...flags, ...files.map((file) => relative(process.cwd(), file))], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal === null) process.exit(code ?? 1);
  // Die of the same signal, as a shell expects: without our forwarding handler in the way.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
