/**
 * `npm run profile`: where the broker's time goes on the produce and the fetch paths.
 *
 * Starts a broker under `node --cpu-prof` over a fresh data directory, drives one workload, stops it
 * (SIGTERM: V8 writes the profile on the way out), and renders the profile as a flame graph
 * (flame-graph.ts). The workloads, each with a broker process of its own:
 *
 *   produce        `osprey perf produce` (acks=all, fsync per group commit): N records of S bytes
 *   fetch-kcat     the backlog read from the beginning by `kcat -C -e` (librdkafka), twice
 *   fetch-osprey   the backlog read by `osprey perf consume` (our client), twice; the consumer runs
 *                  under --cpu-prof too (consumer-osprey.*), since the client can be the limit
 *
 * With --perf, the broker runs under Linux `perf record` instead (perf-script.ts says why: on-CPU
 * time of every thread and of the kernel, where --cpu-prof counts the main thread's wall time).
 *
 * The fetch brokers open the data directory the produce run left (so the backlog is read from the
 * segment files, as a consumer catching up reads it). Writes to --out (bench/profiles/latest):
 * NAME.cpuprofile (open in Chrome DevTools' Performance panel or any .cpuprofile viewer),
 * NAME.svg (the flame graph) and summary.md (broker CPU per million records, and the costliest
 * functions of each profile).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { costliestFunctions, renderFlameGraph, windowOf, type CostlyFunction, type CpuProfile } from './flame-graph.js';
import { parsePerfScript, type PerfWindow } from './perf-script.js';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const cliEntry = join(repositoryRoot, 'dist/src/cli/main.js');
const topic = 'profile';
const startTimeoutMs = 60_000;
/** V8's default is 1000 µs; finer sampling resolves the short functions of the hot paths. */
const sampleIntervalMicroseconds = 250;
/** perf's sampling rate (Hz), per thread on the CPU: about one sample a millisecond. */
const perfFrequencyHz = 999;

interface Options {
  records: number;
  recordSizeBytes: number;
  outDirectory: string;
  topFunctions: number;
  /** Profile the broker with Linux perf (every thread, on-CPU time, kernel included) instead of --cpu-prof. */
  perf: boolean;
}

const usage = `Usage: npm run profile -- [--records N] [--record-size BYTES] [--out DIR] [--top N] [--perf]

Profiles the broker (node --cpu-prof) while it takes a produce workload and serves a backlog to
kcat and to osprey perf consume; writes NAME.cpuprofile, NAME.svg (flame graph) and summary.md.

  --records N         records produced, then read (default 2000000)
  --record-size B     value bytes per record (default 100)
  --out DIR           where to write (default bench/profiles/latest)
  --top N             functions listed per profile in summary.md (default 12)
  --perf              profile the broker with Linux perf (apt-get install linux-perf) instead of
                      node --cpu-prof: CPU time of every thread and of the kernel, not the main
                      thread's wall time (bench/profiles/perf-script.ts says why it matters)`;

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { records: 2_000_000, recordSizeBytes: 100, outDirectory: join(repositoryRoot, 'bench/profiles/latest'), topFunctions: 12, perf: false };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!;
    const value = argv[index + 1];
    const number = (): number => {
      const parsed = Number(value);
      if (value === undefined || !Number.isSafeInteger(parsed) || parsed <= 0) throw new Error(`${flag} wants a positive integer`);
      index++;
      return parsed;
    };
    if (flag === '--records') options.records = number();
    else if (flag === '--record-size') options.recordSizeBytes = number();
    else if (flag === '--top') options.topFunctions = number();
    else if (flag === '--perf') options.perf = true;
    else if (flag === '--out' && value !== undefined) {
      options.outDirectory = resolve(value);
      index++;
    } else if (flag === '--help' || flag === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown flag ${flag}\n${usage}`);
  }
  return options;
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat fields 14 and 15. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ, 100 on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

interface RunningBroker {
  readonly child: ChildProcess;
  readonly port: number;
  readonly exited: Promise<void>;
}

/**
 * A broker under --cpu-prof on a free port, logging to `logPath` (a file, not a pipe: the workloads
 * run synchronously and nobody would drain a pipe meanwhile); resolves once its Kafka listener is
 * ready and recovery is done.
 */
async function startBroker(dataDirectory: string, profileDirectory: string, logPath: string, perf: boolean): Promise<RunningBroker> {
  const log = openSync(logPath, 'w');
  // Under perf, node writes /tmp/perf-PID.map, which names the JavaScript frames perf samples.
  const profilerFlags = perf ? ['--perf-basic-prof-only-functions'] : [`--cpu-prof`, `--cpu-prof-dir=${profileDirectory}`, `--cpu-prof-interval=${sampleIntervalMicroseconds}`];
  const child = spawn(process.execPath, [...profilerFlags, cliEntry, 'broker', '--data-dir', dataDirectory, '--kafka-port', '0', '--amqp-port', '-1', '--http-port', '-1'], { stdio: ['ignore', log, log] });
  closeSync(log);
  let exitedYet = false;
  const exited = new Promise<void>((resolveExit) =>
    child.once('exit', () => {
      exitedYet = true;
      resolveExit();
    }),
  );
  for (let waitedMs = 0; waitedMs < startTimeoutMs; waitedMs += 100) {
    const output = readFileSync(logPath, 'utf8');
    const ready = /kafka listener ready host=\S+ port=(\d+)/.exec(output);
    if (ready !== null && /partitions recovered/.test(output)) return { child, port: Number(ready[1]), exited };
    if (exitedYet) throw new Error(`the broker exited before it was ready:\n${output}`);
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the broker was not ready within ${startTimeoutMs} ms:\n${readFileSync(logPath, 'utf8')}`);
}

/** SIGTERM and wait: the broker closes cleanly and V8 writes the profile. Returns its path (null under perf: no V8 profile). */
async function stopBroker(broker: RunningBroker, profileDirectory: string, name: string, outDirectory: string, perf: boolean): Promise<string | null> {
  broker.child.kill('SIGTERM');
  await broker.exited;
  if (perf) return null;
  const written = readdirSync(profileDirectory).filter((file) => file.endsWith('.cpuprofile'));
  if (written.length !== 1) throw new Error(`expected one profile in ${profileDirectory}, found ${written.length}`);
  const target = join(outDirectory, `${name}.cpuprofile`);
  renameSync(join(profileDirectory, written[0]!), target);
  return target;
}

/**
 * `perf record` of every thread of `pid` from now until `stop` (SIGINT: perf writes its file and
 * exits), on the monotonic clock, so the workload's window (nowMicroseconds) applies to its samples.
 */
async function startPerfRecord(pid: number, dataPath: string): Promise<{ stop(): Promise<void> }> {
  const child = spawn('perf', ['record', '-F', String(perfFrequencyHz), '-g', '-k', 'CLOCK_MONOTONIC', '-p', String(pid), '-o', dataPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  child.once('error', (error) => (errors += error.message));
  await sleep(500); // perf attaches to the threads within a moment
  if (child.exitCode !== null || errors.includes('ENOENT')) throw new Error(`perf record did not start: ${errors.trim()}`);
  return {
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      if (code !== 0 && code !== null) throw new Error(`perf record exited with ${code}: ${errors.trim()}`);
    },
  };
}

/** The perf samples as a profile (perf-script.ts); reads /tmp/perf-PID.map, which node wrote, then removes it. */
function perfProfile(dataPath: string, pid: number, target: string, window: PerfWindow): string {
  const scriptPath = `${dataPath}.txt`;
  const output = openSync(scriptPath, 'w');
  const result = spawnSync('perf', ['script', '-i', dataPath, '-F', 'tid,time,ip,sym,dso'], { stdio: ['ignore', output, 'ignore'] });
  closeSync(output);
  if (result.status !== 0) throw new Error(`perf script exited with ${result.status}`);
  writeFileSync(target, JSON.stringify(parsePerfScript(readFileSync(scriptPath, 'utf8'), pid, 1e6 / perfFrequencyHz, window)));
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  return target;
}

function hasPerf(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: readonly string[], options: { stdout?: 'ignore' | 'pipe' } = {}): string {
  const result = spawnSync(command, args, { stdio: ['ignore', options.stdout ?? 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
  return result.stdout ?? '';
}

function hasKcat(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
}

interface WorkloadResult {
  readonly name: string;
  readonly description: string;
  readonly records: number;
  readonly wallSeconds: number;
  readonly brokerCpuSeconds: number;
  /** `windowed`: a profile over the broker's whole life, to be cut to the workload's window (perf's are cut already). */
  readonly profiles: ReadonlyArray<{ readonly name: string; readonly path: string; readonly windowed: boolean }>;
  /** When the workload ran, on the monotonic clock the profiles use (µs): the broker's start-up and shutdown are left out. */
  readonly fromMicroseconds: number;
  readonly toMicroseconds: number;
}

function nowMicroseconds(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * One workload on a broker of its own over `dataDirectory`: `drive` runs it (given the port and a
 * directory for client profiles) and returns how many records it moved.
 */
async function profileWorkload(
  name: string,
  description: string,
  dataDirectory: string,
  outDirectory: string,
  perf: boolean,
  drive: (port: number, clientProfileDirectory: string) => number,
): Promise<WorkloadResult> {
  const scratch = mkdtempSync(join(tmpdir(), `osprey-profile-${name}-`));
  const brokerProfiles = join(scratch, 'broker');
  const clientProfiles = join(scratch, 'client');
  mkdirSync(brokerProfiles);
  mkdirSync(clientProfiles);
  try {
    const broker = await startBroker(dataDirectory, brokerProfiles, join(scratch, 'broker.log'), perf);
    const pid = broker.child.pid!;
    const perfData = join(scratch, 'perf.data');
    let records: number;
    let wallSeconds: number;
    let brokerCpuSeconds: number;
    let fromMicroseconds: number;
    let toMicroseconds: number;
    try {
      const recording = perf ? await startPerfRecord(pid, perfData) : null;
      const cpuBefore = cpuSeconds(pid);
      fromMicroseconds = nowMicroseconds();
      records = drive(broker.port, clientProfiles);
      toMicroseconds = nowMicroseconds();
      wallSeconds = (toMicroseconds - fromMicroseconds) / 1e6;
      brokerCpuSeconds = cpuSeconds(pid) - cpuBefore;
      await recording?.stop();
    } catch (error) {
      broker.child.kill('SIGKILL');
      await broker.exited;
      throw error;
    }
    const brokerProfile = await stopBroker(broker, brokerProfiles, `broker-${name}`, outDirectory, perf);
    const profiles = [{ name: `broker-${name}`, path: perf ? perfProfile(perfData, pid, join(outDirectory, `broker-${name}.cpuprofile`), { fromMicroseconds, toMicroseconds }) : brokerProfile!, windowed: !perf }];
    const clientProfile = readdirSync(clientProfiles).filter((file) => file.endsWith('.cpuprofile'));
    // The client ran its workload more than once: keep the last run's profile (warm).
    const lastClientProfile = clientProfile.sort().at(-1);
    if (lastClientProfile !== undefined) {
      const target = join(outDirectory, `consumer-${name.replace(/^fetch-/, '')}.cpuprofile`);
      renameSync(join(clientProfiles, lastClientProfile), target);
      profiles.push({ name: `consumer-${name.replace(/^fetch-/, '')}`, path: target, windowed: false });
    }
    console.log(`${name}: ${records} records in ${wallSeconds.toFixed(2)} s, broker CPU ${brokerCpuSeconds.toFixed(2)} s`);
    return { name, description, records, wallSeconds, brokerCpuSeconds, profiles, fromMicroseconds, toMicroseconds };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A broker's V8 profile cut to the workload's time (a client's is all workload, apart from its start-up). */
function workloadPart(result: WorkloadResult, profile: { readonly name: string; readonly path: string; readonly windowed: boolean }): CpuProfile {
  const parsed = JSON.parse(readFileSync(profile.path, 'utf8')) as CpuProfile;
  return profile.windowed ? windowOf(parsed, result.fromMicroseconds, result.toMicroseconds) : parsed;
}

function functionTable(title: string, functions: readonly CostlyFunction[]): string[] {
  return [`${title}`, '', '| share of busy time | function | where |', '|---:|---|---|', ...functions.map((entry) => `| ${(entry.share * 100).toFixed(1)} % | \`${entry.name}\` | ${entry.location === '' ? '' : `\`${entry.location}\``} |`), ''];
}

function summary(options: Options, results: readonly WorkloadResult[]): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Profiles of the produce and fetch paths',
    '',
    `Written by \`npm run profile -- --records ${options.records} --record-size ${options.recordSizeBytes}${options.perf ? ' --perf' : ''}\` on ${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} × ${cpu}, Node ${process.version}.`,
    'How to read them: README.md beside this folder.',
    '',
    '| workload | what | records | wall s | records/s | broker CPU s | broker CPU s per million records |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...results.map(
      (result) =>
        `| ${result.name} | ${result.description} | ${result.records} | ${result.wallSeconds.toFixed(2)} | ${Math.round(result.records / result.wallSeconds)} | ${result.brokerCpuSeconds.toFixed(2)} | ${((result.brokerCpuSeconds * 1e6) / result.records).toFixed(3)} |`,
    ),
    '',
    'Wall times include starting the client; on a shared machine they are noisy, the CPU per million records less so.',
    '',
  ];
  for (const result of results) {
    for (const profile of result.profiles) {
      const costly = costliestFunctions(workloadPart(result, profile), options.topFunctions);
      lines.push(`## ${profile.name} ([flame graph](${profile.name}.svg))`, '');
      const perfSampled = !profile.windowed && profile.name.startsWith('broker-');
      lines.push(
        perfSampled
          ? `Sampled by perf: ${(costly.busyMs / 1000).toFixed(2)} s on the CPU, every thread and the kernel; shares are of that CPU time.`
          : `Busy ${(costly.busyShare * 100).toFixed(1)} % of the profiled time (${(costly.busyMs / 1000).toFixed(2)} s on the CPU, idle left out).`,
        '',
      );
      lines.push(...functionTable('Self time (the function itself):', costly.self));
      lines.push(...functionTable('Total time (with what it called):', costly.total));
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.perf && !hasPerf()) throw new Error('--perf needs Linux perf, which is not installed: apt-get install linux-perf');
  mkdirSync(options.outDirectory, { recursive: true });
  for (const file of readdirSync(options.outDirectory)) if (/\.(cpuprofile|svg)$/.test(file) || file === 'summary.md') rmSync(join(options.outDirectory, file));
  const dataDirectory = mkdtempSync(join(tmpdir(), 'osprey-profile-data-'));
  const osprey = (args: readonly string[], port: number): string => run(process.execPath, [cliEntry, ...args, '-b', `127.0.0.1:${port}`]);
  const results: WorkloadResult[] = [];
  try {
    results.push(
      await profileWorkload('produce', `osprey perf produce, acks=all, ${options.recordSizeBytes} B values`, dataDirectory, options.outDirectory, options.perf, (port) => {
        osprey(['topic', 'create', topic, '-p', '1'], port);
        osprey(['perf', 'produce', '-t', topic, '-n', String(options.records), '-s', String(options.recordSizeBytes)], port);
        return options.records;
      }),
    );
    if (hasKcat()) {
      results.push(
        await profileWorkload('fetch-kcat', 'the backlog read twice by kcat -C -e -f %o', dataDirectory, options.outDirectory, options.perf, (port) => {
          let records = 0;
          for (let round = 0; round < 2; round++) {
            const output = run('kcat', ['-C', '-b', `127.0.0.1:${port}`, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o\\n']);
            records += output.split('\n').filter((line) => line !== '').length;
          }
          return records;
        }),
      );
    } else {
      console.log('kcat is not installed: the fetch-kcat workload is left out');
    }
    results.push(
      await profileWorkload('fetch-osprey', 'the backlog read twice by osprey perf consume', dataDirectory, options.outDirectory, options.perf, (port, clientProfiles) => {
        for (let round = 0; round < 2; round++) {
          run(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${clientProfiles}`, `--cpu-prof-interval=${sampleIntervalMicroseconds}`, `--cpu-prof-name=run-${round}.cpuprofile`, cliEntry, 'perf', 'consume', '-t', topic, '-n', String(options.records), '-b', `127.0.0.1:${port}`]);
        }
        return 2 * options.records;
      }),
    );
    for (const result of results) {
      for (const profile of result.profiles) {
        const parsed = workloadPart(result, profile);
        writeFileSync(join(options.outDirectory, `${profile.name}.svg`), renderFlameGraph(parsed, `${profile.name}: ${result.description} (${result.records} records)`));
      }
    }
    writeFileSync(join(options.outDirectory, 'summary.md'), summary(options, results));
    console.log(`profiles, flame graphs and summary.md in ${options.outDirectory}`);
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
