/**
 * Equality of field tables and field values by content, as binding identity needs it: two bindings
 * whose argument tables hold the same names with the same typed values are the same binding,
 * whatever order the names came in. Values are equal when they have the same wire type and the
 * same value: an int32 1 is not a uint32 1, byte strings compare by their bytes, arrays element by
 * element in order, nested tables name by name. Floating-point values compare with Object.is, so
 * NaN equals NaN and 0 differs from -0, as their encodings do.
 */
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';

export function fieldTablesEqual(left: FieldTable, right: FieldTable): boolean {
  if (left === right) return true;
  if (left.size !== right.size) return false;
  for (const [name, leftValue] of left) {
    const rightValue = right.get(name);
    if (rightValue === undefined || !fieldValuesEqual(leftValue, rightValue)) return false;
  }
  return true;
}

export function fieldValuesEqual(left: FieldValue, right: FieldValue): boolean {
  switch (left.type) {
    case 'void':
      return right.type === 'void';
    case 'decimal':
      return right.type === 'decimal' && left.scale === right.scale && left.unscaledValue === right.unscaledValue;
    case 'longString':
    case 'bytes':
      return right.type === left.type && left.value.equals(right.value);
    case 'array':
      return right.type === 'array' && fieldArraysEqual(left.value, right.value);
    case 'table':
      return right.type === 'table' && fieldTablesEqual(left.value, right.value);
    default:
      // boolean, the integer and floating-point types, int64 and timestamp (bigints): one value each.
      return right.type === left.type && 'value' in right && Object.is(left.value, right.value);
  }
}

function fieldArraysEqual(left: readonly FieldValue[], right: readonly FieldValue[]): boolean {
  if (left.length !== right.length) return false;
  for (let index = 0; index < left.length; index++) {
    if (!fieldValuesEqual(left[index]!, right[index]!)) return false;
  }
  return true;
}
