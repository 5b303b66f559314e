/**
 * The topic exchange against RabbitMQ's rules (`*` one word, `#` zero or more, empty words count,
 * the empty key is no word) and, over thousands of random keys, bindings and add/remove
 * sequences, against a reference matcher written here from regular expressions. Removal prunes
 * the trie back to its root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicMatcher, topicWords } from '../../../../src/queues/routing/topic.js';
import type { Binding } from '../../../../src/queues/routing/binding-matcher.js';
import { fieldTablesEqual } from '../../../../src/queues/routing/field-table-equality.js';
import { binding, int32, pick, routed, seededRandom, table } from './fixtures.js';
import type { Random } from './fixtures.js';

/** A topic exchange with one destination per binding key, named after the key. */
function matcherBoundTo(bindingKeys: readonly string[]): TopicMatcher<string> {
  const matcher = new TopicMatcher<string>();
  for (const key of bindingKeys) matcher.add(binding(key, key));
  return matcher;
}

test('words are split at every dot; the empty key has none', () => {
  assert.deepEqual(topicWords(''), []);
  assert.deepEqual(topicWords('a'), ['a']);
  assert.deepEqual(topicWords('a.b'), ['a', 'b']);
  assert.deepEqual(topicWords('a..b'), ['a', '', 'b']);
  assert.deepEqual(topicWords('a.'), ['a', '']);
  assert.deepEqual(topicWords('.'), ['', '']);
});

test('* is exactly one word, # any number of words including none', () => {
  const matcher = matcherBoundTo(['a.b.c', 'a.*.c', 'a.#.c', 'a.*', 'a.#', '#', '*', '*.*', 'a', '#.c', '*.#', '#.*', 'b.#.#']);
  assert.deepEqual(routed(matcher, 'a.b.c'), ['#', '#.*', '#.c', '*.#', 'a.#', 'a.#.c', 'a.*.c', 'a.b.c']);
  assert.deepEqual(routed(matcher, 'a.c'), ['#', '#.*', '#.c', '*.#', '*.*', 'a.#', 'a.#.c', 'a.*']);
  assert.deepEqual(routed(matcher, 'a.x.y.c'), ['#', '#.*', '#.c', '*.#', 'a.#', 'a.#.c']);
  assert.deepEqual(routed(matcher, 'a'), ['#', '#.*', '*', '*.#', 'a', 'a.#']);
  assert.deepEqual(routed(matcher, 'b'), ['#', '#.*', '*', '*.#', 'b.#.#']);
  assert.deepEqual(routed(matcher, 'b.c'), ['#', '#.*', '#.c', '*.#', '*.*', 'b.#.#']);
  assert.deepEqual(routed(matcher, 'c.a'), ['#', '#.*', '*.#', '*.*']);
});

test('empty words are words: "a..b", "a.", "." and the empty key', () => {
  const matcher = matcherBoundTo(['a..b', 'a.*.b', 'a.#.b', 'a.b', 'a.', 'a.*', '.', '*.*', '*', '#', '', '#.#', '..', '*.#']);
  assert.deepEqual(routed(matcher, 'a..b'), ['#', '#.#', '*.#', 'a.#.b', 'a.*.b', 'a..b']);
  assert.deepEqual(routed(matcher, 'a.b'), ['#', '#.#', '*.#', '*.*', 'a.#.b', 'a.*', 'a.b']);
  assert.deepEqual(routed(matcher, 'a.'), ['#', '#.#', '*.#', '*.*', 'a.', 'a.*']);
  assert.deepEqual(routed(matcher, '.'), ['#', '#.#', '*.#', '*.*', '.']);
  assert.deepEqual(routed(matcher, '..'), ['#', '#.#', '*.#', '..']);
  // RabbitMQ splits "" into no word at all: "*" needs one, "#" and "" need none.
  assert.deepEqual(routed(matcher, ''), ['', '#', '#.#']);
  assert.deepEqual(routed(matcher, 'x'), ['#', '#.#', '*', '*.#']);
});

test('a routing key word that is literally * or # is an ordinary word', () => {
  const matcher = matcherBoundTo(['a.*', 'a.b', 'a.#.c', '#']);
  assert.deepEqual(routed(matcher, 'a.*'), ['#', 'a.*']);
  assert.deepEqual(routed(matcher, 'a.#'), ['#', 'a.*']);
  assert.deepEqual(routed(matcher, 'a.#.c'), ['#', 'a.#.c']);
});

test('a destination bound by several matching keys is reached once', () => {
  const matcher = new TopicMatcher<string>();
  for (const key of ['#', 'a.*', 'a.b', '#.b']) matcher.add(binding('q', key));
  const into = new Set<string>();
  matcher.route('a.b', undefined, into);
  assert.deepEqual([...into], ['q']);
});

test('removing bindings prunes the nodes left empty, back to the root alone', () => {
  const matcher = new TopicMatcher<string>();
  assert.equal(matcher.nodeCount, 1);
  matcher.add(binding('q', 'a.b.c'));
  assert.equal(matcher.nodeCount, 4);
  matcher.add(binding('q', 'a.b'));
  matcher.add(binding('r', 'a.b.c'));
  matcher.add(binding('q', 'a.#.c'));
  matcher.add(binding('q', ''));
  assert.equal(matcher.nodeCount, 6, 'root, a, a.b, a.b.c, a.#, a.#.c');
  assert.equal(matcher.remove(binding('q', 'a.b.c')), true);
  assert.equal(matcher.nodeCount, 6, 'r keeps a.b.c');
  assert.equal(matcher.remove(binding('r', 'a.b.c')), true);
  assert.equal(matcher.nodeCount, 5, 'a.b.c pruned, a.b holds a binding');
  assert.equal(matcher.remove(binding('q', 'a.b')), true);
  assert.equal(matcher.nodeCount, 4, 'a.b pruned');
  assert.equal(matcher.remove(binding('q', 'a.b')), false);
  assert.equal(matcher.removeDestination('q'), 2);
  assert.equal(matcher.nodeCount, 1);
  assert.equal(matcher.size, 0);
  assert.deepEqual(routed(matcher, 'a.x.c'), []);
  assert.deepEqual(routed(matcher, ''), []);
});

test('removing a binding whose key ends inside a longer key leaves the longer one routing', () => {
  const matcher = new TopicMatcher<string>();
  matcher.add(binding('short', 'a'));
  matcher.add(binding('long', 'a.b.c'));
  assert.equal(matcher.remove(binding('short', 'a')), true);
  assert.equal(matcher.nodeCount, 4);
  assert.deepEqual(routed(matcher, 'a.b.c'), ['long']);
  assert.deepEqual(routed(matcher, 'a'), []);
});

test('many # in a binding key against a long routing key (each node is walked once per word)', () => {
  const matcher = matcherBoundTo(['#.#.#.#.#.#.#.#.#.#.#.#.z', '#.#.#.#.#.#.#.#.#.#.#.#', '#.a.#.a.#.a.#.a.#.a.#.b']);
  const manyWords = Array.from({ length: 200 }, () => 'a').join('.');
  assert.deepEqual(routed(matcher, manyWords), ['#.#.#.#.#.#.#.#.#.#.#.#']);
  assert.deepEqual(routed(matcher, `${manyWords}.z`), ['#.#.#.#.#.#.#.#.#.#.#.#', '#.#.#.#.#.#.#.#.#.#.#.#.z']);
  assert.deepEqual(routed(matcher, `${manyWords}.b`), ['#.#.#.#.#.#.#.#.#.#.#.#', '#.a.#.a.#.a.#.a.#.a.#.b']);
});

test('20,000 bindings: each message reaches exactly the bindings that match it', () => {
  const matcher = new TopicMatcher<string>();
  for (let tenant = 0; tenant < 5000; tenant++) {
    matcher.add(binding(`orders-${tenant}`, `tenant${tenant}.orders.*`));
    matcher.add(binding(`everything-${tenant}`, `tenant${tenant}.#`));
    matcher.add(binding(`created-${tenant % 100}`, `tenant${tenant}.*.created`));
    matcher.add(binding(`eu-${tenant}`, `tenant${tenant}.#.eu`));
  }
  matcher.add(binding('audit', '#.audit'));
  assert.equal(matcher.size, 20_001);
  assert.deepEqual(routed(matcher, 'tenant4242.orders.created'), ['created-42', 'everything-4242', 'orders-4242']);
  assert.deepEqual(routed(matcher, 'tenant17.payments.x.eu'), ['eu-17', 'everything-17']);
  assert.deepEqual(routed(matcher, 'tenant17.orders.audit'), ['audit', 'everything-17', 'orders-17']);
  assert.deepEqual(routed(matcher, 'tenant5000.orders.created'), []);
  assert.equal(matcher.removeDestination('created-42'), 50);
  assert.deepEqual(routed(matcher, 'tenant4242.orders.created'), ['everything-4242', 'orders-4242']);
});

// ---------------------------------------------------------------------------------------------
// The reference: a binding key as a regular expression over the routing key with a dot put
// before every word (so "" is the empty string, "a" is ".a", "a." is ".a."): a word is itself,
// `*` is one dot and a run of non-dots, `#` any number of those.

function escaped(word: string): string {
  return word.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

function referencePattern(bindingKey: string): RegExp {
  const parts = bindingKey === '' ? [] : bindingKey.split('.');
  const body = parts.map((part) => {
    if (part === '*') return '\\.[^.]*';
    if (part === '#') return '(?:\\.[^.]*)*';
    return `\\.${escaped(part)}`;
  }).join('');
  return new RegExp(`^${body}$`);
}

function referenceSubject(routingKey: string): string {
  return routingKey === '' ? '' : `.${routingKey}`;
}

class ReferenceTopicMatcher {
  readonly bindings: Binding<string>[] = [];
  private readonly patterns = new Map<string, RegExp>();

  indexOf(wanted: Binding<string>): number {
    return this.bindings.findIndex((each) => each.destination === wanted.destination
      && each.routingKey === wanted.routingKey && fieldTablesEqual(each.arguments, wanted.arguments));
  }

  route(routingKey: string): string[] {
    const subject = referenceSubject(routingKey);
    const reached = new Set<string>();
    for (const each of this.bindings) {
      let pattern = this.patterns.get(each.routingKey);
      if (pattern === undefined) {
        pattern = referencePattern(each.routingKey);
        this.patterns.set(each.routingKey, pattern);
      }
      if (pattern.test(subject)) reached.add(each.destination);
    }
    return [...reached].sort();
  }
}

function randomKey(random: Random, words: readonly string[], maxWords: number): string {
  const count = Math.floor(random() * (maxWords + 1));
  return Array.from({ length: count }, () => pick(random, words)).join('.');
}

const routingWords = ['a', 'b', 'c', '', '*', '#', 'a-b'];
const bindingWords = ['a', 'b', '', '*', '#', '*', '#'];
const destinations = ['q0', 'q1', 'q2', 'q3', 'q4'];

test('the reference agrees with the rules tested above (it is worth comparing against)', () => {
  const reference = new ReferenceTopicMatcher();
  for (const key of ['a..b', 'a.*.b', '*', '#', '', '#.#', 'a.#', '*.*']) reference.bindings.push(binding(key, key));
  assert.deepEqual(reference.route(''), ['', '#', '#.#']);
  assert.deepEqual(reference.route('a..b'), ['#', '#.#', 'a.#', 'a.*.b', 'a..b']);
  assert.deepEqual(reference.route('a'), ['*', '#', '#.#', 'a.#'].sort());
});

test('random keys against random bindings route as the reference does', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const matcher = new TopicMatcher<string>();
    const reference = new ReferenceTopicMatcher();
    for (let index = 0; index < 60; index++) {
      const each = binding(pick(random, destinations), randomKey(random, bindingWords, 5));
      assert.equal(matcher.add(each), reference.indexOf(each) < 0);
      if (reference.indexOf(each) < 0) reference.bindings.push(each);
    }
    for (let index = 0; index < 100; index++) {
      const key = randomKey(random, routingWords, 6);
      assert.deepEqual(routed(matcher, key), reference.route(key), `seed ${seed}, routing key "${key}"`);
    }
  }
});

test('random add / remove / removeDestination sequences keep routing, size and bindings as the reference has them', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = seededRandom(1000 + seed);
    const matcher = new TopicMatcher<string>();
    const reference = new ReferenceTopicMatcher();
    const randomArguments = () => (random() < 0.7 ? table() : table(['x', int32(Math.floor(random() * 2))]));
    for (let step = 0; step < 300; step++) {
      const choice = random();
      const context = `seed ${seed}, step ${step}`;
      if (choice < 0.5) {
        const each = binding(pick(random, destinations), randomKey(random, bindingWords, 4), randomArguments());
        const isNew = reference.indexOf(each) < 0;
        assert.equal(matcher.add(each), isNew, `${context}: add`);
        if (isNew) reference.bindings.push(each);
      } else if (choice < 0.85) {
        const each = reference.bindings.length > 0 && random() < 0.7
          ? pick(random, reference.bindings)
          : binding(pick(random, destinations), randomKey(random, bindingWords, 4), randomArguments());
        const index = reference.indexOf(each);
        assert.equal(matcher.remove(each), index >= 0, `${context}: remove`);
        if (index >= 0) reference.bindings.splice(index, 1);
      } else if (choice < 0.9) {
        const destination = pick(random, destinations);
        const before = reference.bindings.length;
        const kept = reference.bindings.filter((each) => each.destination !== destination);
        reference.bindings.splice(0, before, ...kept);
        assert.equal(matcher.removeDestination(destination), before - kept.length, `${context}: removeDestination`);
      }
      assert.equal(matcher.size, reference.bindings.length, `${context}: size`);
      for (let probe = 0; probe < 3; probe++) {
        const key = randomKey(random, routingWords, 5);
        assert.deepEqual(routed(matcher, key), reference.route(key), `${context}: routing key "${key}"`);
      }
    }
    assert.equal([...matcher.bindings()].length, reference.bindings.length, `seed ${seed}: bindings listed`);
    for (const each of [...reference.bindings]) assert.equal(matcher.remove(each), true);
    assert.equal(matcher.size, 0);
    assert.equal(matcher.nodeCount, 1, `seed ${seed}: everything removed, the trie is its root again`);
  }
});
