/**
 * Method payloads against amqplib's generated codecs (lib/defs.js): our declarations name the same
 * methods with the same ids and the same argument domains in the same order, and for every method,
 * with representative and random arguments, amqplib's payload decodes to our arguments and ours is
 * byte for byte amqplib's. Then what a peer can get wrong: unknown ids (a 540 value), truncated
 * payloads and bytes left over (MalformedInputError).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMethodPayload, methodDeclarations, methodPayload } from '../../../../src/protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../../../src/protocol/amqp/method-payload.js';
import type { FieldTable } from '../../../../src/protocol/amqp/field-table.js';
import type { MethodDeclaration } from '../../../../src/protocol/amqp/schema.js';
import { MalformedInputError } from '../../../../src/protocol/wire/errors.js';
import { amqplibDefinitions, amqplibMethods, asAmqplibDecodes, framePayload, toAmqplibTable } from './amqplib-oracle.js';
import type { AmqplibMethodInfo } from './amqplib-oracle.js';
import { domainValue, seededRandom } from './random-values.js';
import type { Random } from './random-values.js';

const methodId = (declaration: MethodDeclaration) => declaration.classId * 65536 + declaration.methodId;

/** amqplib's PascalCase name of a method: "basic.recover-async" → "BasicRecoverAsync". */
function amqplibName(name: string): string {
  return name.split(/[.-]/).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
}

function amqplibInfo(declaration: MethodDeclaration): AmqplibMethodInfo {
  return amqplibDefinitions.info(methodId(declaration));
}

function randomArguments(declaration: MethodDeclaration, random: Random): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const argument of declaration.arguments) values[argument.name] = domainValue(random, argument.domain);
  return values;
}

/** Our arguments as amqplib's encoder takes them (by position: amqplib names a few differently). */
function toAmqplibFields(declaration: MethodDeclaration, values: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  amqplibInfo(declaration).args.forEach((info, index) => {
    const argument = declaration.arguments[index]!;
    const value = values[argument.name];
    if (argument.domain === 'table') fields[info.name] = toAmqplibTable(value as FieldTable);
    else if (argument.domain === 'longlong' || argument.domain === 'timestamp') fields[info.name] = Number(value as bigint);
    else fields[info.name] = value;
  });
  return fields;
}

/** What amqplib's decoder returns for our arguments. */
function asAmqplibDecodesFields(declaration: MethodDeclaration, values: Record<string, unknown>): Record<string, unknown> {
  const fields = toAmqplibFields(declaration, values);
  amqplibInfo(declaration).args.forEach((info, index) => {
    if (declaration.arguments[index]!.domain === 'table') fields[info.name] = asAmqplibDecodes(values[declaration.arguments[index]!.name] as FieldTable);
  });
  return fields;
}

function asMethod(declaration: MethodDeclaration, values: Record<string, unknown>): AmqpMethod {
  // The declaration decides the shape; the random values follow it argument by argument.
  return { name: declaration.name, arguments: values } as AmqpMethod;
}

test('the declarations are every method amqplib knows (but the access class, gone from 0-9-1), with its ids and domains', () => {
  const ours = methodDeclarations.map((declaration) => `${declaration.classId}.${declaration.methodId} ${amqplibName(declaration.name)}`).sort();
  const theirs = amqplibMethods()
    .filter((info) => info.classId !== 30)
    .map((info) => `${info.classId}.${info.methodId} ${info.name}`)
    .sort();
  assert.deepEqual(ours, theirs);
  assert.equal(ours.length, 64, '14 connection, 6 channel, 8 exchange, 10 queue, 18 basic, 2 confirm, 6 tx');
  for (const declaration of methodDeclarations) {
    assert.deepEqual(declaration.arguments.map((argument) => argument.domain), amqplibInfo(declaration).args.map((info) => info.type), declaration.name);
  }
});

test('every method decodes from amqplib\'s payload and encodes to the same bytes, with random arguments', () => {
  for (const declaration of methodDeclarations) {
    for (let seed = 1; seed <= 40; seed++) {
      const values = randomArguments(declaration, seededRandom(seed * 1000 + declaration.methodId));
      const context = `${declaration.name}, seed ${seed}`;
      const theirs = framePayload(amqplibDefinitions.encodeMethod(methodId(declaration), 1, toAmqplibFields(declaration, values)));
      assert.deepEqual(decodeMethodPayload(theirs), { name: declaration.name, arguments: values }, context);
      const ours = methodPayload(asMethod(declaration, values));
      assert.deepEqual(ours, theirs, context);
      assert.deepEqual(amqplibDefinitions.decode(methodId(declaration), ours.subarray(4)), asAmqplibDecodesFields(declaration, values), context);
    }
  }
});

test('bits pack into octets from the lowest bit, each run of them sharing an octet', () => {
  const payload = methodPayload({
    name: 'queue.declare',
    arguments: { reserved1: 0, queue: 'q', passive: false, durable: true, exclusive: false, autoDelete: true, noWait: true, arguments: new Map() },
  });
  //   class 50      method 10   reserved-1  "q"         bits 0b11010  empty table
  assert.deepEqual(payload, Buffer.from([0, 50, 0, 10, 0, 0, 1, 0x71, 0b11010, 0, 0, 0, 0]));
  const decoded = decodeMethodPayload(payload);
  assert.ok(decoded.name === 'queue.declare');
  assert.equal(decoded.arguments.durable, true);
  assert.equal(decoded.arguments.passive, false);
});

test('a method id no declaration has is a 540 NOT_IMPLEMENTED value, not an exception', () => {
  assert.deepEqual(decodeMethodPayload(Buffer.from([0, 30, 0, 10, 1, 0x2f])), { name: 'unknown', classId: 30, methodId: 10, replyCode: 540 });
  assert.deepEqual(decodeMethodPayload(Buffer.from([0, 60, 0, 99])), { name: 'unknown', classId: 60, methodId: 99, replyCode: 540 });
  assert.deepEqual(decodeMethodPayload(Buffer.from([0xff, 0xff, 0xff, 0xff])), { name: 'unknown', classId: 65535, methodId: 65535, replyCode: 540 });
});

test('every method\'s payload cut short anywhere is malformed, and so are bytes after its last argument', () => {
  for (const declaration of methodDeclarations) {
    const payload = methodPayload(asMethod(declaration, randomArguments(declaration, seededRandom(declaration.methodId))));
    for (let length = 0; length < payload.length; length++) {
      assert.throws(() => decodeMethodPayload(payload.subarray(0, length)), MalformedInputError, `${declaration.name}: ${length} of ${payload.length} bytes`);
    }
    assert.throws(() => decodeMethodPayload(Buffer.concat([payload, Buffer.alloc(1)])), /bytes after the last argument/, declaration.name);
  }
});

test('a bad table inside a method\'s arguments is malformed', () => {
  const payload = methodPayload({
    name: 'exchange.declare',
    arguments: { reserved1: 0, exchange: 'x', type: 'topic', passive: false, durable: false, autoDelete: false, internal: false, noWait: false, arguments: new Map([['k', { type: 'void' }]]) },
  });
  const badTag = Buffer.from(payload);
  badTag[badTag.length - 1] = 0x51; // 'Q': no such type
  assert.throws(() => decodeMethodPayload(badTag), MalformedInputError);
});

test('random payloads never escape as anything but a method, an unknown method or MalformedInputError', () => {
  const random = seededRandom(11);
  for (let attempt = 0; attempt < 3000; attempt++) {
    const declaration = methodDeclarations[Math.floor(random() * methodDeclarations.length)]!;
    const payload = Buffer.from(methodPayload(asMethod(declaration, randomArguments(declaration, random))));
    if (payload.length === 0) continue;
    payload[Math.floor(random() * payload.length)] = Math.floor(random() * 256);
    try {
      decodeMethodPayload(payload);
    } catch (error) {
      if (!(error instanceof MalformedInputError)) throw error;
    }
  }
});

test('encoding a shortstr longer than 255 bytes is our bug and throws RangeError', () => {
  assert.throws(() => methodPayload({ name: 'basic.consume-ok', arguments: { consumerTag: 'é'.repeat(128) } }), RangeError);
  assert.doesNotThrow(() => methodPayload({ name: 'basic.consume-ok', arguments: { consumerTag: 'x'.repeat(255) } }));
});
