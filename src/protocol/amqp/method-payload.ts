/**
 * The payload of an AMQP 0-9-1 method frame (frame type 1), decoded into a typed method and encoded
 * back. The frame around it (type, channel, size, frame-end octet) is the frame reader's business.
 *
 *   0          2           4
 *   +----------+-----------+------------------------------------------+
 *   | class id | method id | arguments, in declaration order          |
 *   | short    | short     | (consecutive bits packed into octets)    |
 *   +----------+-----------+------------------------------------------+
 *
 * Three outcomes when decoding, for the connection to turn into its answer later:
 *   - a method: `AmqpMethod`, its arguments typed by its declaration in classes/;
 *   - an `UnknownMethod` value (not thrown) when the class or method id is not declared: the
 *     connection closes with 540 NOT_IMPLEMENTED, since the id may name a real method we do not
 *     implement (access.request, the old file and stream classes). 503 COMMAND_INVALID is for a
 *     declared method sent by the wrong peer or at the wrong time (see `sender` in schema.ts), which
 *     the connection decides, not the codec;
 *   - MalformedInputError (thrown by the Reader) when the arguments do not fit the payload or bytes
 *     are left over: a frame error, 501 FRAME_ERROR, which closes the connection.
 */
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { MalformedInputError } from '../wire/errors.js';
import { decodeMethodArguments, encodeMethodPayload } from './generated/index.js';
import type { AmqpMethod } from './generated/index.js';
import { replyCodes } from './reply-codes.js';
import { frameEndOctet, frameHeaderBytes, frameTypes } from './frame-reader.js';

export type { AmqpMethod } from './generated/index.js';
export { encodeMethodPayload, methodDeclarations } from './generated/index.js';

/** A method frame whose class and method ids no declaration has. */
export interface UnknownMethod {
  readonly name: 'unknown';
  readonly classId: number;
  readonly methodId: number;
  /** What the connection answers with (connection.close). */
  readonly replyCode: typeof replyCodes.notImplemented;
}

/** The method a method frame's payload carries; throws MalformedInputError when it cannot be parsed. */
export function decodeMethodPayload(payload: Buffer): AmqpMethod | UnknownMethod {
  const reader = new Reader(payload);
  const classId = reader.uint16();
  const methodId = reader.uint16();
  const method = decodeMethodArguments(classId, methodId, reader);
  if (method === undefined) return { name: 'unknown', classId, methodId, replyCode: replyCodes.notImplemented };
  if (reader.remaining !== 0) throw new MalformedInputError(`${method.name}: ${reader.remaining} bytes after the last argument`);
  return method;
}

/**
 * A whole method frame (type 1, channel, size, payload, frame-end octet: frame-reader.ts), encoded in
 * one pass into one buffer: the size is patched in once the payload is written.
 */
export function methodFrame(channel: number, method: AmqpMethod): Buffer {
  const writer = new Writer();
  writer.uint8(frameTypes.method);
  writer.uint16(channel);
  writer.int32(0);
  encodeMethodPayload(method, writer);
  writer.patchInt32(frameHeaderBytes - 4, writer.length - frameHeaderBytes);
  writer.uint8(frameEndOctet);
  return writer.toBuffer();
}

/** A method frame's payload as one buffer. */
export function methodPayload(method: AmqpMethod): Buffer {
  const writer = new Writer();
  encodeMethodPayload(method, writer);
  return writer.toBuffer();
}
