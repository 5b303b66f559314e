/**
 * Schema features the generator supports but no declaration in messages/ uses yet: a field plain
 * in early versions and tagged in later ones, a nullable struct (int8 marker), a nullable string
 * whose default is not null, a tagged struct with tagged fields of its own (sized without a
 * scratch Writer), a tagged array of strings. The codec of a made-up message (codegen-sample.ts) is
 * generated, turned into JavaScript by the TypeScript compiler, imported, and checked against bytes
 * written by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { emitCodecFile } from '../../../src/protocol/kafka/codegen/emit-codec.js';
import type { MessageCodec } from '../../../src/protocol/kafka/codec.js';
import { sampleRequest } from './codegen-sample.js';
import { Reader } from '../../../src/protocol/wire/reader.js';
import { Writer } from '../../../src/protocol/wire/writer.js';

type Sample = MessageCodec<typeof sampleRequest>;

/** Generates, transpiles and imports the codec, its imports pointed at the compiled project. */
async function loadGeneratedCodec(): Promise<Sample> {
  const source = emitCodecFile('sample.ts', [{ exportName: 'sampleRequest', schema: sampleRequest }], '// generated for a test');
  const javascript = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } })
    .outputText.replace("'../codec-runtime.js'", `'${new URL('../../../src/protocol/kafka/codec-runtime.js', import.meta.url).href}'`)
    .replace("'../messages/sample.js'", `'${new URL('./codegen-sample.js', import.meta.url).href}'`);
  const directory = mkdtempSync(join(tmpdir(), 'osprey-codegen-'));
  try {
    const file = join(directory, 'sample.mjs');
    writeFileSync(file, javascript);
    const module = (await import(pathToFileURL(file).href)) as { sampleRequestCodec: Sample };
    return module.sampleRequestCodec;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const codec = await loadGeneratedCodec();

function encode(version: number, value: Parameters<Sample['encode']>[1]): Buffer {
  const writer = new Writer(16);
  codec.encode(version, value, writer);
  return writer.toBuffer();
}

test('v0: the field tagged later is a plain string; the nullable string keeps an explicit null', () => {
  const bytes = encode(0, { note: 'hi', label: null });
  assert.deepEqual(bytes, Buffer.from([0, 2, 0x68, 0x69, 0xff, 0xff]));
  assert.deepEqual(codec.decode(0, new Reader(bytes)), { note: 'hi', label: null, leader: null, extra: { weight: 0, names: [] } });
  // Left out, the nullable string takes its default, not null.
  assert.equal(codec.decode(0, new Reader(encode(0, {}))).label, 'none');
});

test('v1: a nullable struct is preceded by its int8 marker', () => {
  assert.deepEqual(encode(1, { label: 'a', leader: null }).subarray(5), Buffer.from([0xff]));
  const bytes = encode(1, { label: 'a', leader: { id: 5 } });
  assert.deepEqual(bytes.subarray(5), Buffer.from([1, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(codec.decode(1, new Reader(bytes)).leader, { id: 5, epoch: -1 });
});

test('v3: tagged fields, one a struct with a tagged array of its own, are sized and written in place', () => {
  const bytes = encode(3, { note: 'n', label: 'a', leader: null, extra: { weight: 2, names: ['x', 'yz'] } });
  const expected = Buffer.from([
    2, 0x61, // label: compact string "a"
    0xff, // leader: int8 -1, null
    2, // two tagged fields
    0, 2, 2, 0x6e, // tag 0 (note), 2 bytes: compact "n"
    1, 11, // tag 1 (extra), 11 bytes:
    0, 2, //   weight int16 2
    1, 7, 6, 3, 2, 0x78, 3, 0x79, 0x7a, //   its tagged section: one field, tag 7 (names), 6 bytes: [ "x", "yz" ]
  ]);
  assert.deepEqual(bytes, expected);
  const decoded = codec.decode(3, new Reader(bytes));
  assert.deepEqual(decoded, { note: 'n', label: 'a', leader: null, extra: { weight: 2, names: ['x', 'yz'] } });
});

test('defaults are not written as tagged fields, and decode back', () => {
  const bytes = encode(2, { label: 'a', leader: { id: 1, epoch: 2 } });
  assert.deepEqual(bytes, Buffer.from([2, 0x61, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]));
  assert.deepEqual(codec.decode(2, new Reader(bytes)), { note: '', label: 'a', leader: { id: 1, epoch: 2 }, extra: { weight: 0, names: [] } });
});

test('a request value a version cannot carry throws RangeError; bad bytes throw MalformedInputError', () => {
  // As before generation, a struct a version does not have is left out rather than refused.
  assert.deepEqual(encode(0, { label: 'a', leader: { id: 1 } }), encode(0, { label: 'a' }));
  assert.throws(() => encode(2, { label: 'a', extra: { names: ['x'] } }), /field names has a non-default value but version 2 cannot carry it/);
  assert.throws(() => codec.decode(3, new Reader(Buffer.from([2, 0x61, 0, 1, 0, 5]))), { name: 'MalformedInputError' });
  assert.throws(() => codec.decode(4, new Reader(Buffer.alloc(0))), RangeError);
});
