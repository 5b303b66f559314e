/**
 * Method frames as the connection sees them: decoded into methods with the AMQP error each kind of
 * bad payload earns (an undeclared class or method: 540 NOT_IMPLEMENTED; arguments that do not fit
 * the payload: 501 FRAME_ERROR, as method-payload.ts describes), and the declaration facts the
 * connection checks (which peer sends a method; its class and method ids, blamed in closes).
 */
import { decodeMethodPayload, methodDeclarations } from '../../protocol/amqp/method-payload.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import type { Sender } from '../../protocol/amqp/schema.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { MalformedInputError } from '../../protocol/wire/errors.js';
import { AmqpConnectionError } from './errors.js';

/** The class and method ids a close names as the method that failed (0, 0: none in particular). */
export interface MethodIds {
  readonly classId: number;
  readonly methodId: number;
}

export const noMethod: MethodIds = { classId: 0, methodId: 0 };

const declarationByName = new Map(methodDeclarations.map((declaration) => [declaration.name, declaration]));

export function idsOf(method: AmqpMethod): MethodIds {
  const declaration = declarationByName.get(method.name);
  return declaration === undefined ? noMethod : { classId: declaration.classId, methodId: declaration.methodId };
}

export function senderOf(method: AmqpMethod): Sender {
  return declarationByName.get(method.name)?.sender ?? 'both';
}

/** A method frame's method; a payload that is not one throws AmqpConnectionError (with the ids it names, when readable). */
export function decodeMethodFrame(payload: Buffer): { readonly method: AmqpMethod } | { readonly error: AmqpConnectionError; readonly ids: MethodIds } {
  const ids = payload.length >= 4 ? { classId: payload.readUInt16BE(0), methodId: payload.readUInt16BE(2) } : noMethod;
  try {
    const decoded = decodeMethodPayload(payload);
    if (decoded.name === 'unknown') {
      return { error: new AmqpConnectionError(replyCodes.notImplemented, `NOT_IMPLEMENTED - unknown method: class ${decoded.classId}, method ${decoded.methodId}`), ids };
    }
    return { method: decoded };
  } catch (error) {
    if (!(error instanceof MalformedInputError)) throw error;
    return { error: new AmqpConnectionError(replyCodes.frameError, `FRAME_ERROR - cannot decode method frame (class ${ids.classId}, method ${ids.methodId}): ${error.message}`), ids };
  }
}
