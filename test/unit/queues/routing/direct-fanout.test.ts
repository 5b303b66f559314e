/**
 * Direct exchanges route by routing-key equality (arguments play no part in routing); fanout
 * exchanges route to every bound destination whatever the keys. Each destination is reached once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectMatcher } from '../../../../src/queues/routing/direct.js';
import { FanoutMatcher } from '../../../../src/queues/routing/fanout.js';
import { binding, int32, longString, routed, table } from './fixtures.js';

test('direct: a message reaches the destinations bound with exactly its routing key', () => {
  const matcher = new DirectMatcher<string>();
  matcher.add(binding('orders', 'order.created'));
  matcher.add(binding('audit', 'order.created'));
  matcher.add(binding('audit', 'order.cancelled'));
  matcher.add(binding('empty', ''));
  matcher.add(binding('wild', '#'));
  matcher.add(binding('star', '*'));
  assert.deepEqual(routed(matcher, 'order.created'), ['audit', 'orders']);
  assert.deepEqual(routed(matcher, 'order.cancelled'), ['audit']);
  assert.deepEqual(routed(matcher, ''), ['empty']);
  assert.deepEqual(routed(matcher, 'order'), []);
  assert.deepEqual(routed(matcher, 'order.created.'), []);
  assert.deepEqual(routed(matcher, 'Order.created'), [], 'case matters');
  assert.deepEqual(routed(matcher, 'anything'), [], 'no wildcards in a direct exchange');
  assert.deepEqual(routed(matcher, '#'), ['wild']);
  assert.deepEqual(routed(matcher, '*'), ['star']);
});

test('direct: arguments and headers take no part in routing; a destination bound twice is reached once', () => {
  const matcher = new DirectMatcher<string>();
  matcher.add(binding('q', 'k', table(['x-match', longString('any')], ['a', int32(1)])));
  matcher.add(binding('q', 'k'));
  assert.equal(matcher.size, 2);
  assert.deepEqual(routed(matcher, 'k'), ['q']);
  assert.deepEqual(routed(matcher, 'k', table(['a', int32(2)])), ['q']);
});

test('direct: removing the last binding of a key stops routing there; other keys keep theirs', () => {
  const matcher = new DirectMatcher<string>();
  matcher.add(binding('q', 'a'));
  matcher.add(binding('q', 'b'));
  matcher.add(binding('r', 'a'));
  assert.equal(matcher.remove(binding('q', 'a')), true);
  assert.deepEqual(routed(matcher, 'a'), ['r']);
  assert.equal(matcher.removeDestination('r'), 1);
  assert.deepEqual(routed(matcher, 'a'), []);
  assert.deepEqual(routed(matcher, 'b'), ['q']);
  assert.equal(matcher.size, 1);
});

test('direct: 20,000 bindings route each key to its own destinations', () => {
  const matcher = new DirectMatcher<string>();
  for (let index = 0; index < 20_000; index++) matcher.add(binding(`queue-${index % 5000}`, `key-${index}`));
  assert.equal(matcher.size, 20_000);
  assert.deepEqual(routed(matcher, 'key-12345'), ['queue-2345']);
  assert.deepEqual(routed(matcher, 'key-20000'), []);
  assert.equal(matcher.removeDestination('queue-2345'), 4);
  assert.deepEqual(routed(matcher, 'key-12345'), []);
  assert.deepEqual(routed(matcher, 'key-12346'), ['queue-2346']);
});

test('fanout: every bound destination, whatever the routing key, each once', () => {
  const matcher = new FanoutMatcher<string>();
  assert.deepEqual(routed(matcher, 'k'), [], 'nothing bound, nothing reached');
  matcher.add(binding('a', ''));
  matcher.add(binding('b', 'some.key'));
  matcher.add(binding('b', 'another'));
  matcher.add(binding('c', '#', table(['x', int32(1)])));
  assert.equal(matcher.size, 4);
  for (const key of ['', 'k', 'some.key', '#']) assert.deepEqual(routed(matcher, key), ['a', 'b', 'c'], `key "${key}"`);
  assert.equal(matcher.remove(binding('b', 'some.key')), true);
  assert.deepEqual(routed(matcher, 'x'), ['a', 'b', 'c'], 'b still has a binding');
  assert.equal(matcher.remove(binding('b', 'another')), true);
  assert.deepEqual(routed(matcher, 'x'), ['a', 'c']);
  assert.equal(matcher.removeDestination('c'), 1);
  assert.deepEqual(routed(matcher, 'x'), ['a']);
});
