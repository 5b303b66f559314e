/** The checker's output: readable lines (one per difference), or one JSON document for scripts. */
import type { CheckResult } from './compare.js';

export function reportText(result: CheckResult, declarationCount: number): string {
  const lines = result.differences.map((difference) => difference.text);
  for (const note of result.notes) lines.push(`note: ${note.text}`);
  const count = result.differences.length;
  const messages = new Set(result.differences.map((difference) => difference.message)).size;
  lines.push(count === 0
    ? `${plural(declarationCount, 'declaration')} agree${declarationCount === 1 ? 's' : ''} with Kafka's definitions`
    : `${plural(count, 'difference')} in ${messages} of ${plural(declarationCount, 'declaration')}`);
  return lines.join('\n') + '\n';
}

export function reportJson(result: CheckResult, kafkaTree: string): string {
  return JSON.stringify({ kafkaTree, differences: result.differences, notes: result.notes }, null, 2) + '\n';
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
