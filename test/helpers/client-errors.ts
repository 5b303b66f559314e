/**
 * Errors as Kafka clients throw them (KafkaJS wraps, @platformatic/kafka aggregates): finding a
 * Kafka error name anywhere in the tree, printing every message in it, and asserting a rejection.
 */
import assert from 'node:assert/strict';

/**
 * Whether `error`, or an error it wraps or aggregates, carries `wanted` as its KafkaJS type, its
 * name, or its @platformatic/kafka code or apiId.
 */
export function errorTreeHas(error: unknown, wanted: string, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 10) return false;
  const fields = error as Error & { type?: unknown; code?: unknown; apiId?: unknown };
  if ([fields.type, fields.name, fields.code, fields.apiId].includes(wanted)) return true;
  return childErrors(error).some((child) => errorTreeHas(child, wanted, depth + 1));
}

/** The errors an error wraps: KafkaJS's originalError and per-partition errors, aggregates' errors, causes. */
export function childErrors(error: Error): unknown[] {
  const fields = error as Error & { errors?: unknown; cause?: unknown; originalError?: unknown; partitions?: unknown };
  const partitions = Array.isArray(fields.partitions) ? (fields.partitions as Array<{ error?: unknown }>).map((partition) => partition.error) : [];
  return [...(Array.isArray(fields.errors) ? (fields.errors as unknown[]) : []), ...partitions, fields.cause, fields.originalError];
}

/** Every message in an error tree, to check what the broker said. */
export function errorTreeText(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 10) return '';
  const fields = error as Error & { response?: unknown };
  const children = childErrors(error);
  const response = fields.response === undefined ? '' : JSON.stringify(fields.response, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
  return [error.message, response, ...children.map((child) => errorTreeText(child, depth + 1))].join('\n');
}

/** `work` rejects with `errorName` somewhere in its error tree (and `messagePart` in its messages). */
export async function rejectsWith(work: Promise<unknown>, errorName: string, messagePart?: RegExp): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(errorTreeHas(error, errorName), `expected ${errorName}, got:\n${errorTreeText(error)}`);
    if (messagePart !== undefined) assert.match(errorTreeText(error), messagePart);
    return true;
  });
}
