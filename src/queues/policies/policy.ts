/**
 * A policy (RabbitMQ's): a named rule of a virtual host whose pattern, a regular expression, is
 * searched for in the names of queues and exchanges, and whose definition then sets what those
 * queues' `x-` arguments (and exchanges' `alternate-exchange`) would otherwise set. At most one
 * policy applies to an entity: of those whose pattern and apply-to match it, the one of highest
 * priority (ties: the name that sorts first, so the choice does not depend on history).
 *
 *   field        JSON (admin API)              meaning
 *   pattern      string, a regular expression   searched for (not anchored) in the entity's name
 *   apply-to     string, default "all"          queues | exchanges | all | classic_queues | quorum_queues | streams
 *   priority     integer, default 0             higher wins; negative for blanket policies
 *   definition   object, at least one key       the keys below
 *
 *   definition key             value                      for       (its x- argument)
 *   max-length                 integer ≥ 0                queues    x-max-length
 *   max-length-bytes           integer ≥ 0                queues    x-max-length-bytes
 *   overflow                   drop-head | reject-publish | reject-publish-dlx
 *                                                         queues    x-overflow
 *   message-ttl                integer ≥ 0 (ms)           queues    x-message-ttl
 *   expires                    integer ≥ 1 (ms)           queues    x-expires
 *   dead-letter-exchange       string                     queues    x-dead-letter-exchange
 *   dead-letter-routing-key    string                     queues    x-dead-letter-routing-key
 *   delivery-limit             integer ≥ 0, or −1 (none)  queues    x-delivery-limit
 *   alternate-exchange         string                     exchanges alternate-exchange
 *   queue-mode                 default | lazy             accepted and ignored (they tune RabbitMQ's storage)
 *   queue-version              1 | 2                      accepted and ignored
 *   queue-leader-locator       client-local | balanced | random | least-leaders   accepted and ignored
 *
 * Any other key is refused, as RabbitMQ 4 refuses keys no validator knows ("… are not recognised"):
 * among them the ha-* keys of classic queue mirroring, which RabbitMQ 4 removed. How a key combines
 * with the queue's own argument is policy-precedence.ts.
 */
import type { OverflowBehaviour, QueueType } from '../queue-options.js';

export type PolicyApplyTo = 'queues' | 'exchanges' | 'all' | 'classic_queues' | 'quorum_queues' | 'streams';
export type PolicyValue = string | number;
export type PolicyDefinition = Readonly<Record<string, PolicyValue>>;

/** The definition's keys, typed; null where the definition does not set one. */
export interface PolicySettings {
  readonly maxLength: number | null;
  readonly maxLengthBytes: number | null;
  readonly overflow: OverflowBehaviour | null;
  readonly messageTtlMs: number | null;
  readonly expiresMs: number | null;
  readonly deadLetterExchange: string | null;
  readonly deadLetterRoutingKey: string | null;
  readonly deliveryLimit: number | null;
  readonly alternateExchange: string | null;
}

export interface Policy {
  readonly virtualHost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: PolicyApplyTo;
  readonly priority: number;
  /** As it was given (validated): what is stored and shown. */
  readonly definition: PolicyDefinition;
  readonly settings: PolicySettings;
  /** The pattern, compiled once. */
  readonly expression: RegExp;
}

/** What a caller gives to make a policy (the admin API's PUT body, a stored record): checked by parsePolicy. */
export interface PolicyInput {
  readonly pattern: unknown;
  readonly definition: unknown;
  readonly priority?: unknown;
  readonly applyTo?: unknown;
}

/** A policy refused: RabbitMQ's "Validation failed" and why. */
export class PolicyValidationError extends Error {
  constructor(readonly reason: string) {
    super(`Validation failed\n\n${reason}`);
    this.name = 'PolicyValidationError';
  }
}

export const policyApplyToValues: readonly PolicyApplyTo[] = ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams'];
/** Policy names, like AMQP names, are at most 255 bytes of UTF-8. */
export const maxPolicyNameBytes = 255;
/** A pattern is matched against every queue and exchange name: kept short enough to read. */
export const maxPatternBytes = 4096;
/** Exchange names and routing keys in a definition are AMQP short strings. */
const maxStringValueBytes = 255;
/** As queue-options.ts: RabbitMQ's TTL limit, about 2^32 ms. */
const maxTimeMs = 2 ** 32;

const overflowBehaviours: readonly string[] = ['drop-head', 'reject-publish', 'reject-publish-dlx'];

type KeyCheck = (value: unknown) => string | null;

const integerAtLeast =
  (minimum: number, maximum: number, what: string): KeyCheck =>
  (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= minimum && value <= maximum ? null : `${erlangTerm(value)} is not a valid ${what}`;
const shortString =
  (what: string): KeyCheck =>
  (value) =>
    typeof value === 'string' && Buffer.byteLength(value, 'utf8') <= maxStringValueBytes ? null : `${erlangTerm(value)} is not a valid ${what}`;
const oneOf =
  (allowed: readonly PolicyValue[], what: string): KeyCheck =>
  (value) =>
    allowed.includes(value as PolicyValue) ? null : `${erlangTerm(value)} is not a valid ${what}`;

/** Every key a definition may hold, with its check (the wording is RabbitMQ's validators'). */
const keyChecks: Readonly<Record<string, KeyCheck>> = {
  'max-length': integerAtLeast(0, Number.MAX_SAFE_INTEGER, 'maximum length'),
  'max-length-bytes': integerAtLeast(0, Number.MAX_SAFE_INTEGER, 'maximum length in bytes'),
  overflow: oneOf(overflowBehaviours, 'overflow value'),
  'message-ttl': integerAtLeast(0, maxTimeMs, 'message TTL'),
  expires: integerAtLeast(1, maxTimeMs, 'queue expiry'),
  'dead-letter-exchange': shortString('dead letter exchange name'),
  'dead-letter-routing-key': shortString('dead letter routing key'),
  // −1: no limit (RabbitMQ 4, whose quorum queues otherwise default to 20).
  'delivery-limit': integerAtLeast(-1, Number.MAX_SAFE_INTEGER, 'delivery limit'),
  'alternate-exchange': shortString('alternate exchange name'),
  'queue-mode': oneOf(['default', 'lazy'], 'queue-mode value'),
  'queue-version': oneOf([1, 2], 'queue-version value'),
  'queue-leader-locator': oneOf(['client-local', 'balanced', 'random', 'least-leaders'], 'queue leader locator value'),
};

/** Checks a whole policy; throws PolicyValidationError naming the first problem. */
export function parsePolicy(virtualHost: string, name: string, input: PolicyInput): Policy {
  if (name === '' || Buffer.byteLength(name, 'utf8') > maxPolicyNameBytes) throw new PolicyValidationError(`the policy name must be 1 to ${maxPolicyNameBytes} bytes of UTF-8`);
  const { pattern } = input;
  if (typeof pattern !== 'string') throw new PolicyValidationError(`the pattern must be a string (a regular expression), not ${erlangTerm(pattern)}`);
  if (Buffer.byteLength(pattern, 'utf8') > maxPatternBytes) throw new PolicyValidationError(`the pattern is longer than ${maxPatternBytes} bytes`);
  let expression: RegExp;
  try {
    expression = new RegExp(pattern);
  } catch (error) {
    throw new PolicyValidationError(`${erlangTerm(pattern)} is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`);
  }
  const applyTo = input.applyTo ?? 'all';
  if (!policyApplyToValues.includes(applyTo as PolicyApplyTo)) throw new PolicyValidationError(`${erlangTerm(applyTo)} is not a valid apply-to value (one of ${policyApplyToValues.join(', ')})`);
  const priority = priorityOf(input.priority);
  const definition = definitionOf(input.definition);
  return { virtualHost, name, pattern, applyTo: applyTo as PolicyApplyTo, priority, definition, settings: settingsOf(definition), expression };
}

/** An integer; RabbitMQ's own forms send it as a string of digits, which is taken too. */
function priorityOf(value: unknown): number {
  if (value === undefined || value === null) return 0;
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw new PolicyValidationError(`${erlangTerm(value)} is not a valid priority (an integer)`);
  return number;
}

function definitionOf(value: unknown): PolicyDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyValidationError(`the definition must be a JSON object, not ${erlangTerm(value)}`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new PolicyValidationError('the definition is empty: give at least one key, such as {"max-length":1000}');
  const unknown = entries.filter(([key]) => !Object.hasOwn(keyChecks, key));
  if (unknown.length > 0) throw new PolicyValidationError(`[${unknown.map(([key, item]) => `{${erlangTerm(key)},${erlangTerm(item)}}`).join(',')}] are not recognised`);
  const definition: Record<string, PolicyValue> = {};
  for (const [key, item] of entries) {
    const problem = keyChecks[key]!(item);
    if (problem !== null) throw new PolicyValidationError(problem);
    Object.defineProperty(definition, key, { value: item as PolicyValue, enumerable: true });
  }
  return definition;
}

function settingsOf(definition: PolicyDefinition): PolicySettings {
  const integer = (key: string): number | null => (typeof definition[key] === 'number' ? definition[key] : null);
  const text = (key: string): string | null => (typeof definition[key] === 'string' ? definition[key] : null);
  return {
    maxLength: integer('max-length'),
    maxLengthBytes: integer('max-length-bytes'),
    overflow: text('overflow') as OverflowBehaviour | null,
    messageTtlMs: integer('message-ttl'),
    expiresMs: integer('expires'),
    deadLetterExchange: text('dead-letter-exchange'),
    deadLetterRoutingKey: text('dead-letter-routing-key'),
    deliveryLimit: integer('delivery-limit'),
    alternateExchange: text('alternate-exchange'),
  };
}

/** What a policy can apply to: an exchange, or a queue of some type. */
export type PolicyTarget = { readonly kind: 'exchange'; readonly name: string } | { readonly kind: 'queue'; readonly name: string; readonly queueType: QueueType };

export function policyMatches(policy: Policy, target: PolicyTarget): boolean {
  if (!appliesToKind(policy.applyTo, target)) return false;
  return policy.expression.test(target.name);
}

function appliesToKind(applyTo: PolicyApplyTo, target: PolicyTarget): boolean {
  if (applyTo === 'all') return true;
  if (target.kind === 'exchange') return applyTo === 'exchanges';
  switch (applyTo) {
    case 'queues':
      return true;
    case 'classic_queues':
      return target.queueType === 'classic';
    case 'quorum_queues':
      return target.queueType === 'quorum';
    case 'streams':
      return target.queueType === 'stream';
    default:
      return false;
  }
}

/** The policy that applies to `target` among `policies` (one virtual host's): highest priority, then first name; null when none matches. */
export function choosePolicy(policies: Iterable<Policy>, target: PolicyTarget): Policy | null {
  let chosen: Policy | null = null;
  for (const policy of policies) {
    if (!policyMatches(policy, target)) continue;
    if (chosen === null || policy.priority > chosen.priority || (policy.priority === chosen.priority && policy.name < chosen.name)) chosen = policy;
  }
  return chosen;
}

/** A value the way RabbitMQ's messages print it (Erlang terms): "abc" as <<"abc">>, numbers as they are. */
function erlangTerm(value: unknown): string {
  if (typeof value === 'string') return `<<${JSON.stringify(value)}>>`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? String(value);
}
