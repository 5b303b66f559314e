/**
 * src/cluster/amqp-definition-keys.ts: where each shared AMQP definition is kept in etcd (names
 * URI-encoded, a binding by the digest of its identity) and how a key's value is read back (checked
 * against the key it was found under).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  amqpInitialisedKey,
  bindingKey,
  decodeSharedDefinition,
  encodeSharedDefinition,
  exchangeKey,
  keyOf,
  policyKey,
  queueKey,
  virtualHostContentPrefixes,
  virtualHostKey,
  type SharedDefinition,
} from '../../../src/cluster/amqp-definition-keys.js';
import type { BindingDefinition } from '../../../src/queues/definitions/definitions.js';
import { storedBinding, storedExchange, storedQueue } from '../../../src/queues/definitions/definitions-state.js';

const binding: BindingDefinition = {
  virtualHost: '/',
  source: 'logs',
  destinationKind: 'queue',
  destination: 'errors',
  routingKey: 'error.#',
  arguments: new Map([
    ['x-b', { type: 'longString', value: Buffer.from('two') }],
    ['x-a', { type: 'int32', value: 1 }],
  ] as const),
};

test('names are URI-encoded, so a / in a virtual host or a name never ends it', () => {
  assert.equal(virtualHostKey('/'), '/osprey/amqp/vhosts/%2F');
  assert.equal(exchangeKey('/', 'a/b'), '/osprey/amqp/exchanges/%2F/a%2Fb');
  assert.equal(queueKey('staging', 'orders eu'), '/osprey/amqp/queues/staging/orders%20eu');
  assert.equal(policyKey('a/b', 'limits'), '/osprey/amqp/policies/a%2Fb/limits');
  assert.deepEqual(virtualHostContentPrefixes('a/b'), ['/osprey/amqp/exchanges/a%2Fb/', '/osprey/amqp/queues/a%2Fb/', '/osprey/amqp/bindings/a%2Fb/', '/osprey/amqp/policies/a%2Fb/']);
  // The virtual host "a" does not hold the keys of "a/b" (nor "a%2Fb" those of "a").
  assert.ok(!queueKey('a/b', 'q').startsWith(virtualHostContentPrefixes('a')[1]!));
});

test('a binding is keyed by the digest of its identity: the same arguments in another order are the same key, another routing key is not', () => {
  const key = bindingKey(binding);
  assert.match(key, /^\/osprey\/amqp\/bindings\/%2F\/[0-9a-f]{32}$/);
  const reordered = { ...binding, arguments: new Map([...binding.arguments].reverse()) };
  assert.equal(bindingKey(reordered), key);
  assert.notEqual(bindingKey({ ...binding, routingKey: 'error.disk' }), key);
  assert.notEqual(bindingKey({ ...binding, destinationKind: 'exchange' }), key);
});

test('every definition is read back from the value under its key, as it was written', () => {
  const definitions: SharedDefinition[] = [
    { kind: 'vhost', name: '/' },
    { kind: 'exchange', exchange: storedExchange({ virtualHost: '/', name: 'logs', type: 'topic', autoDelete: false, internal: false, arguments: new Map() }) },
    { kind: 'queue', queue: storedQueue({ virtualHost: '/', name: 'errors', storageId: 'abc-123', autoDelete: false, arguments: new Map([['x-max-length', { type: 'int8', value: 10 }]]) }) },
    { kind: 'binding', binding: storedBinding(binding) },
    { kind: 'policy', policy: { virtualHost: '/', name: 'limits', pattern: '^orders\\.', applyTo: 'queues', priority: 1, definition: { 'max-length': 10 } } },
  ];
  for (const definition of definitions) {
    assert.deepEqual(decodeSharedDefinition(keyOf(definition), encodeSharedDefinition(definition)), definition);
  }
});

test('a value under another key, of another kind or not JSON is an error; the marker holds no definition', () => {
  const exchange: SharedDefinition = { kind: 'exchange', exchange: storedExchange({ virtualHost: '/', name: 'logs', type: 'topic', autoDelete: false, internal: false, arguments: new Map() }) };
  const misplaced = decodeSharedDefinition(exchangeKey('/', 'other'), encodeSharedDefinition(exchange));
  assert.ok(misplaced instanceof Error && /belongs under \/osprey\/amqp\/exchanges\/%2F\/logs/.test(misplaced.message), String(misplaced));
  assert.ok(decodeSharedDefinition(queueKey('/', 'logs'), encodeSharedDefinition(exchange)) instanceof Error);
  assert.ok(decodeSharedDefinition(exchangeKey('/', 'logs'), Buffer.from('{"virtualHost":')) instanceof Error);
  const badArguments = Buffer.from(JSON.stringify({ ...exchange.exchange, arguments: 'not base64 of a table' }));
  assert.ok(decodeSharedDefinition(exchangeKey('/', 'logs'), badArguments) instanceof Error);
  assert.equal(decodeSharedDefinition(amqpInitialisedKey, Buffer.from('{}')), null);
  // Fields a value carries beyond the definition's are not kept.
  const extra = decodeSharedDefinition(exchangeKey('/', 'logs'), Buffer.from(JSON.stringify({ ...exchange.exchange, injected: true })));
  assert.deepEqual(extra, exchange);
});
