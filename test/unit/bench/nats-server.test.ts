import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aptDebianMirror, clearsignedBody, mirrorPath, firstDebianUri, findPackageStanza, parseNatsVersion, releaseSha256, versionAtLeast } from '../../../bench/lib/nats-server.js';

test('nats-server --version output is read without the prefix and the v', () => {
  assert.equal(parseNatsVersion('nats-server: v2.10.27\n'), '2.10.27');
  assert.equal(parseNatsVersion('nats-server: v2.9.10'), '2.9.10');
  assert.equal(parseNatsVersion('something else'), null);
});

test('sync_interval needs 2.10 or later, compared as numbers', () => {
  assert.equal(versionAtLeast('2.9.10', [2, 10]), false);
  assert.equal(versionAtLeast('2.10.0', [2, 10]), true);
  assert.equal(versionAtLeast('2.10.27', [2, 10]), true);
  assert.equal(versionAtLeast('2.11.3', [2, 10]), true);
  assert.equal(versionAtLeast('3.0.0', [2, 10]), true);
  assert.equal(versionAtLeast('1.99.0', [2, 10]), false);
  assert.equal(versionAtLeast('garbage', [2, 10]), false);
});

const release = `Origin: Debian
Codename: trixie
MD5Sum:
 0123456789abcdef0123456789abcdef  9679304 main/binary-amd64/Packages.xz
SHA256:
 ${'a'.repeat(64)} 56634892 main/binary-amd64/Packages
 ${'b'.repeat(64)}  9679304 main/binary-amd64/Packages.xz
 ${'c'.repeat(64)}  8000000 main/binary-arm64/Packages.xz
Acquire-By-Hash: yes
`;

test('the SHA256 section of a Release file, not the MD5 one', () => {
  const sums = releaseSha256(release);
  assert.deepEqual(sums.get('main/binary-amd64/Packages.xz'), { sha256: 'b'.repeat(64), size: 9679304 });
  assert.deepEqual(sums.get('main/binary-arm64/Packages.xz'), { sha256: 'c'.repeat(64), size: 8000000 });
  assert.equal(sums.size, 3);
});

test('the signed text of a clearsigned file', () => {
  const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${release}-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n`;
  assert.equal(clearsignedBody(signed), release.slice(0, -1));
  assert.throws(() => clearsignedBody(release), /not a clearsigned/);
});

test('the package stanza for the wanted architecture only', () => {
  const packages = [
    'Package: nats-serverless\nVersion: 1.0\nArchitecture: amd64\nFilename: pool/main/n/x.deb',
    'Package: nats-server\nVersion: 2.10.27-1+b2\nArchitecture: arm64\nFilename: pool/main/n/nats-server/nats-server_2.10.27-1+b2_arm64.deb\nSHA256: 1111',
    'Package: nats-server\nSource: nats-server (2.10.27-1)\nVersion: 2.10.27-1+b2\nArchitecture: amd64\nDescription: High-Performance server for NATS.io (program)\nFilename: pool/main/n/nats-server/nats-server_2.10.27-1+b2_amd64.deb\nSize: 4502708\nSHA256: 2222',
  ].join('\n\n');
  const stanza = findPackageStanza(packages, 'nats-server', 'amd64');
  assert.equal(stanza?.get('Filename'), 'pool/main/n/nats-server/nats-server_2.10.27-1+b2_amd64.deb');
  assert.equal(stanza?.get('SHA256'), '2222');
  assert.equal(stanza?.get('Size'), '4502708');
  assert.equal(findPackageStanza(packages, 'nats-server', 'arm64')?.get('SHA256'), '1111');
  assert.equal(findPackageStanza(packages, 'nats-server', 'riscv64'), null);
});

test('the Debian mirror is taken from apt\'s sources, in either format, never the security archive', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  assert.equal(firstDebianUri('# deb http://old.example/debian bookworm main\ndeb [arch=amd64] http://one.example/debian/ bookworm main\n'), 'http://one.example/debian');
  assert.equal(firstDebianUri('Types: deb\nURIs: http://security.example/debian-security\n\nTypes: deb\nURIs: https://two.example/debian\nSuites: bookworm\n'), 'https://two.example/debian');
  assert.equal(firstDebianUri('deb-src http://three.example/debian bookworm main\n'), null);
  const root = mkdtempSync(join(tmpdir(), 'apt-sources-'));
  try {
    mkdirSync(join(root, 'sources.list.d'));
    writeFileSync(join(root, 'sources.list'), '# nothing here\n');
    writeFileSync(join(root, 'sources.list.d', 'debian.sources'), 'Types: deb\nURIs: http://four.example/debian\n');
    assert.equal(aptDebianMirror([join(root, 'sources.list'), join(root, 'sources.list.d')]), 'http://four.example/debian');
    assert.equal(aptDebianMirror([join(root, 'missing.list')]), null);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a download error names the path on the mirror, never the mirror host (errors reach the results file)', () => {
  assert.equal(mirrorPath('https://mirror.example.org/debian/pool/main/n/nats-server/nats-server_2.10.deb'), "<apt's Debian mirror>/debian/pool/main/n/nats-server/nats-server_2.10.deb");
  assert.equal(mirrorPath('not a url'), "<apt's Debian mirror>");
});
