/**
 * What every exchange type's matcher does alike: a binding is (destination by identity, routing
 * key, arguments by content); adding it twice is refused, removing what is not there is refused,
 * removing a destination removes exactly its bindings, size and bindings() follow, and routing adds
 * to the set it is given without disturbing what is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Binding, BindingMatcher, ExchangeTypeName } from '../../../../src/queues/routing/binding-matcher.js';
import { createBindingMatcher } from '../../../../src/queues/routing/matcher-for.js';
import { fieldTablesEqual } from '../../../../src/queues/routing/field-table-equality.js';
import { binding, int32, longString, table } from './fixtures.js';

const types: readonly ExchangeTypeName[] = ['direct', 'fanout', 'topic', 'headers'];

interface Queue {
  readonly name: string;
}

function listed(matcher: BindingMatcher<Queue>): string[] {
  return [...matcher.bindings()]
    .map((each) => `${each.destination.name}|${each.routingKey}|${[...each.arguments.keys()].sort().join(',')}`)
    .sort();
}

function holds(matcher: BindingMatcher<Queue>, wanted: Binding<Queue>): boolean {
  return [...matcher.bindings()].some((each) => each.destination === wanted.destination
    && each.routingKey === wanted.routingKey && fieldTablesEqual(each.arguments, wanted.arguments));
}

for (const type of types) {
  test(`${type}: adding the same binding again is refused, arguments compared by content in any order`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const queue = { name: 'q' };
    assert.equal(matcher.add(binding(queue, 'a.b', table(['x', int32(1)], ['y', longString('v')]))), true);
    assert.equal(matcher.add(binding(queue, 'a.b', table(['y', longString('v')], ['x', int32(1)]))), false);
    assert.equal(matcher.size, 1);
    assert.equal([...matcher.bindings()].length, 1);
  });

  test(`${type}: destination, routing key and each argument set a binding apart`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const queue = { name: 'q' };
    const sameNameOtherQueue = { name: 'q' };
    const variants = [
      binding(queue, 'k'),
      binding(sameNameOtherQueue, 'k'),
      binding(queue, 'k2'),
      binding(queue, ''),
      binding(queue, 'k', table(['x', int32(1)])),
      binding(queue, 'k', table(['x', int32(2)])),
      binding(queue, 'k', table(['x', { type: 'uint32', value: 1 }])),
      binding(queue, 'k', table(['x', int32(1)], ['z', int32(1)])),
    ];
    for (const [index, each] of variants.entries()) {
      assert.equal(matcher.add(each), true, `variant ${index} is a new binding`);
      assert.equal(matcher.size, index + 1);
    }
    for (const each of variants) assert.equal(matcher.add(each), false);
    for (const each of variants) assert.ok(holds(matcher, each));
    assert.equal(matcher.size, variants.length);
  });

  test(`${type}: remove takes out one binding, and refuses one that is not there`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const queue = { name: 'q' };
    matcher.add(binding(queue, 'a', table(['x', int32(1)], ['y', int32(2)])));
    matcher.add(binding(queue, 'a'));
    assert.equal(matcher.remove(binding(queue, 'b')), false, 'another key');
    assert.equal(matcher.remove(binding({ name: 'q' }, 'a')), false, 'another destination object');
    assert.equal(matcher.remove(binding(queue, 'a', table(['x', int32(1)]))), false, 'other arguments');
    assert.equal(matcher.size, 2);
    assert.equal(matcher.remove(binding(queue, 'a', table(['y', int32(2)], ['x', int32(1)]))), true);
    assert.equal(matcher.remove(binding(queue, 'a', table(['y', int32(2)], ['x', int32(1)]))), false, 'already removed');
    assert.equal(matcher.size, 1);
    assert.deepEqual(listed(matcher), ['q|a|']);
    assert.equal(matcher.remove(binding(queue, 'a')), true);
    assert.equal(matcher.size, 0);
    assert.deepEqual(listed(matcher), []);
    assert.equal(matcher.add(binding(queue, 'a')), true, 'a removed binding can be added again');
  });

  test(`${type}: removeDestination removes exactly that destination's bindings and counts them`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const [first, second] = [{ name: 'first' }, { name: 'second' }];
    for (const key of ['a', 'a.b', '', '#', 'c.*']) {
      matcher.add(binding(first, key));
      matcher.add(binding(second, key));
    }
    matcher.add(binding(first, 'a', table(['x', int32(1)])));
    assert.equal(matcher.size, 11);
    assert.equal(matcher.removeDestination(first), 6);
    assert.equal(matcher.size, 5);
    assert.deepEqual(listed(matcher), ['second|', 'second|#', 'second|a', 'second|a.b', 'second|c.*'].map((each) => `${each}|`).sort());
    assert.equal(matcher.removeDestination(first), 0, 'nothing left to remove');
    assert.equal(matcher.removeDestination({ name: 'second' }), 0, 'an equal-looking object is another destination');
    assert.equal(matcher.removeDestination(second), 5);
    assert.equal(matcher.size, 0);
    assert.deepEqual(listed(matcher), []);
  });

  test(`${type}: bindings() is a snapshot, so each binding listed can be removed while going through it`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const queues = [{ name: 'a' }, { name: 'b' }];
    for (const queue of queues) {
      for (const key of ['k', 'k.l', '', '#']) matcher.add(binding(queue, key, table(['x', int32(queues.indexOf(queue))])));
    }
    let removed = 0;
    for (const each of matcher.bindings()) {
      assert.equal(matcher.remove(each), true);
      removed += 1;
    }
    assert.equal(removed, 8);
    assert.equal(matcher.size, 0);
  });

  test(`${type}: routing adds to the set it is given and keeps what is there`, () => {
    const matcher = createBindingMatcher<Queue>(type);
    const queue = { name: 'q' };
    const already = { name: 'already' };
    matcher.add(binding(queue, 'k'));
    const into = new Set<Queue>([already]);
    matcher.route('k', undefined, into);
    assert.deepEqual([...into], [already, queue]);
  });
}
