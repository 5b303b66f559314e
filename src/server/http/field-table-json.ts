/**
 * AMQP field tables (protocol/amqp/field-table.ts) to and from JSON, for the admin API: the
 * `arguments` of exchanges, queues and bindings, and the `headers` of messages.
 *
 *   JSON                          → field value        field value                → JSON
 *   string                          longString         longString                   string (UTF-8)
 *   integer in int32 range          int32              bytes                        string (base64)
 *   other safe integer              int64              boolean                      boolean
 *   other number                    float64            int8 … uint32, floats        number
 *   boolean                         boolean            int64, timestamp (seconds)   number, or a string
 *   null                            void                                               of digits past 2^53
 *   object                          table              decimal                      number (unscaled / 10^scale)
 *   array                           array              table / array / void         object / array / null
 *
 * Integers take int32 when they fit and int64 otherwise, as the Java client (Integer, Long) and pika
 * encode them; amqplib picks the smallest signed type instead (int8 for 10), and the queue broker
 * compares declared arguments byte for byte, so such a declaration is not equivalent to ours. JSON
 * in is untrusted: nesting and the number of values are bounded as on the wire
 * (defaultFieldTableLimits).
 */
import { defaultFieldTableLimits } from '../../protocol/amqp/field-table.js';
import type { FieldTable, FieldTableLimits, FieldValue } from '../../protocol/amqp/field-table.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A JSON value that cannot become a field table; its message names the offending path. */
export class FieldTableJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FieldTableJsonError';
  }
}

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const maxNameBytes = 255;

export function fieldTableToJson(table: FieldTable): JsonObject {
  const result: JsonObject = {};
  // defineProperty, not assignment: a peer's header named "__proto__" must stay a plain entry.
  for (const [name, value] of table) Object.defineProperty(result, name, { value: fieldValueToJson(value), enumerable: true, writable: true, configurable: true });
  return result;
}

export function fieldValueToJson(value: FieldValue): JsonValue {
  switch (value.type) {
    case 'boolean':
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float32':
    case 'float64':
      return value.value;
    case 'int64':
    case 'timestamp':
      return bigintToJson(value.value);
    case 'decimal':
      return value.unscaledValue / 10 ** value.scale;
    case 'longString':
      return value.value.toString('utf8');
    case 'bytes':
      return value.value.toString('base64');
    case 'array':
      return value.value.map(fieldValueToJson);
    case 'table':
      return fieldTableToJson(value.value);
    case 'void':
      return null;
  }
}

function bigintToJson(value: bigint): number | string {
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

interface Budget {
  readonly limits: FieldTableLimits;
  valuesLeft: number;
}

/** The field table of a JSON object; `what` names it in errors ("arguments"). A missing value (undefined) is the empty table. */
export function fieldTableFromJson(json: unknown, what: string, limits: FieldTableLimits = defaultFieldTableLimits): FieldTable {
  if (json === undefined) return new Map();
  return tableFromJson(json, what, { limits, valuesLeft: limits.maxValues }, 1);
}

function tableFromJson(json: unknown, path: string, budget: Budget, depth: number): FieldTable {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FieldTableJsonError(`${path}: expected an object`);
  enter(path, budget, depth);
  const table = new Map<string, FieldValue>();
  for (const [name, value] of Object.entries(json)) {
    if (Buffer.byteLength(name, 'utf8') > maxNameBytes) throw new FieldTableJsonError(`${path}: the name '${name.slice(0, 40)}…' is longer than ${maxNameBytes} bytes`);
    spend(path, budget);
    table.set(name, valueFromJson(value, `${path}.${name}`, budget, depth));
  }
  return table;
}

function valueFromJson(json: unknown, path: string, budget: Budget, depth: number): FieldValue {
  if (json === null) return { type: 'void' };
  if (typeof json === 'boolean') return { type: 'boolean', value: json };
  if (typeof json === 'string') return { type: 'longString', value: Buffer.from(json, 'utf8') };
  if (typeof json === 'number') return numberValue(json, path);
  if (Array.isArray(json)) {
    enter(path, budget, depth + 1);
    return {
      type: 'array',
      value: json.map((element: unknown, index) => {
        spend(path, budget);
        return valueFromJson(element, `${path}[${index}]`, budget, depth + 1);
      }),
    };
  }
  if (typeof json === 'object') return { type: 'table', value: tableFromJson(json, path, budget, depth + 1) };
  throw new FieldTableJsonError(`${path}: a ${typeof json} has no field table type`);
}

function numberValue(value: number, path: string): FieldValue {
  if (!Number.isFinite(value)) throw new FieldTableJsonError(`${path}: not a finite number`);
  if (Number.isInteger(value) && value >= int32Min && value <= int32Max) return { type: 'int32', value };
  if (Number.isSafeInteger(value)) return { type: 'int64', value: BigInt(value) };
  return { type: 'float64', value };
}

function enter(path: string, budget: Budget, depth: number): void {
  if (depth > budget.limits.maxDepth) throw new FieldTableJsonError(`${path}: nested deeper than ${budget.limits.maxDepth} tables and arrays`);
}

function spend(path: string, budget: Budget): void {
  budget.valuesLeft -= 1;
  if (budget.valuesLeft < 0) throw new FieldTableJsonError(`${path}: more than ${budget.limits.maxValues} values`);
}
