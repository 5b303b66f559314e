/**
 * The AMQP definitions that outlive a restart: virtual hosts, durable exchanges, durable queues,
 * the bindings between durable ends, and policies (RabbitMQ keeps the same set). Field tables
 * (arguments) are kept as the AMQP wire encoding of the table, so they come back exactly as declared.
 */
import type { FieldTable } from '../../protocol/amqp/field-table.js';

export interface ExchangeDefinition {
  readonly virtualHost: string;
  readonly name: string;
  /** direct, fanout, topic, headers (later x-delayed-message, …) */
  readonly type: string;
  readonly autoDelete: boolean;
  readonly internal: boolean;
  readonly arguments: FieldTable;
}

export interface QueueDefinition {
  readonly virtualHost: string;
  readonly name: string;
  /** Folder of the queue's log and state under <dataDir>/amqp/queues/; unique, never reused. */
  readonly storageId: string;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

export interface BindingDefinition {
  readonly virtualHost: string;
  /** The exchange the binding routes from. */
  readonly source: string;
  /** 'topic': an exchange-to-topic binding (streams/topic-target.ts), the destination a Kafka topic. */
  readonly destinationKind: 'queue' | 'exchange' | 'topic';
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: FieldTable;
}

/**
 * A policy as stored (queues/policies/policy.ts checks it when it is set and again when it is read
 * back): its definition is the JSON object it was given, keys to strings or integers.
 */
export interface PolicyRecord {
  readonly virtualHost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: string;
  readonly priority: number;
  readonly definition: Readonly<Record<string, string | number>>;
}

/** Everything stored, as read at start-up. */
export interface Definitions {
  readonly virtualHosts: readonly string[];
  readonly exchanges: readonly ExchangeDefinition[];
  readonly queues: readonly QueueDefinition[];
  readonly bindings: readonly BindingDefinition[];
  readonly policies: readonly PolicyRecord[];
}

/** One change to the definitions, its exchange, queue or binding in the form given. */
export type ChangeOf<Exchange, Queue, Binding> =
  | { readonly change: 'putVirtualHost' | 'removeVirtualHost'; readonly name: string }
  | { readonly change: 'putExchange'; readonly exchange: Exchange }
  | { readonly change: 'removeExchange' | 'removeQueue' | 'removePolicy'; readonly virtualHost: string; readonly name: string }
  | { readonly change: 'putQueue'; readonly queue: Queue }
  | { readonly change: 'putBinding' | 'removeBinding'; readonly binding: Binding }
  | { readonly change: 'putPolicy'; readonly policy: PolicyRecord };

/**
 * A change another broker of the cluster made (cluster/etcd-definitions-store.ts), for the queue
 * broker to apply to what it holds: the changes a journal records (definitions-state.ts), decoded.
 */
export type DefinitionUpdate = ChangeOf<ExchangeDefinition, QueueDefinition, BindingDefinition>;

/**
 * A change refused because the shared definitions changed meanwhile (another broker declared the
 * same name first, or removed what it refers to). By the time it is thrown the other change has
 * been handed to the store's follower, so the queue broker tries the operation again after it and
 * then answers as it would have had it known (declare-ok for an equivalent declaration, 406, 404).
 */
export class DefinitionsConflict extends Error {}

/**
 * Where the definitions are kept: a broker's own durable journal (definitions-store.ts; each
 * change fsynced before its promise resolves), or etcd, shared by the brokers of a cluster
 * (cluster/etcd-definitions-store.ts). Removing a virtual host removes what it holds (its policies
 * too), removing an exchange or a queue removes the bindings from and to it.
 */
export interface DefinitionsStore {
  readonly definitions: Definitions;
  putVirtualHost(name: string): Promise<void>;
  removeVirtualHost(name: string): Promise<void>;
  putExchange(definition: ExchangeDefinition): Promise<void>;
  removeExchange(virtualHost: string, name: string): Promise<void>;
  putQueue(definition: QueueDefinition): Promise<void>;
  removeQueue(virtualHost: string, name: string): Promise<void>;
  putBinding(definition: BindingDefinition): Promise<void>;
  removeBinding(definition: BindingDefinition): Promise<void>;
  /** Adds or replaces the policy with that virtual host and name. */
  putPolicy(record: PolicyRecord): Promise<void>;
  removePolicy(virtualHost: string, name: string): Promise<void>;
  /**
   * From now on, hands the changes other brokers make to `listener`, in the order they were made
   * (stores shared by a cluster only; the changes of this store's own callers are not handed back).
   */
  follow?(listener: (update: DefinitionUpdate) => void): void;
  close(): Promise<void>;
}
