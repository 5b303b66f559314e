/**
 * kafkajs as an oracle for our message declarations: its request encoders and response decoders
 * are hand-written per version by other people, so agreeing with them is evidence, not circularity.
 *
 * kafkajs request objects expose `encode(): Promise<Encoder>`; the Encoder's `buffer` is the bare
 * request body (kafkajs adds the request header elsewhere, in protocol/request.js). Response
 * `decode(payload)` takes the body after the response header. Its Decoder never checks that a body
 * was read to the end, so `decodeResponseWithKafkajs` also asserts that, by watching the decoder
 * that reads our bytes.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { MessageCodec } from '../../../../src/protocol/kafka/codec.js';
import type { Decoded, Encodable, MessageSchema } from '../../../../src/protocol/kafka/schema.js';
import { Reader } from '../../../../src/protocol/wire/reader.js';
import { Writer } from '../../../../src/protocol/wire/writer.js';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  readonly buffer: Buffer;
}
interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  encode(): Promise<KafkajsEncoder> | KafkajsEncoder;
}
interface KafkajsResponse {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}
interface KafkajsRequestModule {
  readonly versions: readonly string[];
  protocol(options: { version: number }): (parameters: object) => { request: KafkajsRequest; response: KafkajsResponse };
}
interface KafkajsDecoderInstance {
  readonly buffer: Buffer;
  offset: number;
}
type KafkajsDecoderClass = { prototype: Record<string, unknown> };

/** Decoders constructed over the exact buffer being checked. */
const watchedBuffers = new Map<Buffer, Set<KafkajsDecoderInstance>>();

function watchKafkajsDecoder(): void {
  const Decoder = require('kafkajs/src/protocol/decoder.js') as KafkajsDecoderClass;
  const prototype = Decoder.prototype;
  if (prototype['__ospreyWatched'] === true) return;
  prototype['__ospreyWatched'] = true;
  for (const name of Object.getOwnPropertyNames(prototype)) {
    const original = prototype[name];
    if (!name.startsWith('read') || typeof original !== 'function') continue;
    prototype[name] = function watched(this: KafkajsDecoderInstance, ...args: unknown[]): unknown {
      watchedBuffers.get(this.buffer)?.add(this);
      return (original as (...inner: unknown[]) => unknown).apply(this, args);
    };
  }
}

function kafkajsModule(apiDirectory: string): KafkajsRequestModule {
  return require(`kafkajs/src/protocol/requests/${apiDirectory}/index.js`) as KafkajsRequestModule;
}

/** The request body kafkajs sends for `parameters` at `version` (no request header). */
export async function encodeRequestWithKafkajs(apiDirectory: string, version: number, parameters: object): Promise<Buffer> {
  const module = kafkajsModule(apiDirectory);
  assert.ok(module.versions.includes(String(version)), `kafkajs has no ${apiDirectory} v${version}`);
  const { request } = module.protocol({ version })(parameters);
  assert.equal(request.apiVersion, version);
  const encoder = await request.encode();
  return encoder.buffer;
}

/** kafkajs's decoding of a response body, after checking it read every byte. */
export async function decodeResponseWithKafkajs(apiDirectory: string, version: number, payload: Buffer): Promise<unknown> {
  watchKafkajsDecoder();
  const { response } = kafkajsModule(apiDirectory).protocol({ version })({});
  const decoders = new Set<KafkajsDecoderInstance>();
  watchedBuffers.set(payload, decoders);
  try {
    const decoded = await response.decode(payload);
    assert.ok(decoders.size > 0, 'kafkajs did not read the payload');
    for (const decoder of decoders) assert.equal(decoder.offset, payload.length, `kafkajs ${apiDirectory} v${version} left bytes unread`);
    return decoded;
  } finally {
    watchedBuffers.delete(payload);
  }
}

/** Decodes with our codec and checks the whole body was consumed. */
export function decodeAll<S extends MessageSchema>(codec: MessageCodec<S>, version: number, bytes: Buffer): Decoded<S> {
  const reader = new Reader(bytes);
  const decoded = codec.decode(version, reader);
  assert.equal(reader.remaining, 0, `${codec.schema.name} ${codec.schema.type} v${version} left ${reader.remaining} bytes`);
  return decoded;
}

export function encodeToBuffer<S extends MessageSchema>(codec: MessageCodec<S>, version: number, value: Encodable<S>): Buffer {
  const writer = new Writer();
  codec.encode(version, value, writer);
  return writer.toBuffer();
}

/** A 16-byte topic id that is not all zeros. */
export function sampleUuid(seed: number): Buffer {
  return Buffer.from(Array.from({ length: 16 }, (_, index) => (seed * 31 + index * 7) & 0xff));
}
