/** The matcher for each exchange type name, and which names are exchange types. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBindingMatcher, isExchangeTypeName } from '../../../../src/queues/routing/matcher-for.js';
import { DirectMatcher } from '../../../../src/queues/routing/direct.js';
import { FanoutMatcher } from '../../../../src/queues/routing/fanout.js';
import { TopicMatcher } from '../../../../src/queues/routing/topic.js';
import { HeadersMatcher } from '../../../../src/queues/routing/headers.js';
import { binding, int32, routed, table } from './fixtures.js';

test('the four exchange type names, and nothing else', () => {
  for (const name of ['direct', 'fanout', 'topic', 'headers']) assert.equal(isExchangeTypeName(name), true, name);
  for (const name of ['', 'Direct', 'TOPIC', 'x-delayed-message', 'x-consistent-hash', 'match', ' direct']) {
    assert.equal(isExchangeTypeName(name), false, JSON.stringify(name));
  }
});

test('each type gets its own matcher, empty, routing by its own rule', () => {
  assert.ok(createBindingMatcher<string>('direct') instanceof DirectMatcher);
  assert.ok(createBindingMatcher<string>('fanout') instanceof FanoutMatcher);
  assert.ok(createBindingMatcher<string>('topic') instanceof TopicMatcher);
  assert.ok(createBindingMatcher<string>('headers') instanceof HeadersMatcher);
  const reached = (type: 'direct' | 'fanout' | 'topic' | 'headers') => {
    const matcher = createBindingMatcher<string>(type);
    assert.equal(matcher.size, 0);
    matcher.add(binding('q', 'a.*', table(['h', int32(1)])));
    return [routed(matcher, 'a.*').length, routed(matcher, 'a.b').length, routed(matcher, 'z', table(['h', int32(1)])).length];
  };
  assert.deepEqual(reached('direct'), [1, 0, 0]);
  assert.deepEqual(reached('fanout'), [1, 1, 1]);
  assert.deepEqual(reached('topic'), [1, 1, 0]);
  assert.deepEqual(reached('headers'), [0, 0, 1]);
});
