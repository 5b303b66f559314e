/**
 * The definitions in memory and the changes to them, in the JSON form the store writes
 * (definitions-store.ts): a journal record is one `DefinitionChange`, the snapshot lists the
 * `Stored…` forms. Field tables are kept as base64 of their AMQP wire encoding
 * (protocol/amqp/field-table.ts), so they come back byte for byte as declared.
 *
 * Keys: a virtual host by its name; an exchange, a queue or a policy by its virtual host and name; a binding
 * by every field, its arguments compared with their top-level entries in name order (the same
 * arguments declared in another order are the same binding). A put replaces the definition with
 * its key. The same changes applied in the same order give the same state, live or replayed.
 */
import { readFieldTable, writeFieldTable, type FieldTable } from '../../protocol/amqp/field-table.js';
import { Reader } from '../../protocol/wire/reader.js';
import { Writer } from '../../protocol/wire/writer.js';
import type { BindingDefinition, ChangeOf, Definitions, ExchangeDefinition, PolicyRecord, QueueDefinition } from './definitions.js';

/** AMQP names are short strings: at most 255 bytes of UTF-8. */
export const maxNameBytes = 255;

type Stored<Definition> = { readonly [Field in keyof Definition]: Field extends 'arguments' ? string : Definition[Field] };
export type StoredExchange = Stored<ExchangeDefinition>;
export type StoredQueue = Stored<QueueDefinition>;
export type StoredBinding = Stored<BindingDefinition>;

export type DefinitionChange = ChangeOf<StoredExchange, StoredQueue, StoredBinding>;

/** What a snapshot holds besides its format version and journal sequence. */
export interface StoredDefinitions {
  readonly virtualHosts: readonly string[];
  readonly exchanges: readonly StoredExchange[];
  readonly queues: readonly StoredQueue[];
  readonly bindings: readonly StoredBinding[];
  /** Policies are plain JSON: stored as they are. */
  readonly policies: readonly PolicyRecord[];
}

interface Entry<StoredForm, Definition> {
  readonly stored: StoredForm;
  readonly definition: Definition;
}

export class DefinitionsState {
  private readonly virtualHosts = new Set<string>();
  private readonly exchanges = new Map<string, Entry<StoredExchange, ExchangeDefinition>>();
  private readonly queues = new Map<string, Entry<StoredQueue, QueueDefinition>>();
  private readonly bindings = new Map<string, Entry<StoredBinding, BindingDefinition>>();
  private readonly policies = new Map<string, PolicyRecord>();

  constructor(stored: StoredDefinitions) {
    for (const name of stored.virtualHosts) this.virtualHosts.add(name);
    for (const exchange of stored.exchanges) this.apply({ change: 'putExchange', exchange });
    for (const queue of stored.queues) this.apply({ change: 'putQueue', queue });
    for (const binding of stored.bindings) this.apply({ change: 'putBinding', binding });
    for (const policy of stored.policies) this.apply({ change: 'putPolicy', policy });
  }

  hasVirtualHost(name: string): boolean {
    return this.virtualHosts.has(name);
  }

  /**
   * Applies one change; false when it is refused: a put into a virtual host that does not exist
   * (removed by a change written just before it). Throws on arguments that do not decode.
   */
  apply(change: DefinitionChange): boolean {
    switch (change.change) {
      case 'putVirtualHost':
        this.virtualHosts.add(change.name);
        return true;
      case 'removeVirtualHost':
        this.removeVirtualHost(change.name);
        return true;
      case 'putExchange': {
        const definition = decodeDefinition(change.exchange);
        return this.put(this.exchanges, exchangeKey(definition), definition, change.exchange.arguments);
      }
      case 'removeExchange':
        this.removeExchange(change.virtualHost, change.name);
        return true;
      case 'putQueue': {
        const definition = decodeDefinition(change.queue);
        return this.put(this.queues, queueKey(definition), definition, change.queue.arguments);
      }
      case 'removeQueue':
        this.removeQueue(change.virtualHost, change.name);
        return true;
      case 'putBinding': {
        const definition = decodeDefinition(change.binding);
        return this.put(this.bindings, bindingIdentity(definition), definition, change.binding.arguments);
      }
      case 'removeBinding':
        this.bindings.delete(bindingIdentity(decodeDefinition(change.binding)));
        return true;
      case 'putPolicy': {
        if (!this.virtualHosts.has(change.policy.virtualHost)) return false;
        this.policies.set(policyKey(change.policy), storedPolicy(change.policy));
        return true;
      }
      case 'removePolicy':
        this.policies.delete(policyKey(change));
        return true;
    }
  }

  /** Everything, as new arrays. */
  get definitions(): Definitions {
    return {
      virtualHosts: [...this.virtualHosts],
      exchanges: [...this.exchanges.values()].map((entry) => entry.definition),
      queues: [...this.queues.values()].map((entry) => entry.definition),
      bindings: [...this.bindings.values()].map((entry) => entry.definition),
      policies: [...this.policies.values()],
    };
  }

  /** Everything, in the form the snapshot holds. */
  get stored(): StoredDefinitions {
    return {
      virtualHosts: [...this.virtualHosts],
      exchanges: [...this.exchanges.values()].map((entry) => entry.stored),
      queues: [...this.queues.values()].map((entry) => entry.stored),
      bindings: [...this.bindings.values()].map((entry) => entry.stored),
      policies: [...this.policies.values()],
    };
  }

  /** Stores the definition (built field by field) with its arguments as they were encoded. */
  private put<Definition extends { readonly virtualHost: string; readonly arguments: FieldTable }>(
    map: Map<string, Entry<Stored<Definition>, Definition>>,
    key: string,
    definition: Definition,
    encodedArguments: string,
  ): boolean {
    if (!this.virtualHosts.has(definition.virtualHost)) return false;
    map.set(key, { stored: { ...definition, arguments: encodedArguments } as Stored<Definition>, definition });
    return true;
  }

  private removeVirtualHost(name: string): void {
    this.virtualHosts.delete(name);
    for (const [key, entry] of this.exchanges) if (entry.definition.virtualHost === name) this.exchanges.delete(key);
    for (const [key, entry] of this.queues) if (entry.definition.virtualHost === name) this.queues.delete(key);
    this.removeBindingsWhere((binding) => binding.virtualHost === name);
    for (const [key, policy] of this.policies) if (policy.virtualHost === name) this.policies.delete(key);
  }

  private removeExchange(virtualHost: string, name: string): void {
    this.exchanges.delete(exchangeKey({ virtualHost, name }));
    this.removeBindingsWhere(
      (binding) => binding.virtualHost === virtualHost && (binding.source === name || (binding.destinationKind === 'exchange' && binding.destination === name)),
    );
  }

  private removeQueue(virtualHost: string, name: string): void {
    this.queues.delete(queueKey({ virtualHost, name }));
    this.removeBindingsWhere((binding) => binding.virtualHost === virtualHost && binding.destinationKind === 'queue' && binding.destination === name);
  }

  private removeBindingsWhere(matches: (binding: BindingDefinition) => boolean): void {
    for (const [key, entry] of this.bindings) if (matches(entry.definition)) this.bindings.delete(key);
  }
}

function exchangeKey(exchange: { readonly virtualHost: string; readonly name: string }): string {
  return JSON.stringify(['exchange', exchange.virtualHost, exchange.name]);
}

function queueKey(queue: { readonly virtualHost: string; readonly name: string }): string {
  return JSON.stringify(['queue', queue.virtualHost, queue.name]);
}

function policyKey(policy: { readonly virtualHost: string; readonly name: string }): string {
  return JSON.stringify(['policy', policy.virtualHost, policy.name]);
}

/**
 * What makes a binding itself (every field, arguments in name order), as one string: two bindings
 * with the same identity are the same binding.
 */
export function bindingIdentity(binding: BindingDefinition): string {
  const sortedArguments = new Map([...binding.arguments].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)));
  return JSON.stringify([binding.virtualHost, binding.source, binding.destinationKind, binding.destination, binding.routingKey, encodeFieldTable(sortedArguments)]);
}

// The stored form of a definition has the same fields, its arguments encoded; both are built
// field by field, so nothing else a caller's object or a file carries comes along.

export function storedExchange(exchange: ExchangeDefinition): StoredExchange {
  const { virtualHost, name, type, autoDelete, internal } = exchange;
  return { virtualHost, name, type, autoDelete, internal, arguments: encodeFieldTable(exchange.arguments) };
}

export function storedQueue(queue: QueueDefinition): StoredQueue {
  const { virtualHost, name, storageId, autoDelete } = queue;
  return { virtualHost, name, storageId, autoDelete, arguments: encodeFieldTable(queue.arguments) };
}

export function storedBinding(binding: BindingDefinition): StoredBinding {
  const { virtualHost, source, destinationKind, destination, routingKey } = binding;
  return { virtualHost, source, destinationKind, destination, routingKey, arguments: encodeFieldTable(binding.arguments) };
}

/** A policy record built field by field (its definition too), so nothing else the caller's object carries comes along. */
export function storedPolicy(policy: PolicyRecord): PolicyRecord {
  const { virtualHost, name, pattern, applyTo, priority } = policy;
  const definition: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(policy.definition)) Object.defineProperty(definition, key, { value, enumerable: true });
  return { virtualHost, name, pattern, applyTo, priority, definition };
}

export function decodeDefinition(stored: StoredExchange): ExchangeDefinition;
export function decodeDefinition(stored: StoredQueue): QueueDefinition;
export function decodeDefinition(stored: StoredBinding): BindingDefinition;
export function decodeDefinition(stored: StoredExchange | StoredQueue | StoredBinding): ExchangeDefinition | QueueDefinition | BindingDefinition {
  if ('type' in stored) {
    const { virtualHost, name, type, autoDelete, internal } = stored;
    return { virtualHost, name, type, autoDelete, internal, arguments: decodeFieldTable(stored.arguments) };
  }
  if ('storageId' in stored) {
    const { virtualHost, name, storageId, autoDelete } = stored;
    return { virtualHost, name, storageId, autoDelete, arguments: decodeFieldTable(stored.arguments) };
  }
  const { virtualHost, source, destinationKind, destination, routingKey } = stored;
  return { virtualHost, source, destinationKind, destination, routingKey, arguments: decodeFieldTable(stored.arguments) };
}

/** Base64 of the table's AMQP wire encoding (its size included). */
export function encodeFieldTable(table: FieldTable): string {
  const writer = new Writer();
  writeFieldTable(writer, table);
  return writer.toBuffer().toString('base64');
}

export function decodeFieldTable(base64: string): FieldTable {
  const bytes = Buffer.from(base64, 'base64');
  const reader = new Reader(bytes);
  const table = readFieldTable(reader);
  if (reader.remaining !== 0 || bytes.toString('base64') !== base64) throw new Error(`stored arguments are not one base64 field table: ${base64.slice(0, 100)}`);
  return table;
}

/** Throws when a name does not fit an AMQP short string. */
export function checkName(what: string, name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > maxNameBytes) throw new Error(`${what} of ${bytes} bytes refused: AMQP names are at most ${maxNameBytes} bytes of UTF-8`);
}

/** Throws when the virtual host's name or one of the others does not fit an AMQP short string. */
export function checkNames(virtualHost: string, ...names: readonly (readonly [what: string, name: string])[]): void {
  checkName('virtual host name', virtualHost);
  for (const [what, name] of names) checkName(what, name);
}

export function checkBindingNames(binding: BindingDefinition): void {
  checkNames(binding.virtualHost, ['binding source', binding.source], ['binding destination', binding.destination], ['routing key', binding.routingKey]);
}

// Reading what the files hold: every field checked, since a file is outside our control.

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasStrings = (value: Record<string, unknown>, fields: readonly string[]): boolean => fields.every((field) => typeof value[field] === 'string');
const hasBooleans = (value: Record<string, unknown>, fields: readonly string[]): boolean => fields.every((field) => typeof value[field] === 'boolean');

export function isStoredExchange(value: unknown): value is StoredExchange {
  return isRecord(value) && hasStrings(value, ['virtualHost', 'name', 'type', 'arguments']) && hasBooleans(value, ['autoDelete', 'internal']);
}

export function isStoredQueue(value: unknown): value is StoredQueue {
  return isRecord(value) && hasStrings(value, ['virtualHost', 'name', 'storageId', 'arguments']) && hasBooleans(value, ['autoDelete']);
}

export function isStoredBinding(value: unknown): value is StoredBinding {
  return (
    isRecord(value) &&
    hasStrings(value, ['virtualHost', 'source', 'destination', 'routingKey', 'arguments']) &&
    (value['destinationKind'] === 'queue' || value['destinationKind'] === 'exchange' || value['destinationKind'] === 'topic')
  );
}

export function isPolicyRecord(value: unknown): value is PolicyRecord {
  return (
    isRecord(value) &&
    hasStrings(value, ['virtualHost', 'name', 'pattern', 'applyTo']) &&
    Number.isSafeInteger(value['priority']) &&
    isRecord(value['definition']) &&
    Object.values(value['definition']).every((item) => typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item)))
  );
}

/** A journal record's change; throws on anything else. */
export function parseChange(payload: Buffer, path: string): DefinitionChange {
  const parsed: unknown = JSON.parse(payload.toString('utf8'));
  if (isRecord(parsed)) {
    const change = parsed['change'];
    if ((change === 'putVirtualHost' || change === 'removeVirtualHost') && hasStrings(parsed, ['name'])) return { change, name: parsed['name'] as string };
    if ((change === 'removeExchange' || change === 'removeQueue' || change === 'removePolicy') && hasStrings(parsed, ['virtualHost', 'name'])) {
      return { change, virtualHost: parsed['virtualHost'] as string, name: parsed['name'] as string };
    }
    const exchange = parsed['exchange'];
    const queue = parsed['queue'];
    const binding = parsed['binding'];
    if (change === 'putExchange' && isStoredExchange(exchange)) return { change, exchange };
    if (change === 'putQueue' && isStoredQueue(queue)) return { change, queue };
    if ((change === 'putBinding' || change === 'removeBinding') && isStoredBinding(binding)) return { change, binding };
    const policy = parsed['policy'];
    if (change === 'putPolicy' && isPolicyRecord(policy)) return { change, policy: storedPolicy(policy) };
  }
  throw new Error(`${path}: unreadable change ${payload.toString('utf8').slice(0, 200)}`);
}
