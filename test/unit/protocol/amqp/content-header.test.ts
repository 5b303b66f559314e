/**
 * Content-header payloads against amqplib's encoder and decoder of basic properties: every subset
 * of the fourteen properties (each seed its own), values random, both ways and byte for byte.
 * Then what a peer can get wrong: flags naming properties that do not exist, a class other than
 * basic, truncation, bytes left over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentHeaderPayload, decodeContentHeaderPayload, deliveryModeOfProperties, priorityOfProperties } from '../../../../src/protocol/amqp/content-header.js';
import type { BasicProperties } from '../../../../src/protocol/amqp/content-header.js';
import { basicProperties } from '../../../../src/protocol/amqp/classes/basic.js';
import type { FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import { MalformedInputError } from '../../../../src/protocol/wire/errors.js';
import { amqplibDefinitions, asAmqplibDecodes, framePayload, toAmqplibTable } from './amqplib-oracle.js';
import { domainValue, integer, seededRandom } from './random-values.js';
import type { Random } from './random-values.js';

const basicClassId = 60;

/** A random subset of the properties with random values; `mask` bit i keeps the i-th property. */
function randomProperties(random: Random, mask: number): BasicProperties {
  const properties: Record<string, unknown> = {};
  basicProperties.properties.forEach((property, index) => {
    if ((mask & (1 << index)) !== 0) properties[property.name] = domainValue(random, property.domain);
  });
  return properties as BasicProperties;
}

/** Our properties as amqplib takes them, and (`decoded`) as its decoder returns them. */
function toAmqplib(properties: BasicProperties, decoded: boolean): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (name === 'headers') fields[name] = decoded ? asAmqplibDecodes(value as FieldTable) : toAmqplibTable(value as FieldTable);
    else if (typeof value === 'bigint') fields[name] = Number(value);
    else fields[name] = value;
  }
  return fields;
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

test('the properties are declared in amqplib\'s order with its domains', () => {
  const info = amqplibDefinitions.info(basicClassId);
  assert.deepEqual(basicProperties.properties.map((property) => `${property.name} ${property.domain}`), info.args.map((arg) => `${arg.name} ${arg.type}`));
});

test('content headers with any subset of properties agree with amqplib both ways', () => {
  for (let seed = 1; seed <= 600; seed++) {
    const random = seededRandom(seed);
    const mask = seed <= 14 ? 1 << (seed - 1) : integer(random, 0, (1 << 14) - 1);
    const properties = randomProperties(random, mask);
    const bodySize = BigInt(integer(random, 0, 2 ** 40));
    const context = `seed ${seed}, mask ${mask.toString(2)}`;
    const theirs = framePayload(amqplibDefinitions.encodeProperties(basicClassId, 1, Number(bodySize), toAmqplib(properties, false)));
    assert.deepEqual(decodeContentHeaderPayload(theirs), { classId: basicClassId, weight: 0, bodySize, properties }, context);
    const ours = contentHeaderPayload({ bodySize, properties });
    assert.deepEqual(ours, theirs, context);
    assert.deepEqual(withoutUndefined(amqplibDefinitions.decode(basicClassId, ours.subarray(12))), toAmqplib(properties, true), context);
  }
});

test('the flags put content-type at bit 15 and cluster-id at bit 2', () => {
  const onlyContentType = contentHeaderPayload({ bodySize: 5n, properties: { contentType: 'text/plain' } });
  assert.equal(onlyContentType.readUInt16BE(12), 0x8000);
  const onlyClusterId = contentHeaderPayload({ bodySize: 5n, properties: { clusterId: 'c' } });
  assert.equal(onlyClusterId.readUInt16BE(12), 0x0004);
  assert.deepEqual(contentHeaderPayload({ bodySize: 0n, properties: {} }), Buffer.from([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
});

test('flags for properties that do not exist are malformed; an empty continuation is read', () => {
  const header = contentHeaderPayload({ bodySize: 1n, properties: { priority: 3 } });
  const bit1 = Buffer.from(header);
  bit1.writeUInt16BE(header.readUInt16BE(12) | 0x0002, 12);
  assert.throws(() => decodeContentHeaderPayload(bit1), /name properties that do not exist/);

  const withContinuation = (second: number) => {
    const bytes = Buffer.concat([header.subarray(0, 14), Buffer.alloc(2), header.subarray(14)]);
    bytes.writeUInt16BE(header.readUInt16BE(12) | 0x0001, 12);
    bytes.writeUInt16BE(second, 14);
    return bytes;
  };
  assert.deepEqual(decodeContentHeaderPayload(withContinuation(0)).properties, { priority: 3 });
  assert.throws(() => decodeContentHeaderPayload(withContinuation(0x8000)), /no properties past the first flags short/);
  // Continuation shorts that go on until the payload ends: malformed, not a loop.
  const endless = Buffer.concat([header.subarray(0, 12), Buffer.from([0x10, 0x01, 0, 1, 0, 1, 0, 1])]);
  assert.throws(() => decodeContentHeaderPayload(endless), MalformedInputError);
});

test('a content header of a class other than basic is malformed', () => {
  const header = Buffer.from(contentHeaderPayload({ bodySize: 0n, properties: {} }));
  header.writeUInt16BE(50, 0);
  assert.throws(() => decodeContentHeaderPayload(header), /content header of class 50/);
});

test('a header cut short anywhere is malformed, and so are bytes after its last property', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const header = contentHeaderPayload({ bodySize: 10n, properties: randomProperties(random, integer(random, 0, (1 << 14) - 1)) });
    for (let length = 0; length < header.length; length++) {
      assert.throws(() => decodeContentHeaderPayload(header.subarray(0, length)), MalformedInputError, `seed ${seed}: ${length} of ${header.length} bytes`);
    }
    assert.throws(() => decodeContentHeaderPayload(Buffer.concat([header, Buffer.alloc(1)])), /bytes after the last property/);
  }
});

test('the priority read from raw property bytes is what the decoder reads, whatever comes before it; undefined when cut short', () => {
  let withPriority = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const random = seededRandom(seed);
    const properties = randomProperties(random, integer(random, 0, (1 << 14) - 1));
    const raw = contentHeaderPayload({ bodySize: 1n, properties }).subarray(12);
    assert.equal(priorityOfProperties(raw), decodeContentHeaderPayload(contentHeaderPayload({ bodySize: 1n, properties })).properties.priority, `seed ${seed}`);
    if (properties.priority === undefined) continue;
    withPriority++;
    // A continuation flags short (empty) is stepped over.
    const continued = Buffer.concat([raw.subarray(0, 2), Buffer.alloc(2), raw.subarray(2)]);
    continued.writeUInt16BE(raw.readUInt16BE(0) | 0x0001, 0);
    assert.equal(priorityOfProperties(continued), properties.priority, `seed ${seed}, continued`);
    for (let length = 0; length < raw.length; length++) {
      const read = priorityOfProperties(raw.subarray(0, length));
      assert.ok(read === undefined || read === properties.priority, `seed ${seed}: ${length} of ${raw.length} bytes`);
    }
  }
  assert.ok(withPriority > 200);
});

test('the delivery mode read from raw property bytes is what the decoder reads, whatever comes before it', () => {
  let withMode = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const random = seededRandom(seed);
    const properties = randomProperties(random, integer(random, 0, (1 << 14) - 1));
    const raw = contentHeaderPayload({ bodySize: 1n, properties }).subarray(12);
    assert.equal(deliveryModeOfProperties(raw), properties.deliveryMode, `seed ${seed}`);
    if (properties.deliveryMode !== undefined) withMode++;
  }
  assert.ok(withMode > 200);
});
