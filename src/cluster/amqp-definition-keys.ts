/**
 * The etcd keys of the AMQP definitions a cluster shares (etcd-definitions-store.ts), under the
 * cluster's root (keys.ts), and what their values hold: the same JSON as a broker's own snapshot
 * (queues/definitions/definitions-state.ts, the `Stored…` forms), one definition per key.
 *
 *   /osprey/amqp/initialised                  {}  written once, with the virtual host "/", by the
 *                                             first broker to open the shared definitions, so that
 *                                             a cluster whose "/" was deleted keeps it deleted
 *   /osprey/amqp/vhosts/<vhost>               {"name":"/"}
 *   /osprey/amqp/exchanges/<vhost>/<name>     {"virtualHost":"/","name":"logs","type":"topic",
 *                                              "autoDelete":false,"internal":false,"arguments":"<base64>"}
 *   /osprey/amqp/queues/<vhost>/<name>        {"virtualHost":"/","name":"q","storageId":"…",
 *                                              "autoDelete":false,"arguments":"…"}
 *   /osprey/amqp/bindings/<vhost>/<identity>  {"virtualHost":"/","source":"logs","destinationKind":"queue",
 *                                              "destination":"q","routingKey":"a.#","arguments":"…"}
 *   /osprey/amqp/policies/<vhost>/<name>      {"virtualHost":"/","name":"limits","pattern":"^orders\\.",
 *                                              "applyTo":"queues","priority":0,"definition":{…}}
 *
 * <vhost> and <name> are URI-encoded (encodeURIComponent), so a '/' in a name never ends it and a
 * virtual host's keys of each kind share the prefix `…/<vhost>/`. A binding's <identity> is 32 hex
 * digits of the SHA-256 of its identity (definitions-state.ts, bindingIdentity): every field, its
 * arguments in name order, so the same binding declared twice is one key.
 */
import { createHash } from 'node:crypto';
import type { BindingDefinition, PolicyRecord } from '../queues/definitions/definitions.js';
import {
  bindingIdentity,
  decodeDefinition,
  isPolicyRecord,
  isStoredBinding,
  isStoredExchange,
  isStoredQueue,
  storedBinding,
  storedExchange,
  storedPolicy,
  storedQueue,
  type StoredBinding,
  type StoredExchange,
  type StoredQueue,
} from '../queues/definitions/definitions-state.js';
import { clusterRoot } from './keys.js';

export const amqpPrefix = `${clusterRoot}amqp/`;
export const amqpInitialisedKey = `${amqpPrefix}initialised`;

const kinds = ['vhosts', 'exchanges', 'queues', 'bindings', 'policies'] as const;
type Kind = (typeof kinds)[number];

const encode = encodeURIComponent;

export function virtualHostKey(name: string): string {
  return `${amqpPrefix}vhosts/${encode(name)}`;
}

/** Where the keys of one kind in one virtual host start (with the trailing '/'). */
export function virtualHostKindPrefix(kind: Exclude<Kind, 'vhosts'>, virtualHost: string): string {
  return `${amqpPrefix}${kind}/${encode(virtualHost)}/`;
}

/** The prefixes of everything a virtual host holds (its own key aside). */
export function virtualHostContentPrefixes(virtualHost: string): string[] {
  return (['exchanges', 'queues', 'bindings', 'policies'] as const).map((kind) => virtualHostKindPrefix(kind, virtualHost));
}

export function exchangeKey(virtualHost: string, name: string): string {
  return `${virtualHostKindPrefix('exchanges', virtualHost)}${encode(name)}`;
}

export function queueKey(virtualHost: string, name: string): string {
  return `${virtualHostKindPrefix('queues', virtualHost)}${encode(name)}`;
}

export function policyKey(virtualHost: string, name: string): string {
  return `${virtualHostKindPrefix('policies', virtualHost)}${encode(name)}`;
}

export function bindingKey(binding: BindingDefinition): string {
  const digest = createHash('sha256').update(bindingIdentity(binding)).digest('hex').slice(0, 32);
  return `${virtualHostKindPrefix('bindings', binding.virtualHost)}${digest}`;
}

/** One definition as a key holds it. */
export type SharedDefinition =
  | { readonly kind: 'vhost'; readonly name: string }
  | { readonly kind: 'exchange'; readonly exchange: StoredExchange }
  | { readonly kind: 'queue'; readonly queue: StoredQueue }
  | { readonly kind: 'binding'; readonly binding: StoredBinding }
  | { readonly kind: 'policy'; readonly policy: PolicyRecord };

/** The key a definition is kept under. */
export function keyOf(definition: SharedDefinition): string {
  switch (definition.kind) {
    case 'vhost':
      return virtualHostKey(definition.name);
    case 'exchange':
      return exchangeKey(definition.exchange.virtualHost, definition.exchange.name);
    case 'queue':
      return queueKey(definition.queue.virtualHost, definition.queue.name);
    case 'binding':
      return bindingKey(decodeDefinition(definition.binding));
    case 'policy':
      return policyKey(definition.policy.virtualHost, definition.policy.name);
  }
}

export function encodeSharedDefinition(definition: SharedDefinition): Buffer {
  switch (definition.kind) {
    case 'vhost':
      return Buffer.from(JSON.stringify({ name: definition.name }));
    case 'exchange':
      return Buffer.from(JSON.stringify(definition.exchange));
    case 'queue':
      return Buffer.from(JSON.stringify(definition.queue));
    case 'binding':
      return Buffer.from(JSON.stringify(definition.binding));
    case 'policy':
      return Buffer.from(JSON.stringify(definition.policy));
  }
}

/**
 * The definition a key under amqpPrefix holds; null for a key that holds none (the initialised
 * marker); an Error when the value is not a definition of the key's kind or belongs under another
 * key (written by something else than a broker: reported, not trusted).
 */
export function decodeSharedDefinition(key: string, value: Buffer): SharedDefinition | null | Error {
  if (!key.startsWith(amqpPrefix)) return new Error(`${key} is not under ${amqpPrefix}`);
  const kind = key.slice(amqpPrefix.length).split('/')[0] as Kind;
  if (!kinds.includes(kind)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return new Error(`${key}: not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  let definition: SharedDefinition | null = null;
  try {
    if (kind === 'vhosts' && typeof parsed === 'object' && parsed !== null && typeof (parsed as { name?: unknown }).name === 'string') definition = { kind: 'vhost', name: (parsed as { name: string }).name };
    // Decoded and stored again field by field: nothing else the value carries comes along, and
    // arguments that are not one base64 field table throw.
    else if (kind === 'exchanges' && isStoredExchange(parsed)) definition = { kind: 'exchange', exchange: storedExchange(decodeDefinition(parsed)) };
    else if (kind === 'queues' && isStoredQueue(parsed)) definition = { kind: 'queue', queue: storedQueue(decodeDefinition(parsed)) };
    else if (kind === 'bindings' && isStoredBinding(parsed)) definition = { kind: 'binding', binding: storedBinding(decodeDefinition(parsed)) };
    else if (kind === 'policies' && isPolicyRecord(parsed)) definition = { kind: 'policy', policy: storedPolicy(parsed) };
    if (definition === null) return new Error(`${key}: not a stored definition of its kind`);
    const expectedKey = keyOf(definition);
    if (expectedKey !== key) return new Error(`${key}: the definition belongs under ${expectedKey}`);
  } catch (error) {
    return new Error(`${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return definition;
}
