/**
 * The topic exchange, as RabbitMQ routes it. Routing and binding keys are lists of words separated
 * by dots; in a binding key `*` stands for exactly one word and `#` for zero or more words. Words
 * may be empty ("a..b" is "a", "", "b"; "a." is "a", ""), but the empty key is no word at all, as
 * RabbitMQ splits it: "" matches the binding keys "", "#", "#.#", … and not "*".
 *
 * The binding keys form a trie, one edge per word, the bindings kept at the node where their key
 * ends. For the bindings "a.b", "a.*", "#.b", "a.#.c" and "" (bindings in brackets):
 *
 *   (root) [""]
 *     ├─ a
 *     │  ├─ b  ["a.b"]
 *     │  ├─ *  ["a.*"]
 *     │  └─ #
 *     │     └─ c  ["a.#.c"]
 *     └─ #
 *        └─ b  ["#.b"]
 *
 * Routing walks the trie with the routing key's words: from a node at word i it follows the edge
 * of word i itself and the `*` edge to word i + 1, and the `#` edge to every word from i to the
 * end (the `#` swallowing none, one, … of the words); with every word used, a node's bindings
 * match, and so do those behind its `#` edges. Only the paths the key can take are visited,
 * however many bindings the exchange holds. Several `#` in a binding key could reach the same node
 * at the same word along many paths (exponentially many for "#.#.#…"); below a `#` the walk
 * remembers the (node, word) pairs it has been at and does not go again.
 *
 * Removing a binding removes the nodes left with neither bindings nor children. The walk recurses
 * one level per word or trie level; AMQP routing and binding keys are short strings (at most 255
 * bytes, so at most 256 words), which bounds its depth.
 */
import type { Binding, BindingMatcher } from './binding-matcher.js';
import type { FieldTable } from '../../protocol/amqp/field-table.js';
import { DestinationBindings } from './destination-bindings.js';
import { RoutingKeysByDestination } from './routing-keys-by-destination.js';

const oneWord = '*';
const anyWords = '#';

/** The words of a routing or binding key: split at every dot, except that "" has none. */
export function topicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

interface TrieNode<Destination> {
  readonly parent: TrieNode<Destination> | undefined;
  /** The word on the edge from the parent (unused at the root). */
  readonly word: string;
  readonly children: Map<string, TrieNode<Destination>>;
  /** The bindings whose key ends here; undefined when there are none. */
  bindings: DestinationBindings<Destination> | undefined;
  /** A `#` lies on the path from the root: only then can the walk reach this node twice at one word. */
  readonly belowAnyWords: boolean;
}

function newNode<Destination>(parent: TrieNode<Destination> | undefined, word: string): TrieNode<Destination> {
  return {
    parent,
    word,
    children: new Map(),
    bindings: undefined,
    belowAnyWords: parent !== undefined && (parent.belowAnyWords || word === anyWords),
  };
}

export class TopicMatcher<Destination> implements BindingMatcher<Destination> {
  private readonly root = newNode<Destination>(undefined, '');
  private readonly routingKeysOf = new RoutingKeysByDestination<Destination>();
  private count = 0;
  private nodes = 1;

  get size(): number {
    return this.count;
  }

  /** Trie nodes, the root included (1 when there are no bindings: removal prunes). */
  get nodeCount(): number {
    return this.nodes;
  }

  add(binding: Binding<Destination>): boolean {
    let node = this.root;
    for (const word of topicWords(binding.routingKey)) {
      let child = node.children.get(word);
      if (child === undefined) {
        child = newNode(node, word);
        node.children.set(word, child);
        this.nodes += 1;
      }
      node = child;
    }
    node.bindings ??= new DestinationBindings<Destination>();
    // A duplicate binding ends at a node that already had bindings, so no node was created above.
    if (!node.bindings.add(binding)) return false;
    this.routingKeysOf.note(binding.destination, binding.routingKey);
    this.count += 1;
    return true;
  }

  remove(binding: Binding<Destination>): boolean {
    const node = this.find(binding.routingKey);
    const bindings = node?.bindings;
    if (node === undefined || bindings === undefined || !bindings.remove(binding)) return false;
    if (!bindings.hasDestination(binding.destination)) this.routingKeysOf.forget(binding.destination, binding.routingKey);
    this.count -= 1;
    this.pruneFrom(node);
    return true;
  }

  removeDestination(destination: Destination): number {
    let removed = 0;
    for (const routingKey of this.routingKeysOf.take(destination)) {
      const node = this.find(routingKey);
      if (node?.bindings === undefined) continue;
      removed += node.bindings.removeDestination(destination);
      this.pruneFrom(node);
    }
    this.count -= removed;
    return removed;
  }

  route(routingKey: string, _headers: FieldTable | undefined, into: Set<Destination>): void {
    new TrieWalk(topicWords(routingKey), into).visit(this.root, 0);
  }

  /** A snapshot: the matcher may be changed while going through it. */
  bindings(): Binding<Destination>[] {
    const all: Binding<Destination>[] = [];
    const pending: TrieNode<Destination>[] = [this.root];
    for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
      for (const binding of node.bindings?.bindings() ?? []) all.push(binding);
      for (const child of node.children.values()) pending.push(child);
    }
    return all;
  }

  /** The node where the binding key ends, if the trie has it. */
  private find(bindingKey: string): TrieNode<Destination> | undefined {
    let node: TrieNode<Destination> | undefined = this.root;
    for (const word of topicWords(bindingKey)) {
      node = node.children.get(word);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /** Drops the node's empty binding set, then the node and its ancestors while they hold nothing. */
  private pruneFrom(start: TrieNode<Destination>): void {
    if (start.bindings?.isEmpty === true) start.bindings = undefined;
    let node = start;
    while (node.parent !== undefined && node.bindings === undefined && node.children.size === 0) {
      node.parent.children.delete(node.word);
      this.nodes -= 1;
      node = node.parent;
    }
  }
}

/** One routing key's walk through the trie, adding the destinations it reaches to `into`. */
class TrieWalk<Destination> {
  /** For nodes below a `#`: the word indexes the walk has been there at. Made on first need. */
  private visited: Map<TrieNode<Destination>, Set<number>> | undefined;

  constructor(
    private readonly words: readonly string[],
    private readonly into: Set<Destination>,
  ) {}

  /** Matches the words from `index` on against the keys below `node`. */
  visit(node: TrieNode<Destination>, index: number): void {
    if (node.belowAnyWords && this.beenAt(node, index)) return;
    const anyWordsChild = node.children.get(anyWords);
    if (index === this.words.length) {
      node.bindings?.addDestinationsTo(this.into);
      if (anyWordsChild !== undefined) this.visit(anyWordsChild, index);
      return;
    }
    const word = this.words[index]!;
    // A routing key word that is itself "*" or "#" names the same child as the wildcard below.
    if (word !== oneWord && word !== anyWords) {
      const exactChild = node.children.get(word);
      if (exactChild !== undefined) this.visit(exactChild, index + 1);
    }
    const oneWordChild = node.children.get(oneWord);
    if (oneWordChild !== undefined) this.visit(oneWordChild, index + 1);
    if (anyWordsChild !== undefined) {
      for (let next = index; next <= this.words.length; next++) this.visit(anyWordsChild, next);
    }
  }

  /** Whether the walk has been at the node at this word; notes that it now has. */
  private beenAt(node: TrieNode<Destination>, index: number): boolean {
    this.visited ??= new Map();
    let indexes = this.visited.get(node);
    if (indexes === undefined) {
      indexes = new Set();
      this.visited.set(node, indexes);
    }
    if (indexes.has(index)) return true;
    indexes.add(index);
    return false;
  }
}
