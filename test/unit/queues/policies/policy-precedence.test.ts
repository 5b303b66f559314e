/** How a policy and a queue's arguments combine (RabbitMQ's resolution, key by key). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldTable, FieldValue } from '../../../../src/protocol/amqp/field-table.js';
import { parsePolicy } from '../../../../src/queues/policies/policy.js';
import { effectiveAlternateExchange, effectiveQueueOptions, sameQueueOptions } from '../../../../src/queues/policies/policy-precedence.js';
import { defaultQueueOptions, queueOptionsFromArguments, type QueueOptions } from '../../../../src/queues/queue-options.js';

const text = (value: string): FieldValue => ({ type: 'longString', value: Buffer.from(value) });
const int = (value: number): FieldValue => ({ type: 'int32', value });
const table = (entries: Record<string, FieldValue>): FieldTable => new Map(Object.entries(entries));
const policyOf = (definition: Record<string, string | number>) => parsePolicy('/', 'p', { pattern: '.*', definition });

/** The effective options of a queue declared with `args` under a policy with `definition`. */
function effective(args: FieldTable, definition: Record<string, string | number> | null): QueueOptions {
  return effectiveQueueOptions(queueOptionsFromArguments(args, 'q', '/'), definition === null ? null : policyOf(definition), args);
}

test('without a policy the arguments are the options, untouched', () => {
  const args = table({ 'x-max-length': int(5) });
  const fromArguments = queueOptionsFromArguments(args, 'q', '/');
  assert.equal(effectiveQueueOptions(fromArguments, null, args), fromArguments);
});

test('a policy alone sets what the arguments leave unset', () => {
  const options = effective(new Map(), {
    'max-length': 100,
    'max-length-bytes': 2048,
    overflow: 'reject-publish',
    'message-ttl': 60_000,
    expires: 3_600_000,
    'dead-letter-exchange': 'dlx',
    'dead-letter-routing-key': 'dead',
    'delivery-limit': 3,
    'alternate-exchange': 'ignored-for-queues',
  });
  assert.deepEqual(options, {
    ...defaultQueueOptions,
    maxLength: 100,
    maxLengthBytes: 2048,
    overflow: 'reject-publish',
    messageTtlMs: 60_000,
    expiresMs: 3_600_000,
    deadLetterExchange: 'dlx',
    deadLetterRoutingKey: 'dead',
    deliveryLimit: 3,
  });
});

test('limits: the lower of argument and policy, whichever sets it', () => {
  const limits = { 'max-length': 100, 'max-length-bytes': 4096, 'message-ttl': 5000, expires: 60_000, 'delivery-limit': 10 };
  // x-delivery-limit has its own rules (next test); these rows agree with them.
  const lowerArguments = table({ 'x-max-length': int(10), 'x-max-length-bytes': int(1024), 'x-message-ttl': int(1000), 'x-expires': int(30_000), 'x-delivery-limit': int(2) });
  const higherArguments = table({ 'x-max-length': int(1000), 'x-max-length-bytes': int(8192), 'x-message-ttl': int(9000), 'x-expires': int(90_000), 'x-delivery-limit': int(20) });
  const pick = (options: QueueOptions) => [options.maxLength, options.maxLengthBytes, options.messageTtlMs, options.expiresMs, options.deliveryLimit];
  assert.deepEqual(pick(effective(lowerArguments, limits)), [10, 1024, 1000, 30_000, 2], 'the arguments are lower');
  assert.deepEqual(pick(effective(higherArguments, limits)), [100, 4096, 5000, 60_000, 10], 'the policy is lower');
  assert.deepEqual(pick(effective(table({ 'x-max-length': int(0), 'x-message-ttl': int(0) }), limits)), [0, 4096, 0, 60_000, 10], 'zero is a value, not unset');
});

test('overflow and dead-lettering: the argument wins over the policy, each key on its own', () => {
  const policy = { overflow: 'reject-publish', 'dead-letter-exchange': 'policy-dlx', 'dead-letter-routing-key': 'policy-key' };
  const declared = effective(table({ 'x-overflow': text('drop-head'), 'x-dead-letter-exchange': text('own-dlx'), 'x-dead-letter-routing-key': text('own-key') }), policy);
  assert.deepEqual([declared.overflow, declared.deadLetterExchange, declared.deadLetterRoutingKey], ['drop-head', 'own-dlx', 'own-key'], 'an x-overflow of drop-head is declared, not a default');
  const exchangeOnly = effective(table({ 'x-dead-letter-exchange': text('own-dlx') }), policy);
  assert.deepEqual([exchangeOnly.overflow, exchangeOnly.deadLetterExchange, exchangeOnly.deadLetterRoutingKey], ['reject-publish', 'own-dlx', 'policy-key']);
});

test('quorum queues take the policy\'s overflow; streams the policy\'s max-length-bytes (RabbitMQ\'s exceptions)', () => {
  const quorum = effective(table({ 'x-queue-type': text('quorum'), 'x-overflow': text('drop-head'), 'x-max-length': int(5) }), { overflow: 'reject-publish', 'max-length': 50 });
  assert.deepEqual([quorum.overflow, quorum.maxLength], ['reject-publish', 5]);
  const stream = effective(table({ 'x-queue-type': text('stream'), 'x-max-length-bytes': int(1000) }), { 'max-length-bytes': 5000 });
  assert.equal(stream.maxLengthBytes, 5000);
  const streamWithoutPolicyKey = effective(table({ 'x-queue-type': text('stream'), 'x-max-length-bytes': int(1000) }), { 'max-length': 1 });
  assert.equal(streamWithoutPolicyKey.maxLengthBytes, 1000);
});

test('delivery limits as RabbitMQ 4 resolves them: the lower; -1 (no limit) gives way; a quorum queue\'s default is no argument', () => {
  const limit = (args: Record<string, FieldValue>, policy: number | null) => effective(table(args), policy === null ? { 'max-length': 1 } : { 'delivery-limit': policy }).deliveryLimit;
  assert.equal(limit({ 'x-delivery-limit': int(3) }, 10), 3);
  assert.equal(limit({ 'x-delivery-limit': int(30) }, 10), 10);
  assert.equal(limit({}, 10), 10);
  assert.equal(limit({ 'x-delivery-limit': int(-1) }, 10), 10, 'the argument\'s -1 gives way to the policy');
  assert.equal(limit({ 'x-delivery-limit': int(4) }, -1), 4, 'the policy\'s -1 gives way to the argument');
  assert.equal(limit({ 'x-delivery-limit': int(-1) }, -1), null, 'both -1: no limit');
  assert.equal(limit({}, -1), null, 'a policy of -1 alone: no limit');
  assert.equal(limit({ 'x-queue-type': text('quorum') }, null), 20, 'a quorum queue keeps its default without a policy key');
  assert.equal(limit({ 'x-queue-type': text('quorum') }, 50), 50, 'the policy\'s limit, not the lower of it and the default');
  assert.equal(limit({ 'x-queue-type': text('quorum') }, -1), null);
  assert.equal(limit({ 'x-queue-type': text('quorum'), 'x-delivery-limit': int(5) }, 50), 5);
});

test('x-max-priority, x-single-active-consumer and x-queue-type stay the arguments\'', () => {
  const args = table({ 'x-max-priority': int(10), 'x-single-active-consumer': { type: 'boolean', value: true }, 'x-queue-type': text('quorum') });
  const options = effective(args, { 'max-length': 1, 'queue-mode': 'lazy', 'queue-version': 2 });
  assert.deepEqual([options.maxPriority, options.singleActiveConsumer, options.queueType, options.maxLength], [10, true, 'quorum', 1]);
});

test('an exchange\'s alternate-exchange argument wins over its policy\'s', () => {
  const policy = policyOf({ 'alternate-exchange': 'from-policy' });
  assert.equal(effectiveAlternateExchange('own', policy), 'own');
  assert.equal(effectiveAlternateExchange(null, policy), 'from-policy');
  assert.equal(effectiveAlternateExchange(null, policyOf({ 'max-length': 1 })), null);
  assert.equal(effectiveAlternateExchange(null, null), null);
});

test('sameQueueOptions compares every option', () => {
  assert.equal(sameQueueOptions(defaultQueueOptions, { ...defaultQueueOptions }), true);
  for (const [key, value] of Object.entries({ maxLength: 1, overflow: 'reject-publish', deadLetterExchange: 'x', singleActiveConsumer: true, queueType: 'quorum' })) {
    assert.equal(sameQueueOptions(defaultQueueOptions, { ...defaultQueueOptions, [key]: value }), false, key);
  }
});
