/**
 * KIP-848 regex subscriptions (SubscribedTopicRegex): RE2 syntax, as Kafka's (RE2/J), compiled with
 * re2js and matched against whole topic names. Matching takes time linear in the name whatever the
 * expression, so a member's regex cannot make the broker backtrack.
 */
import { RE2JS } from 're2js';

/** Longest SubscribedTopicRegex taken (a member's subscription is kept as long as it lives). */
export const maxRegexLength = 4096;

/** The compiled regex; a string saying why it is not one. */
export function compileTopicRegex(source: string): RE2JS | string {
  if (source.length > maxRegexLength) return `SubscribedTopicRegex longer than ${maxRegexLength} characters`;
  try {
    return RE2JS.compile(source);
  } catch (error) {
    return `SubscribedTopicRegex ${JSON.stringify(source)} is invalid: ${(error as Error).message}`;
  }
}
