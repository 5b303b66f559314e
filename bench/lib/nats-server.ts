/**
 * Which nats-server binary the NATS rows run, and where it came from.
 *
 * `sync_interval` (needed for the `sync_interval: always` row) exists from nats-server 2.10;
 * Debian 12 packages 2.9.10. When no 2.10+ binary is at hand, the benchmark takes nats-server
 * from Debian trixie's archive without touching apt's sources or installing anything system-wide:
 *
 *   0. the Debian mirror is the one apt on this machine is configured with (its sources files), so no
 *      archive host is written into this code or the results;
 *   1. InRelease of trixie, its signature checked with gpgv against the Debian archive keyring
 *      (when gpgv or the keys are missing, this is said in the log and in the recorded source:
 *      the download then rests on HTTPS and the archive's own checksums only);
 *   2. main/binary-<arch>/Packages.xz, checked against the SHA256 that InRelease lists for it;
 *   3. the nats-server stanza for the machine's architecture (dpkg --print-architecture);
 *   4. the .deb from the pool, checked against the stanza's SHA256 and Size;
 *   5. only the binary extracted, to <checkout>/.build/bench-tools/nats-server-<version>/, with a
 *      source.json recording all of the above and the binary's own SHA256.
 *
 * Later runs reuse that folder (after checking the binary's SHA256 against source.json) without
 * going to the network. Both NATS plans are then started with this one binary.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hasCommand } from './install.js';

export interface NatsServerBinary {
  /** What to execute: an absolute path. */
  readonly path: string;
  /** The binary's own `--version`, without the leading "v" (e.g. "2.10.27"). */
  readonly version: string;
  /** Where the binary came from and how it was checked, for the results file. */
  readonly source: string;
  /** Why this binary is used although it cannot do `sync_interval` (older than 2.10), if so. */
  readonly note?: string;
}

/** The first version with the jetstream `sync_interval` option. */
export const syncIntervalSince = [2, 10] as const;

const aptSourcesFiles = ['/etc/apt/sources.list', '/etc/apt/sources.list.d'];
const suite = 'trixie';
const keyring = process.env['OSPREY_BENCH_DEBIAN_KEYRING'] ?? '/usr/share/keyrings/debian-archive-keyring.gpg';

/** "nats-server: v2.10.27" → "2.10.27"; null when it does not look like a version. */
export function parseNatsVersion(output: string): string | null {
  const match = /v?(\d+\.\d+\.\d+[^\s]*)/.exec(output.replace(/^nats-server:\s*/, ''));
  return match?.[1] ?? null;
}

/** True when version (e.g. "2.10.27", "2.9.10") is at least major.minor. */
export function versionAtLeast(version: string, [major, minor]: readonly [number, number]): boolean {
  const [haveMajor, haveMinor] = version.split('.').map((part) => Number.parseInt(part, 10));
  if (haveMajor === undefined || haveMinor === undefined || Number.isNaN(haveMajor) || Number.isNaN(haveMinor)) return false;
  return haveMajor > major || (haveMajor === major && haveMinor >= minor);
}

export function supportsSyncInterval(binary: NatsServerBinary): boolean {
  return versionAtLeast(binary.version, syncIntervalSince);
}

/** Runs `<path> --version`; null if it does not run. */
export function probeNatsServer(path: string): string | null {
  try {
    return parseNatsVersion(execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }));
  } catch {
    return null;
  }
}

function commandPath(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** nats-server on PATH, whatever its version; note says why an old one is used. */
export function systemNatsServer(note?: string): NatsServerBinary | null {
  const path = commandPath('nats-server');
  if (path === null) return null;
  const version = probeNatsServer(path);
  if (version === null) return null;
  let owner = '';
  try {
    const packageName = execFileSync('dpkg-query', ['-S', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0]?.trim();
    if (packageName) owner = `, Debian package ${packageName} ${execFileSync('dpkg-query', ['-W', '-f=${Version}', packageName], { encoding: 'utf8' }).trim()}`;
  } catch {
    // not from a package, or no dpkg
  }
  const binary = { path, version, source: `${path} on PATH${owner}` };
  return note === undefined || versionAtLeast(version, syncIntervalSince) ? binary : { ...binary, note };
}

interface CachedSource {
  readonly version: string;
  readonly binarySha256: string;
  readonly description: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A 2.10+ binary fetched by an earlier run, if its SHA256 still matches what was recorded. */
export function cachedNatsServer(cacheRoot: string, log: (line: string) => void): NatsServerBinary | null {
  if (!existsSync(cacheRoot)) return null;
  const candidates: NatsServerBinary[] = [];
  for (const entry of readdirSync(cacheRoot)) {
    if (!/^nats-server-\d+\.\d+\.\d+/.test(entry)) continue;
    const path = join(cacheRoot, entry, 'nats-server');
    try {
      const source = JSON.parse(readFileSync(join(cacheRoot, entry, 'source.json'), 'utf8')) as CachedSource;
      if (sha256(readFileSync(path)) !== source.binarySha256) {
        log(`ignoring ${path}: its SHA256 no longer matches source.json`);
        continue;
      }
      const version = probeNatsServer(path);
      if (version === null || !versionAtLeast(version, syncIntervalSince)) continue;
      candidates.push({ path, version, source: `${source.description}; cached in ${entry}/ by an earlier run` });
    } catch {
      // incomplete folder: not a candidate
    }
  }
  const newest = (a: NatsServerBinary, b: NatsServerBinary) => b.version.localeCompare(a.version, 'en', { numeric: true });
  return candidates.sort(newest)[0] ?? null;
}

/** The lines of a Release file's "SHA256:" section as path → { sha256, size }. */
export function releaseSha256(release: string): Map<string, { sha256: string; size: number }> {
  const entries = new Map<string, { sha256: string; size: number }>();
  let inSection = false;
  for (const line of release.split('\n')) {
    if (!line.startsWith(' ')) {
      inSection = line.trim() === 'SHA256:';
      continue;
    }
    if (!inSection) continue;
    const [hash, size, path] = line.trim().split(/\s+/);
    if (hash !== undefined && size !== undefined && path !== undefined) entries.set(path, { sha256: hash, size: Number(size) });
  }
  return entries;
}

/** The stanza of a Packages file for one package and architecture, as field → value. */
export function findPackageStanza(packages: string, name: string, architecture: string): Map<string, string> | null {
  for (const stanza of packages.split(/\n\s*\n/)) {
    if (!stanza.startsWith(`Package: ${name}\n`) && !stanza.includes(`\nPackage: ${name}\n`)) continue;
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) fields.set(match[1], match[2]);
    }
    if (fields.get('Package') === name && fields.get('Architecture') === architecture) return fields;
  }
  return null;
}

/** The signed text of a clearsigned file, without checking anything (used only when gpgv cannot). */
export function clearsignedBody(text: string): string {
  const start = text.indexOf('\n\n', text.indexOf('-----BEGIN PGP SIGNED MESSAGE-----'));
  const end = text.indexOf('\n-----BEGIN PGP SIGNATURE-----');
  if (start === -1 || end === -1) throw new Error('InRelease is not a clearsigned file');
  return text.slice(start + 2, end);
}

/** A URL as errors (which reach the results file) name it: the path on apt's mirror, not the mirror's host. */
export function mirrorPath(url: string): string {
  try {
    return `<apt's Debian mirror>${new URL(url).pathname}`;
  } catch {
    return "<apt's Debian mirror>";
  }
}

async function download(url: string): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
    const detail = `${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause})` : ''}`.replaceAll(new URL(url).host, '<mirror>');
    throw new Error(`GET ${mirrorPath(url)}: ${detail}`);
  }
  if (!response.ok) throw new Error(`GET ${mirrorPath(url)}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Checks InRelease's signature; returns the signed text and how it was checked. */
function verifyInRelease(inRelease: Buffer, workDir: string, log: (line: string) => void): { body: string; verifiedBy: string } {
  const unverified = (why: string) => {
    log(`WARNING: trixie's InRelease signature NOT verified (${why}); relying on HTTPS and the archive's SHA256 sums only`);
    return { body: clearsignedBody(inRelease.toString('utf8')), verifiedBy: `InRelease signature not verified (${why}); HTTPS and SHA256 sums only` };
  };
  if (!hasCommand('gpgv')) return unverified('gpgv is not installed');
  if (!existsSync(keyring)) return unverified(`${keyring} is missing`);
  const signed = join(workDir, 'InRelease');
  const body = join(workDir, 'InRelease.body');
  writeFileSync(signed, inRelease);
  // Machine-readable status lines (GOODSIG, BADSIG, NO_PUBKEY, ERRSIG), not the localised messages.
  // Debian signs with several keys; as apt does, one good signature and no bad one is enough, and
  // gpgv then exits non-zero only because the other keys are not in the keyring.
  const run = spawnSync('gpgv', ['--status-fd', '1', '--keyring', keyring, '--output', body, signed], { encoding: 'utf8', timeout: 30_000 });
  const status = run.stdout ?? '';
  if (/^\[GNUPG:\] BADSIG /m.test(status)) throw new Error(`InRelease has a BAD signature (${status.match(/^\[GNUPG:\] BADSIG .*$/m)?.[0] ?? ''})`);
  const good = status.match(/^\[GNUPG:\] GOODSIG \S+ (.*)$/gm) ?? [];
  if (good.length === 0) {
    if (/^\[GNUPG:\] (NO_PUBKEY|ERRSIG) /m.test(status)) return unverified('none of its signing keys is in the keyring');
    throw new Error(`gpgv could not verify InRelease: ${(run.stderr ?? run.error?.message ?? '').trim().split('\n').slice(-1)[0] ?? 'unknown error'}`);
  }
  if (!existsSync(body)) throw new Error('gpgv verified InRelease but wrote no output');
  const signers = good.map((line) => line.replace(/^\[GNUPG:\] GOODSIG \S+ /, '')).join('; ');
  log(`trixie's InRelease: good signature from ${signers}`);
  return { body: readFileSync(body, 'utf8'), verifiedBy: `InRelease signature verified by gpgv against ${keyring} (good: ${signers})` };
}

/**
 * The main Debian archive apt is configured with: the first URI of a one-line (`deb URI suite …`)
 * or deb822 (`URIs:`) source that is not the security archive; null when there is none.
 */
export function aptDebianMirror(files: readonly string[] = aptSourcesFiles): string | null {
  for (const text of readSourcesFiles(files)) {
    const mirror = firstDebianUri(text);
    if (mirror !== null) return mirror;
  }
  return null;
}

/** The first archive URI in one sources file's text (either format), the security archive left out. */
export function firstDebianUri(text: string): string | null {
  const uris: string[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    const deb822 = /^URIs:\s*(.+)$/i.exec(line);
    if (oneLine?.[1] !== undefined) uris.push(oneLine[1]);
    else if (deb822?.[1] !== undefined) uris.push(...deb822[1].split(/\s+/));
  }
  const mirror = uris.find((uri) => /^https?:\/\//.test(uri) && !/security/.test(uri));
  return mirror === undefined ? null : mirror.replace(/\/+$/, '');
}

function readSourcesFiles(files: readonly string[]): string[] {
  const texts: string[] = [];
  for (const path of files) {
    try {
      if (!existsSync(path)) continue;
      const names = path.endsWith('.d') ? readdirSync(path).filter((name) => /\.(list|sources)$/.test(name)).sort().map((name) => join(path, name)) : [path];
      for (const name of names) texts.push(readFileSync(name, 'utf8'));
    } catch {
      continue;
    }
  }
  return texts;
}

/**
 * Fetches trixie's nats-server into cacheRoot/nats-server-<version>/ (see the top of this file).
 * Throws with the reason when any step fails; leaves nothing half-made behind.
 */
export async function downloadNatsServer(cacheRoot: string, log: (line: string) => void, mirror = process.env['OSPREY_BENCH_DEBIAN_MIRROR'] ?? aptDebianMirror()): Promise<NatsServerBinary> {
  if (mirror === null) throw new Error(`no Debian archive found in apt's sources (${aptSourcesFiles.join(', ')}); set OSPREY_BENCH_DEBIAN_MIRROR`);
  if (!hasCommand('dpkg-deb')) throw new Error('dpkg-deb is not installed (needed to unpack the .deb)');
  const architecture = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  mkdirSync(cacheRoot, { recursive: true });
  const workDir = join(cacheRoot, `.download-${process.pid}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  try {
    log(`fetching nats-server ≥ 2.10 from Debian ${suite} (${mirror}, ${architecture}; not added to apt, not installed system-wide)`);
    const release = verifyInRelease(await download(`${mirror}/dists/${suite}/InRelease`), workDir, log);
    const codename = /^Codename:\s*(\S+)/m.exec(release.body)?.[1];
    if (codename !== suite) throw new Error(`InRelease is for ${codename ?? 'no codename'}, not ${suite}`);
    const useXz = hasCommand('xz');
    const indexPath = `main/binary-${architecture}/Packages.${useXz ? 'xz' : 'gz'}`;
    const expected = releaseSha256(release.body).get(indexPath);
    if (expected === undefined) throw new Error(`InRelease lists no SHA256 for ${indexPath}`);
    const index = await download(`${mirror}/dists/${suite}/${indexPath}`);
    if (index.length !== expected.size || sha256(index) !== expected.sha256) throw new Error(`${indexPath} does not match the SHA256 and size in InRelease`);
    const packages = (useXz ? execFileSync('xz', ['-dc'], { input: index, maxBuffer: 1 << 30 }) : gunzipSync(index)).toString('utf8');
    const stanza = findPackageStanza(packages, 'nats-server', architecture);
    if (stanza === null) throw new Error(`${suite} has no nats-server for ${architecture}`);
    const debianVersion = stanza.get('Version') ?? '?';
    const filename = stanza.get('Filename') ?? '';
    const debSha256 = stanza.get('SHA256') ?? '';
    if (!/^pool\/[A-Za-z0-9._+~/-]+\.deb$/.test(filename) || filename.includes('..')) throw new Error(`unexpected Filename in the nats-server stanza: ${filename}`);
    if (!/^[0-9a-f]{64}$/.test(debSha256)) throw new Error('the nats-server stanza has no SHA256');
    log(`downloading ${filename} (Debian ${debianVersion}, ${((Number(stanza.get('Size')) || 0) / 1e6).toFixed(1)} MB)`);
    const deb = await download(`${mirror}/${filename}`);
    if (sha256(deb) !== debSha256 || (stanza.has('Size') && deb.length !== Number(stanza.get('Size')))) throw new Error(`${filename} does not match the SHA256 and size in Packages`);
    const debFile = join(workDir, 'nats-server.deb');
    writeFileSync(debFile, deb);
    const tree = join(workDir, 'tree');
    execFileSync('dpkg-deb', ['-x', debFile, tree], { stdio: ['ignore', 'ignore', 'pipe'] });
    const extracted = ['usr/sbin/nats-server', 'usr/bin/nats-server'].map((path) => join(tree, path)).find((path) => existsSync(path));
    if (extracted === undefined) throw new Error(`${filename} has no usr/sbin/nats-server`);
    const version = probeNatsServer(extracted);
    if (version === null) throw new Error(`the nats-server in ${filename} does not run here`);
    if (!versionAtLeast(version, syncIntervalSince)) throw new Error(`${suite}'s nats-server is ${version}, older than 2.10`);
    const description = `Debian ${suite} package nats-server ${debianVersion} (${architecture}) from apt's Debian mirror, ${filename}; .deb SHA256 ${debSha256} matches Packages, whose SHA256 matches InRelease; ${release.verifiedBy}`;
    const folder = join(cacheRoot, `nats-server-${version}`);
    const staging = join(workDir, 'out');
    mkdirSync(staging);
    copyFileSync(extracted, join(staging, 'nats-server'));
    chmodSync(join(staging, 'nats-server'), 0o755);
    const source: CachedSource & Record<string, unknown> = {
      version,
      binarySha256: sha256(readFileSync(join(staging, 'nats-server'))),
      description,
      debianVersion,
      architecture,
      url: `${mirror}/${filename}`,
      debSha256,
      verifiedBy: release.verifiedBy,
      fetchedAt: new Date().toISOString(),
    };
    writeFileSync(join(staging, 'source.json'), `${JSON.stringify(source, null, 2)}\n`);
    rmSync(folder, { recursive: true, force: true });
    renameSync(staging, folder);
    const path = join(folder, 'nats-server');
    log(`nats-server ${version} ready in ${relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path)}`);
    return { path, version, source: description };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * A nats-server that can do `sync_interval`: on PATH, cached, or (when download is allowed) fetched.
 * Returns null with the reason when there is none; the caller may then fall back to an older one.
 */
export async function findOrFetchNatsServer(cacheRoot: string, allowDownload: boolean, log: (line: string) => void): Promise<{ binary: NatsServerBinary | null; reason: string }> {
  const onPath = systemNatsServer();
  if (onPath !== null && supportsSyncInterval(onPath)) return { binary: onPath, reason: '' };
  const cached = cachedNatsServer(cacheRoot, log);
  if (cached !== null) return { binary: cached, reason: '' };
  const have = onPath === null ? 'no nats-server on PATH' : `nats-server on PATH is ${onPath.version}`;
  if (!allowDownload) return { binary: null, reason: `${have}, and --skip-install: not fetching 2.10+ from Debian ${suite}` };
  try {
    return { binary: await downloadNatsServer(cacheRoot, log), reason: '' };
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    log(`could not fetch nats-server from Debian ${suite}: ${why}`);
    return { binary: null, reason: `${have}; fetching 2.10+ from Debian ${suite} failed: ${why}` };
  }
}
