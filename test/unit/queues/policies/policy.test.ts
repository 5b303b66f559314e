/** Policies checked as RabbitMQ checks them, and which one applies to a queue or an exchange. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePolicy, parsePolicy, PolicyValidationError, policyMatches, type Policy, type PolicyInput } from '../../../../src/queues/policies/policy.js';
import { PolicySet } from '../../../../src/queues/policies/policy-set.js';

const policy = (name: string, input: Partial<PolicyInput> & { readonly definition?: unknown } = {}): Policy =>
  parsePolicy('/', name, { pattern: '.*', definition: { 'max-length': 1 }, ...input });

function refused(input: Partial<PolicyInput>, reason: string | RegExp, name = 'p'): void {
  assert.throws(
    () => parsePolicy('/', name, { pattern: '.*', definition: { 'max-length': 1 }, ...input }),
    (error: unknown) => {
      assert.ok(error instanceof PolicyValidationError, String(error));
      if (typeof reason === 'string') assert.equal(error.reason, reason);
      else assert.match(error.reason, reason);
      assert.ok(error.message.startsWith('Validation failed\n\n'), error.message);
      return true;
    },
  );
}

test('a policy takes every key we support, with its defaults: apply-to all, priority 0', () => {
  const definition = {
    'max-length': 1000,
    'max-length-bytes': 1_048_576,
    overflow: 'reject-publish-dlx',
    'message-ttl': 0,
    expires: 1,
    'dead-letter-exchange': 'dlx',
    'dead-letter-routing-key': 'dead',
    'delivery-limit': 5,
    'alternate-exchange': 'unrouted',
    'queue-mode': 'lazy',
    'queue-version': 2,
    'queue-leader-locator': 'balanced',
  };
  const parsed = parsePolicy('tenant', 'everything', { pattern: '^orders\\.', definition });
  assert.equal(parsed.virtualHost, 'tenant');
  assert.equal(parsed.applyTo, 'all');
  assert.equal(parsed.priority, 0);
  assert.deepEqual(parsed.definition, definition);
  assert.deepEqual(parsed.settings, {
    maxLength: 1000,
    maxLengthBytes: 1_048_576,
    overflow: 'reject-publish-dlx',
    messageTtlMs: 0,
    expiresMs: 1,
    deadLetterExchange: 'dlx',
    deadLetterRoutingKey: 'dead',
    deliveryLimit: 5,
    alternateExchange: 'unrouted',
  });
  assert.deepEqual(policy('p').settings, { maxLength: 1, maxLengthBytes: null, overflow: null, messageTtlMs: null, expiresMs: null, deadLetterExchange: null, deadLetterRoutingKey: null, deliveryLimit: null, alternateExchange: null });
  assert.equal(policy('p', { priority: '-5' }).priority, -5, 'a priority in a string, as RabbitMQ forms send it');
  for (const applyTo of ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams']) assert.equal(policy('p', { applyTo }).applyTo, applyTo);
});

test('keys no validator knows are refused as RabbitMQ refuses them, the ha-* keys of mirroring included', () => {
  refused({ definition: { 'ha-mode': 'all', 'max-length': 1, 'federation-upstream-set': 'all' } }, '[{<<"ha-mode">>,<<"all">>},{<<"federation-upstream-set">>,<<"all">>}] are not recognised');
  refused({ definition: { 'x-max-length': 10 } }, '[{<<"x-max-length">>,10}] are not recognised');
  refused({ definition: { 'max-priority': 10 } }, /are not recognised/);
});

test('each value is checked with the wording of RabbitMQ\'s validators', () => {
  refused({ definition: { 'max-length': -1 } }, '-1 is not a valid maximum length');
  refused({ definition: { 'max-length': 1.5 } }, '1.5 is not a valid maximum length');
  refused({ definition: { 'max-length': '10' } }, '<<"10">> is not a valid maximum length');
  refused({ definition: { 'max-length-bytes': -1 } }, '-1 is not a valid maximum length in bytes');
  refused({ definition: { overflow: 'drop-tail' } }, '<<"drop-tail">> is not a valid overflow value');
  refused({ definition: { 'message-ttl': -1 } }, '-1 is not a valid message TTL');
  refused({ definition: { 'message-ttl': 2 ** 32 + 1 } }, `${2 ** 32 + 1} is not a valid message TTL`);
  refused({ definition: { expires: 0 } }, '0 is not a valid queue expiry');
  refused({ definition: { 'dead-letter-exchange': 5 } }, '5 is not a valid dead letter exchange name');
  refused({ definition: { 'dead-letter-routing-key': true } }, 'true is not a valid dead letter routing key');
  refused({ definition: { 'delivery-limit': -2 } }, '-2 is not a valid delivery limit');
  assert.equal(policy('p', { definition: { 'delivery-limit': -1 } }).settings.deliveryLimit, -1, '-1: no limit');
  refused({ definition: { 'alternate-exchange': 'x'.repeat(256) } }, /is not a valid alternate exchange name/);
  refused({ definition: { 'queue-mode': 'eager' } }, '<<"eager">> is not a valid queue-mode value');
  refused({ definition: { 'queue-version': 3 } }, '3 is not a valid queue-version value');
});

test('the policy itself: a name, a pattern that compiles, apply-to, an integer priority, a non-empty object definition', () => {
  refused({}, 'the policy name must be 1 to 255 bytes of UTF-8', '');
  refused({}, 'the policy name must be 1 to 255 bytes of UTF-8', 'n'.repeat(256));
  refused({ pattern: 5 }, /^the pattern must be a string/);
  refused({ pattern: '(' }, /^<<"\(">> is not a valid regular expression: /);
  refused({ pattern: 'a'.repeat(4097) }, 'the pattern is longer than 4096 bytes');
  refused({ applyTo: 'topics' }, /^<<"topics">> is not a valid apply-to value/);
  refused({ priority: 1.5 }, '1.5 is not a valid priority (an integer)');
  refused({ priority: 'high' }, '<<"high">> is not a valid priority (an integer)');
  refused({ definition: [] }, 'the definition must be a JSON object, not []');
  refused({ definition: 'max-length=1' }, /^the definition must be a JSON object/);
  refused({ definition: {} }, /^the definition is empty/);
});

test('patterns are searched for in the name, not anchored (as RabbitMQ runs them); apply-to picks the kind and queue type', () => {
  const orders = policy('orders', { pattern: 'orders' });
  assert.equal(policyMatches(orders, { kind: 'queue', name: 'eu.orders.v2', queueType: 'classic' }), true);
  assert.equal(policyMatches(orders, { kind: 'queue', name: 'billing', queueType: 'classic' }), false);
  const anchored = policy('anchored', { pattern: '^orders$' });
  assert.equal(policyMatches(anchored, { kind: 'queue', name: 'orders', queueType: 'classic' }), true);
  assert.equal(policyMatches(anchored, { kind: 'queue', name: 'orders2', queueType: 'classic' }), false);

  const kinds = (applyTo: string) => {
    const chosen = policy('p', { applyTo });
    return [
      policyMatches(chosen, { kind: 'exchange', name: 'x' }),
      policyMatches(chosen, { kind: 'queue', name: 'x', queueType: 'classic' }),
      policyMatches(chosen, { kind: 'queue', name: 'x', queueType: 'quorum' }),
      policyMatches(chosen, { kind: 'queue', name: 'x', queueType: 'stream' }),
    ];
  };
  assert.deepEqual(kinds('all'), [true, true, true, true]);
  assert.deepEqual(kinds('exchanges'), [true, false, false, false]);
  assert.deepEqual(kinds('queues'), [false, true, true, true]);
  assert.deepEqual(kinds('classic_queues'), [false, true, false, false]);
  assert.deepEqual(kinds('quorum_queues'), [false, false, true, false]);
  assert.deepEqual(kinds('streams'), [false, false, false, true]);
});

test('of the matching policies the highest priority applies; equal priorities: the name that sorts first', () => {
  const low = policy('low', { pattern: '.*', priority: -1 });
  const high = policy('high', { pattern: '^orders', priority: 10 });
  const other = policy('other', { pattern: '^billing', priority: 100 });
  const exchangesOnly = policy('exchanges', { pattern: '.*', priority: 50, applyTo: 'exchanges' });
  const all = [low, high, other, exchangesOnly];
  assert.equal(choosePolicy(all, { kind: 'queue', name: 'orders', queueType: 'classic' }), high);
  assert.equal(choosePolicy(all, { kind: 'queue', name: 'audit', queueType: 'classic' }), low);
  assert.equal(choosePolicy(all, { kind: 'exchange', name: 'orders' }), exchangesOnly);
  assert.equal(choosePolicy([high, other], { kind: 'queue', name: 'audit', queueType: 'classic' }), null);
  const tieB = policy('b', { priority: 3 });
  const tieA = policy('a', { priority: 3 });
  assert.equal(choosePolicy([tieB, tieA], { kind: 'queue', name: 'q', queueType: 'classic' }), tieA);
  assert.equal(choosePolicy([tieA, tieB], { kind: 'queue', name: 'q', queueType: 'classic' }), tieA);
});

test('a PolicySet keeps each virtual host\'s policies apart, replaces by name, and lists them by vhost then name', () => {
  const set = new PolicySet();
  assert.equal(set.put(policy('b')), true);
  assert.equal(set.put(policy('a', { priority: 1 })), true);
  assert.equal(set.put(parsePolicy('tenant', 'a', { pattern: '.*', definition: { 'message-ttl': 5 }, priority: 99 })), true);
  assert.equal(set.put(policy('b', { priority: 2 })), false, 'same name: replaced');
  assert.equal(set.size, 3);
  assert.deepEqual(set.list().map((each) => `${each.virtualHost}|${each.name}|${each.priority}`), ['/|a|1', '/|b|2', 'tenant|a|99']);
  assert.deepEqual(set.list('tenant').map((each) => each.name), ['a']);
  assert.equal(set.forQueue('/', 'q', 'classic')?.name, 'b');
  assert.equal(set.forQueue('tenant', 'q', 'classic')?.settings.messageTtlMs, 5);
  assert.equal(set.forQueue('nowhere', 'q', 'classic'), null);
  assert.equal(set.remove('/', 'b'), true);
  assert.equal(set.remove('/', 'b'), false);
  assert.equal(set.forQueue('/', 'q', 'classic')?.name, 'a', 'the next best applies');
  set.removeVirtualHost('tenant');
  assert.equal(set.size, 1);
  assert.equal(set.forExchange('tenant', 'x'), null);
});
